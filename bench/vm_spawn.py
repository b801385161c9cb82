"""Benchmark ``vm spawn`` step by step on a simulator adding 5 ms to every call, against pyVmomi.

Starts a lab, then one more simulator (scenario healthy: port group br-int,
Nova's VMs) with 5 ms added to every SOAP call, uploads a small
streamOptimized image to the lab's Glance and runs ``vmwctl vm spawn`` as a
process: once with a cold cache (the fetch from Glance included), then N
times as a linked clone and N times as a full clone, recording each step's
seconds and vSphere requests from vmwctl's own report, and deleting each VM
with ``vmwctl vm delete``. Beside them, in the same rounds: a naive pyVmomi
spawn of the same VM (SmartConnect, attribute access, ``WaitForTask``), and
vmwctl's spawn in-process with its session's requests tallied by kind and by
step (what the report does not count included). Prints the per-step
table and a table of each figure beside its target and its peer, with
PASS/MISS (informational: the exit status is 0 unless something crashed or a
spawn failed), and writes bench/results/vm_spawn.json.

    .venv/bin/python bench/vm_spawn.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import getpass
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import benchlib
from benchlib import (
    BenchError,
    Lab,
    Row,
    Simulator,
    Tally,
    labctl,
    log,
    output_of,
    seconds_text,
    tool_env,
    topology,
    verdict,
    write_profile,
)
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from vmwctl.cache.seed import seed_source
from vmwctl.errors import VmwctlError
from vmwctl.images.glance import open_image_service, properties_of
from vmwctl.images.properties import nova_view
from vmwctl.nova.vnc import lowest_free_port
from vmwctl.profile.load import load_profile
from vmwctl.profile.schema import Profile
from vmwctl.vm import spec as specs
from vmwctl.vm.spawn import Spawner, SpawnReport, SpawnRequest, Step
from vmwctl.vsphere.model import VNC_PORT_KEY
from vmwctl.vsphere.snapshot import VM_SPAWN, read_inventory

DELAY_MS = 5  # added by the simulator to every SOAP call
CLUSTER = "DC0_C0"
PORTGROUP = "br-int"
FLAGS: dict[str, int] = {}  # the simulator's defaults: 1 cluster of 3 hosts, 1 datastore
CACHE_FOLDER = f"{labctl.LAB_MY_IP}_base"  # Nova's <my_ip>_base of the lab's profile
VM_FOLDER = "vmwctl"  # the inventory folder vmwctl spawns into
MIB = 1 << 20
MB = 1_000_000
# The test image: virtual size, and random data at the start of every 8 MiB.
FULL_IMAGE = {"virtual": 64 * MIB, "chunk": 512 << 10}  # 4 MiB of data
QUICK_IMAGE = {"virtual": 16 * MIB, "chunk": 512 << 10}  # 1 MiB of data
STRIDE = 8 * MIB
IMAGE_NAME = "vmwctl-bench-spawn"
IMAGE_PROPERTIES = {"vmware_disktype": "streamOptimized", "vmware_adaptertype": "lsiLogic",
                    "vmware_ostype": "otherGuest"}
ADAPTER, OS_TYPE, VIF_MODEL, DISK_TYPE = "lsiLogic", "otherGuest", "e1000", "streamOptimized"
DEFAULT_RUNS, QUICK_RUNS = 5, 2
WALL_TARGET = 2.0  # warm linked clone: process wall <= 2x its steps plus its inventory read
KINDS = ("cold", "linked", "full")  # the first spawn, warm linked clones, warm full clones
KIND_TITLES = {"cold": "cold (linked, fetch)", "linked": "warm linked clone",
               "full": "warm full clone"}
STEP_ORDER = ("datastore", "inventory folder", "create VM", "VNC port", "image cache",
              "sized copy", "attach linked clone", "full copy", "attach disk", "power on")


# ------------------------------------------------------------------ the image and the profile

def build_image(workdir: Path, virtual: int, chunk: int) -> tuple[Path, int]:
    """A streamOptimized VMDK (lsilogic) of a sparse raw disk with random data every 8 MiB."""
    raw = workdir / "disk.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), str(virtual)], check=True)
    data = 0
    with raw.open("r+b") as handle:
        for offset in range(0, virtual, STRIDE):
            handle.seek(offset)
            handle.write(os.urandom(chunk))
            data += chunk
    disk = workdir / "disk.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized,adapter_type=lsilogic", str(raw), str(disk)],
                   check=True)
    raw.unlink()
    return disk, data


def upload_image(profile: Profile, env: dict[str, str], disk: Path) -> dict[str, Any]:
    """Create the image in the lab's Glance, upload the VMDK; its record once active."""
    with mock.patch.dict(os.environ, {"OS_CLIENT_CONFIG_FILE": env["OS_CLIENT_CONFIG_FILE"]}):
        service = open_image_service(profile, os.environ)
        image = service.create(IMAGE_NAME, IMAGE_PROPERTIES, disk_format="vmdk")
        with disk.open("rb") as handle:
            service.upload(image["id"], iter(lambda: handle.read(MIB), b""))
        record = service.get(image["id"])
    if record.get("status") != "active" or record.get("size") != disk.stat().st_size:
        raise BenchError(f"Glance holds image {image['id']} as {record.get('status')}, "
                         f"{record.get('size')} bytes, not active with {disk.stat().st_size}")
    return record


