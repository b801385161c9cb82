"""Unix ``ar`` archives, the container of a VIB: written reproducibly, read strictly.

The standard library has no ``ar`` module, and the format is 60-byte member
headers in front of each member; about forty lines here beat a dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"!<arch>\n"
HEADER = 60
END = b"`\n"
MAX_MEMBERS = 64
_NAME = re.compile(r"^[A-Za-z0-9._+-]{1,15}$")


class ArchiveError(ValueError):
    """The file is not an ``ar`` archive that vmwctl accepts; the message says why."""


def write_ar(members: Iterable[tuple[str, bytes]]) -> bytes:
    """An archive of the members, with mtime, owner, group and mode 0 (as vibauthor writes)."""
    out = bytearray(MAGIC)
    for name, data in members:
        if not _NAME.match(name):
            raise ValueError(f"ar member name {name!r} is not 1-15 plain characters")
        out += (f"{name:<16}{0:<12}{0:<6}{0:<6}{0:<8}{len(data):<10}".encode("ascii") + END)
        out += data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


@dataclass(frozen=True)
class Member:
    name: str
    offset: int  # of the data in the file
    size: int


def read_members(handle: BinaryIO, total: int) -> list[Member]:
    """The members of the archive in ``handle`` (``total`` bytes), checked, not extracted."""
    handle.seek(0)
    if handle.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("not an ar archive (a VIB starts with '!<arch>')")
    members: list[Member] = []
    position = len(MAGIC)
    while position < total:
        handle.seek(position)
        header = handle.read(HEADER)
        if len(header) == 1 and header == b"\n":
            break  # a final padding byte
        if len(header) < HEADER:
            raise ArchiveError(f"member header at byte {position} is cut short")
        if header[58:60] != END:
            raise ArchiveError(f"member header at byte {position} does not end with '`\\n'")
        try:
            raw_name = header[0:16].decode("ascii").rstrip(" ")
            size_text = header[48:58].decode("ascii").strip()
        except UnicodeDecodeError:
            raise ArchiveError(f"member header at byte {position} is not ASCII") from None
        name = raw_name[:-1] if raw_name.endswith("/") and raw_name not in ("/", "//") else \
            raw_name
        if raw_name in ("/", "//"):
            raise ArchiveError("the archive has a GNU symbol or long-name table; VIB member "
                               "names are short and need none")
        if not _NAME.match(name) or name in (".", ".."):
            raise ArchiveError(f"member name {raw_name!r} is not a plain file name (no '/', "
                               "no '..', 1-15 characters)")
        if not size_text.isdigit():
            raise ArchiveError(f"member {name!r} has a bad size field {size_text!r}")
        size = int(size_text)
        start = position + HEADER
        if start + size > total:
            raise ArchiveError(f"member {name!r} claims {size} bytes, beyond the end of the "
                               f"file ({total} bytes)")
        if any(m.name == name for m in members):
            raise ArchiveError(f"member {name!r} appears twice")
        members.append(Member(name, start, size))
        if len(members) > MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS} members")
        position = start + size + (size % 2)
    return members
