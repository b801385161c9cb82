"""``check prereqs``: the guide's prerequisites, verified against the live vCenter.

All inventory comes from one snapshot (a few PropertyCollector requests);
the checks that need more (privileges, host firewalls, datastore searches)
gather it concurrently, each into a dataclass, then judge it. Every check is
a pure function of the snapshot (and of what it gathered) that returns an id,
a status, one line of detail, the objects concerned and a remedy.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmwctl.cache.leftovers import Leftover, find_leftovers
from vmwctl.checks.capacity import check_capacity, check_cpu_uniformity
from vmwctl.checks.certificate import gather_certificate, judge_certificate
from vmwctl.checks.console import gather_console, judge_console
from vmwctl.checks.model import (
    DEFAULT_MAX_SESSIONS,
    CheckReport,
    CheckResult,
    Context,
    FirewallData,
    empty_cluster,
    failed,
    passed,
    skipped,
    vnc_verdict,
    warned,
)
from vmwctl.checks.network import gather_network, judge_network
from vmwctl.checks.nova_conf import check_nova_conf, read_for_conf
from vmwctl.checks.sessions import gather_sessions, judge_sessions
from vmwctl.common.words import every, plural, verb
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.nova.headroom import Flavor
from vmwctl.nova.owners import OWNERS, vm_owner
from vmwctl.nova.rules import (
    MIN_VC_VERSION,
    NEXT_MIN_VC_VERSION,
    compile_regex,
    datastore_rejection,
    version_tuple,
)
from vmwctl.nova.vnc import vnc_range
from vmwctl.privileges.held import PrivilegeReport, session_privileges
from vmwctl.profile.nova_conf import NovaConf, read_nova_conf
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.faults import one_line
from vmwctl.vsphere.model import Host, Inventory, VirtualMachine
from vmwctl.vsphere.snapshot import (
    VM_CONSOLE_PROBE,
    VM_PREREQS,
    read_firewalls,
    read_inventory,
    read_vnc_holders,
    read_vnc_ports,
)

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

CHECK_IDS = ("vcenter", "cluster", "drs", "shared-storage", "datastores", "dedicated",
             "network", "vnc-firewall", "privileges", "hosts", "image-cache", "capacity",
             "cpu-uniformity", "console", "sessions", "certificate", "nova-conf")


def _names(items: list) -> list[str]:
    return sorted(item.name for item in items)


def _needs_cluster(check: Callable[[Context], CheckResult],
                   check_id: str) -> Callable[[Context], CheckResult]:
    def guarded(ctx: Context) -> CheckResult:
        if ctx.cluster is None:
            return skipped(check_id, "no cluster to check (see the cluster check)")
        return check(ctx)

    return guarded


# ------------------------------------------------------------------ the checks

def check_vcenter(ctx: Context) -> CheckResult:
    endpoint = ctx.inventory.endpoint
    if endpoint.api_type != "VirtualCenter":
        return failed("vcenter", f"{endpoint.url} is {endpoint.product} ({endpoint.api_type}), "
                      "not a vCenter: the VMware driver needs vCenter", [endpoint.url],
                      "point vmware.host_ip at the vCenter that manages the hosts")
    version = version_tuple(endpoint.version)
    if version < MIN_VC_VERSION:
        return failed("vcenter", f"vCenter {endpoint.version} is older than 5.1.0: nova-compute "
                      "refuses to start", [endpoint.url], "upgrade vCenter to 5.5.0 or later")
    if version < NEXT_MIN_VC_VERSION:
        return warned("vcenter", f"vCenter {endpoint.version} is older than 5.5.0, Nova's next "
                      "minimum (it logs a deprecation warning)", [endpoint.url],
                      "upgrade vCenter to 5.5.0 or later")
    return passed("vcenter", f"{endpoint.product} ({endpoint.api_type})", [endpoint.url])


def check_cluster(ctx: Context) -> CheckResult:
    if not ctx.cluster_name:
        return failed("cluster", "no cluster named: the driver needs vmware.cluster_name", [],
                      "set vmware.cluster_name in the profile, or pass --cluster NAME")
    found = ctx.inventory.clusters_named(ctx.cluster_name)
    if not found:
        known = _names(list(ctx.inventory.clusters.values()))
        return failed("cluster", f"no cluster named {ctx.cluster_name!r} (clusters: "
                      f"{', '.join(known) or 'none'})", [],
                      "set vmware.cluster_name to an existing cluster; Nova fails at start "
                      "otherwise")
    if len(found) > 1:
        return failed("cluster", f"{len(found)} clusters are named {ctx.cluster_name!r}: the "
                      "driver cannot tell them apart", sorted(c.path for c in found),
                      "rename the clusters so that the name is unique in the vCenter")
    cluster = found[0]
    if problem := empty_cluster(ctx.inventory, cluster):
        return failed("cluster", problem[0], [cluster.path], problem[1])
    hosts = ctx.inventory.cluster_hosts(cluster)
    counted = [h for h in hosts if h.usable]
    return passed("cluster", f"{cluster.path} with {plural(len(hosts), 'host')}"
                  + (f", {len(counted)} of them counted by Nova" if len(counted) < len(hosts)
                     else ""), [cluster.path])


def check_drs(ctx: Context) -> CheckResult:
    cluster = ctx.cluster
    assert cluster is not None
    hosts = len(cluster.hosts)
    if hosts == 0:
        return skipped("drs", f"{cluster.name} has no hosts (see the cluster check)")
    if hosts == 1:
        return passed("drs", f"{cluster.name} has 1 host: DRS is not needed", [cluster.name])
    if not cluster.drs_enabled:
        return failed("drs", f"DRS is disabled on {cluster.name}, which has {hosts} hosts: "
                      "vCenter will not place Nova's VMs", [cluster.name],
                      "enable DRS with fully automated placement on the cluster")
    if cluster.drs_behavior != "fullyAutomated":
        return failed("drs", f"DRS on {cluster.name} is {cluster.drs_behavior or 'unset'}, not "
                      "fully automated", [cluster.name],
                      "set the DRS automation level of the cluster to fully automated")
    return passed("drs", f"DRS enabled and fully automated on {cluster.name} ({hosts} hosts)",
                  [cluster.name])


def check_datastores(ctx: Context) -> CheckResult:
    used = ctx.used_datastores
    unused = {ds.name: datastore_rejection(ds, ctx.regex) for ds in ctx.datastores
              if ds not in used}
    regex = f" and datastore_regex {ctx.regex.pattern!r}" if ctx.regex else ""
    if not used:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(unused.items()))
        return failed("datastores", f"no datastore of the cluster passes Nova's filter "
                      f"(accessible, not in maintenance, VMFS/NFS/NFS41/vsan{regex})"
                      + (f": {reasons}" if reasons else ""), sorted(unused),
                      "attach a shared VMFS or NFS datastore to the cluster, or fix "
                      "vmware.datastore_regex")
    names = _names(used)
    if unused:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(unused.items()))
        return warned("datastores", f"Nova uses {', '.join(names)}; the cluster also has "
                      f"datastores it does not use ({reasons})", sorted(unused),
                      "remove the datastores not meant for OpenStack from the cluster, as the "
                      "guide recommends")
    if ctx.regex is None and len(used) > 1:
        return warned("datastores", f"no datastore_regex and {len(used)} datastores qualify "
                      f"({', '.join(names)}): Nova uses any of them, the one with the most "
                      "free space first", names,
                      "set vmware.datastore_regex, or remove the datastores not meant for "
                      "OpenStack from the cluster")
    return passed("datastores", f"Nova uses {', '.join(names)}", names)


def check_shared_storage(ctx: Context) -> CheckResult:
    used = ctx.used_datastores
    if not used:
        return skipped("shared-storage", "no datastore passes Nova's filter (see datastores)")
    hosts = ctx.connected_hosts
    if not hosts:
        return skipped("shared-storage", "no connected host to check (see the hosts check)")
    gaps = []
    objects = []
    for ds in used:
        mounted = {m.host for m in ds.mounts if m.mounted and m.accessible}
        missing = [h.name for h in hosts if h.moid not in mounted]
        if missing:
            gaps.append(f"{ds.name} is not mounted on {', '.join(sorted(missing))}")
            objects.append(ds.name)
            objects.extend(missing)
    if gaps:
        return failed("shared-storage", "; ".join(gaps), sorted(set(objects)),
                      "mount every datastore Nova uses on every host of the cluster (only "
                      "shared storage is supported)")
    return passed("shared-storage", f"{plural(len(used), 'datastore')} mounted and accessible "
                  f"on {every(len(hosts), 'connected host')}", _names(used))


def _some(names: list[str], limit: int = 5) -> str:
    shown = sorted(names)[:limit]
    return ", ".join(shown) + (", ..." if len(names) > limit else "")


def check_dedicated(ctx: Context) -> CheckResult:
    """Only Nova's VMs in the cluster and on its datastores (vSphere's own not counted)."""
    hosts = {h.moid for h in ctx.hosts}
    stores = {ds.moid for ds in ctx.used_datastores}
    found: dict[str, list[VirtualMachine]] = {owner: [] for owner in OWNERS}
    for vm in ctx.inventory.vms.values():
        if vm.host in hosts or stores.intersection(vm.datastores):
            found[vm_owner(vm)].append(vm)
    system = [vm.name for vm in found["system"]]
    aside = (f"{plural(len(system), 'system VM')} of vSphere Cluster Services not counted "
             f"({_some(system)})") if system else ""
    foreign = [vm.name for vm in found["other"]]
    managed = sorted(f"{vm.name} ({vm.managed_by})" for vm in found["extension"])
    leftovers = [vm.name for vm in found["vmwctl"]]
    if not foreign and not managed and not leftovers:
        detail = "every VM in the cluster and on its datastores is Nova's"
        return passed("dedicated", f"{detail}; {aside}" if aside else detail)
    parts = []
    if foreign:
        parts.append(f"{plural(len(foreign), 'VM')} Nova did not create ({_some(foreign)}): "
                     "OpenStack reports wrong usage")
    if managed:
        parts.append(f"{plural(len(managed), 'VM')} managed by other solutions "
                     f"({_some(managed, 3)})")
    if leftovers:
        parts.append(f"{plural(len(leftovers), 'VM')} left by 'vmwctl vm spawn' "
                     f"({_some(leftovers)})")
    if aside:
        parts.append(aside)
    remedy = "move other VMs off the cluster and its datastores, as the guide says"
    if managed:
        remedy += " (the solution that manages a VM moves or removes it)"
    if leftovers:
        remedy += "; delete spawn leftovers with 'vmwctl vm delete'"
    objects = sorted(foreign) + sorted(vm.name for vm in found["extension"]) + sorted(leftovers)
    return warned("dedicated", "; ".join(parts), objects, remedy)


def _vnc_firewall_hosts(ctx: Context) -> list[Host] | CheckResult:
    """The hosts whose firewalls vnc-firewall judges, or its verdict when it reads none."""
    if not ctx.profile.vnc.enabled:
        return skipped("vnc-firewall", "[vnc] enabled is false: Nova configures no VNC console")
    hosts = ctx.connected_hosts
    if not hosts:
        return skipped("vnc-firewall", "no connected host to check")
    return hosts


def gather_vnc_firewall(vc: VCenter, ctx: Context) -> FirewallData:
    """The connected hosts' firewall rulesets (one paged read; none when the check skips),
    and, after a read scoped to the cluster, the VNC port of every VM of the vCenter: the
    two reads at once, as neither needs the other."""
    hosts = _vnc_firewall_hosts(ctx)
    if isinstance(hosts, CheckResult):
        return FirewallData()

    with ThreadPoolExecutor(max_workers=1) as pool:
        holders = pool.submit(read_vnc_holders, vc, ctx.inventory)
        firewalls = read_firewalls(vc, ctx.inventory, hosts)
        holders.result()
    return FirewallData(firewalls)


def judge_vnc_firewall(ctx: Context, data: FirewallData) -> CheckResult:
    """Every connected host opens the VNC range (ESXi 7.0 and later: no VNC server)."""
    hosts = _vnc_firewall_hosts(ctx)
    if isinstance(hosts, CheckResult):
        return hosts
    return vnc_verdict("vnc-firewall", hosts, data, [vnc_range(ctx.profile)], ctx.inventory,
                       ctx)


@dataclass
class PrivilegesData:
    """What the session holds of the guide's privileges (None: no datacenter to check)."""

    report: PrivilegeReport | None = None