# ------------------------------------------------------------------ vmwctl vm spawn, the process

def compile_bytecode() -> None:
    """vmwctl's modules compiled into __pycache__ (git ignores it), as pip's install does:
    an operator's vmwctl does not compile its sources at each start."""
    import vmwctl

    if not compileall.compile_dir(str(Path(vmwctl.__file__).parent), quiet=1):
        raise BenchError("compiling vmwctl's bytecode failed")


def vmwctl_argv(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "vmwctl", "--config", str(config), *args]


@dataclass
class SpawnRun:
    """One ``vmwctl vm spawn`` process: its wall time and its report's steps."""

    kind: str  # cold | linked | full
    round: int
    name: str
    wall_seconds: float
    steps: list[dict[str, Any]]  # name, seconds, requests, outcome, detail
    delete_seconds: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)  # the read before the steps
    cpu_seconds: float = 0.0  # the process's user and system CPU time

    @property
    def inventory_seconds(self) -> float:
        return float(self.inventory.get("seconds") or 0.0)

    @property
    def work_seconds(self) -> float:
        """The steps plus the inventory read: the vCenter work the process is for."""
        return self.step_seconds + self.inventory_seconds

    @property
    def step_seconds(self) -> float:
        return sum(step["seconds"] for step in self.steps)

    @property
    def step_requests(self) -> int:
        return sum(step["requests"] for step in self.steps)

    def signature(self) -> tuple[tuple[str, int], ...]:
        return tuple((step["name"], step["requests"]) for step in self.steps)


def run_vmwctl(config: Path, env: dict[str, str], image_id: str, kind: str, round_: int,
               name: str) -> SpawnRun:
    """One spawn as a process, checked, then its VM deleted (timed apart)."""
    argv = vmwctl_argv(config, "vm", "spawn", image_id, "--network", PORTGROUP, "--name", name,
                       "-o", "json", *(["--full-clone"] if kind == "full" else []))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # this child's alone: one at a time
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise BenchError(f"vmwctl vm spawn ({kind}) exited with status {done.returncode}: "
                         f"{(done.stderr.strip() or done.stdout.strip())[-800:]}")
    report = json.loads(done.stdout)
    steps = [{key: step[key] for key in ("name", "seconds", "requests", "outcome", "detail")}
             for step in report["steps"]]
    cache = next((s for s in steps if s["name"] == "image cache"), None)
    fetched = cache is not None and "fetched" in cache["detail"]
    problems = [f"step {s['name']} {s['outcome']}" for s in steps if s["outcome"] != "done"]
    if report.get("power_state") != "poweredOn":
        problems.append(f"power state {report.get('power_state')}")
    if report.get("linked_clone") != (kind != "full"):
        problems.append(f"linked_clone {report.get('linked_clone')}")
    if fetched != (kind == "cold"):
        problems.append("the image was fetched" if fetched else "the image was not fetched")
    inventory = report.get("inventory") or {}
    if not inventory:
        problems.append("no inventory read in the report")
    run = SpawnRun(kind, round_, report["name"], wall, steps, inventory=inventory, cpu_seconds=cpu,
                   report={key: report.get(key) for key in (
                       "moid", "host", "datastore", "disk", "parent_disk", "vnc", "power_state",
                       "linked_clone")})
    run.delete_seconds = delete_vm(config, env, run.name)
    if problems:
        raise BenchError(f"vmwctl vm spawn ({kind}) of {run.name}: {'; '.join(problems)}")
    return run


