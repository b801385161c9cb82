"""Building VIB parts by hand for tests: ar archives, tgz and vmtar payloads."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile


def ar(*members: tuple[bytes, bytes]) -> bytes:
    """A common-format ar archive of (name, data) members, names padded to 16 bytes."""
    out = b"!<arch>\n"
    for name, data in members:
        out += (name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8)
                + str(len(data)).encode().ljust(10) + b"`\n" + data)
        out += b"\n" if len(data) % 2 else b""
    return out


def tgz(*entries: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    """A gzipped GNU tar of (name, data) files, or of TarInfo entries as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return gzip.compress(buffer.getvalue(), mtime=0)


def vmtar(*entries: tuple[str, bytes]) -> bytes:
    """VMware's vmtar: every header first (magic 'visor', data offset at 496), then the data."""
    headers, data = [], b""
    start = 512 * (len(entries) + 1)
    for name, content in entries:
        header = bytearray(512)
        raw = name.encode("utf-8", "surrogateescape")[:100]
        header[0:len(raw)] = raw
        header[100:108] = b"0000644\0"
        header[124:136] = f"{len(content):011o}\0".encode()
        header[156:157] = b"0"
        header[257:265] = b"visor  \0"
        header[496:500] = struct.pack("<I", start + len(data))
        headers.append(bytes(header))
        data += content + bytes(-len(content) % 512)
    return b"".join(headers) + bytes(512) + data
