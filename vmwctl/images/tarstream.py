"""Tar archives (OVA packages) read as a stream, in bounded memory, never extracted.

Headers are parsed here rather than by :mod:`tarfile`, whose stream mode
reads a pax header or a GNU long name into memory whatever size it claims.
Read: POSIX ustar (with its name prefix), pax extended headers (path,
linkpath, size), GNU long names and base-256 sizes; old v7 headers too. What
cannot be read on (a damaged header, a size beyond reason, more members than
an OVA ever has) raises :class:`TarError`; what a member is (a link, a
device, a name that climbs out of its directory) is the caller's to judge,
with :func:`member_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

BLOCK = 512
CHUNK = 1 << 20
MAX_MEMBERS = 256  # an OVA holds a descriptor, a manifest, a certificate and its disks
MAX_HEADERS = 4 * MAX_MEMBERS  # pax and long-name headers included
MAX_META = 64 << 10  # a pax header or a GNU long name
MAX_NAME = 1024  # characters
MAX_MEMBER_SIZE = 64 << 40  # beyond any virtual disk (62 TB)

KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"1": "hard link", b"2": "symbolic link",
         b"3": "character device", b"4": "block device", b"5": "directory", b"6": "FIFO"}
_PAX_RECORD = re.compile(rb"(\d{1,6}) ")

Read = Callable[[int], bytes]


class TarError(ValueError):
    """An archive that cannot be read on; the message says where and why."""


class NotTar(TarError):
    """The data does not start with a tar header: no archive at all."""


@dataclass
class TarMember:
    name: str
    size: int  # bytes of data that follow the header
    kind: str  # "file", "directory", "symbolic link", "hard link", a device, "FIFO", "type X"
    offset: int  # where the data starts in the archive
    link: str | None = None
    utf8: bool = True  # the name was valid UTF-8 (else it is shown with escapes)


def member_problem(member: TarMember) -> str | None:
    """Why a member must not be in a package that is read as files: None when it is a plain
    file with a name inside the package's directory."""
    shown = repr(member.name)
    if member.kind != "file":
        target = f" to {member.link!r}" if member.link else ""
        return f"{shown} is a {member.kind}{target}, and a package holds regular files only"
    if not member.name:
        return "a member has no name"
    if not member.utf8:
        return f"the name {shown} is not UTF-8"
    if member.name.startswith("/"):
        return f"{shown} is an absolute path"
    if ".." in re.split(r"[/\\]", member.name):
        return f"{shown} climbs out of the package's directory ('..')"
    if any(ord(c) < 32 or ord(c) == 127 for c in member.name):
        return f"{shown} has control characters in its name"
    if len(member.name) > MAX_NAME:
        return f"a name of {len(member.name)} characters (at most {MAX_NAME})"
    return None


class _Source:
    """Exact reads from ``read``, counting the position."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self.position = 0

    def exactly(self, length: int) -> bytes:
        parts = []
        left = length
        while left:
            data = self._read(min(left, CHUNK))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        data = b"".join(parts)
        self.position += len(data)
        return data


class _Data:
    """A member's data as chunks; what the consumer leaves unread is skipped."""

    def __init__(self, source: _Source, member: TarMember) -> None:
        self._source = source
        self._member = member
        self._left = member.size

    def __iter__(self) -> Iterator[bytes]:
        while self._left:
            data = self._source.exactly(min(self._left, CHUNK))
            if not data:
                raise TarError(f"the archive ends inside {self._member.name!r}: "
                               f"{self._member.size - self._left} of its {self._member.size} "
                               "bytes are there")
            self._left -= len(data)
            yield data

    def finish(self) -> None:
        for _ in self:
            pass
        padding = -self._member.size % BLOCK
        if padding and len(self._source.exactly(padding)) != padding:
            raise TarError(f"the archive ends inside the padding after {self._member.name!r}")


def _number(field: bytes, what: str, where: int) -> int:
    """An octal number (NUL or space terminated) or a GNU base-256 one."""
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            raise TarError(f"a negative {what} in the header at byte {where}")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not re.fullmatch(rb"[0-7]+", text):
        raise TarError(f"a bad {what} field in the header at byte {where}")
    return int(text, 8)


def _checksum_ok(header: bytes) -> bool:
    field = header[148:156].split(b"\0", 1)[0].strip(b" ")
    if not re.fullmatch(rb"[0-7]{1,8}", field):
        return False
    stored = int(field, 8)
    blanked = header[:148] + b" " * 8 + header[156:]
    unsigned = sum(blanked)
    signed = sum(b - 256 if b > 127 else b for b in blanked)
    return stored in (unsigned, signed)


def _text(data: bytes) -> tuple[str, bool]:
    """A name as text, and whether it was UTF-8 (else shown with escapes)."""
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace"), False


