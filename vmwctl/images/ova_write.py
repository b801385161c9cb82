"""Packing a streamOptimized VMDK into an OVA, as vSphere exports one.

The archive is a ustar tar of, in this order: the OVF descriptor (first, as
ovftool and vCenter require), a SHA256 manifest (vSphere 7 and later refuse
SHA1 ones), and the disk. The OVF is the smallest one vCenter's
``OvfManager.CreateImportSpec`` takes: one virtual system with a CPU, memory,
the disk's controller and the disk; no network, so that it imports anywhere.
The same inputs always give the same bytes (fixed owners and times).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

STREAM_OPTIMIZED = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
DEFAULT_HARDWARE_VERSION = "vmx-13"  # ESXi 6.5 and later run it
DEFAULT_OVA_OSTYPE = "otherGuest"  # what Nova gives a VM whose image names none
# vmware_adaptertype -> (rasd:ResourceType, rasd:ResourceSubType) of the disk's controller
CONTROLLERS: dict[str, tuple[int, str | None]] = {
    "ide": (5, None), "lsiLogic": (6, "lsilogic"), "busLogic": (6, "buslogic"),
    "lsiLogicsas": (6, "lsilogicsas"), "paraVirtual": (6, "VirtualSCSI")}
_CHUNK = 1 << 20
_MTIME = 1_577_836_800  # 2020-01-01: a fixed time keeps the bytes reproducible


@dataclass
class PackedOva:
    """What went into an OVA."""

    path: str
    ovf: str  # member names, in archive order
    manifest: str
    disk: str
    size: int
    sha256: dict[str, str]  # member -> hex digest, as the manifest lists them


def ovf_descriptor(name: str, disk_file: str, disk_size: int, capacity: int, *,
                   adapter_type: str, ostype: str, hardware_version: str) -> bytes:
    """The OVF 1.0 envelope for one VM of one streamOptimized disk."""
    kind, subtype = CONTROLLERS[adapter_type]
    sub = f"\n        <rasd:ResourceSubType>{subtype}</rasd:ResourceSubType>" if subtype else ""
    controller = "IDE" if kind == 5 else "SCSI"
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" \
xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" \
xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" \
xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" \
xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href={quoteattr(disk_file)} ovf:id="file1" ovf:size="{disk_size}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" \
ovf:fileRef="file1" ovf:format="{STREAM_OPTIMIZED}"/>
  </DiskSection>
  <VirtualSystem ovf:id={quoteattr(name)}>
    <Info>A virtual machine</Info>
    <Name>{_text(name)}</Name>
    <OperatingSystemSection ovf:id="1" vmw:osType={quoteattr(ostype)}>
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{_text(name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>{_text(hardware_version)}</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>512MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>512</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>{controller} controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>{sub}
        <rasd:ResourceType>{kind}</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""
    return text.encode("utf-8")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, _MTIME, 0o644
    info.uid = info.gid = 64  # as vSphere's exports have them
    info.uname = info.gname = "someone"
    return info


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pack_ova(disk: Path, capacity: int, out: Path, *, name: str, adapter_type: str,
             ostype: str, hardware_version: str = DEFAULT_HARDWARE_VERSION,
             progress: Callable[[int], None] | None = None) -> PackedOva:
    """Write the OVA of the streamOptimized ``disk`` (``capacity`` bytes) to ``out``.

    ``out`` is written in place: the caller stages it in a temporary directory.
    """
    stem = out.stem
    disk_name, ovf_name, mf_name = f"{stem}-disk1.vmdk", f"{stem}.ovf", f"{stem}.mf"
    disk_size = disk.stat().st_size
    ovf = ovf_descriptor(name, disk_name, disk_size, capacity, adapter_type=adapter_type,
                         ostype=ostype, hardware_version=hardware_version)
    sums = {ovf_name: hashlib.sha256(ovf).hexdigest(), disk_name: _sha256(disk)}
    manifest = "".join(f"SHA256({member})= {digest}\n" for member, digest in sums.items())
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_member(ovf_name, len(ovf)), io.BytesIO(ovf))
        data = manifest.encode("ascii")
        tar.addfile(_member(mf_name, len(data)), io.BytesIO(data))
        with disk.open("rb") as handle:
            tar.addfile(_member(disk_name, disk_size), _Counting(handle, progress))
    return PackedOva(str(out), ovf_name, mf_name, disk_name, out.stat().st_size, sums)


class _Counting:
    """A file whose reads are reported to ``progress``."""

    def __init__(self, handle: io.BufferedReader, progress: Callable[[int], None] | None):
        self.handle, self.progress = handle, progress

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.progress is not None and data:
            self.progress(len(data))
        return data
