"""Benchmark ``cluster inspect`` on a large simulated cluster against a naive pyVmomi walk.

Starts a lab, then one more simulator with 5 ms added to every SOAP call: one
cluster of 64 hosts with 4 shared datastores and 2,000 VMs. Times vmwctl's
``inspect_cluster(read_inventory(vc), ...)`` from connect to report and counts
its SOAP requests, then computes the same figures the way a typical script
does (SmartConnect, then attribute access object by object) and counts those
requests too, and checks that both found the same figures. Prints a table of
each figure beside its target and its peer, with PASS/MISS (informational:
the exit status is 0 unless something crashed or the figures differ), and
writes bench/results/cluster_inspect.json.

    .venv/bin/python bench/cluster_inspect.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import benchlib
from benchlib import (
    CONNECT_KIND,
    BenchError,
    Lab,
    Row,
    Run,
    Simulator,
    Tally,
    log,
    seconds_text,
    topology,
    verdict,
)
from pyVmomi import vim

from vmwctl.errors import VmwctlError
from vmwctl.nova.cluster import ClusterReport, inspect_cluster
from vmwctl.nova.rules import ALL_DATASTORE_TYPES
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.inventory import PAGE_SIZE
from vmwctl.vsphere.snapshot import VM_OWNERS, read_inventory

DELAY_MS = 5  # added by the simulator to every SOAP call
CLUSTER = "DC0_C0"
# Simulator topologies: clusters per datacenter, hosts per cluster, datastores
# (mounted on every host), VMs per resource pool (one root pool per cluster).
FULL = {"cluster": 1, "host": 64, "ds": 4, "vm": 2000}
QUICK = {"cluster": 1, "host": 8, "ds": 2, "vm": 100}
MIB, GIB = 1 << 20, 1 << 30
NOVA_KEY, VMWCTL_KEY = "nvp.vm-uuid", "vmwctl.spawned"  # extraConfig markers

# Targets (informational).
SPEEDUP_MIN = 10.0  # vmwctl at least 10x faster than the naive walk
WALL_MAX = 2.0  # seconds, vmwctl from connect to report
# The figures that must agree (the rest of the comparison is listed beside them).
REQUIRED = ("vcpus", "memory_mb", "memory_mb_free", "local_gb")


# ------------------------------------------------------------------ vmwctl

def figures_of(report: ClusterReport) -> dict[str, Any]:
    """What the comparison needs from vmwctl's report."""
    nova = report.nova
    return {
        "nova": {key: value for key, value in asdict(nova).items() if key != "placement"},
        "placement": nova.placement,
        "drs_fully_automated": report.drs["fully_automated"],
        "ha_enabled": report.ha["enabled"],
        "hosts": len(report.hosts),
        # the naive walk tells only Nova's and vmwctl's VMs from the rest
        "vms": {"nova": report.vms["nova"], "vmwctl": report.vms["vmwctl"],
                "other": sum(report.vms.values()) - report.vms["nova"] - report.vms["vmwctl"]},
        "vms_per_host": {host.name: host.vms for host in report.hosts},
        "datastores": {ds.name: {"used": ds.used, "mounted_hosts": ds.mounted_hosts}
                       for ds in report.datastores},
    }


def vmwctl_run(lab: Lab, sim: Simulator, profile: Profile) -> Run:
    """One ``cluster inspect`` in a new session: connect, log in, read, compute (logout untimed)."""
    def inspect(vc: Any) -> ClusterReport:
        inventory = read_inventory(vc, cluster=CLUSTER, vm_properties=VM_OWNERS)
        return inspect_cluster(inventory, inventory.cluster_named(CLUSTER), profile)

    report, run = benchlib.session_run(lab.state, sim.port, inspect)
    run.result = figures_of(report)
    return run


def measure_vmwctl(lab: Lab, sim: Simulator, runs: int) -> dict[str, Any]:
    """One untimed warm-up, then `runs` timed runs; the median run is reported."""
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)
    figures = benchlib.measure_runs("vmwctl cluster inspect",
                                    lambda: vmwctl_run(lab, sim, profile), runs)
    figures["figures"] = figures.pop("result")
    return figures


