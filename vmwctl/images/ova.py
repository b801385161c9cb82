"""OVA packages: a tar of an OVF descriptor, a manifest and disks, judged as Nova reads them.

Nova's VMware driver takes an image with ``container_format=ova`` by reading
the tar from Glance as a stream: the first ``.ovf`` member names the disk
(``DiskSection/Disk@ovf:fileRef`` -> ``References/File@ovf:href``), and the
first member after it whose name starts with that href is imported through
ImportVApp, as a streamOptimized VMDK. This module reads a package the same
way, in one pass and bounded memory, and never extracts a byte to disk:

- the tar is read by :mod:`vmwctl.images.tarstream` (no links, devices, names
  outside the package, absurd sizes or member counts);
- the OVF descriptor must come first (ovftool and vSphere want it there, and
  Nova, reading a stream, looks for the disk only after it); it is parsed by
  :func:`vmwctl.common.safexml.parse_xml` (no DTD, no entities, 4 MiB at most);
- the manifest (``.mf``: ``SHA256(name)= hex`` lines, SHA1 and SHA512 too) is
  checked against digests computed while reading;
- the disk's first MiB and last 1536 bytes are kept while it streams past,
  and :func:`vmwctl.images.inspector.inspect_source` judges it from them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.parsers import expat

from vmwctl.common.safexml import XmlDeclares, XmlRefused, parse_xml
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.images import vmdk
from vmwctl.images.inspector import ImageReport, inspect_source, opened
from vmwctl.images.ostypes import OS_TYPES
from vmwctl.images.properties import adapter_matches_descriptor
from vmwctl.images.tarstream import (
    BLOCK,
    NotTar,
    TarError,
    TarMember,
    first_name,
    member_problem,
    read_members,
)

OVF_MAX = 4 << 20  # EULAs and product properties make some descriptors large
MANIFEST_MAX = 1 << 20
KEEP_HEAD = vmdk.SECTOR + vmdk.DESCRIPTOR_MAX  # what the inspector reads from the start
KEEP_TAIL = vmdk.FOOTER_REGION  # and from the end
EARLY_CANDIDATES = 4  # .vmdk members kept before the descriptor names the disk
OVF_NAMESPACES = {"http://schemas.dmtf.org/ovf/envelope/1": "1.x",
                  "http://schemas.dmtf.org/ovf/envelope/2": "2.x"}
VMW_NAMESPACE = "http://www.vmware.com/schema/ovf"
STREAM_OPTIMIZED = "streamOptimized"
ALGORITHMS = {"SHA1": 40, "SHA256": 64, "SHA512": 128}  # manifest name -> hex digits
_MANIFEST_LINE = re.compile(r"^(SHA1|SHA256|SHA512)\((.+)\)\s*=\s*([0-9A-Fa-f]+)$")
# ResourceSubType of a SCSI controller (ResourceType 6) -> vmware_adaptertype
SCSI_SUBTYPES = {"lsilogic": "lsiLogic", "buslogic": "busLogic", "lsilogicsas": "lsiLogicsas",
                 "virtualscsi": "paraVirtual"}
OTHER_STORAGE = {"vmware.sata.ahci": "SATA", "ahci": "SATA", "vmware.nvme.controller": "NVMe"}

UNSAFE = "export the VM again (vCenter's Export OVF Template, or ovftool): vmwctl never reads " \
         "an unsafe package"
RE_EXPORT = "export the VM again (vCenter's Export OVF Template, or ovftool)"
REPACK = "repack it with the descriptor first: ovftool FILE.ova fixed.ova, or tar -cf " \
         "fixed.ova FILE.ovf FILE.mf DISK.vmdk"
DAMAGED = "the package changed after it was made: copy or export it again"

Read = Callable[[int], bytes]


@dataclass
class OvfDisk:
    """A disk of the OVF's DiskSection, with the file and the controller it names."""

    id: str
    file_ref: str | None
    href: str | None  # the member that holds it
    capacity: int | None  # bytes
    format: str | None  # the format URL, e.g. ...vmdk.html#streamOptimized
    file_size: int | None  # References/File@ovf:size
    compression: str | None
    controller: str | None  # "IDE", "SCSI (lsilogic)", "SATA", ...
    adapter_type: str | None  # the vmware_adaptertype that controller is


