"""``image inspect``: what a disk image file is, and whether Nova and Glance will take it.

Reads a bounded number of bytes whatever the image size: the first 64 KiB,
the embedded descriptor (at most 1 MiB, as qemu and oslo.utils) and the last
1536 bytes. The same code judges a local file or the head and tail of an
image read back from Glance.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from vmwctl.errors import UsageError
from vmwctl.images import iso, vmdk
from vmwctl.images.properties import DESCRIPTOR_ADAPTERS

HEAD_BYTES = 64 * 1024
ISO_OFFSETS = (0x8001, 0x8801, 0x9001)
GLANCE_FORMAT_MATCH = ("Glance 30 and later refuse raw data uploaded as disk_format=vmdk "
                       "unless [image_format] require_image_format_match is off")
GIVE_THE_IMAGE = "give the disk image file"
ISO_IS = "an ISO 9660 image: "  # how the note on what an ISO is begins
RE_EXPORT = "re-export the disk from its source: vmwctl never reads an unsafe file"
# Files that are no disk image: (magic, offset, format, what it is, the command that unpacks)
PACKED = ((b"\x1f\x8b", 0, "gzip", "it is gzip-compressed", "decompress it first: gunzip -k"),
          (b"\xfd7zXZ\x00", 0, "xz", "it is xz-compressed", "decompress it first: unxz -k"),
          (b"BZh", 0, "bzip2", "it is bzip2-compressed", "decompress it first: bunzip2 -k"),
          (b"\x28\xb5\x2f\xfd", 0, "zstd", "it is zstd-compressed",
           "decompress it first: unzstd"),
          (b"PK\x03\x04", 0, "zip", "it is a zip archive", "extract the disk from it first: unzip"),
          (b"ustar", 257, "tar", "it is a tar archive (an OVA is one)",
           "extract the disk from it first: tar -xf"))
# qcow2 incompatible features OpenStack knows (dirty, corrupt, data file, compression type)
QCOW2_KNOWN_FEATURES = 0x0F
QCOW2_DATA_FILE = 0x04
QED_BACKING_FILE = 0x01

Reader = Callable[[int, int], bytes]


@dataclass
class Refusal:
    """Why a command does not use a file as a disk, and the one thing to do about it."""

    reason: str
    remedy: str

    def line(self) -> str:
        return f"{self.reason}; {self.remedy}"


@dataclass
class ExtentInfo:
    access: str
    sectors: int
    type: str
    filename: str | None
    present: bool | None = None  # next to the descriptor (None: not looked for)
    size: int | None = None
    offset: int | None = field(default=None, metadata={"internal": True})  # in sectors


@dataclass
class ImageReport:
    """What an image file is; JSON keys documented in docs/images.md."""

    path: str
    format: str
    create_type: str | None = None
    vmware_disktype: str | None = None
    descriptor_adapter_type: str | None = None
    vmware_adaptertype: str | None = None
    virtual_size: int | None = None
    file_size: int = 0
    allocated_size: int | None = None
    hardware_version: str | None = None
    compressed: bool = False
    header_version: int | None = None
    extents: list[ExtentInfo] = field(default_factory=list)
    iso: iso.IsoVolume | None = None  # an ISO 9660 image's primary volume descriptor
    safe: bool = False
    glance_accepts: bool = False
    disk_format: str | None = None  # what Glance accepts the file as, as it is
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remedy: str | None = None  # the one thing to do when the file is not acceptable
    # no disk image at all (every command: exit 2)
    not_a_disk: Refusal | None = field(default=None, metadata={"internal": True})
    # a disk image no command reads: unsafe, empty, not a disk for Nova (ISO, LUKS)
    refusal: Refusal | None = field(default=None, metadata={"internal": True})

    @property
    def acceptable(self) -> bool:
        """Safe, and a file current Glance accepts as it is: a VMDK as disk_format=vmdk, an
        ISO 9660 image as disk_format=iso."""
        return self.safe and self.glance_accepts

    def refuse(self, reason: str, remedy: str) -> None:
        """Record the first reason no command reads the file (with its problem)."""
        if reason not in self.problems:
            self.problems.append(reason)
        if self.refusal is None:
            self.refusal = Refusal(reason, remedy)


@contextlib.contextmanager
def opened(path: Path, what: str = "an image file") -> Iterator[BinaryIO]:
    """A regular file opened for reading; any failure to open or read it, inside the block
    too, becomes one UsageError line (exit 2)."""
    try:
        with open(path, "rb") as handle:
            if not os.path.isfile(path):
                raise UsageError(f"{path} is not a regular file")
            yield handle
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not {what}") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def inspect_file(path: Path) -> ImageReport:
    """Inspect a local file; UsageError (exit 2) when it cannot be read or is no disk image."""
    with opened(path) as handle:
        st = os.fstat(handle.fileno())

        def read(offset: int, length: int) -> bytes:
            return os.pread(handle.fileno(), length, offset)

        report = inspect_source(str(path), st.st_size, read, directory=path.parent)
    if report.not_a_disk is not None:
        raise UsageError(f"{path} is not a disk image: {report.not_a_disk.line()}")
    report.allocated_size = st.st_blocks * 512
    return report


def inspect_source(name: str, size: int, read: Reader, *,
                   directory: Path | None = None) -> ImageReport:
    """Inspect any byte source of known size (a file, or ranged reads of a Glance image).

    ``directory`` is where a descriptor's extents or a flat extent's
    descriptor are looked for; None for remote sources.
    """
    head = read(0, min(size, HEAD_BYTES))
    report = ImageReport(path=name, format="raw", file_size=size)
    if head[:4] == vmdk.MAGIC:
        _inspect_sparse(report, head, size, read)
    elif head[:4] == vmdk.COWD_MAGIC:
        report.format, report.create_type = "vmdk", "vmfsSparse"
        report.refuse("a COWD (vmfsSparse) redo log: a snapshot delta, not a bootable disk; "
                      "OpenStack accepts only monolithicSparse and streamOptimized", RE_EXPORT)
    elif vmdk.looks_like_descriptor(head):
        _inspect_descriptor_file(report, head, directory)
    elif not _other_format(report, head, size, read) and not _not_a_disk(report, head):
        _inspect_raw(report, directory)
    misnamed = iso_name_mismatch(report)
    if misnamed:
        report.notes.append(misnamed)
    if report.remedy is None and not report.acceptable:
        report.remedy = report.refusal.remedy if report.refusal else \
            f"vmwctl image convert {Path(report.path).name} OUT.vmdk"
    if report.acceptable and report.disk_format is None:
        report.disk_format = "vmdk"
    return report


def _not_a_disk(report: ImageReport, head: bytes) -> bool:
    """Files that are no disk image: empty, compressed, an archive, text, not whole sectors."""
    name, size = Path(report.path).name, report.file_size
    found = None
    if size == 0:
        found = ("empty", "the file is empty", GIVE_THE_IMAGE)
    for magic, offset, kind, what, unpack in PACKED:
        if found is None and head[offset:offset + len(magic)] == magic:
            found = (kind, what, f"{unpack} {name}")
    if found is None and _is_text(head):
        found = ("text", f"it is text ({size} bytes)", GIVE_THE_IMAGE)
    if found is None and size % vmdk.SECTOR:
        found = ("data", f"its {size} bytes are not a whole number of {vmdk.SECTOR}-byte "
                         "sectors", GIVE_THE_IMAGE)
    if found is None:
        return False
    report.format = found[0]
    report.not_a_disk = Refusal(found[1], found[2])
    report.problems.append(f"not a disk image: {found[1]}")
    report.remedy = found[2]
    return True


def _is_text(head: bytes) -> bool:
    """UTF-8 text without NULs or control characters other than whitespace; a disk's first
    sectors never are (a boot sector, a partition table, a file system, or zeros)."""
    sample = head[:4096]
    if not sample or b"\0" in sample:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c.isspace() for c in text)


def _inspect_sparse(report: ImageReport, head: bytes, size: int, read: Reader) -> None:
    report.format = "vmdk"
    if size < vmdk.SECTOR:
        report.refuse(f"truncated header: the file has {size} bytes, the header alone takes "
                      f"{vmdk.SECTOR}", RE_EXPORT)
        return
    header = vmdk.parse_header(head)
    descriptor_bytes = None
    if header.descriptor_offset == 1 and header.descriptor_size:
        length = min(header.descriptor_size * vmdk.SECTOR, vmdk.DESCRIPTOR_MAX,
                     max(0, size - vmdk.SECTOR))
        descriptor_bytes = head[vmdk.SECTOR:vmdk.SECTOR + length]
        if len(descriptor_bytes) < length:
            descriptor_bytes = read(vmdk.SECTOR, length)
    tail = read(size - vmdk.FOOTER_REGION, vmdk.FOOTER_REGION) \
        if size >= vmdk.FOOTER_REGION else None
    check = vmdk.check_sparse(head, descriptor_bytes, tail, size)
    h = check.header
    report.header_version = h.version
    report.compressed = h.compressed
    report.virtual_size = h.capacity * vmdk.SECTOR
    report.problems.extend(check.problems)
    desc = check.descriptor
    if desc is not None:
        report.create_type = desc.create_type
        report.hardware_version = desc.hardware_version
        _adapter(report, desc.adapter_type)
        report.extents = [ExtentInfo(e.access, e.sectors, e.type, e.filename)
                          for e in desc.extents]
    report.vmware_disktype = {"monolithicSparse": "sparse",
                              "streamOptimized": "streamOptimized"}.get(report.create_type or "")
    report.safe = not report.problems
    report.glance_accepts = report.safe
    report.refusal = _vmdk_refusal(report.problems)
    if report.safe and report.create_type == "monolithicSparse":
        report.notes.append("monolithicSparse: Nova copies it to the datastore and converts it "
                            "there (CopyVirtualDisk) on first use; streamOptimized is smaller "
                            "and imported directly")
    if report.safe and h.version < 3 and report.create_type == "streamOptimized":
        report.notes.append("header version below 3: ESXi refuses such streamOptimized files")


def _vmdk_refusal(problems: list[str]) -> Refusal | None:
    """A VMDK with problems in its structure is never read; one naming files outside its
    directory says why qemu-img must not open it."""
    if not problems:
        return None
    escaping = [p for p in problems if "extent file" in p or "capacity 0" in p]
    if escaping:
        return Refusal(f"{escaping[0]} (qemu-img would read files outside its directory, "
                       "CVE-2022-47951)", RE_EXPORT)
    return Refusal(problems[0], RE_EXPORT)


def _adapter(report: ImageReport, descriptor_value: str | None) -> None:
    report.descriptor_adapter_type = descriptor_value
    if descriptor_value is None:
        return
    report.vmware_adaptertype = DESCRIPTOR_ADAPTERS.get(descriptor_value.lower())
    if report.vmware_adaptertype is None:
        report.notes.append(f"ddb.adapterType {descriptor_value!r} has no vmware_adaptertype "
                            "equivalent: pass --adapter-type (Nova's default is lsiLogic)")
    elif report.vmware_adaptertype == "lsiLogic":
        report.notes.append("descriptors say lsilogic for LSI Logic SAS and paravirtual disks "
                            "too: pass --adapter-type lsiLogicsas or paraVirtual if the guest "
                            "was installed on one of those")


def _flat_disktype(desc: vmdk.Descriptor) -> str | None:
    if desc.create_type in vmdk.FLAT_CREATE_TYPES:
        return "thin" if desc.thin else "preallocated"
    return None


def _inspect_descriptor_file(report: ImageReport, head: bytes, directory: Path | None) -> None:
    report.format = "vmdk"
    desc = vmdk.check_descriptor_file(head)
    report.create_type = desc.create_type
    report.hardware_version = desc.hardware_version
    report.problems.extend(desc.problems)
    report.refusal = _vmdk_refusal(desc.problems)
    _adapter(report, desc.adapter_type)
    report.vmware_disktype = _flat_disktype(desc)
    report.virtual_size = sum(e.sectors for e in desc.extents) * vmdk.SECTOR or None
    for extent in desc.extents:
        info = ExtentInfo(extent.access, extent.sectors, extent.type, extent.filename,
                          offset=extent.offset)
        if directory is not None and extent.filename \
                and vmdk.unsafe_extent_name(extent.filename) is None:
            target = directory / extent.filename
            info.present = target.is_file()
            info.size = target.stat().st_size if info.present else None
        report.extents.append(info)
    report.problems.append(
        f"a descriptor-only VMDK ({desc.create_type or 'no createType'}): its data lives in "
        "other files, and OpenStack accepts only monolithicSparse and streamOptimized")
    flat = [e for e in report.extents if e.type in ("FLAT", "VMFS")]
    if len(report.extents) == 1 and len(flat) == 1 and flat[0].filename \
            and flat[0].offset in (None, 0):
        report.notes.append(f"a flat pair: 'vmwctl image upload {Path(report.path).name}' sends "
                            f"its extent {flat[0].filename} with vmware_disktype="
                            f"{report.vmware_disktype}; {GLANCE_FORMAT_MATCH}")
    for extent in report.extents:
        if extent.present is False:
            report.notes.append(f"extent {extent.filename} is missing")
            if report.refusal is None:
                report.refusal = Refusal(f"its extent {extent.filename} is missing",
                                         f"put {extent.filename} beside it")
        elif extent.present and extent.type in ("FLAT", "VMFS") \
                and extent.size != extent.sectors * vmdk.SECTOR:
            report.notes.append(f"extent {extent.filename} has {extent.size} bytes, the "
                                f"descriptor says {extent.sectors * vmdk.SECTOR}")


def _inspect_raw(report: ImageReport, directory: Path | None) -> None:
    """Raw data: safe in itself, but not a VMDK to Glance; maybe the flat extent of a pair."""
    report.format = "raw"
    report.virtual_size = report.file_size
    report.safe = True
    name = Path(report.path).name
    descriptor = None
    if directory is not None and name.endswith("-flat.vmdk"):
        candidate = directory / (name[:-len("-flat.vmdk")] + ".vmdk")
        if candidate.is_file():
            with open(candidate, "rb") as handle:
                text = handle.read(HEAD_BYTES)
            if vmdk.looks_like_descriptor(text):
                parsed = vmdk.check_descriptor_file(text)
                if any(e.filename == name for e in parsed.extents):
                    descriptor = (candidate, parsed)
    if descriptor is not None:
        path, desc = descriptor
        report.create_type = desc.create_type
        report.vmware_disktype = _flat_disktype(desc)
        report.hardware_version = desc.hardware_version
        _adapter(report, desc.adapter_type)
        report.notes.append(f"the flat extent of {path.name} ({desc.create_type}): the file to "
                            f"upload for vmware_disktype={report.vmware_disktype}")
        report.remedy = f"vmwctl image convert {path.name} OUT.vmdk"
    else:
        report.notes.append("raw data, or a flat extent without its descriptor: Nova boots it "
                            "only as a flat disk (vmware_disktype preallocated)")
    report.problems.append(f"raw data, not a VMDK: {GLANCE_FORMAT_MATCH}")


def _other_format(report: ImageReport, head: bytes, size: int, read: Reader) -> bool:
    """Recognise the formats qemu-img reads, so that the user knows to convert."""
    detected = None
    virtual = None
    if head[:4] == b"QFI\xfb" and len(head) >= 32:
        detected, virtual = "qcow2", struct.unpack_from(">Q", head, 24)[0]
    elif head[:4] == b"QED\0" and len(head) >= 56:
        detected, virtual = "qed", struct.unpack_from("<Q", head, 48)[0]
    elif head[:8] == b"vhdxfile":
        detected = "vhdx"
    elif head[:8] == b"conectix" and len(head) >= 56:
        detected, virtual = "vhd", struct.unpack_from(">Q", head, 48)[0]
    elif len(head) >= 0x178 and struct.unpack_from("<I", head, 0x40)[0] == 0xBEDA107F:
        detected, virtual = "vdi", struct.unpack_from("<Q", head, 0x170)[0]
    elif head[:6] == b"LUKS\xba\xbe":
        detected = "luks"
    elif any(head[o:o + 5] == b"CD001" for o in ISO_OFFSETS):
        detected = "iso"
    elif size >= 512:
        footer = read(size - 512, 512)
        if footer[:8] == b"conectix":
            detected, virtual = "vhd", struct.unpack_from(">Q", footer, 48)[0]
    if detected is None:
        return False
    report.format = detected
    report.virtual_size = virtual
    report.safe = True
    name = Path(report.path).name
    if detected == "iso":
        _inspect_iso(report, head)
        return True
    report.problems.append(f"a {detected} image, not a VMDK")
    if detected == "luks":
        report.refuse("it is LUKS-encrypted: qemu-img cannot read it without its passphrase",
                      "decrypt it into a raw or qcow2 image first")
    unsafe = _qcow2_hazard(head) if detected == "qcow2" else \
        _qed_hazard(head) if detected == "qed" else None
    if unsafe:
        report.safe = False
        report.refuse(f"{unsafe}; OpenStack refuses such images",
                      f"if you trust that file, flatten the image first: qemu-img convert -O "
                      f"{detected} {name} flat.{detected}")
    if virtual == 0:
        report.refuse("its virtual size is 0: it holds no disk", "give the image that holds "
                                                                  "the disk")
    return True


def _inspect_iso(report: ImageReport, head: bytes) -> None:
    """An ISO 9660 image: uploaded as it is (disk_format=iso), never converted to a disk."""
    name = Path(report.path).name
    check = iso.read_volume(head)
    if check.volume is None:
        report.refuse(f"an ISO 9660 signature, but not a readable image: {check.problem}",
                      "write the image again (genisoimage or xorriso), or give the original")
        return
    volume = report.iso = check.volume
    report.virtual_size = volume.volume_size
    report.glance_accepts, report.disk_format = True, "iso"
    # convert refuses it; upload sends it as it is
    report.refusal = Refusal("an ISO image, not a disk: Nova attaches it as a CD-ROM",
                             f"upload it as it is: vmwctl image upload {name} --name NAME")
    report.notes.append(f"{ISO_IS}Nova attaches it as a CD-ROM on an IDE controller, "
                        "with a blank root disk when the flavor has one; upload it as it is "
                        f"(disk_format=iso): vmwctl image upload {name} --name NAME")
    if not volume.bootable:
        report.notes.append("no El Torito boot record: the VM cannot boot from this CD-ROM")
    if report.file_size < volume.volume_size:
        report.notes.append(f"the file holds {report.file_size} bytes, fewer than the "
                            f"{volume.volume_size} its volume descriptor says: it may be "
                            "truncated")


def iso_name_mismatch(report: ImageReport) -> str | None:
    """A file named .iso whose data is no ISO 9660 image: what it is instead; else None."""
    if not report.path.lower().endswith(".iso") or report.format == "iso":
        return None
    what = "raw data" if report.format == "raw" else \
        f"a {report.create_type or 'VMDK'} VMDK" if report.format == "vmdk" else \
        f"a {report.format} image"
    return (f"named .iso, but not an ISO 9660 image (no volume descriptor at sector "
            f"{iso.FIRST_DESCRIPTOR}, CD001 at byte {iso.SIGNATURE_OFFSET}): it holds {what}")


def _qcow2_hazard(head: bytes) -> str | None:
    """What makes qemu-img read more than this qcow2 file (OpenStack's checks); None if
    nothing."""
    if len(head) < 104:
        return "a truncated qcow2 header"
    version, backing_offset, backing_size = struct.unpack_from(">IQI", head, 4)
    if version not in (2, 3):
        return f"qcow2 version {version}, which OpenStack does not read"
    if backing_offset:
        return _names_backing_file(head, backing_offset, backing_size)
    if version == 3:
        features = struct.unpack_from(">Q", head, 72)[0]
        if features & QCOW2_DATA_FILE:
            return ("it keeps its data in another file (data_file), which qemu-img would "
                    "read")
        if features & ~QCOW2_KNOWN_FEATURES:
            return f"unknown qcow2 incompatible features ({features:#x})"
    return None


def _qed_hazard(head: bytes) -> str | None:
    """A qed naming a backing file (its features at 16, the name's offset and size at 56)."""
    if len(head) < 64:
        return "a truncated qed header"
    if struct.unpack_from("<Q", head, 16)[0] & QED_BACKING_FILE:
        return _names_backing_file(head, *struct.unpack_from("<II", head, 56))
    return None


def _names_backing_file(head: bytes, offset: int, size: int) -> str:
    end = offset + min(size, 1023)
    name = head[offset:end].decode("utf-8", "replace") if end <= len(head) else "?"
    return f"it names a backing file ({name}), which qemu-img would read too"
