"""``vm list`` and ``vm delete``: the VMs vmwctl spawned, and only those removed.

Destroying follows Nova's destroy: power off, UnregisterVM, then delete the
VM's own datastore folder whole. A linked clone's parent (the cached image)
lives in the cache folder, not in the VM's folder, so it is never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from vmwctl.common.interrupts import Stopper
from vmwctl.errors import ConnectError, UsageError, VmwctlError
from vmwctl.nova.owners import vm_owner
from vmwctl.vm.spec import Marker, spawned_name
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.faults import InvalidPowerState, VSphereFault
from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.journal import Journal, remove_stale
from vmwctl.vsphere.model import Inventory, VirtualMachine
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.tasks import run_task

_DURATION = re.compile(r"^(\d+)\s*([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """'90m', '2h', '3d', '1w' or seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"--older-than {text!r}: give a number with s, m, h, d or w, e.g. 2h")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass
class VmRow:
    name: str
    moid: str
    owner: str  # vmwctl | nova | system | extension | other (vmwctl.nova.owners)
    power_state: str | None
    host: str | None
    datastores: list[str]
    folder: str | None
    vnc_port: int | None
    image_id: str | None
    created: str | None
    age_seconds: int | None
    nova_uuid: str | None = None
    image_name: str | None = None  # from the image service, when it answers
    managed_by: str | None = None  # the extension managing the VM (config.managedBy)


@dataclass
class VmListing:
    """JSON keys documented in docs/vm.md."""

    all: bool
    vms: list[VmRow] = field(default_factory=list)


def _row(inventory: Inventory, vm: VirtualMachine, now: dt.datetime) -> VmRow:
    marker = Marker.load(vm.vmwctl_marker)
    created, age = None, None
    if marker is not None:
        created = marker.created
        try:
            stamp = dt.datetime.strptime(marker.created, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC)
            age = int((now - stamp).total_seconds())
        except ValueError:
            pass
    folder = str(DatastorePath.parse(vm.path).parent) if vm.path else None
    port = str(vm.vnc_port or "").strip()
    return VmRow(vm.name, vm.moid, vm_owner(vm), vm.power_state,
                 inventory.hosts[vm.host].name if vm.host in inventory.hosts else None,
                 sorted(inventory.datastores[d].name for d in vm.datastores
                        if d in inventory.datastores), folder,
                 int(port) if port.isdigit() else None,
                 marker.image if marker else None, created, age, vm.nova_uuid,
                 managed_by=vm.managed_by)


def list_vms(inventory: Inventory, *, everything: bool, now: dt.datetime) -> VmListing:
    """The VMs vmwctl spawned (every VM with ``everything``)."""
    rows = [_row(inventory, vm, now) for vm in inventory.vms.values() if not vm.template]
    if not everything:
        rows = [r for r in rows if r.owner == "vmwctl"]
    order = ("vmwctl", "nova", "other", "extension", "system")
    rows.sort(key=lambda r: (order.index(r.owner), r.name))
    return VmListing(everything, rows)


def destroy(vc: VCenter, inventory: Inventory, vm: Any, name: str) -> None:
    """Nova's destroy: power off, unregister, delete the VM's own folder."""

    state = read_paths(vc, vm, ("runtime.powerState", "config.files.vmPathName"))
    path = state.get("config.files.vmPathName")
    if str(state.get("runtime.powerState")) == "poweredOn":
        with contextlib.suppress(InvalidPowerState):  # it went off meanwhile
            run_task(vc, f"powering off {name}", lambda: vm.PowerOffVM_Task())
    folder = _own_folder(path, name)
    _unregister(vm, name)
    if folder is None:
        return
    ds = next((d for d in inventory.datastores.values() if d.name == folder.datastore), None)
    if ds is not None:
        DatastoreFiles.of(vc, inventory, ds).delete(folder)


def _unregister(vm: Any, name: str) -> None:
    try:
        vm.UnregisterVM()
    except VSphereFault as exc:
        raise exc.during(f"unregistering {name}") from None


def _own_folder(path: str | None, name: str) -> DatastorePath | None:
    """The VM's folder, only when it is a folder of its own (never a datastore root)."""
    if not path:
        return None
    folder = DatastorePath.parse(path).parent
    if not folder.path or "/" in folder.path:
        return None  # the root, or nested somewhere it does not own alone
    return folder


