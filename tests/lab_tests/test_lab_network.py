"""The lab simulator's network shapes, read back as vmwctl reads inventory.

The state flags -portgroup NAME[:BINDING][%HOST,...], -opaque-network
NAME[=ID][@TYPE][%HOST,...], -host-portgroup NAME[@HOST,...] and -pnic
HOST=DEV[:down],... give the simulator the shapes a vCenter has: DV port
groups with a port binding type, on every host or on a switch only some hosts
join; NSX opaque networks; standard vSwitch port groups; physical NICs with
or without link. Everything is read through a ContainerView and one
RetrievePropertiesEx (vmwctl.vsphere.inventory.collect), as vmwctl reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import refused_simulator_error
from pyVmomi import vim

from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.inventory import ObjectRecord, collect
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

H0, H1, H2 = "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"
HOSTS = [H0, H1, H2]
DS = "LocalDS_0"

PROPERTIES = {
    vim.Network: ["name", "host", "summary"],
    vim.dvs.DistributedVirtualPortgroup: ["key", "config.type", "config.uplink",
                                          "config.distributedVirtualSwitch"],
    vim.HostSystem: ["name", "network", "config.network.pnic", "config.network.portgroup",
                     "config.network.vswitch", "config.network.opaqueNetwork",
                     "configManager.networkSystem"],
    vim.ClusterComputeResource: ["name", "network"],
    vim.Datacenter: ["name", "network", "networkFolder"],
    vim.DistributedVirtualSwitch: ["name", "summary.hostMember", "config.host",
                                   "config.uplinkPortgroup"],
}


class Inventory:
    """One ContainerView read of everything network, by type and by name."""

    def __init__(self, vc: Any) -> None:
        self.records = collect(vc, PROPERTIES)
        self.by_moid = {r.moid: r for r in self.records}

    def of(self, kind: str) -> list[ObjectRecord]:
        return [r for r in self.records if r.type == kind]

    def named(self, kind: str, name: str) -> ObjectRecord:
        found = [r for r in self.of(kind) if r.get("name") == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name!r}"
        return found[0]

    def names(self, refs: Any) -> list[str]:
        return [self.by_moid[ref._moId].get("name") for ref in refs or []]

    def host(self, name: str) -> ObjectRecord:
        return self.named("HostSystem", name)

    def host_networks(self, name: str) -> list[str]:
        return self.names(self.host(name).get("network"))

    def cluster_networks(self) -> list[str]:
        return self.names(self.named("ClusterComputeResource", "DC0_C0").get("network"))

    def datacenter_networks(self) -> list[str]:
        return self.names(self.named("Datacenter", "DC0").get("network"))

    def hosts_of(self, network: ObjectRecord) -> list[str]:
        return sorted(self.names(network.get("host")))


def portgroup(inv: Inventory, name: str) -> ObjectRecord:
    return inv.named("DistributedVirtualPortgroup", name)


# ------------------------------------------------------------------ DV port groups

def test_dv_portgroups_have_the_binding_type_asked_for(simulator) -> None:
    sim = simulator("-portgroup", "vxw-dvs-22-virtualwire-10-sid-5001-br100:ephemeral",
                    "-portgroup", "late:lateBinding", "-portgroup", "static:earlyBinding",
                    "-portgroup", "plain", "-portgroup", "site:a:b", "-portgroup", "vlan:100")
    inv = Inventory(sim.connect())

    types = {r.get("name"): r.get("config.type") for r in inv.of("DistributedVirtualPortgroup")}
    assert types == {
        "vxw-dvs-22-virtualwire-10-sid-5001-br100": "ephemeral", "late": "lateBinding",
        "static": "earlyBinding", "plain": "earlyBinding",
        "site:a:b": "earlyBinding",  # ':' in a name: the suffix is no binding type
        "vlan:100": "earlyBinding",
        # the simulator's own port groups, and the healthy scenario's br-int
        "DC0_DVPG0": "earlyBinding", "DVS0-DVUplinks-9": "earlyBinding", "br-int": "earlyBinding"}


def test_dv_portgroups_read_with_the_networks_in_one_view(simulator) -> None:
    """vim.Network's name and the DV port group's own config.* come in one read, for the
    port groups only; the switch lists its uplink port group and its hosts."""
    inv = Inventory(simulator("-portgroup", "eph:ephemeral").connect())

    dvs = inv.named("DistributedVirtualSwitch", "DVS0")
    eph = portgroup(inv, "eph")
    assert eph.props["key"] == eph.moid
    assert eph.props["config.distributedVirtualSwitch"]._moId == dvs.moid
    assert eph.props["config.uplink"] is False
    assert eph.get("summary").name == "eph" and eph.get("summary").accessible
    uplink = portgroup(inv, "DVS0-DVUplinks-9")
    assert uplink.get("config.uplink") is True
    assert inv.names(dvs.get("config.uplinkPortgroup")) == ["DVS0-DVUplinks-9"]
    assert "config.type" not in inv.named("Network", "VM Network").props
    assert not inv.named("Network", "VM Network").missing

    assert sorted(inv.names(dvs.get("summary.hostMember"))) == HOSTS
    assert sorted(inv.names([m.config.host for m in dvs.get("config.host")])) == HOSTS
    assert {m.status for m in dvs.get("config.host")} == {"up"}


def test_healthy_br_int_is_a_dv_portgroup_on_every_host(simulator) -> None:
    inv = Inventory(simulator().connect())

    br_int = portgroup(inv, "br-int")
    assert br_int.get("config.type") == "earlyBinding"
    assert inv.hosts_of(br_int) == HOSTS
    for host in HOSTS:
        assert inv.host_networks(host).count("br-int") == 1
    # each network once, in the cluster and the datacenter (0.24.2 repeats them)
    assert sorted(inv.cluster_networks()) == sorted(set(inv.cluster_networks())) == [
        "DC0_DVPG0", "DVS0-DVUplinks-9", "VM Network", "br-int"]
    assert sorted(inv.datacenter_networks()) == [
        "DC0_DVPG0", "DVS0-DVUplinks-9", "VM Network", "br-int"]


def test_a_portgroup_flag_shapes_the_scenarios_br_int(simulator) -> None:
    inv = Inventory(simulator("-portgroup", "br-int:ephemeral").connect())

    assert portgroup(inv, "br-int").get("config.type") == "ephemeral"
    assert inv.hosts_of(portgroup(inv, "br-int")) == HOSTS


def test_a_portgroup_on_some_hosts_is_on_a_switch_only_they_join(simulator) -> None:
    """A host of the cluster that is not on the switch: the switch's members, its port
    groups' hosts and the hosts' networks all lack it; the cluster has the port group."""
    inv = Inventory(simulator(f"-portgroup=br-int:lateBinding%{H0},{H1}",
                              f"-portgroup=trunk%{H1},{H0}", scenario="fresh").connect())

    br_int, trunk = portgroup(inv, "br-int"), portgroup(inv, "trunk")
    assert br_int.get("config.type") == "lateBinding"
    assert inv.hosts_of(br_int) == inv.hosts_of(trunk) == [H0, H1]
    dvs = inv.by_moid[br_int.get("config.distributedVirtualSwitch")._moId]
    assert trunk.get("config.distributedVirtualSwitch")._moId == dvs.moid  # the same hosts
    assert dvs.get("name") == "DVS1"
    assert sorted(inv.names(dvs.get("summary.hostMember"))) == [H0, H1]
    assert sorted(inv.names([m.config.host for m in dvs.get("config.host")])) == [H0, H1]
    uplinks = inv.names(dvs.get("config.uplinkPortgroup"))
    assert uplinks == ["DVS1-DVUplinks-" + dvs.moid.split("-")[1]]
    for host in (H0, H1):
        assert {"br-int", "trunk", uplinks[0]} <= set(inv.host_networks(host))
    assert inv.host_networks(H2) == ["VM Network", "DVS0-DVUplinks-9", "DC0_DVPG0"]
    assert {"br-int", "trunk"} <= set(inv.cluster_networks())
    assert {"br-int", "trunk"} <= set(inv.datacenter_networks())
    # the datacenter's own switch still spans every host
    dvs0 = inv.named("DistributedVirtualSwitch", "DVS0")
    assert sorted(inv.names([m.config.host for m in dvs0.get("config.host")])) == HOSTS


def test_a_portgroup_added_by_a_client_gets_vcenters_default_binding(simulator) -> None:
    vc = simulator(scenario="fresh").connect()
    dvs = Inventory(vc).named("DistributedVirtualSwitch", "DVS0").ref
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(name="added")
    wait_for_task(vc, dvs.AddDVPortgroup_Task([spec]), what="add port group")

    inv = Inventory(vc)
    assert portgroup(inv, "added").get("config.type") == "earlyBinding"
    assert inv.hosts_of(portgroup(inv, "added")) == HOSTS
    assert inv.cluster_networks().count("added") == 1


# ------------------------------------------------------------------ opaque networks

def test_opaque_networks_are_on_their_hosts_as_nsx_shows_them(simulator) -> None:
    sim = simulator("-opaque-network", "br-int@opaque",
                    "-opaque-network", f"seg-web=2d7e09f4-48d6-4bbd-9c7b-d0a5c1e4a1f3%{H1}",
                    scenario="fresh")
    inv = Inventory(sim.connect())

    bridge, seg = inv.named("OpaqueNetwork", "br-int"), inv.named("OpaqueNetwork", "seg-web")
    summary = bridge.get("summary")
    assert isinstance(summary, vim.OpaqueNetwork.Summary)
    assert (summary.name, summary.opaqueNetworkId, summary.opaqueNetworkType,
            summary.accessible, summary.network._moId) == (
        "br-int", "br-int", "opaque", True, bridge.moid)
    summary = seg.get("summary")
    assert (summary.name, summary.opaqueNetworkId, summary.opaqueNetworkType) == (
        "seg-web", "2d7e09f4-48d6-4bbd-9c7b-d0a5c1e4a1f3", "nsx.LogicalSwitch")

    assert inv.hosts_of(bridge) == HOSTS and inv.hosts_of(seg) == [H1]
    for host in HOSTS:
        assert "br-int" in inv.host_networks(host)
        assert ("seg-web" in inv.host_networks(host)) == (host == H1)
    infos = {host: [(o.opaqueNetworkId, o.opaqueNetworkName, o.opaqueNetworkType)
                    for o in inv.host(host).get("config.network.opaqueNetwork")]
             for host in HOSTS}
    assert infos == {
        H0: [("br-int", "br-int", "opaque")],
        H1: [("br-int", "br-int", "opaque"),
             ("2d7e09f4-48d6-4bbd-9c7b-d0a5c1e4a1f3", "seg-web", "nsx.LogicalSwitch")],
        H2: [("br-int", "br-int", "opaque")]}
    assert {"br-int", "seg-web"} <= set(inv.cluster_networks())
    assert {"br-int", "seg-web"} <= set(inv.datacenter_networks())
    folder = inv.named("Datacenter", "DC0").get("networkFolder")
    assert {"br-int", "seg-web"} <= {child.name for child in folder.childEntity}
    # the host's network system tells the same
    for host in HOSTS:
        info = inv.host(host).get("configManager.networkSystem").networkInfo
        assert [o.opaqueNetworkName for o in info.opaqueNetwork] == [
            name for _, name, _ in infos[host]]


def test_opaque_networks_are_one_per_datacenter(simulator) -> None:
    inv = Inventory(simulator("-dc", "2", "-opaque-network", "ls-1", scenario="fresh").connect())

    networks = inv.of("OpaqueNetwork")
    assert len(networks) == 2
    for dc in ("DC0", "DC1"):
        record = inv.named("Datacenter", dc)
        (mine,) = [n for n in networks if n.moid in {r._moId for r in record.get("network")}]
        assert inv.hosts_of(mine) == [f"{dc}_C0_H{i}" for i in range(3)]


def create_vm(vc: Any, name: str, backing: Any) -> Any:
    dc = vc.content.rootFolder.childEntity[0]
    nic = vim.vm.device.VirtualVmxnet3(key=-1, backing=backing)
    spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"),
                             deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add",
                                                                           device=nic)])
    pool = dc.hostFolder.childEntity[0].resourcePool
    return wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool), what="create")


def test_a_vm_nic_on_an_opaque_network(simulator) -> None:
    """As Nova backs a NIC for NSX-MH: the VM is created, and its `network` holds the opaque
    network (0.24.2 put an empty reference there); removing the NIC takes it away."""
    vc = simulator("-opaque-network", "br-int@opaque", scenario="fresh").connect()
    backing = vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo(
        opaqueNetworkId="br-int", opaqueNetworkType="opaque")
    vm = create_vm(vc, "nsx-vm", backing)

    record = collect(vc, {vim.VirtualMachine: ["name", "network", "config.hardware.device"]})
    (mine,) = [r for r in record if r.get("name") == "nsx-vm"]
    assert [(n._moId.split("-")[0], n.name) for n in mine.get("network")] == [
        ("opaquenetwork", "br-int")]
    (nic,) = [d for d in mine.get("config.hardware.device")
              if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert (nic.backing.opaqueNetworkId, nic.backing.opaqueNetworkType) == ("br-int", "opaque")

    remove = vim.vm.device.VirtualDeviceSpec(operation="remove", device=nic)
    wait_for_task(vc, vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[remove])),
                  what="reconfigure")
    assert list(vm.network) == []


# ------------------------------------------------------------------ standard port groups

def test_standard_portgroups_on_the_hosts_asked_for(simulator) -> None:
    sim = simulator("-host-portgroup", f"vlan-100@{H0},{H2}", "-host-portgroup", "Storage:A",
                    scenario="fresh")
    inv = Inventory(sim.connect())

    vlan, storage = inv.named("Network", "vlan-100"), inv.named("Network", "Storage:A")
    assert vlan.type == "Network"  # one object for all its hosts, as "VM Network"
    assert inv.hosts_of(vlan) == [H0, H2] and inv.hosts_of(storage) == HOSTS
    assert inv.hosts_of(inv.named("Network", "VM Network")) == HOSTS
    for host in HOSTS:
        networks = inv.host_networks(host)
        assert ("vlan-100" in networks) == (host != H1)
        assert "Storage:A" in networks
        record = inv.host(host)
        groups = {pg.spec.name: pg for pg in record.get("config.network.portgroup")}
        assert ("vlan-100" in groups) == (host != H1)
        assert groups["Storage:A"].key == "key-vim.host.PortGroup-Storage:A"
        assert groups["Storage:A"].vswitch == "key-vim.host.VirtualSwitch-vSwitch0"
        (vswitch,) = record.get("config.network.vswitch")
        assert "key-vim.host.PortGroup-Storage:A" in vswitch.portgroup
        info = record.get("configManager.networkSystem").networkInfo
        assert [pg.spec.name for pg in info.portgroup] == list(groups)
    assert {"vlan-100", "Storage:A"} <= set(inv.cluster_networks())
    assert {"vlan-100", "Storage:A"} <= set(inv.datacenter_networks())


def test_a_client_adds_and_removes_a_standard_portgroup_host_by_host(simulator) -> None:
    """HostNetworkSystem.AddPortGroup on a second host joins the same Network (0.24.2:
    DuplicateName); it leaves vCenter with the last host that removes it."""
    vc = simulator(scenario="fresh").connect()
    inv = Inventory(vc)
    systems = {h: inv.host(h).get("configManager.networkSystem") for h in HOSTS}
    spec = vim.host.PortGroup.Specification(name="mgmt-vms", vswitchName="vSwitch0", vlanId=20,
                                            policy=vim.host.NetworkPolicy())
    systems[H0].AddPortGroup(spec)
    systems[H1].AddPortGroup(spec)
    with pytest.raises(VSphereFault, match=r"AlreadyExists.*'mgmt-vms' already exists"):
        systems[H1].AddPortGroup(spec)
    with pytest.raises(VSphereFault, match="NotFound"):
        systems[H2].AddPortGroup(vim.host.PortGroup.Specification(
            name="x", vswitchName="vSwitch9", policy=vim.host.NetworkPolicy()))

    inv = Inventory(vc)
    assert inv.hosts_of(inv.named("Network", "mgmt-vms")) == [H0, H1]
    assert inv.cluster_networks().count("mgmt-vms") == 1

    systems[H0].RemovePortGroup("mgmt-vms")
    inv = Inventory(vc)
    assert inv.hosts_of(inv.named("Network", "mgmt-vms")) == [H1]
    assert "mgmt-vms" not in inv.host_networks(H0)
    assert "mgmt-vms" not in [pg.spec.name for pg in inv.host(H0).get("config.network.portgroup")]

    systems[H1].RemovePortGroup("mgmt-vms")
    inv = Inventory(vc)
    assert not [r for r in inv.of("Network") if r.get("name") == "mgmt-vms"]
    assert "mgmt-vms" not in inv.cluster_networks() + inv.datacenter_networks()


# ------------------------------------------------------------------ physical NICs

def test_physical_nics_per_host_with_or_without_link(simulator) -> None:
    sim = simulator("-pnic", f"{H0}=vmnic0,vmnic1:down,vmnic4", "-pnic", f"{H1}=vmnic2:down")
    inv = Inventory(sim.connect())

    def nics(host: str) -> list[tuple[str, str, Any]]:
        return [(p.device, p.key, p.linkSpeed and (p.linkSpeed.speedMb, p.linkSpeed.duplex))
                for p in inv.host(host).get("config.network.pnic")]

    assert nics(H0) == [
        ("vmnic0", "key-vim.host.PhysicalNic-vmnic0", (10000, True)),
        ("vmnic1", "key-vim.host.PhysicalNic-vmnic1", None),
        ("vmnic4", "key-vim.host.PhysicalNic-vmnic4", (10000, True))]
    assert nics(H1) == [("vmnic2", "key-vim.host.PhysicalNic-vmnic2", None)]
    assert nics(H2) == [  # the model's, untouched
        ("vmnic0", "key-vim.host.PhysicalNic-vmnic0", (10000, True)),
        ("vmnic1", "key-vim.host.PhysicalNic-vmnic1", (10000, True))]
    pnics = inv.host(H0).get("config.network.pnic")
    assert all(p.driver and p.pci for p in pnics)
    assert len({p.pci for p in pnics}) == len({p.mac for p in pnics}) == 3
    for host in HOSTS:  # the network system tells the same
        info = inv.host(host).get("configManager.networkSystem").networkInfo
        assert [(p.device, p.linkSpeed is None) for p in info.pnic] == [
            (d, speed is None) for d, _, speed in nics(host)]
    # vSwitch0's uplink vmnic0 is gone from H1
    (vswitch,) = inv.host(H1).get("config.network.vswitch")
    assert list(vswitch.pnic) == [] and list(vswitch.spec.bridge.nicDevice) == []


def test_a_host_without_physical_nics(simulator) -> None:
    inv = Inventory(simulator("-pnic", f"{H2}=").connect())
    assert list(inv.host(H2).get("config.network.pnic")) == []


# ------------------------------------------------------------------ bad flags

@pytest.mark.parametrize(("flags", "message"), [
    (["-portgroup", "br-int:static"],
     'bad port binding "static" in -portgroup "br-int:static": use earlyBinding (static), '
     "lateBinding (dynamic) or ephemeral"),
    (["-portgroup", "br-int:Ephemeral"], 'bad port binding "Ephemeral"'),
    (["-portgroup", "br-int:"], 'bad port binding "" in -portgroup "br-int:"'),
    (["-portgroup", ":ephemeral"], 'bad -portgroup ":ephemeral": empty name'),
    (["-portgroup", f"br-int%{H0},DC0_C0_H9"],
     f'bad -portgroup "br-int%{H0},DC0_C0_H9": no host "DC0_C0_H9" (hosts: {H0}, {H1}, {H2})'),
    (["-portgroup", "br-int%"], 'bad -portgroup "br-int%": empty or repeated host name'),
    (["-pg", "0", "-portgroup", "pg"], "no distributed switch to add it to"),
    (["-dc", "2", "-portgroup", f"pg%{H0},DC1_C0_H0"],
     f"hosts {H0} and DC1_C0_H0 are in different datacenters"),
    (["-opaque-network", "ls%nohost"], 'bad -opaque-network "ls%nohost": no host "nohost"'),
    (["-opaque-network", "ls@"], 'bad -opaque-network "ls@": empty name, ID or type'),
    (["-host-portgroup", "vlan@nohost"], 'bad -host-portgroup "vlan@nohost": no host "nohost"'),
    (["-host-portgroup", "VM Network"],
     '-host-portgroup "VM Network" on DC0_C0_H0: ServerFaultCode: The specified key, name, or '
     "identifier 'VM Network' already exists."),
    (["-pnic", "nohost=vmnic0"], 'bad -pnic "nohost=vmnic0": no host "nohost"'),
    (["-pnic", f"{H0}=vmnic0:up"], f'bad -pnic "{H0}=vmnic0:up": NIC "vmnic0:up"'),
    (["-pnic", f"{H0}=vmnic0,vmnic0"], f'bad -pnic "{H0}=vmnic0,vmnic0": NIC "vmnic0"'),
    (["-pnic", f"{H0}=vmnic0", "-pnic", f"{H0}=vmnic1"], f"host {H0} is given twice"),
    (["-pnic", "vmnic0"], 'bad -pnic "vmnic0", expected HOST=DEV[:down]'),
])
def test_a_bad_network_flag_stops_the_simulator_with_a_clear_error(
        lab, tmp_path: Path, flags: list[str], message: str) -> None:
    assert message in refused_simulator_error(lab, tmp_path, flags)
