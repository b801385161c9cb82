"""Hand-built VMDK files for tests: valid ones that qemu-img reads, and unsafe variants.

qemu-img cannot write VMware's stream layout (grain directory at the end,
footer, end-of-stream marker), nor any unsafe file, so tests build them here
from the format's definition.
"""

from __future__ import annotations

import struct
import zlib

SECTOR = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF
GRAIN = 128  # sectors
GTES = 512


def descriptor(create_type: str = "streamOptimized", sectors: int = 2048,
               extent: str = '"disk.vmdk"', kind: str = "SPARSE", adapter: str = "lsilogic",
               extra: str = "") -> bytes:
    return (f"# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
            f'createType="{create_type}"\n\n# Extent description\n'
            f"RW {sectors} {kind} {extent}\n\n# The Disk Data Base\n#DDB\n\n"
            f'ddb.virtualHWVersion = "7"\nddb.adapterType = "{adapter}"\n{extra}').encode()


def header(*, version: int = 3, flags: int = 0x30001, capacity: int = 2048,
           grain: int = GRAIN, desc_offset: int = 1, desc_size: int = 2, gtes: int = GTES,
           rgd: int = 0, gd: int = GD_AT_END, overhead: int = 3, compress: int = 1,
           magic: bytes = b"KDMV", newline: bytes = b"\n \r\n") -> bytes:
    packed = struct.pack("<4sIIQQQQIQQQB4sH", magic, version, flags, capacity, grain,
                         desc_offset, desc_size, gtes, rgd, gd, overhead, 0, newline, compress)
    return packed.ljust(SECTOR, b"\0")


def marker(value: int, kind: int) -> bytes:
    return struct.pack("<QII", value, 0, kind).ljust(SECTOR, b"\0")


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % SECTOR)


def stream_optimized(data: bytes, *, capacity: int | None = None,
                     desc: bytes | None = None) -> bytes:
    """A streamOptimized file in VMware's layout (GD at the end, footer, EOS).

    ``data`` is the disk content (its length a multiple of 512); zero grains
    are left out, as every writer does.
    """
    capacity = capacity if capacity is not None else len(data) // SECTOR
    desc = desc if desc is not None else descriptor("streamOptimized", capacity)
    desc_sectors = max(1, -(-len(desc) // SECTOR))
    head = header(capacity=capacity, desc_size=desc_sectors, overhead=1 + desc_sectors)
    out = bytearray(head + _pad(desc))
    grain_bytes = GRAIN * SECTOR
    grains = -(-capacity // GRAIN)
    tables = -(-grains // GTES)
    directory = []
    for table in range(tables):
        entries = [0] * GTES
        for index in range(GTES):
            grain_no = table * GTES + index
            if grain_no >= grains:
                break
            chunk = data[grain_no * grain_bytes:(grain_no + 1) * grain_bytes]
            if not chunk.strip(b"\0"):
                continue
            compressed = zlib.compress(chunk)
            entries[index] = len(out) // SECTOR
            out += _pad(struct.pack("<QI", grain_no * GRAIN, len(compressed)) + compressed)
        if any(entries):
            out += marker(4, 1)
            directory.append(len(out) // SECTOR)
            out += struct.pack(f"<{GTES}I", *entries)
        else:
            directory.append(0)
    gd_sectors = max(1, -(-len(directory) * 4 // SECTOR))
    out += marker(gd_sectors, 2)
    gd_offset = len(out) // SECTOR
    out += _pad(struct.pack(f"<{len(directory)}I", *directory))
    out += marker(1, 3)
    out += header(capacity=capacity, desc_size=desc_sectors, overhead=1 + desc_sectors,
                  gd=gd_offset)
    out += marker(0, 0)
    return bytes(out)


def sparse_with_descriptor(desc: bytes, *, capacity: int = 2048, flags: int = 0x3,
                           compress: int = 0, version: int = 1, desc_offset: int = 1) -> bytes:
    """A hosted sparse file (no data) whose embedded descriptor is ``desc``."""
    desc_sectors = max(1, -(-len(desc) // SECTOR))
    grains = max(1, -(-capacity // GRAIN))
    tables = -(-grains // GTES)
    gd = 1 + desc_sectors
    gt_start = gd + 1
    overhead = gt_start + 4 * tables
    head = header(version=version, flags=flags, capacity=capacity,
                  desc_offset=desc_offset, desc_size=desc_sectors, rgd=0, gd=gd,
                  overhead=overhead, compress=compress)
    directory = _pad(struct.pack(f"<{tables}I", *[gt_start + 4 * t for t in range(tables)]))
    return head + _pad(desc) + directory + b"\0" * (4 * SECTOR * tables)


def oslo_verdict(path: str) -> str:
    """What oslo.utils' inspector (Glance's) says: "safe", "unsafe" or "other" (not vmdk)."""
    from oslo_utils.imageutils import format_inspector as oslo

    try:
        inspector = oslo.detect_file_format(path)
    except oslo.ImageFormatError:
        return "unsafe"
    if inspector is None or str(inspector) != "vmdk":
        return "other"
    try:
        inspector.safety_check()
    except (oslo.SafetyCheckFailed, oslo.ImageFormatError):
        return "unsafe"
    return "safe"