@dataclass
class Ovf:
    """What an OVF descriptor says, and what is wrong with it."""

    version: str | None = None
    disks: list[OvfDisk] = field(default_factory=list)
    hardware_version: str | None = None
    os_type: str | None = None
    ovf_prefix: bool = True  # the root declares the ovf: prefix (Nova's reader needs it)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class OvaMember:
    name: str
    size: int
    kind: str
    role: str  # descriptor, manifest, certificate, disk, file
    manifest: str | None = None  # ok, mismatch, not listed; None without a manifest


@dataclass
class OvaReport:
    """What an OVA is, and whether Nova boots it; JSON keys documented in docs/images.md."""

    path: str
    file_size: int = 0
    format: str = "ova"
    members: list[OvaMember] = field(default_factory=list)
    descriptor: str | None = None
    ovf_version: str | None = None
    disks: list[OvfDisk] = field(default_factory=list)
    disk: str | None = None  # the member Nova imports
    manifest: str | None = None
    manifest_algorithms: list[str] = field(default_factory=list)
    signed: bool = False
    hardware_version: str | None = None
    os_type: str | None = None  # vmw:osType as the OVF writes it
    controller: str | None = None
    disk_report: ImageReport | None = None
    properties: dict[str, str] = field(default_factory=dict)
    safe: bool = True
    acceptable: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remedy: str | None = None
    not_an_archive: str | None = field(default=None, metadata={"internal": True})

    def problem(self, text: str, remedy: str) -> None:
        if text not in self.problems:
            self.problems.append(text)
        if self.remedy is None:
            self.remedy = remedy

    def line(self) -> str:
        """The first problem and the one remedy."""
        return f"{self.problems[0]}; {self.remedy}" if self.problems else "acceptable"


# ---------------------------------------------------------------- the OVF descriptor


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_texts(element: Element) -> dict[str, str]:
    """An item's rasd/sasd values by local name (the first of each)."""
    values: dict[str, str] = {}
    for child in element:
        values.setdefault(_local(child.tag), (child.text or "").strip())
    return values


def _units(text: str | None) -> int | None:
    """The bytes one unit of ovf:capacityAllocationUnits stands for ("byte * 2^30")."""
    unit = re.sub(r"\s+", "", (text or "byte").lower())
    if unit == "byte":
        return 1
    match = re.fullmatch(r"byte\*(\d{1,4})\^(\d{1,2})", unit)
    if match:
        return int(match.group(1)) ** int(match.group(2))
    return {"kilobytes": 1 << 10, "kb": 1 << 10, "megabytes": 1 << 20, "mb": 1 << 20,
            "gigabytes": 1 << 30, "gb": 1 << 30}.get(unit)


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"\d{1,20}", text) else None


def _declares_ovf_prefix(data: bytes, namespace: str) -> bool:
    """Whether the root element maps the prefix ovf to the envelope's namespace, as Nova's
    reader needs (it looks the namespace up as nsmap['ovf'])."""
    declared: dict[str, str] = {}

    class Root(Exception):
        pass

    def start(*_args: object) -> None:
        raise Root

    scan = expat.ParserCreate(namespace_separator=" ")
    scan.StartNamespaceDeclHandler = lambda prefix, uri: declared.setdefault(prefix or "", uri)
    scan.StartElementHandler = start
    with contextlib.suppress(Root, expat.ExpatError):
        scan.Parse(data, True)
    return declared.get("ovf") == namespace


def _controller(items: list[dict[str, str]], disk_id: str) -> tuple[str | None, str | None]:
    """The controller a disk sits on, and the vmware_adaptertype it is (None: none Nova has)."""
    drive = next((i for i in items if i.get("ResourceType") == "17"
                  and re.search(rf"/disk/{re.escape(disk_id)}$", i.get("HostResource", ""))),
                 None)
    if drive is None:
        return None, None
    parent = drive.get("Parent")
    controller = next((i for i in items if parent and i.get("InstanceID") == parent), None)
    if controller is None:
        return None, None
    kind, subtype = controller.get("ResourceType"), controller.get("ResourceSubType", "")
    if kind == "5":
        return "IDE", "ide"
    if kind == "6":
        return f"SCSI ({subtype or 'no subtype'})", SCSI_SUBTYPES.get(subtype.lower())
    if kind == "20":
        return OTHER_STORAGE.get(subtype.lower(), f"storage ({subtype or 'no subtype'})"), None
    return f"resource type {kind}", None


