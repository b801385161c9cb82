"""Firewall VIBs: built reproducibly, read back independently, hostile files refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import run_vmwctl
from hypothesis import given
from hypothesis import strategies as st
from vibfiles import ar, tgz, vmtar

from vmwctl.errors import UsageError
from vmwctl.firewall.ports import describe_ranges, parse_ports
from vmwctl.firewall.rules import firewall_xml, parse_firewall_xml
from vmwctl.firewall.vib import VibSpec, build_vib, inspect_vib

# ---------------------------------------------------------------- ports


def test_parse_ports() -> None:
    assert parse_ports("6105,5900-6000, 6101,6102") == [(5900, 6000), (6101, 6101),
                                                         (6102, 6102), (6105, 6105)]
    for text, message in (("5900-", "is not a port"), ("0-10", "outside 1-65535"),
                          ("70000", "outside"), ("6000-5900", "begins after it ends"),
                          ("5900-6000,5950", "overlap"), ("5900,,6000", "empty entry"),
                          ("5900,5900", "overlap")):
        with pytest.raises(UsageError, match=message):
            parse_ports(text)


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 50)), min_size=1, max_size=8))
def test_ports_round_trip_or_refuse(spans) -> None:
    ranges = [(a, min(a + n, 65535)) for a, n in spans]
    text = ",".join(f"{a}-{b}" for a, b in ranges)
    ports = [p for a, b in ranges for p in range(a, b + 1)]
    if len(ports) != len(set(ports)):
        with pytest.raises(UsageError, match="overlap"):
            parse_ports(text)
    else:
        parsed = parse_ports(text)
        assert parsed == sorted(ranges)
        assert parse_ports(describe_ranges(parsed).replace(" ", "")) == parsed


# ---------------------------------------------------------------- build, read back


def members_of(data: bytes) -> dict[str, bytes]:
    """An independent ar reader (the format is simple enough to read here)."""
    assert data[:8] == b"!<arch>\n"
    found, position = {}, 8
    while position < len(data):
        header = data[position:position + 60]
        name = header[:16].decode().rstrip(" ").rstrip("/")
        size = int(header[48:58].decode().strip())
        found[name] = data[position + 60:position + 60 + size]
        position += 60 + size + size % 2
    return found


def test_build_reads_back_with_the_standard_library_and_gnu_ar(tmp_path: Path) -> None:
    spec = VibSpec(ranges=parse_ports("5900-6000,6101,6102,6105"))
    data = build_vib(spec)
    path = tmp_path / "vnc.vib"
    path.write_bytes(data)

    listing = subprocess.run(["ar", "t", str(path)], capture_output=True, text=True, check=True)
    assert listing.stdout.split() == ["descriptor.xml", "sig.pkcs7", "payload1"]
    payload = subprocess.run(["ar", "p", str(path), "payload1"], capture_output=True,
                             check=True).stdout
    members = members_of(data)
    assert payload == members["payload1"] and members["sig.pkcs7"] == b""

    descriptor = ET.fromstring(members["descriptor.xml"])
    assert [child.tag for child in descriptor] == [
        "type", "name", "version", "vendor", "summary", "description", "release-date", "urls",
        "relationships", "software-tags", "system-requires", "file-list", "acceptance-level",
        "live-install-allowed", "live-remove-allowed", "cimom-restart", "stateless-ready",
        "overlay", "payloads"]
    assert descriptor.findtext("acceptance-level") == "community"
    assert descriptor.findtext("live-install-allowed") == "true"
    assert descriptor.findtext("live-remove-allowed") == "true"
    assert descriptor.findtext("stateless-ready") == "true"
    assert descriptor.findtext("system-requires/maintenance-mode") == "false"
    element = descriptor.find("payloads/payload")
    assert element.get("type") == "tgz" and int(element.get("size")) == len(payload)
    tar = gzip.decompress(payload)
    sums = {(c.get("checksum-type"), c.get("verify-process")): c.text
            for c in element.findall("checksum")}
    assert sums == {("sha-256", None): hashlib.sha256(payload).hexdigest(),
                    ("sha-256", "gunzip"): hashlib.sha256(tar).hexdigest(),
                    ("sha-1", "gunzip"): hashlib.sha1(tar).hexdigest()}

    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        infos = archive.getmembers()
        assert [i.name for i in infos] == ["etc", "etc/vmware", "etc/vmware/firewall",
                                           "etc/vmware/firewall/vnc.xml"]
        assert all(i.uid == 0 and i.gid == 0 and i.uname == "root" for i in infos)
        rule_file = archive.extractfile(infos[-1]).read()
    assert [f.text for f in descriptor.findall("file-list/file")] == [
        "etc/vmware/firewall/vnc.xml"]
    service = ET.fromstring(rule_file).find("service")
    assert service.findtext("id") == "vnc" and service.findtext("enabled") == "true"
    ports = []
    for rule in service.findall("rule"):
        assert (rule.findtext("direction"), rule.findtext("protocol"),
                rule.findtext("porttype")) == ("inbound", "tcp", "dst")
        port = rule.find("port")
        ports.append((int(port.findtext("begin")), int(port.findtext("end")))
                     if port.find("begin") is not None else (int(port.text),) * 2)
    assert ports == [(5900, 6000), (6101, 6101), (6102, 6102), (6105, 6105)]

    report = inspect_vib(path)
    assert report.valid, report.problems
    assert report.vib_id == "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1"
    assert report.payloads[0].checksums == {"sha-256": "ok", "sha-256/gunzip": "ok",
                                            "sha-1/gunzip": "ok"}
    assert [(r["begin"], r["end"]) for r in report.rulesets[0].rules] == ports


def test_rebuilds_are_byte_identical_and_options_change_them() -> None:
    first = build_vib(VibSpec())
    assert build_vib(VibSpec()) == first
    assert gzip.decompress(members_of(first)["payload1"])  # a valid gzip stream
    assert members_of(first)["payload1"][4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert build_vib(VibSpec(ranges=[(5900, 6000)])) != first
    assert build_vib(VibSpec(version="1.0.0-2")) != first


def test_spec_validation() -> None:
    for spec, message in ((VibSpec(name="a b"), "--name"), (VibSpec(vendor="/x"), "--vendor"),
                          (VibSpec(version="1.0"), "VERSION-RELEASE")):
        with pytest.raises(UsageError, match=message):
            spec.validate()


def test_cli_build_and_inspect(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    built = run_vmwctl("firewall", "vib", "build", str(tmp_path), "--ports", "5900-5999",
                       "--ruleset-id", "novnc", "-o", "json")
    assert built.exit_code == 0, built.stderr
    document = built.json()
    path = Path(document["path"])
    assert path.name == "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1.vib"
    assert document["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    again = run_vmwctl("firewall", "vib", "build", str(path), "--ports", "5900-5999",
                       "--ruleset-id", "novnc", "-o", "json")
    assert again.json()["sha256"] == document["sha256"]
    report = run_vmwctl("firewall", "vib", "inspect", str(path), "-o", "json").json()
    assert report["valid"] and report["rulesets"][0]["id"] == "novnc"
    bad = run_vmwctl("firewall", "vib", "build", str(tmp_path), "--ports", "6000-5900")
    assert bad.exit_code == 2 and "begins after it ends" in bad.stderr
    both = run_vmwctl("firewall", "vib", "build", str(tmp_path), "--ports", "1",
                      "--from-profile")
    assert both.exit_code == 2
    odd_id = run_vmwctl("firewall", "vib", "build", str(tmp_path), "--ruleset-id", "../x")
    assert odd_id.exit_code == 2 and "--ruleset-id" in odd_id.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing half-written


# ---------------------------------------------------------------- hostile and malformed


def good_members(**changes: bytes) -> list[tuple[bytes, bytes]]:
    members = members_of(build_vib(VibSpec()))
    members.update({k.replace("_", "."): v for k, v in changes.items()})
    return [(name.encode(), data) for name, data in members.items()]


def descriptor_for(payload: bytes, *, kind: str = "tgz", size: int | None = None,
                   sha256: str | None = None, extra: str = "", name: str = "payload1") -> bytes:
    tar = gzip.decompress(payload)
    return f"""{extra}<vib version="5.0"><type>bootbank</type><name>t</name>
