"""Reads scoped to the cluster a command is about: what they cost does not grow with the
rest of the vCenter, and what they find is what the whole read finds for that cluster."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

# The cluster alone, and the same cluster in a vCenter of three datacenters with two
# clusters each (their datastores are their datacenter's, shared by its two clusters).
LONE = ("-dc", "1", "-cluster", "1", "-host", "4", "-vm", "20")
CROWDED = ("-dc", "3", "-cluster", "2", "-host", "4", "-vm", "20")


def requests(sim: Any, *args: str) -> dict[str, int]:
    """The SOAP calls one vmwctl command makes, by method."""
    before = sim.calls()["answered"]
    done = sim.run(*args)
    assert done.exit_code in (0, 1), done.stderr
    after = sim.calls()["answered"]
    return {m: after[m] - before.get(m, 0) for m in after if after[m] != before.get(m, 0)}


@pytest.fixture(scope="module")
def pair(module_simulator) -> tuple[Any, Any]:
    return module_simulator(*LONE), module_simulator(*CROWDED)


@pytest.fixture(scope="module")
def empty_lists(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An exported server or image list with nothing in it."""
    path = tmp_path_factory.mktemp("lists") / "empty.json"
    path.write_text("[]")
    return str(path)


@pytest.mark.parametrize("args", [
    ("cluster", "inspect"),
    ("cluster", "fit", "m1.small:1:512:1"),
    ("check", "prereqs", "--skip", "vnc-firewall"),
    ("firewall", "status"),
    ("audit", "--servers-from", "{empty}", "--images-from", "{empty}"),
], ids=["cluster inspect", "cluster fit", "check prereqs", "firewall status", "audit"])
def test_the_same_requests_alone_and_among_others(pair, empty_lists: str,
                                                  args: tuple[str, ...]) -> None:
    lone, crowded = pair
    args = tuple(arg.format(empty=empty_lists) for arg in args)
    assert requests(crowded, *args) == requests(lone, *args)


def test_the_vnc_verdict_reads_every_vm_once(pair) -> None:
    """Nova hands out VNC ports per vCenter: one vCenter-wide read of that one property,
    whatever else the command reads."""
    lone, crowded = pair
    without = requests(crowded, "check", "prereqs", "--skip", "vnc-firewall")
    with_vnc = requests(crowded, "check", "prereqs")
    extra = {m: with_vnc.get(m, 0) - without.get(m, 0) for m in with_vnc
             if with_vnc.get(m, 0) != without.get(m, 0)}
    # its view and one page of VNC ports; the firewall rulesets' one read
    assert extra == {"CreateContainerView": 1, "RetrievePropertiesEx": 2, "DestroyView": 1}
    assert requests(crowded, "check", "prereqs") == requests(lone, "check", "prereqs")


def test_the_scoped_read_finds_what_the_whole_read_finds(pair) -> None:
    from vmwctl.nova.cluster import inspect_cluster
    from vmwctl.profile.schema import Profile
    from vmwctl.vsphere.snapshot import VM_OWNERS, read_inventory

    _, crowded = pair
    vc = crowded.connect()
    whole = read_inventory(vc)
    scoped = read_inventory(vc, cluster="DC1_C1")
    assert scoped.scope == whole.cluster_named("DC1_C1").moid
    assert {c.path for c in scoped.clusters.values()} == {c.path for c in whole.clusters.values()}
    owners = read_inventory(vc, cluster="DC1_C1", vm_properties=VM_OWNERS)  # inspect's read
    profile = Profile(name="t", source="test")
    found = [dataclasses.asdict(inspect_cluster(inventory, inventory.cluster_named("DC1_C1"),
                                                profile)) for inventory in (whole, scoped, owners)]
    assert found[0] == found[1] == found[2]
    # the VMs of other datacenters are not read; those on the cluster's datastores are
    cluster = scoped.cluster_named("DC1_C1")
    stores = set(cluster.datastores)
    assert {vm.moid for vm in scoped.vms.values()} == {
        vm.moid for vm in whole.vms.values()
        if vm.host in cluster.hosts or stores.intersection(vm.datastores)}
    assert len(scoped.vms) < len(whole.vms)
    # every VM's VNC port, read apart
    from vmwctl.vsphere.snapshot import read_vnc_holders

    assert {vm.moid for vm in read_vnc_holders(vc, scoped)} == set(whole.vms)


def test_a_read_without_every_vm_port_never_stands_for_them(pair) -> None:
    """A whole read of fewer VM properties (or none), or a cluster name that matched
    nothing, does not hold every VM's VNC port: the VNC verdict reads them apart rather
    than take the VMs it has (or none) for every port held."""
    from vmwctl.vsphere.snapshot import (
        FLEET,
        VM_OWNERS,
        read_inventory,
        read_vnc_holders,
    )

    _, crowded = pair
    vc = crowded.connect()
    every = {vm.moid for vm in read_inventory(vc).vms.values()}
    for partial in (read_inventory(vc, properties=FLEET),
                    read_inventory(vc, vm_properties=VM_OWNERS),
                    read_inventory(vc, cluster="Nope")):
        assert partial.scope is None and not partial.vnc_ports_known
        with pytest.raises(RuntimeError, match="VNC ports were not read"):
            partial.vnc_vms()
        assert {vm.moid for vm in read_vnc_holders(vc, partial)} == every
        assert partial.vnc_ports_known
    whole = read_inventory(vc)
    assert whole.vnc_ports_known and {vm.moid for vm in read_vnc_holders(vc, whole)} == every


