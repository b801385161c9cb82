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


def test_a_name_that_matches_none_or_several_reads_the_tree_alone(pair) -> None:
    _, crowded = pair
    unknown = crowded.run("cluster", "inspect", "Nope")
    assert unknown.exit_code == 2
    assert "no cluster named 'Nope' (clusters: DC0_C0, DC0_C1, DC1_C0, DC1_C1, DC2_C0, " \
        "DC2_C1)" in unknown.stderr