<version>1.0-1</version><vendor>v</vendor><acceptance-level>community</acceptance-level>
<payloads><payload name="{name}" type="{kind}" size="{len(payload) if size is None else size}">
<checksum checksum-type="sha-256">{sha256 or hashlib.sha256(payload).hexdigest()}</checksum>
<checksum checksum-type="sha-1" verify-process="gunzip">{hashlib.sha1(tar).hexdigest()}</checksum>
</payload></payloads></vib>""".encode()


def judge(tmp_path: Path, data: bytes) -> list[str]:
    path = tmp_path / "x.vib"
    path.write_bytes(data)
    report = inspect_vib(path)
    assert report.valid == (not report.problems)
    return report.problems


RULE = firewall_xml("vnc", [(5900, 6105)])
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
"""


@pytest.mark.parametrize("name, build, reason", [
    ("not ar", lambda: b"PK\x03\x04 a zip", "not an ar archive"),
    ("slash in name", lambda: ar((b"etc/passwd", b"x"), *good_members()),
     "not a plain file name"),
    ("dot-dot name", lambda: ar((b"..", b"x"), *good_members()), "not a plain file name"),
    ("gnu long names", lambda: ar((b"//", b"x"), *good_members()), "long-name table"),
    ("size beyond file", lambda: ar(*good_members())[:-40], "beyond the end of the file"),
    ("bad size field", lambda: b"!<arch>\n" + b"descriptor.xml".ljust(48) + b"-1".ljust(10)
     + b"`\n", "bad size field"),
    ("header cut", lambda: ar(*good_members()) + b"payload2    ", "cut short"),
    ("duplicate", lambda: ar(*good_members(), (b"sig.pkcs7", b"")), "appears twice"),
    ("no descriptor", lambda: ar((b"sig.pkcs7", b""), (b"payload1", tgz())),
     "no descriptor.xml"),
    ("entity bomb", lambda: ar(*good_members(descriptor_xml=BOMB + b"<vib/>")),
     "DTD or entities"),
    ("external entity", lambda: ar(*good_members(
        descriptor_xml=b'<!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]><vib>&x;</vib>')),
     "DTD or entities"),
    ("not xml", lambda: ar(*good_members(descriptor_xml=b"<vib>")), "not well-formed"),
    ("missing payload", lambda: ar(*[m for m in good_members() if m[0] != b"payload1"]),
     "not in the archive"),
    ("unlisted member", lambda: ar(*good_members(), (b"payload2", b"x")),
     "does not list: payload2"),
])
def test_inspect_refuses(tmp_path: Path, name: str, build, reason: str) -> None:
    problems = judge(tmp_path, build())
    assert any(reason in p for p in problems), problems


