"""Benchmark ``vmwctl audit`` on a large simulated vCenter against a naive pyVmomi walk.

Starts a lab, then a simulator adding 5 ms to every SOAP call with the large
topology (4 clusters of 32 hosts, 20 shared datastores, 2,000 VMs, every VM
Nova's). OpenStack's view is a server list written from the simulator's
Nova VMs with every tenth left out (so that orphans are found) and an empty
image list. Times vmwctl's audit of one cluster (``run_audit``: the inventory
snapshot, one search per datastore, one read of the VMs' files) and checks its
request count against the formula of docs/audit.md; then does the same
comparison the way a typical script does (SmartConnect, the VMs walked folder by
folder, each VM's properties and extraConfig read one by one, the same
datastore searches). Prints each figure beside its target and its peer, and
writes bench/results/audit.json.

    .venv/bin/python bench/audit.py [--quick] [--runs N]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib
from benchlib import Lab, Row, Run, Simulator, seconds_text, topology, verdict
from pyVim.task import WaitForTask
from pyVmomi import vim

from vmwctl.audit.run import Sources, run_audit
from vmwctl.errors import VmwctlError
from vmwctl.vsphere.inventory import PAGE_SIZE
from vmwctl.vsphere.snapshot import read_inventory

DELAY_MS = 5
CLUSTER = "DC0_C0"
LARGE = {"cluster": 4, "host": 32, "ds": 20, "vm": 500}
QUICK = {"cluster": 2, "host": 8, "ds": 4, "vm": 50}
SPEEDUP_MIN = 10.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def openstack_view(lab: Lab, sim: Simulator, directory: Path) -> tuple[str, str, int]:
    """servers.json (the Nova VMs of the simulator, every tenth left out) and images.json;
    the number left out of the cluster's."""
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)
    report, _ = benchlib.session_run(lab.state, sim.port, lambda vc: read_inventory(vc))
    inventory = report
    cluster = inventory.cluster_named(CLUSTER)
    node = f"{cluster.moid}.{inventory.endpoint.instance_uuid}"
    rows, left_out = [], 0
    for index, vm in enumerate(sorted(inventory.vms.values(), key=lambda v: v.moid)):
        if not vm.nova_uuid:
            continue
        if index % 10 == 0:
            left_out += vm.host in cluster.hosts
            continue
        rows.append({"ID": vm.nova_uuid, "Name": vm.name, "Status": "ACTIVE",
                     "OS-EXT-SRV-ATTR:hypervisor_hostname": node if vm.host in cluster.hosts
                     else "elsewhere"})
    servers, images = directory / "servers.json", directory / "images.json"
    servers.write_text(json.dumps(rows))
    images.write_text("[]")
    del profile
    return str(servers), str(images), left_out


def vmwctl_run(lab: Lab, sim: Simulator, servers: str, images: str) -> Run:
    profile = benchlib.bench_profile(lab.state, sim.port, CLUSTER)

    def audit(vc: Any) -> Any:
        inventory = read_inventory(vc, cluster=CLUSTER)
        return run_audit(vc, inventory, profile, inventory.cluster_named(CLUSTER),
                         Sources(servers=servers, images=images),
                         now=dt.datetime.now(dt.UTC))

    report, run = benchlib.session_run(lab.state, sim.port, audit)
    run.requests = run.tally.total
    run.result = {"counts": report.counts}
    return run


