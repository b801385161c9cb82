"""The vSphere specs of a spawn, built as Nova's vm_util builds them.

Differences from Nova, on purpose: the VM carries vmwctl's own extraConfig
marker instead of ``nvp.vm-uuid`` and no ``managedBy`` of OpenStack, and its
NIC gets a generated MAC address (there is no Neutron port).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.model import VMWCTL_VM_KEY

# convert_vif_model
NIC_CLASSES = {"e1000": "VirtualE1000", "e1000e": "VirtualE1000e", "pcnet": "VirtualPCNet32",
               "sriov": "VirtualSriovEthernetCard", "vmxnet": "VirtualVmxnet",
               "vmxnet3": "VirtualVmxnet3"}
# the SCSI controller class of each adapter type
SCSI_CONTROLLERS = {"lsiLogic": "VirtualLsiLogicController",
                    "lsiLogicsas": "VirtualLsiLogicSASController",
                    "busLogic": "VirtualBusLogicController",
                    "paraVirtual": "ParaVirtualSCSIController"}
SCSI_UNITS = 16  # unit 7 is the controller's own
IDE_UNITS = 2
KB_PER_GB = 1024 * 1024
NAME_PREFIX = "vmwctl-"  # every VM vmwctl spawns is named so


def spawned_name(name: str) -> str:
    """The VM name ``vm spawn --name NAME`` gives: NAME with the vmwctl- prefix."""
    return name if name.startswith(NAME_PREFIX) else NAME_PREFIX + name


@dataclass
class Marker:
    """vmwctl's extraConfig marker: what it spawned, from which image, when, by whom."""

    image: str
    created: str  # ISO 8601 UTC
    by: str

    def dump(self) -> str:
        return json.dumps({"image": self.image, "created": self.created, "by": self.by},
                          sort_keys=True)

    @classmethod
    def load(cls, value: str | None) -> Marker | None:
        try:
            data = json.loads(value or "")
            return cls(str(data["image"]), str(data["created"]), str(data.get("by", "")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None


@dataclass
class NetworkChoice:
    kind: str  # Network | DistributedVirtualPortgroup | OpaqueNetwork
    name: str
    ref: Any
    switch_uuid: str | None = None  # DVS
    portgroup_key: str | None = None  # DVS
    opaque_id: str | None = None
    opaque_type: str | None = None


def nic_spec(vif_model: str, network: NetworkChoice) -> Any:
    """_create_vif_spec: key -47, connected at power on, backing by network kind."""
    device = getattr(vim.vm.device, NIC_CLASSES[vif_model])()
    device.key = -47
    device.addressType = "generated"
    device.wakeOnLanEnabled = True
    device.connectable = vim.vm.device.VirtualDevice.ConnectInfo(
        startConnected=True, allowGuestControl=True, connected=True)
    card = vim.vm.device.VirtualEthernetCard
    if network.kind == "DistributedVirtualPortgroup":
        device.backing = card.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(switchUuid=network.switch_uuid,
                                        portgroupKey=network.portgroup_key))
    elif network.kind == "OpaqueNetwork":
        device.backing = card.OpaqueNetworkBackingInfo(opaqueNetworkId=network.opaque_id,
                                                       opaqueNetworkType=network.opaque_type)
    else:
        device.backing = card.NetworkBackingInfo(deviceName=network.name, network=network.ref)
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=device)


def create_spec(*, name: str, datastore: str, os_type: str, cpus: int, memory_mb: int,
                marker: Marker, annotation: str, nics: Sequence[Any]) -> Any:
    """get_vm_create_spec, with vmwctl's marker in place of Nova's keys."""
    tools = vim.vm.ToolsConfigInfo(afterPowerOn=True, afterResume=True, beforeGuestStandby=True,
                                   beforeGuestShutdown=True, beforeGuestReboot=True)
    extra = [vim.option.OptionValue(key=VMWCTL_VM_KEY, value=marker.dump()),
             vim.option.OptionValue(key="disk.EnableUUID", value="true")]
    spec = vim.vm.ConfigSpec(name=name, guestId=os_type, numCPUs=cpus, memoryMB=memory_mb,
                             annotation=annotation, tools=tools, extraConfig=extra,
                             files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"),
                             deviceChange=list(nics))
    if os_type in ("vmkernel5Guest", "vmkernel6Guest", "vmkernel65Guest", "windowsHyperVGuest"):
        spec.nestedHVEnabled = True
    return spec


