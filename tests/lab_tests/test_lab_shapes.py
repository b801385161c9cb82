"""The lab simulator's shapes of real vCenters, read back as vmwctl reads inventory.

The state flags -agent-vms numbered|uuid (vSphere Cluster Services VMs and an
NSX-T edge, owned by vCenter extensions), -empty-cluster NAME,
-not-responding-host NAME and -foreign-vms N, and -nova-vms's config.managedBy,
give the simulator what vCenters 6.7 to 8.0 and VMware Cloud hold. Each is
read through a ContainerView and paged RetrievePropertiesEx calls
(vmwctl.vsphere.inventory.collect), with vmwctl's own property list
(vmwctl.vsphere.snapshot.PROPERTIES) plus config.managedBy. The recipes of
docs/lab.md's "Shapes of real vCenters" built from older flags are read back
too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import refused_simulator_error
from pyVmomi import vim

from vmwctl.vsphere.inventory import ObjectRecord, collect
from vmwctl.vsphere.snapshot import PROPERTIES

pytestmark = pytest.mark.lab

H0, H1, H2 = "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"
EAM = ("com.vmware.vim.eam", "cluster-agent")
NSXT = ("com.vmware.nsx.management.nsxt", "Edge")
NOVA = ("org.openstack.compute", "instance")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# vmwctl's read, with the one property the lead adds to it (config.managedBy)
VMWCTL_READ = {**PROPERTIES,
               vim.VirtualMachine: [*PROPERTIES[vim.VirtualMachine], "config.managedBy"]}
# what vmwctl does not read, for the details of a shape
DETAILS = {
    vim.VirtualMachine: ["name", "parent", "config.hardware.numCPU", "config.hardware.memoryMB",
                         "summary.config.managedBy", "config.extraConfig"],
    vim.Folder: ["name", "parent"],
    vim.Datacenter: ["name", "vmFolder"],
    vim.HostSystem: ["name", "summary.runtime.connectionState", "config.firewall"],
    vim.ClusterComputeResource: ["name", "summary.numHosts"],
}


class Inventory:
    """vmwctl's read and the details, by moid, type and name."""

    def __init__(self, vc) -> None:
        self.records = collect(vc, VMWCTL_READ)
        self.by_moid = {r.moid: r for r in self.records}
        self.details = {r.moid: r for r in collect(vc, DETAILS)}

    def of(self, kind: str) -> list[ObjectRecord]:
        return [r for r in self.records if r.type == kind]

    def name(self, record: ObjectRecord) -> str:
        return record.get("name") or record.get("summary").name

    def named(self, kind: str, name: str) -> ObjectRecord:
        found = [r for r in self.of(kind) if self.name(r) == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name!r}"
        return found[0]

    def names(self, refs) -> list[str]:
        return [self.name(self.by_moid[ref._moId]) for ref in refs or []]

    def detail(self, record: ObjectRecord, path: str):
        return self.details[record.moid].get(path)

    def vms(self) -> dict[str, ObjectRecord]:
        return {r.get("name"): r for r in self.of("VirtualMachine")}

    def folder_path(self, record: ObjectRecord) -> str:
        """The VM's folder path from its datacenter: DC0/vm/vCLS."""
        parts = []
        ref = self.detail(record, "parent")
        while ref is not None and ref._moId in self.details:
            parent = self.details[ref._moId]
            parts.append(parent.get("name"))
            if parent.type == "Datacenter":
                break
            ref = parent.get("parent")
        return "/".join(reversed(parts))

    def host_of(self, vm: ObjectRecord) -> str:
        return self.name(self.by_moid[vm.get("runtime.host")._moId])

    def cluster_hosts(self, cluster: str) -> list[str]:
        return sorted(self.names(self.named("ClusterComputeResource", cluster).get("host")))


def owner(vm: ObjectRecord) -> tuple[str, str] | None:
    managed = vm.get("config.managedBy")
    return None if managed is None else (managed.extensionKey, managed.type)


def nova_uuid(vm: ObjectRecord) -> str | None:
    option = vm.get('config.extraConfig["nvp.vm-uuid"]')
    return None if option is None else option.value


# ------------------------------------------------------------------ -agent-vms

