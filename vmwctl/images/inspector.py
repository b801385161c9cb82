"""``image inspect``: what a disk image file is, and whether Nova and Glance will take it.

Reads a bounded number of bytes whatever the image size: the first 64 KiB,
the embedded descriptor (at most 1 MiB, as qemu and oslo.utils) and the last
1536 bytes. The same code judges a local file or the head and tail of an
image read back from Glance.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vmwctl.errors import UsageError
from vmwctl.images import vmdk
from vmwctl.images.properties import DESCRIPTOR_ADAPTERS

HEAD_BYTES = 64 * 1024
ISO_OFFSETS = (0x8001, 0x8801, 0x9001)
GLANCE_FORMAT_MATCH = ("Glance 30 and later refuse raw data uploaded as disk_format=vmdk "
                       "unless [image_format] require_image_format_match is off")

Reader = Callable[[int, int], bytes]


@dataclass
class ExtentInfo:
    access: str
    sectors: int
    type: str
    filename: str | None
    present: bool | None = None  # next to the descriptor (None: not looked for)
    size: int | None = None


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
    safe: bool = False
    glance_accepts: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def acceptable(self) -> bool:
        """Safe, and a VMDK that current Glance accepts as disk_format=vmdk."""
        return self.safe and self.glance_accepts


def inspect_file(path: Path) -> ImageReport:
    """Inspect a local file; UsageError (exit 2) when it cannot be read at all."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not os.path.isfile(path):
                raise UsageError(f"{path} is not a regular file")

            def read(offset: int, length: int) -> bytes:
                return os.pread(handle.fileno(), length, offset)

            report = inspect_source(str(path), st.st_size, read, directory=path.parent)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not an image file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
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
    if size == 0:
        report.format = "empty"
        report.problems.append("the file is empty")
    elif head[:4] == vmdk.MAGIC:
        _inspect_sparse(report, head, size, read)
    elif head[:4] == vmdk.COWD_MAGIC:
        report.format, report.create_type = "vmdk", "vmfsSparse"
        report.problems.append("a COWD (vmfsSparse) redo log: a snapshot delta, not a bootable "
                               "disk; OpenStack accepts only monolithicSparse and "
                               "streamOptimized")
    elif vmdk.looks_like_descriptor(head):
        _inspect_descriptor_file(report, head, directory)
    elif not _other_format(report, head, size, read):
        _inspect_raw(report, directory)
    return report


def _inspect_sparse(report: ImageReport, head: bytes, size: int, read: Reader) -> None:
    report.format = "vmdk"
    if size < vmdk.SECTOR:
        report.problems.append(f"truncated header: the file has {size} bytes, the header alone "
                               f"takes {vmdk.SECTOR}")
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
    if report.safe and report.create_type == "monolithicSparse":
        report.notes.append("monolithicSparse: Nova copies it to the datastore and converts it "
                            "there (CopyVirtualDisk) on first use; streamOptimized is smaller "
                            "and imported directly")
    if report.safe and h.version < 3 and report.create_type == "streamOptimized":
        report.notes.append("header version below 3: ESXi refuses such streamOptimized files")


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
    _adapter(report, desc.adapter_type)
    report.vmware_disktype = _flat_disktype(desc)
    report.virtual_size = sum(e.sectors for e in desc.extents) * vmdk.SECTOR or None
    for extent in desc.extents:
        info = ExtentInfo(extent.access, extent.sectors, extent.type, extent.filename)
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
    if len(flat) == 1 and flat[0].filename:
        report.notes.append(f"for Nova's preallocated path upload the extent {flat[0].filename} "
                            f"with vmware_disktype={report.vmware_disktype}; {GLANCE_FORMAT_MATCH}")
    report.notes.append("or convert it to streamOptimized: vmwctl image convert "
                        f"{Path(report.path).name} OUT.vmdk")
    for extent in report.extents:
        if extent.present is False:
            report.notes.append(f"extent {extent.filename} is missing")
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
    else:
        report.notes.append("raw data (or a flat extent without its descriptor); upload it only "
                            "as a flat disk (--disktype preallocated) or convert it")
    report.problems.append(f"raw data, not a VMDK: {GLANCE_FORMAT_MATCH}; streamOptimized is "
                           "the portable form (vmwctl image convert, or upload --convert)")


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
        detected, virtual = "iso", size
    elif size >= 512:
        footer = read(size - 512, 512)
        if footer[:8] == b"conectix":
            detected, virtual = "vhd", struct.unpack_from(">Q", footer, 48)[0]
    if detected is None:
        return False
    report.format = detected
    report.virtual_size = virtual
    if detected == "iso":
        report.safe = True
        report.notes.append("an ISO image: upload it with disk_format=iso (Nova attaches it as "
                            "a CD-ROM)")
        report.problems.append("an ISO image, not a VMDK")
    else:
        report.problems.append(f"a {detected} image, not a VMDK: convert it first (vmwctl image "
                               f"convert {Path(report.path).name} OUT.vmdk, or upload --convert)")
    return True
