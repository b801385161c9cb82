"""OVA packages for tests: an OVF, a streamOptimized VMDK and a manifest, good or broken.

The layout is ovftool's (descriptor, manifest, disks; ustar); each knob
breaks one thing: a SHA1 manifest, the descriptor not first, a member whose
name climbs out of the package, a manifest that does not match, no disk, a
symbolic link.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import vmdkfiles as vf

OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1"
STREAM_URL = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
# controller name -> (ResourceType, ResourceSubType)
CONTROLLERS = {"ide": ("5", None), "lsilogic": ("6", "lsilogic"), "buslogic": ("6", "buslogic"),
               "lsilogicsas": ("6", "lsilogicsas"), "pvscsi": ("6", "VirtualSCSI"),
               "sata": ("20", "vmware.sata.ahci"), "nvme": ("20", "vmware.nvme.controller")}


def disk_data(size: int = 1 << 20) -> bytes:
    """Disk content: random data in some grains, zeros between."""
    data = bytearray(size)
    for offset in range(0, size, 256 << 10):
        data[offset:offset + (64 << 10)] = os.urandom(min(64 << 10, size - offset))
    return bytes(data)


def stream_vmdk(size: int = 1 << 20, adapter: str = "lsilogic") -> bytes:
    """A streamOptimized VMDK in VMware's export layout (grain directory at the end)."""
    capacity = size // vf.SECTOR
    return vf.stream_optimized(disk_data(size), desc=vf.descriptor("streamOptimized", capacity,
                                                                    adapter=adapter))


def qemu_stream_vmdk(directory: Path, size: int = 4 << 20, adapter: str = "lsilogic") -> bytes:
    """A streamOptimized VMDK written by the real qemu-img."""
    raw, out = directory / "ova-source.raw", directory / "ova-disk.vmdk"
    raw.write_bytes(disk_data(size))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    f"subformat=streamOptimized,adapter_type={adapter}", str(raw), str(out)],
                   check=True)
    data = out.read_bytes()
    raw.unlink()
    out.unlink()
    return data


def ovf(*, href: str = "disk.vmdk", capacity: int = 1 << 20, controller: str = "lsilogic",
        os_type: str | None = "ubuntu64Guest", hardware: str = "vmx-13",
        file_size: int | None = None, disk_format: str = STREAM_URL, extra_disks: int = 0,
        prefix: str = "ovf", head: str = "") -> bytes:
    """A descriptor in the shape vCenter exports: one VM, its disk on ``controller``."""
    p = f"{prefix}:" if prefix else ""
    declare = f'xmlns="{OVF_NS}"' + (f' xmlns:{prefix}="{OVF_NS}"' if prefix else "")
    kind, subtype = CONTROLLERS[controller]
    sub = f"<rasd:ResourceSubType>{subtype}</rasd:ResourceSubType>" if subtype else ""
    size = f' {p}size="{file_size}"' if file_size is not None else ""
    files = f'<File {p}href="{href}" {p}id="file1"{size}/>' + "".join(
        f'<File {p}href="extra{n}.vmdk" {p}id="file{n + 2}"/>' for n in range(extra_disks))
    disks = (f'<Disk {p}capacity="{capacity}" {p}capacityAllocationUnits="byte" '
             f'{p}diskId="vmdisk1" {p}fileRef="file1" {p}format="{disk_format}"/>') + "".join(
        f'<Disk {p}capacity="{capacity}" {p}diskId="vmdisk{n + 2}" {p}fileRef="file{n + 2}" '
        f'{p}format="{STREAM_URL}"/>' for n in range(extra_disks))
    os_attr = f' vmw:osType="{os_type}"' if os_type else ""
    text = f"""{head}<?xml version="1.0" encoding="UTF-8"?>
<Envelope {declare} xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>{files}</References>
  <DiskSection><Info>Virtual disk information</Info>{disks}</DiskSection>
  <VirtualSystem {p}id="test-vm">
    <Info>A virtual machine</Info>
    <Name>test-vm</Name>
    <OperatingSystemSection {p}id="94"{os_attr}><Info>The operating system</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>test-vm</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>{hardware}</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>Controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceType>{kind}</rasd:ResourceType>{sub}
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>8</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""  # noqa: E501 (the namespaces, as vCenter writes them)
    return text.encode()


def manifest(members: list[tuple[str, bytes]], algorithm: str = "sha256") -> bytes:
    return "".join(f"{algorithm.upper()}({name})= {hashlib.new(algorithm, data).hexdigest()}\n"
                   for name, data in members).encode()


@dataclass
class Ova:
    """What to put in the package; the defaults make a good one."""

    disk: bytes | None = None  # a streamOptimized VMDK of 1 MiB when None
    descriptor: bytes | None = None  # ovf() when None
    name: str = "test-vm"
    algorithm: str | None = "sha256"  # None: no manifest
    ovf_first: bool = True
    traversal: bool = False  # a member named ../escape.txt
    mismatch: bool = False  # the manifest's digest of the disk is wrong
    missing_disk: bool = False
    symlink: bool = False  # a member that is a symbolic link to /etc/passwd
    extra: list[tuple[str, bytes]] = field(default_factory=list)  # more members, at the end

    def members(self) -> list[tuple[str, bytes]]:
        disk = self.disk if self.disk is not None else stream_vmdk()
        descriptor = self.descriptor if self.descriptor is not None else ovf(
            href="disk.vmdk", file_size=len(disk))
        first = [(f"{self.name}.ovf", descriptor)]
        disks = [] if self.missing_disk else [("disk.vmdk", disk)]
        listed = [*first, ("disk.vmdk", disk), *self.extra]
        out = []
        if self.algorithm:
            text = manifest(listed, self.algorithm)
            if self.mismatch:
                line = next(x for x in text.split(b"\n") if b"(disk.vmdk)" in x)
                digit = line[-1:]
                text = text.replace(line, line[:-1] + (b"0" if digit != b"0" else b"1"))
            out = [(f"{self.name}.mf", text)]
        ordered = first + out + disks if self.ovf_first else disks + out + first
        if self.traversal:
            ordered.append(("../escape.txt", b"outside"))
        return ordered + self.extra

    def write(self, path: Path) -> Path:
        return write_members(path, self.members(), symlink=self.symlink)


def write_members(path: Path, members: list[tuple[str, bytes]], *, symlink: bool = False,
                  format: int = tarfile.USTAR_FORMAT) -> Path:
    """A tar of ``members`` in that order (plus a symbolic link to /etc/passwd)."""
    with tarfile.open(path, "w", format=format) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1735689600
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo("link.vmdk")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def build(path: Path, **knobs) -> Path:
    """An OVA at ``path``: Ova(**knobs).write(path)."""
    return Ova(**knobs).write(path)
