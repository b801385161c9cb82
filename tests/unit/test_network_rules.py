"""The ``network`` check of ``check prereqs`` for each of the guide's networking models, and
Nova's port-group lookup it shares with ``vm spawn --network``: pure, on inventories built
in memory."""

from __future__ import annotations

import pytest
from inventory import (
    make_cluster,
    make_context,
    make_host,
    make_inventory,
    make_opaque_network,
    make_portgroup,
    make_profile,
    make_switch,
)

from vmwctl.checks.model import CheckResult, Status
from vmwctl.checks.network import NetworkData, judge_network, network_model
from vmwctl.checks.prereqs import REMOTE, remote_check
from vmwctl.errors import ConfigError
from vmwctl.nova.network import NOVA_NETWORK_GONE, find_network, unwrapped_name
from vmwctl.profile.load import build_profile
from vmwctl.vsphere.model import Host, Network, PhysicalNic

WRAPPED = "vxw-dvs-22-virtualwire-10-sid-5001-tenant-net"


def hosts(count: int, networks: tuple[str, ...] = ("br-int",), *more: Host) -> list[Host]:
    return [*(make_host(f"C0_H{i}", networks=networks) for i in range(count)), *more]


def judge(cluster_hosts: list[Host], *, networks: tuple[Network, ...] = (),
          switches: tuple = (), model: str | None = None, portgroup: str | None = None,
          data: NetworkData | None = None, **sections) -> CheckResult:
    inventory = make_inventory(make_cluster(hosts=cluster_hosts), networks=networks,
                               switches=switches)
    ctx = make_context(inventory, profile=make_profile(**sections), portgroup=portgroup,
                       network_model=model)
    result = judge_network(ctx, data or NetworkData())
    assert result.id == "network"
    return result


# ------------------------------------------------------------------ Nova's lookup

def net(name: str, kind: str = "Network") -> Network:
    return Network(f"network-{name}", name, kind)


def test_lookup_takes_the_first_dv_port_group_whose_name_contains_the_name() -> None:
    found = [net("VM Network"), net("prod-br100-a", "DistributedVirtualPortgroup"),
             net("br100", "DistributedVirtualPortgroup")]
    # Nova walks the cluster's networks in vCenter's order: the first that contains it wins
    assert find_network("br100", found).name == "prod-br100-a"
    assert find_network("br100", found[::-1]).name == "br100"


def test_lookup_matches_standard_and_opaque_networks_by_their_whole_name() -> None:
    found = [net("VM Network"), net("br-int-x", "OpaqueNetwork")]
    assert find_network("VM Network", found).name == "VM Network"
    assert find_network("VM", found) is None
    assert find_network("br-int", found) is None
    assert find_network("br-int-x", found).kind == "OpaqueNetwork"


def test_lookup_unwraps_nsx_v_names_anchored_at_the_start() -> None:
    assert unwrapped_name(WRAPPED) == "tenant-net"
    assert unwrapped_name("x-" + WRAPPED) == "x-" + WRAPPED
    wrapped = net(WRAPPED, "DistributedVirtualPortgroup")
    assert find_network("tenant-net", [wrapped]) is wrapped
    # the wrapper's own text no longer matches once unwrapped
    assert find_network("virtualwire", [wrapped]) is None
    assert find_network("virtualwire", [net(WRAPPED)]) is None


# ------------------------------------------------------------------ which model

def test_the_model_comes_from_the_option_then_the_profile_then_integration_bridge() -> None:
    ctx = make_context(profile=make_profile())
    assert network_model(ctx) == "neutron"
    ctx = make_context(profile=make_profile(vmware={"integration_bridge": "br-int"}))
    assert network_model(ctx) == "nsx-mh"
    profile = build_profile("p", {"network_model": "nova-network-flat",
                                  "vmware": {"integration_bridge": "br-int"}})
    assert network_model(make_context(profile=profile)) == "nova-network-flat"
    ctx = make_context(profile=profile, network_model="neutron")
    assert network_model(ctx) == "neutron"


def test_a_profile_refuses_an_unknown_network_model() -> None:
    with pytest.raises(ConfigError) as err:
        build_profile("p", {"network_model": "nova-network-flatdhcp"})
    assert str(err.value) == (
        "profiles.p.network_model: network_model must be one of neutron, nsx-mh, "
        "nova-network-flat, nova-network-vlan, not 'nova-network-flatdhcp' "
        "(did you mean 'nova-network-flat'?)")
    with pytest.raises(ConfigError, match="not a list"):
        build_profile("p", {"network_model": ["neutron"]})


def test_network_model_options_default_to_the_guide() -> None:
    profile = make_profile()
    assert (profile.default.flat_network_bridge, profile.default.vlan_interface) == (
        "br100", "vmnic0")
    assert profile.as_dict()["network_model"] is None


