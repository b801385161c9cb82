"""A snapshot of the vCenter inventory as plain data (no pyVmomi objects).

Checks, cluster reports, the image cache and spawn all work on these
dataclasses; :mod:`vmwctl.vsphere.snapshot` fills them with a few
PropertyCollector reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vmwctl.errors import UsageError

# extraConfig keys: Nova's instance marker, vmwctl's spawn marker, Nova's VNC port, and
# vmwctl audit clean's mark of a VM found orphaned (when, and its power state then).
NOVA_VM_KEY = "nvp.vm-uuid"
VMWCTL_VM_KEY = "vmwctl.spawned"
VNC_PORT_KEY = "RemoteDisplay.vnc.port"
ORPHAN_KEY = "vmwctl.audit.orphaned"


@dataclass
class FirewallRule:
    port: int
    end_port: int | None
    direction: str  # inbound | outbound
    protocol: str  # tcp | udp
    port_type: str | None  # dst | src


@dataclass
class FirewallRuleset:
    key: str
    enabled: bool
    rules: list[FirewallRule]
    all_ip: bool = True


@dataclass
class Host:
    moid: str
    name: str
    parent: str | None  # the cluster's (or standalone compute resource's) moid
    connection_state: str
    in_maintenance: bool | None
    version: str | None
    build: str | None
    product: str | None
    cpu_threads: int
    memory_bytes: int
    memory_usage_mb: int
    datastores: list[str] = field(default_factory=list)
    cpu_model: str | None = None  # summary.hardware.cpuModel
    max_evc_mode: str | None = None  # summary.maxEVCModeKey: the CPU's feature level
    networks: list[str] = field(default_factory=list)
    firewall: list[FirewallRuleset] | None = None

    @property
    def usable(self) -> bool:
        """Connected and not in maintenance: what Nova counts (None counts as in maintenance)."""
        return self.connection_state == "connected" and self.in_maintenance is False


@dataclass
class Mount:
    host: str
    mounted: bool
    accessible: bool
    access_mode: str | None


@dataclass
class Datastore:
    moid: str
    name: str
    type: str | None
    capacity: int
    free_space: int
    accessible: bool
    maintenance_mode: str | None
    url: str | None
    mounts: list[Mount] = field(default_factory=list)
    browser: str | None = None  # the HostDatastoreBrowser's moid
    datacenter: str | None = None  # moid


@dataclass
class HaAdmission:
    """vSphere HA's admission control (``configurationEx.dasConfig``)."""

    enabled: bool  # admission control enforced (HA on and admissionControlEnabled)
    policy: str | None  # failover-hosts | percentage | slots; None: none or not understood
    policy_type: str | None = None  # the vSphere type name, e.g. for one not understood
    failover_level: int | None = None  # host failures tolerated
    failover_hosts: list[str] = field(default_factory=list)  # moids
    cpu_percent: int | None = None
    memory_percent: int | None = None
    slot_cpu_mhz: int | None = None  # a fixed slot size, when the slot policy sets one
    slot_memory_mb: int | None = None


@dataclass
class Cluster:
    moid: str
    name: str
    datacenter: str | None  # moid
    path: str
    hosts: list[str] = field(default_factory=list)
    datastores: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    resource_pool: str | None = None
    drs_enabled: bool | None = None
    drs_behavior: str | None = None
    ha_enabled: bool | None = None
    ha_admission: HaAdmission | None = None
    evc_mode: str | None = None  # summary.currentEVCModeKey


@dataclass
class Datacenter:
    moid: str
    name: str
    path: str
    vm_folder: str | None = None  # moid


@dataclass
class VirtualMachine:
    moid: str
    name: str
    host: str | None
    datastores: list[str]
    power_state: str | None
    nova_uuid: str | None
    vmwctl_marker: str | None
    vnc_port: str | None
    template: bool = False
    path: str | None = None  # config.files.vmPathName: [ds] folder/name.vmx
    managed_by: str | None = None  # config.managedBy.extensionKey: the extension managing it
    orphan_mark: str | None = None  # ORPHAN_KEY's value: JSON {"since", "power"}


@dataclass
class Network:
    moid: str
    name: str
    kind: str  # Network | DistributedVirtualPortgroup | OpaqueNetwork
    switch: str | None = None  # a DV port group's switch (moid)
    key: str | None = None  # a DV port group's key
    binding: str | None = None  # a DV port group's port binding: earlyBinding | ephemeral | ...
    opaque_id: str | None = None  # an opaque network's id and type, as NSX gives them
    opaque_type: str | None = None


