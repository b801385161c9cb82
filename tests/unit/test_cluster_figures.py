"""``cluster inspect`` and ``cluster list``: the figures nova-compute reports, on inventories
built in memory."""

from __future__ import annotations

import pytest
from inventory import (
    make_cluster,
    make_datastore,
    make_endpoint,
    make_host,
    make_inventory,
    make_profile,
    make_vm,
)

from vmwctl.nova.cluster import inspect_cluster, list_clusters, nova_node
from vmwctl.vsphere.model import Cluster, Inventory, UnknownCluster


def _c0(inventory: Inventory) -> tuple[Inventory, Cluster]:
    return inventory, inventory.cluster_named("C0")


def test_hosts_in_maintenance_or_disconnected_are_not_counted() -> None:
    hosts = [make_host("a", cpu_threads=16, memory_mb=65536, memory_usage_mb=1000),
             make_host("b", cpu_threads=32, memory_mb=131072, memory_usage_mb=3000),
             make_host("maint", in_maintenance=True, cpu_threads=64, memory_mb=262144),
             make_host("unknown", in_maintenance=None, cpu_threads=64),
             make_host("gone", connection_state="disconnected", cpu_threads=64)]
    report = inspect_cluster(*_c0(make_inventory(make_cluster(hosts=hosts))), make_profile())
    node = report.nova
    assert (node.hosts_counted, node.vcpus, node.memory_mb) == (2, 48, 196608)
    assert (node.memory_mb_used, node.memory_mb_free) == (4000, 192608)
    assert {h.name: h.counted for h in report.hosts} == {
        "a": True, "b": True, "gone": False, "maint": False, "unknown": False}
    assert [h.name for h in report.hosts] == ["a", "b", "gone", "maint", "unknown"]
    placement = node.placement
    assert placement["VCPU"] == {"total": 48, "reserved": 0, "max_unit": 32}
    assert placement["MEMORY_MB"] == {"total": 196608, "reserved": 512, "max_unit": 131072}


def test_memory_is_floored_per_host_as_nova_does() -> None:
    host = make_host("a", memory_mb=1024)
    host.memory_bytes += (1 << 20) - 1  # just under one more MiB
    report = inspect_cluster(*_c0(make_inventory(make_cluster(hosts=[host]))), make_profile())
    assert report.nova.memory_mb == 1024
    assert report.hosts[0].memory_mb == 1024


def test_a_datastore_the_regex_rejects_is_listed_with_its_reason() -> None:
    hosts = [make_host("a"), make_host("b")]
    stores = [make_datastore("nfs-os", capacity_gb=2000, free_gb=1500, mounted_on=hosts[:1]),
              make_datastore("local", capacity_gb=4000, free_gb=3900)]
    profile = make_profile(vmware={"datastore_regex": "nfs"})
    report = inspect_cluster(*_c0(make_inventory(make_cluster(hosts=hosts, datastores=stores))),
                             profile)
    rows = {d.name: d for d in report.datastores}
    assert (rows["local"].used, rows["local"].matches_regex) == (False, False)
    assert rows["local"].reason == "name does not match datastore_regex 'nfs'"
    assert (rows["nfs-os"].used, rows["nfs-os"].reason) == (True, None)
    assert (rows["nfs-os"].mounted_hosts, rows["nfs-os"].cluster_hosts) == (1, 2)
    # only the datastore Nova uses counts, however large the other one
    node = report.nova
    assert (node.datastore, node.local_gb, node.disk_available_gb, node.local_gb_used) == (
        "nfs-os", 2000, 1500, 500)
    assert node.placement["DISK_GB"] == {"total": 2000, "reserved": 0, "max_unit": 1500}


def test_the_best_datastore_has_the_most_free_space_and_disk_sums_every_valid_one() -> None:
    stores = [make_datastore("a", capacity_gb=1000, free_gb=100),
              make_datastore("b", capacity_gb=500, free_gb=400),
              make_datastore("off", capacity_gb=9000, free_gb=9000, accessible=False)]
    inventory = make_inventory(make_cluster(datastores=stores))
    node = nova_node(inventory, inventory.clusters["domain-C0"], make_profile())
    assert (node.datastore, node.local_gb, node.disk_available_gb) == ("b", 500, 400)
    assert node.placement["DISK_GB"] == {"total": 1500, "reserved": 0, "max_unit": 400}


def test_no_valid_datastore_reports_zero_disk() -> None:
    cluster = make_cluster(datastores=[make_datastore("d", type="VVOL")])
    report = inspect_cluster(*_c0(make_inventory(cluster)), make_profile())
    assert (report.nova.datastore, report.nova.local_gb, report.nova.disk_available_gb) == (
        None, 0, 0)
    assert report.datastores[0].reason == "type VVOL (Nova uses VMFS, NFS, NFS41, vsan)"


