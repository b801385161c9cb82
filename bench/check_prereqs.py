"""Benchmark ``check prereqs`` on a large simulated vCenter against a naive pyVmomi walk.

Starts a lab, then two more simulators with 5 ms added to every SOAP call: a
large one (4 clusters of 32 hosts, 20 shared datastores, 2,000 VMs) and a
small one (the default topology). Times vmwctl's ``run_prereqs`` on both and
counts its SOAP requests by kind, then does the same checks the way a
typical script does (SmartConnect, then attribute access object by object)
and counts those requests too. Prints a table of each figure beside its
target and its peer, with PASS/MISS (informational: the exit status is 0
unless something crashed), and writes bench/results/check_prereqs.json.

    .venv/bin/python bench/check_prereqs.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import benchlib
from benchlib import (
    PAGE_KIND,
    POLL_KIND,
    SEARCH_KIND,
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
from pyVim.task import WaitForTask
from pyVmomi import vim

from vmwctl.checks.prereqs import run_prereqs
from vmwctl.errors import VmwctlError
from vmwctl.nova.rules import ALL_DATASTORE_TYPES, GUIDE_VNC_RANGE
from vmwctl.privileges.guide import GUIDE_IDS
from vmwctl.vsphere.inventory import PAGE_SIZE

DELAY_MS = 5  # added by the simulator to every SOAP call
CLUSTER = "DC0_C0"
PORTGROUP = "br-int"
# Simulator topologies: clusters per datacenter, hosts per cluster, datastores
# (mounted on every host), VMs per resource pool (one root pool per cluster).
LARGE = {"cluster": 4, "host": 32, "ds": 20, "vm": 500}
QUICK = {"cluster": 2, "host": 8, "ds": 4, "vm": 50}
SMALL: dict[str, int] = {}  # the simulator's defaults: 1 cluster, 3 hosts, 1 datastore, 2 VMs

# The checks measured, frozen: those of the first wave, which the naive walk does too, so
# that checks added later do not move the baseline (issue 27).
CHECKS = ["vcenter", "cluster", "drs", "shared-storage", "datastores", "dedicated", "network",
          "vnc-firewall", "privileges", "hosts", "image-cache"]

# Targets (informational).
SPEEDUP_MIN = 10.0  # vmwctl at least 10x faster than the naive walk on the large lab
FLOOR_MAX = 2.0  # wall at most 2x the latency floor of its requests, large lab (issue 27)


# ------------------------------------------------------------------ vmwctl

def vmwctl_run(lab: Lab, sim: Simulator) -> Run:
    """One ``run_prereqs`` in a new session: connect, log in, every check (logout untimed)."""
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)
    report, run = benchlib.session_run(
        lab.state, sim.port,
        lambda vc: run_prereqs(vc, profile, cluster_name=CLUSTER, portgroup=PORTGROUP,
                               only=CHECKS))
    run.requests = report.vsphere_requests or 0
    checks = {check.id: {"status": check.status.value, "detail": check.detail}
              for check in report.checks}
    run.result = {"summary": report.summary, "checks": checks,
                  "floor": latency_floor(run, benchlib.call_log(lab.state, sim.port))}
    return run


def latency_floor(run: Run, log_calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's latency floor from the simulator's call log: its critical path (the
    longest chain of calls that did not overlap) times the latency added to each call."""
    calls = benchlib.calls_of(run, log_calls)
    if len(calls) != run.requests:
        log(f"  the simulator logged {len(calls)} calls in the run, vmwctl counted "
            f"{run.requests}")
    chain = benchlib.critical_path(calls)
    floor = len(chain) * DELAY_MS / 1000
    return {"calls": len(calls), "rounds": len(chain), "seconds": floor,
            "wall_ratio": run.seconds / floor if floor else None,
            "cpu_seconds": run.cpu_seconds, "chain": [c["method"] for c in chain]}


