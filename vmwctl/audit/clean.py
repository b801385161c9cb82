"""``vmwctl audit clean``: act on the audit's findings, the most reversible step first.

An orphaned VM is marked (vmwctl's extraConfig key ``vmwctl.audit.orphaned``:
when it was first found orphaned and its power state then) and powered off on
one run; a later run that still finds it orphaned, and orphaned for longer than
``--older-than``, deletes it. The mark lives on the VM, so runs from different
machines agree; a marked VM whose instance is known again is rescued: its mark
removed, its power state restored. A shadow VM is unregistered and its folder
deleted; orphaned folders and deleted images' folders are deleted under the
cache's datastore lock once the VMs' files have been read again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vmwctl.audit.findings import AuditReport, cluster_vms, instance_of, orphan_mark
from vmwctl.errors import ConnectError, UsageError, VmwctlError
from vmwctl.vsphere.model import ORPHAN_KEY, Cluster, Datastore, Inventory

if TYPE_CHECKING:
    from vmwctl.common.interrupts import Stopper
    from vmwctl.vsphere.session import VCenter

CLEANABLE = ("orphan-vm", "shadow-vm", "orphan-folder", "deleted-image")
NOT_CLEANED = {"lost-instance": "an instance without a VM is OpenStack's to rebuild or delete",
               "duplicate-vm": "which of the VMs the instance uses needs a person to decide",
               "foreign-vm": "a VM Nova did not create is someone's: move it by hand"}
DEFAULT_OLDER_THAN = 86400
_AGE = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Steps in the order a run takes them: what restores first, what cannot be undone last.
ORDER = ("rescue", "power-off", "mark", "unregister", "delete-vm", "delete-folder", "wait")


def parse_age(text: str) -> int:
    """'90', '45m', '12h', '7d', '2w' -> seconds; UsageError otherwise."""
    match = _AGE.fullmatch(text.strip().lower())
    if not match:
        raise UsageError(f"--older-than {text!r}: give an age such as 3600, 45m, 12h, 7d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_kinds(text: str | None) -> list[str]:
    if not text:
        return list(CLEANABLE)
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    for kind in kinds:
        if kind in NOT_CLEANED:
            raise UsageError(f"{kind} is not cleaned by vmwctl: {NOT_CLEANED[kind]}")
        if kind not in CLEANABLE:
            raise UsageError(f"{kind!r} is not a finding kind 'audit clean' acts on; kinds: "
                             f"{', '.join(CLEANABLE)}")
    return kinds


@dataclass(frozen=True)
class Limit:
    """--max: at most ``count`` objects, or ``percent`` of the cluster's VMs."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str | None) -> Limit | None:
        if text is None:
            return None
        value = text.strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError
                return cls(percent=percent)
            count = int(value)
            if count < 0:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise UsageError(f"--max {text!r}: give a number of objects (10) or a share of "
                             "the cluster's VMs (5%)") from None

    def allows(self, touched: int, cluster_vms: int) -> bool:
        if self.count is not None:
            return touched <= self.count
        assert self.percent is not None
        return touched <= cluster_vms * self.percent / 100


@dataclass
class Action:
    kind: str
    subject: str
    step: str  # one of ORDER
    reason: str
    vm: str | None = None  # moid
    path: str | None = None  # a folder: [ds] name
    datastore: str | None = None
    size: int | None = None
    outcome: str = "planned"  # planned | waiting | done | failed | skipped
    error: str | None = None


@dataclass
class CleanReport:
    dry_run: bool
    cluster: str
    node: str
    kinds: list[str]
    older_than_seconds: int
    actions: list[Action] = field(default_factory=list)
    refused: str | None = None  # why nothing was done
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def touching(self) -> list[Action]:
        """The actions that change something (waiting does not)."""
        return [action for action in self.actions if action.step != "wait"]


def plan_clean(audit: AuditReport, inventory: Inventory, cluster: Cluster,
               datastores: list[Datastore], *, kinds: list[str], older_than: int,
               now: dt.datetime, dry_run: bool) -> CleanReport:
    """What a run does: one action per finding of ``kinds`` (or a wait), and the rescues."""
    report = CleanReport(dry_run=dry_run, cluster=audit.cluster, node=audit.node, kinds=kinds,
                         older_than_seconds=older_than, notes=list(audit.notes))
    orphaned = set()
    for finding in audit.findings:
        if finding.kind not in kinds:
            continue
        if finding.kind == "orphan-vm":
            vm = inventory.vms[finding.vm or ""]
            orphaned.add(vm.moid)
            mark = orphan_mark(vm)
            if mark is None:
                step = "power-off" if vm.power_state == "poweredOn" else "mark"
                report.actions.append(Action(
                    finding.kind, vm.name, step, "orphaned now: marked (and powered off); "
                    "deleted by a later run that still finds it orphaned", vm=vm.moid))
                continue
            since = mark["since"]
            due = since + dt.timedelta(seconds=older_than)
            if now >= due:
                report.actions.append(Action(finding.kind, vm.name, "delete-vm",
                                             f"orphaned since {since:%Y-%m-%d %H:%M} UTC",
                                             vm=vm.moid))
            else:
                report.actions.append(Action(finding.kind, vm.name, "wait",
                                             f"orphaned since {since:%Y-%m-%d %H:%M} UTC; "
                                             f"deleted from {due:%Y-%m-%d %H:%M} UTC",
                                             vm=vm.moid))
            continue
        old_enough = finding.age_seconds is not None and finding.age_seconds >= older_than
        if finding.kind == "shadow-vm":
            step = "unregister" if old_enough else "wait"
            path = next((o for o in finding.objects if o.startswith("[")), None)
            reason = "a failed image import's VM" if old_enough else (
                "its folder's age is unknown" if finding.age_seconds is None
                else "younger than --older-than: an import may still be running")
            report.actions.append(Action(finding.kind, finding.subject, step, reason,
                                         vm=finding.vm, path=path, datastore=finding.datastore,
                                         size=finding.size))
            continue
        step = "delete-folder" if old_enough else "wait"
        reason = "unused" if old_enough else "younger than --older-than"
        report.actions.append(Action(finding.kind, finding.subject, step, reason,
                                     path=finding.subject, datastore=finding.datastore,
                                     size=finding.size))
    if "orphan-vm" in kinds:
        for vm in cluster_vms(inventory, cluster, datastores):
            if vm.moid not in orphaned and orphan_mark(vm) is not None:
                report.actions.append(Action(
                    "orphan-vm", vm.name, "rescue", f"instance {instance_of(vm)} is known "
                    "again: mark removed, power state restored", vm=vm.moid))
    for action in report.actions:
        if action.step == "wait":
            action.outcome = "waiting"
    report.actions.sort(key=lambda a: (ORDER.index(a.step), a.kind, a.subject))
    return report


