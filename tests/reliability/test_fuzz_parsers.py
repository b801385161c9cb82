"""Hostile and broken input for every parser of outside data: none crashes.

Parsers here: VIB archives (ar headers, descriptor XML, tgz and vmtar payloads),
profile YAML, nova.conf, the image service's image records (as
cache seed and vm spawn read them), datastore browser results (cache layout and
the purge plan built on them) and datastore paths.

Domain parsers raise only vmwctl's own errors (or fill a report); through the
command line a command that judges a file (``firewall vib inspect``) says
invalid with exit 1, and elsewhere bad input is one line on stderr and exit 2.

vmwctl reads no qemu-img JSON: a file's format comes from its own inspector.

Fuzzed elsewhere, not repeated here: VMDK headers, descriptors, extents outside
their directory, truncation and footers (tests/unit/test_inspect_fuzz.py);
byte edits and cuts of a whole built VIB, payloads outside the host's root in a
tgz (tests/unit/test_vib.py); OVA packages, their tar, OVF and manifest
(tests/reliability/test_fuzz_ova.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import socket
import tarfile
import tempfile
from pathlib import Path

import pytest
from helpers import run_vmwctl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from vibfiles import ar, tgz, vmtar

from vmwctl.cache import locks
from vmwctl.cache.layout import CachedImage, Entry, build, is_image_id, is_plain_name
from vmwctl.cache.purge import PurgeRequest, plan_cache
from vmwctl.cache.seed import seed_source
from vmwctl.checks.nova_conf import check_nova_conf
from vmwctl.errors import ConfigError, VmwctlError
from vmwctl.firewall.rules import firewall_xml
from vmwctl.firewall.vib import inspect_vib
from vmwctl.profile.load import build_profile, read_config_file
from vmwctl.profile.nova_conf import parse_ini, profile_from_nova_conf, read_nova_conf
from vmwctl.profile.yamlfile import parse_yaml
from vmwctl.vm.spec import Marker
from vmwctl.vsphere.datastore import DatastorePath
from vmwctl.vsphere.journal import Journal

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLI_FUZZ = settings(FUZZ, max_examples=120)

NASTY = ["", ".", "..", "../..", "../../etc/passwd", "/etc/passwd", "a/b", "a\0b", "a\nb",
         "a\rb", "\x1b[31mred", "a;touch pwned", "$(touch pwned)", "`touch pwned`", "a|b",
         "a b", "\\..\\x", "%2e%2e%2f", "\u202e", "\ud800", "é", "x" * 300, "-rf", "--help",
         "~root", "*", "?", "'", '"', "ts-", "ts-2024-02-30-00-00-00", "OSTACK_IMG_/../x",
         "OSTACK_IMG_..", "vmware_temp", "vmwctl-purge.lock", " ", "x ", "x\n", "\n"]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def judged(result, allowed: set[int], *, one_line: bool = True) -> None:
    """The command ended as allowed, with no traceback; an exit 2 says why in one line."""
    assert result.exit_code in allowed, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        result.stderr
    if result.exit_code == 2 and one_line:
        lines = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def scratch() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="vmwctl-fuzz-")


# ---------------------------------------------------------------- VIBs: descriptor, ar, payloads


def descriptor(payload: bytes, *, kind: str = "tgz", name: str = "payload1",
               fields: dict[str, str] | None = None, files: list[str] = ()) -> bytes:
    """A descriptor whose checksums match ``payload``; ``fields`` replace element texts."""
    tar = gzip.decompress(payload)
    values = {"type": "bootbank", "name": "t", "version": "1.0-1", "vendor": "v",
              "acceptance-level": "community", "live-install-allowed": "true",
              "release-date": "2025-01-01T00:00:00"} | (fields or {})
    body = "".join(f"<{tag}>{text}</{tag}>" for tag, text in values.items())
    listed = "".join(f"<file>{f}</file>" for f in files)
    return (f'<vib version="5.0">{body}<file-list>{listed}</file-list>'
            f'<payloads><payload name="{name}" type="{kind}" size="{len(payload)}">'
            f'<checksum checksum-type="sha-256">{hashlib.sha256(payload).hexdigest()}</checksum>'
            f'<checksum checksum-type="sha-1" verify-process="gunzip">'
            f'{hashlib.sha1(tar).hexdigest()}</checksum></payload></payloads></vib>'
            ).encode("utf-8", "surrogatepass")


def inspected(data: bytes, *, cli: bool = False) -> object:
    """The report of inspect_vib on ``data``; with ``cli`` the command judges it too."""
    with scratch() as tmp:
        path = Path(tmp) / "fuzz.vib"
        path.write_bytes(data)
        report = inspect_vib(path)
        assert report.valid == (not report.problems)
        if cli:
            for fmt in ("json", "table"):
                result = run_vmwctl("firewall", "vib", "inspect", str(path), "-o", fmt)
                judged(result, {0, 1})
                assert result.exit_code == (0 if report.valid else 1)
                if fmt == "json":
                    assert json.loads(result.stdout)["valid"] == report.valid
    return report


RULE = firewall_xml("vnc", [(5900, 6105)])
xml_text = st.one_of(st.sampled_from(["", "&amp;", "&lt;x&gt;", "<x/>", "<x>", "]]>", "&bogus;",
                                      "<![CDATA[x]]>", "\x00", "\x0b", "<!DOCTYPE x>",
                                      "<?pi x?>", "<!-- c -->", "certified", "CoMmUnItY",
                                      "true", "FALSE", "1", "-1", "9" * 5000]),
                     st.text(max_size=30))


@FUZZ
@given(st.dictionaries(st.sampled_from(["type", "name", "version", "vendor", "summary",
                                        "acceptance-level", "release-date",
                                        "live-install-allowed", "stateless-ready", "payloads",
                                        "file-list", "system-requires"]), xml_text, max_size=5),
       st.lists(nasty_text, max_size=3), st.sampled_from(["tgz", "vgz", "tar", "", "x\"y"]),
       st.one_of(st.just("payload1"), nasty_text.filter(lambda s: '"' not in s)))
def test_hostile_descriptors_never_crash(fields, files, kind, name) -> None:
    payload = tgz(("etc/vmware/firewall/vnc.xml", RULE))
    data = ar((b"descriptor.xml", descriptor(payload, kind=kind, name=name, fields=fields,
                                             files=files)),
              (b"sig.pkcs7", b""), (b"payload1", payload))
    inspected(data)


@CLI_FUZZ
@given(st.binary(max_size=400), st.integers(0, 3))
@example(b"<vib><payloads><payload name='payload1' type='tgz' size='1e3'/></payloads></vib>", 0)
@example(b"\xef\xbb\xbf<vib/>", 0)
@example(b"<?xml version='1.0' encoding='utf-16'?><vib/>", 0)
@example(b"<vib>" * 10000, 0)
def test_any_descriptor_bytes_through_the_command(raw: bytes, where: int) -> None:
    payload = tgz(("etc/vmware/firewall/vnc.xml", RULE))
    good = descriptor(payload)
    text = good[:len(good) * where // 4] + raw + good[len(good) * where // 4:] if where else raw
    inspected(ar((b"descriptor.xml", text), (b"sig.pkcs7", b""), (b"payload1", payload)),
              cli=True)


header_field = st.binary(min_size=0, max_size=16)


@FUZZ
@given(st.tuples(header_field, header_field, header_field, header_field, header_field,
                 header_field, st.binary(max_size=2)),
       st.integers(0, 2))
def test_hostile_ar_headers_never_crash(fields, which) -> None:
    """Every field of one member header replaced by anything (sizes, names, the end mark)."""
    members = [(b"descriptor.xml", b"<vib/>"), (b"sig.pkcs7", b""), (b"payload1", b"x" * 7)]
    out = b"!<arch>\n"
    for index, (name, data) in enumerate(members):
        if index == which:
            name_f, mtime, uid, gid, mode, size, end = fields
            header = (name_f.ljust(16, b" ")[:16] + mtime.ljust(12)[:12] + uid.ljust(6)[:6]
                      + gid.ljust(6)[:6] + mode.ljust(8)[:8] + size.ljust(10)[:10]
                      + end.ljust(2)[:2])
        else:
            header = (name.ljust(16) + b"0".ljust(32) + str(len(data)).encode().ljust(10)
                      + b"`\n")
        out += header + data + (b"\n" if len(data) % 2 else b"")
    report = inspected(out)
    assert not report.valid  # no payload checksum can match here


tar_name = st.one_of(st.sampled_from(["../../etc/x", "/etc/x", "etc/../../x", "./../x",
                                      "etc/vmware/firewall/../../../../x", "..", "/",
                                      "etc/vmware/firewall/vnc.xml", "etc//x", "etc/\nx.xml",
                                      "etc/x;touch pwned", "etc/$(touch pwned).xml",
                                      "etc/vmware/firewall/\udcff.xml", "\udc80"]),
                     st.text(st.characters(blacklist_characters="\0"), max_size=60))


@FUZZ
@given(st.lists(st.tuples(tar_name, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE,
                                                     tarfile.SYMTYPE, tarfile.LNKTYPE,
                                                     tarfile.FIFOTYPE, tarfile.CHRTYPE]),
                          tar_name, st.binary(max_size=64)), min_size=1, max_size=4))
def test_hostile_tgz_payload_members(entries) -> None:
    """Names with '..', absolute, links anywhere: never a crash; a name outside the root is
    never valid, and nothing is written."""
    infos = []
    for name, kind, link, data in entries:
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            info.linkname = link
        if kind == tarfile.REGTYPE:
            infos.append((name, data))
            continue
        infos.append(info)
    try:
        payload = tgz(*infos)
    except (ValueError, UnicodeEncodeError):
        return  # tarfile cannot write that name; no VIB to judge
    with scratch() as tmp:
        before = sorted(Path(tmp).rglob("*"))
        path = Path(tmp) / "t.vib"
        path.write_bytes(ar((b"descriptor.xml", descriptor(payload)), (b"sig.pkcs7", b""),
                            (b"payload1", payload)))
        report = inspect_vib(path)
        result = run_vmwctl("firewall", "vib", "inspect", str(path), "-o", "json")
        judged(result, {0, 1})
        assert json.loads(result.stdout)["valid"] == report.valid
        assert sorted(Path(tmp).rglob("*")) == sorted([*before, path])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(payload))) as tar:
        names = tar.getnames()
    if any(n.startswith("/") or ".." in n.split("/") or re.search("[\udc80-\udcff]", n)
           for n in names):
        assert not report.valid  # outside the root, or not UTF-8


@FUZZ
@given(st.lists(st.tuples(tar_name, st.binary(max_size=64)), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2047), st.integers(0, 255)), max_size=6))
def test_hostile_vmtar_payloads(entries, edits) -> None:
    """vibauthor's vgz: hostile names, and headers with any bytes (sizes, offsets, magic)."""
    try:
        body = bytearray(vmtar(*entries))
    except UnicodeEncodeError:
        return  # a name no encoding writes (a lone surrogate); no VIB to judge
    for position, value in edits:
        body[position % len(body)] = value
    payload = gzip.compress(bytes(body), mtime=0)
    report = inspected(ar((b"descriptor.xml", descriptor(payload, kind="vgz")),
                          (b"sig.pkcs7", b""), (b"payload1", payload)))
    if not edits and any(n.startswith("/") or ".." in n.split("/") for n, _ in entries):
        assert not report.valid