def parse_ovf(data: bytes) -> Ovf:
    """An OVF descriptor's disks, controllers, guest OS and hardware version.

    Raises XmlRefused for a document vmwctl does not parse (too large, a DTD
    or entities, malformed); anything else wrong is in ``problems``.
    """
    root = parse_xml(data, "the OVF descriptor", limit=OVF_MAX)
    ovf = Ovf()
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Envelope" or namespace not in OVF_NAMESPACES:
        ovf.problems.append(f"the descriptor's root is <{_local(root.tag)}> in namespace "
                            f"{namespace or 'none'!r}, not an OVF Envelope")
        return ovf
    ovf.version = OVF_NAMESPACES[namespace]
    ovf.ovf_prefix = _declares_ovf_prefix(data, namespace)
    if not ovf.ovf_prefix:
        ovf.problems.append("the descriptor's root does not declare the prefix ovf: for the "
                            "OVF namespace, and Nova's reader looks the namespace up by it")

    def q(tag: str) -> str:
        return f"{{{namespace}}}{tag}"

    files = {f.get(q("id")): f for f in root.findall(f"{q('References')}/{q('File')}")}
    system = root.find(q("VirtualSystem"))
    if system is None:
        system = next(root.iter(q("VirtualSystem")), None)
        if system is not None:
            ovf.warnings.append("a vApp of several virtual machines: Nova boots one, from the "
                                "first disk of the DiskSection")
    items: list[dict[str, str]] = []
    if system is not None:
        hardware = system.find(q("VirtualHardwareSection"))
        if hardware is not None:
            kind = next((e for e in hardware.iter() if _local(e.tag) == "VirtualSystemType"),
                        None)
            ovf.hardware_version = (kind.text or "").strip() or None if kind is not None \
                else None
            items = [_child_texts(e) for e in hardware if _local(e.tag) in ("Item",
                                                                           "StorageItem")]
        section = system.find(q("OperatingSystemSection"))
        if section is not None:
            ovf.os_type = section.get(f"{{{VMW_NAMESPACE}}}osType")
    for element in root.findall(f"{q('DiskSection')}/{q('Disk')}"):
        disk_id = element.get(q("diskId")) or ""
        file_ref = element.get(q("fileRef"))
        reference = files.get(file_ref) if file_ref else None
        units = _units(element.get(q("capacityAllocationUnits")))
        capacity = _number(element.get(q("capacity")))
        controller, adapter = _controller(items, disk_id)
        ovf.disks.append(OvfDisk(
            id=disk_id, file_ref=file_ref,
            href=reference.get(q("href")) if reference is not None else None,
            capacity=capacity * units if capacity is not None and units else None,
            format=element.get(q("format")),
            file_size=_number(reference.get(q("size"))) if reference is not None else None,
            compression=reference.get(q("compression")) if reference is not None else None,
            controller=controller, adapter_type=adapter))
    _judge_disks(ovf)
    return ovf


def _judge_disks(ovf: Ovf) -> None:
    if not ovf.disks:
        ovf.problems.append("the descriptor names no disk (DiskSection/Disk): there is nothing "
                            "to boot")
        return
    first = ovf.disks[0]
    if len(ovf.disks) > 1:
        ovf.warnings.append(f"the descriptor names {len(ovf.disks)} disks; Nova imports only "
                            f"the first ({first.id}) and the VM boots from it alone")
    if not first.file_ref:
        ovf.problems.append(f"disk {first.id!r} has no ovf:fileRef: it names no file")
    elif first.href is None:
        ovf.problems.append(f"disk {first.id!r} refers to file {first.file_ref!r}, which "
                            "References does not list")
    if first.compression and first.compression.lower() != "identity":
        ovf.problems.append(f"the descriptor says the disk is {first.compression}-compressed: "
                            "Nova imports the member's bytes as they are")
    if first.controller is None:
        ovf.notes.append(f"no hardware item puts disk {first.id!r} on a controller")
    elif first.adapter_type is None:
        ovf.warnings.append(f"the disk sits on a {first.controller} controller, which Nova's "
                            "VMware driver does not create: pass --adapter-type to upload (a "
                            "controller the guest has a driver for)")


# ---------------------------------------------------------------- the manifest