def delete_vm(config: Path, env: dict[str, str], name: str) -> float:
    """``vmwctl vm delete NAME --yes``; its wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(vmwctl_argv(config, "vm", "delete", name, "--yes", "-o", "json"),
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"vmwctl vm delete {name} exited with status {done.returncode}: "
                         f"{(done.stderr.strip() or done.stdout.strip())[-800:]}")
    return seconds


# ------------------------------------------------------------------ vmwctl in-process, tallied

class MarkingSpawner(Spawner):
    """vmwctl's Spawner, telling ``before(name)`` as each step starts (requests between steps)."""

    before: Callable[[str], None] = staticmethod(lambda name: None)

    def _step(self, report: SpawnReport, name: str, work: Callable[[Step], Any]) -> Any:
        self.before(name)
        return super()._step(report, name, work)


def inprocess_spawn(lab: Lab, sim: Simulator, profile: Profile, record: dict[str, Any],
                    name: str, full: bool) -> dict[str, Any]:
    """One warm spawn through ``Spawner`` in a tallied session; the requests of each phase.

    Phases: connect and inventory (``read_inventory``), each step (its
    requests as the report counts them, tallied by kind), the requests made
    between two steps (outside any step, so not in the report), and the
    reading of the result after the last step. Timed from connect to the
    report (logout untimed); the VM is deleted afterwards by the caller.
    """
    phases: list[dict[str, Any]] = []
    last: Counter[str] = Counter()
    tallies: list[Tally] = []  # the session's own (session_run makes it)

    def mark(phase: str, step: Step | None = None) -> None:
        nonlocal last
        now = Counter(tallies[0].requests)
        kinds = now - last
        last = now
        if step is None and not kinds and phase.startswith("outside"):
            return
        phases.append({"phase": phase, "requests": sum(kinds.values()),
                       "reported": step.requests if step else None,
                       "by_kind": dict(kinds.most_common())})

    def refuse(image_id: str) -> Any:
        raise BenchError(f"the warm in-process spawn tried to fetch image {image_id}")

    def action(vc: Any) -> SpawnReport:
        tallies.append(vc.tally)
        view = nova_view(properties_of(record), disk_format=record.get("disk_format"),
                         container_format=record.get("container_format"))
        request = SpawnRequest(image=record, view=view, source=seed_source(record), name=name,
                               network=PORTGROUP, linked_clone=not full)
        inventory = read_inventory(vc, cluster=CLUSTER, vm_properties=VM_SPAWN)  # as vm spawn
        mark("connect and inventory")
        spawner = MarkingSpawner(vc, inventory, profile, inventory.cluster_named(CLUSTER),
                                 download=refuse, on_step=lambda step: mark(step.name, step))
        spawner.before = lambda step: mark(f"outside the steps, before {step}")
        report = spawner.spawn(request)
        mark("result (after the steps)")
        return report

    report, run = benchlib.session_run(lab.state, sim.port, action)
    steps = sum(s.requests for s in report.steps)
    return {"kind": "full" if full else "linked", "name": report.name, "seconds": run.seconds,
            "requests": run.requests, "step_requests": steps, "tally": run.tally,
            "phases": phases,
            "signature": [(p["phase"], p["requests"]) for p in phases]}


# ------------------------------------------------------------------ the naive spawn

def _walk_vms(folder: Any) -> list[Any]:
    found = []
    for child in folder.childEntity:
        if isinstance(child, vim.VirtualMachine):
            found.append(child)
        elif isinstance(child, vim.Folder):
            found.extend(_walk_vms(child))
    return found


def _wait_state(content: Any, task: Any, what: str) -> None:
    """Poll ``info.state`` (and ``info.error``) through the PropertyCollector until it ends.

    For CopyVirtualDisk_Task: the simulator names the VirtualDiskManager as the
    task's entity, and ``WaitForTask`` then fails to read ``task.info``
    (TypeError). One RetrievePropertiesEx per poll, 0.1 s apart.
    """
    collector = vmodl.query.PropertyCollector
    spec = collector.FilterSpec(objectSet=[collector.ObjectSpec(obj=task)],
                                propSet=[collector.PropertySpec(type=vim.Task,
                                                                pathSet=["info.state",
                                                                         "info.error"])])
    while True:
        result = content.propertyCollector.RetrievePropertiesEx([spec], collector.RetrieveOptions())
        props = {p.name: p.val for p in result.objects[0].propSet}
        if props.get("info.state") == "success":
            return
        if props.get("info.state") == "error":
            raise BenchError(f"the naive spawn: {what} failed: {props.get('info.error')}")
        time.sleep(0.1)


