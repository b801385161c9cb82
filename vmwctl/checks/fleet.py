"""``check fleet``: several nova-compute services, checked against each other.

Each service is a profile or a nova.conf. Their vCenters are contacted
concurrently (one inventory read each); then the guide's rules that no single
service can see are checked: each vCenter its own availability zone, each
cluster owned by one service, cache folders that do not collide on shared
datastores.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vmwctl.checks.model import CheckReport, CheckResult, failed, passed, skipped, warned
from vmwctl.common.words import plural
from vmwctl.errors import VmwctlError
from vmwctl.nova.rules import cache_folder, compile_regex, valid_datastores
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Inventory
from vmwctl.vsphere.snapshot import FLEET, read_inventory

NOVA_DEFAULT_ZONE = "nova"
FLEET_CHECKS = ("fleet-reachability", "fleet-az", "fleet-cluster-owner", "fleet-cache")
CONTACT_WORKERS = 16


@dataclass
class Service:
    """One nova-compute service: its settings, and what its vCenter said."""

    name: str  # the profile's name, or the nova.conf path
    profile: Profile
    reachable: bool = False
    error: str | None = None
    seconds: float = 0.0
    version: str | None = None
    instance_uuid: str | None = None
    cluster_moref: str | None = None
    cluster_path: str | None = None
    datastores: dict[str, str] = field(default_factory=dict)  # identity -> name

    @property
    def endpoint(self) -> str:
        v = self.profile.vmware
        return f"{v.host_ip}:{v.host_port}"

    @property
    def vcenter(self) -> str:
        """The vCenter's identity: its instance UUID, or its address when it did not answer."""
        return self.instance_uuid or self.endpoint

    @property
    def zone(self) -> str:
        return self.profile.availability_zone or NOVA_DEFAULT_ZONE


def contact(service: Service, open_vcenter: Callable[[Profile], Any]) -> Service:
    """The gather step: log in and read the inventory, then note what it says."""
    started = time.monotonic()
    vc = None
    try:
        vc = open_vcenter(service.profile)
        note_inventory(service, read_inventory(vc, properties=FLEET))
    except VmwctlError as exc:
        service.error = exc.message
    finally:
        service.seconds = round(time.monotonic() - started, 3)
        if vc is not None:
            vc.close()
    return service


def note_inventory(service: Service, inventory: Inventory) -> Service:
    """What the service's vCenter said: its identity, its cluster, the datastores Nova uses."""
    service.reachable = True
    service.version = inventory.endpoint.version
    service.instance_uuid = inventory.endpoint.instance_uuid
    clusters = inventory.clusters_named(service.profile.vmware.cluster_name or "")
    if len(clusters) == 1:
        cluster = clusters[0]
        service.cluster_moref, service.cluster_path = cluster.moid, cluster.path
        regex = compile_regex(service.profile.vmware.datastore_regex)
        for ds in valid_datastores(inventory.cluster_datastores(cluster), regex):
            # a datastore mounted in two vCenters (NFS) has the same URL in both
            key = ds.url if ds.url and "://" in ds.url else f"{service.vcenter}/{ds.moid}"
            service.datastores[key] = ds.name
    return service


def contact_all(services: list[Service], open_vcenter: Callable[[Profile], Any]) -> None:
    """All vCenters at once: ten cost little more than one."""
    if services:
        with ThreadPoolExecutor(max_workers=min(CONTACT_WORKERS, len(services))) as pool:
            list(pool.map(lambda s: contact(s, open_vcenter), services))


def check_reachability(services: list[Service]) -> CheckResult:
    down = [s for s in services if not s.reachable]
    if down:
        detail = "; ".join(f"{s.name} ({s.endpoint}): {s.error}" for s in down)
        return failed("fleet-reachability", f"{len(down)} of {plural(len(services), 'service')} "
                      f"cannot reach their vCenter: {detail}", [s.name for s in down],
                      "check host_ip, host_port, the credentials and the network path")
    detail = ", ".join(f"{s.name} {s.endpoint} (vCenter {s.version}, {s.seconds:.2f} s)"
                       for s in services)
    return passed("fleet-reachability", detail, [s.name for s in services])


def check_zones(services: list[Service]) -> CheckResult:
    """The guide: each vCenter its own availability zone (Cinder's VMDK driver needs it)."""
    by_zone: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    by_vcenter: dict[str, set[str]] = defaultdict(set)
    for s in services:
        by_zone[s.zone][s.vcenter].append(s.name)
        by_vcenter[s.vcenter].add(s.zone)
    shared = {zone: vcs for zone, vcs in by_zone.items() if len(vcs) > 1}
    if shared:
        detail = "; ".join(
            f"zone {zone!r} holds {len(vcs)} vCenters (" + ", ".join(
                f"{'+'.join(names)}" for names in vcs.values()) + ")"
            for zone, vcs in sorted(shared.items()))
        objects = sorted({n for vcs in shared.values() for names in vcs.values() for n in names})
        return failed("fleet-az", detail, objects,
                      "give each vCenter its own availability zone (the profile's "
                      "availability_zone, nova.conf [DEFAULT] default_availability_zone): the "
                      "Block Storage VMDK driver does not work across vCenters")
    spread = {vc: zones for vc, zones in by_vcenter.items() if len(zones) > 1}
    if spread:
        names = {vc: [s.name for s in services if s.vcenter == vc] for vc in spread}
        detail = "; ".join(f"vCenter of {', '.join(names[vc])} spans zones "
                           f"{', '.join(sorted(zones))}" for vc, zones in spread.items())
        return warned("fleet-az", detail, sorted(n for v in names.values() for n in v),
                      "keep one vCenter in one availability zone")
    detail = ", ".join(f"{zone} ({len(vcs)} vCenter)" for zone, vcs in sorted(by_zone.items()))
    return passed("fleet-az", f"each vCenter has its own zone: {detail}", sorted(by_zone))


