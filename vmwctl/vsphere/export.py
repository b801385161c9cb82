"""Reading a VM's disk through an ExportVm lease, as Nova's snapshot upload does.

``VirtualMachine.ExportVm`` returns an HttpNfc lease whose ``info.deviceUrl``
lists the VM's disks; a GET of a disk's URL (with the session cookie, TLS
verified as the session is) returns the disk as streamOptimized VMDK, made by
the host while it is read. The lease is kept alive with
``HttpNfcLeaseProgress`` every minute, completed once the caller is done with
the data, and aborted on any failure or interruption.
"""

from __future__ import annotations

import contextlib
import http.client
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pyVmomi import vim

from vmwctl.common.choices import did_you_mean
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.vsphere.datastore import CHUNK, https_connection
from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.inventory import collect, read_paths
from vmwctl.vsphere.nfc import LEASE_PROGRESS_PERIOD, wait_ready
from vmwctl.vsphere.session import VCenter, connect_error

VM_PATHS = ("name", "runtime.powerState", "config.guestId", "config.version",
            "config.hardware.device", "config.template", "snapshot")


@dataclass
class VmDisk:
    index: int  # among the VM's disks, in device order
    label: str
    file: str | None  # [ds] path of the disk's backing
    capacity: int  # bytes
    controller: str | None  # the controller's type: VirtualLsiLogicController, ...
    bus: int | None
    unit: int | None


@dataclass
class ExportSource:
    """What vCenter says of a VM to export."""

    name: str
    moid: str
    power_state: str
    guest_id: str | None
    hardware_version: str | None  # vmx-19
    template: bool
    snapshots: int
    disks: list[VmDisk]
    nic: str | None  # the first NIC's type: VirtualVmxnet3, ...
    ref: Any = field(default=None, repr=False, metadata={"internal": True})