def parse_manifest(data: bytes) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(algorithm, file name, hex digest) of each line, and the lines that are wrong."""
    entries: list[tuple[str, str, str]] = []
    problems: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], ["the manifest is not UTF-8 text"]
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        match = _MANIFEST_LINE.match(line)
        if match is None or len(match.group(3)) != ALGORITHMS[match.group(1)]:
            problems.append(f"manifest line {number} is not 'SHA256(name)= digest': "
                            f"{line[:80]!r}")
            continue
        entries.append((match.group(1), match.group(2), match.group(3).lower()))
    if not entries and not problems:
        problems.append("the manifest is empty")
    return entries, problems


# ---------------------------------------------------------------- the package


class _Capture:
    """The first MiB and the last 1536 bytes of a member: all the inspector reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.head = bytearray()
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < KEEP_HEAD:
            self.head += chunk[:KEEP_HEAD - len(self.head)]
        self.tail = (self.tail + chunk[-KEEP_TAIL:])[-KEEP_TAIL:]

    def read(self, offset: int, length: int) -> bytes:
        end = offset + length
        tail_start = self.size - len(self.tail)
        if offset >= tail_start and end <= self.size:
            return self.tail[offset - tail_start:end - tail_start]
        return bytes(self.head[offset:end])


@dataclass
class _State:
    """What one pass over the package has found so far."""

    report: OvaReport
    ovf: Ovf | None = None
    manifest: list[tuple[str, str, str]] | None = None
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    captures: dict[str, _Capture] = field(default_factory=dict)
    nova_href: str | None = None  # what Nova's reader looks for once it has read an .ovf
    nova_pick: str | None = None  # the member Nova would import

    @property
    def href(self) -> str | None:
        return self.ovf.disks[0].href if self.ovf and self.ovf.disks else None


def read_ova(read: Read, name: str, size: int | None = None, *,
             progress: Callable[[int], None] | None = None) -> OvaReport:
    """Judge the package that ``read`` yields (any byte stream), in one pass."""
    state = _State(OvaReport(path=name, file_size=size or 0))
    report = state.report
    try:
        for index, (member, data) in enumerate(read_members(read, size=size)):
            _member(state, index, member, data, progress)
    except NotTar as exc:
        report.not_an_archive = str(exc)
        return report
    except TarError as exc:
        report.problem(f"the archive cannot be read on: {exc}", RE_EXPORT)
        report.safe = False
    if not report.members and not report.problems:
        report.not_an_archive = "the file is empty" if not size else "a tar archive with no " \
                                                                    "member"
        return report
    _conclude(state)
    return report


def _member(state: _State, index: int, member: TarMember, data: Iterator[bytes],
            progress: Callable[[int], None] | None) -> None:
    report = state.report
    entry = OvaMember(member.name, member.size, member.kind, "file")
    report.members.append(entry)
    hazard = member_problem(member)
    if hazard:
        report.safe = False
        report.problem(hazard, UNSAFE)
        return
    if any(m.name == member.name for m in report.members[:-1]):
        report.problem(f"{member.name!r} appears twice in the archive", UNSAFE)
    lower = member.name.lower()
    if index == 0 and not lower.endswith(".ovf"):
        report.problem(f"the first member is {member.name!r}, not the OVF descriptor: ovftool "
                       "and vSphere want the descriptor first, and Nova, reading the stream, "
                       "looks for the disk only after it", REPACK)
    wanted = {a.lower() for a, _, _ in state.manifest} if state.manifest is not None \
        else {a.lower() for a in ALGORITHMS}
    hashers = {a: hashlib.new(a) for a in wanted}
    capture = None
    if (state.href is not None and member.name == state.href) \
            or (state.ovf is None and lower.endswith(".vmdk")
                and len(state.captures) < EARLY_CANDIDATES):
        capture = _Capture(member.size)
    limit = OVF_MAX if lower.endswith(".ovf") else MANIFEST_MAX if lower.endswith(".mf") else 0
    kept = bytearray()
    for chunk in data:
        for hasher in hashers.values():
            hasher.update(chunk)
        if capture is not None:
            capture.feed(chunk)
        if len(kept) <= limit and limit:
            kept += chunk[:limit + 1 - len(kept)]
        if progress is not None:
            progress(len(chunk))
    state.digests[member.name] = {a.upper(): h.hexdigest() for a, h in hashers.items()}
    if capture is not None and member.name not in state.captures:
        state.captures[member.name] = capture
    if lower.endswith(".ovf"):
        entry.role = "descriptor"
        _descriptor(state, member, bytes(kept))
    elif lower.endswith(".mf"):
        entry.role = "manifest"
        _manifest(state, member, bytes(kept))
    elif lower.endswith(".cert"):
        entry.role = "certificate"
        report.signed = True
    elif state.nova_href and state.nova_pick is None \
            and member.name.startswith(state.nova_href):
        state.nova_pick = member.name