# ------------------------------------------------------------------ neutron

def test_neutron_passes_when_every_host_is_on_a_dv_switch() -> None:
    h = hosts(3, ("uplinks",))
    result = judge(h, networks=(make_portgroup("uplinks"),), switches=(make_switch(hosts=h),))
    assert (result.status, result.objects) == (Status.PASS, ["DV switch 'DVS0'"])
    assert result.detail == ("DV switch 'DVS0' on all 3 connected hosts, where Neutron's plugin "
                             "makes its port groups")


def test_neutron_counts_opaque_networks_and_switches_a_host_reaches_through_a_port_group(
        ) -> None:
    h = [make_host("C0_H0", networks=("nsx-ls",)), make_host("C0_H1", networks=("pg",))]
    result = judge(h, networks=(make_opaque_network("nsx-ls"), make_portgroup("pg")),
                   switches=(make_switch(),))
    assert result.status == Status.PASS
    assert result.objects == ["DV switch 'DVS0'", "opaque network 'nsx-ls'"]


def test_neutron_warns_about_a_host_without_switch_or_opaque_network() -> None:
    h = hosts(2, ("pg",), make_host("C0_H2", networks=("VM Network",)))
    result = judge(h, networks=(make_portgroup("pg"),), switches=(make_switch(),))
    assert (result.status, result.objects) == (Status.WARN, ["C0_H2"])
    assert result.detail.startswith("C0_H2 has no DV switch or opaque network")


def test_neutron_fails_with_standard_port_groups_only() -> None:
    result = judge(hosts(2, ("VM Network",)))
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H0", "C0_H1"])
    assert result.detail == ("no DV switch or opaque network on all 2 connected hosts: Neutron's "
                             "NSX-T and DVS plugins make their port groups on one")


def test_neutron_with_a_port_group_resolves_an_nsx_v_wrapped_name() -> None:
    h = hosts(3, (WRAPPED,))
    result = judge(h, networks=(make_portgroup(WRAPPED),), switches=(make_switch(),),
                   portgroup="tenant-net")
    assert result.status == Status.PASS
    assert result.detail == (f"Nova's lookup of 'tenant-net' takes DV port group '{WRAPPED}'; "
                             "DV switch 'DVS0' on all 3 connected hosts")


def test_neutron_with_a_port_group_nova_cannot_find_fails() -> None:
    h = hosts(2, ("pg",))
    result = judge(h, networks=(make_portgroup("pg"),), switches=(make_switch(),),
                   portgroup="tenant-net")
    assert (result.status, result.objects) == (Status.FAIL, ["tenant-net"])
    assert result.detail == ("no network of cluster 'C0' matches 'tenant-net' by Nova's lookup "
                             "(its networks: pg)")


# ------------------------------------------------------------------ nsx-mh

def test_nsx_mh_finds_the_integration_bridge_as_an_opaque_network_on_every_host() -> None:
    result = judge(hosts(3, ("nsx-br",)),
                   networks=(make_opaque_network("nsx-br", opaque_id="br-int",
                                                 opaque_type="opaque"),),
                   vmware={"integration_bridge": "br-int"})
    assert (result.status, result.objects) == (Status.PASS, ["opaque network 'nsx-br'"])
    assert result.detail == ("integration bridge 'br-int' on all 3 connected hosts (opaque "
                             "network 'nsx-br')")


def test_nsx_mh_fails_on_a_host_without_the_integration_bridge() -> None:
    h = hosts(2, ("br-int",), make_host("C0_H2", networks=("VM Network",)))
    result = judge(h, networks=(make_opaque_network("br-int"),), model="nsx-mh",
                   vmware={"integration_bridge": "br-int"})
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H2"])
    assert result.detail == ("integration bridge 'br-int' (an opaque network or a port group) "
                             "is missing on C0_H2")


def test_nsx_mh_takes_a_port_group_by_nova_s_lookup_too() -> None:
    result = judge(hosts(2, ("br-int",)), networks=(make_portgroup("br-int"),),
                   vmware={"integration_bridge": "br-int"})
    assert (result.status, result.objects) == (Status.PASS, ["DV port group 'br-int'"])


def test_nsx_mh_chosen_without_integration_bridge_looks_for_the_guide_s_br_int_and_warns() -> (
        None):
    result = judge(hosts(2, ("br-int",)), networks=(make_opaque_network("br-int"),),
                   model="nsx-mh")
    assert result.status == Status.WARN
    assert "vmware.integration_bridge is not set, so the guide's br-int was looked for" in \
        result.detail
    assert result.remedy == "set [vmware] integration_bridge = br-int in nova.conf and the profile"