def vnc_spec(port: int, keymap: str) -> Any:
    """get_vnc_config_spec."""
    return vim.vm.ConfigSpec(extraConfig=[
        vim.option.OptionValue(key="RemoteDisplay.vnc.enabled", value="true"),
        vim.option.OptionValue(key="RemoteDisplay.vnc.port", value=str(port)),
        vim.option.OptionValue(key="RemoteDisplay.vnc.keyMap", value=keymap)])


@dataclass
class Slot:
    """Where a new disk or CD-ROM goes: a controller (maybe to create) and a unit."""

    controller_key: int
    unit: int
    new_controller: Any | None = None  # a VirtualDeviceSpec that adds it


def allocate_slot(devices: Sequence[Any], adapter_type: str) -> Slot:
    """allocate_controller_key_and_unit_number: a free unit on a fitting controller, or a
    new controller (key -101) on the first free bus."""
    used: dict[int, set[int]] = {}
    for device in devices:
        if getattr(device, "controllerKey", None) is not None:
            used.setdefault(device.controllerKey, set()).add(device.unitNumber)
    if adapter_type == "ide":
        ide = [d for d in devices if isinstance(d, vim.vm.device.VirtualIDEController)]
        for controller in ide:
            free = [u for u in range(IDE_UNITS) if u not in used.get(controller.key, set())]
            if free:
                return Slot(controller.key, free[0])
        bus = next(b for b in range(2) if b not in {c.busNumber for c in ide}) if len(ide) < 2 \
            else None
        if bus is None:
            raise OperationFailed("both IDE controllers are full")
        return Slot(-101, 0, vim.vm.device.VirtualDeviceSpec(
            operation="add", device=vim.vm.device.VirtualIDEController(key=-101, busNumber=bus)))
    scsi = [d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)]
    for controller in scsi:
        taken = used.get(controller.key, set()) | {7}
        free = [u for u in range(SCSI_UNITS) if u not in taken]
        if free:
            return Slot(controller.key, free[0])
    buses = {c.busNumber for c in scsi}
    bus = next((b for b in range(4) if b not in buses), None)
    if bus is None:
        raise OperationFailed("all four SCSI controllers are full")
    controller = getattr(vim.vm.device, SCSI_CONTROLLERS[adapter_type])(
        key=-101, busNumber=bus, sharedBus="noSharing")
    return Slot(-101, 0, vim.vm.device.VirtualDeviceSpec(operation="add", device=controller))


def disk_spec(slot: Slot, *, file_name: str, capacity_kb: int, disk_type: str,
              parent: str | None = None, create: bool = False) -> list[Any]:
    """_create_virtual_disk_spec: a linked clone (``parent``, created empty), or an existing
    disk file; preceded by its controller when that is new."""
    flat = vim.vm.device.VirtualDisk.FlatVer2BackingInfo
    backing = flat(fileName=file_name, diskMode="persistent")
    if disk_type == "thin":
        backing.thinProvisioned = True
    elif disk_type == "eagerZeroedThick":
        backing.eagerlyScrub = True
    if parent is not None:
        backing.parent = flat(fileName=parent, diskMode="persistent")
    disk = vim.vm.device.VirtualDisk(key=-100, controllerKey=slot.controller_key,
                                     unitNumber=slot.unit, capacityInKB=capacity_kb,
                                     backing=backing)
    change = vim.vm.device.VirtualDeviceSpec(operation="add", device=disk)
    if create:
        change.fileOperation = "create"
    return ([slot.new_controller] if slot.new_controller is not None else []) + [change]


def cdrom_spec(slot: Slot, iso: str) -> list[Any]:
    """_use_iso_image: the cached ISO on an IDE CD-ROM."""
    cdrom = vim.vm.device.VirtualCdrom(
        key=-102, controllerKey=slot.controller_key, unitNumber=slot.unit,
        backing=vim.vm.device.VirtualCdrom.IsoBackingInfo(fileName=iso),
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True,
                                                            allowGuestControl=True,
                                                            connected=True))
    change = vim.vm.device.VirtualDeviceSpec(operation="add", device=cdrom)
    return ([slot.new_controller] if slot.new_controller is not None else []) + [change]