@dataclass
class DeleteItem:
    name: str  # the VM's name (as given, when no VM has it)
    outcome: str  # planned | deleted | failed | skipped | absent (no such VM: nothing to do)
    reason: str = ""
    folder: str | None = None
    given: str | None = None  # the name on the command line (None: chosen by --older-than)


@dataclass
class DeleteReport:
    """JSON keys documented in docs/vm.md."""

    dry_run: bool
    vms: list[DeleteItem] = field(default_factory=list)
    leftovers_removed: list[str] = field(default_factory=list)  # of dead runs on this machine

    @property
    def failures(self) -> int:
        return sum(1 for v in self.vms if v.outcome == "failed")


@dataclass
class Selection:
    """The VMs a ``vm delete`` acts on, and the names given that no VM has."""

    vms: list[VirtualMachine] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)  # VM moid -> the name given
    absent: list[str] = field(default_factory=list)


def select_for_delete(inventory: Inventory, names: list[str],
                      older_than: dt.timedelta | None, now: dt.datetime) -> Selection:
    """The named VMs, or vmwctl's VMs older than ``older_than``; refuses any not vmwctl's.

    A name is a VM's name, else the name given to ``vm spawn --name`` (the VM is
    vmwctl-NAME); a name no VM has is absent, which is nothing to do.
    """
    if not names and older_than is None:
        raise UsageError("name the VMs to delete, or pass --older-than DURATION")
    chosen = Selection()
    if names:
        for name in dict.fromkeys(names):
            found = _named(inventory, name) or _named(inventory, spawned_name(name))
            if not found:
                chosen.absent.append(name)
            for vm in found:
                whose = vm_owner(vm)
                if whose != "vmwctl":
                    who = {"nova": "Nova's (it carries nvp.vm-uuid or Nova's managedBy)",
                           "system": "a vSphere Cluster Services VM",
                           "extension": f"managed by {vm.managed_by}"}.get(
                        whose, "not vmwctl's (no vmwctl.spawned marker)")
                    raise UsageError(f"VM {vm.name!r} is {who}: 'vmwctl vm delete' removes "
                                     "only VMs vmwctl spawned; nothing deleted")
                if vm.moid not in chosen.given:
                    chosen.vms.append(vm)
                    chosen.given[vm.moid] = name
    else:
        chosen.vms = [vm for vm in inventory.vms.values() if vm_owner(vm) == "vmwctl"]
    if older_than is not None:
        rows = {vm.moid: _row(inventory, vm, now) for vm in chosen.vms}
        chosen.vms = [vm for vm in chosen.vms if rows[vm.moid].age_seconds is not None
                      and rows[vm.moid].age_seconds > older_than.total_seconds()]
    chosen.vms.sort(key=lambda vm: vm.name)
    return chosen


def _named(inventory: Inventory, name: str) -> list[VirtualMachine]:
    return [vm for vm in inventory.vms.values() if vm.name == name]


def delete_vms(vc: VCenter, inventory: Inventory, selection: Selection, *,
               dry_run: bool, stopper: Stopper | None = None) -> DeleteReport:
    """Destroy each VM whole; with a ``stopper``, a signal stops it between VMs."""
    report = DeleteReport(dry_run)
    journal = Journal.for_vcenter(vc)
    if not dry_run:
        report.leftovers_removed = remove_stale(vc, inventory, journal)
    for vm in selection.vms:
        folder = _own_folder(vm.path, vm.name)
        item = DeleteItem(vm.name, "planned", folder=str(folder) if folder else None,
                          given=selection.given.get(vm.moid))
        report.vms.append(item)
        if dry_run:
            continue
        if stopper is not None and stopper.requested:
            item.outcome, item.reason = "skipped", "interrupted before it"
            continue
        # Once unregistered, a VM whose folder could not be deleted is in no listing.
        record = journal.open(folders=[str(folder)] if folder else [], vms=[])
        try:
            destroy(vc, inventory, inventory.refs[vm.moid], vm.name)
            journal.close(record)
            item.outcome = "deleted"
        except ConnectError:
            raise  # vCenter went away: the next VMs would fail alike
        except VmwctlError as exc:
            item.outcome, item.reason = "failed", exc.message
    report.vms.extend(DeleteItem(name, "absent", "no such VM", given=name)
                      for name in selection.absent)
    return report