# ------------------------------------------------------------------ nova-network-flat

def test_flat_with_an_ephemeral_dv_port_group_on_every_host_warns_that_nova_network_is_gone(
        ) -> None:
    result = judge(hosts(3, ("br100",)), networks=(make_portgroup("br100", binding="ephemeral"),),
                   model="nova-network-flat")
    assert (result.status, result.objects) == (Status.WARN, ["br100"])
    assert result.detail == ("Nova's lookup of 'br100' takes DV port group 'br100' (ephemeral "
                             f"binding), on all 3 connected hosts; {NOVA_NETWORK_GONE}")


@pytest.mark.parametrize("binding", ["earlyBinding", "lateBinding", None])
def test_flat_refuses_a_dv_port_group_that_is_not_ephemeral(binding: str | None) -> None:
    result = judge(hosts(2, ("br100",)), networks=(make_portgroup("br100", binding=binding),),
                   model="nova-network-flat")
    assert (result.status, result.objects) == (Status.FAIL, ["br100"])
    assert result.detail == (f"DV port group 'br100' has port binding {binding or 'unknown'}: "
                             "the guide requires ephemeral for nova-network's flat port group")


def test_flat_takes_flat_network_bridge_and_a_standard_port_group_needs_no_binding() -> None:
    profile = {"network_model": "nova-network-flat", "DEFAULT": {"flat_network_bridge": "flat0"}}
    result = judge(hosts(2, ("flat0",)), **profile)
    assert result.status == Status.WARN
    assert result.detail.startswith("Nova's lookup of 'flat0' takes port group 'flat0', on all 2")


def test_flat_fails_on_a_host_without_the_port_group() -> None:
    h = hosts(1, ("br100",), make_host("C0_H1", networks=("VM Network",)))
    result = judge(h, networks=(make_portgroup("br100", binding="ephemeral"),),
                   model="nova-network-flat")
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H1"])
    assert result.detail == ("Nova's lookup of 'br100' takes DV port group 'br100', which "
                             "C0_H1 lacks")


# ------------------------------------------------------------------ nova-network-vlan

def nics(*devices: str, down: tuple[str, ...] = ()) -> list[PhysicalNic]:
    return [PhysicalNic(d, None if d in down else 10000) for d in devices]


def test_vlan_needs_the_nic_with_a_link_on_every_host() -> None:
    h = hosts(3)
    data = NetworkData({host.moid: nics("vmnic0", "vmnic1") for host in h})
    result = judge(h, model="nova-network-vlan", data=data)
    assert (result.status, result.objects) == (Status.WARN, ["vmnic0"])
    assert result.detail.startswith("physical NIC 'vmnic0' has a link on all 3 connected hosts "
                                    "(10000 Mb/s)")
    assert result.detail.endswith(NOVA_NETWORK_GONE)


def test_vlan_fails_on_a_missing_nic_and_on_a_nic_without_link() -> None:
    h = hosts(3)
    data = NetworkData({h[0].moid: nics("vmnic0"), h[1].moid: nics("vmnic1"),
                        h[2].moid: nics("vmnic0", down=("vmnic0",))})
    result = judge(h, model="nova-network-vlan", data=data)
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H1", "C0_H2"])
    assert result.detail == ("C0_H1 has no physical NIC 'vmnic0'; vmnic0 has no link on "
                             "C0_H2")


def test_vlan_takes_vlan_interface_from_the_profile() -> None:
    h = hosts(1)
    result = judge(h, data=NetworkData({h[0].moid: nics("vmnic0", "vmnic4")}),
                   model="nova-network-vlan", DEFAULT={"vlan_interface": "vmnic4"})
    assert (result.status, result.objects) == (Status.WARN, ["vmnic4"])


# ------------------------------------------------------------------ scope

def test_disconnected_hosts_do_not_count_and_no_connected_host_skips() -> None:
    h = hosts(2, ("pg",), make_host("C0_H2", networks=(), connection_state="notResponding"))
    result = judge(h, networks=(make_portgroup("pg"),), switches=(make_switch(),))
    assert (result.status, result.detail.split(",")[0]) == (
        Status.PASS, "DV switch 'DVS0' on all 2 connected hosts")
    result = judge([make_host("C0_H0", connection_state="disconnected")])
    assert (result.status, result.detail) == (Status.SKIP, "no connected host to check")


def test_only_the_vlan_model_reads_beyond_the_snapshot() -> None:
    # vc=None: a gather that made a call would raise
    ctx = make_context(profile=make_profile())
    assert REMOTE["network"].gather(None, ctx) == NetworkData()
    result = remote_check("network", None)(ctx)  # the default hosts: standard port groups only
    assert (result.status, result.detail[:15]) == (Status.FAIL, "no DV switch or")
