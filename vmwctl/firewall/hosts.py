"""The cluster's host firewalls: status, switching rulesets, installing a VIB.

All through the vSphere API (HostFirewallSystem, HostImageConfigManager,
HostPatchManager): no SSH. One host failing never stops the others.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyVmomi import vim

from vmwctl.common.interrupts import Stopper
from vmwctl.errors import ConnectError, OperationFailed, UsageError, VmwctlError
from vmwctl.firewall.coverage import coverage
from vmwctl.firewall.ports import Range
from vmwctl.firewall.vib import (
    ACCEPTANCE_LEVELS,
    VibReport,
    describe_content,
    rule_key,
    ruleset_content,
)
from vmwctl.firewall.vnc import VncVerdict, vnc_verdict
from vmwctl.nova.vnc import held_ports
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.faults import VSphereFault, one_line
from vmwctl.vsphere.inventory import read_objects
from vmwctl.vsphere.journal import Journal, remove_stale
from vmwctl.vsphere.model import Cluster, Datastore, Host, Inventory
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.snapshot import read_firewalls, read_vnc_holders
from vmwctl.vsphere.tasks import run_task

HOST_WORKERS = 8
FAILED = ("failed", "conflict")  # HostInstall.install values that fail the command
# HostImageAcceptanceLevel values, strictest first, beside the VIB descriptor's levels
HOST_LEVELS = ("vmware_certified", "vmware_accepted", "partner", "community")
UPLOAD_FOLDER_PREFIX = "vmwctl-vib-"


# ---------------------------------------------------------------- status


@dataclass
class HostFirewall:
    host: str
    version: str | None
    state: str  # connected, disconnected, notResponding; "maintenance" when in maintenance
    checked: bool
    open: bool
    no_vnc_server: bool = False  # ESXi 7.0 and later
    rulesets: dict[str, list[Range]] = field(default_factory=dict)  # covering ruleset -> ports
    gaps: list[Range] = field(default_factory=list)
    restricted: list[str] = field(default_factory=list)  # covering rulesets limited to some IPs


@dataclass
class FirewallStatus:
    """JSON keys documented in docs/firewall.md."""

    cluster: str
    ports: list[Range]
    hosts: list[HostFirewall]
    verdict: VncVerdict | None = None  # None: no connected host to judge

    @property
    def hosts_with_gaps(self) -> list[str]:
        return [h.host for h in self.hosts if h.checked and not h.open and not h.no_vnc_server]

    @property
    def status(self) -> str:
        """The verdict's pass, warn or fail; skip when no host was checked."""
        return self.verdict.status if self.verdict else "skip"


def _state(host: Host) -> str:
    if host.connection_state == "connected" and host.in_maintenance:
        return "maintenance"
    return host.connection_state


def firewall_status(vc: VCenter, inventory: Inventory, cluster: Cluster,
                    wanted: list[Range]) -> FirewallStatus:
    """Per host: are the wanted ports open by enabled inbound TCP rulesets, and by which."""
    hosts = inventory.cluster_hosts(cluster)
    connected = [h for h in hosts if h.connection_state == "connected"]
    read_firewalls(vc, inventory, connected)
    rows, reports = [], []
    for host in sorted(hosts, key=lambda h: h.name):
        if host.connection_state != "connected":
            rows.append(HostFirewall(host.name, host.version, _state(host), False, False))
            continue
        found = coverage(host, wanted)
        reports.append(found)
        rows.append(HostFirewall(host.name, host.version, _state(host), True, found.open,
                                 found.no_vnc_server, found.rulesets, found.gaps,
                                 found.restricted))
    verdict = (vnc_verdict(reports, wanted, held_ports(read_vnc_holders(vc, inventory)))
               if reports else None)
    return FirewallStatus(cluster.name, wanted, rows, verdict)


def _managers(vc: VCenter, inventory: Inventory, hosts: list[Host], *paths: str) -> dict[str, Any]:
    """host moid -> {path: manager reference} for configManager.* paths, in one read."""
    found: dict[str, Any] = {}
    for record in read_objects(vc, [inventory.refs[h.moid] for h in hosts], list(paths)):
        found[record.moid] = {path: record.get(path) for path in paths}
    return found


