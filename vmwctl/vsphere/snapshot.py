"""Reading the inventory snapshot: one ContainerView, one paged property read.

Every managed object type a command needs is read in the same
RetrievePropertiesEx call, so a snapshot costs CreateContainerView, one
request per page of 1,000 objects, and DestroyView, whatever the size of the
inventory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyVmomi import vim

from vmwctl.vsphere import model
from vmwctl.vsphere.inventory import ObjectRecord, collect, collect_cluster, read_objects
from vmwctl.vsphere.session import VCenter

_VM_KEYS = (model.NOVA_VM_KEY, model.VMWCTL_VM_KEY, model.VNC_PORT_KEY, model.ORPHAN_KEY)

PROPERTIES: dict[type, list[str]] = {
    vim.Datacenter: ["name", "parent", "vmFolder"],
    vim.Folder: ["name", "parent"],
    vim.ClusterComputeResource: ["name", "parent", "host", "datastore", "network",
                                 "resourcePool", "configurationEx",
                                 "summary.currentEVCModeKey"],
    vim.HostSystem: ["name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
                     "summary.config.product", "summary.hardware.numCpuThreads",
                     "summary.hardware.memorySize", "summary.quickStats.overallMemoryUsage",
                     "summary.hardware.cpuModel", "summary.maxEVCModeKey",
                     "datastore", "network"],
    vim.Datastore: ["summary", "host", "browser", "parent"],
    vim.Network: ["name"],
    vim.dvs.DistributedVirtualPortgroup: ["key", "config.type", "config.distributedVirtualSwitch"],
    vim.OpaqueNetwork: ["summary.opaqueNetworkId", "summary.opaqueNetworkType"],
    vim.DistributedVirtualSwitch: ["name", "uuid", "summary.hostMember"],
    vim.VirtualMachine: ["name", "runtime.host", "datastore", "runtime.powerState",
                         "config.template", "config.files.vmPathName", "config.managedBy",
                         *[f'config.extraConfig["{key}"]' for key in _VM_KEYS]],
}


# Finding a cluster by name: every cluster's name, the tree above it, and the DV switches
# (few, and their member hosts name the cluster's).
_TREE: dict[type, list[str]] = {
    vim.Datacenter: PROPERTIES[vim.Datacenter],
    vim.Folder: PROPERTIES[vim.Folder],
    vim.ClusterComputeResource: ["name", "parent"],
    vim.DistributedVirtualSwitch: PROPERTIES[vim.DistributedVirtualSwitch],
}
_TREE_ONLY = (vim.Datacenter, vim.Folder, vim.DistributedVirtualSwitch)
# What telling whose a VM is (vmwctl.nova.owners) and where it runs needs: the VM
# properties of a command that only counts VMs per host and owner (cluster inspect).
# The VMs' properties are most of what a read costs to parse.
VM_OWNERS = ["name", "runtime.host", "config.template", "config.managedBy",
             *[f'config.extraConfig["{key}"]' for key in (model.NOVA_VM_KEY,
                                                          model.VMWCTL_VM_KEY)]]
# What the cache commands read of the cluster: its datastores, as Nova's datastore filter
# and the datastore browser and file manager need them. Which VM uses which cached image is
# read apart, vCenter-wide (vmwctl.cache.usage.folder_users): no hosts, networks or VMs.
CACHE = {vim.ClusterComputeResource: ["name", "parent", "datastore", "resourcePool"],
         vim.Datastore: ["summary", "browser", "parent"]}
# check nova-conf: the cluster, its hosts, datastores and networks; no VM (the VNC ports
# every VM holds are read apart, read_vnc_holders).
NO_VMS = {kind: paths for kind, paths in PROPERTIES.items() if kind is not vim.VirtualMachine}
# What check fleet needs of a whole vCenter besides the tree: each cluster's path and
# datastores, and what Nova's datastore filter looks at (the summary). No hosts, VMs or
# networks.
FLEET: dict[type, list[str]] = {
    vim.Datacenter: ["name", "parent"],
    vim.Folder: ["name", "parent"],
    vim.ClusterComputeResource: ["name", "parent", "datastore"],
    vim.Datastore: ["summary", "parent"],
}
# vm spawn: the names only (a name taken is refused before anything is made); it reads the
# VNC ports of the whole vCenter apart, under its lock.
VM_SPAWN = ["name"]
# check prereqs, read scoped: whose each VM is, its host and datastores (dedicated); with
# --probe-console also what picks a VM to ask a ticket for. The VNC ports come from
# read_vnc_holders, vCenter-wide. Each VM property costs about as much to parse as the VM.
VM_PREREQS = [path for path in VM_OWNERS if path != "config.template"] + ["datastore"]
VM_CONSOLE_PROBE = ["runtime.powerState", "config.template"]


def _moids(refs: Iterable[Any] | None) -> list[str]:
    return [ref._moId for ref in refs or []]


def _option(record: ObjectRecord, key: str) -> str | None:
    option = record.get(f'config.extraConfig["{key}"]')
    return None if option is None else str(option.value)


def read_inventory(vc: VCenter, *, cluster: str | None = None,
                   vm_properties: list[str] | None = None,
                   properties: Mapping[type, list[str]] | None = None) -> model.Inventory:
    """The whole inventory (without host firewalls) in one paged read.

    ``cluster``: the name of the cluster the command is about: then only the tree,
    every cluster's name, and that cluster with its hosts, datastores, networks and
    the VMs on them are read, in two paged reads whose cost does not grow with the
    rest of the vCenter (``Inventory.scope``). A name that matches no cluster, or
    several, gives the tree alone (the lookup then says so). ``vm_properties``: only
    these VM properties (e.g. :data:`VM_OWNERS`); the VMs' other fields stay empty.
    ``properties``: only these kinds besides the tree, with these paths (e.g.
    :data:`CACHE`; default :data:`PROPERTIES`); the kinds left out are not read at all.
    """
    about = vc.content.about
    inventory = model.Inventory(endpoint=model.Endpoint(
        url=vc.settings.url, name=about.name, product=about.fullName, api_type=about.apiType,
        version=about.version, build=about.build, instance_uuid=about.instanceUuid))
    vms = {vim.VirtualMachine: vm_properties} if vm_properties is not None else {}
    kinds = {**(PROPERTIES if properties is None else {**_TREE, **properties}), **vms}
    inventory.vms_hold_vnc_ports = cluster is None and \
        f'config.extraConfig["{model.VNC_PORT_KEY}"]' in kinds.get(vim.VirtualMachine, [])
    if cluster is None:
        records = collect(vc, kinds)
    else:
        records = collect(vc, _TREE)
        named = [r for r in records if r.type == "ClusterComputeResource"
                 and r.get("name") == cluster]
        if len(named) == 1:
            inventory.scope = named[0].moid
            records += collect_cluster(vc, named[0].ref, {
                kind: paths for kind, paths in kinds.items() if kind not in _TREE_ONLY})
    names: dict[str, tuple[str, str | None]] = {}
    for record in records:
        inventory.refs[record.moid] = record.ref
        parent = record.get("parent")
        if record.type in ("Datacenter", "Folder", "ClusterComputeResource"):
            names[record.moid] = (record.get("name"), parent._moId if parent else None)
    datacenters = {r.moid for r in records if r.type == "Datacenter"}
    for record in records:
        _add(inventory, record, names, datacenters)
    return inventory


def _path(moid: str, names: dict[str, tuple[str, str | None]]) -> str:
    """The inventory path, e.g. /DC0/host/Cluster1 (the root folder is not in ``names``)."""
    parts = []
    current: str | None = moid
    while current in names:
        name, current = names[current]
        parts.append(name)
    return "/" + "/".join(reversed(parts))


def _datacenter_of(moid: str, names: dict[str, tuple[str, str | None]],
                   datacenters: set[str]) -> str | None:
    current: str | None = moid
    while current is not None and current in names:
        if current in datacenters:
            return current
        current = names[current][1]
    return None


_POLICIES = {"ClusterFailoverHostAdmissionControlPolicy": "failover-hosts",
             "ClusterFailoverResourcesAdmissionControlPolicy": "percentage",
             "ClusterFailoverLevelAdmissionControlPolicy": "slots"}


def _admission(das: Any) -> model.HaAdmission | None:
    """HA's admission control as plain data (None: no HA configuration read)."""
    if das is None:
        return None
    policy = das.admissionControlPolicy
    type_name = getattr(policy, "_wsdlName", None)
    kind = _POLICIES.get(type_name or "")
    slot = getattr(policy, "slotPolicy", None)
    return model.HaAdmission(
        enabled=bool(das.enabled) and bool(das.admissionControlEnabled), policy=kind,
        policy_type=type_name, failover_level=getattr(policy, "failoverLevel", None),
        failover_hosts=_moids(getattr(policy, "failoverHosts", None)),
        cpu_percent=getattr(policy, "cpuFailoverResourcesPercent", None),
        memory_percent=getattr(policy, "memoryFailoverResourcesPercent", None),
        slot_cpu_mhz=getattr(slot, "cpu", None), slot_memory_mb=getattr(slot, "memory", None))


