"""Benchmark reads scoped to one cluster: the cost of ``cluster inspect`` and
``check prereqs`` follows the cluster, not the vCenter.

Starts a lab, then two simulators with 5 ms added to every SOAP call: one
holding a single cluster of 32 hosts and 500 VMs ("lone"), one holding 20 such
clusters, one per datacenter (10,000 VMs, "crowded"). Times vmwctl's
``cluster inspect`` (``inspect_cluster(read_inventory(vc, cluster=...))``) on
both and compares their SOAP requests kind by kind; times the naive pyVmomi
walk of bench/cluster_inspect.py on the crowded one; and times ``check
prereqs`` (``run_prereqs``) on the crowded one with the scoped read against the
whole-vCenter read every command made before, and so what ``cache list`` reads
before its searches (the inventory and ``folder_users``, vCenter-wide in both)
and ``check nova-conf``. Prints each figure beside its target and peer
(informational: the exit status is 0 unless something crashed or the figures
differ), and writes bench/results/scoped_reads.json.

    .venv/bin/python bench/scoped_reads.py [--quick] [--runs N]
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import benchlib
import cluster_inspect
from benchlib import BenchError, Lab, Row, Run, Simulator, seconds_text, topology, verdict

from vmwctl.cache.listing import target_datastores
from vmwctl.cache.usage import folder_users
from vmwctl.checks.model import Context
from vmwctl.checks.nova_conf import check_nova_conf
from vmwctl.checks.prereqs import run_nova_conf, run_prereqs
from vmwctl.errors import VmwctlError
from vmwctl.nova.cluster import inspect_cluster
from vmwctl.profile.nova_conf import read_nova_conf
from vmwctl.vsphere.snapshot import CACHE, VM_OWNERS, read_inventory

DELAY_MS = 5
CLUSTER = "DC0_C0"
FULL = {"dc": 20, "cluster": 1, "host": 32, "ds": 1, "vm": 500}
QUICK = {"dc": 5, "cluster": 1, "host": 4, "ds": 1, "vm": 50}

# Targets (issue 27).
CROWDED_MAX = 1.2  # crowded wall <= 1.2x the lone one
NAIVE_MIN = 20.0  # >= 20x faster than the naive walk
PREREQS_MIN = 5.0  # check prereqs scoped >= 5x faster than the whole read
NOVA_CONF = ("[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n[vmware]\n"
             "host_ip = 127.0.0.1\nhost_username = u\nhost_password = p\n"
             f"cluster_name = {CLUSTER}\nvnc_port_total = 206\n")


def lone_flags(flags: dict[str, int]) -> dict[str, int]:
    return {**flags, "dc": 1}


def inspect_run(lab: Lab, sim: Simulator) -> Run:
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)

    def inspect(vc: Any) -> Any:
        inventory = read_inventory(vc, cluster=CLUSTER, vm_properties=VM_OWNERS)
        return inspect_cluster(inventory, inventory.cluster_named(CLUSTER), profile)

    report, run = benchlib.session_run(lab.state, sim.port, inspect)
    run.result = cluster_inspect.figures_of(report)
    return run


def prereqs_run(lab: Lab, sim: Simulator, *, scoped: bool) -> Run:
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)

    def check(vc: Any) -> Any:
        # scoped: the command's own read (its VM properties, the VNC ports meanwhile)
        inventory = None if scoped else read_inventory(vc)
        return run_prereqs(vc, profile, cluster_name=CLUSTER, inventory=inventory,
                           env={}, skip=["certificate"])

    report, run = benchlib.session_run(lab.state, sim.port, check)
    run.result = {c.id: c.status.value for c in report.checks}
    return run


def cache_run(lab: Lab, sim: Simulator, *, scoped: bool) -> Run:
    """What ``cache list`` reads before its datastore searches: the inventory (scoped: the
    cluster's datastores alone), then which VM uses which folder (vCenter-wide in both)."""
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)

    def read(vc: Any) -> Any:
        inventory = read_inventory(vc, cluster=CLUSTER, properties=CACHE) if scoped \
            else read_inventory(vc)
        stores = target_datastores(inventory, profile, None, inventory.cluster_named(CLUSTER))
        return {"datastores": sorted(ds.moid for ds in stores), "users": folder_users(vc)}

    found, run = benchlib.session_run(lab.state, sim.port, read)
    run.result = found
    return run