def naive_walk(si: Any, servers: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """The same comparison the usual way: objects walked and read attribute by attribute."""
    known = {row["ID"] for row in json.loads(Path(servers).read_text())}
    content = si.RetrieveContent()
    dc = content.rootFolder.childEntity[0]
    cluster = next(c for c in dc.hostFolder.childEntity if c.name == CLUSTER)
    hosts = {host._moId for host in cluster.host}
    stores = list(cluster.datastore)
    orphans, users = [], set()
    for vm in benchlib.walk_vms(dc.vmFolder):
        host = vm.runtime.host
        if host is None or host._moId not in hosts:
            continue
        config = vm.config
        marks = {option.key: option.value for option in config.extraConfig or []}
        instance = marks.get("nvp.vm-uuid")
        if instance is None:
            match = UUID.search(vm.name)
            instance = match.group(0) if match else None
        if instance is not None and instance not in known:
            orphans.append(vm.name)
        users.add(config.files.vmPathName.rsplit("/", 1)[0])
        for device in config.hardware.device:
            backing = getattr(device, "backing", None)
            name = getattr(backing, "fileName", None)
            if name:
                users.add(name.rsplit("/", 1)[0])
    progress(f"{len(orphans)} orphaned VMs")
    folders = 0
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"], details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileSize=True, modification=True, fileType=True))
    for ds in stores:
        name = ds.summary.name
        task = ds.browser.SearchDatastoreSubFolders_Task(datastorePath=f"[{name}]",
                                                          searchSpec=spec)
        WaitForTask(task)
        folders += len(task.info.result or [])
    progress(f"{folders} folders searched")
    return {"orphans": len(orphans), "folders": folders, "users": len(users)}


def main(argv: list[str] | None = None) -> int:
    args = benchlib.parse_simulator_args(
        argv, __doc__.split("\n\n")[0],
        quick=f"a smaller large lab ({topology(QUICK)}) for a smoke run",
        runs="timed vmwctl runs, after a warm-up", default_runs=3)
    flags = QUICK if args.quick else LARGE
    with benchlib.running_lab() as lab, tempfile.TemporaryDirectory() as scratch:
        sim = lab.start_simulator("large", flags, DELAY_MS)
        servers, images, left_out = openstack_view(lab, sim, Path(scratch))
        mine = benchlib.measure_runs("vmwctl audit on the large lab",
                                     lambda: vmwctl_run(lab, sim, servers, images), args.runs)
        naive = benchlib.naive_run("naive pyVmomi walk on the large lab", lab.state, sim.port,
                                   lambda si, progress: naive_walk(si, servers, progress))
    counts = mine["result"]["counts"]
    # the tree and the cluster (the scoped inventory): each 2 + its pages
    reads = [r for r in mine["tally"].reads if r.kind == "RetrievePropertiesEx (ContainerView)"]
    tree, scoped = ([r.expected_pages for r in reads] + [0, 0])[:2]
    vm_pages = -(-flags["vm"] * flags["cluster"] // PAGE_SIZE)
    datastores = sim.datastores
    expected = 2 + (2 + tree) + (2 + scoped) + (2 + vm_pages) + 2 * datastores
    speedup = naive["seconds"] / mine["median_seconds"]
    rows = [
        Row("audit, large lab (wall)", seconds_text(mine["median_seconds"]),
            f">= {SPEEDUP_MIN:.0f}x faster than the naive walk",
            f"naive walk {seconds_text(naive['seconds'])}; speed-up {speedup:.0f}x",
            verdict(speedup >= SPEEDUP_MIN)),
        Row("SOAP requests", f"{mine['requests']}",
            f"= 2 + (2 + Ptree) + (2 + Pcluster) + (2 + Pvm) + 2 x D = 2 + (2 + {tree}) + "
            f"(2 + {scoped}) + (2 + {vm_pages}) + 2 x {datastores} = {expected} "
            "(2: connect, log in)",
            f"naive walk {naive['requests']:,}",
            verdict(mine["requests"] == expected)),
        Row("orphan-vm found", f"{counts['orphan-vm']}", f"= {left_out} left out",
            f"naive walk {naive['found']['orphans']}",
            verdict(counts["orphan-vm"] == left_out == naive["found"]["orphans"])),
    ]
    print(f"\naudit of cluster {CLUSTER} on a simulator adding {DELAY_MS} ms to every SOAP "
          f"call; {topology(sim.flags)}\nvmwctl: median of {args.runs} run(s) after a "
          "warm-up; naive pyVmomi walk: one run; both from connect to the findings\n")
    benchlib.print_table(rows)
    benchlib.write_results("audit", {
        **benchlib.environment(benchlib.vsphere_versions()),
        "delay_ms_per_call": DELAY_MS, "topology": topology(sim.flags),
        "vmwctl": benchlib.plain(mine), "naive": benchlib.plain(naive),
        "speedup": speedup, "targets": [row.__dict__ for row in rows]})
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError)
