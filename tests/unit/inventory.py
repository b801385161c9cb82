"""Inventories for unit tests, built from the real dataclasses of ``vmwctl.vsphere.model``.

In the style of python-openstackclient's ``create_one_*`` fakes: each
``make_*`` returns a real model object with sensible defaults, so that a test
states only what it is about. Nothing here imitates pyVmomi: these are the
plain values ``vmwctl.vsphere.snapshot`` would have read from a vCenter.

Defaults: a vCenter 8.0.2 with one datacenter ``DC0``; ``make_cluster()`` is
cluster ``C0`` with DRS fully automated, three connected ESXi 6.7 hosts
(``C0_H0``..``C0_H2``, port group ``br-int``, the guide's VNC ruleset open)
and one VMFS datastore ``shared`` mounted and accessible on every host.
Moids are derived from names (``host-C0_H0``, ``datastore-shared``...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vmwctl.checks.model import Context, FirewallData
from vmwctl.nova.rules import GIB, GUIDE_VNC_RANGE, MIB, compile_regex
from vmwctl.profile.load import build_profile
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import (
    Cluster,
    Datacenter,
    Datastore,
    DistributedSwitch,
    Endpoint,
    FirewallRule,
    FirewallRuleset,
    Host,
    Inventory,
    Mount,
    Network,
    VirtualMachine,
)

VC_URL = "https://vc.example.test:443/sdk"
VC_UUID = "5fa1c0de-0000-4000-8000-00000000c0de"


def make_profile(**sections: Any) -> Profile:
    """A validated profile: ``make_profile(vmware={"datastore_regex": "nfs"}, vnc=...)``."""
    return build_profile("unit", sections)


def make_ruleset(key: str = "vnc", *ranges: tuple[int, int], enabled: bool = True,
                 all_ip: bool = True, direction: str = "inbound",
                 protocol: str = "tcp") -> FirewallRuleset:
    """An ESXi firewall ruleset opening ``ranges`` (default: the guide's 5900-6105)."""
    rules = [FirewallRule(first, last if last != first else None, direction, protocol, "dst")
             for first, last in ranges or (GUIDE_VNC_RANGE,)]
    return FirewallRuleset(key, enabled, rules, all_ip)


def make_endpoint(*, version: str = "8.0.2", api_type: str = "VirtualCenter",
                  product: str = "VMware vCenter Server 8.0.2 build-22385739",
                  instance_uuid: str | None = VC_UUID, url: str = VC_URL) -> Endpoint:
    name = "VMware vCenter Server" if api_type == "VirtualCenter" else "VMware ESXi"
    return Endpoint(url=url, name=name, product=product, api_type=api_type, version=version,
                    build="22385739", instance_uuid=instance_uuid)


def make_host(name: str, *, connection_state: str = "connected",
              in_maintenance: bool | None = False, version: str = "6.7.0",
              cpu_threads: int = 16, memory_mb: int = 65536, memory_usage_mb: int = 4096,
              networks: Sequence[str] = ("br-int",),
              firewall: list[FirewallRuleset] | None = None) -> Host:
    """A host (its parent is set by ``make_cluster``); ``firewall`` defaults to the VNC ruleset."""
    return Host(moid=f"host-{name}", name=name, parent=None, connection_state=connection_state,
                in_maintenance=in_maintenance, version=version, build="1", product="VMware ESXi",
                cpu_threads=cpu_threads, memory_bytes=memory_mb * MIB,
                memory_usage_mb=memory_usage_mb,
                networks=[f"network-{n}" for n in networks],
                firewall=[make_ruleset()] if firewall is None else firewall)


def make_portgroup(name: str, *, switch: str = "DVS0", binding: str | None = "earlyBinding"
                   ) -> Network:
    """A distributed port group of ``switch``; hosts list it as ``networks=[name]``."""
    return Network(f"network-{name}", name, "DistributedVirtualPortgroup",
                   switch=f"dvs-{switch}", key=f"dvportgroup-{name}", binding=binding)


def make_opaque_network(name: str, *, opaque_id: str | None = None,
                        opaque_type: str = "nsx.LogicalSwitch") -> Network:
    """An NSX opaque network; hosts list it as ``networks=[name]``."""
    return Network(f"network-{name}", name, "OpaqueNetwork", opaque_id=opaque_id or name,
                   opaque_type=opaque_type)


def make_switch(name: str = "DVS0", *, hosts: Iterable[Host] = ()) -> DistributedSwitch:
    """A distributed switch whose members are ``hosts``."""
    return DistributedSwitch(f"dvs-{name}", name, f"uuid-{name}", [h.moid for h in hosts])


def make_datastore(name: str, *, type: str | None = "VMFS", capacity_gb: int = 1000,
                   free_gb: int = 600, accessible: bool = True,
                   maintenance_mode: str | None = "normal", url: str | None = None,
                   mounted_on: Iterable[Host] | None = None,
                   inaccessible_on: Iterable[Host] = ()) -> Datastore:
    """A datastore; ``mounted_on`` None mounts it on every host of the clusters it joins."""
    ds = Datastore(moid=f"datastore-{name}", name=name, type=type,
                   capacity=capacity_gb * GIB, free_space=free_gb * GIB, accessible=accessible,
                   maintenance_mode=maintenance_mode,
                   url=url or f"ds:///vmfs/volumes/{name}/", browser=f"browser-{name}",
                   datacenter="datacenter-DC0")
    for host in mounted_on or ():
        ds.mounts.append(Mount(host.moid, True, True, "readWrite"))
    for host in inaccessible_on:
        ds.mounts.append(Mount(host.moid, True, False, "readWrite"))
    # not a field of the model: only make_cluster reads it
    ds.everywhere = mounted_on is None and not ds.mounts  # type: ignore[attr-defined]
    return ds


def make_vm(name: str, *, host: Host | None = None, datastores: Iterable[Datastore] = (),
            nova_uuid: str | None = None, vmwctl_marker: str | None = None,
            vnc_port: int | str | None = None, managed_by: str | None = None) -> VirtualMachine:
    """A VM Nova did not create, unless it has a ``nova_uuid`` (or Nova's ``managed_by``);
    ``vnc_port``: the RemoteDisplay.vnc.port it holds."""
    stores = list(datastores)
    return VirtualMachine(moid=f"vm-{name}", name=name, host=host.moid if host else None,
                          datastores=[d.moid for d in stores], power_state="poweredOn",
                          nova_uuid=nova_uuid, vmwctl_marker=vmwctl_marker,
                          vnc_port=None if vnc_port is None else str(vnc_port),
                          path=f"[{stores[0].name}] {name}/{name}.vmx" if stores else None,
                          managed_by=managed_by)


def make_cluster(name: str = "C0", *, hosts: Sequence[Host] | None = None,
                 datastores: Sequence[Datastore] | None = None, datacenter: str | None = "DC0",
                 drs_enabled: bool | None = True, drs_behavior: str | None = "fullyAutomated",
                 ha_enabled: bool | None = True, moid: str | None = None) -> Cluster:
    """A cluster with its hosts and datastores (kept on it for ``make_inventory``)."""
    hosts = [make_host(f"{name}_H{i}") for i in range(3)] if hosts is None else list(hosts)
    datastores = [make_datastore("shared")] if datastores is None else list(datastores)
    moid = moid or f"domain-{name}"
    for host in hosts:
        host.parent = moid
    for ds in datastores:
        if getattr(ds, "everywhere", False):
            ds.mounts += [Mount(h.moid, True, True, "readWrite") for h in hosts]
        for mount in ds.mounts:
            for host in hosts:
                if host.moid == mount.host and ds.moid not in host.datastores:
                    host.datastores.append(ds.moid)
    cluster = Cluster(moid=moid, name=name,
                      datacenter=f"datacenter-{datacenter}" if datacenter else None,
                      path=f"/{datacenter or 'folder'}/host/{name}",
                      hosts=[h.moid for h in hosts], datastores=[d.moid for d in datastores],
                      networks=sorted({n for h in hosts for n in h.networks}),
                      resource_pool=f"resgroup-{name}", drs_enabled=drs_enabled,
                      drs_behavior=drs_behavior, ha_enabled=ha_enabled)
    # not a field of the model: only make_inventory reads it
    cluster.members = (hosts, datastores)  # type: ignore[attr-defined]
    return cluster


def make_inventory(*clusters: Cluster, hosts: Iterable[Host] = (),
                   datastores: Iterable[Datastore] = (), vms: Iterable[VirtualMachine] = (),
                   datacenters: Iterable[str] = ("DC0",),
                   endpoint: Endpoint | None = None, networks: Iterable[Network] = (),
                   switches: Iterable[DistributedSwitch] = ()) -> Inventory:
    """An inventory of the clusters (default: one ``make_cluster()``), their hosts and
    datastores, and the standalone ``hosts``, ``datastores`` and ``vms`` given. The hosts'
    networks are standard port groups unless ``networks`` says otherwise."""
    inventory = Inventory(endpoint=endpoint or make_endpoint())
    for name in datacenters:
        moid = f"datacenter-{name}"
        inventory.datacenters[moid] = Datacenter(moid, name, f"/{name}", f"group-v-{name}")
    all_hosts, all_stores = list(hosts), list(datastores)
    for cluster in clusters or (make_cluster(),):
        inventory.clusters[cluster.moid] = cluster
        members, stores = cluster.members  # type: ignore[attr-defined]
        all_hosts += members
        all_stores += stores
    for host in all_hosts:
        inventory.hosts[host.moid] = host
        for moid in host.networks:
            inventory.networks[moid] = Network(moid, moid.removeprefix("network-"), "Network")
    for network in networks:
        inventory.networks[network.moid] = network
    for switch in switches:
        inventory.switches[switch.moid] = switch
    for ds in all_stores:
        inventory.datastores[ds.moid] = ds
    for vm in vms:
        inventory.vms[vm.moid] = vm
    return inventory


def make_context(inventory: Inventory | None = None, *, profile: Profile | None = None,
                 cluster_name: str | None = "C0", portgroup: str | None = None,
                 network_model: str | None = None) -> Context:
    """What ``run_prereqs`` builds: the cluster is set when exactly one has the name."""
    inventory = inventory if inventory is not None else make_inventory()
    profile = profile or make_profile()
    found = inventory.clusters_named(cluster_name) if cluster_name else []
    return Context(inventory=inventory, profile=profile, cluster_name=cluster_name,
                   cluster=found[0] if len(found) == 1 else None,
                   regex=compile_regex(profile.vmware.datastore_regex), portgroup=portgroup,
                   network_model=network_model)


def firewall_data(hosts: Iterable[Host]) -> FirewallData:
    """What ``read_firewalls`` returns for these hosts: their rulesets, by moid."""
    return FirewallData({h.moid: h.firewall for h in hosts if h.firewall is not None})