@dataclass
class DistributedSwitch:
    moid: str
    name: str
    uuid: str | None
    hosts: list[str] = field(default_factory=list)  # the member hosts' moids


@dataclass
class PhysicalNic:
    """A host's physical NIC; link_speed_mb is None when it has no link."""

    device: str
    link_speed_mb: int | None


@dataclass
class Endpoint:
    url: str
    name: str  # about.name, what Nova reports as hypervisor_type
    product: str
    api_type: str
    version: str
    build: str
    instance_uuid: str | None


class UnknownCluster(UsageError):
    """No cluster, or more than one, has the name (exit 2): the message lists the clusters that
    exist, or the paths of the namesakes."""

    def __init__(self, name: str, matches: list[Cluster], known: list[str]) -> None:
        if matches:
            message = (f"{len(matches)} clusters are named {name!r}: "
                       f"{', '.join(sorted(c.path for c in matches))}")
        else:
            message = f"no cluster named {name!r} (clusters: {', '.join(known) or 'none'})"
        super().__init__(message)
        self.name = name
        self.matches = matches


@dataclass
class Inventory:
    """Everything one command needs to know about the vCenter, read at once."""

    endpoint: Endpoint
    datacenters: dict[str, Datacenter] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    datastores: dict[str, Datastore] = field(default_factory=dict)
    vms: dict[str, VirtualMachine] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    switches: dict[str, DistributedSwitch] = field(default_factory=dict)
    # moid -> pyVmomi reference, for the calls that follow the snapshot
    refs: dict[str, Any] = field(default_factory=dict, repr=False,
                                 metadata={"internal": True})
    # A read scoped to one cluster (its moid): every cluster's name and the tree are
    # known, but only that cluster's hosts, datastores, networks and the VMs on them.
    scope: str | None = None
    # In a scoped read, every VM of the vCenter with its VNC port only (read apart, when a
    # VNC verdict needs it: Nova hands out ports per vCenter).
    vnc_holders: list[VirtualMachine] | None = field(default=None, repr=False,
                                                     metadata={"internal": True})
    # Whether ``vms`` is every VM of the vCenter with its VNC port: False after a read of
    # fewer VM properties, or of none, which a VNC verdict must not take as "no port held".
    vms_hold_vnc_ports: bool = field(default=True, repr=False, metadata={"internal": True})

    @property
    def vnc_ports_known(self) -> bool:
        """Every VM's VNC port is known: read apart, or in a whole read of the VMs."""
        return self.vnc_holders is not None or (self.scope is None and self.vms_hold_vnc_ports)

    def vnc_vms(self) -> list[VirtualMachine]:
        """The VMs whose VNC ports count: every VM of the vCenter."""
        if self.vnc_holders is not None:
            return self.vnc_holders
        if not self.vnc_ports_known:
            raise RuntimeError("this inventory's VNC ports were not read "
                               "(vmwctl.vsphere.snapshot.read_vnc_holders)")
        return list(self.vms.values())

    def clusters_named(self, name: str) -> list[Cluster]:
        return [c for c in self.clusters.values() if c.name == name]

    def cluster_named(self, name: str) -> Cluster:
        """The one cluster of that name; :class:`UnknownCluster` when none or several."""
        found = self.clusters_named(name)
        if len(found) != 1:
            raise UnknownCluster(name, found, sorted({c.name for c in self.clusters.values()}))
        return found[0]

    def cluster_hosts(self, cluster: Cluster) -> list[Host]:
        return [self.hosts[m] for m in cluster.hosts if m in self.hosts]

    def cluster_networks(self, cluster: Cluster) -> list[Network]:
        """The cluster's networks in vCenter's order (the order Nova's lookup walks)."""
        return [self.networks[m] for m in cluster.networks if m in self.networks]

    def host_networks(self, host: Host) -> list[Network]:
        return [self.networks[m] for m in host.networks if m in self.networks]

    def cluster_datastores(self, cluster: Cluster) -> list[Datastore]:
        return [self.datastores[m] for m in cluster.datastores if m in self.datastores]

    def datacenter_of(self, datastore: Datastore) -> Datacenter:
        """The datacenter that holds the datastore (the only one, when the read did not say)."""
        if datastore.datacenter in self.datacenters:
            return self.datacenters[datastore.datacenter]
        return next(iter(self.datacenters.values()))