def naive_spawn(si: Any, progress: Callable[[str], None], *, image_id: str, name: str,
                datastore_name: str, vnc: tuple[int, int, str], full: bool) -> dict[str, Any]:
    """The spawn written the usual way: look-ups by attribute access, each task awaited.

    The specs are those vmwctl builds (vmwctl.vm.spec, no requests), so the
    VM is the same; what differs is how objects are found and tasks awaited.
    """
    content = si.RetrieveContent()
    datacenters = [e for e in content.rootFolder.childEntity if isinstance(e, vim.Datacenter)]
    datacenter = datacenters[0]
    cluster = next(c for c in datacenter.hostFolder.childEntity
                   if isinstance(c, vim.ClusterComputeResource) and c.name == CLUSTER)
    pool = cluster.resourcePool
    datastore = next(ds for ds in datacenter.datastore if ds.name == datastore_name)
    network = next(n for n in cluster.network if n.name == PORTGROUP)
    choice = specs.NetworkChoice("Network", PORTGROUP, network)
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        choice.kind = "DistributedVirtualPortgroup"
        choice.portgroup_key = network.key
        choice.switch_uuid = network.config.distributedVirtualSwitch.uuid
    vm_folder = datacenter.vmFolder
    folder = next((f for f in vm_folder.childEntity
                   if isinstance(f, vim.Folder) and f.name == VM_FOLDER), None)
    if folder is None:
        folder = vm_folder.CreateFolder(VM_FOLDER)
    progress("objects found")

    used = set()  # Nova's get_vnc_port: the lowest port no VM of the vCenter uses
    for dc in datacenters:
        for vm in _walk_vms(dc.vmFolder):
            config = vm.config
            for option in (config.extraConfig if config else None) or []:
                if option.key == VNC_PORT_KEY and str(option.value).isdigit():
                    used.add(int(option.value))
    first, last, keymap = vnc  # the profile's vnc_port, last port, vnc_keymap
    port = lowest_free_port(used, first, last)
    progress(f"VNC port {port} chosen")

    marker = specs.Marker(image_id, dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          f"{getpass.getuser()}@{socket.gethostname()}")
    config = specs.create_spec(name=name, datastore=datastore_name, os_type=OS_TYPE, cpus=1,
                               memory_mb=512, marker=marker,
                               nics=[specs.nic_spec(VIF_MODEL, choice)],
                               annotation=f"Spawned by the vm_spawn benchmark from image "
                                          f"{image_id}.")
    task = folder.CreateVM_Task(config=config, pool=pool)
    WaitForTask(task)
    vm = task.info.result
    WaitForTask(vm.ReconfigVM_Task(spec=specs.vnc_spec(port, keymap)))
    vm_config = vm.config
    progress("VM created, VNC set")

    image_folder = f"[{datastore_name}] {CACHE_FOLDER}/{image_id}"
    cached = f"{image_folder}/{image_id}.vmdk"
    flat = f"{image_id}-flat.vmdk"
    search = datastore.browser.SearchDatastore_Task(
        datastorePath=image_folder, searchSpec=vim.host.DatastoreBrowser.SearchSpec(
            matchPattern=[flat], details=vim.host.DatastoreBrowser.FileInfo.Details(
                fileSize=True)))
    WaitForTask(search)
    sizes = [f.fileSize for f in search.info.result.file or [] if f.path == flat]
    if not sizes:
        raise BenchError(f"the naive spawn found no {flat} in {image_folder}")
    capacity_kb = max(1, -(-sizes[0] // 1024))
    slot = specs.allocate_slot(vm_config.hardware.device, ADAPTER)
    if full:
        vm_dir = vm_config.files.vmPathName.rsplit("/", 1)[0]
        target = f"{vm_dir}/{name}.vmdk"
        copy = content.virtualDiskManager.CopyVirtualDisk_Task(
            sourceName=cached, sourceDatacenter=datacenter, destName=target,
            destDatacenter=datacenter, force=False)
        _wait_state(content, copy, f"copying {cached}")
        changes = specs.disk_spec(slot, file_name=target, capacity_kb=capacity_kb,
                                  disk_type=DISK_TYPE)
    else:
        changes = specs.disk_spec(slot, file_name="", capacity_kb=capacity_kb,
                                  disk_type=DISK_TYPE, parent=cached, create=True)
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes)))
    progress("root disk attached")
    WaitForTask(vm.PowerOnVM_Task())
    runtime = vm.runtime
    if runtime.powerState != "poweredOn":
        raise BenchError(f"the naive spawn left {name} {runtime.powerState}")
    return {"name": name, "moid": vm._moId, "vnc_port": port, "full_clone": full}