# ---------------------------------------------------------------- profile YAML

YAML_VALUES = ["2020-02-30", "2020-13-01 25:61:61", "!!timestamp abc", "!!timestamp 2020-02-30",
               "!!float abc", "!!int abc", "!!int 0x", "!!bool maybe", "!!binary '@@'",
               "!!null x", "!!str", "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]",
               "!!python/object:os.system {}", "!!python/name:os.system ''",
               "!!python/object/apply:os.system ['touch pwned']", "!custom x", "!<tag:x> y",
               "~", "yes", "0o777", "0x_", "1e400", "-1e400", ".nan", ".inf", "-.inf",
               "9" * 5000, "-9", "65536", "0", "[]", "{}", "[a, [b, [c]]]", "{a: {b: c}}",
               "'unterminated", '"\\x00"', '"\\ud800"', "&a x", "*a", "*undefined", "? [a]: b",
               "a{4294967296}", "((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))",
               "'(' * 1000", "|\n  block", ">-\n  folded", "a: b: c", "- x", "\t"]
OPTIONS = ["host_ip", "host_port", "host_username", "host_password", "host_password_env",
           "host_password_file", "host_password_command", "insecure", "datastore_regex",
           "task_poll_interval", "api_retry_count", "vnc_port", "connection_pool_size",
           "subdirectory_name", "my_ip", "enabled", "cloud", "remove_unused_base_images"]
