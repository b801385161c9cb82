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
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pyVim.connect
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from vmwctl.checks.prereqs import run_prereqs
from vmwctl.checks.privileges import GUIDE_IDS
from vmwctl.config import Profile, build_profile
from vmwctl.errors import VmwctlError
from vmwctl.nova_rules import ALL_DATASTORE_TYPES, GUIDE_VNC_RANGE
from vmwctl.vsphere.inventory import PAGE_SIZE
from vmwctl.vsphere.session import ConnectionSettings, VCenter

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests" / "lab"))
import labctl  # noqa: E402  (the lab's module lives beside the tests, not in a package)

RESULTS = BENCH / "results" / "check_prereqs.json"
DELAY_MS = 5  # added by the simulator to every SOAP call
CLUSTER = "DC0_C0"
PORTGROUP = "br-int"
# Simulator topologies: clusters per datacenter, hosts per cluster, datastores
# (mounted on every host), VMs per resource pool (one root pool per cluster).
LARGE = {"cluster": 4, "host": 32, "ds": 20, "vm": 500}
QUICK = {"cluster": 2, "host": 8, "ds": 4, "vm": 50}
SMALL: dict[str, int] = {}  # the simulator's defaults: 1 cluster, 3 hosts, 1 datastore, 2 VMs

# Targets (informational).
SPEEDUP_MIN = 10.0  # vmwctl at least 10x faster than the naive walk on the large lab

# Request kinds whose number may depend on the inventory's size: result pages
# beyond the first, and the image-cache search of each datastore with its polls.
PAGE_KIND = "ContinueRetrievePropertiesEx"
SEARCH_KIND = "SearchDatastore_Task"
POLL_KIND = "RetrievePropertiesEx (Task)"
CONNECT_KIND = "RetrieveServiceContent + Login"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A step of the benchmark failed (not a missed target)."""


# ------------------------------------------------------------------ counting requests

@dataclass
class Read:
    """One property read: its first request's kind, the objects and pages it returned."""

    kind: str
    objects: int = 0
    pages: int = 0

    @property
    def expected_pages(self) -> int:
        return max(1, math.ceil(self.objects / PAGE_SIZE))


def _type_name(obj: Any) -> str:
    return type(obj).__name__.rsplit(".", 1)[-1]


def request_kind(mo: Any, info: Any, args: Any) -> str:
    """A SOAP request's kind: the method, the property fetched, or what a read is about."""
    name = info.wsdlName
    if name == "Fetch":  # pyVmomi's attribute access: one request per property
        return f"Fetch {_type_name(mo)}.{args[0]}"
    if name == "RetrievePropertiesEx":
        specs = args[0] or []
        objects = specs[0].objectSet if specs else []
        return f"{name} ({_type_name(objects[0].obj) if objects else '?'})"
    return name


class Tally:
    """SOAP requests by kind, and the objects and pages of every property read."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.reads: list[Read] = []
        self._open: dict[str, Read] = {}  # continuation token -> its read
        self._lock = threading.Lock()
        self.stopped = False  # requests after stop() (the logout) pass uncounted

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def add(self, kind: str, count: int = 1) -> None:
        with self._lock:
            self.requests[kind] += count

    def stop(self) -> None:
        self.stopped = True

    def invoke(self, original: Callable[..., Any], mo: Any, info: Any, args: Any,
               outer: Any) -> Any:
        if self.stopped:
            return original(mo, info, args, outer)
        self.add(request_kind(mo, info, args))
        result = original(mo, info, args, outer)
        if info.wsdlName in ("RetrievePropertiesEx", PAGE_KIND):
            with self._lock:
                if info.wsdlName == PAGE_KIND:
                    read = self._open.pop(args[0], None) or Read("unknown token")
                else:
                    read = Read(request_kind(mo, info, args))
                    self.reads.append(read)
                read.pages += 1
                read.objects += len(getattr(result, "objects", None) or [])
                token = getattr(result, "token", None)
                if token:
                    self._open[token] = read
        return result

    def counted(self, kind: str) -> int:
        return self.requests.get(kind, 0)

    def fixed(self) -> Counter[str]:
        """The requests whose number must not depend on the inventory's size."""
        return Counter({kind: count for kind, count in self.requests.items()
                        if kind not in (PAGE_KIND, SEARCH_KIND, POLL_KIND)})

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_kind": dict(self.requests.most_common()),
                "reads": [asdict(read) | {"expected_pages": read.expected_pages}
                          for read in self.reads if read.kind != POLL_KIND],
                "task_polls": self.counted(POLL_KIND)}