@pytest.mark.parametrize(("options", "memory", "cpus", "disk_gb"), [
    ({}, 512, 0, 0),
    ({"reserved_host_memory_mb": 0, "reserved_host_cpus": 2, "reserved_host_disk_mb": 1},
     0, 2, 1),
    ({"reserved_host_disk_mb": 1024}, 512, 0, 1),
    ({"reserved_host_disk_mb": 1025}, 512, 0, 2),  # rounded up to whole GB, as Nova does
])
def test_placement_reserved_amounts(options: dict, memory: int, cpus: int, disk_gb: int) -> None:
    report = inspect_cluster(*_c0(make_inventory()), make_profile(DEFAULT=options))
    placement = report.nova.placement
    assert placement["MEMORY_MB"]["reserved"] == memory
    assert placement["VCPU"]["reserved"] == cpus
    assert placement["DISK_GB"]["reserved"] == disk_gb


def test_the_hypervisor_nova_reports() -> None:
    inventory = make_inventory(endpoint=make_endpoint(version="6.7.3", instance_uuid="uuid-a"))
    node = inspect_cluster(*_c0(inventory), make_profile()).nova
    assert node.hypervisor_hostname == "domain-C0.uuid-a"
    assert (node.hypervisor_type, node.hypervisor_version) == ("VMware vCenter Server", 6007003)


def test_vms_on_the_clusters_hosts_are_counted_by_kind() -> None:
    hosts = [make_host("a"), make_host("b")]
    elsewhere = make_host("x")
    inventory = make_inventory(
        make_cluster(hosts=hosts), make_cluster("other", hosts=[elsewhere], datastores=[]),
        vms=[make_vm("i1", host=hosts[0], nova_uuid="u1"), make_vm("i2", host=hosts[0],
                                                                    nova_uuid="u2"),
             make_vm("smoke", host=hosts[1], vmwctl_marker="t", nova_uuid="u3"),
             make_vm("stranger", host=hosts[1]), make_vm("far", host=elsewhere),
             make_vm("unplaced"),
             make_vm("vCLS (1)", host=hosts[0], managed_by="com.vmware.vim.eam"),
             make_vm("edge", host=hosts[1], managed_by="com.vmware.nsx.management.nsxt"),
             make_vm("instance-3", host=hosts[1], managed_by="org.openstack.compute")])
    report = inspect_cluster(*_c0(inventory), make_profile())
    assert report.vms == {"nova": 3, "vmwctl": 1, "system": 1, "extension": 1, "other": 1}
    assert {h.name: h.vms for h in report.hosts} == {"a": 3, "b": 4}


def test_drs_and_ha_as_reported() -> None:
    inventory = make_inventory(make_cluster(drs_behavior="manual", ha_enabled=False))
    report = inspect_cluster(*_c0(inventory), make_profile())
    assert report.drs == {"enabled": True, "behavior": "manual", "fully_automated": False}
    assert report.ha["enabled"] is False
    assert (report.ha["reserve"].enabled, report.ha["reserve"].detail) == (False, "HA is off")
    assert (report.datacenter, report.path, report.moref) == ("DC0", "/DC0/host/C0", "domain-C0")


def test_cluster_named_none_or_several() -> None:
    with pytest.raises(UnknownCluster, match=r"no cluster named 'Nope' \(clusters: C0\)"):
        make_inventory().cluster_named("Nope")
    twice = make_inventory(make_cluster(moid="domain-c1", datacenter="DC0"),
                           make_cluster(moid="domain-c2", datacenter="DC1"),
                           datacenters=("DC0", "DC1"))
    with pytest.raises(UnknownCluster,
                       match="2 clusters are named 'C0': /DC0/host/C0, /DC1/host/C0"):
        twice.cluster_named("C0")


def test_list_clusters_figures_and_selection() -> None:
    small = make_cluster("A", hosts=[make_host("a0", cpu_threads=8),
                                     make_host("a1", in_maintenance=True)],
                         datastores=[make_datastore("a-ds", capacity_gb=300)],
                         drs_enabled=False)
    big = make_cluster("B", hosts=[make_host("b0", cpu_threads=8),
                                   make_host("b1", cpu_threads=8)],
                       datastores=[make_datastore("b-ds", capacity_gb=700),
                                   make_datastore("b-ds2", capacity_gb=100)])
    inventory = make_inventory(big, small)
    listing = list_clusters(inventory, make_profile(), inventory.cluster_named("B"))
    rows = {(c.name, c.hosts, c.hosts_counted, c.vcpus, c.disk_gb, c.selected,
             c.drs_fully_automated) for c in listing.clusters}
    assert rows == {("A", 2, 1, 8, 300, False, False), ("B", 2, 2, 16, 800, True, True)}
    assert [c.path for c in listing.clusters] == ["/DC0/host/A", "/DC0/host/B"]
