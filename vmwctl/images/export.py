"""``image export``: a VM's disk into Glance, with the properties the VM implies.

The plan is decided from what vCenter says of the VM (its power state,
snapshots, disks, controller, guest OS and first NIC: plain values, read by
:mod:`vmwctl.vsphere.export`) and refused before Glance is touched when the
export would not give the disk the operator means. The data, streamOptimized
as the host sends it, is streamed into Glance and verified as ``image
upload`` verifies (:func:`vmwctl.images.upload.send_image`): the image is deleted
on any failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from vmwctl.errors import UsageError
from vmwctl.images.glance import ImageService
from vmwctl.images.ostypes import OS_TYPES
from vmwctl.images.upload import Delivery, UploadPlan, send_image

# A disk controller's type -> vmware_adaptertype (Nova's names).
ADAPTER_FOR_CONTROLLER = {
    "VirtualLsiLogicController": "lsiLogic", "VirtualLsiLogicSASController": "lsiLogicsas",
    "VirtualBusLogicController": "busLogic", "ParaVirtualSCSIController": "paraVirtual",
    "VirtualIDEController": "ide"}
# A NIC's type -> hw_vif_model: Nova's convert_vif_model in reverse.
VIF_MODEL_FOR_NIC = {
    "VirtualE1000": "e1000", "VirtualE1000e": "e1000e", "VirtualPCNet32": "pcnet",
    "VirtualVmxnet3": "vmxnet3", "VirtualVmxnet": "vmxnet", "VirtualVmxnet2": "vmxnet",
    "VirtualSriovEthernetCard": "sriov"}
GIB = 1 << 30


class Disk(Protocol):
    index: int
    label: str
    file: str | None
    capacity: int
    controller: str | None


class Source(Protocol):
    name: str
    power_state: str
    guest_id: str | None
    hardware_version: str | None
    template: bool
    snapshots: int
    disks: list[Any]
    nic: str | None


@dataclass
class ExportPlan:
    """What will be created: checked in full before Glance is touched."""

    vm: str
    disk: int
    file: str | None  # the disk's backing, [ds] path
    capacity: int
    name: str
    disk_format: str
    container_format: str
    properties: dict[str, str]
    hardware_version: str | None
    power_state: str
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False


@dataclass
class ExportResult:
    image: dict[str, Any]
    vm: str
    disk: int
    file: str | None
    hardware_version: str | None
    bytes_sent: int
    seconds: float
    bytes_per_second: float
    sha512: str
    verified: str
    warnings: list[str]
    method: str = "direct"
    stores: list[str] = field(default_factory=list)


def plan_export(source: Source, *, name: str, disk: int | None = None,
                allow_running: bool = False) -> ExportPlan:
    """The image to create from the VM's disk, or a UsageError saying why not."""
    warnings = []
    if source.snapshots:
        raise UsageError(
            f"VM {source.name!r} has {_snapshots(source.snapshots)}: an export reads its "
            "base disk, not the state the snapshots keep on top of it; delete or consolidate "
            "the snapshots first (nothing exported)")
    if source.power_state != "poweredOff":
        if not allow_running:
            raise UsageError(
                f"VM {source.name!r} is {source.power_state}: its disk may change while it is "
                "read; power it off, or pass --allow-running to export it as it is "
                "(nothing exported)")
        warnings.append(f"VM {source.name!r} is {source.power_state}: the exported disk may "
                        "be inconsistent (what a crash would leave at best)")
    chosen = _disk(source, disk)
    properties = {"vmware_disktype": "streamOptimized",
                  "vmware_adaptertype": _adapter(source, chosen)}
    guest = source.guest_id
    if guest:
        properties["vmware_ostype"] = guest
        if guest not in OS_TYPES:
            warnings.append(f"guestId {guest!r} is not among the guest OS identifiers vmwctl "
                            "knows (see 'vmwctl image ostypes'); written as it is")
    if source.nic is not None:
        model = VIF_MODEL_FOR_NIC.get(source.nic)
        if model is None:
            warnings.append(f"the first NIC is a {source.nic}, which Nova has no hw_vif_model "
                            "for; hw_vif_model left unset (Nova uses e1000)")
        else:
            properties["hw_vif_model"] = model
    properties["hypervisor_type"] = "vmware"
    return ExportPlan(vm=source.name, disk=chosen.index, file=chosen.file,
                      capacity=chosen.capacity, name=name, disk_format="vmdk",
                      container_format="bare", properties=properties,
                      hardware_version=source.hardware_version,
                      power_state=source.power_state, warnings=warnings)


def _snapshots(count: int) -> str:
    return "1 snapshot" if count == 1 else f"{count} snapshots"


def _disk(source: Source, disk: int | None) -> Any:
    if not source.disks:
        raise UsageError(f"VM {source.name!r} has no disk; nothing exported")
    listing = "; ".join(f"{d.index}: {d.file or d.label} ({d.capacity / GIB:.3g} GiB)"
                        for d in source.disks)
    if disk is None:
        if len(source.disks) > 1:
            raise UsageError(f"VM {source.name!r} has {len(source.disks)} disks ({listing}): "
                             "choose one with --disk N (nothing exported)")
        return source.disks[0]
    if not 0 <= disk < len(source.disks):
        raise UsageError(f"--disk {disk}: VM {source.name!r} has disks {listing}")
    return source.disks[disk]


def _adapter(source: Source, disk: Any) -> str:
    adapter = ADAPTER_FOR_CONTROLLER.get(disk.controller or "")
    if adapter is None:
        raise UsageError(f"disk {disk.index} of VM {source.name!r} is on a "
                         f"{disk.controller or 'missing controller'}, which Nova's VMware "
                         "driver cannot attach an image's disk to (it knows IDE, LSI Logic, "
                         "LSI Logic SAS, BusLogic and paravirtual SCSI); nothing exported")
    return adapter


def send_export(service: ImageService, plan: ExportPlan, chunks: Iterator[bytes], *,
                delivery: Delivery | None = None,
                clock: Callable[[], float] = time.monotonic) -> ExportResult:
    """Create the image, stream the chunks into it, verify size and sha512; the image is
    deleted on any failure (Ctrl-C too), as ``image upload`` does."""
    upload_plan = UploadPlan(source=plan.vm, file=plan.file or plan.vm, name=plan.name,
                             disk_format=plan.disk_format,
                             container_format=plan.container_format,
                             properties=plan.properties, report=None,  # type: ignore[arg-type]
                             warnings=plan.warnings, delivery=delivery or Delivery())
    sent = send_image(service, upload_plan, chunks, f"disk {plan.disk} of {plan.vm}", None, clock)
    return ExportResult(image=sent.image, vm=plan.vm, disk=plan.disk, file=plan.file,
                        hardware_version=plan.hardware_version, bytes_sent=sent.bytes_sent,
                        seconds=sent.seconds, bytes_per_second=sent.bytes_per_second,
                        sha512=sent.sha512, verified=sent.verified, warnings=sent.warnings,
                        method=sent.method, stores=sent.stores)
