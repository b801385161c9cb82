"""The ``network`` check for each of the guide's networking models, against simulators shaped
as each model's vCenter is (docs/lab.md: DV port groups with a binding, opaque networks,
physical NICs per host), and Nova's port-group lookup shared with ``vm spawn --network``."""

from __future__ import annotations

from pathlib import Path

import pytest
from labimages import raw_disk, upload, vmdk
from pyVmomi import vim

from vmwctl.vsphere.inventory import collect

pytestmark = pytest.mark.lab

WRAPPED = "vxw-dvs-22-virtualwire-10-sid-5001-tenant-net"
HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]


def network(sim, *args: str) -> tuple[int, dict]:
    result = sim.run("check", "prereqs", "--only", "network", "-o", "json", *args)
    assert result.exit_code in (0, 1), result.stderr
    (check,) = result.json()["checks"]
    return result.exit_code, check


def nics(sim, name: str) -> list:
    vc = sim.connect()
    vm = next(r.ref for r in collect(vc, {vim.VirtualMachine: ["name"]}) if r.get("name") == name)
    return [d for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualEthernetCard)]


@pytest.fixture
def image(lab_env, tmp_path: Path) -> str:
    """A streamOptimized image in the lab's Glance, uploaded once per test's simulator."""
    return str(vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"))


def spawn(sim, image_file: str, tmp_path: Path, *args: str):
    image_id = upload(sim.config, Path(image_file), f"img-{tmp_path.name}",
                      vmware_disktype="streamOptimized")
    return sim.run("vm", "spawn", image_id, "--name", "net", "-o", "json", *args)


# ------------------------------------------------------------------ neutron

def test_neutron_finds_the_lab_s_distributed_switch(simulator) -> None:
    code, check = network(simulator())
    assert (code, check["status"], check["objects"]) == (0, "pass", ["DV switch 'DVS0'"])
    assert check["detail"] == ("DV switch 'DVS0' on all 3 connected hosts, where Neutron's "
                               "plugin makes its port groups")


def test_an_nsx_v_wrapped_port_group_resolves_in_the_check_and_in_spawn(simulator, image,
                                                                       tmp_path: Path) -> None:
    sim = simulator("-portgroup", WRAPPED)
    code, check = network(sim, "--portgroup", "tenant-net")
    assert (code, check["status"]) == (0, "pass")
    assert check["detail"].startswith(f"Nova's lookup of 'tenant-net' takes DV port group "
                                      f"'{WRAPPED}'; ")
    result = spawn(sim, image, tmp_path, "--network", "tenant-net")
    assert result.exit_code == 0, result.stderr
    assert result.json()["network"] == WRAPPED
    (nic,) = nics(sim, "vmwctl-net")
    vc = sim.connect()
    group = next(r for r in collect(vc, {vim.dvs.DistributedVirtualPortgroup: ["name", "key"]})
                 if r.get("name") == WRAPPED)
    assert nic.backing.port.portgroupKey == group.get("key")


def test_a_port_group_nova_cannot_find_fails_the_check_and_is_refused_by_spawn(
        simulator, image, tmp_path: Path) -> None:
    sim = simulator()
    code, check = network(sim, "--portgroup", "tenant-net")
    assert (code, check["status"], check["objects"]) == (1, "fail", ["tenant-net"])
    result = spawn(sim, image, tmp_path, "--network", "tenant-net")
    assert result.exit_code == 2
    assert "cluster 'DC0_C0' has no network 'tenant-net'" in result.json()["error"]["message"]


# ------------------------------------------------------------------ nsx-mh

def test_nsx_mh_passes_with_the_integration_bridge_as_an_opaque_network(simulator, image,
                                                                        tmp_path: Path) -> None:
    # fresh: no br-int port group; NSX-MH's bridge is an opaque network of type "opaque"
    sim = simulator("-opaque-network", "br-int@opaque", scenario="fresh",
                    integration_bridge="br-int")
    code, check = network(sim)
    assert (code, check["status"], check["objects"]) == (0, "pass", ["opaque network 'br-int'"])
    assert check["detail"] == ("integration bridge 'br-int' on all 3 connected hosts (opaque "
                               "network 'br-int')")
    result = spawn(sim, image, tmp_path, "--network", "br-int")
    assert result.exit_code == 0, result.stderr
    (nic,) = nics(sim, "vmwctl-net")
    assert isinstance(nic.backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo)
    assert (nic.backing.opaqueNetworkId, nic.backing.opaqueNetworkType) == ("br-int", "opaque")


def test_nsx_mh_fails_without_the_opaque_network(simulator) -> None:
    sim = simulator(scenario="fresh", integration_bridge="br-int")
    code, check = network(sim)
    assert (code, check["status"], check["objects"]) == (1, "fail", HOSTS)
    assert check["detail"] == ("integration bridge 'br-int' (an opaque network or a port "
                               f"group) is missing on {', '.join(HOSTS)}")


# ------------------------------------------------------------------ nova-network-flat

def test_flat_with_an_ephemeral_port_group_warns_that_nova_network_is_gone(simulator) -> None:
    code, check = network(simulator("-portgroup", "br100:ephemeral"),
                          "--network-model", "nova-network-flat")
    assert (code, check["status"], check["objects"]) == (0, "warn", ["br100"])
    assert "(ephemeral binding), on all 3 connected hosts; nova-network was removed in Nova 21" \
        in check["detail"]


@pytest.mark.parametrize("flag", ["br100:earlyBinding", "br100"])
def test_flat_refuses_an_early_binding_port_group(simulator, flag: str) -> None:
    code, check = network(simulator("-portgroup", flag), "--network-model", "nova-network-flat")
    assert (code, check["status"], check["objects"]) == (1, "fail", ["br100"])
    assert check["detail"] == ("DV port group 'br100' has port binding earlyBinding: the guide "
                               "requires ephemeral for nova-network's flat port group")


# ------------------------------------------------------------------ nova-network-vlan

def test_vlan_needs_the_nic_with_a_link_on_every_host(simulator) -> None:
    code, check = network(simulator(), "--network-model", "nova-network-vlan")
    assert (code, check["status"], check["objects"]) == (0, "warn", ["vmnic0"])
    sim = simulator("-pnic", "DC0_C0_H1=vmnic1", "-pnic", "DC0_C0_H2=vmnic0:down,vmnic1")
    code, check = network(sim, "--network-model", "nova-network-vlan")
    assert (code, check["status"], check["objects"]) == (1, "fail", ["DC0_C0_H1", "DC0_C0_H2"])
    assert check["detail"] == ("DC0_C0_H1 has no physical NIC 'vmnic0'; vmnic0 has no link on "
                               "DC0_C0_H2")


def test_portgroup_does_not_apply_to_the_vlan_model(simulator) -> None:
    result = simulator().run("check", "prereqs", "--network-model", "nova-network-vlan",
                             "--portgroup", "br-int")
    assert result.exit_code == 2
    assert "--portgroup does not apply to nova-network-vlan" in result.stderr


# ------------------------------------------------------------------ cost

def test_only_the_vlan_model_reads_more_than_the_snapshot(simulator) -> None:
    from vmwctl.checks.prereqs import run_prereqs
    from vmwctl.profile.load import load_profile

    sim = simulator("-portgroup", "br100:ephemeral")
    profile = load_profile(str(sim.config), None, {})
    counts = {}
    for model in ("neutron", "nsx-mh", "nova-network-flat", "nova-network-vlan"):
        vc = sim.connect()
        report = run_prereqs(vc, profile, cluster_name="DC0_C0", only=["network"],
                             network_model=model)
        counts[model] = report.vsphere_requests
    base = counts["neutron"]
    # login and the snapshot's read; the VLAN model reads the hosts' NICs in one more request
    assert counts == {"neutron": base, "nsx-mh": base, "nova-network-flat": base,
                      "nova-network-vlan": base + 1}, counts


# ------------------------------------------------------------------ hosts left out

def test_flat_fails_on_the_hosts_a_port_group_does_not_reach(simulator) -> None:
    sim = simulator("-portgroup", "br100:ephemeral%DC0_C0_H0,DC0_C0_H1")
    code, check = network(sim, "--network-model", "nova-network-flat")
    assert (code, check["status"], check["objects"]) == (1, "fail", ["DC0_C0_H2"])
    assert check["detail"] == ("Nova's lookup of 'br100' takes DV port group 'br100', which "
                               "DC0_C0_H2 lacks")


def test_nsx_mh_fails_on_the_hosts_an_opaque_network_does_not_reach(simulator) -> None:
    sim = simulator("-opaque-network", "br-int@opaque%DC0_C0_H0", scenario="fresh",
                    integration_bridge="br-int")
    code, check = network(sim)
    assert (code, check["status"], check["objects"]) == (1, "fail", HOSTS[1:])


# ------------------------------------------------------------------ check nova-conf

def test_check_nova_conf_judges_the_file_s_network_model_on_the_hosts(simulator,
                                                                      tmp_path: Path) -> None:
    sim = simulator("-pnic", "DC0_C0_H2=vmnic1")
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n"
                    "network_manager = nova.network.manager.VlanManager\n[vmware]\n"
                    "host_ip = 127.0.0.1\nhost_username = u\nhost_password = p\n"
                    "cluster_name = DC0_C0\nvlan_interface = vmnic0\n")
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert result.exit_code == 1, result.stderr
    check = next(c for c in result.json()["checks"] if c["id"] == "nova-conf.network")
    assert (check["status"], check["objects"]) == ("fail", ["DC0_C0_H2"])
    assert check["detail"] == (
        "network_model: nova-network-vlan (from [DEFAULT] network_manager = "
        "nova.network.manager.VlanManager (nova.conf:3)); DC0_C0_H2 has no physical NIC "
        "'vmnic0'")
