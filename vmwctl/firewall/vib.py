"""VIBs (ESXi software packages) that add a firewall ruleset: built reproducibly, inspected.

A VIB is an ``ar`` archive of ``descriptor.xml``, an empty ``sig.pkcs7``
(unsigned, community level) and a payload: a gzipped tar holding
``etc/vmware/firewall/<ruleset>.xml``. ESXi checks the payload's size and
checksums against the descriptor. Only the standard library is used
(tarfile, gzip, hashlib, ElementTree); ``ar`` is in :mod:`vmwctl.firewall.ar`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import re
import struct
import tarfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast
from xml.sax.saxutils import escape

from vmwctl.common.safexml import XmlRefused, parse_xml
from vmwctl.errors import UsageError
from vmwctl.firewall.ar import ArchiveError, Member, read_members, write_ar
from vmwctl.firewall.ports import Range, describe_ranges
from vmwctl.firewall.rules import firewall_xml, parse_firewall_xml
from vmwctl.nova.rules import GUIDE_VNC_RANGE

ACCEPTANCE_LEVELS = ("certified", "accepted", "partner", "community")  # strictest first
PAYLOAD_NAME = "payload1"
FIREWALL_DIR = "etc/vmware/firewall/"
RELEASE_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # fixed: same options, same bytes
MAX_UNPACKED = 64 << 20  # payload contents read to list rules; checksums have no limit
MAX_RULE_FILE = 1 << 20
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.]*-[0-9][0-9A-Za-z.]*$")
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class VibSpec:
    ruleset_id: str = "vnc"
    ranges: list[Range] = field(default_factory=lambda: [GUIDE_VNC_RANGE])
    name: str = "vmwctl-vnc-firewall"
    version: str = "1.0.0-1"
    vendor: str = "vmwctl"
    release_date: dt.datetime = RELEASE_DATE

    @property
    def vib_id(self) -> str:
        return f"{self.vendor}_bootbank_{self.name}_{self.version}"

    def validate(self) -> VibSpec:
        for label, value in (("--name", self.name), ("--vendor", self.vendor)):
            if not _WORD.match(value):
                raise UsageError(f"{label} {value!r}: use letters, digits, '.', '_' and '-' "
                                 "(at most 64), starting with a letter or digit")
        if not _VERSION.match(self.version):
            raise UsageError(f"--version {self.version!r}: ESXi wants VERSION-RELEASE, e.g. "
                             "1.0.0-1")
        return self


def _tar(spec: VibSpec, rule_file: bytes) -> bytes:
    """The payload tar: old GNU format (what ESXi's VisorFSTar reads), root-owned, fixed times."""
    mtime = int(spec.release_date.timestamp())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("etc", "etc/vmware", "etc/vmware/firewall"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(_owned(info, mtime))
        info = tarfile.TarInfo(f"{FIREWALL_DIR}{spec.ruleset_id}.xml")
        info.size, info.mode = len(rule_file), 0o444
        tar.addfile(_owned(info, mtime), io.BytesIO(rule_file))
    return buffer.getvalue()


def _owned(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = mtime
    return info


def _gzip(data: bytes) -> bytes:
    """gzip with no file name and mtime 0 in its header: the same input, the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(data)
    return buffer.getvalue()


def _descriptor(spec: VibSpec, payload: bytes, tar: bytes) -> bytes:
    first, last = spec.ranges[0][0], spec.ranges[-1][1]
    ports = describe_ranges(spec.ranges)
    text = f"""<vib version="5.0">
  <type>bootbank</type>
  <name>{escape(spec.name)}</name>
  <version>{escape(spec.version)}</version>
  <vendor>{escape(spec.vendor)}</vendor>
  <summary>Firewall ruleset {escape(spec.ruleset_id)}: inbound TCP {first}-{last}</summary>
  <description>Opens inbound TCP ports {ports} (ruleset {escape(spec.ruleset_id)}) for the VNC consoles of OpenStack Nova's VMware driver. Built by vmwctl.</description>
  <release-date>{spec.release_date.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00")}</release-date>
  <urls/>
  <relationships>
    <depends/>
    <conflicts/>
    <replaces/>
    <provides/>
    <compatibleWith/>
  </relationships>
  <software-tags/>
  <system-requires>
    <maintenance-mode>false</maintenance-mode>
  </system-requires>
  <file-list>
    <file>{FIREWALL_DIR}{escape(spec.ruleset_id)}.xml</file>
  </file-list>
  <acceptance-level>community</acceptance-level>
  <live-install-allowed>true</live-install-allowed>
  <live-remove-allowed>true</live-remove-allowed>
  <cimom-restart>false</cimom-restart>
  <stateless-ready>true</stateless-ready>
  <overlay>false</overlay>
  <payloads>
    <payload name="{PAYLOAD_NAME}" type="tgz" size="{len(payload)}">
      <checksum checksum-type="sha-256">{hashlib.sha256(payload).hexdigest()}</checksum>
      <checksum checksum-type="sha-256" verify-process="gunzip">{hashlib.sha256(tar).hexdigest()}</checksum>
      <checksum checksum-type="sha-1" verify-process="gunzip">{hashlib.sha1(tar).hexdigest()}</checksum>
    </payload>
  </payloads>
</vib>
"""  # noqa: E501 (one element a line, as vibauthor writes them)
    return text.encode("utf-8")


def build_vib(spec: VibSpec) -> bytes:
    """The VIB's bytes; the same spec always gives the same bytes."""
    spec.validate()
    tar = _tar(spec, firewall_xml(spec.ruleset_id, spec.ranges))
    payload = _gzip(tar)
    return write_ar([("descriptor.xml", _descriptor(spec, payload, tar)), ("sig.pkcs7", b""),
                     (PAYLOAD_NAME, payload)])


# ---------------------------------------------------------------- one id, one content


Rule = tuple[str, str, str, int, int]  # direction, protocol, port type, begin, end
Content = dict[str, list[Rule]]  # ruleset id -> its rules, sorted


def rule_key(direction: str, protocol: str, port_type: str | None, begin: int,
             end: int) -> Rule:
    """A firewall rule as compared between VIBs and hosts; a missing port type is dst."""
    return direction, protocol, port_type or "dst", begin, end


def ruleset_content(rulesets: list[RulesetReport]) -> Content:
    """What a VIB opens: each ruleset id with its rules, in one comparable form."""
    content: dict[str, set[Rule]] = {}
    for ruleset in rulesets:
        content.setdefault(ruleset.id, set()).update(
            rule_key(str(r["direction"]), str(r["protocol"]),
                     str(r["port_type"]) if r["port_type"] else None,
                     cast(int, r["begin"]), cast(int, r["end"])) for r in ruleset.rules)
    return {key: sorted(rules) for key, rules in sorted(content.items())}


def describe_content(content: Content) -> str:
    """'ruleset vnc opening inbound TCP 5900-6105', a part per direction, protocol and
    port type."""
    if not content:
        return "no firewall ruleset"
    described = []
    for key, rules in content.items():
        parts: dict[tuple[str, str, str], list[Range]] = {}
        for direction, protocol, port_type, begin, end in rules:
            parts.setdefault((direction, protocol, port_type), []).append((begin, end))
        opens = ", ".join(f"{direction} {protocol.upper()} {describe_ranges(ranges)}"
                          + (" (source ports)" if port_type == "src" else "")
                          for (direction, protocol, port_type), ranges in parts.items())
        described.append(f"ruleset {key} opening {opens or 'nothing'}")
    return "; ".join(described)


def spec_content(spec: VibSpec) -> Content:
    """What the VIB built from ``spec`` opens."""
    rule_file = f"{FIREWALL_DIR}{spec.ruleset_id}.xml"
    return ruleset_content(_rulesets(firewall_xml(spec.ruleset_id, spec.ranges), rule_file))


def vib_id_of(path: Path) -> str | None:
    """The id a file's descriptor names (the descriptor alone is read); None if no VIB."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            descriptor = next((m for m in read_members(handle, size)
                               if m.name == "descriptor.xml"), None)
            if descriptor is None or descriptor.size > MAX_RULE_FILE:
                return None
            handle.seek(descriptor.offset)
            root = parse_xml(handle.read(descriptor.size), "descriptor.xml")
    except (OSError, ArchiveError, XmlRefused):
        return None
    report = VibReport(path=str(path), size=size)
    _read_descriptor(root, report)
    return report.vib_id


def next_version(version: str) -> str | None:
    """1.0.0-1 -> 1.0.0-2: the release raised; None when it is not a number."""
    head, _, release = version.rpartition("-")
    return f"{head}-{int(release) + 1}" if head and release.isdigit() else None


def refuse_other_content(spec: VibSpec, target: Path) -> None:
    """UsageError when ``target``, or a VIB beside it, has the spec's id with other rules.

    ESXi skips a VIB whose name and version a host lists already: the same id
    with other ports would never reach a host that has the first build. An
    identical rebuild, another id, or a file that is no valid VIB is no conflict.
    """
    wanted = spec_content(spec)
    candidates = [target, *sorted(p for p in target.parent.glob("*.vib") if p != target)]
    for path in candidates:
        if not path.is_file() or vib_id_of(path) != spec.vib_id:
            continue
        existing = inspect_vib(path)
        if not existing.valid:
            continue
        found = ruleset_content(existing.rulesets)
        if found == wanted:
            continue
        raised = next_version(spec.version)
        remedy = f"raise --version (e.g. --version {raised})" if raised else "raise --version"
        raise UsageError(f"{path} holds {spec.vib_id} with {describe_content(found)}, not "
                         f"{describe_content(wanted)}: a host that has it installed would never "
                         f"take this one; {remedy}, or pass --force to replace the file anyway")


# ---------------------------------------------------------------- inspect


@dataclass
class PayloadReport:
    name: str
    type: str
    size: int  # as the descriptor says
    stored: int | None  # the member's size
    checksums: dict[str, str] = field(default_factory=dict)  # "sha-256", "sha-1/gunzip": ok|bad
    files: list[str] = field(default_factory=list)


@dataclass
class RulesetReport:
    file: str
    id: str
    enabled: bool
    rules: list[dict[str, object]]


@dataclass
class VibReport:
    """JSON keys documented in docs/firewall.md."""

    path: str
    size: int
    valid: bool = False
    vib_id: str | None = None
    name: str | None = None
    version: str | None = None
    vendor: str | None = None
    type: str | None = None
    summary: str | None = None
    acceptance_level: str | None = None
    release_date: str | None = None
    live_install_allowed: bool | None = None
    live_remove_allowed: bool | None = None
    maintenance_mode: bool | None = None
    stateless_ready: bool | None = None
    signed: bool = False
    members: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the descriptor's file-list
    payloads: list[PayloadReport] = field(default_factory=list)
    rulesets: list[RulesetReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _bool(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() == "true"


def _stream(handle: BinaryIO, member: Member, chunk: int = 1 << 20) -> Iterator[bytes]:
    handle.seek(member.offset)
    left = member.size
    while left:
        data = handle.read(min(chunk, left))
        if not data:
            return
        left -= len(data)
        yield data


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress a gzip stream, concatenated members too; raises zlib.error if corrupt."""
    inflater, fed = zlib.decompressobj(wbits=31), False
    for data in chunks:
        while data:
            fed = True
            out = inflater.decompress(data, 1 << 20)
            if out:
                yield out
            data = inflater.unconsumed_tail
            if inflater.eof:
                data = inflater.unused_data + data
                inflater, fed = zlib.decompressobj(wbits=31), False
    if fed:
        if not inflater.eof:
            yield inflater.flush()
        if not inflater.eof:
            raise zlib.error("the gzip stream ends early")


def inspect_vib(path: Path) -> VibReport:
    """Check a VIB without extracting anything: structure, descriptor, sizes, checksums, rules."""
    size = path.stat().st_size
    report = VibReport(path=str(path), size=size)
    with path.open("rb") as handle:
        try:
            members = read_members(handle, size)
        except ArchiveError as exc:
            report.problems.append(str(exc))
            return report
        report.members = [m.name for m in members]
        by_name = {m.name: m for m in members}
        if "descriptor.xml" not in by_name:
            report.problems.append("no descriptor.xml member")
            return report
        if "sig.pkcs7" not in by_name:
            report.problems.append("no sig.pkcs7 member (empty for an unsigned VIB)")
        else:
            report.signed = by_name["sig.pkcs7"].size > 0
        if report.members[:2] != ["descriptor.xml", "sig.pkcs7"]:
            report.warnings.append("members are not in the order descriptor.xml, sig.pkcs7, "
                                   "payloads")
        descriptor = by_name["descriptor.xml"]
        if descriptor.size > MAX_RULE_FILE:
            report.problems.append(f"descriptor.xml is larger than {MAX_RULE_FILE} bytes")
            return report
        handle.seek(descriptor.offset)
        try:
            root = parse_xml(handle.read(descriptor.size), "descriptor.xml")
        except XmlRefused as exc:
            report.problems.append(str(exc))
            return report
        _read_descriptor(root, report)
        for payload in root.findall("payloads/payload"):
            _check_payload(handle, payload, by_name, report)
        named = {p.name for p in report.payloads}
        extra = [m for m in report.members if m not in ("descriptor.xml", "sig.pkcs7")
                 and m not in named]
        if extra:
            report.problems.append(f"members the descriptor does not list: {', '.join(extra)}")
    packaged = {f for p in report.payloads for f in p.files}
    if report.files and packaged and set(report.files) - packaged:
        report.warnings.append("file-list names files no payload holds: "
                               f"{', '.join(sorted(set(report.files) - packaged))}")
    report.valid = not report.problems
    return report


def _read_descriptor(root: object, report: VibReport) -> None:
    assert isinstance(root, ET.Element)
    if root.tag != "vib":
        report.problems.append(f"descriptor.xml: the root element is <{root.tag}>, not <vib>")
        return

    def text(tag: str) -> str | None:
        found = root.find(tag)
        return found.text.strip() if found is not None and found.text else None

    for tag in ("type", "name", "version", "vendor", "acceptance-level"):
        if not text(tag):
            report.problems.append(f"descriptor.xml has no <{tag}>")
    report.type, report.name, report.version = text("type"), text("name"), text("version")
    report.vendor, report.summary = text("vendor"), text("summary")
    report.release_date = text("release-date")
    report.acceptance_level = text("acceptance-level")
    if report.acceptance_level and report.acceptance_level not in ACCEPTANCE_LEVELS:
        report.problems.append(f"acceptance-level {report.acceptance_level!r} is not one of "
                               f"{', '.join(ACCEPTANCE_LEVELS)}")
    report.live_install_allowed = _bool(text("live-install-allowed"))
    report.live_remove_allowed = _bool(text("live-remove-allowed"))
    report.maintenance_mode = _bool(text("system-requires/maintenance-mode"))
    report.stateless_ready = _bool(text("stateless-ready"))
    if report.vendor and report.type and report.name and report.version:
        report.vib_id = f"{report.vendor}_{report.type}_{report.name}_{report.version}"
    report.files = [f.text.strip() for f in root.findall("file-list/file") if f.text]
    if report.live_install_allowed is False or report.maintenance_mode:
        report.warnings.append("not live-installable: hosts must enter maintenance mode")
    if not root.findall("payloads/payload"):
        report.problems.append("descriptor.xml lists no payload")


def _check_payload(handle: BinaryIO, element: object, members: dict[str, Member],
                   report: VibReport) -> None:
    assert isinstance(element, ET.Element)
    name = element.get("name") or ""
    kind = element.get("type") or ""
    try:
        declared = int(element.get("size") or "")
    except ValueError:
        report.problems.append(f"payload {name!r}: size {element.get('size')!r} is not a number")
        return
    member = members.get(name)
    payload = PayloadReport(name, kind, declared, member.size if member else None)
    report.payloads.append(payload)
    if member is None:
        report.problems.append(f"payload {name!r} is listed but not in the archive")
        return
    if member.size != declared:
        report.problems.append(f"payload {name!r}: {member.size} bytes stored, the descriptor "
                               f"says {declared}")
    wanted: dict[tuple[str, str], str] = {}
    for checksum in element.findall("checksum"):
        algorithm = checksum.get("checksum-type") or ""
        process = checksum.get("verify-process") or ""
        if algorithm not in ("sha-256", "sha-1", "md5") or process not in ("", "gunzip"):
            report.problems.append(f"payload {name!r}: unknown checksum {algorithm} "
                                   f"{process}".rstrip())
            continue
        wanted[(algorithm, process)] = (checksum.text or "").strip().lower()
    if not wanted:
        report.problems.append(f"payload {name!r} has no checksum")
    stored = {a: hashlib.new(a.replace("-", "")) for a, p in wanted if p == ""}
    unpacked = {a: hashlib.new(a.replace("-", "")) for a, p in wanted if p == "gunzip"}
    contents = bytearray()
    compressed = kind in ("tgz", "vgz")

    def raw() -> Iterator[bytes]:
        for data in _stream(handle, member):
            for hasher in stored.values():
                hasher.update(data)
            yield data

    try:
        chunks = _gunzip(raw()) if compressed else raw()
        for data in chunks:
            for hasher in unpacked.values():
                hasher.update(data)
            if len(contents) <= MAX_UNPACKED:
                contents += data[:MAX_UNPACKED + 1 - len(contents)]
    except zlib.error as exc:
        report.problems.append(f"payload {name!r} is not a valid gzip stream ({exc})")
        return
    for (algorithm, process), expected in wanted.items():
        hasher = (unpacked if process else stored).get(algorithm)
        label = f"{algorithm}/{process}" if process else algorithm
        ok = hasher is not None and hasher.hexdigest() == expected
        payload.checksums[label] = "ok" if ok else "bad"
        if not ok:
            report.problems.append(f"payload {name!r}: the {label} checksum does not match")
    if len(contents) > MAX_UNPACKED:
        report.warnings.append(f"payload {name!r} unpacks to more than {MAX_UNPACKED >> 20} MiB: "
                               "its files are not listed")
        return
    try:
        entries = list(_vmtar(bytes(contents)) if kind == "vgz" else _tar_entries(bytes(contents)))
    except (tarfile.TarError, ValueError, struct.error) as exc:
        report.problems.append(f"payload {name!r}: its archive cannot be read ({exc})")
        return
    for entry, data in entries:
        if not entry or entry.startswith("/") or ".." in entry.split("/"):
            report.problems.append(f"payload {name!r} holds {entry!r}, a path outside the "
                                   "host's root")
            continue
        if data is None:
            continue
        payload.files.append(entry)
        if entry.startswith(FIREWALL_DIR) and entry.endswith(".xml"):
            try:
                report.rulesets.extend(_rulesets(data, entry))
            except XmlRefused as exc:
                report.problems.append(str(exc))


def _rulesets(data: bytes, entry: str) -> list[RulesetReport]:
    """The rulesets of a firewall rule file; XmlRefused when it is malformed or hostile."""
    return [RulesetReport(entry, ruleset.key, ruleset.enabled, [
        {"direction": r.direction, "protocol": r.protocol, "port_type": r.port_type,
         "begin": r.port, "end": r.end_port or r.port} for r in ruleset.rules])
        for ruleset in parse_firewall_xml(data, entry)]


def _tar_entries(data: bytes) -> Iterator[tuple[str, bytes | None]]:
    """(name, data) of each entry; data None for directories and links."""
    # errors="strict": a name that is not UTF-8 is refused, not carried as surrogates
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8",
                      errors="strict") as tar:
        for info in tar:
            if info.isfile():
                file = tar.extractfile(info)
                content = file.read(MAX_RULE_FILE + 1) if file else b""
                yield info.name, content
            else:
                yield info.name, None


def _vmtar(data: bytes) -> Iterator[tuple[str, bytes | None]]:
    """Entries of VMware's vmtar ("visor" tar, vibauthor's vgz): headers first, then data.

    Each 512-byte header is ustar-like with magic "visor" at 257; a file's data
    offset is a little-endian uint32 at 496.
    """
    for start in range(0, len(data) - 511, 512):
        header = data[start:start + 512]
        if header == bytes(512):
            return
        if header[257:262] != b"visor":
            raise ValueError(f"no vmtar header at byte {start}")
        name = header[0:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        prefix = header[345:496].split(b"\0", 1)[0].decode("utf-8", "replace")
        if prefix:
            name = f"{prefix}/{name}"
        size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        kind = header[156:157]
        if kind in (b"0", b"\0"):
            offset = struct.unpack("<I", header[496:500])[0]
            if offset + size > len(data):
                raise ValueError(f"{name!r} claims data beyond the payload")
            yield name.rstrip("/") or name, data[offset:offset + min(size, MAX_RULE_FILE + 1)]
        else:
            yield name.rstrip("/") or name, None  # '/' itself stays absolute