def run_naive(lab: Lab, sim: Simulator, config: Path, profile: Profile, env: dict[str, str],
              image_id: str, datastore_name: str, full: bool, round_: int) -> dict[str, Any]:
    """One naive spawn in a new SmartConnect session (logout untimed); its VM then deleted."""
    v = profile.vmware
    vnc = (v.vnc_port, v.vnc_port + max(v.vnc_port_total, 1) - 1, v.vnc_keymap)
    kind = "full" if full else "linked"
    name = f"vmwctl-bench-naive-{kind}-{round_}"
    naive = benchlib.naive_run(
        f"naive pyVmomi spawn, {kind} clone, round {round_}", lab.state, sim.port,
        lambda si, progress: naive_spawn(si, progress, image_id=image_id, name=name,
                                         datastore_name=datastore_name, vnc=vnc, full=full))
    naive["delete_seconds"] = delete_vm(config, env, name)
    naive["round"] = round_
    naive["kind"] = kind
    return naive


# ------------------------------------------------------------------ the rounds

def run_rounds(lab: Lab, sim: Simulator, config: Path, profile: Profile, env: dict[str, str],
               record: dict[str, Any], datastore_name: str, runs: int
               ) -> tuple[dict[str, list[SpawnRun]], dict[str, list[dict[str, Any]]],
                          dict[str, list[dict[str, Any]]]]:
    """Per round, linked then full clone: the vmwctl process, vmwctl in-process, the naive
    spawn; the order reversed every other round."""
    image_id = record["id"]
    spawns: dict[str, list[SpawnRun]] = {"linked": [], "full": []}
    naive: dict[str, list[dict[str, Any]]] = {"linked": [], "full": []}
    inside: dict[str, list[dict[str, Any]]] = {"linked": [], "full": []}
    order = ("vmwctl linked", "in-process linked", "naive linked", "vmwctl full",
             "in-process full", "naive full")
    for round_ in range(1, runs + 1):
        for job in order if round_ % 2 else tuple(reversed(order)):
            tool, kind = job.split()
            if tool == "vmwctl":
                run = run_vmwctl(config, env, image_id, kind, round_, f"bench-{kind}-{round_}")
                log(f"round {round_}/{runs}: vmwctl {kind} clone {run.wall_seconds:.3f} s "
                    f"(steps {run.step_seconds:.3f} s, {run.step_requests} requests), delete "
                    f"{run.delete_seconds:.3f} s")
                spawns[kind].append(run)
            elif tool == "in-process":
                done = inprocess_spawn(lab, sim, profile, record,
                                       f"bench-inprocess-{kind}-{round_}", kind == "full")
                done["delete_seconds"] = delete_vm(config, env, done["name"])
                log(f"round {round_}/{runs}: vmwctl in-process {kind} clone "
                    f"{done['seconds']:.3f} s, {done['requests']} requests "
                    f"({done['step_requests']} in the steps)")
                inside[kind].append(done)
            else:
                naive[kind].append(run_naive(lab, sim, config, profile, env, image_id,
                                             datastore_name, kind == "full", round_))
    return spawns, naive, inside


# ------------------------------------------------------------------ figures

def step_summary(runs: list[SpawnRun]) -> dict[str, dict[str, Any]]:
    """Per step: the median seconds, every run's seconds and requests."""
    names = [step["name"] for step in runs[0].steps]
    summary = {}
    for name in names:
        found = [next(s for s in run.steps if s["name"] == name) for run in runs]
        summary[name] = {"median_seconds": statistics.median(s["seconds"] for s in found),
                         "all_seconds": [s["seconds"] for s in found],
                         "requests": [s["requests"] for s in found],
                         "detail": found[0]["detail"]}
    return summary


def process_summary(runs: list[SpawnRun]) -> dict[str, Any]:
    return {"median_wall_seconds": statistics.median(r.wall_seconds for r in runs),
            "all_wall_seconds": [round(r.wall_seconds, 4) for r in runs],
            "median_step_seconds": statistics.median(r.step_seconds for r in runs),
            "median_inventory_seconds": statistics.median(r.inventory_seconds for r in runs),
            "inventory_requests": [int(r.inventory.get("requests") or 0) for r in runs],
            "median_work_seconds": statistics.median(r.work_seconds for r in runs),
            "median_wall_to_work": statistics.median(r.wall_seconds / r.work_seconds
                                                     for r in runs if r.work_seconds),
            "median_cpu_seconds": statistics.median(r.cpu_seconds for r in runs),
            "step_requests": [r.step_requests for r in runs],
            "median_delete_seconds": statistics.median(r.delete_seconds for r in runs),
            "identical_steps": len({r.signature() for r in runs}) == 1}


