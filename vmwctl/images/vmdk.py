"""VMDK structures: the hosted sparse header, the footer, the descriptor, and their safety.

Pure functions over bytes. The safety rules are OpenStack's (oslo.utils'
format inspector, which Glance and Nova run) and a few stricter ones that
qemu-img's own checks imply: a file passes only when it is a monolithicSparse
or streamOptimized disk whose header, descriptor and footer are all sane.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

SECTOR = 512
MAGIC = b"KDMV"
COWD_MAGIC = b"COWD"
GD_AT_END = 0xFFFFFFFFFFFFFFFF
HEADER_FORMAT = "<4sIIQQQQIQQQB4sH"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 79 meaningful bytes of the 512-byte sector
DESCRIPTOR_MAX = (1 << 20) - 1  # what qemu and oslo.utils read at most
FOOTER_REGION = 3 * SECTOR  # footer marker, footer, end-of-stream marker

FLAG_NEWLINE_TEST = 1 << 0
FLAG_REDUNDANT_GT = 1 << 1
FLAG_ZEROED_GTE = 1 << 2
FLAG_COMPRESSED = 1 << 16
FLAG_MARKERS = 1 << 17
NEWLINE_CHECK = b"\n \r\n"

MARKER_EOS = 0
MARKER_FOOTER = 3

# The only subformats OpenStack lets through (nova, glance and cinder's
# vmdk_allowed_types default, and oslo.utils' inspector).
ALLOWED_CREATE_TYPES = ("monolithicSparse", "streamOptimized")
FLAT_CREATE_TYPES = ("monolithicFlat", "vmfs", "twoGbMaxExtentFlat", "2GbMaxExtentFlat")
EXTENT_ACCESS = ("RW", "RDONLY", "NOACCESS")

_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)'
                     r'(?:\s+"([^"]*)")?(?:\s+(\d+))?\s*$', re.IGNORECASE)
_HEADER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")


class VmdkError(ValueError):
    """A structure that cannot be parsed; the message says what is wrong."""


@dataclass
class SparseHeader:
    """The 512-byte hosted sparse extent header (also the streamOptimized footer)."""

    magic: bytes
    version: int
    flags: int
    capacity: int  # sectors
    grain_size: int  # sectors
    descriptor_offset: int  # sectors
    descriptor_size: int  # sectors
    gtes_per_gt: int
    rgd_offset: int
    gd_offset: int
    overhead: int
    unclean_shutdown: int
    newline_check: bytes
    compress_algorithm: int

    @property
    def compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED) and self.compress_algorithm == 1


def parse_header(data: bytes) -> SparseHeader:
    if len(data) < HEADER_SIZE:
        raise VmdkError(f"truncated header: {len(data)} bytes, a sparse header needs "
                        f"{HEADER_SIZE}")
    return SparseHeader(*struct.unpack_from(HEADER_FORMAT, data))


@dataclass
class Extent:
    access: str
    sectors: int
    type: str
    filename: str | None
    offset: int | None


@dataclass
class Descriptor:
    """A parsed descriptor: header keys, extents and the disk database (ddb)."""

    fields: dict[str, str] = field(default_factory=dict)
    extents: list[Extent] = field(default_factory=list)
    ddb: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def create_type(self) -> str | None:
        return self.fields.get("createtype")

    @property
    def adapter_type(self) -> str | None:
        return self.ddb.get("ddb.adaptertype")

    @property
    def hardware_version(self) -> str | None:
        return self.ddb.get("ddb.virtualhwversion")

    @property
    def thin(self) -> bool:
        return self.ddb.get("ddb.thinprovisioned") == "1"

    @property
    def has_parent(self) -> bool:
        parent = self.fields.get("parentcid", "ffffffff").lower()
        return parent != "ffffffff" or "parentfilenamehint" in self.fields


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_descriptor(raw: bytes) -> Descriptor:
    """Parse descriptor text strictly: every line must be one OpenStack accepts.

    Text ends at the first NUL (embedded descriptors are NUL-padded). Keys are
    case-insensitive, as in the VMDK specification. Lines that oslo.utils would
    refuse are recorded as problems, as are extent lines that are malformed or
    name a file outside the descriptor's own directory.
    """
    desc = Descriptor()
    text_bytes = raw.split(b"\0", 1)[0]
    try:
        text = text_bytes.decode("ascii")
    except UnicodeDecodeError:
        desc.problems.append("the descriptor is not ASCII text")
        return desc
    # Lines end at \n only, as oslo.utils splits them (str.splitlines also breaks at
    # \v, \f and others, which would reveal an extent line oslo does not see).
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # Classify lines exactly as oslo.utils does (space-separated, not any
        # whitespace), so that no line it refuses passes here.
        first = line.split(" ", 1)[0]
        if line.lower().startswith("ddb"):
            key, sep, value = line.partition("=")
            if not sep:
                desc.problems.append(f"descriptor line {number}: malformed disk database entry")
                continue
            desc.ddb[key.strip().lower()] = _unquote(value)
        elif first.upper() in EXTENT_ACCESS:
            extent = _parse_extent(line, number, desc.problems)
            if extent is not None:
                desc.extents.append(extent)
        elif "=" in line and " " not in line.split("=", 1)[0]:
            key, _, value = line.partition("=")
            if not _HEADER_KEY.match(key):
                desc.problems.append(f"descriptor line {number}: malformed key {key[:40]!r}")
                continue
            desc.fields[key.lower()] = _unquote(value)
        else:
            desc.problems.append(f"descriptor line {number}: unknown or malformed line "
                                 f"{line[:60]!r}")
    _check_create_type_position(text, desc)
    return desc


def _check_create_type_position(text: str, desc: Descriptor) -> None:
    """oslo.utils takes the first 'createtype="' anywhere, even in a comment; so must we."""
    lowered = text.lower()
    start = lowered.find('createtype="')
    if start < 0 or desc.create_type is None:
        return
    start += len('createtype="')
    end = lowered.find('"', start)
    first = lowered[start:end] if end - start < 64 else None
    if first != desc.create_type.lower():
        desc.problems.append("the descriptor names more than one createType")


def _parse_extent(line: str, number: int, problems: list[str]) -> Extent | None:
    match = _EXTENT.match(line)
    if match is None:
        problems.append(f"descriptor line {number}: malformed extent line {line[:80]!r}")
        return None
    access, sectors, kind, filename, offset = match.groups()
    if filename is not None:
        reason = unsafe_extent_name(filename)
        if reason:
            problems.append(f"descriptor line {number}: extent file {filename[:80]!r} {reason}")
    return Extent(access.upper(), int(sectors), kind.upper(), filename,
                  int(offset) if offset is not None else None)


def unsafe_extent_name(name: str) -> str | None:
    """Why an extent file name could reach outside the descriptor's directory, or None."""
    if not name:
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator (it must name a file in the descriptor's directory)"
    if name in (".", "..") or ".." in name:
        return "contains '..'"
    if any(ord(c) < 32 for c in name):
        return "contains control characters"
    return None


@dataclass
class SparseCheck:
    """What the header, descriptor and footer of a hosted sparse file say, and what is wrong."""

    header: SparseHeader
    descriptor: Descriptor | None
    footer: SparseHeader | None
    problems: list[str]


def check_sparse(head: bytes, descriptor_bytes: bytes | None, tail: bytes | None,
                 file_size: int) -> SparseCheck:
    """Check a KDMV file from its first bytes, its descriptor region and its last 1536 bytes.

    ``descriptor_bytes`` is the region the header points at (None when it
    could not be read); ``tail`` is None when the file is shorter than the
    footer region.
    """
    problems: list[str] = []
    if file_size < SECTOR:
        raise VmdkError(f"truncated header: the file has {file_size} bytes, the header alone "
                        f"takes {SECTOR}")
    h = parse_header(head)
    if h.version not in (1, 2, 3):
        problems.append(f"unsupported header version {h.version} (1, 2 or 3)")
    if h.capacity == 0:
        problems.append("capacity 0: a sparse header without capacity is read as a descriptor "
                        "file by qemu, the trick of CVE-2022-47951")
    if h.descriptor_offset != 1 or h.descriptor_size == 0:
        problems.append(f"the embedded descriptor is not at sector 1 (offset "
                        f"{h.descriptor_offset}, size {h.descriptor_size}); OpenStack refuses "
                        "other locations")
    elif (h.descriptor_offset + min(h.descriptor_size, 2048)) * SECTOR > file_size:
        problems.append("truncated file: the descriptor region runs past the end of the file")
    if h.grain_size < 8 or h.grain_size > 4096 or h.grain_size & (h.grain_size - 1):
        problems.append(f"grain size {h.grain_size} sectors is not a power of two between 8 "
                        "and 4096")
    if not 0 < h.gtes_per_gt <= 512:
        problems.append(f"{h.gtes_per_gt} entries per grain table (at most 512)")
    if h.flags & FLAG_NEWLINE_TEST and h.newline_check != NEWLINE_CHECK:
        problems.append("the newline check bytes are altered: the file was damaged by a "
                        "text-mode transfer")
    if h.compress_algorithm not in (0, 1):
        problems.append(f"unknown compression algorithm {h.compress_algorithm}")
    if h.gd_offset != GD_AT_END and h.gd_offset * SECTOR >= file_size:
        problems.append("truncated file: the grain directory lies beyond the end of the file")
    if h.overhead * SECTOR > file_size:
        problems.append("truncated file: the metadata (overhead) runs past the end of the file")

    descriptor = None
    if descriptor_bytes is not None and h.descriptor_offset == 1 and h.descriptor_size:
        descriptor = parse_descriptor(descriptor_bytes)
        problems.extend(descriptor.problems)
        problems.extend(_check_embedded_descriptor(descriptor, h))

    footer = None
    if h.gd_offset == GD_AT_END:
        if tail is None or len(tail) < FOOTER_REGION:
            problems.append("truncated file: no room for the footer that the header announces")
        else:
            footer, footer_problems = _check_footer(h, tail)
            problems.extend(footer_problems)
    return SparseCheck(h, descriptor, footer, problems)


def _check_embedded_descriptor(desc: Descriptor, h: SparseHeader) -> list[str]:
    problems = []
    if not (desc.fields or desc.extents or desc.ddb or desc.problems):
        return ["no embedded descriptor: this is one extent of a split disk "
                "(twoGbMaxExtentSparse); OpenStack accepts only monolithicSparse and "
                "streamOptimized"]
    create_type = desc.create_type
    if create_type is None:
        problems.append("the descriptor has no createType")
    elif create_type not in ALLOWED_CREATE_TYPES:
        problems.append(f"createType {create_type!r} is not monolithicSparse or "
                        "streamOptimized, the only subformats OpenStack accepts")
    elif create_type == "streamOptimized" and not h.compressed:
        problems.append("the descriptor says streamOptimized but the header is not compressed")
    elif create_type == "monolithicSparse" and h.compressed:
        problems.append("the descriptor says monolithicSparse but the header is compressed")
    if not desc.extents:
        problems.append("the descriptor lists no extent")
    elif len(desc.extents) > 1:
        problems.append(f"the descriptor lists {len(desc.extents)} extents; a monolithic disk "
                        "has one")
    elif desc.extents[0].type != "SPARSE":
        problems.append(f"the extent type is {desc.extents[0].type}, not SPARSE")
    if desc.has_parent:
        problems.append("this is a delta disk (it names a parent), which cannot boot alone")
    return problems


def _check_footer(h: SparseHeader, tail: bytes) -> tuple[SparseHeader | None, list[str]]:
    """The last three sectors: footer marker, footer (a header copy), end-of-stream marker."""
    problems = []
    _, marker_size, marker_type = struct.unpack_from("<QII", tail, 0)
    if marker_size != 0 or marker_type != MARKER_FOOTER or any(tail[16:SECTOR]):
        problems.append("bad footer: the footer marker is missing or damaged (extra bytes "
                        "after the stream end are refused too)")
    footer = parse_header(tail[SECTOR:2 * SECTOR])
    if footer.magic != MAGIC:
        problems.append("bad footer: no KDMV signature in the footer")
    else:
        if footer.version != h.version:
            problems.append("bad footer: its version differs from the header's")
        if (footer.descriptor_offset, footer.descriptor_size) != \
                (h.descriptor_offset, h.descriptor_size):
            problems.append("bad footer: it names a different descriptor than the header")
        if footer.gd_offset == GD_AT_END:
            problems.append("bad footer: it announces yet another footer")
    eos_val, eos_size, eos_type = struct.unpack_from("<QII", tail, 2 * SECTOR)
    if eos_val or eos_size or eos_type != MARKER_EOS or any(tail[2 * SECTOR + 16:]):
        problems.append("bad footer: the end-of-stream marker is missing or damaged")
    return footer, problems


def check_descriptor_file(raw: bytes) -> Descriptor:
    """A descriptor-only VMDK (text): parsed, with its own problems recorded."""
    desc = parse_descriptor(raw)
    if desc.create_type is None:
        desc.problems.append("the descriptor has no createType")
    if not desc.extents:
        desc.problems.append("the descriptor lists no extent")
    if desc.has_parent:
        desc.problems.append("this is a delta disk (it names a parent), which cannot boot alone")
    return desc


def looks_like_descriptor(head: bytes) -> bool:
    """Printable ASCII that names a createType: a text descriptor, not raw data."""
    sample = head[:4096].split(b"\0", 1)[0]
    if not sample:
        return False
    try:
        text = sample.decode("ascii")
    except UnicodeDecodeError:
        return False
    if not all(c.isprintable() or c.isspace() for c in text):
        return False
    return "createtype" in text.lower()