def _descriptor(state: _State, member: TarMember, data: bytes) -> None:
    report = state.report
    if state.ovf is not None:
        report.problem(f"a second OVF descriptor, {member.name!r}: a package has one",
                       RE_EXPORT)
        return
    report.descriptor = member.name
    if member.size > OVF_MAX:
        report.problem(f"the OVF descriptor has {member.size} bytes (at most {OVF_MAX})",
                       RE_EXPORT)
        state.ovf = Ovf()
        return
    try:
        state.ovf = parse_ovf(data)
    except XmlRefused as exc:
        hostile = isinstance(exc, XmlDeclares)
        report.safe = report.safe and not hostile
        report.problem(str(exc), UNSAFE if hostile else RE_EXPORT)
        state.ovf = Ovf()
        return
    state.nova_href = state.href if state.ovf.ovf_prefix else None


def _manifest(state: _State, member: TarMember, data: bytes) -> None:
    report = state.report
    if state.manifest is not None:
        report.problem(f"a second manifest, {member.name!r}: a package has one", RE_EXPORT)
        return
    report.manifest = member.name
    if member.size > MANIFEST_MAX:
        report.problem(f"the manifest has {member.size} bytes (at most {MANIFEST_MAX})",
                       RE_EXPORT)
        state.manifest = []
        return
    entries, problems = parse_manifest(data)
    state.manifest = entries
    for problem in problems:
        report.problem(problem, RE_EXPORT)
    report.manifest_algorithms = sorted({a for a, _, _ in entries})
    if "SHA1" in report.manifest_algorithms:
        report.warnings.append("the manifest uses SHA1, which vSphere 7.0 and later refuse to "
                               "deploy (re-export it with SHA256: ovftool --shaAlgorithm=SHA256 "
                               "FILE.ova fixed.ova); Nova does not read the manifest")


def _conclude(state: _State) -> None:
    report = state.report
    if state.ovf is None:
        report.problem("no OVF descriptor (.ovf member): not an OVA", RE_EXPORT)
    else:
        _take_ovf(state)
    _check_manifest(state)
    _check_disk(state)
    _properties(state)
    report.acceptable = not report.problems


def _take_ovf(state: _State) -> None:
    report, ovf = state.report, state.ovf
    assert ovf is not None
    report.ovf_version, report.disks = ovf.version, ovf.disks
    report.hardware_version, report.os_type = ovf.hardware_version, ovf.os_type
    for problem in ovf.problems:
        report.problem(problem, RE_EXPORT)
    report.warnings.extend(ovf.warnings)
    report.notes.extend(ovf.notes)
    if ovf.hardware_version:
        report.notes.append(f"hardware version {ovf.hardware_version}: Nova creates the VM with "
                            "the flavor's vmware:hw_version (or the host's default), not the "
                            "OVF's")
    if ovf.disks:
        report.controller = ovf.disks[0].controller


def _check_manifest(state: _State) -> None:
    report = state.report
    if state.manifest is None:
        report.notes.append("no manifest (.mf): the members are not verified")
        return
    listed: dict[str, list[tuple[str, str]]] = {}
    for algorithm, name, digest in state.manifest:
        listed.setdefault(name, []).append((algorithm, digest))
    members = {m.name: m for m in report.members}
    for name, digests in listed.items():
        entry = members.get(name)
        if entry is None:
            report.problem(f"the manifest lists {name!r}, which the package does not hold",
                           RE_EXPORT)
            continue
        computed = state.digests.get(name)
        if computed is None:
            continue  # an unsafe member, never read
        bad = [a for a, digest in digests if computed.get(a) not in (None, digest)]
        entry.manifest = "mismatch" if bad else "ok"
        if bad:
            report.problem(f"the {bad[0]} of {name!r} does not match the manifest", DAMAGED)
    for entry in report.members:
        if entry.role not in ("manifest", "certificate") and entry.name not in listed \
                and entry.name in state.digests:
            entry.manifest = "not listed"
            report.warnings.append(f"{entry.name!r} is not listed in the manifest, so it is not "
                                   "verified")


