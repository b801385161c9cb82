"""What the benchmark scripts share: the lab, SOAP request counting, verdicts, output.

Not a benchmark itself. The scripts beside it import it (``import benchlib``
works because Python puts a script's own directory first on ``sys.path``):

- progress lines (:func:`log`) and :class:`BenchError` for a failed step;
- the lab: :func:`running_lab` starts one (or reuses one) and stops it with
  the extra simulators that :meth:`Lab.start_simulator` started in it;
- SOAP requests: :class:`Tally` counts a pyVmomi stub's requests by kind,
  :func:`counting_session` is a vmwctl session whose requests are tallied,
  :func:`naive_connect` a ``SmartConnect`` session whose requests are;
  :func:`measure_runs` times one warm-up and N runs of something vmwctl does;
- output: :class:`Row`, :func:`verdict`, :func:`print_table`, the duration
  formats, :func:`environment` (when, machine) and :func:`write_results`;
- :func:`run` wraps a script's ``main`` with the exit statuses of bench/README.md.
- commands under GNU time: :func:`timed` runs one (a :class:`Timed`), :func:`gnu_time`
  and :func:`gnu_time_figures` wrap and read one run some other way;
  :func:`clean_env` and :func:`tool_env` are the environments they run in;
- :class:`Glance`: the few Glance v2 calls the scripts make themselves;
- the peer client: :func:`peer_venv` installs python-openstackclient once per machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pyVim.connect
from pyVim.connect import Disconnect, SmartConnect

from vmwctl.profile.load import build_profile
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.inventory import PAGE_SIZE
from vmwctl.vsphere.session import ConnectionSettings, VCenter

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS_DIR = BENCH / "results"
sys.path.insert(0, str(REPO / "tests" / "lab"))
import labctl  # noqa: E402  (the lab's module lives beside the tests, not in a package)

SIMULATOR = "govmomi 0.24.2"  # what tests/lab/vcsim is built on


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A step of the benchmark failed (not a missed target)."""


def run(main: Callable[[], int], *errors: type[BaseException]) -> None:
    """Exit with main's status; 1 (with the message) on BenchError or errors, 130 on Ctrl-C."""
    try:
        sys.exit(main())
    except (BenchError, *errors) as exc:
        log(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)


# ------------------------------------------------------------------ counting requests

# Request kinds whose number may depend on the inventory's size: result pages
# beyond the first, and the image-cache search of each datastore with its polls.
PAGE_KIND = "ContinueRetrievePropertiesEx"
SEARCH_KIND = "SearchDatastore_Task"
POLL_KIND = "RetrievePropertiesEx (Task)"
CONNECT_KIND = "RetrieveServiceContent + Login"


@dataclass
class Read:
    """One property read: its first request's kind, the objects and pages it returned, and
    the page size it asked for."""

    kind: str
    objects: int = 0
    pages: int = 0
    page_size: int = PAGE_SIZE

    @property
    def expected_pages(self) -> int:
        return max(1, math.ceil(self.objects / self.page_size))


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
                    asked = getattr(args[1] if len(args) > 1 else None, "maxObjects", None)
                    read = Read(request_kind(mo, info, args), page_size=asked or PAGE_SIZE)
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

    def pages_match_objects(self) -> bool:
        """Every read took as many pages as its objects need, and no more."""
        return all(read.pages == read.expected_pages for read in self.reads
                   if read.kind != POLL_KIND)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_kind": dict(self.requests.most_common()),
                "reads": [asdict(read) | {"expected_pages": read.expected_pages}
                          for read in self.reads if read.kind != POLL_KIND],
                "task_polls": self.counted(POLL_KIND)}


def plain(figures: dict[str, Any]) -> dict[str, Any]:
    """figures with every Tally replaced by its dict, for the JSON file."""
    return {key: value.as_dict() if isinstance(value, Tally) else value
            for key, value in figures.items()}


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
    """One extra simulator of the benchmark: its flags, start-up figures and address."""

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


def topology(flags: dict[str, int]) -> str:
    """The simulator's inventory in words (-vm counts VMs per resource pool: one per cluster)."""
    clusters, hosts = flags.get("cluster", 1), flags.get("host", 3)
    stores, vms = flags.get("ds", 1), flags.get("vm", 2)
    return (f"{clusters} cluster(s) x {hosts} hosts, {stores} datastore(s), "
            f"{clusters * vms:,} VMs")