def _add(inventory: model.Inventory, record: ObjectRecord,
         names: dict[str, tuple[str, str | None]], datacenters: set[str]) -> None:
    kind, moid = record.type, record.moid
    if kind == "Datacenter":
        vm_folder = record.get("vmFolder")
        inventory.datacenters[moid] = model.Datacenter(
            moid, record.get("name"), _path(moid, names),
            vm_folder=vm_folder._moId if vm_folder is not None else None)
    elif kind == "ClusterComputeResource":
        config = record.get("configurationEx")
        drs = getattr(config, "drsConfig", None)
        das = getattr(config, "dasConfig", None)
        pool = record.get("resourcePool")
        if pool is not None:
            inventory.refs[pool._moId] = pool
        inventory.clusters[moid] = model.Cluster(
            moid=moid, name=record.get("name"), datacenter=_datacenter_of(moid, names, datacenters),
            path=_path(moid, names), hosts=_moids(record.get("host")),
            datastores=_moids(record.get("datastore")), networks=_moids(record.get("network")),
            resource_pool=pool._moId if pool else None,
            drs_enabled=getattr(drs, "enabled", None),
            drs_behavior=getattr(drs, "defaultVmBehavior", None),
            ha_enabled=getattr(das, "enabled", None), ha_admission=_admission(das),
            evc_mode=record.get("summary.currentEVCModeKey") or None)
    elif kind == "HostSystem":
        product = record.get("summary.config.product")
        parent = record.get("parent")
        inventory.hosts[moid] = model.Host(
            moid=moid, name=record.get("name"), parent=parent._moId if parent else None,
            connection_state=str(record.get("runtime.connectionState")),
            in_maintenance=record.get("runtime.inMaintenanceMode"),
            version=getattr(product, "version", None), build=getattr(product, "build", None),
            product=getattr(product, "fullName", None),
            cpu_threads=int(record.get("summary.hardware.numCpuThreads") or 0),
            memory_bytes=int(record.get("summary.hardware.memorySize") or 0),
            memory_usage_mb=int(record.get("summary.quickStats.overallMemoryUsage") or 0),
            cpu_model=record.get("summary.hardware.cpuModel") or None,
            max_evc_mode=record.get("summary.maxEVCModeKey") or None,
            datastores=_moids(record.get("datastore")), networks=_moids(record.get("network")))
    elif kind == "Datastore":
        summary = record.get("summary")
        mounts = [model.Mount(host=m.key._moId, mounted=bool(m.mountInfo.mounted),
                              accessible=bool(m.mountInfo.accessible),
                              access_mode=m.mountInfo.accessMode)
                  for m in record.get("host") or []]
        browser = record.get("browser")
        if browser is not None:
            inventory.refs[browser._moId] = browser
        inventory.datastores[moid] = model.Datastore(
            moid=moid, name=summary.name, type=summary.type, capacity=int(summary.capacity or 0),
            free_space=int(summary.freeSpace or 0), accessible=bool(summary.accessible),
            maintenance_mode=summary.maintenanceMode, url=summary.url, mounts=mounts,
            browser=browser._moId if browser is not None else None,
            datacenter=_datacenter_of(record.get("parent")._moId, names, datacenters)
            if record.get("parent") is not None else None)
    elif kind in ("Network", "DistributedVirtualPortgroup", "OpaqueNetwork"):
        switch = record.get("config.distributedVirtualSwitch")
        inventory.networks[moid] = model.Network(
            moid, record.get("name"), kind, switch=switch._moId if switch is not None else None,
            key=record.get("key"), binding=record.get("config.type") or None,
            opaque_id=record.get("summary.opaqueNetworkId"),
            opaque_type=record.get("summary.opaqueNetworkType"))
    elif kind in ("DistributedVirtualSwitch", "VmwareDistributedVirtualSwitch"):
        inventory.switches[moid] = model.DistributedSwitch(
            moid, record.get("name"), record.get("uuid"),
            hosts=_moids(record.get("summary.hostMember")))
    elif kind == "VirtualMachine":
        host = record.get("runtime.host")
        inventory.vms[moid] = model.VirtualMachine(
            moid=moid, name=record.get("name"), host=host._moId if host else None,
            datastores=_moids(record.get("datastore")),
            power_state=record.get("runtime.powerState"),
            nova_uuid=_option(record, model.NOVA_VM_KEY),
            vmwctl_marker=_option(record, model.VMWCTL_VM_KEY),
            vnc_port=_option(record, model.VNC_PORT_KEY),
            template=bool(record.get("config.template")),
            path=record.get("config.files.vmPathName"),
            managed_by=getattr(record.get("config.managedBy"), "extensionKey", None) or None,
            orphan_mark=_option(record, model.ORPHAN_KEY))