# double-quoted YAML takes JSON's escapes: keys and names with newlines and ESC
quoted = st.one_of(st.sampled_from(["a\nb", "\x1b[2J", "x\u2028y", "\r", "\x00"]),
                   st.text(max_size=8)).map(json.dumps)
yaml_value = st.one_of(st.sampled_from(YAML_VALUES), quoted, st.text(max_size=20))


@st.composite
def profile_documents(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"default_profile: {draw(st.sampled_from(['p', '[p]', '1', '~', '*a']))}")
    lines.append(draw(st.sampled_from(["profiles:", "profiles: &a", "profiles: !!map",
                                       "profiles: []", "profile:"])))
    for _ in range(draw(st.integers(1, 3))):
        lines.append(f"  {draw(st.sampled_from(['p', '1', 'true', '[x]', '? y', 'p']) | quoted)}:")
        for _ in range(draw(st.integers(0, 3))):
            section = draw(st.sampled_from(["vmware", "image_cache", "DEFAULT", "vnc",
                                            "openstack", "availability_zone", "bogus"]))
            lines.append(f"    {section}:")
            for _ in range(draw(st.integers(0, 4))):
                key = draw(st.one_of(st.sampled_from(OPTIONS), quoted,
                                     st.text(min_size=1, max_size=8)))
                value = draw(yaml_value)
                lines.append(f"      {key}: {value}")
    return "\n".join(lines) + "\n"