@dataclass
class Lab:
    """A running lab and the extra simulators started in its directory."""

    state: labctl.LabState
    simulators: list[Simulator] = field(default_factory=list)

    def start_simulator(self, name: str, flags: dict[str, int], delay_ms: int,
                        scenario: str = "healthy") -> Simulator:
        """One more simulator with `delay_ms` added to every SOAP call; its start-up timed."""
        argv = [arg for key, value in flags.items() for arg in (f"-{key}", str(value))]
        argv += ["-delay", str(delay_ms)]
        log(f"starting the {name} simulator: {' '.join(argv)}")
        started = time.perf_counter()
        service, ready = labctl.start_vcsim(Path(self.state.dir), scenario, extra_args=argv,
                                            tie_to_parent=True, name=name)
        seconds = time.perf_counter() - started
        port = int(ready["url"].split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        sim = Simulator(name, flags, argv, seconds, ready["url"], port, service.pid,
                        len(ready["datastores"]))
        self.simulators.append(sim)
        log(f"  ready in {seconds:.2f} s at {ready['url']}")
        return sim

    def stop_simulators(self) -> None:
        for sim in self.simulators:
            labctl.stop_process(sim.pid)

    def datastore_dirs(self, sim: Simulator) -> dict[str, str]:
        """Datastore name -> its local directory, from the simulator's ready line."""
        ready = Path(self.state.dir) / f"{sim.name}.ready"
        return json.loads(ready.read_text().splitlines()[0])["datastores"]


@contextlib.contextmanager
def running_lab(lab_dir: Path | None = None, keep: bool = False) -> Iterator[Lab]:
    """A running lab: the one in lab_dir if it runs (left running), else a new one.

    A new lab goes into lab_dir, or a temporary directory (deleted at the end);
    it is stopped at the end unless ``keep``. The extra simulators are always
    stopped.
    """
    if lab_dir is not None:
        lab_dir = lab_dir.resolve()
        if labctl.status(lab_dir)["running"]:
            state = labctl.load_state(lab_dir)
            assert state is not None
            log(f"reusing the lab in {lab_dir} (left running)")
            lab = Lab(state)
            try:
                yield lab
            finally:
                lab.stop_simulators()
            return
    temporary = lab_dir is None
    state_dir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-lab-")) if temporary else lab_dir
    assert state_dir is not None
    log(f"starting a lab in {state_dir}")
    lab = None
    try:
        lab = Lab(labctl.up(state_dir, tie_to_parent=not keep))
        yield lab
    finally:
        extra = " and the simulators" if lab and lab.simulators else ""
        if lab:
            lab.stop_simulators()
        if keep and lab:
            log(f"the lab keeps running: tests/lab/lab --dir {state_dir} down")
        else:
            labctl.down(state_dir)
            if temporary:
                shutil.rmtree(state_dir, ignore_errors=True)
            log(f"stopped the lab{extra}")


def bench_profile(state: labctl.LabState, port: int, cluster: str) -> Profile:
    """A vmwctl profile for the simulator on `port` of the lab."""
    return build_profile("bench", {"vmware": {
        "host_ip": "127.0.0.1", "host_port": port, "host_username": state.username,
        "host_password_file": state.password_file, "ca_file": state.ca_file,
        "cluster_name": cluster, "vnc_port_total": 206}})  # the guide's VIB, as the lab's


def counting_session(state: labctl.LabState, port: int, tally: Tally) -> CountingVCenter:
    """A new vmwctl session (not yet connected) to the simulator on `port`, tallied."""
    return CountingVCenter(ConnectionSettings(host="127.0.0.1", port=port,
                                              username=state.username,
                                              password=lambda: state.password,
                                              ca_file=state.ca_file), tally)


def naive_connect(state: labctl.LabState, port: int, tally: Tally) -> Any:
    """SmartConnect as scripts do, with the stub it makes counting every request."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=state.ca_file)
    real = pyVim.connect.SoapStubAdapter

    def counting_stub(*args: Any, **kwargs: Any) -> Any:
        stub = real(*args, **kwargs)
        count_requests(stub, tally)
        return stub

    with mock.patch.object(pyVim.connect, "SoapStubAdapter", counting_stub):
        return SmartConnect(host="127.0.0.1", port=port, user=state.username,
                            pwd=state.password, sslContext=context)


# ------------------------------------------------------------------ timing vmwctl

@dataclass
class Run:
    """One timed run of vmwctl: wall seconds, SOAP requests, their tally, what it found;
    ``began`` and ``ended``: the timed span in Unix seconds (the simulator's call log's
    clock)."""

    seconds: float
    requests: int
    tally: Tally = field(repr=False)
    result: dict[str, Any] = field(default_factory=dict)
    began: float = 0.0
    ended: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (every thread) in the timed span


def session_run(state: labctl.LabState, port: int,
                action: Callable[[VCenter], Any]) -> tuple[Any, Run]:
    """action(vc) in a new tallied vmwctl session, timed from connect to its answer.

    The logout is not timed. The Run's requests are the session's own count
    (checked against the tally); its result is left for the caller to fill.
    """
    tally = Tally()
    vc = counting_session(state, port, tally)
    try:
        began, cpu = time.time(), time.process_time()
        started = time.perf_counter()
        answer = action(vc)
        seconds = time.perf_counter() - started
        ended, cpu = time.time(), time.process_time() - cpu
        requests = vc.request_count
    finally:
        tally.stop()
        vc.close()
    if tally.total != requests:
        log(f"  the tally ({tally.total}) differs from vmwctl's own count ({requests})")
    return answer, Run(seconds, requests, tally, began=began, ended=ended, cpu_seconds=cpu)


# ------------------------------------------------------------------ the latency floor

def call_log(state: labctl.LabState, port: int) -> list[dict[str, Any]]:
    """The simulator's log of answered SOAP calls (GET /lab/calls/log, docs/lab.md):
    ``method``, ``begun`` and ``answered`` in Unix seconds, oldest answer first."""
    context = ssl.create_default_context(cafile=state.ca_file)
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/lab/calls/log", context=context,
                                timeout=30) as response:
        return json.load(response)


def critical_path(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The longest chain of calls each begun after the one before it was answered.

    However the calls were issued, each of them takes the per-call latency, so a run
    that made them takes at least len(chain) latencies: its latency floor. The longest
    chain of intervals that do not overlap is found greedily, by earliest answer
    (the classic interval scheduling argument: taking the call that ends first never
    shortens the chain)."""
    chain: list[dict[str, Any]] = []
    for call in sorted(calls, key=lambda c: (c["answered"], c["begun"])):
        if not chain or call["begun"] >= chain[-1]["answered"]:
            chain.append(call)
    return chain


def calls_of(run: Run, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of the log that began and were answered within the run's timed span."""
    return [c for c in calls if c["begun"] >= run.began and c["answered"] <= run.ended]


def naive_run(label: str, state: labctl.LabState, port: int,
              walk: Callable[[Any, Callable[[str], None]], Any]) -> dict[str, Any]:
    """walk(si, progress) in a new SmartConnect session, timed from connect (logout untimed).

    Returns ``seconds``, ``requests``, ``tally`` and what the walk ``found``;
    progress(message) logs the message with the time and requests so far.
    """
    log(label)
    tally = Tally()
    started = time.perf_counter()

    def progress(message: str) -> None:
        log(f"  {message} ({time.perf_counter() - started:.1f} s, {tally.total} requests)")

    si = naive_connect(state, port, tally)
    try:
        found = walk(si, progress)
        seconds = time.perf_counter() - started
        requests = tally.total
    finally:
        tally.stop()
        Disconnect(si)
    log(f"  {seconds:.2f} s, {requests} requests")
    return {"seconds": seconds, "requests": requests, "tally": tally, "found": found}


def measure_runs(label: str, once: Callable[[], Run], runs: int) -> dict[str, Any]:
    """One untimed warm-up, then `runs` timed runs; the median run's figures are reported.

    Returns ``median_seconds``, ``all_seconds``, ``requests`` (the median
    run's), ``all_requests``, ``tally`` and ``result`` (the median run's).
    """
    log(f"{label}: warm-up and {runs} run(s)")
    once()
    done = []
    for index in range(runs):
        timed_run = once()
        log(f"  run {index + 1}: {timed_run.seconds:.3f} s, {timed_run.requests} requests")
        done.append(timed_run)
    median = sorted(done, key=lambda r: r.seconds)[len(done) // 2]
    return {"median_seconds": statistics.median(r.seconds for r in done),
            "all_seconds": [round(r.seconds, 4) for r in done],
            "requests": median.requests, "all_requests": [r.requests for r in done],
            "tally": median.tally, "result": median.result}


# ------------------------------------------------------------------ verdicts and output

@dataclass
class Row:
    """One line of a targets table."""

    measure: str
    value: str
    target: str
    peer: str
    result: str  # PASS, MISS, info, or n/a (a figure is missing)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def print_table(rows: list[Row], value_header: str = "figure") -> None:
    """The rows under a header, each column as wide as its widest cell."""
    header = Row("measure", value_header, "target", "peer", "result")
    columns = list(asdict(header))
    widths = {c: max(len(getattr(row, c)) for row in [header, *rows]) for c in columns}
    for index, row in enumerate([header, *rows]):
        print("  ".join(getattr(row, c).ljust(widths[c]) for c in columns).rstrip())
        if index == 0:
            print("  ".join("-" * widths[c] for c in columns))


def seconds_text(seconds: float) -> str:
    """Whole milliseconds below a second (107 ms), else seconds (3.41 s)."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ms_text(seconds: float) -> str:
    """Milliseconds with three significant digits (0.0281 ms, 86.1 ms, 1234 ms)."""
    value = seconds * 1000
    return f"{value:.3g} ms" if abs(value) < 1000 else f"{value:.0f} ms"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def output_of(argv: list[str], **kwargs: Any) -> str:
    """The first line of a command's output (versions), or '?' when it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    except OSError:
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def python_version() -> str:
    return sys.version.split()[0]


def simulator_version() -> str:
    return f"{labctl.vcsim_binary().name} ({SIMULATOR})"


def vsphere_versions() -> dict[str, str]:
    """The versions behind a benchmark on the simulator."""
    return {"vmwctl": package_version("vmwctl"), "pyvmomi": package_version("pyvmomi"),
            "simulator": simulator_version(), "python": python_version()}


def environment(versions: dict[str, str]) -> dict[str, Any]:
    """The first keys of every results file: when, on what machine, with what versions."""
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "versions": versions}


def parse_simulator_args(argv: list[str] | None, description: str, quick: str,
                         runs: str, default_runs: int) -> argparse.Namespace:
    """The options of the benchmarks on the simulator: --quick, --runs N (at least 1)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--runs", type=int, default=default_runs,
                        help=f"{runs} (default {default_runs})")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json and print its path."""
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(REPO)}")
    return path


def write_profile(state: labctl.LabState, port: int, path: Path, cluster: str = "DC0_C0") -> Path:
    """A profile file 'bench' for the simulator on port: the lab's my_ip and cloud (its Glance)."""
    import yaml

    path.write_text(yaml.safe_dump({"profiles": {"bench": {
        "vmware": {"host_ip": "127.0.0.1", "host_port": port, "host_username": state.username,
                   "host_password_file": state.password_file, "ca_file": state.ca_file,
                   "cluster_name": cluster, "vnc_port_total": 206},
        "DEFAULT": {"my_ip": labctl.LAB_MY_IP},
        "openstack": {"cloud": state.cloud}}}}))
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------ commands under GNU time

GNU_TIME = "/usr/bin/time"


@dataclass
class Timed:
    """One command run under GNU time."""

    returncode: int
    wall: float  # GNU time's %e (seconds, 10 ms resolution)
    elapsed: float  # perf_counter around the whole run, GNU time included
    peak_rss_bytes: int  # GNU time's %M: the largest of the process and its children
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    def check(self, what: str) -> Timed:
        if self.returncode != 0:
            tail = (self.stderr.strip() or self.stdout.strip())[-800:]
            raise BenchError(f"{what} exited with status {self.returncode}: {tail}")
        return self


def gnu_time(argv: list[str], report: Path) -> list[str]:
    """argv under GNU time, its wall seconds and peak RSS written to report (removed first)."""
    report.unlink(missing_ok=True)
    return [GNU_TIME, "-f", "%e %M", "-o", str(report), *argv]


def gnu_time_figures(report: Path) -> tuple[float, int] | None:
    """GNU time's wall seconds and peak RSS in bytes from its report, None without figures.

    The figures are the last line that starts with a digit (GNU time writes a
    line about a failed command before them).
    """
    lines = [line for line in report.read_text().splitlines() if line[:1].isdigit()] \
        if report.exists() else []
    if not lines:
        return None
    wall, rss = lines[-1].split()
    return float(wall), int(rss) * 1024


def timed(argv: list[str], env: dict[str, str], scratch: Path) -> Timed:
    """Run argv under GNU time: wall seconds (GNU time's and perf_counter's), peak RSS, output."""
    command = gnu_time(argv, scratch / "gnu-time.txt")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    figures = gnu_time_figures(scratch / "gnu-time.txt")
    if figures is None:
        raise BenchError(f"{GNU_TIME} gave no figures for {argv[0]}: {done.stderr.strip()}")
    wall, rss = figures
    return Timed(done.returncode, wall, elapsed, rss, done.stdout, done.stderr)


def clean_env() -> dict[str, str]:
    """The caller's environment without OS_* and VMWCTL_*."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VMWCTL_"))}


def tool_env(state: labctl.LabState) -> dict[str, str]:
    """The caller's environment without OS_*/VMWCTL_*, with the lab's clouds.yaml."""
    return clean_env() | {"OS_CLIENT_CONFIG_FILE": state.clouds_file}


# ------------------------------------------------------------------ Glance

NAME_PREFIX = "vmwctl-bench-"  # of the images the benchmarks make (and delete)


class Glance:
    """The few Glance v2 calls the benchmarks make themselves (plain HTTP; with ``token``, a
    Keystone token sent as X-Auth-Token, for the Keystone-protected Glance)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
              content_type: str = "application/json") -> Any:
        if body is not None:
            data = json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        if self.token:
            headers["X-Auth-Token"] = self.token
        request = urllib.request.Request(f"{self.url}/v2{path}", data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def create(self, name: str, properties: dict[str, Any] | None = None) -> str:
        """A queued image record; properties (disk_format etc. included) override the
        defaults vmdk/bare."""
        body = {"name": name, "disk_format": "vmdk", "container_format": "bare",
                **(properties or {})}
        return self._call("POST", "/images", body)["id"]

    def put_data(self, image_id: str, data: bytes) -> None:
        self._call("PUT", f"/images/{image_id}/file", data=data,
                   content_type="application/octet-stream")

    def get(self, image_id: str) -> dict[str, Any]:
        return self._call("GET", f"/images/{image_id}")

    def delete(self, image_id: str) -> None:
        with contextlib.suppress(urllib.error.HTTPError):
            self._call("DELETE", f"/images/{image_id}")

    def wait_active(self, image_id: str, bound: float = 600.0) -> float:
        """Seconds until the image is active (an import finishing after its client returned);
        BenchError when it fails or takes longer than ``bound``."""
        started = time.perf_counter()
        while True:
            image = self.get(image_id)
            if image.get("status") == "active" and not image.get("os_glance_importing_to_stores"):
                return time.perf_counter() - started
            if image.get("os_glance_failed_import") or image.get("status") == "killed":
                raise BenchError(f"the import of image {image_id} failed: {image}")
            if time.perf_counter() - started > bound:
                raise BenchError(f"image {image_id} is not active after {bound:.0f} s")
            time.sleep(0.05)

    def find(self, name: str) -> str | None:
        images = self._call("GET", f"/images?name={urllib.parse.quote(name)}")["images"]
        return images[0]["id"] if images else None

    def delete_leftovers(self) -> int:
        """Delete every image whose name starts with NAME_PREFIX."""
        images = self._call("GET", "/images?limit=1000")["images"]
        mine = [image["id"] for image in images
                if (image.get("name") or "").startswith(NAME_PREFIX)]
        for image_id in mine:
            self.delete(image_id)
        return len(mine)


# ------------------------------------------------------------------ the openstack client

PEER_REQUIREMENTS = BENCH / "peer-requirements.txt"


def peer_venv() -> Path:
    """python-openstackclient in its own virtualenv, keyed by peer-requirements.txt.

    One virtualenv for every script (``~/.cache/vmwctl-bench/osc-<hash>``,
    ``$XDG_CACHE_HOME`` honoured), installed when missing (about 15 s, once per machine).
    """
    digest = hashlib.sha256(PEER_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = base / "vmwctl-bench" / f"osc-{digest}"
    if (venv / ".complete").exists():
        return venv
    log(f"installing python-openstackclient into {venv} (once per machine)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r",
                           str(PEER_REQUIREMENTS)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"installing the peer failed:\n{done.stdout}{done.stderr}")
    (venv / ".complete").touch()
    return venv


# ------------------------------------------------------------------ rounds of tools

def alternating_runs(tools: tuple[str, ...], runs: int, run_one: Callable[[str, int], Any]
                     ) -> list[Any]:
    """Each tool ``runs`` times, the order reversed every other round. A run has ``error``
    (None when it completed), ``wall_seconds``, ``bytes_per_second``, ``peak_rss_bytes``
    and ``image_status``."""
    results = []
    for round_ in range(1, runs + 1):
        order = tools if round_ % 2 else tuple(reversed(tools))
        for tool in order:
            log(f"round {round_}/{runs}: {tool}")
            run = run_one(tool, round_)
            if run.error is None:
                log(f"  {run.wall_seconds:.2f} s, {run.bytes_per_second / 1e6:.1f} MB/s, "
                    f"peak RSS {run.peak_rss_bytes / 1e6:.1f} MB, {run.image_status}")
            results.append(run)
    return results


def best_runs(runs: list[Any]) -> dict[str, Any]:
    """Per tool, the intact completed run with the shortest wall time."""
    best: dict[str, Any] = {}
    for run in runs:
        if run.error is None and run.intact and (
                run.tool not in best or run.wall_seconds < best[run.tool].wall_seconds):
            best[run.tool] = run
    return best


def peak_rss_of(runs: list[Any], tool: str) -> int | None:
    """The highest peak RSS over a tool's completed runs."""
    peaks = [run.peak_rss_bytes for run in runs if run.tool == tool and run.error is None]
    return max(peaks) if peaks else None


def print_runs(runs: list[Any], best: dict[str, Any]) -> None:
    """Every run of alternating_runs (round, tool, wall s, MB/s, peak RSS, Glance's status),
    each tool's best marked *."""
    width = max([4, *(len(run.tool) for run in runs)])
    print(f"round  {'tool':<{width}}  wall s     MB/s  peak RSS MB  Glance           best")
    for run in runs:
        if run.error is not None:
            print(f"{run.round:<5}  {run.tool:<{width}}  failed: {run.error[:100]}")
            continue
        state = f"{run.image_status} {'intact' if run.intact else 'NOT INTACT'}"
        mark = "*" if best.get(run.tool) is run else ""
        print(f"{run.round:<5}  {run.tool:<{width}}  {run.wall_seconds:>6.2f}  "
              f"{run.bytes_per_second / 1e6:>7.1f}  {run.peak_rss_bytes / 1e6:>11.1f}  "
              f"{state:<15}  {mark}".rstrip())


def runs_document(runs: list[Any], best: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    """The runs, each tool's best and the target rows, JSON-ready."""
    return {"upload": {"runs": [asdict(run) for run in runs],
                       "best": {tool: asdict(run) for tool, run in best.items()}},
            "targets": [asdict(row) for row in rows]}


def exit_status(runs: list[Any]) -> int:
    """1 (said on stderr) when a run failed or its image did not arrive intact, else 0."""
    failed = [run for run in runs if run.error is not None or not run.intact]
    if failed:
        log(f"{len(failed)} run(s) failed or did not arrive intact")
        return 1
    return 0


def vmwctl_beside_python(script: str) -> Path:
    """The vmwctl of the virtualenv running the benchmark."""
    vmwctl = Path(sys.executable).parent / "vmwctl"
    if not vmwctl.exists():
        raise BenchError(f"no vmwctl beside {sys.executable}: run this with the project's "
                         f"virtualenv (.venv/bin/python bench/{script})")
    return vmwctl


def vmwctl_upload(vmwctl: Path, source: str, name: str, env: dict[str, str], scratch: Path,
                  glance: Glance, *args: str) -> tuple[Timed, str | None, dict[str, Any]]:
    """``vmwctl -o json image upload SOURCE --name NAME [ARGS]`` under GNU time: the run,
    the image's id (None when none was made) and vmwctl's own figures."""
    run = timed([str(vmwctl), "-o", "json", "image", "upload", source, "--name", name, *args],
                env, scratch)
    image_id = glance.find(name)
    run.check(f"vmwctl image upload {source}")
    result = json.loads(run.stdout)
    reported = {key: result.get(key) for key in ("bytes_sent", "seconds",
                                                 "bytes_per_second", "verified")}
    return run, image_id, reported


def walk_vms(folder: Any) -> Iterator[Any]:
    """Every VM under a pyVmomi folder, walked the naive way (one read per child list)."""
    from pyVmomi import vim

    for child in folder.childEntity:
        if isinstance(child, vim.VirtualMachine):
            yield child
        elif isinstance(child, vim.Folder):
            yield from walk_vms(child)