def privileges_datacenter(ctx: Context) -> str | None:
    """The datacenter whose privileges count: the cluster's, else the only one."""
    if ctx.cluster is not None and ctx.cluster.datacenter:
        return ctx.cluster.datacenter
    if len(ctx.inventory.datacenters) == 1:
        return next(iter(ctx.inventory.datacenters))
    return None


def gather_privileges(vc: VCenter, ctx: Context) -> PrivilegesData:
    """The session's privileges on the datacenter and on the cluster below it (one request)."""
    datacenter = privileges_datacenter(ctx)
    if datacenter is None:
        return PrivilegesData()

    return PrivilegesData(session_privileges(vc, ctx.inventory, datacenter,
                                             child=ctx.cluster.moid if ctx.cluster else None))


def privileges_remedy(report: PrivilegeReport, datacenter: str | None = None) -> str | None:
    """The command that gives what ``report`` lacks (None when nothing is missing);
    ``datacenter``: the one the user named (else role create picks the cluster's)."""
    if report.ok:
        return None
    if report.mode == "role":
        return ("give the role exactly the guide's privileges: "
                f"'vmwctl role create --name {report.subject}'")
    where = f" --datacenter {datacenter}" if datacenter else ""
    return ("grant the role with the guide's privileges on the Datacenter, propagated: "
            f"'vmwctl role create --grant {report.subject}{where}'")