def read_profiles(text: str | bytes) -> None:
    """Read a config file the way every command does; only ConfigError may come out."""
    with scratch() as tmp:
        path = Path(tmp) / "vmwctl.yaml"
        path.write_bytes(text if isinstance(text, bytes) else
                         text.encode("utf-8", "surrogatepass"))
        try:
            cfg = read_config_file(path)
            for name, raw in cfg.profiles.items():
                with contextlib.suppress(ConfigError):
                    build_profile(name, raw, source=path, lines=cfg.lines)
        except ConfigError as exc:
            assert "\n" not in str(exc).strip() or "\n" in text  # one line unless quoting input


@FUZZ
@given(profile_documents())
def test_hostile_profiles_raise_only_config_errors(text: str) -> None:
    read_profiles(text)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
@example("a: " + "[" * 5000)
@example("a: " + "{a: " * 5000)
@example("- " * 2000 + "x")
@example(b"\xff\xfe\x00profiles")
def test_any_text_as_a_profile_raises_only_config_errors(text) -> None:
    read_profiles(text)


@CLI_FUZZ
@given(profile_documents(), st.sampled_from(["show", "validate", "list"]))
def test_hostile_profiles_through_the_commands(text: str, command: str) -> None:
    with scratch() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        path.chmod(0o600)
        result = run_vmwctl("--config", str(path), "profile", command)
        # validate and list print every problem of the file on stdout
        judged(result, {0, 2}, one_line=command == "show")
        assert not (Path(tmp) / "pwned").exists()


@pytest.mark.parametrize("value, message", [
    ("2020-02-30", "'2020-02-30' is not a valid timestamp"),
    ("!!timestamp abc", "'abc' is not a valid timestamp"),
    ("!!float abc", "'abc' is not a valid float"),
    ("!!int abc", "'abc' is not a valid int"),
    ("!!bool maybe", "'maybe' is not a valid bool"),
    ('"\\ud800\\udc00"', "is not valid Unicode (a lone surrogate)"),
    ("9" * 5000, "is not a valid int"),
])
def test_bad_tagged_values_are_one_line_with_their_place(value: str, message: str) -> None:
    """Defect: SafeLoader's ValueError/AttributeError escaped as an internal error (exit 1)."""
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        parse_yaml(f"profiles:\n  p:\n    vmware: {{host_ip: {value}}}\n", Path("c.yaml"))
    assert str(raised.value).startswith("c.yaml:3:")


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    """Defect: 50 000 '[' made the composer recurse until RecursionError (exit 1)."""
    with pytest.raises(ConfigError, match="more than 50 levels of nesting"):
        parse_yaml("profiles: " + "[" * 50000 + "]" * 50000, Path("c.yaml"))
    data, _ = parse_yaml("a: " + "[" * 40 + "]" * 40, Path("c.yaml"))
    assert str(data["a"]) == "[" * 40 + "]" * 40


