"""What Nova's cluster-wide figures hide: the room on each host now, what vSphere HA's
admission control holds back, whether a flavor fits a host, and how uniform the CPUs are.

Nova reports a cluster as one hypervisor: its free memory is the sum over the hosts,
and placement caps a flavor only at the largest host's total (``max_unit``). An
instance still runs on one host: without overcommitting memory it needs a host
whose free memory holds it now. All of it is computed from the inventory snapshot,
over the hosts Nova counts (connected, out of maintenance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from vmwctl.nova.rules import MIB
from vmwctl.vsphere.model import Cluster, HaAdmission, Host, Inventory


@dataclass
class HostRoom:
    name: str
    moid: str
    threads: int
    memory_mb: int  # floored per host, as Nova counts it
    free_mb: int  # memory_mb less quickStats.overallMemoryUsage (never below 0)
    failover: bool  # an HA failover host: vSphere places no VM on it


@dataclass
class Largest:
    """The largest instance one host takes now without overcommitting memory."""

    host: str
    memory_mb: int
    vcpus: int  # the host's threads: no VM has more vCPUs than its host has


@dataclass
class HaReserve:
    """What HA's admission control holds back (docs/cluster.md "Headroom")."""

    enabled: bool
    policy: str | None
    memory_mb: int = 0
    cpu_percent: int | None = None
    failover_hosts: list[str] = field(default_factory=list)  # names
    failover_level: int | None = None
    detail: str = ""

    @property
    def keeps_hosts(self) -> bool:
        """Enforced failover hosts: vSphere places no VM on them."""
        return self.enabled and self.policy == "failover-hosts"


@dataclass
class Headroom:
    hosts: list[HostRoom]
    free_mb: int  # over the counted hosts
    largest_now: Largest | None
    ha: HaReserve
    free_mb_after_ha: int
    largest_after_ha: Largest | None


def host_rooms(hosts: Iterable[Host], failover: set[str] = frozenset()) -> list[HostRoom]:
    """The hosts Nova counts, each with its free memory now."""
    rooms = []
    for host in sorted(hosts, key=lambda h: h.name):
        if not host.usable:
            continue
        memory_mb = host.memory_bytes // MIB
        rooms.append(HostRoom(host.name, host.moid, host.cpu_threads, memory_mb,
                              max(0, memory_mb - host.memory_usage_mb), host.moid in failover))
    return rooms


def _largest(rooms: Iterable[HostRoom], cap: int | None = None) -> Largest | None:
    best = max(rooms, key=lambda r: (r.free_mb, r.threads), default=None)
    if best is None:
        return None
    memory = best.free_mb if cap is None else min(best.free_mb, cap)
    return Largest(best.name, max(0, memory), best.threads)


def ha_reserve(admission: HaAdmission | None, rooms: list[HostRoom],
               names: dict[str, str], *, ha_enabled: bool | None = True) -> HaReserve:
    """The memory HA's admission control holds back, by its policy.

    failover-hosts: the failover hosts whole; percentage: that share of the counted
    memory; slots (host failures tolerated): the memory of that many of the largest
    hosts, the failures the slots must survive.
    """
    if admission is None or not admission.enabled:
        why = "admission control is off" if ha_enabled else "HA is off"
        return HaReserve(False, admission.policy if admission else None, detail=why)
    total = sum(r.memory_mb for r in rooms)
    reserve = HaReserve(True, admission.policy, failover_level=admission.failover_level)
    if admission.policy == "failover-hosts":
        held = [r for r in rooms if r.failover]
        reserve.failover_hosts = sorted(names.get(m, m) for m in admission.failover_hosts)
        reserve.memory_mb = sum(r.memory_mb for r in held)
        reserve.detail = (f"failover hosts {', '.join(reserve.failover_hosts) or 'none'} "
                          "take no VMs")
    elif admission.policy == "percentage":
        percent = admission.memory_percent or 0
        reserve.cpu_percent = admission.cpu_percent
        reserve.memory_mb = math.ceil(total * percent / 100)
        reserve.detail = (f"{percent}% of memory and {admission.cpu_percent or 0}% of CPU "
                          "held for failover")
    elif admission.policy == "slots":
        level = admission.failover_level or 0
        reserve.memory_mb = sum(sorted((r.memory_mb for r in rooms), reverse=True)[:level])
        slot = (f", slots of {admission.slot_memory_mb:,} MB" if admission.slot_memory_mb
                else "")
        reserve.detail = (f"{level} host failure{'s' if level != 1 else ''} tolerated "
                          f"(slot policy{slot}): the largest {level} held")
    else:
        reserve.enabled = False
        reserve.detail = (f"admission control policy {admission.policy_type or 'unknown'} "
                          "not understood: nothing counted as held")
    return reserve


def headroom(inventory: Inventory, cluster: Cluster) -> Headroom:
    admission = cluster.ha_admission
    failover = set(admission.failover_hosts) if admission and admission.enabled and \
        admission.policy == "failover-hosts" else set()
    rooms = host_rooms(inventory.cluster_hosts(cluster), failover)
    names = {h.moid: h.name for h in inventory.hosts.values()}
    reserve = ha_reserve(admission, rooms, names, ha_enabled=cluster.ha_enabled)
    free = sum(r.free_mb for r in rooms)
    if reserve.keeps_hosts:
        placeable = [r for r in rooms if not r.failover]
        after = sum(r.free_mb for r in placeable)
        largest_after = _largest(placeable)
    else:
        after = max(0, free - reserve.memory_mb) if reserve.enabled else free
        largest_after = _largest(rooms, after)
    return Headroom(rooms, free, _largest(rooms), reserve, after, largest_after)