def judge_privileges(ctx: Context, data: PrivilegesData) -> CheckResult:
    """The session holds the guide's privileges on the datacenter, propagated."""
    report = data.report
    if report is None:
        return skipped("privileges", "no cluster to tell which datacenter to check (see the "
                       "cluster check); 'vmwctl check privileges --datacenter NAME' checks one")
    remedy = privileges_remedy(report)
    if report.missing:
        labels = ", ".join(f"{p.group} > {p.label}" for p in report.missing)
        return failed("privileges", f"{report.subject} lacks {len(report.missing)} of the "
                      f"guide's {report.required} privileges on {report.entity}: {labels}",
                      [p.id for p in report.missing], remedy)
    if report.not_propagated:
        return failed("privileges", f"{report.subject} holds the privileges on {report.entity} "
                      "but not on the cluster below it: the permission does not propagate",
                      [p.id for p in report.not_propagated], remedy)
    return passed("privileges", f"{report.subject} holds all {report.required} privileges of "
                  f"the guide on {report.entity}, propagated", [report.entity or ""])


def check_hosts(ctx: Context) -> CheckResult:
    hosts = ctx.hosts
    if not hosts:
        return skipped("hosts", "the cluster has no hosts (see the cluster check)")
    unusable = [h for h in hosts if not h.usable]
    if not unusable:
        return passed("hosts", f"{every(len(hosts), 'host')} connected and out of maintenance")
    states = ", ".join(f"{h.name} ({'maintenance' if h.in_maintenance else h.connection_state})"
                       for h in sorted(unusable, key=lambda h: h.name))
    if len(unusable) == len(hosts):
        return failed("hosts", f"no host Nova can use: {states}", _names(unusable),
                      "reconnect the hosts or take them out of maintenance mode")
    return warned("hosts", f"{len(unusable)} of {plural(len(hosts), 'host')} "
                  f"{verb(len(unusable), 'gives', 'give')} Nova nothing: {states}",
                  _names(unusable), "reconnect the hosts or take them out of maintenance mode")


