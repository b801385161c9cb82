"""``vm spawn``: Nova's spawn sequence (vmops.py), step by step, each one timed.

The order is Nova's: datastore, inventory folder, CreateVM with the NICs, VNC
port, the image in the cache (the cache's own seeding code), the root disk
(a linked clone of the sized cached copy, a full copy, or a CD-ROM and a
blank disk for ISOs), power on. A failed step is named with its vSphere
fault, and what was built is removed (unless asked to keep it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyVmomi import vim

from vmwctl.cache.seed import Seeder, SeedSource, is_cached
from vmwctl.common.choices import did_you_mean
from vmwctl.common.interrupts import deferred_signals
from vmwctl.errors import ConnectError, OperationFailed, UsageError, VmwctlError
from vmwctl.images.properties import DEFAULT_ADAPTER_TYPE, NovaView
from vmwctl.nova.network import DV_PORTGROUP, OPAQUE_NETWORK, find_network
from vmwctl.nova.rules import (
    GIB,
    allowed_datastore_types,
    best_datastore,
    cache_folder,
    compile_regex,
    datastore_rejection,
)
from vmwctl.nova.vnc import held_port, lowest_free_port, vnc_range
from vmwctl.profile.schema import Profile
from vmwctl.vm import spec as specs
from vmwctl.vm.manage import destroy
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.faults import DuplicateName, InvalidPowerState, one_line
from vmwctl.vsphere.inventory import collect, read_paths
from vmwctl.vsphere.model import VNC_PORT_KEY, Cluster, Datastore, Inventory, Network
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.tasks import run_task

FOLDER_NAME = "vmwctl"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_vnc_lock = threading.Lock()  # Nova's 'vmware.get_and_set_vnc_port' lock

T = TypeVar("T")


@dataclass
class SpawnRequest:
    image: dict[str, Any]  # the Glance record
    view: NovaView  # what Nova makes of its properties
    source: SeedSource  # how the cache holds it
    name: str | None = None
    cpus: int = 1
    memory_mb: int = 512
    root_gb: int = 0
    network: str | None = None  # None: vmware.integration_bridge
    no_network: bool = False  # no NIC at all, whatever the profile says
    linked_clone: bool | None = None  # None: the image property, else use_linked_clone
    datastore: str | None = None
    vnc: bool = True
    power_on: bool = True
    wait_seconds: int = 0
    keep_on_failure: bool = False


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    requests: int = 0
    detail: str = ""
    outcome: str = "done"  # done | skipped | failed


@dataclass
class SpawnReport:
    """JSON keys documented in docs/vm.md."""

    name: str
    image_id: str
    image_name: str | None
    disk_type: str
    adapter_type: str
    os_type: str
    vif_model: str
    linked_clone: bool
    moid: str | None = None
    host: str | None = None
    datastore: str | None = None
    folder: str | None = None  # [ds] <vm>
    disk: str | None = None  # the root disk file (the child disk of a linked clone)
    parent_disk: str | None = None  # the cached disk a linked clone depends on
    iso: str | None = None
    network: str | None = None
    vnc: str | None = None  # host:port
    power_state: str | None = None
    guest: str | None = None  # --wait: heartbeat | ip <address> | neither
    inventory: Step | None = None  # the read before the steps (what spawn knows of vCenter)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class SpawnFailed(OperationFailed):
    """A step failed; the message names it, its fault and what was cleaned up."""


class SpawnUnreachable(ConnectError):
    """A step failed because vCenter could not be reached (exit 3); as SpawnFailed."""


def vm_name(request: SpawnRequest) -> str:
    if request.name:
        name = specs.spawned_name(request.name)
    else:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", request.image.get("name") or "image").strip("-.")
        name = f"{specs.NAME_PREFIX}{base[:40] or 'image'}-{uuid.uuid4().hex[:6]}"
    if not _NAME.match(name):
        raise UsageError(f"--name {request.name!r}: use letters, digits, '.', '_' and '-' (at "
                         "most 56 after the vmwctl- prefix)")
    return name


class Spawner:
    """Runs one spawn; ``on_step(step)`` hears of each step as it ends."""

    def __init__(self, vc: VCenter, inventory: Inventory, profile: Profile, cluster: Cluster,
                 *, download: Callable[[str], Any],
                 on_step: Callable[[Step], None] | None = None,
                 progress: Callable[[str, int], Any] | None = None) -> None:
        self.vc = vc
        self.inventory = inventory
        self.profile = profile
        self.cluster = cluster
        self.download = download
        self.on_step = on_step or (lambda step: None)
        self.progress = progress  # (description, total) -> a context manager with .advance
        self.vm: Any = None
        self.powered_on = False

    # ------------------------------------------------------------ steps

    def _step(self, report: SpawnReport, name: str, work: Callable[[Step], T]) -> T:
        """Run one step, timed and counted; its result is the step's result."""
        step = Step(name)
        report.steps.append(step)
        started, before = time.monotonic(), self.vc.request_count
        try:
            result = work(step)
        except UsageError:
            raise
        except Exception as exc:
            step.outcome = "failed"
            step.seconds = round(time.monotonic() - started, 3)
            step.requests = self.vc.request_count - before
            self.on_step(step)
            raise _StepError(name, one_line(exc), exc) from exc
        step.seconds = round(time.monotonic() - started, 3)
        step.requests = self.vc.request_count - before
        self.on_step(step)
        return result

    def spawn(self, request: SpawnRequest) -> SpawnReport:
        view = request.view
        linked = request.linked_clone
        if linked is None:
            linked = view.linked_clone if view.linked_clone is not None else \
                self.profile.vmware.use_linked_clone
        iso = request.source.method == "iso"
        report = SpawnReport(
            name=vm_name(request), image_id=request.source.image_id,
            image_name=request.source.name, disk_type=view.disk_type,
            adapter_type=view.adapter_type or DEFAULT_ADAPTER_TYPE, os_type=view.os_type,
            vif_model=view.vif_model, linked_clone=linked and not iso)
        self._check(request, report)
        try:
            self._run(request, report)
        except _StepError as failure:
            cleaned = self._clean_up(report, request.keep_on_failure)
            message = f"step '{failure.step}' failed: {failure.reason}; {cleaned}"
            if isinstance(failure.cause, ConnectError):
                raise SpawnUnreachable(message) from None
            raise SpawnFailed(message) from None
        except BaseException:  # Ctrl-C: nothing half-built stays behind either
            self._clean_up(report, request.keep_on_failure)
            raise
        return report

    def _check(self, request: SpawnRequest, report: SpawnReport) -> None:
        """prepare_for_spawn and _get_vm_config_info's refusals, before anything is made."""
        if request.memory_mb % 4:
            raise UsageError(f"--memory-mb {request.memory_mb}: Nova refuses memory that is not "
                             "a multiple of 4 MB")
        size = int(request.image.get("size") or 0)
        if request.root_gb and size > request.root_gb * GIB:
            raise UsageError(f"the image holds {size:,} bytes, more than --root-gb "
                             f"{request.root_gb} GiB (Nova: 'Image disk size greater than "
                             "requested disk size')")
        if any(vm.name == report.name for vm in self.inventory.vms.values()):
            raise UsageError(f"a VM named {report.name!r} exists; pass another --name or delete "
                             f"it ('vmwctl vm delete {report.name}')")

    def _run(self, request: SpawnRequest, report: SpawnReport) -> None:
        wanted = None if request.no_network else \
            request.network or self.profile.vmware.integration_bridge
        self._nic_network = self._find_network(wanted) if wanted else None
        ds = self._step(report, "datastore", lambda s: self._pick_datastore(request, report, s))
        dc = self.inventory.datacenter_of(ds)
        folder = self._step(report, "inventory folder", lambda s: self._folder(dc, s))
        self._step(report, "create VM", lambda s: self._create(request, report, ds, folder, s))
        if request.vnc and self.profile.vnc.enabled:
            self._step(report, "VNC port", lambda s: self._vnc(report, s))
        else:
            report.notes.append("VNC not configured ([vnc] enabled is false, or --no-vnc)")
        self._step(report, "image cache", lambda s: self._cache(request, ds, s))
        if request.source.method == "iso":
            self._step(report, "CD-ROM", lambda s: self._attach_iso(request, report, ds, s))
            if request.root_gb:
                self._step(report, "blank root disk", lambda s: self._blank_disk(
                    request, report, dc, s))
        elif report.linked_clone:
            self._step(report, "sized copy", lambda s: self._sized_copy(request, report, ds,
                                                                        dc, s))
            self._step(report, "attach linked clone", lambda s: self._attach_linked(
                request, report, s))
        else:
            self._step(report, "full copy", lambda s: self._full_copy(request, report, ds,
                                                                      dc, s))
            self._step(report, "attach disk", lambda s: self._attach_full(request, report, s))
        if request.power_on:
            self._step(report, "power on", lambda s: self._power_on(report, s))
            if request.wait_seconds:
                self._step(report, "wait for the guest", lambda s: self._wait(
                    request, report, s))
        self._describe_result(report)
        if report.linked_clone:
            report.notes.append(
                f"the VM is a linked clone of {report.parent_disk}: nova-compute's cache aging "
                "decides from Nova's database and does not see this VM; delete it ('vmwctl vm "
                "delete') before the image ages out, or purge with 'vmwctl cache purge', which "
                "sees it")

    def _pick_datastore(self, request: SpawnRequest, report: SpawnReport, step: Step) -> Datastore:
        regex = compile_regex(self.profile.vmware.datastore_regex)
        allowed = allowed_datastore_types(request.view.disk_type)
        mine = self.inventory.cluster_datastores(self.cluster)
        if request.datastore:
            found = [d for d in mine if d.name == request.datastore]
            if not found:
                raise UsageError(f"cluster {self.cluster.name!r} has no datastore "
                                 f"{request.datastore!r}")
            reason = datastore_rejection(found[0], regex, allowed)
            if reason:
                report.notes.append(f"Nova would not use [{found[0].name}]: {reason}")
            chosen = found[0]
        else:
            best = best_datastore(mine, regex, allowed)
            if best is None:
                raise OperationFailed(f"no datastore of cluster {self.cluster.name!r} passes "
                                      "Nova's filter for this image")
            chosen = best
        report.datastore = chosen.name
        step.detail = f"[{chosen.name}] ({chosen.free_space // GIB:,} GiB free)"
        return chosen

    def _folder(self, dc: Any, step: Step) -> Any:
        """The datacenter's VM folder / vmwctl (Nova's is OpenStack/Project (...)/Instances)."""
        parent = self.inventory.refs[dc.vm_folder]
        for child in parent.childEntity or []:
            if isinstance(child, vim.Folder) and child.name == FOLDER_NAME:
                step.detail = f"{dc.path}/vm/{FOLDER_NAME} (exists)"
                return child
        try:
            folder = parent.CreateFolder(FOLDER_NAME)
        except DuplicateName as exc:  # made meanwhile by another spawn
            folder = exc.object
        step.detail = f"{dc.path}/vm/{FOLDER_NAME}"
        return folder

    def _find_network(self, name: str) -> Network:
        """The network Nova's lookup takes for ``name`` among the cluster's; checked before
        anything is created."""
        candidates = self.inventory.cluster_networks(self.cluster)
        found = find_network(name, candidates)
        if found is None:
            names = sorted({n.name for n in candidates})  # one name, several hosts' networks
            raise UsageError(f"cluster {self.cluster.name!r} has no network {name!r}"
                             f"{did_you_mean(name, names)}; its networks: "
                             f"{', '.join(names) or 'none'}")
        return found

    def _network(self, network: Network, report: SpawnReport) -> specs.NetworkChoice:
        """What the NIC's backing needs, from the snapshot: the switch and port group key of a
        DV port group, the id and type of an opaque network."""
        choice = specs.NetworkChoice(network.kind, network.name, self.inventory.refs[network.moid])
        if network.kind == DV_PORTGROUP:
            switch = self.inventory.switches.get(network.switch or "")
            choice.portgroup_key = network.key
            choice.switch_uuid = switch.uuid if switch else None
        elif network.kind == OPAQUE_NETWORK:
            choice.opaque_id, choice.opaque_type = network.opaque_id, network.opaque_type
        report.network = network.name
        return choice

    def _create(self, request: SpawnRequest, report: SpawnReport, ds: Datastore, folder: Any,
                step: Step) -> None:
        network = self._network(self._nic_network, report) if self._nic_network else None
        marker = specs.Marker(request.source.image_id,
                              dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              f"{getpass.getuser()}@{socket.gethostname()}")
        nics = [specs.nic_spec(request.view.vif_model, network)] if network else []
        config = specs.create_spec(
            name=report.name, datastore=ds.name, os_type=request.view.os_type, cpus=request.cpus,
            memory_mb=request.memory_mb, marker=marker, nics=nics,
            annotation=f"Spawned by vmwctl from image {request.source.image_id} "
                       f"({request.source.name or '-'}); not an OpenStack instance.")
        pool = self.inventory.refs[self.cluster.resource_pool]
        self.vm = run_task(self.vc, f"creating VM {report.name}",
                           lambda: folder.CreateVM_Task(config=config, pool=pool))
        report.moid = self.vm._moId
        path = self._read("config.files.vmPathName")
        report.folder = str(DatastorePath.parse(path).parent)
        step.detail = f"{report.name} ({report.moid}) in {report.folder}"

    def _read(self, *paths: str) -> Any:
        values = read_paths(self.vc, self.vm, paths)
        return values[paths[0]] if len(paths) == 1 else values

    def _reconfigure(self, what: str, config: Any) -> None:
        run_task(self.vc, what, lambda: self.vm.ReconfigVM_Task(spec=config))

    def _vnc(self, report: SpawnReport, step: Step) -> None:

        v = self.profile.vmware
        first, last = vnc_range(self.profile)
        with _vnc_lock:
            held = []
            for record in collect(self.vc, {vim.VirtualMachine: [
                    f'config.extraConfig["{VNC_PORT_KEY}"]']}):
                option = record.get(f'config.extraConfig["{VNC_PORT_KEY}"]')
                port = held_port(getattr(option, "value", option))
                if port is not None:
                    held.append(port)
            port = lowest_free_port(held, first, last)
            if port is None:
                raise OperationFailed(f"every VNC port of {first}-{last} is taken "
                                      "(ConsolePortRangeExhausted); raise vnc_port_total or "
                                      "delete VMs")
            self._reconfigure(f"setting VNC port {port} on {report.name}",
                              specs.vnc_spec(port, v.vnc_keymap))
        report.vnc = str(port)
        step.detail = f"port {port} (lowest free of {first}-{last}, {len(set(held))} in use)"

    def _cache(self, request: SpawnRequest, ds: Datastore, step: Step) -> None:
        folder = cache_folder(self.profile)
        if folder is None:
            raise UsageError(f"profile '{self.profile.name}' has no DEFAULT.my_ip: Nova names "
                             "its cache folder after it; set it (or vmware.cache_prefix)")
        seeder = Seeder(self.vc, self.inventory, cache_folder=folder, download=self.download,
                        pool_for=lambda _ds: self.inventory.refs[self.cluster.resource_pool])
        # A cached image loses its aging markers first (Nova's enlist_image)
        if self.progress is None:
            result = seeder.seed(request.source, ds)
        else:
            with self.progress(f"Fetching {request.source.name or request.source.image_id}",
                               request.source.size) as bar:
                result = seeder.seed(request.source, ds, progress=bar.advance)
        self._image_folder = DatastorePath.parse(result.path)
        step.detail = (f"{result.path}: cached already" if result.outcome == "cached" else
                       f"{result.path}: fetched ({request.source.method}, {result.bytes:,} "
                       "bytes)") + (f"; marker {', '.join(result.markers_removed)} removed"
                          if result.markers_removed else "")

    def _image_capacity_kb(self, ds: Datastore, request: SpawnRequest) -> int:
        """_update_image_size: the size of the cached -flat file, else Glance's size."""
        browser = self.inventory.refs[ds.browser]
        name = f"{request.source.image_id}-flat.vmdk"
        spec = vim.host.DatastoreBrowser.SearchSpec(
            matchPattern=[name], details=vim.host.DatastoreBrowser.FileInfo.Details(
                fileSize=True))
        result = run_task(self.vc, f"searching {self._image_folder}",
                          lambda: browser.SearchDatastore_Task(
                              datastorePath=str(self._image_folder), searchSpec=spec))
        sizes = [int(f.fileSize or 0) for f in getattr(result, "file", None) or []
                 if f.path == name]
        size = sizes[0] if sizes else int(request.image.get("size") or 0)
        return max(1, -(-size // 1024))

    def _sized_copy(self, request: SpawnRequest, report: SpawnReport, ds: Datastore, dc: Any,
                    step: Step) -> None:
        """_use_disk_image_as_linked_clone's sized disk: copy and extend once per root_gb."""
        image_id = request.source.image_id
        cached = self._image_folder.join(f"{image_id}.vmdk")
        sized = cached if not request.root_gb else \
            self._image_folder.join(f"{image_id}.{request.root_gb}.vmdk")
        capacity = self._image_capacity_kb(ds, request)
        report.parent_disk = str(sized)
        self._capacity_kb = max(capacity, request.root_gb * specs.KB_PER_GB)
        if sized == cached or is_cached(self.vc, self.inventory, ds, self._image_folder,
                                        sized.name):
            step.detail = f"{sized} (exists)"
            return
        files = self._files(ds)
        try:
            files.copy_disk(cached, sized)
            if request.root_gb * specs.KB_PER_GB > capacity:
                files.extend_disk(sized, request.root_gb * specs.KB_PER_GB)
        except BaseException:
            with contextlib.suppress(VmwctlError):  # Nova removes a partial sized copy too
                files.delete_disk(sized)
            raise
        step.detail = f"{sized} (copied" + (f", extended to {request.root_gb} GiB)"
                                             if request.root_gb * specs.KB_PER_GB > capacity
                                             else ")")

    def _files(self, ds: Datastore) -> Any:
        return DatastoreFiles.of(self.vc, self.inventory, ds)

    def _attach_linked(self, request: SpawnRequest, report: SpawnReport, step: Step) -> None:
        slot = specs.allocate_slot(self._read("config.hardware.device"), report.adapter_type)
        self._reconfigure(f"attaching the root disk to {report.name}", _spec(specs.disk_spec(
            slot, file_name="", capacity_kb=self._capacity_kb, disk_type=request.view.disk_type,
            parent=report.parent_disk, create=True)))
        step.detail = f"child of {report.parent_disk} on {report.adapter_type} unit {slot.unit}"

    def _full_copy(self, request: SpawnRequest, report: SpawnReport, ds: Datastore, dc: Any,
                   step: Step) -> None:
        image_id = request.source.image_id
        cached = self._image_folder.join(f"{image_id}.vmdk")
        folder = DatastorePath.parse(report.folder or "")
        target = folder.join(f"{report.name}.vmdk")
        capacity = self._image_capacity_kb(ds, request)
        self._capacity_kb = max(capacity, request.root_gb * specs.KB_PER_GB)
        files = self._files(ds)
        files.copy_disk(cached, target)
        if request.root_gb * specs.KB_PER_GB > capacity:
            files.extend_disk(target, request.root_gb * specs.KB_PER_GB)
        report.disk = str(target)
        step.detail = f"{cached} -> {target}"

    def _attach_full(self, request: SpawnRequest, report: SpawnReport, step: Step) -> None:
        slot = specs.allocate_slot(self._read("config.hardware.device"), report.adapter_type)
        self._reconfigure(f"attaching the root disk to {report.name}", _spec(specs.disk_spec(
            slot, file_name=report.disk or "", capacity_kb=self._capacity_kb,
            disk_type=request.view.disk_type)))
        step.detail = f"{report.disk} on {report.adapter_type} unit {slot.unit}"

    def _attach_iso(self, request: SpawnRequest, report: SpawnReport, ds: Datastore,
                    step: Step) -> None:
        iso = self._image_folder.join(f"{request.source.image_id}.iso")
        slot = specs.allocate_slot(self._read("config.hardware.device"), "ide")
        self._reconfigure(f"attaching the ISO to {report.name}", _spec(specs.cdrom_spec(slot,
                                                                                      str(iso))))
        report.iso = str(iso)
        step.detail = f"{iso} on IDE unit {slot.unit}"

    def _blank_disk(self, request: SpawnRequest, report: SpawnReport, dc: Any,
                    step: Step) -> None:
        folder = DatastorePath.parse(report.folder or "")
        target = folder.join(f"{report.name}.vmdk")
        ds = next(d for d in self.inventory.datastores.values() if d.name == folder.datastore)
        adapter = report.adapter_type
        self._files(ds).create_disk(
            target, capacity_kb=request.root_gb * specs.KB_PER_GB,
            adapter_type=adapter if adapter not in ("lsiLogicsas", "paraVirtual") else "lsiLogic",
            disk_type=request.view.disk_type if request.view.disk_type in (
                "thin", "preallocated", "thick", "eagerZeroedThick") else "thin")
        slot = specs.allocate_slot(self._read("config.hardware.device"), adapter)
        self._reconfigure(f"attaching the blank disk to {report.name}", _spec(specs.disk_spec(
            slot, file_name=str(target), capacity_kb=request.root_gb * specs.KB_PER_GB,
            disk_type=request.view.disk_type)))
        report.disk = str(target)
        step.detail = f"{target} ({request.root_gb} GiB)"

    def _power_on(self, report: SpawnReport, step: Step) -> None:
        with contextlib.suppress(InvalidPowerState):  # Nova ignores it too
            run_task(self.vc, f"powering on {report.name}", lambda: self.vm.PowerOnVM_Task())
        self.powered_on = True
        host = self._read("runtime.host")
        report.host = self.inventory.hosts[host._moId].name if host is not None and \
            host._moId in self.inventory.hosts else None
        step.detail = f"on {report.host or '-'}"

    def _wait(self, request: SpawnRequest, report: SpawnReport, step: Step) -> None:
        deadline = time.monotonic() + request.wait_seconds
        while True:
            guest = self._read("guestHeartbeatStatus", "guest.ipAddress")
            if guest.get("guest.ipAddress"):
                report.guest = f"ip {guest['guest.ipAddress']}"
                break
            if str(guest.get("guestHeartbeatStatus")) == "green":
                report.guest = "heartbeat"
                break
            if time.monotonic() >= deadline:
                report.guest = "neither"
                raise OperationFailed(f"no heartbeat and no IP address from VMware Tools "
                                      f"within {request.wait_seconds} s")
            time.sleep(1)
        step.detail = f"guest reported {report.guest}"

    def _describe_result(self, report: SpawnReport) -> None:
        values = self._read("runtime.powerState", "runtime.host", "config.hardware.device")
        report.power_state = str(values["runtime.powerState"])
        host = values.get("runtime.host")
        if host is not None and host._moId in self.inventory.hosts:
            report.host = self.inventory.hosts[host._moId].name
        for device in values.get("config.hardware.device") or []:
            if isinstance(device, vim.vm.device.VirtualDisk) and report.disk is None:
                report.disk = device.backing.fileName
        if report.vnc and report.host:
            report.vnc = f"{report.host}:{report.vnc}"

    # ------------------------------------------------------------ failure

    def _clean_up(self, report: SpawnReport, keep: bool) -> str:
        if self.vm is None:
            return "nothing was created"
        if keep:
            return f"VM {report.name} kept (--keep-on-failure); 'vmwctl vm delete {report.name}'"

        with deferred_signals():
            try:
                destroy(self.vc, self.inventory, self.vm, report.name)
            except VmwctlError as exc:
                return (f"removing VM {report.name} failed too: {exc.message}; "
                        f"'vmwctl vm delete {report.name}' removes it")
        return f"VM {report.name} and its folder were removed"


class _StepError(Exception):
    def __init__(self, step: str, reason: str, cause: BaseException) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason
        self.cause = cause


def _spec(changes: list[Any]) -> Any:
    return vim.vm.ConfigSpec(deviceChange=changes)