# ------------------------------------------------------------------ flavors

@dataclass(frozen=True)
class Flavor:
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclass
class FlavorFit:
    """``cluster fit`` for one flavor; JSON keys documented in docs/cluster.md."""

    flavor: Flavor
    accepted: bool  # Nova (placement and the node's free figures) takes it
    refused: list[str]  # why Nova does not
    hosts: list[str]  # where it fits now without overcommitting memory
    fit_now: int  # how many fit now
    hosts_after_ha: list[str]
    fit_after_ha: int
    verdict: str  # fits | refused | overcommit | drs-moves | ha-refuses
    detail: str

    @property
    def trouble(self) -> bool:
        """Nova takes it, and it fits nowhere as things are: exit status 1."""
        return self.accepted and self.verdict != "fits"


def _per_host(flavor: Flavor, room: HostRoom) -> int:
    if flavor.vcpus > room.threads:
        return 0
    return room.free_mb // flavor.ram_mb if flavor.ram_mb else 0


def fit_flavor(flavor: Flavor, room: Headroom, *, vcpus_free: int, vcpus_max: int,
               memory_free: int, memory_max: int, disk_free_gb: int,
               disk_max_gb: int) -> FlavorFit:
    """Whether Nova accepts ``flavor`` (its max_unit and free figures) and where it fits."""
    refused = []
    for asked, resource, unit, most, free, where in (
            (flavor.vcpus, "VCPU", "vCPUs", vcpus_max, vcpus_free, "free"),
            (flavor.ram_mb, "MEMORY_MB", "MB", memory_max, memory_free, "the node's free"),
            (flavor.disk_gb, "DISK_GB", "GB disk", disk_max_gb, disk_free_gb,
             "the datastore's free")):
        if asked > most:
            refused.append(f"{asked:,} {unit} > {resource} max_unit {most:,}")
        elif asked > free:
            refused.append(f"{asked:,} {unit} > {where} {free:,}")
    counts = {r.name: _per_host(flavor, r) for r in room.hosts}
    disk_cap = disk_free_gb // flavor.disk_gb if flavor.disk_gb else None
    hosts = sorted(name for name, n in counts.items() if n)
    fit_now = _capped(sum(counts.values()), disk_cap)
    ha = room.ha
    where = "non-failover " if ha.keeps_hosts else ""
    if ha.keeps_hosts:
        after = [r for r in room.hosts if not r.failover]
        hosts_after = sorted(r.name for r in after if counts[r.name])
        fit_after = _capped(sum(counts[r.name] for r in after), disk_cap)
    else:
        after = room.hosts
        hosts_after = hosts
        fit_after = min(fit_now, room.free_mb_after_ha // flavor.ram_mb) if flavor.ram_mb \
            else 0
        if fit_after == 0:
            hosts_after = []
    fit = FlavorFit(flavor, not refused, refused, hosts, fit_now, hosts_after, fit_after,
                    "fits", "")
    if refused:
        fit.verdict, fit.detail = "refused", "Nova refuses it: " + "; ".join(refused)
    elif fit_after:
        fit.detail = (f"fits {fit_now} now on {', '.join(hosts)}"
                      + (f"; {fit_after} after HA's reserve" if ha.enabled else ""))
    elif (not hosts or ha.keeps_hosts) and sum(r.free_mb for r in after
                                               if flavor.vcpus <= r.threads) >= flavor.ram_mb:
        fit.verdict = "drs-moves"
        fit.detail = (f"no {where}host has {flavor.ram_mb:,} MB free, though together "
                      "they have: DRS will have to move VMs to make room, or the instance "
                      "boots by overcommitting memory")
    elif not hosts or ha.keeps_hosts:
        fit.verdict = "overcommit"
        fit.detail = (f"no {where}host has {flavor.ram_mb:,} MB free, nor do they "
                      "together: the instance boots by overcommitting memory")
    else:
        fit.verdict = "ha-refuses"
        fit.detail = (f"fits now on {', '.join(hosts)} only in the "
                      f"{ha.memory_mb:,} MB HA holds back ({ha.detail}): vSphere HA's "
                      "admission control refuses to power it on")
    return fit


def _capped(count: int, cap: int | None) -> int:
    return count if cap is None else min(count, cap)


# ------------------------------------------------------------------ CPU uniformity

@dataclass
class CpuUniformity:
    """JSON keys documented in docs/cluster.md (``cpu``)."""

    evc_mode: str | None
    models: dict[str, list[str]]  # CPU model -> the counted hosts with it
    feature_levels: dict[str, list[str]]  # maxEVCModeKey -> hosts ("unknown" when unset)
    uniform: bool  # one model and one feature level

    @property
    def masked(self) -> bool:
        """EVC presents one CPU to every VM whatever the hosts' models."""
        return self.evc_mode is not None


def cpu_uniformity(inventory: Inventory, cluster: Cluster) -> CpuUniformity:
    models: dict[str, list[str]] = {}
    levels: dict[str, list[str]] = {}
    for host in sorted(inventory.cluster_hosts(cluster), key=lambda h: h.name):
        if host.connection_state != "connected":
            continue
        models.setdefault(host.cpu_model or "unknown", []).append(host.name)
        levels.setdefault(host.max_evc_mode or "unknown", []).append(host.name)
    return CpuUniformity(cluster.evc_mode, models, levels,
                         len(models) <= 1 and len(levels) <= 1)