def count_requests(stub: Any, tally: Tally) -> None:
    """Route every request of a pyVmomi stub (attribute fetches included) through tally.

    Managed objects call ``self._stub.InvokeMethod`` and property accessors call
    ``stub.InvokeMethod`` too, so an instance attribute sees every request.
    """
    original = stub.InvokeMethod

    def invoke(mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:  # noqa: N803
        return tally.invoke(original, mo, info, args, outerStub)

    stub.InvokeMethod = invoke


class CountingVCenter(VCenter):
    """vmwctl's session, with its requests tallied by kind (its own count is kept)."""

    def __init__(self, settings: ConnectionSettings, tally: Tally) -> None:
        super().__init__(settings)
        self.tally = tally

    def connect(self) -> None:
        super().connect()
        # RetrieveServiceContent and Login went out before the counter was in place.
        self.tally.add(CONNECT_KIND, self.stub.request_count)
        count_requests(self.stub, self.tally)


# ------------------------------------------------------------------ the lab

@dataclass
class Simulator:
    """One simulator of the benchmark: its flags, start-up figures and address."""

    name: str
    flags: dict[str, int]
    argv: list[str]
    build_seconds: float
    url: str
    port: int
    pid: int
    datastores: int
    rss_bytes: int | None = None


def rss_of(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


@contextlib.contextmanager
def running_lab() -> Iterator[tuple[labctl.LabState, list[labctl.Service]]]:
    """A new lab in a temporary directory; the extra simulators go into the list."""
    state_dir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-lab-"))
    extra: list[labctl.Service] = []
    log(f"starting a lab in {state_dir}")
    try:
        state = labctl.up(state_dir, tie_to_parent=True)
        yield state, extra
    finally:
        for service in extra:
            labctl.stop_process(service.pid)
        labctl.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
        log("stopped the lab and the simulators")


def start_simulator(state: labctl.LabState, extra: list[labctl.Service], name: str,
                    flags: dict[str, int]) -> Simulator:
    """One more simulator, scenario healthy, with the delay; its start-up timed."""
    argv = [arg for key, value in flags.items() for arg in (f"-{key}", str(value))]
    argv += ["-delay", str(DELAY_MS)]
    log(f"starting the {name} simulator: {' '.join(argv)}")
    started = time.perf_counter()
    service, ready = labctl.start_vcsim(Path(state.dir), "healthy", extra_args=argv,
                                        tie_to_parent=True, name=name)
    seconds = time.perf_counter() - started
    extra.append(service)
    port = int(ready["url"].split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    log(f"  ready in {seconds:.2f} s at {ready['url']}")
    return Simulator(name, flags, argv, seconds, ready["url"], port, service.pid,
                     len(ready["datastores"]))


def topology(flags: dict[str, int]) -> str:
    clusters, hosts = flags.get("cluster", 1), flags.get("host", 3)
    stores, vms = flags.get("ds", 1), flags.get("vm", 2)
    return (f"{clusters} cluster(s) x {hosts} hosts, {stores} datastore(s), "
            f"{clusters * vms:,} VMs")


# ------------------------------------------------------------------ vmwctl

@dataclass
class Run:
    seconds: float
    requests: int
    tally: Tally = field(repr=False)
    result: dict[str, Any] = field(default_factory=dict)


def vmwctl_run(state: labctl.LabState, sim: Simulator) -> Run:
    """One ``run_prereqs`` in a new session: connect, log in, every check (logout untimed)."""
    profile = bench_profile(state, sim)
    tally = Tally()
    vc = CountingVCenter(ConnectionSettings(host="127.0.0.1", port=sim.port,
                                            username=state.username,
                                            password=lambda: state.password,
                                            ca_file=state.ca_file), tally)
    try:
        started = time.perf_counter()
        report = run_prereqs(vc, profile, cluster_name=CLUSTER, portgroup=PORTGROUP)
        seconds = time.perf_counter() - started
    finally:
        tally.stop()
        vc.close()
    requests = report.vsphere_requests or 0
    if tally.total != requests:
        log(f"  the tally ({tally.total}) differs from vmwctl's own count ({requests})")
    checks = {check.id: {"status": check.status.value, "detail": check.detail}
              for check in report.checks}
    return Run(seconds, requests, tally, {"summary": report.summary, "checks": checks})


def bench_profile(state: labctl.LabState, sim: Simulator) -> Profile:
    return build_profile("bench", {"vmware": {
        "host_ip": "127.0.0.1", "host_port": sim.port, "host_username": state.username,
        "host_password_file": state.password_file, "ca_file": state.ca_file,
        "cluster_name": CLUSTER}})


def measure_vmwctl(state: labctl.LabState, sim: Simulator, runs: int) -> dict[str, Any]:
    """One untimed warm-up, then `runs` timed runs; the median run is reported."""
    log(f"vmwctl run_prereqs on the {sim.name} lab: warm-up and {runs} run(s)")
    vmwctl_run(state, sim)
    done = []
    for index in range(runs):
        run = vmwctl_run(state, sim)
        log(f"  run {index + 1}: {run.seconds:.3f} s, {run.requests} requests")
        done.append(run)
    median = sorted(done, key=lambda r: r.seconds)[len(done) // 2]
    problems = {cid: c for cid, c in median.result["checks"].items() if c["status"] == "fail"}
    for check_id, check in problems.items():
        log(f"  check {check_id} failed: {check['detail'][:160]}")
    return {"median_seconds": statistics.median(r.seconds for r in done),
            "all_seconds": [round(r.seconds, 4) for r in done],
            "requests": median.requests, "all_requests": [r.requests for r in done],
            "tally": median.tally, "report": median.result}


# ------------------------------------------------------------------ the naive walk

def naive_connect(state: labctl.LabState, sim: Simulator, tally: Tally) -> Any:
    """SmartConnect as scripts do, with the stub it makes counting every request."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=state.ca_file)
    real = pyVim.connect.SoapStubAdapter

    def counting_stub(*args: Any, **kwargs: Any) -> Any:
        stub = real(*args, **kwargs)
        count_requests(stub, tally)
        return stub

    with mock.patch.object(pyVim.connect, "SoapStubAdapter", counting_stub):
        return SmartConnect(host="127.0.0.1", port=sim.port, user=state.username,
                            pwd=state.password, sslContext=context)


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


def _walk_vms(folder: Any) -> Iterator[Any]:
    for child in folder.childEntity:
        if isinstance(child, vim.VirtualMachine):
            yield child
        elif isinstance(child, vim.Folder):
            yield from _walk_vms(child)


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
        for vm in _walk_vms(datacenter.vmFolder):
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


def measure_naive(state: labctl.LabState, sim: Simulator) -> dict[str, Any]:
    """One naive walk in a new session (logout untimed)."""
    log(f"naive pyVmomi walk on the {sim.name} lab")
    tally = Tally()
    started = time.perf_counter()

    def progress(message: str) -> None:
        log(f"  {message} ({time.perf_counter() - started:.1f} s, {tally.total} requests)")

    si = naive_connect(state, sim, tally)
    try:
        found = naive_walk(si, CLUSTER, PORTGROUP, progress)
        seconds = time.perf_counter() - started
        requests = tally.total
    finally:
        tally.stop()
        Disconnect(si)
    log(f"  {seconds:.2f} s, {requests} requests")
    return {"seconds": seconds, "requests": requests, "tally": tally, "found": summarize(found)}


def summarize(found: dict[str, Any]) -> dict[str, Any]:
    """Counts instead of long lists, for the JSON file."""
    return {key: len(value) if isinstance(value, list) else value
            for key, value in found.items()}


# ------------------------------------------------------------------ verdicts and output

@dataclass
class Row:
    measure: str
    value: str
    target: str
    peer: str
    result: str  # PASS, MISS or info


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def compare_requests(small: Tally, large: Tally, small_ds: int,
                     large_ds: int) -> dict[str, Any]:
    """Whether vmwctl's requests grow only with result pages and searched datastores."""
    fixed_small, fixed_large = small.fixed(), large.fixed()
    reads = [read for tally in (small, large) for read in tally.reads if read.kind != POLL_KIND]
    pages_ok = all(read.pages == read.expected_pages for read in reads)
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
    return [
        Row("check prereqs, large lab (wall)", _s(large["median_seconds"]),
            f">= {SPEEDUP_MIN:.0f}x faster than the naive walk",
            f"naive walk {_s(naive['large']['seconds'])}; speed-up {speedup:.0f}x",
            verdict(speedup >= SPEEDUP_MIN)),
        Row("check prereqs, small lab (wall)", _s(small["median_seconds"]), "info",
            f"naive walk {_s(naive['small']['seconds'])}", "info"),
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
        Row("simulator build (start to ready)", _s(sims["large"].build_seconds), "info",
            f"small lab {_s(sims['small'].build_seconds)}; large RSS "
            f"{(sims['large'].rss_bytes or 0) / 1e6:.0f} MB", "info"),
    ]


def print_table(rows: list[Row]) -> None:
    header = Row("measure", "figure", "target", "peer", "result")
    columns = list(asdict(header))
    widths = {c: max(len(getattr(row, c)) for row in [header, *rows]) for c in columns}
    for index, row in enumerate([header, *rows]):
        print("  ".join(getattr(row, c).ljust(widths[c]) for c in columns).rstrip())
        if index == 0:
            print("  ".join("-" * widths[c] for c in columns))


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


def versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    return {"vmwctl": version("vmwctl"), "pyvmomi": version("pyvmomi"),
            "simulator": labctl.vcsim_binary().name + " (govmomi 0.24.2)",
            "python": sys.version.split()[0]}


def document(args: argparse.Namespace, sims: dict[str, Simulator], mine: dict[str, Any],
             naive: dict[str, Any], requests: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    def plain(figures: dict[str, Any]) -> dict[str, Any]:
        return {key: value.as_dict() if isinstance(value, Tally) else value
                for key, value in figures.items()}

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
        "quick": args.quick,
        "delay_ms_per_call": DELAY_MS,
        "page_size": PAGE_SIZE,
        "cluster": CLUSTER, "portgroup": PORTGROUP,
        "simulators": {name: asdict(sim) | {"topology": topology(sim.flags)}
                       for name, sim in sims.items()},
        "vmwctl": {name: plain(figures) for name, figures in mine.items()},
        "naive": {name: plain(figures) for name, figures in naive.items()},
        "requests_small_vs_large": requests,
        "speedup": naive["large"]["seconds"] / mine["large"]["median_seconds"],
        "targets": [asdict(row) for row in rows],
    }


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a smaller large lab ({topology(QUICK)}) for a smoke run")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed vmwctl runs per lab, after a warm-up (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    large_flags = QUICK if args.quick else LARGE
    with running_lab() as (state, extra):
        sims = {"large": start_simulator(state, extra, "large", large_flags),
                "small": start_simulator(state, extra, "small", SMALL)}
        mine = {name: measure_vmwctl(state, sim, args.runs) for name, sim in sims.items()}
        naive = {name: measure_naive(state, sim) for name, sim in sims.items()}
        for sim in sims.values():
            sim.rss_bytes = rss_of(sim.pid)
    requests = compare_requests(mine["small"]["tally"], mine["large"]["tally"],
                                sims["small"].datastores, sims["large"].datastores)
    rows = rows_of(sims, mine, naive, requests)
    results = document(args, sims, mine, naive, requests, rows)
    print(f"\ncheck prereqs (cluster {CLUSTER}, port group {PORTGROUP}) on simulators adding "
          f"{DELAY_MS} ms to every SOAP call;\nlarge lab: {topology(sims['large'].flags)}; "
          f"small lab: {topology(sims['small'].flags)}\nvmwctl: median of {args.runs} "
          "run(s) after a warm-up; naive pyVmomi walk: one run; both from connect to the "
          "last check\n")
    print_table(rows)
    print(f"\n{requests['explanation']}")
    found = naive["large"]["found"]
    checks = mine["large"]["report"]["summary"]
    print(f"vmwctl's checks on the large lab: {checks}; the naive walk saw "
          f"{found['hosts']} hosts, {found['datastores_used']} datastores, "
          f"{found['vms_seen']:,} VMs ({found['foreign_vms']} not Nova's)\n")
    print_requests(mine, naive)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, VmwctlError, RuntimeError, OSError,
            subprocess.CalledProcessError) as exc:
        log(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