def read_physical_nics(vc: VCenter, inventory: model.Inventory,
                       hosts: Iterable[model.Host]) -> dict[str, list[model.PhysicalNic]]:
    """The physical NICs of the given hosts, by host moid (one paged read)."""
    refs = [inventory.refs[h.moid] for h in hosts]
    found: dict[str, list[model.PhysicalNic]] = {}
    for record in read_objects(vc, refs, ["config.network.pnic"]):
        found[record.moid] = [
            model.PhysicalNic(str(nic.device),
                              int(nic.linkSpeed.speedMb) if nic.linkSpeed is not None else None)
            for nic in record.get("config.network.pnic") or []]
    return found


def read_firewalls(vc: VCenter, inventory: model.Inventory,
                   hosts: Iterable[model.Host]) -> dict[str, list[model.FirewallRuleset]]:
    """Fill in the firewall rulesets of the given hosts (one paged read); also return them by
    host moid."""
    hosts = list(hosts)
    found: dict[str, list[model.FirewallRuleset]] = {}
    for record in read_objects(vc, [inventory.refs[h.moid] for h in hosts], ["config.firewall"]):
        info = record.get("config.firewall")
        rulesets = []
        for ruleset in getattr(info, "ruleset", None) or []:
            rules = [model.FirewallRule(port=int(rule.port),
                                        end_port=int(rule.endPort) if rule.endPort else None,
                                        direction=str(rule.direction),
                                        protocol=str(rule.protocol),
                                        port_type=str(rule.portType) if rule.portType else None)
                     for rule in ruleset.rule or []]
            allowed = ruleset.allowedHosts
            rulesets.append(model.FirewallRuleset(
                key=ruleset.key, enabled=bool(ruleset.enabled), rules=rules,
                all_ip=bool(allowed.allIp) if allowed is not None else True))
        inventory.hosts[record.moid].firewall = found[record.moid] = rulesets
    return found


# One small property per VM: pages of 10,000 VMs keep each answer small and save requests.
VNC_PAGE_SIZE = 10_000


def read_vnc_ports(vc: VCenter) -> list[model.VirtualMachine]:
    """Every VM of the vCenter with its VNC port alone (None: it holds none), in one
    vCenter-wide paged read of that one property."""
    key = f'config.extraConfig["{model.VNC_PORT_KEY}"]'
    return [model.VirtualMachine(moid=r.moid, name="", host=None, datastores=[],
                                 power_state=None, nova_uuid=None, vmwctl_marker=None,
                                 vnc_port=_option(r, model.VNC_PORT_KEY))
            for r in collect(vc, {vim.VirtualMachine: [key]}, page_size=VNC_PAGE_SIZE)]


def read_vnc_holders(vc: VCenter, inventory: model.Inventory) -> list[model.VirtualMachine]:
    """Every VM of the vCenter with its VNC port (Nova hands out ports per vCenter): from the
    inventory when it is whole or they were read already, else :func:`read_vnc_ports`."""
    if inventory.vnc_ports_known:
        return inventory.vnc_vms()
    inventory.vnc_holders = read_vnc_ports(vc)
    return inventory.vnc_holders