def check_cluster_owners(services: list[Service]) -> CheckResult:
    """One nova-compute service per cluster: the driver supports a single cluster per service."""
    reachable = [s for s in services if s.reachable]
    if not reachable:
        return skipped("fleet-cluster-owner", "no vCenter answered")
    owners: dict[tuple[str, str], list[Service]] = defaultdict(list)
    missing = []
    for s in reachable:
        if s.cluster_moref is None:
            missing.append(s)
        else:
            owners[(s.vcenter, s.cluster_moref)].append(s)
    claimed = {key: svcs for key, svcs in owners.items() if len(svcs) > 1}
    if claimed:
        detail = "; ".join(f"cluster {svcs[0].cluster_path} ({moref}) is claimed by "
                           f"{', '.join(s.name for s in svcs)}"
                           for (_, moref), svcs in claimed.items())
        return failed("fleet-cluster-owner", detail,
                      sorted(s.name for svcs in claimed.values() for s in svcs),
                      "point each service at a cluster of its own (vmware.cluster_name)")
    if missing:
        detail = ", ".join(f"{s.name} (cluster {s.profile.vmware.cluster_name!r} not found or "
                           "not unique)" for s in missing)
        return failed("fleet-cluster-owner", f"no cluster for {detail}",
                      [s.name for s in missing], "set vmware.cluster_name to an existing cluster")
    return passed("fleet-cluster-owner", f"{plural(len(owners), 'cluster')}, one service each",
                  sorted(f"{s.name}: {s.cluster_path}" for s in reachable))


def check_cache(services: list[Service]) -> CheckResult:
    """Services on a shared datastore need distinct cache folders (or one shared host/FS)."""
    reachable = [s for s in services if s.reachable]
    if not reachable:
        return skipped("fleet-cache", "no vCenter answered")
    collisions, shared_prefix, unknown = [], [], []
    by_datastore: dict[str, list[Service]] = defaultdict(list)
    for s in reachable:
        for key in s.datastores:
            by_datastore[key].append(s)
    for key, sharing in sorted(by_datastore.items()):
        if len(sharing) < 2:
            continue
        ds_name = sharing[0].datastores[key]
        folders: dict[str, list[Service]] = defaultdict(list)
        for s in sharing:
            folder = cache_folder(s.profile)
            if folder is None:
                unknown.append(s.name)
                continue
            folders[folder].append(s)
        for folder, users in folders.items():
            if len(users) < 2:
                continue
            names = ", ".join(u.name for u in users)
            if all(u.profile.vmware.cache_prefix for u in users):
                shared_prefix.append(f"[{ds_name}] {folder} shared by {names} (cache_prefix)")
            else:
                collisions.append(f"[{ds_name}] {folder} used by {names}")
    if collisions:
        return failed("fleet-cache", "cache folders collide: " + "; ".join(collisions),
                      collisions, "give each service its own my_ip, or a cache_prefix they may "
                      "share (only on one host or a shared file system for Nova's locks)")
    if unknown:
        names = sorted(set(unknown))
        return warned("fleet-cache", f"cannot name the cache folder of {', '.join(names)} (no "
                      "my_ip and no cache_prefix)", names, "set DEFAULT.my_ip as on the compute "
                      "node")
    if shared_prefix:
        return warned("fleet-cache", "shared cache folders: " + "; ".join(shared_prefix),
                      shared_prefix, "a shared cache_prefix is safe only when those services "
                      "run on one host or share lock_path on a shared file system")
    shared = sum(1 for sharing in by_datastore.values() if len(sharing) > 1)
    return passed("fleet-cache", f"{shared} shared datastores, every service with its own "
                  "cache folder" if shared else "no datastore is shared between services")


@dataclass
class FleetReport(CheckReport):
    """``check fleet``: the checks, and how many services and vCenters they cover."""

    services: int = 0
    vcenters: int = 0


def run_fleet(services: list[Service], open_vcenter: Callable[[Profile], Any]) -> FleetReport:
    contact_all(services, open_vcenter)
    checks = [check_reachability(services), check_zones(services),
              check_cluster_owners(services), check_cache(services)]
    vcenters = len({s.vcenter for s in services})
    return FleetReport(vcenter=f"{vcenters} vCenters", cluster=f"{len(services)} services",
                       checks=checks, services=len(services), vcenters=vcenters)


def services_from(profiles: Iterable[tuple[str, Profile]]) -> list[Service]:
    return [Service(name, profile) for name, profile in profiles]
