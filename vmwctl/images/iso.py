"""ISO 9660 images: the volume descriptor set at sector 16 (ECMA-119), read from bytes.

Nova's VMware driver boots an image with ``disk_format=iso`` from a CD-ROM
(``_use_iso_image``). What makes a file an ISO 9660 image is its volume
descriptor set, never its name: 16 sectors of 2048 bytes left to the system
(boot code, a hybrid MBR), then from sector 16 on one descriptor a sector,
each with ``CD001`` at byte 1, ending with a terminator (type 255). Glance's
format inspector (oslo.utils) looks for ``CD001`` at byte 32769, the first
descriptor; the primary volume descriptor (type 1) gives the volume's label
and size. Pure functions over the first bytes of a file; nothing here raises
on hostile data.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

SECTOR = 2048
FIRST_DESCRIPTOR = 16  # sectors 0-15 are the system area
SIGNATURE = b"CD001"
SIGNATURE_OFFSET = FIRST_DESCRIPTOR * SECTOR + 1  # 32769, where Glance looks
BOOT_RECORD, PRIMARY, SUPPLEMENTARY, TERMINATOR = 0, 1, 2, 255
EL_TORITO = b"EL TORITO SPECIFICATION"
JOLIET_ESCAPES = (b"%/@", b"%/C", b"%/E")
BLOCK_SIZES = (512, 1024, 2048)  # 2^(n+9), at most the 2048-byte sector (ECMA-119 6.1.2)


@dataclass
class IsoVolume:
    """The primary volume descriptor; JSON keys documented in docs/images.md."""

    volume_id: str  # the label
    system_id: str
    volume_set_id: str
    publisher_id: str
    application_id: str
    created: dt.datetime | None
    block_size: int
    blocks: int  # the volume space size, in logical blocks
    volume_size: int  # blocks * block_size: what Glance records as virtual_size
    bootable: bool  # an El Torito boot record: the CD-ROM boots
    joliet: bool  # a Joliet descriptor: long, mixed-case names for Windows


@dataclass
class IsoCheck:
    """The volume, or the one reason the descriptor set is not a readable one."""

    volume: IsoVolume | None
    problem: str | None


def read_volume(head: bytes) -> IsoCheck:
    """Walk the descriptor set in ``head`` (the file's first bytes) up to its terminator."""
    primary: bytes | None = None
    bootable = joliet = False
    offset = FIRST_DESCRIPTOR * SECTOR
    while offset + SECTOR <= len(head):
        sector = head[offset:offset + SECTOR]
        number = offset // SECTOR
        offset += SECTOR
        if sector[1:6] != SIGNATURE:
            if number == FIRST_DESCRIPTOR:
                return IsoCheck(None, f"no volume descriptor at sector {FIRST_DESCRIPTOR} (CD001 "
                                      f"at byte {SIGNATURE_OFFSET}), where every ISO 9660 "
                                      "image has its first")
            return IsoCheck(None, f"sector {number} of the volume descriptor set holds no "
                                  "descriptor, and no terminator came before it")
        kind = sector[0]
        if kind == TERMINATOR:
            break
        if kind == BOOT_RECORD and sector[7:7 + len(EL_TORITO)] == EL_TORITO:
            bootable = True
        elif kind == PRIMARY and primary is None:
            primary = sector
        elif kind == SUPPLEMENTARY and sector[88:91] in JOLIET_ESCAPES:
            joliet = True
    if primary is None:
        if offset < FIRST_DESCRIPTOR * SECTOR + SECTOR:
            return IsoCheck(None, f"the file ends before its volume descriptor at sector "
                                  f"{FIRST_DESCRIPTOR}")
        return IsoCheck(None, "its volume descriptors hold no primary volume descriptor")
    return _primary(primary, bootable, joliet)


def _primary(sector: bytes, bootable: bool, joliet: bool) -> IsoCheck:
    if sector[6] != 1:
        return IsoCheck(None, f"primary volume descriptor version {sector[6]}, not 1")
    block_size, block_size_be = struct.unpack_from("<H", sector, 128)[0], \
        struct.unpack_from(">H", sector, 130)[0]
    blocks, blocks_be = struct.unpack_from("<I", sector, 80)[0], \
        struct.unpack_from(">I", sector, 84)[0]
    if block_size != block_size_be or blocks != blocks_be:
        return IsoCheck(None, "the primary volume descriptor's two copies (little- and "
                              "big-endian) of the block size or volume size disagree")
    if block_size not in BLOCK_SIZES:
        return IsoCheck(None, f"logical block size {block_size}: ISO 9660 allows 512, 1024 or "
                              "2048")
    size = blocks * block_size
    if size < (FIRST_DESCRIPTOR + 1) * SECTOR:
        return IsoCheck(None, f"the primary volume descriptor says the volume holds {size} "
                              "bytes, too few for its own descriptor")
    return IsoCheck(IsoVolume(
        volume_id=_text(sector[40:72]), system_id=_text(sector[8:40]),
        volume_set_id=_text(sector[190:318]), publisher_id=_text(sector[318:446]),
        application_id=_text(sector[574:702]), created=_timestamp(sector[813:830]),
        block_size=block_size, blocks=blocks, volume_size=size, bootable=bootable,
        joliet=joliet), None)


def _text(field: bytes) -> str:
    """An identifier: ASCII padded with spaces (or NULs, as some writers pad)."""
    return field.decode("ascii", "replace").rstrip(" \0")


def _timestamp(field: bytes) -> dt.datetime | None:
    """'YYYYMMDDHHMMSScc' and an offset from GMT in 15-minute steps; None when unset
    (all zeros) or not a date."""
    digits = field[:16]
    if not digits.isdigit() or digits.strip(b"0") == b"":
        return None
    quarters = struct.unpack_from("b", field, 16)[0]
    if not -48 <= quarters <= 52:
        return None
    try:
        return dt.datetime(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]),
                           int(digits[8:10]), int(digits[10:12]), int(digits[12:14]),
                           tzinfo=dt.timezone(dt.timedelta(minutes=15 * quarters)))
    except ValueError:
        return None