def test_inspect_checks_sizes_and_checksums(tmp_path: Path) -> None:
    payload = tgz(("etc/vmware/firewall/vnc.xml", RULE))
    ok = ar((b"descriptor.xml", descriptor_for(payload)), (b"sig.pkcs7", b""),
                (b"payload1", payload))
    assert judge(tmp_path, ok) == []
    wrong_size = ar((b"descriptor.xml", descriptor_for(payload, size=len(payload) + 1)),
                        (b"sig.pkcs7", b""), (b"payload1", payload))
    assert any("the descriptor says" in p for p in judge(tmp_path, wrong_size))
    wrong_sum = ar((b"descriptor.xml", descriptor_for(payload, sha256="0" * 64)),
                       (b"sig.pkcs7", b""), (b"payload1", payload))
    assert judge(tmp_path, wrong_sum) == ["payload 'payload1': the sha-256 checksum does not "
                                          "match"]
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0xFF
    changed = ar((b"descriptor.xml", descriptor_for(payload)), (b"sig.pkcs7", b""),
                     (b"payload1", bytes(flipped)))
    assert any("checksum does not match" in p or "gzip" in p for p in judge(tmp_path, changed))


@pytest.mark.parametrize("entry, reason", [
    ("../../etc/passwd", "outside the host's root"),
    ("/etc/vmware/firewall/x.xml", "outside the host's root"),
])
def test_inspect_refuses_payload_paths_outside_root(tmp_path: Path, entry: str,
                                                    reason: str) -> None:
    payload = tgz((entry, RULE))
    data = ar((b"descriptor.xml", descriptor_for(payload)), (b"sig.pkcs7", b""),
                  (b"payload1", payload))
    assert any(reason in p for p in judge(tmp_path, data))
    assert not (tmp_path / "etc").exists()