def naive_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {"median_seconds": statistics.median(r["seconds"] for r in runs),
            "all_seconds": [round(r["seconds"], 4) for r in runs],
            "requests": median["requests"], "all_requests": [r["requests"] for r in runs],
            "tally": median["tally"],
            "median_delete_seconds": statistics.median(r["delete_seconds"] for r in runs)}


def inside_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The in-process runs: median seconds, the median run's phases, every run's requests."""
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {"median_seconds": statistics.median(r["seconds"] for r in runs),
            "all_seconds": [round(r["seconds"], 4) for r in runs],
            "requests": median["requests"], "all_requests": [r["requests"] for r in runs],
            "step_requests": median["step_requests"], "tally": median["tally"],
            "phases": median["phases"],
            "identical_phases": len({tuple(r["signature"]) for r in runs}) == 1,
            "median_delete_seconds": statistics.median(r["delete_seconds"] for r in runs)}


def counts_text(counts: list[int]) -> str:
    return str(counts[0]) if len(set(counts)) == 1 else f"{min(counts)}-{max(counts)}"


def rows_of(sim: Simulator, spawns: dict[str, list[SpawnRun]], summaries: dict[str, Any],
            naive: dict[str, dict[str, Any]], inside: dict[str, dict[str, Any]]) -> list[Row]:
    cold = spawns["cold"][0]
    linked, full = summaries["linked"], summaries["full"]
    warm = spawns["linked"] + spawns["full"]
    same = sum(r.signature() == spawns[r.kind][0].signature() for r in warm)
    fetch = next(s for s in cold.steps if s["name"] == "image cache")

    def per_step(kind: str) -> str:
        return "/".join(str(s["requests"]) for s in spawns[kind][0].steps)

    def requests_row(kind: str, target: str, result: str) -> Row:
        mine, theirs, whole = summaries[kind], naive[kind], inside[kind]
        return Row(f"warm {kind}-clone spawn total requests",
                   f"{counts_text(mine['step_requests'])} (sum of steps)", target,
                   f"naive pyVmomi spawn {counts_text(theirs['all_requests'])} (connect "
                   f"included); vmwctl's whole session {counts_text(whole['all_requests'])} "
                   "(connect, inventory, steps, between and after them)", result)

    def wall_row(kind: str, target: float | None) -> Row:
        """The process wall against the vCenter work it is for: the steps and the inventory
        read (medians), their ratio the median of the runs' ratios."""
        mine, theirs, whole = summaries[kind], naive[kind], inside[kind]
        wall, work = mine["median_wall_seconds"], mine["median_work_seconds"]
        ratio = mine["median_wall_to_work"]
        return Row(f"warm {kind}-clone spawn: process wall / (steps + inventory read)",
                   f"{ratio:.2f}x (wall {seconds_text(wall)})",
                   f"<= {target:g}x" if target else "info",
                   f"steps {seconds_text(mine['median_step_seconds'])} + inventory read "
                   f"{seconds_text(mine['median_inventory_seconds'])} "
                   f"({counts_text(mine['inventory_requests'])} requests) = "
                   f"{seconds_text(work)}, outside them {seconds_text(wall - work)}; "
                   f"process CPU {seconds_text(mine['median_cpu_seconds'])}; "
                   f"in-process {seconds_text(whole['median_seconds'])}; naive pyVmomi spawn "
                   f"{seconds_text(theirs['median_seconds'])}",
                   verdict(ratio <= target) if target else "info")

    naive_linked = naive["linked"]["all_requests"]
    identical = linked["identical_steps"] and full["identical_steps"]
    phases_same = inside["linked"]["identical_phases"] and inside["full"]["identical_phases"]
    deletes = [r.delete_seconds for r in [cold, *warm]]
    return [
        requests_row("linked", "<= naive walk",
                     verdict(max(linked["step_requests"]) <= min(naive_linked))),
        requests_row("full", "info", "info"),
        Row("per-step request counts identical across warm runs",
            f"{same} of {len(warm)} runs", "identical (deterministic)",
            f"linked {per_step('linked')}; full {per_step('full')}; in-process phases "
            f"{'identical' if phases_same else 'DIFFERENT'}", verdict(identical)),
        Row("cold spawn (process wall)", seconds_text(cold.wall_seconds), "info",
            f"steps {seconds_text(cold.step_seconds)}, of which the image cache "
            f"{seconds_text(fetch['seconds'])} ({fetch['requests']} requests, the fetch)",
            "info"),
        wall_row("linked", WALL_TARGET),
        wall_row("full", None),
        Row("vmwctl vm delete (process wall)", seconds_text(statistics.median(deletes)), "info",
            f"median of the {len(deletes)} process spawns' VMs; not in the spawn figures",
            "info"),
        Row("simulator build (start to ready)", seconds_text(sim.build_seconds), "info",
            f"RSS {(sim.rss_bytes or 0) / 1e6:.0f} MB", "info"),
    ]