def measure_vmwctl(lab: Lab, sim: Simulator, runs: int) -> dict[str, Any]:
    """One untimed warm-up, then `runs` timed runs; the median run is reported."""
    figures = benchlib.measure_runs(f"vmwctl run_prereqs on the {sim.name} lab",
                                    lambda: vmwctl_run(lab, sim), runs)
    figures["report"] = figures.pop("result")
    figures["floor"] = figures["report"].pop("floor")
    problems = {cid: c for cid, c in figures["report"]["checks"].items()
                if c["status"] == "fail"}
    for check_id, check in problems.items():
        log(f"  check {check_id} failed: {check['detail'][:160]}")
    return figures


# ------------------------------------------------------------------ the naive walk

def _opened_ports(firewall: Any) -> set[int]:
    """Ports that enabled rulesets open to inbound TCP from any address."""
    ports: set[int] = set()
    for ruleset in getattr(firewall, "ruleset", None) or []:
        allowed = ruleset.allowedHosts
        if not ruleset.enabled or (allowed is not None and not allowed.allIp):
            continue
        for rule in ruleset.rule or []:
            if rule.direction == "inbound" and rule.protocol == "tcp" and rule.portType != "src":
                ports.update(range(rule.port, (rule.endPort or rule.port) + 1))
    return ports