def test_inspect_refuses_hostile_rule_files(tmp_path: Path) -> None:
    payload = tgz(("etc/vmware/firewall/vnc.xml", BOMB + b"<ConfigRoot/>"))
    data = ar((b"descriptor.xml", descriptor_for(payload)), (b"sig.pkcs7", b""),
                  (b"payload1", payload))
    assert any("DTD or entities" in p for p in judge(tmp_path, data))


def test_a_large_payload_is_checked_but_not_listed(tmp_path: Path) -> None:
    payload = tgz(("etc/vmware/firewall/vnc.xml", RULE), ("big.bin", bytes(80 << 20)))
    path = tmp_path / "big.vib"
    path.write_bytes(ar((b"descriptor.xml", descriptor_for(payload)), (b"sig.pkcs7", b""),
                            (b"payload1", payload)))
    report = inspect_vib(path)
    assert report.valid and report.payloads[0].checksums == {"sha-256": "ok",
                                                             "sha-1/gunzip": "ok"}
    assert any("unpacks to more than 64 MiB" in w for w in report.warnings)


def test_inspect_reads_vibauthor_vgz_payloads(tmp_path: Path) -> None:
    openstack_rule = re.sub(rb"6105", b"9999", RULE)
    payload = gzip.compress(vmtar(("etc/vmware/firewall/vnc.xml", openstack_rule)), mtime=0)
    data = ar((b"descriptor.xml", descriptor_for(payload, kind="vgz", name="vnc")),
                  (b"sig.pkcs7", b""), (b"vnc", payload))
    path = tmp_path / "openstack.vib"
    path.write_bytes(data)
    report = inspect_vib(path)
    assert report.valid, report.problems
    assert [(r.id, r.rules[0]["begin"], r.rules[0]["end"]) for r in report.rulesets] == [
        ("vnc", 5900, 9999)]


def test_rule_file_round_trip() -> None:
    rulesets = parse_firewall_xml(firewall_xml("vnc", [(5900, 6000), (6105, 6105)]))
    assert [(r.key, r.enabled, [(x.port, x.end_port) for x in r.rules]) for r in rulesets] == [
        ("vnc", True, [(5900, 6000), (6105, None)])]


@given(st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 2100))
def test_mutated_vibs_never_crash_and_changed_payloads_never_pass(edits, cut) -> None:
    import tempfile

    original = build_vib(VibSpec())
    data = bytearray(original)
    for position, value in edits:
        data[position % len(data)] = value
    data = bytes(data[:max(cut, 8)]) if cut < len(data) else bytes(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.vib"
        path.write_bytes(data)
        report = inspect_vib(path)
    payload_start = original.index(b"payload1 ") + 60
    if data[payload_start:] != original[payload_start:]:
        assert not report.valid  # a payload changed or cut short never passes


def test_cli_build_into_a_new_directory(tmp_path: Path) -> None:
    made = run_vmwctl("firewall", "vib", "build", str(tmp_path / "vibs"), "-o", "json")
    assert made.exit_code == 0, made.stderr
    assert [p.name for p in (tmp_path / "vibs").iterdir()] == [
        "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1.vib"]
    named = run_vmwctl("firewall", "vib", "build", str(tmp_path / "vnc.vib"), "-o", "json")
    assert named.exit_code == 0 and (tmp_path / "vnc.vib").is_file()
    nowhere = run_vmwctl("firewall", "vib", "build", str(tmp_path / "no" / "vibs"))
    assert nowhere.exit_code == 2 and "is not a directory; create it first" in nowhere.stderr
    assert not (tmp_path / "no").exists()
    refused = run_vmwctl("firewall", "vib", "build", str(tmp_path / "vibs"), "--ports", "x")
    assert refused.exit_code == 2
    assert len(list((tmp_path / "vibs").iterdir())) == 1