def refuse_beyond(report: CleanReport, limit: Limit | None, cluster_vm_count: int) -> None:
    """Refuse the whole run (nothing done) when ``limit`` is exceeded."""
    touched = len(report.touching)
    if limit is not None and not limit.allows(touched, cluster_vm_count):
        said = f"{limit.count}" if limit.count is not None else \
            f"{limit.percent:g}% of the cluster's {cluster_vm_count} VMs"
        report.refused = (f"{touched} objects would be touched, more than --max {said}: "
                          "nothing done; look at 'vmwctl audit' (a wrong server list?) or "
                          "raise --max")


@dataclass
class Cleaner:
    """The vCenter calls of a run; ``files_for(datastore)`` gives its DatastoreFiles,
    ``users()`` re-reads which VM uses which folder, ``locked(datastore)`` holds the
    cache's datastore lock there."""

    vc: VCenter
    inventory: Inventory
    files_for: Callable[[str], Any]
    users: Callable[[], Mapping[str, list[str]]]
    locked: Callable[[str], Any]
    now: dt.datetime


def run_clean(report: CleanReport, cleaner: Cleaner, stopper: Stopper) -> None:
    """Act, object by object, in the plan's order; a signal stops the run between objects."""
    from vmwctl.vsphere.datastore import DatastorePath

    users: Mapping[str, list[str]] | None = None
    for action in report.actions:
        if action.step == "wait":
            continue
        if stopper.requested:
            report.interrupted = True
            action.outcome, action.error = "skipped", "interrupted before it"
            continue
        try:
            if action.step == "delete-folder":
                if users is None:
                    users = cleaner.users()
                if users.get(action.path or ""):
                    action.outcome, action.error = "skipped", \
                        f"used now by {', '.join(users[action.path or ''])}"
                    continue
                path = DatastorePath.parse(action.path or "")
                with cleaner.locked(path.datastore):
                    cleaner.files_for(path.datastore).delete(path)
            else:
                _vm_step(cleaner, action)
            action.outcome = "done"
        except ConnectError:
            raise  # vCenter went away: the next objects would fail alike (exit 3)
        except VmwctlError as exc:
            action.outcome, action.error = "failed", exc.message


def _vm_step(cleaner: Cleaner, action: Action) -> None:
    from pyVmomi import vim

    from vmwctl.vsphere.datastore import DatastorePath
    from vmwctl.vsphere.faults import InvalidPowerState, VSphereFault
    from vmwctl.vsphere.tasks import run_task

    vc, ref = cleaner.vc, cleaner.inventory.refs[action.vm or ""]
    vm = cleaner.inventory.vms[action.vm or ""]

    def reconfigure(value: str) -> None:
        spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=ORPHAN_KEY,
                                                                     value=value)])
        run_task(vc, f"reconfiguring {vm.name}", lambda: ref.ReconfigVM_Task(spec=spec))

    def power_off() -> None:
        with contextlib.suppress(InvalidPowerState):  # it went off meanwhile
            run_task(vc, f"powering off {vm.name}", lambda: ref.PowerOffVM_Task())

    if action.step in ("mark", "power-off"):
        reconfigure(json.dumps({"since": cleaner.now.isoformat(), "power": vm.power_state}))
        if action.step == "power-off":
            power_off()
    elif action.step == "delete-vm":
        if vm.power_state == "poweredOn":
            power_off()
        run_task(vc, f"deleting {vm.name}", lambda: ref.Destroy_Task())
    elif action.step == "rescue":
        mark = orphan_mark(vm) or {}
        reconfigure("")  # an empty value removes the key
        if mark.get("power") == "poweredOn" and vm.power_state != "poweredOn":
            run_task(vc, f"powering on {vm.name}", lambda: ref.PowerOnVM_Task())
    elif action.step == "unregister":
        if vm.power_state == "poweredOn":
            power_off()
        try:
            ref.UnregisterVM()
        except VSphereFault as exc:  # the session has translated vCenter's fault
            raise exc.during(f"unregistering {vm.name}") from None
        if action.path:
            path = DatastorePath.parse(action.path)
            with cleaner.locked(path.datastore):
                cleaner.files_for(path.datastore).delete(path)