def _check_disk(state: _State) -> None:
    report, href = state.report, state.href
    if href is None:
        return
    names = [m.name for m in report.members]
    if href not in names:
        report.problem(f"the disk the descriptor names, {href!r}, is not in the package",
                       RE_EXPORT)
        return
    report.disk = href
    next(m for m in report.members if m.name == href).role = "disk"
    if state.nova_pick is None and state.ovf and state.ovf.ovf_prefix:
        report.problem(f"Nova would not find {href!r}: it imports the first member after the "
                       "descriptor whose name starts with the disk's href", REPACK)
    elif state.nova_pick not in (None, href):
        report.problem(f"Nova would import {state.nova_pick!r}, the first member after the "
                       f"descriptor whose name starts with {href!r}, instead of the disk",
                       RE_EXPORT)
    capture = state.captures.get(href)
    if capture is None:
        report.notes.append(f"{href!r} came before the descriptor and was not inspected")
        return
    _inspect_disk(report, state.ovf.disks[0] if state.ovf else None, href, capture)


def _inspect_disk(report: OvaReport, disk: OvfDisk | None, href: str,
                  capture: _Capture) -> None:
    inner = inspect_source(href, capture.size, capture.read)
    report.disk_report = inner
    if inner.not_a_disk is not None:
        report.problem(f"the disk {href!r} is not a disk image: {inner.not_a_disk.reason}",
                       RE_EXPORT)
        return
    if not inner.acceptable:
        reason = inner.problems[0] if inner.problems else "not a VMDK Glance accepts"
        report.problem(f"the disk {href!r}: {reason}",
                       inner.refusal.remedy if inner.refusal else RE_EXPORT)
        return
    if inner.create_type != STREAM_OPTIMIZED:
        report.problem(f"the disk {href!r} is {inner.create_type}: Nova imports the disk of an "
                       "OVA through ImportVApp, which takes streamOptimized only",
                       "export the VM from vCenter, whose OVAs hold streamOptimized disks")
        return
    if disk is None:
        return
    if disk.format and not disk.format.endswith(f"#{STREAM_OPTIMIZED}"):
        report.warnings.append(f"the descriptor gives the disk format {disk.format!r}, but the "
                               "disk is streamOptimized")
    if disk.capacity is not None and inner.virtual_size is not None \
            and disk.capacity != inner.virtual_size:
        report.warnings.append(f"the descriptor gives the disk {disk.capacity} bytes, its "
                               f"header {inner.virtual_size}")
    if disk.file_size is not None and disk.file_size != capture.size:
        report.warnings.append(f"the descriptor gives {href!r} {disk.file_size} bytes, the "
                               f"package holds {capture.size}")
    if disk.adapter_type and not adapter_matches_descriptor(inner.descriptor_adapter_type,
                                                            disk.adapter_type):
        report.notes.append(f"the disk's descriptor says ddb.adapterType "
                            f"{inner.descriptor_adapter_type!r}; the OVF's controller "
                            f"({disk.controller}) decides")


def _properties(state: _State) -> None:
    """The image properties the package itself gives (upload adds the flags' ones)."""
    report = state.report
    inner = report.disk_report
    found: dict[str, str] = {}
    if inner is not None and inner.vmware_disktype == STREAM_OPTIMIZED and report.disk:
        found["vmware_disktype"] = STREAM_OPTIMIZED
    disk = report.disks[0] if report.disks else None
    if disk is not None and disk.adapter_type:
        found["vmware_adaptertype"] = disk.adapter_type
    elif disk is not None and disk.controller is None and inner is not None \
            and inner.vmware_adaptertype:
        found["vmware_adaptertype"] = inner.vmware_adaptertype
        report.notes.append(f"adapter type {inner.vmware_adaptertype} from the disk's "
                            "descriptor, which says lsilogic for LSI Logic SAS and paravirtual "
                            "disks too")
    canonical = {key.lower(): key for key in OS_TYPES}
    if report.os_type and report.os_type.lower() in canonical:
        found["vmware_ostype"] = canonical[report.os_type.lower()]
    elif report.os_type:
        report.warnings.append(f"the descriptor's vmw:osType {report.os_type!r} is not a guest "
                               "OS type Nova knows: pass --ostype (see 'vmwctl image ostypes')")
    elif state.ovf is not None:
        report.notes.append("the descriptor has no vmw:osType: pass --ostype")
    report.properties = found