# ------------------------------------------------------------------ output

def print_steps(spawns: dict[str, list[SpawnRun]]) -> None:
    """step | seconds and requests per kind (the cold spawn's own, the warm runs' medians)."""
    per_kind = {kind: step_summary(spawns[kind]) for kind in KINDS}
    names = [name for name in STEP_ORDER if any(name in per_kind[k] for k in KINDS)]
    names += [name for kind in KINDS for name in per_kind[kind] if name not in names]
    header = ["step"] + [f"{KIND_TITLES[kind]}" for kind in KINDS]
    cells: list[list[str]] = [["inventory read", *(
        f"{statistics.median(r.inventory_seconds for r in spawns[kind]) * 1000:7.1f} ms "
        f"{counts_text([int(r.inventory.get('requests') or 0) for r in spawns[kind]]):>4}"
        for kind in KINDS)]]
    for name in names:
        row = [name]
        for kind in KINDS:
            step = per_kind[kind].get(name)
            row.append("-" if step is None else f"{step['median_seconds'] * 1000:7.1f} ms "
                       f"{counts_text(step['requests']):>4}")
        cells.append(row)
    totals = ["sum of steps"]
    works = ["steps + inventory read"]
    walls = ["process wall"]
    for kind in KINDS:
        runs = spawns[kind]
        totals.append(f"{statistics.median(r.step_seconds for r in runs) * 1000:7.1f} ms "
                      f"{counts_text([r.step_requests for r in runs]):>4}")
        works.append(f"{statistics.median(r.work_seconds for r in runs) * 1000:7.1f} ms")
        walls.append(f"{statistics.median(r.wall_seconds for r in runs) * 1000:7.1f} ms")
    rows = [header, *cells, totals, works, walls]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print("per step: median seconds and vSphere requests (vmwctl's report; cold: one run)")
    for index, row in enumerate(rows):
        if index in (1, len(rows) - 3):
            print("  ".join("-" * w for w in widths))
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def print_requests(inside: dict[str, dict[str, Any]], naive: dict[str, dict[str, Any]]) -> None:
    """vmwctl's requests by phase and kind (in-process), then the naive spawn's by kind."""
    for kind in ("linked", "full"):
        run = inside[kind]
        print(f"vmwctl requests by phase and kind (in-process, warm {kind} clone, median "
              f"run: {run['requests']} in all, {run['step_requests']} in the steps)")
        width = max(len(p["phase"]) for p in run["phases"]) + 2
        for phase in run["phases"]:
            kinds = ", ".join(f"{k} {n}" for k, n in phase["by_kind"].items()) or "-"
            if phase["reported"] not in (None, phase["requests"]):
                kinds += f"  (the report counts {phase['reported']})"
            print(f"  {phase['phase']:<{width}}{phase['requests']:>3}  {kinds}")
    linked: Tally = naive["linked"]["tally"]
    full: Tally = naive["full"]["tally"]
    print(f"naive pyVmomi spawn requests by kind (linked clone, {linked.total} in all)")
    width = max(len(k) for k in linked.requests) + 2
    for name, count in linked.requests.most_common():
        print(f"  {name:<{width}}{count:>4}")
    more, fewer = full.requests - linked.requests, linked.requests - full.requests
    print(f"naive full clone: {full.total} in all; more: "
          f"{', '.join(f'{k} {n}' for k, n in more.most_common()) or '-'}; fewer: "
          f"{', '.join(f'{k} {n}' for k, n in fewer.most_common()) or '-'}")


def versions() -> dict[str, str]:
    return {**benchlib.vsphere_versions(), "qemu-img": output_of(["qemu-img", "--version"])}