def test_numbered_vcls_vms_in_every_cluster_with_hosts(simulator) -> None:
    """7.0 U1/U2: vCLS (1), vCLS (2), ... across the vCenter, three per cluster (one per
    host), in DC0/vm/vCLS, on a datastore every host mounts; an empty cluster gets none."""
    sim = simulator("-agent-vms", "numbered", "-cluster", "2", "-empty-cluster", "C-empty",
                    "-add-datastore", "only-h0=NFS:DC0_C0_H0")
    inv = Inventory(sim.connect())

    agents = {n: vm for n, vm in inv.vms().items() if n.startswith("vCLS")}
    assert sorted(agents, key=lambda n: int(n[6:-1])) == [f"vCLS ({i})" for i in range(1, 7)]
    by_cluster: dict[str, list[str]] = {}
    for name, vm in agents.items():
        host = inv.host_of(vm)
        by_cluster.setdefault(host[:6], []).append(host)
        assert owner(vm) == EAM
        assert (inv.detail(vm, "summary.config.managedBy").extensionKey,
                inv.detail(vm, "summary.config.managedBy").type) == EAM
        assert nova_uuid(vm) is None  # the healthy scenario marks the model's VMs only
        assert vm.get("runtime.powerState") == "poweredOn"
        assert (inv.detail(vm, "config.hardware.numCPU"),
                inv.detail(vm, "config.hardware.memoryMB")) == (1, 128)
        assert inv.folder_path(vm) == "DC0/vm/vCLS"
        assert inv.names(vm.get("datastore")) == ["LocalDS_0"], name  # not only-h0
        assert vm.get("config.files.vmPathName") == f"[LocalDS_0] {name}/{name}.vmx"
    # each on another host of its cluster
    assert {c: sorted(h) for c, h in by_cluster.items()} == {
        "DC0_C0": inv.cluster_hosts("DC0_C0"), "DC0_C1": inv.cluster_hosts("DC0_C1")}
    assert inv.named("ClusterComputeResource", "C-empty").get("host") == []
    # vCLS (1)..(3) in the first cluster, (4)..(6) in the second
    assert {inv.host_of(agents[f"vCLS ({i})"])[:6] for i in (1, 2, 3)} == {"DC0_C0"}

    edge = inv.vms()["nsx-edge-01"]
    assert owner(edge) == NSXT
    assert inv.host_of(edge).startswith("DC0_C0_")
    assert edge.get("runtime.powerState") == "poweredOn"
    assert inv.folder_path(edge) == "DC0/vm"
    assert inv.names(edge.get("datastore")) == ["LocalDS_0"]
    # the model's VMs are Nova's (healthy scenario), with Nova's managedBy
    model = [vm for n, vm in inv.vms().items() if "_RP0_VM" in n]
    assert len(model) == 4
    assert all(owner(vm) == NOVA and nova_uuid(vm) for vm in model)


def test_uuid_vcls_vms_one_per_host_of_small_clusters(simulator) -> None:
    """7.0 U3 and 8.0: vCLS-<uuid>; a cluster of two hosts has two; an NSX-T edge per
    datacenter on its first cluster."""
    sim = simulator("-agent-vms", "uuid", "-dc", "2", "-host", "2", scenario="fresh")
    inv = Inventory(sim.connect())

    agents = {n: vm for n, vm in inv.vms().items() if n.startswith("vCLS")}
    assert len(agents) == 4
    assert all(re.fullmatch(f"vCLS-{UUID}", name) for name in agents), sorted(agents)
    hosts = sorted(inv.host_of(vm) for vm in agents.values())
    assert hosts == ["DC0_C0_H0", "DC0_C0_H1", "DC1_C0_H0", "DC1_C0_H1"]
    assert {inv.folder_path(vm) for vm in agents.values()} == {"DC0/vm/vCLS", "DC1/vm/vCLS"}
    assert all(owner(vm) == EAM for vm in agents.values())

    edges = [vm for vm in inv.of("VirtualMachine") if vm.get("name") == "nsx-edge-01"]
    assert sorted(inv.host_of(vm) for vm in edges) == ["DC0_C0_H0", "DC1_C0_H0"]
    assert all(owner(vm) == NSXT and not nova_uuid(vm) for vm in edges)
    # fresh: no VM is Nova's
    assert not any(owner(vm) == NOVA or nova_uuid(vm) for vm in inv.of("VirtualMachine"))