@dataclass
class ImageCacheData:
    """The leftovers of failed spawns found on the datastores Nova uses."""

    leftovers: list[Leftover] = field(default_factory=list)


def gather_image_cache(vc: VCenter, ctx: Context) -> ImageCacheData:
    """One datastore search per datastore Nova uses (and one in its vmware_temp)."""
    stores = ctx.used_datastores
    if not stores:
        return ImageCacheData()

    return ImageCacheData(find_leftovers(vc, ctx.inventory, stores))


def judge_image_cache(ctx: Context, data: ImageCacheData) -> CheckResult:
    """No leftovers of failed spawns on the datastores Nova uses."""
    stores = ctx.used_datastores
    if not stores:
        return skipped("image-cache", "no datastore passes Nova's filter (see datastores)")
    if data.leftovers:
        paths = sorted(x.path for x in data.leftovers)
        return warned("image-cache", f"{plural(len(paths), 'leftover')} of failed spawns: "
                      f"{', '.join(paths)}", paths,
                      "remove them with 'vmwctl cache purge --include-temp'")
    return passed("image-cache", f"no vmware_temp or OSTACK_IMG_* leftovers on "
                  f"{', '.join(_names(stores))}")


PURE = {
    "vcenter": check_vcenter,
    "cluster": check_cluster,
    "drs": _needs_cluster(check_drs, "drs"),
    "shared-storage": _needs_cluster(check_shared_storage, "shared-storage"),
    "datastores": _needs_cluster(check_datastores, "datastores"),
    "dedicated": _needs_cluster(check_dedicated, "dedicated"),
    "hosts": _needs_cluster(check_hosts, "hosts"),
    "capacity": _needs_cluster(check_capacity, "capacity"),
    "cpu-uniformity": _needs_cluster(check_cpu_uniformity, "cpu-uniformity"),
}