def _on_hosts(hosts: list[Host], work: Callable[[Host], Any]) -> list[Any]:
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(HOST_WORKERS, len(hosts))) as pool:
        return list(pool.map(work, hosts))


# ---------------------------------------------------------------- enable / disable


@dataclass
class RulesetChange:
    host: str
    before: str  # enabled | disabled | missing | unknown (host not connected)
    outcome: str  # changed | unchanged | planned | failed | skipped
    reason: str = ""


@dataclass
class RulesetReport:
    """JSON keys documented in docs/firewall.md."""

    cluster: str
    ruleset: str
    enable: bool
    dry_run: bool
    hosts: list[RulesetChange] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for h in self.hosts if h.outcome == "failed")


def set_ruleset(vc: VCenter, inventory: Inventory, cluster: Cluster, ruleset_id: str, *,
                enable: bool, dry_run: bool) -> RulesetReport:
    """Enable or disable a ruleset on every connected host of the cluster, where needed."""
    report = RulesetReport(cluster.name, ruleset_id, enable, dry_run)
    hosts = sorted(inventory.cluster_hosts(cluster), key=lambda h: h.name)
    connected = [h for h in hosts if h.connection_state == "connected"]
    read_firewalls(vc, inventory, connected)
    known = {r.key for h in connected for r in h.firewall or []}
    if connected and ruleset_id not in known:
        raise UsageError(f"no host of cluster {cluster.name!r} has a ruleset {ruleset_id!r}; "
                         f"rulesets: {', '.join(sorted(known))}")
    to_change = []
    for host in hosts:
        if host.connection_state != "connected":
            report.hosts.append(RulesetChange(host.name, "unknown", "skipped",
                                              f"host is {host.connection_state}"))
            continue
        current = next((r for r in host.firewall or [] if r.key == ruleset_id), None)
        if current is None:
            report.hosts.append(RulesetChange(host.name, "missing", "failed",
                                              f"the host has no ruleset {ruleset_id!r}"))
            continue
        change = RulesetChange(host.name, "enabled" if current.enabled else "disabled",
                               "unchanged")
        report.hosts.append(change)
        if current.enabled != enable:
            change.outcome = "planned"
            to_change.append((host, change))
    if dry_run or not to_change:
        return report
    systems = _managers(vc, inventory, [h for h, _ in to_change], "configManager.firewallSystem")

    def switch(item: tuple[Host, RulesetChange]) -> None:
        host, change = item
        system = systems[host.moid]["configManager.firewallSystem"]
        try:
            if enable:
                system.EnableRuleset(id=ruleset_id)
            else:
                system.DisableRuleset(id=ruleset_id)
            change.outcome = "changed"
        except VSphereFault as exc:
            change.outcome, change.reason = "failed", exc.summary

    with ThreadPoolExecutor(max_workers=min(HOST_WORKERS, len(to_change))) as pool:
        list(pool.map(switch, to_change))
    return report


# ---------------------------------------------------------------- vib install


@dataclass
class HostInstall:
    host: str
    acceptance_before: str | None = None
    acceptance_after: str | None = None
    # installed | already installed | conflict | planned | failed | skipped
    install: str = "planned"
    rulesets_enabled: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class InstallReport:
    """JSON keys documented in docs/firewall.md."""

    vib_id: str
    cluster: str
    datastore: str
    host_path: str  # where the hosts read the VIB: /vmfs/volumes/<datastore>/...
    dry_run: bool
    hosts: list[HostInstall] = field(default_factory=list)
    status: FirewallStatus | None = None
    leftovers_removed: list[str] = field(default_factory=list)  # of dead runs on this machine

    @property
    def failures(self) -> list[str]:
        return [h.host for h in self.hosts if h.install in FAILED]


def vib_level_as_host_level(level: str) -> str:
    return HOST_LEVELS[ACCEPTANCE_LEVELS.index(level)]


