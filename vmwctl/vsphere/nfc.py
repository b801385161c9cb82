"""Importing a streamOptimized disk through an HttpNfc lease, as Nova does.

``ResourcePool.ImportVApp`` creates a "shadow VM" (``_build_shadow_vm_config_spec``
in nova/virt/vmwareapi/images.py: otherGuest, 1 vCPU, 128 MB, an LSI Logic
controller and a thin 1 KB disk in ``[ds]``); the stream is PUT to the lease's
disk URL, which makes ESXi write the disk; the lease is completed and the VM
unregistered, leaving its files on the datastore.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pyVmomi import vim

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.datastore import DatastorePath, https_connection, put_stream
from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.session import VCenter

LEASE_PROGRESS_PERIOD = 60.0  # seconds, Nova's NFC_LEASE_UPDATE_PERIOD
LEASE_READY_TIMEOUT = 300.0


@dataclass
class ImportedDisk:
    disk: DatastorePath  # [ds] <vm name>/<vm name>.vmdk
    folder: DatastorePath  # [ds] <vm name>


def shadow_vm_spec(name: str, datastore: str) -> Any:
    """Nova's shadow VM config spec, byte for byte what _build_shadow_vm_config_spec sends."""
    controller = vim.vm.device.VirtualLsiLogicController(key=-100, busNumber=0,
                                                          sharedBus="noSharing")
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        fileName=f"[{datastore}]", diskMode="persistent", thinProvisioned=True)
    disk = vim.vm.device.VirtualDisk(key=-101, unitNumber=0, controllerKey=-100,
                                     capacityInKB=1, backing=backing)
    return vim.vm.ConfigSpec(
        name=name, guestId="otherGuest", numCPUs=1, memoryMB=128,
        files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"),
        deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="add", device=controller),
            vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create",
                                            device=disk)])


def import_stream_optimized(vc: VCenter, *, pool: Any, folder: Any, datastore: str, name: str,
                            chunks: Iterable[bytes], size: int,
                            progress: Callable[[int], None] | None = None,
                            clock: Callable[[], float] = time.monotonic) -> ImportedDisk:
    """Import ``size`` bytes of a streamOptimized VMDK as the disk of shadow VM ``name``.

    On failure the lease is aborted and the shadow VM unregistered before the
    error propagates; its folder ``[ds] <name>`` is left for the caller to remove.
    """
    spec = vim.vm.VmImportSpec(configSpec=shadow_vm_spec(name, datastore))
    try:
        lease = pool.ImportVApp(spec=spec, folder=folder)
    except VSphereFault as exc:
        raise exc.during(f"importing {name}") from None
    vm = None
    completed = False
    try:
        info = wait_ready(vc, lease, f"importing {name}", clock)
        vm = info.entity
        url = next((d.url for d in info.deviceUrl or [] if d.disk), None)
        if url is None:
            raise OperationFailed(f"importing {name} failed: the lease offers no disk URL")
        parts = urlsplit(url)
        host = vc.settings.host if parts.hostname in (None, "*") else parts.hostname
        port = parts.port or (vc.settings.port if host == vc.settings.host else 443)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        put_stream(vc, https_connection(vc, host, port), path,
                   _keep_alive(chunks, lease, size, clock), size,
                   what=f"importing the disk of {name}", headers={"overwrite": "t"},
                   progress=progress)
        lease.HttpNfcLeaseComplete()
        completed = True
        disk = _disk_of(vc, vm, name)
        vm.UnregisterVM()
        vm = None
        return ImportedDisk(disk, DatastorePath(datastore, name))
    except BaseException:
        _abandon(lease if not completed else None, vm)
        raise


def wait_ready(vc: VCenter, lease: Any, what: str, clock: Callable[[], float]) -> Any:
    """The lease's info once it is ready; its error, or a timeout, as the failure of ``what``
    ("importing X")."""
    deadline = clock() + LEASE_READY_TIMEOUT
    while True:
        state = read_paths(vc, lease, ("state", "error"))
        if state.get("state") == "ready":
            return read_paths(vc, lease, ("info",))["info"]
        if state.get("state") == "error":
            error = state.get("error")
            if error is None:
                raise OperationFailed(f"{what} failed: lease error")
            raise vc.stub.translate(error, what=what)
        if clock() > deadline:
            raise OperationFailed(f"{what} failed: the lease was not ready within "
                                  f"{LEASE_READY_TIMEOUT:g} s")
        time.sleep(0.2)


def _keep_alive(chunks: Iterable[bytes], lease: Any, size: int,
                clock: Callable[[], float]) -> Iterator[bytes]:
    """Pass the chunks on, reporting progress to the lease every minute so it stays alive."""
    sent, last = 0, clock()
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        if clock() - last >= LEASE_PROGRESS_PERIOD:
            lease.HttpNfcLeaseProgress(percent=min(99, sent * 100 // max(size, 1)))
            last = clock()


def _disk_of(vc: VCenter, vm: Any, name: str) -> DatastorePath:
    devices = read_paths(vc, vm, ("config.hardware.device",)).get("config.hardware.device")
    for device in devices or []:
        if isinstance(device, vim.vm.device.VirtualDisk):
            return DatastorePath.parse(device.backing.fileName)
    raise OperationFailed(f"importing {name} failed: the imported VM has no disk")


def _abandon(lease: Any, vm: Any) -> None:
    """Best effort: abort the lease and unregister the shadow VM (the caller removes its folder)."""
    for step in (lambda: lease.HttpNfcLeaseAbort() if lease is not None else None,
                 lambda: vm.UnregisterVM() if vm is not None else None):
        with contextlib.suppress(Exception):  # cleanup goes on whatever failed
            step()
