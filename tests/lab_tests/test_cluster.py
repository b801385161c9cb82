"""``cluster inspect | list``: every figure checked against the simulator's own inventory.

The expectations are computed here, independently, from the simulator's
objects read attribute by attribute (the naive way), with Nova's rules
written out again.
"""

from __future__ import annotations

import math

import pytest
from pyVmomi import vim

pytestmark = pytest.mark.lab

MIB, GIB = 1 << 20, 1 << 30


def cluster_object(vc, name: str = "DC0_C0"):
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.ClusterComputeResource], True)
    try:
        return next(c for c in view.view if c.name == name)
    finally:
        view.Destroy()


def expected(vc, name: str = "DC0_C0", regex: str | None = None) -> dict:
    import re

    cluster = cluster_object(vc, name)
    counted = [h for h in cluster.host if h.runtime.inMaintenanceMode is False
               and h.runtime.connectionState == "connected"]
    memory = [h.summary.hardware.memorySize // MIB for h in counted]
    usage = sum(h.summary.quickStats.overallMemoryUsage for h in counted)
    stores = [d for d in cluster.datastore if d.summary.accessible
              and d.summary.maintenanceMode in (None, "normal")
              and d.summary.type in ("VMFS", "NFS", "NFS41", "vsan")
              and (regex is None or re.match(regex, d.summary.name))]
    best = max(stores, key=lambda d: d.summary.freeSpace) if stores else None
    about = vc.content.about
    major, minor, patch = (int(x) for x in about.version.split("."))
    return {
        "hypervisor_hostname": f"{cluster._moId}.{about.instanceUuid}",
        "hypervisor_type": about.name,
        "hypervisor_version": major * 1_000_000 + minor * 1000 + patch,
        "vcpus": sum(h.summary.hardware.numCpuThreads for h in counted),
        "memory_mb": sum(memory),
        "memory_mb_used": usage,
        "memory_mb_free": sum(memory) - usage,
        "local_gb": best.summary.capacity // GIB if best else 0,
        "disk_available_gb": best.summary.freeSpace // GIB if best else 0,
        "datastore": best.summary.name if best else None,
        "hosts_counted": len(counted),
        "placement": {
            "VCPU": {"total": sum(h.summary.hardware.numCpuThreads for h in counted),
                     "reserved": 0,
                     "max_unit": max((h.summary.hardware.numCpuThreads for h in counted),
                                     default=0)},
            # the simulator profiles leave reserved_host_memory_mb at Nova's default, 512
            "MEMORY_MB": {"total": sum(memory), "reserved": 512,
                          "max_unit": max(memory, default=0)},
            "DISK_GB": {"total": sum(d.summary.capacity for d in stores) // GIB,
                        "reserved": 0,
                        "max_unit": max((d.summary.freeSpace for d in stores), default=0)
                        // GIB},
        },
    }


def inspect(sim, *args: str) -> dict:
    result = sim.run("cluster", "inspect", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()


def compare(sim, report: dict, **kwargs) -> None:
    nova = report["nova"]
    want = expected(sim.connect(), **kwargs)
    for key, value in want.items():
        assert nova[key] == value, key
    assert nova["local_gb_used"] == nova["local_gb"] - nova["disk_available_gb"]


def test_healthy_cluster_figures(simulator) -> None:
    sim = simulator()
    report = inspect(sim)
    compare(sim, report)
    assert report["nova"]["memory_mb"] == 3 * (4294430720 // MIB) == 12285  # floored per host
    assert [h["name"] for h in report["hosts"]] == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
    assert all(h["counted"] for h in report["hosts"])
    assert sum(h["vms"] for h in report["hosts"]) == 2
    assert report["vms"] == {"nova": 2, "vmwctl": 0, "system": 0, "extension": 0, "other": 0}
    assert report["drs"] == {"enabled": True, "behavior": "fullyAutomated",
                             "fully_automated": True}
    [store] = report["datastores"]
    assert (store["mounted_hosts"], store["cluster_hosts"], store["used"]) == (3, 3, True)


def test_hosts_out_of_service_are_not_counted(simulator) -> None:
    sim = simulator("-host", "5", "-maintenance-host", "DC0_C0_H1",
                    "-disconnect-host", "DC0_C0_H3")
    report = inspect(sim)
    compare(sim, report)
    assert report["nova"]["hosts_counted"] == 3
    rows = {h["name"]: h for h in report["hosts"]}
    assert rows["DC0_C0_H1"]["in_maintenance"] is True and not rows["DC0_C0_H1"]["counted"]
    assert rows["DC0_C0_H3"]["connection_state"] == "disconnected"


def test_datastore_states_types_and_regex(simulator) -> None:
    sim = simulator("-ds", "4", "-maintenance-datastore", "LocalDS_1",
                    "-datastore-type", "LocalDS_2=NFS", "-datastore-type", "LocalDS_3=OTHER",
                    "-add-datastore", "nfs-half=NFS:DC0_C0_H0", datastore_regex="Local")
    report = inspect(sim)
    compare(sim, report, regex="Local")
    rows = {d["name"]: d for d in report["datastores"]}
    assert rows["LocalDS_0"]["used"] and rows["LocalDS_2"]["used"]
    assert rows["LocalDS_2"]["type"] == "NFS"
    assert rows["LocalDS_1"]["reason"] == "in maintenance (inMaintenance)"
    assert rows["LocalDS_3"]["reason"].startswith("type OTHER")
    assert rows["nfs-half"]["matches_regex"] is False
    assert rows["nfs-half"]["reason"] == "name does not match datastore_regex 'Local'"
    assert (rows["nfs-half"]["mounted_hosts"], rows["nfs-half"]["cluster_hosts"]) == (1, 3)
    assert report["nova"]["placement"]["DISK_GB"]["total"] == \
        (rows["LocalDS_0"]["capacity"] + rows["LocalDS_2"]["capacity"]) // GIB


def test_reserved_amounts_come_from_the_profile(simulator, tmp_path) -> None:
    import yaml

    sim = simulator()
    data = yaml.safe_load(sim.config.read_text())
    data["profiles"]["sim"]["DEFAULT"].update(reserved_host_memory_mb=512, reserved_host_cpus=1,
                                              reserved_host_disk_mb=1500)
    sim.config.write_text(yaml.safe_dump(data))
    placement = inspect(sim)["nova"]["placement"]
    assert placement["MEMORY_MB"]["reserved"] == 512
    assert placement["VCPU"]["reserved"] == 1
    assert placement["DISK_GB"]["reserved"] == math.ceil(1500 / 1024) == 2


def test_inspect_by_name_and_errors(simulator) -> None:
    sim = simulator("-cluster", "2")
    report = inspect(sim, "DC0_C1")
    assert report["name"] == "DC0_C1"
    compare(sim, report, name="DC0_C1")
    result = sim.run("cluster", "inspect", "Nope")
    assert result.exit_code == 2
    assert result.stderr == "Error: no cluster named 'Nope' (clusters: DC0_C0, DC0_C1)\n"
    table = sim.run("cluster", "inspect").stdout
    assert "12,285 MiB" in table and "DC0_C0_H2" in table


def test_cluster_list(simulator) -> None:
    sim = simulator("-cluster", "2", "-dc", "2")
    result = sim.run("cluster", "list", "-o", "json")
    assert result.exit_code == 0
    rows = {(c["datacenter"], c["name"]): c for c in result.json()["clusters"]}
    assert set(rows) == {("DC0", "DC0_C0"), ("DC0", "DC0_C1"), ("DC1", "DC1_C0"),
                         ("DC1", "DC1_C1")}
    assert rows[("DC0", "DC0_C0")]["selected"] is True
    assert sum(c["selected"] for c in rows.values()) == 1
    vc = sim.connect()
    for (_, name), row in rows.items():
        want = expected(vc, name)
        assert (row["vcpus"], row["memory_mb"], row["disk_gb"]) == \
            (want["vcpus"], want["memory_mb"], want["placement"]["DISK_GB"]["total"])
        assert row["drs_fully_automated"] is True
    assert "DC1_C1" in sim.run("cluster", "list").stdout


def test_requests_grow_only_with_pages(simulator) -> None:
    """cluster inspect costs the same requests on a small and a large topology."""
    from vmwctl.nova.cluster import inspect_cluster
    from vmwctl.profile.load import load_profile
    from vmwctl.vsphere.snapshot import read_inventory

    counts = []
    for flags in ((), ("-cluster", "3", "-host", "16", "-vm", "40", "-ds", "4")):
        sim = simulator(*flags)
        vc = sim.connect()
        vc.connect()
        before = vc.request_count
        inventory = read_inventory(vc)
        inspect_cluster(inventory, inventory.cluster_named("DC0_C0"),
                        load_profile(str(sim.config), None, {}))
        counts.append(vc.request_count - before)
    assert counts == [3, 3]  # CreateContainerView, one page, DestroyView