def shared_datastore(inventory: Inventory, hosts: list[Host], name: str | None) -> Datastore:
    """--datastore, or the datastore with the most free space that every host mounts."""
    wanted = {h.moid for h in hosts}

    def shared(ds: Datastore) -> bool:
        mounted = {m.host for m in ds.mounts if m.mounted and m.accessible
                   and m.access_mode != "readOnly"}
        return ds.accessible and wanted <= mounted

    if name:
        found = [ds for ds in inventory.datastores.values() if ds.name == name]
        if not found:
            raise UsageError(f"no datastore {name!r}")
        if not shared(found[0]):
            raise UsageError(f"datastore {name!r} is not mounted read-write on every connected "
                             "host of the cluster; the hosts read the VIB from it")
        return found[0]
    candidates = [ds for ds in inventory.datastores.values() if shared(ds)]
    if not candidates:
        raise UsageError("no datastore is mounted read-write on every connected host of the "
                         "cluster; pass --datastore NAME")
    return max(candidates, key=lambda ds: ds.free_space)


def install_vib(vc: VCenter, inventory: Inventory, cluster: Cluster, vib: VibReport, path: Path,
                *, datastore: str | None, approve_acceptance: Callable[[list[str]], bool],
                dry_run: bool, stopper: Stopper | None = None) -> InstallReport:
    """Upload the VIB, then on each connected host: acceptance, install, refresh, enable.

    ``approve_acceptance`` is asked once, with the hosts whose image acceptance
    level must drop to the VIB's; declined, those hosts are skipped. With a
    ``stopper``, a signal skips the hosts not started yet; the uploaded copy is removed.
    """
    if not vib.valid or not vib.vib_id or not vib.acceptance_level:
        raise UsageError(f"{path} is not a valid VIB: {'; '.join(vib.problems)}")
    hosts = sorted(inventory.cluster_hosts(cluster), key=lambda h: h.name)
    connected = [h for h in hosts if h.connection_state == "connected"]
    if not connected:
        raise OperationFailed(f"no host of cluster {cluster.name!r} is connected")
    ds = shared_datastore(inventory, connected, datastore)
    folder = DatastorePath(ds.name, f"{UPLOAD_FOLDER_PREFIX}{uuid.uuid4().hex[:12]}")
    target = folder.join(path.name)
    report = InstallReport(vib.vib_id, cluster.name, ds.name,
                           f"/vmfs/volumes/{ds.name}/{target.path}", dry_run)
    rows = {h.moid: HostInstall(h.name) for h in hosts}
    for host in hosts:
        if host.connection_state != "connected":
            rows[host.moid].install = "skipped"
            rows[host.moid].reason = f"host is {host.connection_state}"
    managers = _managers(vc, inventory, connected, "configManager.imageConfigManager",
                         "configManager.patchManager", "configManager.firewallSystem")
    read_firewalls(vc, inventory, connected)
    needed = HOST_LEVELS.index(vib_level_as_host_level(vib.acceptance_level))

    def survey(host: Host) -> None:
        row = rows[host.moid]
        try:
            manager = managers[host.moid]["configManager.imageConfigManager"]
            row.acceptance_before = str(manager.HostImageConfigGetAcceptance())
            row.acceptance_after = row.acceptance_before
            if _installed(manager, vib):
                row.install = "already installed"
                other = other_rules(vib, host)
                if other is not None:
                    row.install, row.reason = "conflict", (
                        f"it has {vib.vib_id} installed, with {other}, not "
                        f"{describe_content(ruleset_content(vib.rulesets))} as this VIB: ESXi "
                        "skips a VIB whose name and version it has; rebuild with a higher "
                        "--version")
        except ConnectError:
            raise
        except Exception as exc:  # reported per host
            row.install, row.reason = "failed", f"reading its image configuration: " \
                                                f"{one_line(exc)}"

    _on_hosts(connected, survey)
    lower = [h for h in connected if rows[h.moid].install == "planned"
             and rows[h.moid].acceptance_before in HOST_LEVELS
             and HOST_LEVELS.index(rows[h.moid].acceptance_before or "") < needed]
    if lower and not dry_run and not approve_acceptance([h.name for h in lower]):
        for host in lower:
            rows[host.moid].install = "skipped"
            rows[host.moid].reason = (f"its acceptance level {rows[host.moid].acceptance_before}"
                                      f" is stricter than the VIB's {vib.acceptance_level}; "
                                      "not lowered")
    for host in lower:
        if rows[host.moid].install == "planned":
            rows[host.moid].acceptance_after = HOST_LEVELS[needed]
    report.hosts = [rows[h.moid] for h in hosts]
    work = [h for h in connected if rows[h.moid].install in ("planned", "already installed")]
    if dry_run or not work:
        return report


    files = DatastoreFiles.of(vc, inventory, ds)
    journal = Journal.for_vcenter(vc)
    report.leftovers_removed = remove_stale(vc, inventory, journal)
    record = journal.open(folders=[str(folder)], vms=[])
    files.mkdir(folder, parents=True)
    try:
        with path.open("rb") as handle:
            files.upload(target, iter(lambda: handle.read(1 << 20), b""), path.stat().st_size)

        def install(host: Host) -> None:
            row = rows[host.moid]
            refs = managers[host.moid]
            if stopper is not None and stopper.requested:
                row.install, row.reason = "skipped", "interrupted before it"
                return
            try:
                if row.acceptance_after != row.acceptance_before:
                    refs["configManager.imageConfigManager"].UpdateHostImageAcceptanceLevel(
                        newAcceptanceLevel=row.acceptance_after)
                if row.install == "planned":
                    _install(vc, refs["configManager.patchManager"], report.host_path, host.name)
                    row.install = "installed"
                system = refs["configManager.firewallSystem"]
                system.RefreshFirewall()
                for ruleset in sorted({r.id for r in vib.rulesets}):
                    system.EnableRuleset(id=ruleset)
                    row.rulesets_enabled.append(ruleset)
            except ConnectError:
                raise  # vCenter went away: every host would fail alike
            except Exception as exc:  # one host failing does not stop the others
                row.install, row.reason = "failed", one_line(exc)

        _on_hosts(work, install)
    finally:
        with contextlib.suppress(VmwctlError):  # the uploaded copy is not needed any more
            files.delete(folder)
            journal.close(record)
    return report