def test_a_name_that_matches_none_or_several_reads_the_tree_alone(pair) -> None:
    _, crowded = pair
    unknown = crowded.run("cluster", "inspect", "Nope")
    assert unknown.exit_code == 2
    assert "no cluster named 'Nope' (clusters: DC0_C0, DC0_C1, DC1_C0, DC1_C1, DC2_C0, " \
        "DC2_C1)" in unknown.stderr


def _checks(report: Any) -> list[dict[str, Any]]:
    return [dataclasses.asdict(check) for check in report.checks]


def test_check_prereqs_reports_with_its_own_vm_properties_what_the_whole_read_does(
        simulator) -> None:
    """check prereqs reads the cluster's VMs with the properties its checks use
    (VM_PREREQS; with --probe-console VM_CONSOLE_PROBE too) and every VM's VNC port
    meanwhile: its report is the whole read's, with VMs of every owner on the cluster's
    datastores (vSphere's agents, other applications', a spawn leftover, Nova's of the
    sibling cluster)."""
    from pyVmomi import vim

    from vmwctl.checks.prereqs import run_prereqs
    from vmwctl.profile.load import load_profile
    from vmwctl.vsphere.snapshot import read_inventory
    from vmwctl.vsphere.tasks import wait_for_task

    sim = simulator(*CROWDED, "-agent-vms", "numbered", "-foreign-vms", "3")
    vc = sim.connect()
    whole = read_inventory(vc)
    cluster = whole.cluster_named("DC0_C0")
    folder = vc.content.rootFolder.childEntity[0].vmFolder
    spec = vim.vm.ConfigSpec(name="vmwctl-smoke-1", guestId="otherGuest", extraConfig=[
        vim.option.OptionValue(key="vmwctl.spawned", value="2026-11-25")],
        files=vim.vm.FileInfo(vmPathName=f"[{whole.cluster_datastores(cluster)[0].name}]"))
    wait_for_task(vc, folder.CreateVM_Task(config=spec,
                                           pool=whole.refs[cluster.resource_pool]),
                  what="create")
    profile = load_profile(str(sim.config), None, {})
    for probe in (False, True):
        args = {"cluster_name": "DC0_C0", "portgroup": "br-int", "skip": ["sessions"],
                "env": {}, "probe_console": probe}
        scoped = run_prereqs(vc, profile, **args)
        assert scoped.summary["fail"] == 0, scoped.checks
        assert _checks(scoped) == _checks(run_prereqs(vc, profile, inventory=read_inventory(vc),
                                                      **args))
        dedicated = next(c for c in scoped.checks if c.id == "dedicated")
        assert "3 VMs Nova did not create" in dedicated.detail
        assert "vmwctl-smoke-1" in dedicated.detail and "vSphere Cluster Services" in \
            dedicated.detail
    console = next(c for c in scoped.checks if c.id == "console")
    assert "ticket" in console.detail.lower(), console


def test_every_vnc_port_in_one_page_of_up_to_10000_vms(module_simulator) -> None:
    """The vCenter-wide read of the VNC ports asks for pages of 10,000 VMs: one page where
    the inventory's reads, 1,000 objects a page, need two; check prereqs' vnc-firewall
    costs the same requests as on a small vCenter."""
    from vmwctl.vsphere.snapshot import read_vnc_ports

    sim = module_simulator("-dc", "1", "-cluster", "1", "-host", "2", "-vm", "1100")
    vc = sim.connect()
    assert vc.content.about.apiType == "VirtualCenter"  # logged in
    before = sim.calls()["answered"]
    ports = read_vnc_ports(vc)
    after = sim.calls()["answered"]
    assert len(ports) >= 1100
    assert {m: after[m] - before.get(m, 0) for m in after if after[m] != before.get(m, 0)} == {
        "CreateContainerView": 1, "RetrievePropertiesEx": 1, "DestroyView": 1}
    without = requests(sim, "check", "prereqs", "--skip", "vnc-firewall")
    with_vnc = requests(sim, "check", "prereqs")
    assert without["ContinueRetrievePropertiesEx"] == 1  # the cluster's 1,100 VMs and more
    assert {m: with_vnc.get(m, 0) - without.get(m, 0) for m in with_vnc
            if with_vnc.get(m, 0) != without.get(m, 0)} == {
        "CreateContainerView": 1, "RetrievePropertiesEx": 2, "DestroyView": 1}