@pytest.mark.parametrize("text", [
    'profiles:\n  p:\n    "a\\nb\\e[31m": 1\n',
    'profiles:\n  "p\\nq": {vmware: {host_ip: 1.2.3.4, bogus: 1}}\n',
    'default_profile: "x\\ny"\nprofiles:\n  p: {}\n',
])
def test_names_from_the_file_stay_on_one_line(isolated_environment: Path, text: str) -> None:
    """Defect: a key or profile name with a newline or ESC from the file was printed raw:
    two lines on stderr, or terminal control sequences."""
    config = isolated_environment / "vmwctl.yaml"
    config.write_text(text)
    config.chmod(0o600)
    result = run_vmwctl("profile", "show")
    judged(result, {2})
    assert "\x1b" not in result.stderr and ("\\n" in result.stderr)


@pytest.mark.parametrize("option, value, message", [
    ("datastore_regex", "'a{4294967296}'", "invalid regular expression"),
    ("datastore_regex", "'" + "(" * 1000 + ")" * 1000 + "'", "invalid regular expression"),
    ("task_poll_interval", ".nan", "expected a finite number"),
    ("task_poll_interval", ".inf", "expected a finite number"),
    ("host_password_command", '["/bin/echo\\0x"]', "cannot hold a NUL character"),
    ("host_password_file", '"/tmp/a\\0b"', "cannot hold a NUL character"),
    ("ca_file", '"/tmp/a\\0b"', "cannot hold a NUL character"),
])
def test_option_values_that_crashed_or_passed(option: str, value: str, message: str) -> None:
    """Defects: a regex too large raised OverflowError/RecursionError; NaN and infinity
    passed as a poll interval (time.sleep(nan) raises, inf never returns); a NUL in a
    password command or file name raised ValueError when the password was read."""
    text = f"profiles:\n  p:\n    vmware:\n      host_ip: h\n      {option}: {value}\n"
    with scratch() as tmp:
        path = Path(tmp) / "vmwctl.yaml"
        path.write_text(text)
        path.chmod(0o600)
        with pytest.raises(ConfigError, match=message):
            build_profile("p", read_config_file(path).profiles["p"])
        judged(run_vmwctl("--config", str(path), "profile", "show"), {2})


# ---------------------------------------------------------------- nova.conf

NOVA_VALUES = ["vmwareapi.VMwareVCDriver", "a{4294967296}", "(" * 1000 + ")" * 1000, "[",
               "nan", "inf", "-inf", "1e999", "9" * 5000, "0x10", "1_000", "-1", "true", "maybe",
               "'", '"', "'x'", '"x', "\x00", "\u2028x", "\x1b[2J", "$(touch pwned)", "; x",
               "a = b = c", "%(foo)s", "${bar}", ""]
NOVA_KEYS = ["compute_driver", "host_ip", "host_username", "host_password", "host_port",
             "cluster_name", "datastore_regex", "insecure", "ca_file", "vnc_port",
             "vnc_port_total", "task_poll_interval", "api_retry_count", "wsdl_location",
             "reserved_host_memory_mb", "my_ip", "enabled", "subdirectory_name",
             "image_cache_subdirectory_name", "remove_unused_base_images",
             "default_availability_zone", "connection_pool_size", "maximum_objects"]


@st.composite
def nova_confs(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["[vmware]", "[DEFAULT]", "[image_cache]", "[vnc]",
                                               "[", "[]", "[ ]", "[vmware", "[[vmware]]",
                                               " [vmware]"])))
        elif kind == 1:
            lines.append(draw(st.sampled_from(["# c", "; c", "", "  continued", "\tmore"])))
        elif kind == 2:
            lines.append(draw(st.text(max_size=30)))
        else:
            key = draw(st.one_of(st.sampled_from(NOVA_KEYS), st.text(min_size=1, max_size=8)))
            value = draw(st.one_of(st.sampled_from(NOVA_VALUES), st.text(max_size=20)))
            lines.append(f"{key}{draw(st.sampled_from([' = ', '=', ': ', ' :', ' ']))}{value}")
    return "\n".join(lines)