def find_vm(vc: VCenter, name: str) -> ExportSource:
    """The VM called ``name``; none, or several, is a usage error naming the candidates."""
    records = collect(vc, {vim.VirtualMachine: ["name"]})
    found = [r for r in records if r.props.get("name") == name]
    if not found:
        names = sorted({str(r.props.get("name")) for r in records})
        raise UsageError(f"no VM named {name!r}{did_you_mean(name, names)}; nothing exported")
    if len(found) > 1:
        ids = ", ".join(sorted(r.ref._moId for r in found))
        raise UsageError(f"{len(found)} VMs are named {name!r} ({ids}): rename all but the one "
                         "to export; nothing exported")
    ref = found[0].ref
    props = read_paths(vc, ref, VM_PATHS)
    devices = list(props.get("config.hardware.device") or [])
    by_key = {d.key: d for d in devices}
    disks = []
    for device in devices:
        if not isinstance(device, vim.vm.device.VirtualDisk):
            continue
        controller = by_key.get(device.controllerKey)
        disks.append(VmDisk(
            index=len(disks), label=device.deviceInfo.label if device.deviceInfo else "",
            file=getattr(device.backing, "fileName", None),
            capacity=int(device.capacityInBytes or (device.capacityInKB or 0) * 1024),
            controller=controller._wsdlName if controller is not None else None,
            bus=getattr(controller, "busNumber", None), unit=device.unitNumber))
    nic = next((d._wsdlName for d in devices
                if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)
    return ExportSource(
        name=name, moid=ref._moId, power_state=str(props.get("runtime.powerState")),
        guest_id=props.get("config.guestId"), hardware_version=props.get("config.version"),
        template=bool(props.get("config.template")), snapshots=_count(props.get("snapshot")),
        disks=disks, nic=nic, ref=ref)


def _count(snapshot: Any) -> int:
    def walk(trees: Any) -> int:
        return sum(1 + walk(t.childSnapshotList) for t in trees or [])
    return walk(snapshot.rootSnapshotList) if snapshot is not None else 0


class DiskExport:
    """An ExportVm lease on a VM, one of whose disks is read as streamOptimized."""

    def __init__(self, vc: VCenter, source: ExportSource, disk: VmDisk, lease: Any,
                 url: str, clock: Callable[[], float]) -> None:
        self.vc = vc
        self.source = source
        self.disk = disk
        self.lease = lease
        self.url = url
        self.clock = clock
        self.received = 0
        self.length: int | None = None  # the GET's Content-Length, once known

    def chunks(self, *, progress: Callable[[int], None] | None = None,
               on_total: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The disk's streamOptimized bytes, the lease's progress reported every minute."""
        what = f"reading disk {self.disk.index} of {self.source.name}"
        parts = urlsplit(self.url)
        settings = self.vc.settings
        host = settings.host if parts.hostname in (None, "*") else parts.hostname
        port = parts.port or (settings.port if host == settings.host else 443)
        conn = https_connection(self.vc, host, port)
        last = self.clock()
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                         headers={"Cookie": self.vc.session_cookie})
            response = conn.getresponse()
            if response.status != 200:
                body = response.read(2048).decode("utf-8", "replace").strip()[:200]
                raise self._lease_failure() or OperationFailed(
                    f"{what} failed: HTTP {response.status} {body}".rstrip())
            self.length = response.length
            if self.length is not None and on_total is not None:
                on_total(self.length)
            expected = self.length or self.disk.capacity
            while chunk := response.read(CHUNK):
                self.received += len(chunk)
                if progress is not None:
                    progress(len(chunk))
                yield chunk
                if self.clock() - last >= LEASE_PROGRESS_PERIOD:
                    self.lease.HttpNfcLeaseProgress(
                        percent=min(99, self.received * 100 // max(expected, 1)))
                    last = self.clock()
            if self.length is not None and self.received != self.length:
                # http.client's read(amt) ends quietly on a connection closed early
                raise http.client.IncompleteRead(b"", self.length - self.received)
        except http.client.IncompleteRead:
            raise self._lease_failure() or OperationFailed(
                f"{what} broke off after {self.received} of {self.length} bytes") from None
        except OSError as exc:
            raise self._lease_failure() or connect_error(exc, settings, during=what) from None
        finally:
            conn.close()

    def _lease_failure(self) -> VSphereFault | OperationFailed | None:
        """Why the transfer stopped, when vCenter failed the lease (a timeout, a host gone)."""
        try:
            state = read_paths(self.vc, self.lease, ("state", "error"))
        except Exception:  # the session may be what broke: the caller's error stands
            return None
        if state.get("state") != "error":
            return None
        error = state.get("error")
        what = f"exporting {self.source.name}: vCenter ended the export lease"
        if error is None:
            return OperationFailed(what)
        return self.vc.stub.translate(error, what=what)


@contextlib.contextmanager
def export_disk(vc: VCenter, source: ExportSource, disk: VmDisk, *,
                clock: Callable[[], float] = time.monotonic) -> Iterator[DiskExport]:
    """ExportVm on the VM; yields the disk's export. The lease is completed when the block
    ends normally, aborted when it raises (Ctrl-C too)."""
    try:
        lease = source.ref.ExportVm()
    except VSphereFault as exc:
        raise exc.during(f"exporting {source.name}") from None
    try:
        info = wait_ready(vc, lease, f"exporting {source.name}", clock)
        export = DiskExport(vc, source, disk, lease, _disk_url(info, disk, source.name), clock)
        yield export
        lease.HttpNfcLeaseProgress(percent=100)
        lease.HttpNfcLeaseComplete()
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the error in hand is the one told
            lease.HttpNfcLeaseAbort()
        raise


def _disk_url(info: Any, disk: VmDisk, name: str) -> str:
    """The URL of the disk: its device key (/vm-N/VirtualLsiLogicController0:1), else the
    disk URLs in device order."""
    urls = [d for d in info.deviceUrl or [] if d.disk]
    if disk.controller is not None and disk.bus is not None and disk.unit is not None:
        suffix = f"/{disk.controller}{disk.bus}:{disk.unit}"
        for device in urls:
            if (device.key or "").endswith(suffix):
                return device.url
    if disk.index < len(urls):
        return urls[disk.index].url
    raise OperationFailed(f"exporting {name} failed: the lease offers no URL for disk "
                          f"{disk.index}")