# ---------------------------------------------------------------- local files


def is_ova(path: Path) -> bool:
    """An OVA by its name (.ova) or its content (a tar whose first member is an .ovf)."""
    if path.suffix.lower() == ".ova":
        return True
    try:
        with open(path, "rb") as handle:
            name = first_name(handle.read(BLOCK))
    except OSError:
        return False
    return name is not None and name.lower().endswith(".ovf")


def descriptor_first(block: bytes) -> tuple[str | None, str | None]:
    """From an OVA's first 512 bytes: the descriptor's name when it is the first member, or
    why the data is no package Nova reads."""
    name = first_name(block)
    if name is None:
        return None, "no tar header at its start"
    if not name.lower().endswith(".ovf"):
        return None, (f"its first member is {name!r}, not an OVF descriptor, and Nova looks "
                      "for the disk only after the descriptor")
    return name, None


def inspect_ova(path: Path, *, progress: Callable[[int], None] | None = None) -> OvaReport:
    """Judge a local OVA; UsageError (exit 2) when it cannot be read or is no tar at all."""
    with opened(path, "an OVA") as handle:
        size = os.fstat(handle.fileno()).st_size
        report = read_ova(handle.read, str(path), size, progress=progress)
    if report.not_an_archive is not None:
        raise UsageError(f"{path} is not an OVA: {report.not_an_archive}; give the .ova file "
                         "exported from vCenter or ovftool")
    return report


# ---------------------------------------------------------------- Nova's fetch of an OVA


class _ChunkRead:
    """``read(n)`` over an iterable of byte chunks (Glance's download stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def drain(self) -> None:
        self._buffer = b""
        for _ in self._chunks:
            pass


@dataclass
class OvaDisk:
    """The disk member of an OVA read as a stream, as Nova's fetch_image_ova picks it."""

    name: str
    size: int
    data: Iterator[bytes]
    rest: Callable[[], None]  # reads the archive to its end once the disk is consumed


def ova_disk(chunks: Iterable[bytes], what: str) -> OvaDisk:
    """Nova's fetch_image_ova: the first ``.ovf`` member names the disk
    (DiskSection/Disk@fileRef -> References/File@href); the first member after it whose
    name starts with that href is the disk. Unsafe members, a descriptor vmwctl does not
    parse, or no disk raise OperationFailed, naming ``what``."""
    reader = _ChunkRead(chunks)
    members = read_members(reader.read)
    href = None
    try:
        for member, data in members:
            problem = member_problem(member)
            if problem:
                raise OperationFailed(f"{what}: {problem}")
            if member.name.endswith(".ovf") and href is None:
                if member.size > OVF_MAX:
                    raise OperationFailed(f"{what}: the OVF descriptor has {member.size} bytes "
                                          f"(at most {OVF_MAX})")
                ovf = parse_ovf(b"".join(data))
                href = ovf.disks[0].href if ovf.disks else None
                if not href:
                    raise OperationFailed(f"{what}: the OVF descriptor {member.name!r} names no "
                                          "disk file (DiskSection/Disk@ovf:fileRef)")
            elif href is not None and member.name.startswith(href):
                def rest() -> None:
                    for _ in _read_as(what, (b for _m, more in members for b in more)):
                        pass
                    reader.drain()

                return OvaDisk(member.name, member.size, _read_as(what, data), rest)
    except XmlRefused as exc:
        raise OperationFailed(f"{what}: {exc}") from None
    except TarError as exc:
        raise OperationFailed(f"{what}: not a readable OVA: {exc}") from None
    if href is None:
        raise OperationFailed(f"{what}: no OVF descriptor in the archive")
    raise OperationFailed(f"{what}: no member holds the disk {href!r} the OVF names "
                          "(Nova: 'Extracting vmdk from OVA failed')")


def _read_as(what: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, with an archive that breaks off told as an OperationFailed."""
    try:
        yield from chunks
    except TarError as exc:
        raise OperationFailed(f"{what}: not a readable OVA: {exc}") from None