def _installed(manager: Any, vib: VibReport) -> bool:
    """Whether the host lists a package of the VIB's name and version already."""
    for package in manager.FetchSoftwarePackages() or []:
        if package.name == vib.name and package.version == vib.version:
            return True
    return False


def other_rules(vib: VibReport, host: Host) -> str | None:
    """What the host's rulesets of the VIB's ruleset ids open, when it is not what the VIB
    opens; None when they agree or the host lacks one of them (nothing to compare).

    The vSphere API reports no checksum of an installed VIB (SoftwarePackage has its name,
    version and descriptor text, not its payload), so the rules are what is compared.
    """
    wanted = ruleset_content(vib.rulesets)
    present = {r.key: r for r in host.firewall or [] if r.key in wanted}
    if not wanted or set(present) != set(wanted):
        return None
    found = {key: sorted({rule_key(r.direction, r.protocol, r.port_type, r.port,
                                   r.end_port or r.port) for r in ruleset.rules})
             for key, ruleset in sorted(present.items())}
    return None if found == wanted else describe_content(found)


def _install(vc: VCenter, patch_manager: Any, host_path: str, host: str) -> None:

    spec = vim.host.PatchManager.PatchManagerOperationSpec()
    result = run_task(vc, f"installing {host_path} on {host}",
                      lambda: patch_manager.InstallHostPatchV2_Task(
                          vibUrls=[host_path], spec=spec), poll_interval=0.5)
    xml = getattr(result, "xmlResult", None) or ""
    if "<error" in xml.lower():
        raise OperationFailed(f"installing on {host} failed: {xml[:300]}")
