"""``cluster inspect`` and ``cluster list``: the hypervisor the Nova scheduler will see.

Pure computations over an inventory snapshot, with Nova's own rules
(vmwctl.nova.rules): what nova-compute reports for a cluster, host by host
and datastore by datastore.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vmwctl.nova.headroom import (
    CpuUniformity,
    Flavor,
    FlavorFit,
    HaReserve,
    Headroom,
    Largest,
    cpu_uniformity,
    fit_flavor,
    headroom,
)
from vmwctl.nova.owners import count_owners
from vmwctl.nova.rules import (
    GIB,
    MIB,
    best_datastore,
    cluster_stats,
    compile_regex,
    convert_version_to_int,
    datastore_rejection,
    placement_inventory,
    valid_datastores,
)
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Inventory


@dataclass
class HostRow:
    name: str
    connection_state: str
    in_maintenance: bool | None
    counted: bool
    version: str | None
    cpu_threads: int
    memory_bytes: int
    memory_mb: int
    memory_usage_mb: int
    vms: int
    memory_free_mb: int = 0  # memory_mb less the usage (0 for a host Nova does not count)
    failover: bool = False  # an HA failover host
    cpu_model: str | None = None
    max_evc_mode: str | None = None


@dataclass
class DatastoreRow:
    name: str
    type: str | None
    capacity: int
    free_space: int
    accessible: bool
    maintenance_mode: str | None
    mounted_hosts: int
    cluster_hosts: int
    matches_regex: bool
    used: bool
    reason: str | None  # why Nova does not use it


@dataclass
class NovaNode:
    """What nova-compute reports for the cluster (get_available_resource, placement)."""

    hypervisor_hostname: str
    hypervisor_type: str
    hypervisor_version: int
    vcpus: int
    memory_mb: int
    memory_mb_used: int
    memory_mb_free: int
    local_gb: int
    local_gb_used: int
    disk_available_gb: int
    datastore: str | None
    hosts_counted: int
    placement: dict[str, dict[str, int]]


@dataclass
class ClusterHeadroom:
    """The room on the hosts now, and after what HA holds back (docs/cluster.md)."""

    free_mb: int
    largest_now: Largest | None
    free_mb_after_ha: int
    largest_after_ha: Largest | None

    @classmethod
    def of(cls, room: Headroom) -> ClusterHeadroom:
        return cls(room.free_mb, room.largest_now, room.free_mb_after_ha, room.largest_after_ha)


@dataclass
class ClusterReport:
    """``cluster inspect``; JSON keys documented in docs/cluster.md."""

    name: str
    moref: str
    path: str
    datacenter: str | None
    nova: NovaNode
    drs: dict[str, object]
    ha: dict[str, object]
    hosts: list[HostRow] = field(default_factory=list)
    datastores: list[DatastoreRow] = field(default_factory=list)
    vms: dict[str, int] = field(default_factory=dict)
    headroom: ClusterHeadroom | None = None
    cpu: CpuUniformity | None = None


def nova_node(inventory: Inventory, cluster: Cluster, profile: Profile) -> NovaNode:
    regex = compile_regex(profile.vmware.datastore_regex)
    stats = cluster_stats(inventory.cluster_hosts(cluster))
    datastores = valid_datastores(inventory.cluster_datastores(cluster), regex)
    best = best_datastore(datastores, regex)
    local_gb = best.capacity // GIB if best else 0
    available = best.free_space // GIB if best else 0
    endpoint = inventory.endpoint
    return NovaNode(
        hypervisor_hostname=f"{cluster.moid}.{endpoint.instance_uuid}",
        hypervisor_type=endpoint.name,
        hypervisor_version=convert_version_to_int(endpoint.version),
        vcpus=stats.vcpus, memory_mb=stats.memory_mb,
        memory_mb_used=stats.memory_mb - stats.memory_mb_free,
        memory_mb_free=stats.memory_mb_free, local_gb=local_gb,
        local_gb_used=local_gb - available, disk_available_gb=available,
        datastore=best.name if best else None, hosts_counted=stats.hosts_counted,
        placement=placement_inventory(stats, datastores, profile))


def inspect_cluster(inventory: Inventory, cluster: Cluster, profile: Profile) -> ClusterReport:
    regex = compile_regex(profile.vmware.datastore_regex)
    hosts = inventory.cluster_hosts(cluster)
    host_ids = {h.moid for h in hosts}
    vms = [vm for vm in inventory.vms.values() if vm.host in host_ids]
    vm_counts = Counter(vm.host for vm in vms)
    report = ClusterReport(
        name=cluster.name, moref=cluster.moid, path=cluster.path,
        datacenter=inventory.datacenters[cluster.datacenter].name
        if cluster.datacenter in inventory.datacenters else None,
        nova=nova_node(inventory, cluster, profile),
        drs={"enabled": cluster.drs_enabled, "behavior": cluster.drs_behavior,
             "fully_automated": bool(cluster.drs_enabled)
             and cluster.drs_behavior == "fullyAutomated"},
        ha={"enabled": cluster.ha_enabled},
        vms=count_owners(vms))
    room = headroom(inventory, cluster)
    report.headroom = ClusterHeadroom.of(room)
    report.ha["reserve"] = room.ha
    report.cpu = cpu_uniformity(inventory, cluster)
    rooms = {r.moid: r for r in room.hosts}
    for host in sorted(hosts, key=lambda h: h.name):
        counted = rooms.get(host.moid)
        report.hosts.append(HostRow(
            name=host.name, connection_state=host.connection_state,
            in_maintenance=host.in_maintenance, counted=host.usable, version=host.version,
            cpu_threads=host.cpu_threads, memory_bytes=host.memory_bytes,
            memory_mb=host.memory_bytes // MIB, memory_usage_mb=host.memory_usage_mb,
            vms=vm_counts.get(host.moid, 0),
            memory_free_mb=counted.free_mb if counted else 0,
            failover=bool(counted and counted.failover), cpu_model=host.cpu_model,
            max_evc_mode=host.max_evc_mode))
    for ds in sorted(inventory.cluster_datastores(cluster), key=lambda d: d.name):
        reason = datastore_rejection(ds, regex)
        mounted = {m.host for m in ds.mounts if m.mounted and m.accessible}
        report.datastores.append(DatastoreRow(
            name=ds.name, type=ds.type, capacity=ds.capacity, free_space=ds.free_space,
            accessible=ds.accessible, maintenance_mode=ds.maintenance_mode,
            mounted_hosts=len(mounted & host_ids), cluster_hosts=len(host_ids),
            matches_regex=regex is None or bool(regex.match(ds.name)),
            used=reason is None, reason=reason))
    return report


@dataclass
class ClusterSummary:
    name: str
    path: str
    datacenter: str | None
    selected: bool
    hosts: int
    hosts_counted: int
    drs_fully_automated: bool
    vcpus: int
    memory_mb: int
    disk_gb: int
    largest_free_mb: int = 0  # the most free memory on one counted host now
    largest_free_mb_after_ha: int = 0
    evc_mode: str | None = None


@dataclass
class ClusterListing:
    vcenter: str
    clusters: list[ClusterSummary]


def list_clusters(inventory: Inventory, profile: Profile,
                  selected: Cluster | None) -> ClusterListing:
    """Every cluster with Nova's totals; ``selected`` (the profile's) is marked."""
    rows = []
    for cluster in sorted(inventory.clusters.values(), key=lambda c: c.path):
        node = nova_node(inventory, cluster, profile)
        room = headroom(inventory, cluster)
        rows.append(ClusterSummary(
            name=cluster.name, path=cluster.path,
            datacenter=inventory.datacenters[cluster.datacenter].name
            if cluster.datacenter in inventory.datacenters else None,
            selected=selected is not None and cluster.moid == selected.moid,
            hosts=len(cluster.hosts),
            hosts_counted=node.hosts_counted,
            drs_fully_automated=bool(cluster.drs_enabled)
            and cluster.drs_behavior == "fullyAutomated",
            vcpus=node.vcpus, memory_mb=node.memory_mb,
            disk_gb=node.placement["DISK_GB"]["total"],
            largest_free_mb=room.largest_now.memory_mb if room.largest_now else 0,
            largest_free_mb_after_ha=room.largest_after_ha.memory_mb
            if room.largest_after_ha else 0, evc_mode=cluster.evc_mode))
    return ClusterListing(vcenter=inventory.endpoint.url, clusters=rows)


@dataclass
class FitReport:
    """``cluster fit``; JSON keys documented in docs/cluster.md."""

    cluster: str
    node: str
    headroom: ClusterHeadroom
    ha: HaReserve
    flavors: list[FlavorFit]

    def exit_code(self) -> int:
        """1 when Nova accepts a flavor that fits nowhere without overcommit or HA's leave."""
        return 1 if any(fit.trouble for fit in self.flavors) else 0


def fit_flavors(inventory: Inventory, cluster: Cluster, profile: Profile,
                flavors: list[Flavor]) -> FitReport:
    """Each flavor judged as Nova's placement and the node's free figures would, then
    against each host's room now and after HA's reserve."""
    node = nova_node(inventory, cluster, profile)
    room = headroom(inventory, cluster)
    placement = node.placement
    reserved = profile.default
    fits = [fit_flavor(flavor, room,
                       vcpus_free=node.vcpus - reserved.reserved_host_cpus,
                       vcpus_max=placement["VCPU"]["max_unit"],
                       memory_free=node.memory_mb_free - reserved.reserved_host_memory_mb,
                       memory_max=placement["MEMORY_MB"]["max_unit"],
                       disk_free_gb=node.disk_available_gb,
                       disk_max_gb=placement["DISK_GB"]["max_unit"])
            for flavor in flavors]
    return FitReport(cluster.name, node.hypervisor_hostname,
                     ClusterHeadroom.of(room), room.ha, fits)