def naive_walk(si: Any, cluster_name: str, portgroup: str,
               progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The prerequisite checks written the usual way: one property of one object at a time.

    Every attribute read once per object is kept in a local (a careless script
    reads ``host.runtime`` once per field, which costs more); the answers are
    counted so that the walk does the work vmwctl's checks do.
    """
    content = si.RetrieveContent()
    about = content.about
    found: dict[str, Any] = {"vcenter": f"{about.fullName} ({about.apiType})"}
    clusters, datacenter_of = [], {}
    for datacenter in content.rootFolder.childEntity:
        if not isinstance(datacenter, vim.Datacenter):
            continue
        for entity in datacenter.hostFolder.childEntity:
            if isinstance(entity, vim.ClusterComputeResource) and entity.name == cluster_name:
                clusters.append(entity)
                datacenter_of[entity._moId] = datacenter
    if len(clusters) != 1:
        raise BenchError(f"the naive walk found {len(clusters)} clusters named {cluster_name}")
    cluster = clusters[0]
    drs = cluster.configurationEx.drsConfig
    found["drs"] = bool(drs.enabled) and drs.defaultVmBehavior == "fullyAutomated"

    hosts = list(cluster.host)
    connected, unusable, without_portgroup, without_vnc = [], [], [], []
    vnc_ports = set(range(GUIDE_VNC_RANGE[0], GUIDE_VNC_RANGE[1] + 1))
    for host in hosts:
        name = host.name
        runtime = host.runtime
        product = host.summary.config.product
        if runtime.connectionState == "connected":
            connected.append(host._moId)
        if runtime.connectionState != "connected" or runtime.inMaintenanceMode:
            unusable.append(name)
        if portgroup not in [network.name for network in host.network]:
            without_portgroup.append(name)
        if not vnc_ports <= _opened_ports(host.config.firewall):
            without_vnc.append(f"{name} (ESXi {product.version})")
    found.update(hosts=len(hosts), unusable_hosts=unusable,
                 hosts_without_portgroup=without_portgroup, hosts_without_vnc=without_vnc)
    progress(f"{len(hosts)} hosts read")

    used, gaps, leftovers = [], [], []
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["vmware_temp", "OSTACK_IMG_*"],
        query=[vim.host.DatastoreBrowser.FolderQuery()],
        details=vim.host.DatastoreBrowser.FileInfo.Details(modification=True, fileType=True))
    for datastore in cluster.datastore:
        summary = datastore.summary
        if not summary.accessible or summary.maintenanceMode not in (None, "normal") or \
                summary.type not in ALL_DATASTORE_TYPES:
            continue
        used.append(datastore._moId)
        mounted = {m.key._moId for m in datastore.host
                   if m.mountInfo.mounted and m.mountInfo.accessible}
        gaps.extend(f"{summary.name} on {moid}" for moid in connected if moid not in mounted)
        task = datastore.browser.SearchDatastore_Task(datastorePath=f"[{summary.name}]",
                                                      searchSpec=spec)
        WaitForTask(task)
        leftovers.extend(f"[{summary.name}] {f.path}" for f in task.info.result.file or [])
    found.update(datastores_used=len(used), shared_storage_gaps=gaps, leftovers=leftovers)
    progress(f"{len(used)} datastores read and searched")

    host_ids, store_ids = {h._moId for h in hosts}, set(used)
    seen, in_scope, foreign = 0, 0, []
    for datacenter in content.rootFolder.childEntity:
        if not isinstance(datacenter, vim.Datacenter):
            continue
        for vm in benchlib.walk_vms(datacenter.vmFolder):
            seen += 1
            if seen % 500 == 0:
                progress(f"{seen} VMs read")
            name, runtime, stores, config = vm.name, vm.runtime, vm.datastore, vm.config
            on_host = runtime.host is not None and runtime.host._moId in host_ids
            if not on_host and not store_ids.intersection(ds._moId for ds in stores):
                continue
            in_scope += 1
            options = {o.key: o.value for o in (config.extraConfig if config else None) or []}
            if "nvp.vm-uuid" not in options:
                foreign.append(name)
    found.update(vms_seen=seen, vms_in_scope=in_scope, foreign_vms=foreign)

    session = content.sessionManager.currentSession
    answers = content.authorizationManager.HasPrivilegeOnEntities(
        entity=[datacenter_of[cluster._moId], cluster], sessionId=session.key, privId=GUIDE_IDS)
    found["privileges_missing"] = sorted({a.privId for answer in answers
                                          for a in answer.privAvailability if not a.isGranted})
    return found


def measure_naive(lab: Lab, sim: Simulator) -> dict[str, Any]:
    """One naive walk in a new session (logout untimed)."""
    figures = benchlib.naive_run(
        f"naive pyVmomi walk on the {sim.name} lab", lab.state, sim.port,
        lambda si, progress: naive_walk(si, CLUSTER, PORTGROUP, progress))
    figures["found"] = summarize(figures["found"])
    return figures


def summarize(found: dict[str, Any]) -> dict[str, Any]:
    """Counts instead of long lists, for the JSON file."""
    return {key: len(value) if isinstance(value, list) else value
            for key, value in found.items()}


# ------------------------------------------------------------------ verdicts and output

def compare_requests(small: Tally, large: Tally, small_ds: int,
                     large_ds: int) -> dict[str, Any]:
    """Whether vmwctl's requests grow only with result pages and searched datastores."""
    fixed_small, fixed_large = small.fixed(), large.fixed()
    pages_ok = small.pages_match_objects() and large.pages_match_objects()
    searches = (small.counted(SEARCH_KIND), large.counted(SEARCH_KIND))
    polls = (small.counted(POLL_KIND), large.counted(POLL_KIND))
    searches_ok = searches == (small_ds, large_ds) and all(
        p >= s for p, s in zip(polls, searches, strict=True))
    objects = [max((r.objects for r in t.reads if r.kind == "RetrievePropertiesEx "
                    "(ContainerView)"), default=0) for t in (small, large)]
    pages = (small.counted(PAGE_KIND), large.counted(PAGE_KIND))
    difference = large.total - small.total
    line = (f"large - small = {large.total} - {small.total} = {difference:+d} requests: "
            f"{pages[1] - pages[0]:+d} continued page(s) (inventory {objects[1]:,} vs "
            f"{objects[0]:,} objects, {PAGE_SIZE:,} per page), "
            f"{searches[1] - searches[0]:+d} datastore search task(s) ({large_ds} vs "
            f"{small_ds} datastores) and {polls[1] - polls[0]:+d} task poll(s) "
            f"({polls[1]} vs {polls[0]}); the other {sum(fixed_large.values())} requests "
            + ("are the same kinds and numbers on both"
               if fixed_small == fixed_large else "DIFFER"))
    if fixed_small != fixed_large:
        differing = sorted(set(fixed_small) | set(fixed_large))
        line += ": " + ", ".join(f"{kind} {fixed_small[kind]} vs {fixed_large[kind]}"
                                 for kind in differing if fixed_small[kind] != fixed_large[kind])
    return {"ok": fixed_small == fixed_large and pages_ok and searches_ok,
            "fixed_equal": fixed_small == fixed_large, "pages_match_objects": pages_ok,
            "one_search_per_datastore": searches_ok, "difference": difference,
            "continued_pages": list(pages), "searches": list(searches), "polls": list(polls),
            "inventory_objects": objects, "explanation": line}


def rows_of(sims: dict[str, Simulator], mine: dict[str, Any], naive: dict[str, Any],
            requests: dict[str, Any]) -> list[Row]:
    large, small = mine["large"], mine["small"]
    speedup = naive["large"]["seconds"] / large["median_seconds"]
    n_large, n_small = naive["large"]["requests"], naive["small"]["requests"]
    per_request = naive["large"]["seconds"] / n_large
    floor, small_floor = large["floor"], small["floor"]
    ratio = large["median_seconds"] / floor["seconds"]
    small_ratio = small["median_seconds"] / small_floor["seconds"]
    return [
        Row("check prereqs, large lab (wall)", seconds_text(large["median_seconds"]),
            f">= {SPEEDUP_MIN:.0f}x faster than the naive walk",
            f"naive walk {seconds_text(naive['large']['seconds'])}; speed-up {speedup:.0f}x",
            verdict(speedup >= SPEEDUP_MIN)),
        Row("check prereqs, large lab, vs its latency floor",
            seconds_text(large["median_seconds"]),
            f"<= {FLOOR_MAX:.0f}x the floor", f"floor {seconds_text(floor['seconds'])} "
            f"({floor['rounds']} rounds of {DELAY_MS} ms, {floor['calls']} calls); "
            f"ratio {ratio:.2f}x; client CPU {seconds_text(floor['cpu_seconds'])}",
            verdict(ratio <= FLOOR_MAX)),
        Row("check prereqs, small lab, vs its latency floor",
            seconds_text(small["median_seconds"]), "info",
            f"floor {seconds_text(small_floor['seconds'])} ({small_floor['rounds']} rounds); "
            f"ratio {small_ratio:.2f}x; client CPU {seconds_text(small_floor['cpu_seconds'])}",
            "info"),
        Row("check prereqs, small lab (wall)", seconds_text(small["median_seconds"]), "info",
            f"naive walk {seconds_text(naive['small']['seconds'])}", "info"),
        Row("SOAP requests, small -> large", f"{small['requests']} -> {large['requests']}",
            "grows with pages and searched datastores only",
            f"{requests['continued_pages'][1] - requests['continued_pages'][0]:+d} pages, "
            f"{requests['searches'][1] - requests['searches'][0]:+d} searches, "
            f"{requests['polls'][1] - requests['polls'][0]:+d} polls; rest equal: "
            f"{'yes' if requests['fixed_equal'] else 'no'}",
            verdict(requests["ok"])),
        Row("SOAP requests, large lab", f"{large['requests']}", "info",
            f"naive walk {n_large:,} ({n_small:,} on the small lab; "
            f"{per_request * 1000:.1f} ms each)", "info"),
        Row("simulator build (start to ready)", seconds_text(sims["large"].build_seconds), "info",
            f"small lab {seconds_text(sims['small'].build_seconds)}; large RSS "
            f"{(sims['large'].rss_bytes or 0) / 1e6:.0f} MB", "info"),
    ]


def print_requests(mine: dict[str, Any], naive: dict[str, Any]) -> None:
    """vmwctl's requests by kind on both labs, and the naive walk's largest kinds."""
    small, large = mine["small"]["tally"], mine["large"]["tally"]
    print("vmwctl requests by kind                     small  large")
    for kind in sorted(set(small.requests) | set(large.requests)):
        print(f"  {kind:<42}{small.counted(kind):>5}  {large.counted(kind):>5}")
    print("naive walk requests by kind (largest)       small  large")
    n_small, n_large = naive["small"]["tally"], naive["large"]["tally"]
    for kind, count in n_large.requests.most_common(8):
        print(f"  {kind:<42}{n_small.counted(kind):>5}  {count:>5}")
    rest = n_large.total - sum(c for _, c in n_large.requests.most_common(8))
    print(f"  {'(other kinds)':<42}{'':>5}  {rest:>5}")


def document(args: argparse.Namespace, sims: dict[str, Simulator], mine: dict[str, Any],
             naive: dict[str, Any], requests: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    return {
        **benchlib.environment(benchlib.vsphere_versions()),
        "quick": args.quick,
        "delay_ms_per_call": DELAY_MS,
        "page_size": PAGE_SIZE,
        "cluster": CLUSTER, "portgroup": PORTGROUP,
        "simulators": {name: asdict(sim) | {"topology": topology(sim.flags)}
                       for name, sim in sims.items()},
        "vmwctl": {name: benchlib.plain(figures) for name, figures in mine.items()},
        "naive": {name: benchlib.plain(figures) for name, figures in naive.items()},
        "requests_small_vs_large": requests,
        "speedup": naive["large"]["seconds"] / mine["large"]["median_seconds"],
        "targets": [asdict(row) for row in rows],
    }


def runs_of(methods: list[str]) -> list[tuple[str, int]]:
    """Consecutive repeats folded: [a, a, b] -> [(a, 2), (b, 1)]."""
    folded: list[tuple[str, int]] = []
    for method in methods:
        if folded and folded[-1][0] == method:
            folded[-1] = (method, folded[-1][1] + 1)
        else:
            folded.append((method, 1))
    return folded


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return benchlib.parse_simulator_args(
        argv, __doc__.split("\n\n")[0],
        quick=f"a smaller large lab ({topology(QUICK)}) for a smoke run",
        runs="timed vmwctl runs per lab, after a warm-up", default_runs=3)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    large_flags = QUICK if args.quick else LARGE
    with benchlib.running_lab() as lab:
        sims = {"large": lab.start_simulator("large", large_flags, DELAY_MS),
                "small": lab.start_simulator("small", SMALL, DELAY_MS)}
        mine = {name: measure_vmwctl(lab, sim, args.runs) for name, sim in sims.items()}
        naive = {name: measure_naive(lab, sim) for name, sim in sims.items()}
        for sim in sims.values():
            sim.rss_bytes = benchlib.rss_of(sim.pid)
    requests = compare_requests(mine["small"]["tally"], mine["large"]["tally"],
                                sims["small"].datastores, sims["large"].datastores)
    rows = rows_of(sims, mine, naive, requests)
    results = document(args, sims, mine, naive, requests, rows)
    print(f"\ncheck prereqs (cluster {CLUSTER}, port group {PORTGROUP}) on simulators adding "
          f"{DELAY_MS} ms to every SOAP call;\nlarge lab: {topology(sims['large'].flags)}; "
          f"small lab: {topology(sims['small'].flags)}\nvmwctl: median of {args.runs} "
          "run(s) after a warm-up; naive pyVmomi walk: one run; both from connect to the "
          "last check\n")
    benchlib.print_table(rows)
    print(f"\n{requests['explanation']}")
    chain = mine["large"]["floor"]["chain"]
    print(f"critical path on the large lab ({len(chain)} calls): " + ", ".join(
        f"{method} x{count}" if count > 1 else method for method, count in runs_of(chain)))
    found = naive["large"]["found"]
    checks = mine["large"]["report"]["summary"]
    print(f"vmwctl's checks on the large lab: {checks}; the naive walk saw "
          f"{found['hosts']} hosts, {found['datastores_used']} datastores, "
          f"{found['vms_seen']:,} VMs ({found['foreign_vms']} not Nova's)\n")
    print_requests(mine, naive)
    benchlib.write_results("check_prereqs", results)
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError)