def read_nova(text: str | bytes) -> None:
    """Parse, map onto a profile and check offline: only ConfigError may come out."""
    with scratch() as tmp:
        path = Path(tmp) / "nova.conf"
        path.write_bytes(text if isinstance(text, bytes) else
                         text.encode("utf-8", "surrogatepass"))
        try:
            conf = read_nova_conf(path)
        except ConfigError:
            return
        results = check_nova_conf(conf, None, None)
        assert all(r.id.startswith("nova-conf.") for r in results)
        for include in (False, True):
            with contextlib.suppress(ConfigError):
                profile_from_nova_conf(conf, include_password=include)


@FUZZ
@given(nova_confs())
@example("[vmware]\ndatastore_regex = a{4294967296}\nhost_ip = h\n")
@example("[vmware]\ndatastore_regex = " + "(" * 1000 + ")" * 1000)
@example("[vmware]\ntask_poll_interval = nan\n")
def test_hostile_nova_confs_raise_only_config_errors(text: str) -> None:
    read_nova(text)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
@example(b"\xff\xfe[vmware]")
@example("\x00" * 10)
def test_any_bytes_as_a_nova_conf(data) -> None:
    read_nova(data)


@CLI_FUZZ
@given(nova_confs())
@example("[vmware]\ndatastore_regex = a{4294967296}\n")
def test_hostile_nova_confs_through_the_commands(text: str) -> None:
    with scratch() as tmp:
        path = Path(tmp) / "nova.conf"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        checked = run_vmwctl("check", "nova-conf", "--offline", str(path), "-o", "json")
        judged(checked, {0, 1, 2})
        imported = run_vmwctl("--config", str(Path(tmp) / "new.yaml"), "profile",
                              "import-nova-conf", str(path), "--name", "n", "--dry-run")
        judged(imported, {0, 2})
        assert not (Path(tmp) / "new.yaml").exists() and not (Path(tmp) / "pwned").exists()


def test_a_regex_too_large_fails_the_check_not_the_command(tmp_path: Path) -> None:
    """Defect: check nova-conf raised OverflowError on datastore_regex = a{4294967296}."""
    path = tmp_path / "nova.conf"
    path.write_text("[vmware]\ndatastore_regex = a{4294967296}\n")
    result = run_vmwctl("check", "nova-conf", "--offline", str(path), "-o", "json")
    judged(result, {1})
    check = {c["id"]: c for c in result.json()["checks"]}["nova-conf.datastore-regex"]
    assert check["status"] == "fail" and "too large" in check["detail"]
    parse_ini(path.read_text(), path)  # the file itself parses


# ---------------------------------------------------------------- JSON values (files and
# extraConfig values vmwctl reads back: lock owners, leftovers records, VM markers)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["host", "pid", "user", "since", "tool", "vcenter", "folders", "vms",
                         "x"]), inner, max_size=5),
    max_leaves=12)


# ---------------------------------------------------------------- image service records

record_value = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=10),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
    st.sampled_from(["vmdk", "iso", "bare", "ova", "active", "sparse", "streamOptimized",
                     "preallocated", "thin", "lsiLogic", "ide", "paraVirtual", "true", "yes",
                     "maybe", "otherGuest", "e1000", "sha512", "../x", "a/b", "x\ny"]))
image_records = st.fixed_dictionaries(
    {"id": st.one_of(st.uuids().map(str), record_value, st.sampled_from(NASTY)),
     "status": st.one_of(st.just("active"), record_value)},
    optional={key: record_value for key in [
        "name", "size", "disk_format", "container_format", "vmware_disktype", "hw_disk_type",
        "vmware_adaptertype", "hw_scsi_model", "hw_disk_bus", "vmware_ostype", "os_distro",
        "img_linked_clone", "vmware_linked_clone", "hw_vif_model", "os_hash_algo",
        "os_hash_value"]})


@FUZZ
@given(image_records)
@example({"id": "0b6f5f23-2a6f-4a27-9e4b-4b6f9f0c1f7e", "status": "active", "size": ":"})
@example({"id": "../../x", "status": "active", "disk_format": "vmdk"})
def test_image_records_from_the_image_service(record) -> None:
    """A Glance record as cache seed and vm spawn read it: only vmwctl's errors; what is
    accepted names its cache files after a UUID. Defect: a size that was not a number
    raised ValueError, and any id (even '../x') named the cache folder."""
    try:
        source = seed_source(record)
    except VmwctlError:
        return
    assert is_image_id(source.image_id) and is_plain_name(source.file_name)
    assert source.file_name.startswith(source.image_id)
    assert type(source.size) is int and source.size >= 0