def document(args: argparse.Namespace, runs: int, sim: Simulator, image: dict[str, Any],
             spawns: dict[str, list[SpawnRun]], summaries: dict[str, Any],
             naive: dict[str, dict[str, Any]], naive_runs: dict[str, list[dict[str, Any]]],
             inside: dict[str, dict[str, Any]], rows: list[Row]) -> dict[str, Any]:
    def spawn_figures(kind: str) -> dict[str, Any]:
        return {"runs": [asdict(run) | {"step_seconds": run.step_seconds,
                                        "step_requests": run.step_requests}
                         for run in spawns[kind]],
                "steps": step_summary(spawns[kind]), "process": summaries[kind]}

    return {
        **benchlib.environment(versions()),
        "quick": args.quick,
        "runs": runs,
        "units": {"seconds": "vmwctl's step 'seconds' (monotonic, 1 ms resolution); process "
                  "wall: perf_counter around the subprocess", "MB": MB},
        "delay_ms_per_call": DELAY_MS,
        "bytecode": {"compiled_before_the_runs": True,
                     "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")},
        "cache_folder": CACHE_FOLDER,
        "simulator": asdict(sim) | {"topology": topology(sim.flags)},
        "image": image,
        "vmwctl": {kind: spawn_figures(kind) for kind in KINDS},
        "in_process": {kind: benchlib.plain(figures) for kind, figures in inside.items()},
        "naive": {kind: benchlib.plain(figures) | {
            "runs": [{k: v for k, v in run.items() if k != "tally"}
                     for run in naive_runs[kind]]} for kind, figures in naive.items()},
        "targets": [asdict(row) for row in rows],
    }


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: a {QUICK_IMAGE['virtual'] // MIB} MiB image, "
                             f"{QUICK_RUNS} runs of each kind (unless --runs)")
    parser.add_argument("--runs", type=int, default=None,
                        help=f"warm spawns of each kind (linked clone, full clone) and naive "
                             f"spawns of each (default {DEFAULT_RUNS}, {QUICK_RUNS} with "
                             "--quick)")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS)
    shape = QUICK_IMAGE if args.quick else FULL_IMAGE
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-spawn-"))
    try:
        with benchlib.running_lab() as lab:
            sim = lab.start_simulator("spawn", FLAGS, DELAY_MS)
            config = write_profile(lab.state, sim.port, workdir / "vmwctl.yaml")
            profile = load_profile(str(config), "bench", {})
            env = tool_env(lab.state)
            log(f"building a {shape['virtual'] // MIB} MiB streamOptimized image and uploading "
                "it to the lab's Glance")
            disk, data = build_image(workdir, shape["virtual"], shape["chunk"])
            record = upload_image(profile, env, disk)
            image = {"id": record["id"], "name": record["name"], "size": record["size"],
                     "virtual_size": record.get("virtual_size"), "random_data": data,
                     "properties": IMAGE_PROPERTIES}
            log(f"  image {record['id']}: {record['size']:,} bytes, "
                f"{shape['virtual'] // MIB} MiB virtual")

            log("compiling vmwctl's bytecode, as pip does at install (this environment's "
                "PYTHONDONTWRITEBYTECODE would have every process compile it anew)")
            compile_bytecode()
            log("cold spawn (the image is fetched into the cache)")
            cold = run_vmwctl(config, env, record["id"], "cold", 0, "bench-cold")
            log(f"  {cold.wall_seconds:.3f} s (steps {cold.step_seconds:.3f} s, "
                f"{cold.step_requests} requests), delete {cold.delete_seconds:.3f} s")
            datastore_name = cold.report["datastore"]
            rounds, naive_runs, inside_runs = run_rounds(lab, sim, config, profile, env,
                                                         record, datastore_name, runs)
            spawns = {"cold": [cold], **rounds}
            sim.rss_bytes = benchlib.rss_of(sim.pid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summaries = {kind: process_summary(spawns[kind]) for kind in KINDS}
    naive = {kind: naive_summary(naive_runs[kind]) for kind in ("linked", "full")}
    inside = {kind: inside_summary(inside_runs[kind]) for kind in ("linked", "full")}
    rows = rows_of(sim, spawns, summaries, naive, inside)
    results = document(args, runs, sim, image, spawns, summaries, naive, naive_runs, inside,
                       rows)
    print(f"\nvm spawn of a {shape['virtual'] // MIB} MiB streamOptimized image "
          f"({record['size'] / MB:.1f} MB in Glance) on a simulator adding {DELAY_MS} ms to "
          f"every SOAP call: {topology(sim.flags)};\nvmwctl vm spawn as a process: one cold "
          f"spawn, then {runs} warm linked clones and {runs} warm full clones; naive pyVmomi "
          f"spawn: {runs} of each, alternating\n")
    benchlib.print_table(rows)
    print()
    print_steps(spawns)
    print()
    print_requests(inside, naive)
    benchlib.write_results("vm_spawn", results)
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError)