# ------------------------------------------------------------------ the naive walk

def _version_int(version: str) -> int:
    """'6.5.0' -> 6005000, as oslo's convert_version_to_int."""
    parts = [int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in version.split(".")]
    parts = [*parts, 0, 0, 0][:3]
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def naive_walk(si: Any, cluster_name: str, regex: str | None,
               progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Nova's figures for the cluster written the usual way: one property of one object at a time.

    Each property is read once per object and kept in a local (a careless
    script reads ``host.summary`` once per field, which costs more). Nova's
    rules are written out again here, not taken from vmwctl: sums over the
    hosts connected and out of maintenance, memory floored to MiB per host,
    the datastores that are accessible, out of maintenance, of a type Nova
    uses and match the regex, the one with the most free space.
    """
    content = si.RetrieveContent()
    about = content.about
    clusters = [entity for datacenter in content.rootFolder.childEntity
                if isinstance(datacenter, vim.Datacenter)
                for entity in datacenter.hostFolder.childEntity
                if isinstance(entity, vim.ClusterComputeResource) and entity.name == cluster_name]
    if len(clusters) != 1:
        raise BenchError(f"the naive walk found {len(clusters)} clusters named {cluster_name}")
    cluster = clusters[0]
    config = cluster.configurationEx
    drs = config.drsConfig

    vcpus = memory_mb = used_mb = counted = max_vcpus = max_memory = 0
    vms_per_host: dict[str, int] = {}
    vms = {"nova": 0, "vmwctl": 0, "other": 0}
    hosts = list(cluster.host)
    for index, host in enumerate(hosts, 1):
        name, runtime, summary, on_host = host.name, host.runtime, host.summary, host.vm
        hardware = summary.hardware
        if runtime.connectionState == "connected" and runtime.inMaintenanceMode is False:
            host_mb = hardware.memorySize // MIB
            vcpus += hardware.numCpuThreads
            memory_mb += host_mb
            used_mb += summary.quickStats.overallMemoryUsage or 0
            max_vcpus, max_memory = max(max_vcpus, hardware.numCpuThreads), max(max_memory,
                                                                               host_mb)
            counted += 1
        vms_per_host[name] = len(on_host)
        for vm in on_host:
            vm_config = vm.config
            keys = {o.key for o in (vm_config.extraConfig if vm_config else None) or []}
            vms["vmwctl" if VMWCTL_KEY in keys else "nova" if NOVA_KEY in keys else "other"] += 1
        if index % 16 == 0 or index == len(hosts):
            progress(f"{index} hosts and their {sum(vms.values()):,} VMs read")

    pattern = re.compile(regex) if regex else None
    host_ids = {host._moId for host in hosts}
    stores, datastores = [], {}
    for datastore in cluster.datastore:
        summary, mounts = datastore.summary, datastore.host
        used = (summary.accessible and summary.maintenanceMode in (None, "normal")
                and summary.type in ALL_DATASTORE_TYPES
                and (pattern is None or pattern.match(summary.name) is not None))
        mounted = {m.key._moId for m in mounts if m.mountInfo.mounted and m.mountInfo.accessible}
        datastores[summary.name] = {"used": bool(used), "mounted_hosts": len(mounted & host_ids)}
        if used:
            stores.append(summary)
    progress(f"{len(datastores)} datastores read")
    best = max(stores, key=lambda s: s.freeSpace) if stores else None
    local_gb = best.capacity // GIB if best else 0
    available = best.freeSpace // GIB if best else 0
    return {
        "nova": {
            "hypervisor_hostname": f"{cluster._moId}.{about.instanceUuid}",
            "hypervisor_type": about.name, "hypervisor_version": _version_int(about.version),
            "vcpus": vcpus, "memory_mb": memory_mb, "memory_mb_used": used_mb,
            "memory_mb_free": memory_mb - used_mb, "local_gb": local_gb,
            "local_gb_used": local_gb - available, "disk_available_gb": available,
            "datastore": best.name if best else None, "hosts_counted": counted},
        "placement": {
            "VCPU": {"total": vcpus, "max_unit": max_vcpus},
            "MEMORY_MB": {"total": memory_mb, "max_unit": max_memory},
            "DISK_GB": {"total": sum(s.capacity for s in stores) // GIB,
                        "max_unit": max((s.freeSpace for s in stores), default=0) // GIB}},
        "drs_fully_automated": bool(drs.enabled) and drs.defaultVmBehavior == "fullyAutomated",
        "ha_enabled": config.dasConfig.enabled,
        "hosts": len(hosts),
        "vms": vms,
        "vms_per_host": vms_per_host,
        "datastores": datastores,
    }


def measure_naive(lab: Lab, sim: Simulator, regex: str | None) -> dict[str, Any]:
    """One naive walk in a new session (logout untimed)."""
    return benchlib.naive_run("naive pyVmomi walk", lab.state, sim.port,
                              lambda si, progress: naive_walk(si, CLUSTER, regex, progress))


# ------------------------------------------------------------------ comparison, verdicts, output

def flatten(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'nova': {'vcpus': 1}} -> {'vcpus': 1}; nested keys below the first level are dotted."""
    flat: dict[str, Any] = {}
    for key, value in figures.items():
        name = key if prefix in ("", "nova.") else f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("vms_per_host", "datastores", "vms"):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def compare(mine: dict[str, Any], naive: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure the naive walk computed, beside vmwctl's (the required ones first)."""
    ours, theirs = flatten(mine), flatten(naive)
    names = [*REQUIRED, *(name for name in theirs if name not in REQUIRED)]
    return [{"figure": name, "vmwctl": ours.get(name), "naive": theirs[name],
             "equal": ours.get(name) == theirs[name]} for name in names]


def requests_ok(tally: Tally) -> bool:
    """vmwctl's reads: the tree's and the cluster's, their pages as many as their objects
    need."""
    return len(tally.reads) == 2 and tally.pages_match_objects()


def rows_of(sim: Simulator, mine: dict[str, Any], naive: dict[str, Any],
            comparison: list[dict[str, Any]]) -> list[Row]:
    seconds, naive_seconds = mine["median_seconds"], naive["seconds"]
    speedup = naive_seconds / seconds
    tally: Tally = mine["tally"]
    read = tally.reads[0] if tally.reads else None
    required = [c for c in comparison if c["figure"] in REQUIRED]
    equal = sum(c["equal"] for c in comparison)
    return [
        Row("cluster inspect (wall)", seconds_text(seconds),
            f">= {SPEEDUP_MIN:.0f}x faster than the naive walk",
            f"naive walk {seconds_text(naive_seconds)}; speed-up {speedup:.0f}x",
            verdict(speedup >= SPEEDUP_MIN)),
        Row("cluster inspect (wall), absolute", seconds_text(seconds),
            f"< {seconds_text(WALL_MAX)}",
            f"runs {seconds_text(min(mine['all_seconds']))} .. "
            f"{seconds_text(max(mine['all_seconds']))}", verdict(seconds < WALL_MAX)),
        Row("SOAP requests", f"{mine['requests']}",
            f"two reads (tree, cluster), 1 page per {PAGE_SIZE:,} objects",
            f"naive walk {naive['requests']:,} ({naive_seconds / naive['requests'] * 1000:.1f} "
            f"ms each); vmwctl read {read.objects if read else 0:,} objects in "
            f"{read.pages if read else 0} page(s)", verdict(requests_ok(tally))),
        Row("Nova figures vs the naive walk", f"{equal} of {len(comparison)} equal",
            "all equal",
            ", ".join(f"{c['figure']} {c['vmwctl']:,}" if isinstance(c["vmwctl"], int)
                      else f"{c['figure']} {c['vmwctl']}" for c in required),
            verdict(equal == len(comparison))),
        Row("simulator build (start to ready)", seconds_text(sim.build_seconds), "info",
            f"RSS {(sim.rss_bytes or 0) / 1e6:.0f} MB", "info"),
    ]


def print_comparison(comparison: list[dict[str, Any]]) -> None:
    """The compared figures (per-host and per-datastore ones summarised)."""
    def shown(value: Any) -> str:
        if isinstance(value, dict) and value and all(isinstance(v, int) for v in value.values()):
            counts = list(value.values())
            return (f"{len(counts)} hosts, {min(counts):,}..{max(counts):,} each, "
                    f"{sum(counts):,} in all" if len(counts) > 3 else str(value))
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            used = sum(bool(v.get("used")) for v in value.values())
            mounts = sorted({v.get("mounted_hosts") for v in value.values()})
            hosts = f"{mounts[0]} hosts each" if len(mounts) == 1 else f"{mounts} hosts"
            return f"{len(value)} ({used} used by Nova), mounted on {hosts}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    width = max(len(c["figure"]) for c in comparison)
    value_width = max(len(shown(c["vmwctl"])) for c in comparison)
    print(f"{'figure':<{width}}  {'vmwctl':<{value_width}}  naive walk")
    for c in comparison:
        naive = "same" if c["equal"] else f"{shown(c['naive'])}   DIFFERENT"
        print(f"{c['figure']:<{width}}  {shown(c['vmwctl']):<{value_width}}  {naive}")


def print_requests(mine: dict[str, Any], naive: dict[str, Any]) -> None:
    """vmwctl's requests by kind, and the naive walk's."""
    tally, theirs = mine["tally"], naive["tally"]
    width = max(len(kind) for kind in [*tally.requests, *theirs.requests]) + 2
    print("vmwctl requests by kind")
    for kind in [CONNECT_KIND, *sorted(set(tally.requests) - {CONNECT_KIND})]:
        if kind in tally.requests:
            print(f"  {kind:<{width}}{tally.counted(kind):>6,}")
    print("naive walk requests by kind")
    for kind, count in theirs.requests.most_common():
        print(f"  {kind:<{width}}{count:>6,}")


def document(args: argparse.Namespace, sim: Simulator, mine: dict[str, Any],
             naive: dict[str, Any], comparison: list[dict[str, Any]],
             rows: list[Row]) -> dict[str, Any]:
    return {
        **benchlib.environment(benchlib.vsphere_versions()),
        "quick": args.quick,
        "delay_ms_per_call": DELAY_MS,
        "page_size": PAGE_SIZE,
        "cluster": CLUSTER,
        "simulator": asdict(sim) | {"topology": topology(sim.flags)},
        "vmwctl": benchlib.plain(mine),
        "naive": benchlib.plain(naive),
        "comparison": comparison,
        "speedup": naive["seconds"] / mine["median_seconds"],
        "targets": [asdict(row) for row in rows],
    }


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return benchlib.parse_simulator_args(
        argv, __doc__.split("\n\n")[0],
        quick=f"a smaller simulator ({topology(QUICK)}) for a smoke run",
        runs="timed vmwctl runs, after a warm-up", default_runs=5)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags = QUICK if args.quick else FULL
    with benchlib.running_lab() as lab:
        sim = lab.start_simulator("cluster", flags, DELAY_MS)
        mine = measure_vmwctl(lab, sim, args.runs)
        regex = benchlib.bench_profile(lab.state, sim.port, CLUSTER).vmware.datastore_regex
        naive = measure_naive(lab, sim, regex)
        sim.rss_bytes = benchlib.rss_of(sim.pid)
    comparison = compare(mine["figures"], naive["found"])
    rows = rows_of(sim, mine, naive, comparison)
    results = document(args, sim, mine, naive, comparison, rows)
    print(f"\ncluster inspect (cluster {CLUSTER}) on a simulator adding {DELAY_MS} ms to every "
          f"SOAP call: {topology(sim.flags)}\nvmwctl: "
          "inspect_cluster(read_inventory(vc, cluster)), "
          f"median of {args.runs} run(s) after a warm-up; naive pyVmomi walk: one run; both "
          "from connect to the figures\n")
    benchlib.print_table(rows)
    print()
    print_comparison(comparison)
    print()
    print_requests(mine, naive)
    benchlib.write_results("cluster_inspect", results)
    if not all(c["equal"] for c in comparison):
        log("vmwctl and the naive walk found different figures")
        return 1
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError)