def test_no_agent_vms_by_default(simulator) -> None:
    inv = Inventory(simulator().connect())
    assert sorted(inv.vms()) == ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]
    assert not [f for f in inv.details.values() if f.type == "Folder" and f.get("name") == "vCLS"]


# ------------------------------------------------------------------ -empty-cluster

@pytest.mark.parametrize(("scenario", "drs"), [("healthy", (True, "fullyAutomated")),
                                               ("fresh", (False, "manual"))])
def test_empty_clusters(simulator, scenario: str, drs: tuple) -> None:
    """No host, datastore or network; DRS configured as the scenario's other clusters."""
    sim = simulator("-empty-cluster", "C-empty", "-empty-cluster", "C-spare", scenario=scenario)
    inv = Inventory(sim.connect())

    dc0 = inv.named("Datacenter", "DC0")
    for name in ("C-empty", "C-spare"):
        cluster = inv.named("ClusterComputeResource", name)
        assert cluster.get("host") == []
        assert cluster.get("datastore") == []
        assert cluster.get("network") == []
        assert inv.detail(cluster, "summary.numHosts") == 0
        config = cluster.get("configurationEx").drsConfig
        assert (config.enabled, config.defaultVmBehavior) == drs
        assert cluster.get("resourcePool") is not None
        assert inv.by_moid[cluster.get("parent")._moId].get("name") == "host"
        assert inv.by_moid[inv.by_moid[cluster.get("parent")._moId].get("parent")._moId] is dc0
    other = inv.named("ClusterComputeResource", "DC0_C0").get("configurationEx").drsConfig
    assert (other.enabled, other.defaultVmBehavior) == drs
    assert len(inv.named("ClusterComputeResource", "DC0_C0").get("host")) == 3


# ------------------------------------------------------------------ -not-responding-host

def test_not_responding_and_disconnected_hosts(simulator) -> None:
    sim = simulator("-not-responding-host", H1, "-disconnect-host", H2)
    inv = Inventory(sim.connect())

    states = {inv.name(h): (h.get("runtime.connectionState"),
                            inv.detail(h, "summary.runtime.connectionState"))
              for h in inv.of("HostSystem") if inv.name(h).startswith("DC0_C0")}
    assert states == {H0: ("connected", "connected"), H1: ("notResponding", "notResponding"),
                      H2: ("disconnected", "disconnected")}


# ------------------------------------------------------------------ -foreign-vms, -nova-vms

def test_foreign_vms_stay_foreign_in_the_healthy_scenario(simulator) -> None:
    sim = simulator("-foreign-vms", "7")
    inv = Inventory(sim.connect())

    vms = inv.vms()
    apps = [f"app-{i:03d}" for i in range(1, 8)]
    assert sorted(n for n in vms if n.startswith("app-")) == apps
    assert [inv.host_of(vms[n]) for n in apps] == [H0, H1, H2, H0, H1, H2, H0]
    for name in apps:
        vm = vms[name]
        assert owner(vm) is None and inv.detail(vm, "summary.config.managedBy") is None
        assert nova_uuid(vm) is None
        assert "nvp.vm-uuid" not in {o.key for o in inv.detail(vm, "config.extraConfig")}
        assert vm.get("runtime.powerState") == "poweredOn"
        assert inv.names(vm.get("datastore")) == ["LocalDS_0"]
        assert inv.folder_path(vm) == "DC0/vm"
    # -nova-vms (the healthy scenario) marks the model's VMs as Nova does
    for name in ("DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"):
        assert owner(vms[name]) == NOVA
        assert (inv.detail(vms[name], "summary.config.managedBy").extensionKey,
                inv.detail(vms[name], "summary.config.managedBy").type) == NOVA
        assert nova_uuid(vms[name])


def test_foreign_vms_go_on_a_datastore_every_host_mounts(simulator) -> None:
    """Not on one a host lacks, nor on one that is not accessible."""
    sim = simulator("-foreign-vms", "3", "-add-datastore", "h0-only=NFS:DC0_C0_H0",
                    "-add-datastore", "shared=NFS:*", "-inaccessible-datastore", "LocalDS_0",
                    scenario="fresh")
    inv = Inventory(sim.connect())
    for name in ("app-001", "app-002", "app-003"):
        assert inv.names(inv.vms()[name].get("datastore")) == ["shared"]
    assert not any(owner(vm) for vm in inv.of("VirtualMachine"))