def _guard(check: Callable[[Context], CheckResult],
           check_id: str) -> Callable[[Context], CheckResult]:
    """A vSphere fault in one check fails that check, not the run (lost connections still do)."""
    def guarded(ctx: Context) -> CheckResult:
        try:
            return check(ctx)
        except OperationFailed as exc:  # a vSphere fault is one too
            return failed(check_id, f"could not check: {one_line(exc)}")

    return guarded


@dataclass(frozen=True)
class Remote:
    """A check that makes vSphere calls (or other network reads) of its own: the reads,
    then a pure verdict on them (one result, or several: one per endpoint)."""

    gather: Callable[[VCenter, Context], Any]
    judge: Callable[[Context, Any], CheckResult | list[CheckResult]]
    needs_cluster: bool


# The gathers run concurrently.
REMOTE = {
    "network": Remote(gather_network, judge_network, needs_cluster=True),
    "vnc-firewall": Remote(gather_vnc_firewall, judge_vnc_firewall, needs_cluster=True),
    "privileges": Remote(gather_privileges, judge_privileges, needs_cluster=False),
    "image-cache": Remote(gather_image_cache, judge_image_cache, needs_cluster=True),
    "console": Remote(gather_console, judge_console, needs_cluster=True),
    "certificate": Remote(gather_certificate, judge_certificate, needs_cluster=False),
    "sessions": Remote(gather_sessions, judge_sessions, needs_cluster=False),
}


def remote_check(check_id: str, vc: VCenter
                 ) -> Callable[[Context], CheckResult | list[CheckResult]]:
    """Gather then judge; skipped without a cluster where it needs one, guarded."""
    remote = REMOTE[check_id]

    def check(ctx: Context) -> CheckResult | list[CheckResult]:
        return remote.judge(ctx, remote.gather(vc, ctx))

    if remote.needs_cluster:
        check = _needs_cluster(check, check_id)
    return _guard(check, check_id)


def read_prereqs_inventory(vc: VCenter, profile: Profile, cluster_name: str | None, ids: list[str],
                    *, probe_console: bool) -> Inventory:
    """The inventory the checks need: scoped to the cluster, with the VM properties they
    use; the vCenter-wide VNC ports, when vnc-firewall will judge them, read meanwhile
    (neither read needs the other). A fault in that read is left to vnc-firewall, which
    reads again and reports it."""
    if not cluster_name:
        return read_inventory(vc)
    vm_properties = VM_PREREQS + (VM_CONSOLE_PROBE if probe_console and "console" in ids
                                  else [])
    if "vnc-firewall" not in ids or not profile.vnc.enabled:
        return read_inventory(vc, cluster=cluster_name, vm_properties=vm_properties)
    vc.content  # noqa: B018  (log in before the two threads share the session)
    with ThreadPoolExecutor(max_workers=1) as pool:
        ports = pool.submit(read_vnc_ports, vc)
        inventory = read_inventory(vc, cluster=cluster_name, vm_properties=vm_properties)
        try:
            holders = ports.result()
        except OperationFailed:
            holders = None
    if not inventory.vnc_ports_known:
        inventory.vnc_holders = holders
    return inventory


def selected_ids(only: list[str], skip: list[str], *, nova_conf: bool = True) -> list[str]:
    """The checks to run, in their fixed order. Unknown ids are a usage error, and so is a
    selection that leaves no check to run (a CI gate would pass having checked nothing).
    ``nova_conf``: a nova.conf was given; the nova-conf checks need one."""
    for check_id in [*only, *skip]:
        if check_id not in CHECK_IDS:
            raise UsageError(f"unknown check id {check_id!r}; ids: {', '.join(CHECK_IDS)}")
    ids = [c for c in CHECK_IDS if (not only or c in only) and c not in skip]
    runnable = ids if nova_conf else [c for c in ids if c != "nova-conf"]
    if not runnable:
        selection = " ".join([*([f"--only {','.join(only)}"] if only else []),
                              *([f"--skip {','.join(skip)}"] if skip else [])])
        why = (": the nova-conf checks need --nova-conf FILE" if ids else
               f"; ids: {', '.join(CHECK_IDS)}")
        raise UsageError(f"{selection} leaves no check to run{why}")
    return runnable


