"""Hand-built ISO 9660 images for tests, written from ECMA-119 (no ISO tool in the lab).

A whole, small image: the 16-sector system area, a primary volume descriptor,
an optional El Torito boot record, the terminator, the two path tables, a root
directory with one file, the boot catalog and the file's data. `file`
(libmagic) and oslo.utils' format inspector (Glance's) read it as ISO 9660.
"""

from __future__ import annotations

import datetime as dt
import struct

SECTOR = 2048
CREATED = dt.datetime(2024, 5, 17, 12, 30, 45, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def both16(value: int) -> bytes:
    return struct.pack("<H", value) + struct.pack(">H", value)


def both32(value: int) -> bytes:
    return struct.pack("<I", value) + struct.pack(">I", value)


def padded(text: str, length: int) -> bytes:
    return text.encode("ascii").ljust(length, b" ")


def long_date(when: dt.datetime | None) -> bytes:
    """17 bytes: 'YYYYMMDDHHMMSScc' and the offset from GMT in 15-minute steps."""
    if when is None:
        return b"0" * 16 + b"\0"
    offset = int(when.utcoffset().total_seconds() // 900) if when.utcoffset() else 0
    return when.strftime("%Y%m%d%H%M%S").encode() + b"00" + struct.pack("b", offset)


def record_date(when: dt.datetime) -> bytes:
    offset = int(when.utcoffset().total_seconds() // 900) if when.utcoffset() else 0
    return struct.pack("7B", when.year - 1900, when.month, when.day, when.hour, when.minute,
                       when.second, offset & 0xFF)


def directory_record(name: bytes, extent: int, size: int, directory: bool,
                     when: dt.datetime) -> bytes:
    body = (both32(extent) + both32(size) + record_date(when) + bytes([2 if directory else 0])
            + b"\0\0" + both16(1) + bytes([len(name)]) + name)
    record = bytes([33 + len(name) + (len(name) + 1) % 2, 0]) + body
    return record.ljust(33 + len(name) + (len(name) + 1) % 2, b"\0")


def descriptor(kind: int, body: bytes) -> bytes:
    return (bytes([kind]) + b"CD001\x01" + body).ljust(SECTOR, b"\0")


def primary(volume_id: str, blocks: int, root: bytes, *, system_id: str, application_id: str,
            path_table_l: int, path_table_m: int, created: dt.datetime | None,
            block_size: int = SECTOR) -> bytes:
    pvd = bytearray(descriptor(1, b""))
    pvd[8:40] = padded(system_id, 32)
    pvd[40:72] = padded(volume_id, 32)
    pvd[80:88] = both32(blocks)
    pvd[120:124] = both16(1)
    pvd[124:128] = both16(1)
    pvd[128:132] = both16(block_size)
    pvd[132:140] = both32(10)
    pvd[140:144] = struct.pack("<I", path_table_l)
    pvd[148:152] = struct.pack(">I", path_table_m)
    pvd[156:190] = root
    pvd[190:813] = b" " * (813 - 190)
    pvd[574:702] = padded(application_id, 128)
    pvd[813:830] = long_date(created)
    pvd[830:847] = long_date(created)
    pvd[847:864] = long_date(None)
    pvd[864:881] = long_date(None)
    pvd[881] = 1
    return bytes(pvd)


def boot_catalog(image_sector: int) -> bytes:
    validation = bytearray(32)
    validation[0] = 1
    validation[4:28] = b"vmwctl tests".ljust(24, b"\0")
    validation[30:32] = b"\x55\xaa"
    total = sum(struct.unpack("<16H", bytes(validation)))
    validation[28:30] = struct.pack("<H", -total & 0xFFFF)
    initial = bytearray(32)
    initial[0] = 0x88  # bootable, no emulation
    initial[6:8] = struct.pack("<H", 4)  # four 512-byte sectors
    initial[8:12] = struct.pack("<I", image_sector)
    return (bytes(validation) + bytes(initial)).ljust(SECTOR, b"\0")


def iso_image(volume_id: str = "VMWCTL_TEST", data: bytes = b"hello from a CD-ROM\n", *,
              bootable: bool = True, system_id: str = "LINUX",
              application_id: str = "VMWCTL TESTS", created: dt.datetime | None = CREATED,
              file_name: str = "README.TXT;1") -> bytes:
    """An ISO 9660 image holding one file (``data``), bootable through El Torito or not."""
    sectors = lambda n: -(-n // SECTOR)  # noqa: E731
    layout = iter(range(19 if bootable else 18, 1 << 20))
    path_l, path_m, root_at = next(layout), next(layout), next(layout)
    catalog_at = next(layout) if bootable else None
    boot_at = next(layout) if bootable else None
    data_at = next(layout)
    blocks = data_at + max(1, sectors(len(data)))
    root_self = directory_record(b"\0", root_at, SECTOR, True, created or CREATED)
    entries = (root_self + directory_record(b"\1", root_at, SECTOR, True, created or CREATED)
               + directory_record(file_name.encode(), data_at, len(data), False,
                                  created or CREATED))
    image = bytearray(blocks * SECTOR)

    def put(sector: int, content: bytes) -> None:
        image[sector * SECTOR:sector * SECTOR + len(content)] = content

    put(16, primary(volume_id, blocks, root_self, system_id=system_id,
                    application_id=application_id, path_table_l=path_l, path_table_m=path_m,
                    created=created))
    if bootable:
        put(17, descriptor(0, b"EL TORITO SPECIFICATION".ljust(64, b"\0")
                           + struct.pack("<I", catalog_at)))
    put(18 if bootable else 17, descriptor(255, b""))
    put(path_l, struct.pack("<BBIH", 1, 0, root_at, 1) + b"\0\0")
    put(path_m, struct.pack(">BBIH", 1, 0, root_at, 1) + b"\0\0")
    put(root_at, entries)
    if bootable:
        put(catalog_at, boot_catalog(boot_at))
        put(boot_at, b"\xfa\xf4" + b"\0" * 508 + b"\x55\xaa")  # cli; hlt
    put(data_at, data)
    return bytes(image)