def test_without_nova_vms_no_vm_has_an_owner(simulator) -> None:
    inv = Inventory(simulator(scenario="fresh").connect())
    assert [owner(vm) for vm in inv.of("VirtualMachine")] == [None] * 2


# ------------------------------------------------------------------ older flags: the recipes

def test_nfs_datastore_not_accessible_on_summary_and_mounts(simulator) -> None:
    sim = simulator("-add-datastore", "nfs-gone=NFS:*", "-inaccessible-datastore", "nfs-gone")
    inv = Inventory(sim.connect())

    gone = inv.named("Datastore", "nfs-gone")
    assert (gone.get("summary").type, gone.get("summary").accessible) == ("NFS", False)
    mounts = {inv.name(inv.by_moid[m.key._moId]): (m.mountInfo.mounted, m.mountInfo.accessible)
              for m in gone.get("host")}
    assert mounts == {h: (True, False) for h in (H0, H1, H2)}
    local = inv.named("Datastore", "LocalDS_0")
    assert local.get("summary").accessible
    assert {m.mountInfo.accessible for m in local.get("host")} == {True}


def test_vsan_datastore(simulator) -> None:
    inv = Inventory(simulator("-add-datastore", "vsanDatastore=vsan:*").connect())
    vsan = inv.named("Datastore", "vsanDatastore")
    assert (vsan.get("summary").type, vsan.get("summary").accessible) == ("vsan", True)
    assert sorted(inv.names([m.key for m in vsan.get("host")])) == [H0, H1, H2]


def test_forty_port_groups(simulator) -> None:
    inv = Inventory(simulator("-pg", "40").connect())
    groups = {inv.name(r): r.get("config.type") for r in inv.of("DistributedVirtualPortgroup")}
    assert {n for n in groups if n.startswith("DC0_DVPG")} == {f"DC0_DVPG{i}" for i in range(40)}
    assert set(groups.values()) == {"earlyBinding"}
    assert len(inv.names(inv.named("ClusterComputeResource", "DC0_C0").get("network"))) == 43


def test_opaque_networks(simulator) -> None:
    inv = Inventory(simulator("-opaque-network", "ls-web",
                              "-opaque-network", "ls-db=5f0ac3d2@nsx.LogicalSwitch").connect())
    found = {inv.name(r): (r.get("summary.opaqueNetworkId"), r.get("summary.opaqueNetworkType"))
             for r in inv.of("OpaqueNetwork")}
    assert found == {"ls-web": ("ls-web", "nsx.LogicalSwitch"),
                     "ls-db": ("5f0ac3d2", "nsx.LogicalSwitch")}


def test_partial_vnc_ruleset(simulator) -> None:
    inv = Inventory(simulator("-firewall-ruleset", "vnc=5900-6000", scenario="fresh").connect())
    for host in inv.of("HostSystem"):
        rulesets = {r.key: r for r in inv.detail(host, "config.firewall").ruleset}
        vnc = rulesets["vnc"]
        assert vnc.enabled
        assert [(r.port, r.endPort, r.direction, r.protocol) for r in vnc.rule] == [
            (5900, 6000, "inbound", "tcp")]


# ------------------------------------------------------------------ bad flags

@pytest.mark.parametrize(("flags", "message"), [
    (["-agent-vms", "U3"], 'bad -agent-vms "U3", expected numbered or uuid'),
    (["-empty-cluster", "DC0_C0"],
     "-empty-cluster DC0_C0: DC0 already has a host or cluster of that name"),
    (["-not-responding-host", "DC0_C0_H9"], 'no host "DC0_C0_H9"'),
    (["-foreign-vms", "-1"], "bad -foreign-vms -1, expected a count of 0 or more"),
    (["-cluster", "0", "-foreign-vms", "2"], "-foreign-vms: no cluster has hosts"),
    (["-foreign-vms", "1", "-inaccessible-datastore", "LocalDS_0"],
     "-foreign-vms: no accessible datastore is mounted on every host of cluster DC0_C0"),
])
def test_a_bad_shape_flag_stops_the_simulator_with_a_clear_error(
        lab, tmp_path: Path, flags: list[str], message: str) -> None:
    assert message in refused_simulator_error(lab, tmp_path, flags)