def nova_conf_run(lab: Lab, sim: Simulator, conf: Path, *, scoped: bool) -> Run:
    """``check nova-conf`` of a file naming the cluster: scoped (run_nova_conf) or on the
    whole-vCenter read every command made before."""
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)

    def check(vc: Any) -> Any:
        if scoped:
            return run_nova_conf(vc, profile, conf).checks
        ctx = Context(inventory=read_inventory(vc), profile=profile, cluster_name=None,
                      cluster=None, regex=None, portgroup=None)
        return check_nova_conf(read_nova_conf(conf), profile, ctx, vc)

    checks, run = benchlib.session_run(lab.state, sim.port, check)
    run.result = [asdict(c) for c in checks]
    return run


def read_rows(pairs: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[Row]:
    """Scoped against whole, per command (informational: folder_users stays vCenter-wide)."""
    return [Row(f"{what}, crowded: scoped read", seconds_text(scoped["median_seconds"]),
                "info", f"whole-vCenter read {seconds_text(whole['median_seconds'])} "
                f"({whole['requests']} requests vs {scoped['requests']}); speed-up "
                f"{whole['median_seconds'] / scoped['median_seconds']:.1f}x", "info")
            for what, (scoped, whole) in pairs.items()]


def rows_of(lone: dict[str, Any], crowded: dict[str, Any], naive: dict[str, Any],
            scoped: dict[str, Any], whole: dict[str, Any]) -> list[Row]:
    ratio = crowded["median_seconds"] / lone["median_seconds"]
    speedup = naive["seconds"] / crowded["median_seconds"]
    prereqs = whole["median_seconds"] / scoped["median_seconds"]
    same = crowded["tally"].requests == lone["tally"].requests
    return [
        Row("cluster inspect requests, crowded vs lone", f"{crowded['requests']} vs "
            f"{lone['requests']}", "the same, kind by kind", ", ".join(
                f"{kind} {count}" for kind, count in sorted(crowded["tally"].requests.items())),
            verdict(same and crowded["requests"] == lone["requests"])),
        Row("cluster inspect wall, crowded", seconds_text(crowded["median_seconds"]),
            f"<= {CROWDED_MAX}x the lone cluster's", f"lone {seconds_text(lone['median_seconds'])}"
            f"; ratio {ratio:.2f}x", verdict(ratio <= CROWDED_MAX)),
        Row("cluster inspect vs the naive walk, crowded",
            seconds_text(crowded["median_seconds"]), f">= {NAIVE_MIN:.0f}x faster",
            f"naive walk {seconds_text(naive['seconds'])} ({naive['requests']:,} requests); "
            f"speed-up {speedup:.0f}x", verdict(speedup >= NAIVE_MIN)),
        Row("check prereqs, crowded: scoped read", seconds_text(scoped["median_seconds"]),
            f">= {PREREQS_MIN:.0f}x faster than the whole read",
            f"whole-vCenter read {seconds_text(whole['median_seconds'])} "
            f"({whole['requests']} requests vs {scoped['requests']}); speed-up {prereqs:.1f}x",
            verdict(prereqs >= PREREQS_MIN)),
    ]


def _same_cluster(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures that must not depend on the rest of the vCenter (the node name holds the
    cluster's moref and the vCenter's instanceUuid, which do)."""
    nova = {key: value for key, value in figures["nova"].items()
            if key != "hypervisor_hostname"}
    return {**figures, "nova": nova}


def main(argv: list[str] | None = None) -> int:
    args = benchlib.parse_simulator_args(
        argv, __doc__.split("\n\n")[0],
        quick=f"smaller simulators ({topology(QUICK)} per datacenter) for a smoke run",
        runs="timed vmwctl runs, after a warm-up", default_runs=5)
    flags = QUICK if args.quick else FULL
    with benchlib.running_lab() as lab:
        lone_sim = lab.start_simulator("lone", lone_flags(flags), DELAY_MS)
        crowded_sim = lab.start_simulator("crowded", flags, DELAY_MS)
        lone = benchlib.measure_runs("cluster inspect, lone", lambda: inspect_run(lab, lone_sim),
                                     args.runs)
        crowded = benchlib.measure_runs("cluster inspect, crowded",
                                        lambda: inspect_run(lab, crowded_sim), args.runs)
        regex = benchlib.bench_profile(lab.state, crowded_sim.port,
                                       CLUSTER).vmware.datastore_regex
        naive = cluster_inspect.measure_naive(lab, crowded_sim, regex)
        scoped = benchlib.measure_runs("check prereqs, crowded, scoped",
                                       lambda: prereqs_run(lab, crowded_sim, scoped=True),
                                       args.runs)
        whole = benchlib.measure_runs("check prereqs, crowded, whole read",
                                      lambda: prereqs_run(lab, crowded_sim, scoped=False),
                                      args.runs)
        conf = Path(tempfile.mkdtemp(prefix="vmwctl-bench-scoped-")) / "nova.conf"
        conf.write_text(NOVA_CONF)
        pairs = {
            "cache list reads": tuple(benchlib.measure_runs(
                f"cache list reads, crowded, {'scoped' if scoped else 'whole read'}",
                lambda scoped=scoped: cache_run(lab, crowded_sim, scoped=scoped), args.runs)
                for scoped in (True, False)),
            "check nova-conf": tuple(benchlib.measure_runs(
                f"check nova-conf, crowded, {'scoped' if scoped else 'whole read'}",
                lambda scoped=scoped: nova_conf_run(lab, crowded_sim, conf, scoped=scoped),
                args.runs) for scoped in (True, False))}
        shutil.rmtree(conf.parent)
    for what, (scoped_run, whole_run) in pairs.items():
        if scoped_run["result"] != whole_run["result"]:
            raise BenchError(f"{what} differs between the scoped and the whole read")
    comparison = cluster_inspect.compare(crowded["result"], naive["found"])
    if _same_cluster(crowded["result"]) != _same_cluster(lone["result"]):
        raise BenchError("cluster inspect found different figures alone and among others")
    if scoped["result"] != whole["result"]:
        raise BenchError(f"check prereqs differs: scoped {scoped['result']} vs whole "
                         f"{whole['result']}")
    rows = rows_of(lone, crowded, naive, scoped, whole)
    rows += read_rows(pairs)
    rows.append(Row("Nova figures vs the naive walk",
                    f"{sum(c['equal'] for c in comparison)} of {len(comparison)} equal",
                    "all equal", "", verdict(all(c["equal"] for c in comparison))))
    print(f"\nreads scoped to cluster {CLUSTER}, {DELAY_MS} ms added to every SOAP call: lone "
          f"{topology(lone_sim.flags)}; crowded {flags['dc']} datacenters of "
          f"{topology(lone_sim.flags)}; median of {args.runs} run(s) after a warm-up\n")
    benchlib.print_table(rows)
    benchlib.write_results("scoped_reads", {
        **benchlib.environment(benchlib.vsphere_versions()),
        "quick": args.quick, "delay_ms_per_call": DELAY_MS, "cluster": CLUSTER,
        "simulators": {sim.name: asdict(sim) for sim in (lone_sim, crowded_sim)},
        "lone": benchlib.plain(lone), "crowded": benchlib.plain(crowded),
        "naive": benchlib.plain(naive), "prereqs_scoped": benchlib.plain(scoped),
        "prereqs_whole": benchlib.plain(whole),
        "reads": {what: {"scoped": benchlib.plain(one), "whole": benchlib.plain(other)}
                  for what, (one, other) in pairs.items()},
        "targets": [asdict(row) for row in rows]})
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, BenchError)