def _pax(data: bytes, where: int) -> dict[str, bytes]:
    """The records of a pax extended header: 'LEN key=value\\n', LEN counting itself."""
    records: dict[str, bytes] = {}
    position = 0
    while position < len(data):
        if not data[position:].strip(b"\0"):
            break
        match = _PAX_RECORD.match(data, position)
        if match is None:
            raise TarError(f"a malformed pax header at byte {where}")
        length = int(match.group(1))
        record = data[position:position + length]
        if length <= len(match.group(0)) or len(record) != length or not record.endswith(b"\n"):
            raise TarError(f"a malformed pax header at byte {where}")
        key, sep, value = record[len(match.group(0)):-1].partition(b"=")
        if not sep:
            raise TarError(f"a malformed pax header at byte {where}")
        records[key.decode("utf-8", "replace")] = value
        position += length
    return records


def is_header(block: bytes) -> bool:
    """Whether 512 bytes are a tar header (its checksum holds)."""
    return len(block) == BLOCK and any(block) and _checksum_ok(block)


def first_name(block: bytes) -> str | None:
    """The name in a first tar header (ustar prefix included), or None if it is none."""
    if not is_header(block):
        return None
    name = block[0:100].split(b"\0", 1)[0]
    if block[257:263] == b"ustar\0":
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return _text(name)[0]


def read_members(read: Read, *, size: int | None = None,
                 max_members: int = MAX_MEMBERS) -> Iterator[tuple[TarMember, Iterator[bytes]]]:
    """Each member with its data as chunks, in archive order.

    The data must be consumed (or left: it is skipped) before the next
    member. ``size``, when known, lets a member that claims more bytes than
    the archive holds be refused at its header. Raises TarError.
    """
    source = _Source(read)
    pending: dict[str, bytes] = {}
    long_name: bytes | None = None
    long_link: bytes | None = None
    headers = members = 0
    while True:
        where = source.position
        header = source.exactly(BLOCK)
        if not header or header == bytes(BLOCK):
            return  # the end-of-archive marker, or an archive that just ends (tarfile's way)
        if len(header) < BLOCK:
            if not where:
                raise NotTar(f"not a tar archive ({len(header)} bytes, less than a header)")
            raise TarError(f"the archive ends inside a header at byte {where}")
        if not _checksum_ok(header):
            if not where:
                raise NotTar("not a tar archive (no valid header at its start)")
            raise TarError(f"a damaged header at byte {where} (its checksum does not match)")
        headers += 1
        if headers > MAX_HEADERS:
            raise TarError(f"more than {MAX_HEADERS} headers")
        flag = header[156:157]
        length = _number(header[124:136], "size", where)
        if flag in (b"x", b"g", b"L", b"K"):
            if length > MAX_META:
                raise TarError(f"an extended header of {length} bytes at byte {where} (at most "
                               f"{MAX_META})")
            padded = length + (-length % BLOCK)
            data = source.exactly(padded)
            if len(data) != padded:
                raise TarError(f"the archive ends inside an extended header at byte {where}")
            data = data[:length]
            if flag == b"x":
                pending = _pax(data, where)
            elif flag == b"L":
                long_name = data.split(b"\0", 1)[0]
            elif flag == b"K":
                long_link = data.split(b"\0", 1)[0]
            continue  # b"g": global pax records name no member; nothing vmwctl reads
        raw_name = header[0:100].split(b"\0", 1)[0]
        if header[257:263] == b"ustar\0":
            prefix = header[345:500].split(b"\0", 1)[0]
            if prefix:
                raw_name = prefix + b"/" + raw_name
        raw_name = pending.get("path", long_name if long_name is not None else raw_name)
        raw_link = pending.get("linkpath", long_link if long_link is not None else
                               header[157:257].split(b"\0", 1)[0])
        if "size" in pending:
            if not re.fullmatch(rb"\d{1,20}", pending["size"]):
                raise TarError(f"a bad size in the pax header before byte {where}")
            length = int(pending["size"])
        pending, long_name, long_link = {}, None, None
        name, utf8 = _text(raw_name)
        kind = KINDS.get(flag, f"type {flag.decode('latin-1')!r}")
        # as tarfile: data follows regular files and unknown types only
        if kind not in ("file",) and flag in KINDS:
            length = 0
        if length > MAX_MEMBER_SIZE:
            raise TarError(f"{name!r} claims {length} bytes, more than any disk holds")
        if size is not None and source.position + length > size:
            raise TarError(f"{name!r} claims {length} bytes, beyond the end of the archive "
                           f"({size - source.position} bytes left)")
        members += 1
        if members > max_members:
            raise TarError(f"more than {max_members} members: not a package")
        member = TarMember(name, length, kind, source.position,
                           _text(raw_link)[0] if raw_link else None, utf8)
        data = _Data(source, member)
        yield member, iter(data)
        data.finish()