# ---------------------------------------------------------------- the purge lock's owner file


class OwnerFile:
    """The one DatastoreFiles call _read_owner makes, answering with the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def download(self, _path: DatastorePath):
        yield self.data


owner_values = st.one_of(record_value, st.just(socket.gethostname()),
                         st.just("2024-01-01T00:00:00Z"), st.integers(-1, 2**64))


@FUZZ
@given(st.one_of(
    st.fixed_dictionaries({}, optional={k: owner_values for k in
                                        ("host", "pid", "user", "since", "tool", "x")})
    .map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100)))
@example(json.dumps({"host": socket.gethostname(), "pid": "1", "user": "u", "since": 5,
                     "tool": "t"}).encode())
@example(json.dumps({"host": socket.gethostname(), "pid": 2**70, "user": "u", "since": "",
                     "tool": "t"}).encode())
@example(b"[" * 100000)
def test_purge_lock_owner_files(data: bytes) -> None:
    """The owner file another machine (or anything) left in a purge lock: read, judged stale
    or not, aged, and never a crash. Defect: a pid that was a string or beyond the kernel's,
    or a 'since' that was a number, raised TypeError/OverflowError during a purge."""
    owner = locks._read_owner(OwnerFile(data), DatastorePath(DS, f"{CACHE}/vmwctl-purge.lock"))
    assert isinstance(locks._dead_here(owner), bool)
    assert locks._since(owner) is None or locks._since(owner).tzinfo is not None


# ---------------------------------------------------------------- the leftovers journal, VM markers

journal_entries = st.fixed_dictionaries(
    {"vcenter": st.one_of(st.just("vc:443"), owner_values),
     "host": st.one_of(st.just(socket.gethostname()), owner_values),
     "pid": st.one_of(st.just(2**22 + 1), owner_values)},
    optional={"folders": st.one_of(st.lists(st.one_of(st.just("[ds] x"), owner_values),
                                            max_size=2), owner_values),
              "vms": st.one_of(st.lists(owner_values, max_size=2), owner_values),
              "x": owner_values})


@FUZZ
@given(st.lists(st.one_of(journal_entries.map(lambda d: json.dumps(d).encode()),
                          st.binary(max_size=60)), max_size=3))
@example([json.dumps({"vcenter": "vc:443", "host": socket.gethostname(), "pid": "1"}).encode(),
          json.dumps({"vcenter": "vc:443", "host": socket.gethostname(), "pid": 2**22 + 1,
                      "folders": "[ds] x"}).encode()])
def test_damaged_journal_records(records) -> None:
    """Records of runs on this machine, damaged: skipped, never a crash, never a path made of
    something else than a list of strings. Defect: a pid that was a string raised TypeError
    in every later seed; folders given as one string were taken letter by letter."""
    with scratch() as tmp:
        for number, data in enumerate(records):
            (Path(tmp) / f"{number}.json").write_bytes(data)
        for _path, entry in Journal("vc:443", Path(tmp)).stale():
            assert type(entry.pid) is int and isinstance(entry.folders, list)
            assert all(isinstance(f, str) for f in [*entry.folders, *entry.vms])


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=60), json_values.map(json.dumps)))
@example("[" * 100000)
def test_vm_markers_from_extra_config(value) -> None:
    marker = Marker.load(value)
    assert marker is None or isinstance(marker.image, str)


# ---------------------------------------------------------------- datastore browser results

DS = "LocalDS_0"
CACHE = "192.0.2.10_base"
moments = st.one_of(
    st.none(),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                 timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=14)),
                                            dt.timezone(dt.timedelta(hours=-12))])))
entry_name = st.one_of(st.sampled_from([*NASTY, CACHE, "_base", "vmware_temp",
                                        "0b6f5f23-2a6f-4a27-9e4b-4b6f9f0c1f7e",
                                        "ts-2024-01-01-00-00-00"]),
                       st.text(max_size=20))
entries = st.lists(st.builds(Entry, entry_name, st.booleans(), st.integers(-2**63, 2**63),
                             moments), max_size=6)


@st.composite
def trees(draw) -> dict[str, list[Entry]]:
    root = draw(entries)
    tree = {"": root}
    for entry in root:
        if entry.folder and draw(st.booleans()):
            tree[entry.name] = draw(entries)
            for child in tree[entry.name]:
                if child.folder and draw(st.booleans()):
                    tree[f"{entry.name}/{child.name}"] = draw(entries)
    for _ in range(draw(st.integers(0, 2))):
        tree[draw(entry_name)] = draw(entries)
    return tree


def inside(path: str, folder: str) -> bool:
    """``path`` is strictly below ``[DS] folder``, by plain names only."""
    parsed = DatastorePath.parse(path)
    parts = parsed.path.split("/")
    return (parsed.datastore == DS and parts[0] == folder and len(parts) >= 2
            and all(is_plain_name(p) for p in parts))


@FUZZ
@given(trees(), st.sampled_from([None, [CACHE], ["..", ""], ["a/b"]]),
       st.integers(0, 10**9))
@example({"": [Entry(CACHE, True), Entry("vmware_temp", True), Entry("OSTACK_IMG_..", True)],
          CACHE: [Entry("..", True, 5), Entry("a/../../x", True), Entry("", True)],
          "vmware_temp": [Entry("..", True), Entry("", True), Entry("../x", True)]},
         [CACHE], 0)
@example({"": [Entry(CACHE, True, 0, dt.datetime(2024, 1, 1))],
          CACHE: [Entry("i", True, 0, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))],
          f"{CACHE}/i": [Entry("f", False, 1, dt.datetime(2024, 1, 2))]}, None, 0)
@example({"": [Entry(CACHE, True)], CACHE: [Entry(" ", True), Entry("x\n", True)],
          f"{CACHE}/ ": [Entry("f", False, 1)]}, None, 0)
def test_browser_results_never_escape_their_folder(tree, folders, min_age) -> None:
    """Hostile names, sizes and times from SearchDatastoreSubFolders: the cache is built,
    a purge is planned, and every path it would delete is a plain name inside its folder."""
    cache = build(DS, tree, folders=folders, subdirectory_name="_base")
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    for folder in cache.folders:
        for image in folder.images:
            assert isinstance(image, CachedImage) and is_plain_name(image.image_id)
            assert image.path == f"[{DS}] {folder.name}/{image.image_id}"
    request = PurgeRequest(folder=CACHE, subdirectory_name="_base", min_age_seconds=min_age,
                           include_temp=True, in_use_ids=frozenset(), now=now)
    for item in plan_cache(cache, {}, request):
        if item.kind == "image":
            assert inside(item.path, DatastorePath.parse(item.path).path.split("/")[0])
        elif item.path.startswith(f"[{DS}] vmware_temp/"):
            assert inside(item.path, "vmware_temp")
        else:
            name = DatastorePath.parse(item.path).path
            assert name.startswith("OSTACK_IMG_") and is_plain_name(name)


@FUZZ
@given(st.one_of(st.text(max_size=40), st.sampled_from(["[ds]", "[]", "[ds", "[[ds]] x",
                                                        "[ds] ../x", "[ds]/a/../b", "ds] x"])))
@example("[ds] _base/ ")
@example("[ds]/_base/a\nb")
def test_datastore_paths_parse_or_say_why(text: str) -> None:
    try:
        path = DatastorePath.parse(text)
    except ValueError as exc:
        assert "not a datastore path" in str(exc)
        return
    assert DatastorePath.parse(str(path)) == path


@pytest.mark.parametrize("text, path", [
    ("[ds] 192.0.2.10_base/ ", "192.0.2.10_base/ "),  # was '192.0.2.10_base': the whole cache
    ("[ds] _base/x ", "_base/x "),  # was '_base/x', another folder
    ("[ds]/_base/a\nb", "_base/a\nb"),  # was ValueError: an internal error in cache list
    ("[ds]/_base/x", "_base/x"),
    ("[ds] _base/x", "_base/x"),
    ("[ds]", ""),
])
def test_datastore_paths_keep_the_exact_name(text: str, path: str) -> None:
    """Defect: parse() stripped trailing spaces and refused newlines in names, so a purge of
    the cache folder's image named ' ' would have deleted the cache folder itself."""
    assert DatastorePath.parse(text) == DatastorePath("ds", path)
