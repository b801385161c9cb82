"""VMs for export tests: made through the vSphere API, their disks written with known data.

The simulator creates a VM's disk as an empty descriptor and ``-flat`` pair in
its datastore directory; ``vm_with_disks`` overwrites the pair with qemu-img
from a raw file, so that what an export reads is known.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from pyVmomi import vim

from vmwctl.vsphere.tasks import wait_for_task

DS = "LocalDS_0"
CONTROLLERS = {"lsiLogic": vim.vm.device.VirtualLsiLogicController,
               "lsiLogicsas": vim.vm.device.VirtualLsiLogicSASController,
               "busLogic": vim.vm.device.VirtualBusLogicController,
               "paraVirtual": vim.vm.device.ParaVirtualSCSIController}


def vm_with_disks(vc: Any, ds_dir: Path, raws: list[Path], *, controller: str = "lsiLogic",
                  nic: Any = vim.vm.device.VirtualVmxnet3, guest: str = "ubuntu64Guest",
                  name: str | None = None) -> tuple[Any, str]:
    """A powered-off VM named ``name`` whose disks hold the raw files' data (one disk each,
    on one controller of the kind given), with one NIC; returns the VM and its name."""
    name = name or f"golden-{uuid.uuid4().hex[:8]}"
    dc = vc.content.rootFolder.childEntity[0]
    ctrl = CONTROLLERS[controller](key=-100, busNumber=0, sharedBus="noSharing")
    changes = [vim.vm.device.VirtualDeviceSpec(operation="add", device=ctrl)]
    files = []
    for n, raw in enumerate(raws):
        file = f"{name}.vmdk" if n == 0 else f"{name}_{n}.vmdk"
        files.append(file)
        backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=f"[{DS}] {name}/{file}", diskMode="persistent", thinProvisioned=True)
        disk = vim.vm.device.VirtualDisk(key=-101 - n, unitNumber=n, controllerKey=-100,
                                         capacityInKB=raw.stat().st_size // 1024,
                                         backing=backing)
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create",
                                                       device=disk))
    card = nic(key=-200, backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
        deviceName="VM Network"))
    changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=card))
    spec = vim.vm.ConfigSpec(name=name, guestId=guest, numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"), deviceChange=changes)
    pool = dc.hostFolder.childEntity[0].resourcePool
    vm = wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool),
                       what=f"creating {name}")
    for raw, file in zip(raws, files, strict=True):
        adapter = "buslogic" if controller == "busLogic" else "lsilogic"
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                        f"subformat=monolithicFlat,adapter_type={adapter}", str(raw),
                        str(ds_dir / name / file)], check=True)
    return vm, name


def open_exports(sim: Any) -> list[dict]:
    """The simulator's export leases neither completed nor aborted (GET /lab/exports)."""
    context = ssl.create_default_context(cafile=sim.lab.ca_file)
    with urllib.request.urlopen(f"https://127.0.0.1:{sim.port}/lab/exports",
                                context=context, timeout=30) as response:
        return json.load(response)