def run_prereqs(vc: VCenter, profile: Profile, *, cluster_name: str | None,
                nova_conf: Path | None = None, only: list[str] | None = None,
                skip: list[str] | None = None, portgroup: str | None = None,
                network_model: str | None = None, inventory: Inventory | None = None,
                flavors: list[Flavor] | None = None, probe_console: bool = False,
                env: Mapping[str, str] | None = None,
                max_sessions: int = DEFAULT_MAX_SESSIONS) -> CheckReport:
    """Every selected check; ``inventory``: one the caller read already (else read here);
    ``flavors``: those the capacity check judges; ``probe_console``: the console check asks
    vCenter for an MKS ticket on each host; ``env``: the environment that names the cloud
    (OS_CLOUD, OS_CACERT, ...; default this process's); ``max_sessions``: the sessions
    check warns above it."""
    ids = selected_ids(only or [], skip or [], nova_conf=nova_conf is not None)
    conf = None
    if nova_conf is not None and ("nova-conf" in ids or "console" in ids):
        conf = read_nova_conf(nova_conf)  # a bad file is a usage error before any call
    if inventory is None:  # the nova-conf checks read the file's cluster apart if it differs
        inventory = read_prereqs_inventory(vc, profile, cluster_name, ids,
                                           probe_console=probe_console)
    clusters = inventory.clusters_named(cluster_name) if cluster_name else []
    ctx = Context(inventory=inventory, profile=profile, cluster_name=cluster_name,
                  cluster=clusters[0] if len(clusters) == 1 else None,
                  regex=compile_regex(profile.vmware.datastore_regex), portgroup=portgroup,
                  network_model=network_model, flavors=flavors or [], nova_conf=conf,
                  probe_console=probe_console, console_check="console" in ids,
                  env=os.environ if env is None else env, max_sessions=max_sessions)
    results: dict[str, list[CheckResult]] = {}
    with ThreadPoolExecutor(max_workers=len(REMOTE)) as pool:
        futures = {check_id: pool.submit(remote_check(check_id, vc), ctx) for check_id in ids
                   if check_id in REMOTE}
        for check_id in ids:
            if check_id in PURE:
                results[check_id] = [PURE[check_id](ctx)]
        for check_id, future in futures.items():
            result = future.result()
            results[check_id] = result if isinstance(result, list) else [result]
    if conf is not None and "nova-conf" in ids:
        results["nova-conf"] = check_nova_conf(conf, profile, _conf_context(vc, conf, ctx), vc)
    ordered = [result for check_id in ids for result in results.get(check_id, [])]
    return CheckReport(vcenter=inventory.endpoint.url, cluster=cluster_name, checks=ordered,
                       vsphere_requests=vc.request_count)


def _conf_context(vc: VCenter, conf: NovaConf, ctx: Context) -> Context:
    """The context the nova-conf checks judge: ``ctx`` when the file names its cluster, else
    one read scoped to the file's (the VNC ports of every VM, when read, shared)."""
    inventory = read_for_conf(vc, conf, ctx.profile, ctx)
    if inventory is ctx.inventory:
        return ctx
    if ctx.inventory.vnc_holders is not None:
        inventory.vnc_holders = ctx.inventory.vnc_holders
    return dataclasses.replace(ctx, inventory=inventory)


def run_nova_conf(vc: VCenter | None, profile: Profile | None, nova_conf: Path) -> CheckReport:
    """``check nova-conf``: offline when ``vc`` is None."""

    conf = read_nova_conf(nova_conf)
    if vc is None:
        return CheckReport(vcenter=None, cluster=None, checks=check_nova_conf(conf, profile, None))

    assert profile is not None
    inventory = read_for_conf(vc, conf, profile)
    ctx = Context(inventory=inventory, profile=profile, cluster_name=None, cluster=None,
                  regex=None, portgroup=None)
    return CheckReport(vcenter=inventory.endpoint.url, cluster=None,
                       checks=check_nova_conf(conf, profile, ctx, vc),
                       vsphere_requests=vc.request_count)
