"""Benchmark vmwctl's native streamOptimized writer against qemu-img, and the streaming upload.

Builds (once per machine, cached) a realistic disk: a 4 GiB ext4 file system
holding about 1.8 GB of real files copied from this machine's /usr, as a raw
file and as qcow2. Converts it to a streamOptimized VMDK with ``qemu-img
convert`` and with ``vmwctl image convert --engine native``, from the qcow2 and
from the raw file, each under /usr/bin/time (wall seconds, peak RSS), and
checks every output against the source with ``qemu-img compare``. Then, on the
lab's Glance, times ``vmwctl image upload --convert --engine qemu`` (qemu-img
into a temporary VMDK, then the upload) against ``vmwctl image upload
--convert`` (the native writer streamed straight into the upload), and as a
peer qemu-img plus ``openstack image create --file``. Prints a table of each
figure beside its target and its peers, with PASS/MISS (informational: the
exit status is 0 unless something failed or an output differs from the
source), and writes bench/results/native_vmdk.json.

    .venv/bin/python bench/native_vmdk.py [--quick] [--runs N] [--lab-dir DIR] [--keep]
                                          [--no-peer]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import (
    NAME_PREFIX,
    BenchError,
    Glance,
    Row,
    labctl,
    log,
    output_of,
    seconds_text,
    timed,
    verdict,
)

MIB, GIB = 1 << 20, 1 << 30
MB = 1_000_000  # figures are printed in decimal MB and MB/s
MKE2FS = "/usr/sbin/mke2fs"
SOURCES = ("qcow2", "raw")  # the realistic source first, then the writer on its own
TOOLS = ("qemu-img", "vmwctl")
WAYS = ("convert-then-upload", "streaming", "qemu-img + openstack")

# The test image: an ext4 file system of `size` made by mke2fs -d from hard-linked
# copies of these directories of /usr. The cache is keyed by a hash of the recipe.
FULL_RECIPE = {"size": 4 * GIB, "copies": [["/usr/share", "share"],
                                           ["/usr/lib/x86_64-linux-gnu", "lib"],
                                           ["/usr/bin", "bin"]]}
QUICK_RECIPE = {"size": 512 * MIB, "copies": [["/usr/bin", "bin"]]}

# Targets (informational).
SPEEDUP_MIN = {"qcow2": 10.0, "raw": 5.0}  # the native writer's throughput / qemu-img's
QCOW2_RAW_MIN = 0.8  # from qcow2 (through qemu-nbd) >= 0.8x its own speed from raw
EXTRA_SPACE_MAX = 0.01  # peak space beyond the output < 1 % of the image's data
SIZE_RATIO_MAX = 1.08  # its output at most 8 % larger than qemu-img's (issue 27; was 1.10)
RSS_MAX = 200 * MB  # peak RSS of `vmwctl image convert --engine native`

# A pause before every timed run. This machine is a VM that reports freed memory back to
# its host (virtio-balloon free page reporting, in 2 MiB blocks, about 2 s after the free):
# page cache written right after a run had freed some is fast, written on a settled
# machine costs a fault in the host per page. vmwctl's conversion of a qcow2 writes a
# sparse raw copy of the data (1.8 GB here): 2.9 s back to back, 5.4-6.8 s settled (before
# it read qcow2 through qemu-nbd; the output is still written into page cache).
# Every run starts settled, as an operator's conversion does.
SETTLE_SECONDS = 5.0
SPACE_POLL = 0.02  # seconds between two looks at the space used


# ------------------------------------------------------------------ processes

def run_quietly(argv: list[str], what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BenchError(f"{what} exited with status {done.returncode}: "
                         f"{(done.stderr.strip() or done.stdout.strip())[-800:]}")
    return done.stdout


def vmwctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "vmwctl", *args]


# ------------------------------------------------------------------ the test image

@dataclass
class TestImage:
    """The cached disk: its files and what they hold."""

    directory: Path
    raw: Path
    qcow2: Path
    facts: dict[str, Any]  # recipe, files and bytes copied, sizes, data bytes, build time

    def source(self, fmt: str) -> Path:
        return self.qcow2 if fmt == "qcow2" else self.raw

    def data_bytes(self, fmt: str) -> int:
        return int(self.facts["data_bytes"][fmt])


def recipe_of(quick: bool) -> dict[str, Any]:
    """What the image is made of and how: the cache key."""
    recipe = dict(QUICK_RECIPE if quick else FULL_RECIPE)
    recipe["commands"] = ["cp -al SRC stage/NAME (cp -a across file systems)",
                          "truncate -s SIZE disk.raw", f"{MKE2FS} -q -t ext4 -d stage disk.raw",
                          "qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2"]
    return recipe


def cache_base() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vmwctl-bench"


def data_bytes(path: Path, fmt: str) -> int:
    """The bytes `qemu-img map` reports as data (allocated, not known zero)."""
    extents = json.loads(run_quietly(["qemu-img", "map", "--output=json", "-f", fmt, str(path)],
                                     "qemu-img map"))
    return sum(e["length"] for e in extents if e.get("data") and not e.get("zero"))


def stage_copies(stage: Path, copies: list[list[str]]) -> dict[str, Any]:
    """Hard-linked copies of the directories in stage (plain copies across file systems)."""
    how = []
    for source, name in copies:
        target = stage / name
        done = subprocess.run(["cp", "-al", source, str(target)], capture_output=True, text=True,
                              check=False)
        if done.returncode == 0:
            how.append(f"cp -al {source}")
            continue
        log(f"  cp -al {source} failed ({done.stderr.strip()[:200]}); copying instead")
        shutil.rmtree(target, ignore_errors=True)
        run_quietly(["cp", "-a", source, str(target)], f"cp -a {source}")
        how.append(f"cp -a {source}")
    files = 0
    size = 0
    seen: set[tuple[int, int]] = set()
    for root, _dirs, names in os.walk(stage):
        for name in names:
            info = os.lstat(os.path.join(root, name))
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            files += 1
            size += info.st_size
    return {"copied_with": how, "files": files, "file_bytes": size}


def test_image(quick: bool) -> TestImage:
    """The cached image for the recipe; built when missing (about 1 minute at full size)."""
    recipe = recipe_of(quick)
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    directory = cache_base() / f"native-vmdk-{key}"
    raw, qcow2, facts_file = directory / "disk.raw", directory / "disk.qcow2", \
        directory / "image.json"
    if (directory / ".complete").exists():
        facts = json.loads(facts_file.read_text())
        log(f"using the cached test image in {directory} (built {facts['built']}; delete the "
            "directory to rebuild it)")
        return TestImage(directory, raw, qcow2, facts | {"cached": True})
    log(f"building the test image in {directory} (once per machine: cached for reruns)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.perf_counter()
    stage = directory / "stage"  # beside the cache, so that cp -al can link (same file system)
    stage.mkdir()
    try:
        copied = stage_copies(stage, recipe["copies"])
        log(f"  staged {copied['files']:,} files, {copied['file_bytes'] / MB:,.0f} MB; "
            f"mke2fs -d into a {recipe['size'] // MIB:,} MiB file system")
        with raw.open("wb") as handle:
            handle.truncate(recipe["size"])
        run_quietly([MKE2FS, "-q", "-t", "ext4", "-d", str(stage), str(raw)], "mke2fs")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log("  qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2")
    run_quietly(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
                "qemu-img convert to qcow2")
    seconds = time.perf_counter() - started
    facts = {"recipe": recipe, "key": key, **copied,
             "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "build_seconds": round(seconds, 1),
             "virtual_size": recipe["size"],
             "file_size": {"raw": raw.stat().st_size, "qcow2": qcow2.stat().st_size},
             "du_bytes": {"raw": raw.stat().st_blocks * 512,
                          "qcow2": qcow2.stat().st_blocks * 512},
             "data_bytes": {"raw": data_bytes(raw, "raw"), "qcow2": data_bytes(qcow2, "qcow2")},
             "mke2fs": output_of([MKE2FS, "-V"])}
    facts_file.write_text(json.dumps(facts, indent=2) + "\n")
    (directory / ".complete").touch()
    log(f"  built in {seconds:.0f} s")
    return TestImage(directory, raw, qcow2, facts | {"cached": False})


def warm_page_cache(path: Path) -> None:
    """Read a file once (untimed), so that every run reads it from memory."""
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(8 * MIB)
        while handle.readinto(buffer):
            pass


# ------------------------------------------------------------------ conversions

@dataclass
class ConvertRun:
    source: str  # qcow2 | raw
    tool: str  # qemu-img | vmwctl | pre-pass
    round: int
    seconds: float
    bytes_per_second: float  # the source's data bytes / seconds
    output_bytes: int
    peak_rss_bytes: int
    reported: dict[str, Any] = field(default_factory=dict)  # vmwctl's own figures
    peak_space_bytes: int = 0  # the most the work directory and TMPDIR grew during the run
    cpu_seconds: float = 0.0  # user + system of the command and its children (qemu-nbd)


class SpaceWatch:
    """The peak of the bytes allocated under some directories (st_blocks, so a sparse file
    counts its data only), polled in a thread while a command runs: what the command
    writes there, raw copies and temporary files included, whatever else uses the file
    system (the machine is shared)."""

    def __init__(self, *directories: Path, interval: float = SPACE_POLL) -> None:
        self.directories = directories
        self.interval = interval
        self.baseline = self.used()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def used(self) -> int:
        total = 0
        for directory in self.directories:
            for root, _, names in os.walk(directory):
                for name in names:
                    try:
                        total += os.lstat(os.path.join(root, name)).st_blocks * 512
                    except OSError:
                        continue
        return total

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.used())

    def __enter__(self) -> SpaceWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.used())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@dataclass
class Converter:
    """The ways to convert the test image, and one run of any of them."""

    image: TestImage
    links: dict[str, Path]  # source format -> its link in the work directory
    scratch: Path
    env: dict[str, str]
    settle: float = SETTLE_SECONDS

    def argv(self, tool: str, fmt: str, out: Path) -> list[str]:
        source = str(self.links[fmt])
        if tool == "qemu-img":
            return ["qemu-img", "convert", "-f", fmt, "-O", "vmdk", "-o",
                    "subformat=streamOptimized", source, str(out)]
        return vmwctl_argv("image", "convert", source, str(out), "--engine", "native",
                           "--force", "-o", "json")

    def run(self, tool: str, fmt: str, round_: int, out: Path) -> ConvertRun:
        out.unlink(missing_ok=True)
        time.sleep(self.settle)
        with SpaceWatch(self.scratch, Path(self.env["TMPDIR"])) as space:
            before = cpu_of_children()
            done = timed(self.argv(tool, fmt, out), self.env, self.scratch).check(
                f"{tool} ({fmt})")
            cpu = cpu_of_children() - before
        reported = {}
        if tool == "vmwctl":
            result = json.loads(done.stdout)
            reported = {"seconds": result["seconds"], "engine": result["plan"]["engine"],
                        "command": result["plan"]["command"],
                        "glance_accepts": result["report"].get("glance_accepts")}
            if result["plan"]["engine"] != "native":
                raise BenchError(f"vmwctl converted with engine {result['plan']['engine']}")
        data = self.image.data_bytes(fmt)
        return ConvertRun(fmt, tool, round_, done.elapsed, data / done.elapsed,
                          out.stat().st_size, done.peak_rss_bytes, reported, space.growth, cpu)

    def compare(self, fmt: str, tool: str, out: Path) -> dict[str, Any]:
        """qemu-img compare of an output with the source (untimed)."""
        return compare_disk(self.links[fmt], fmt, out, f"{tool} from {fmt}")


def cpu_of_children() -> float:
    """User + system seconds of this process's children waited for so far (their own waited
    children included: vmwctl's qemu-nbd, GNU time's command)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare_disk(source: Path, fmt: str, vmdk: Path, label: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(["qemu-img", "compare", "-f", fmt, "-F", "vmdk", str(source),
                           str(vmdk)], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    message = (done.stdout.strip() or done.stderr.strip()).splitlines()
    identical = {0: True, 1: False}.get(done.returncode)  # 2: an error, not compared
    log(f"  qemu-img compare, {label}: {message[-1] if message else done.returncode} "
        f"({seconds:.1f} s)")
    return {"output": label, "identical": identical, "exit_status": done.returncode,
            "message": message[-1] if message else "", "seconds": round(seconds, 2)}


def measure_conversions(converter: Converter, runs: int, keep_for_peer: Path) -> dict[str, Any]:
    """Each tool `runs` times per source, the order reversed every other round.

    The first output of each tool and source is compared with the source; the
    last qemu-img output from the qcow2 is kept (the peer uploads it).
    """
    done: list[ConvertRun] = []
    compared: list[dict[str, Any]] = []
    for fmt in SOURCES:
        tools = TOOLS
        for round_ in range(1, runs + 1):
            for tool in tools if round_ % 2 else tuple(reversed(tools)):
                out = converter.scratch / f"{tool}-{fmt}.vmdk"
                log(f"{fmt}, round {round_}/{runs}: {tool}")
                run = converter.run(tool, fmt, round_, out)
                log(f"  {run.seconds:.2f} s, {run.bytes_per_second / MB:.1f} MB/s, output "
                    f"{run.output_bytes / MB:.1f} MB, CPU {run.cpu_seconds:.1f} s, peak RSS "
                    f"{run.peak_rss_bytes / MB:.1f} MB, "
                    f"peak space {run.peak_space_bytes / MB:.1f} MB")
                done.append(run)
                if round_ == 1:
                    compared.append(converter.compare(fmt, tool, out) | {"source": fmt,
                                                                         "tool": tool})
                if tool == "qemu-img" and fmt == "qcow2":
                    os.replace(out, keep_for_peer)
                else:
                    out.unlink()
    return {"runs": [asdict(run) for run in done], "summary": convert_summary(done),
            "data_bytes": {fmt: converter.image.data_bytes(fmt) for fmt in SOURCES},
            "compared": compared}


def convert_summary(runs: list[ConvertRun]) -> dict[str, dict[str, Any]]:
    """Per source and tool: the median seconds and throughput, the output size, the peak RSS."""
    summary: dict[str, dict[str, Any]] = {}
    for fmt in SOURCES:
        summary[fmt] = {}
        for tool in TOOLS:
            mine = [run for run in runs if run.source == fmt and run.tool == tool]
            if not mine:
                continue
            seconds = statistics.median(run.seconds for run in mine)
            summary[fmt][tool] = {
                "median_seconds": seconds,
                "median_bytes_per_second": statistics.median(r.bytes_per_second for r in mine),
                "all_seconds": [round(run.seconds, 3) for run in mine],
                "output_bytes": mine[-1].output_bytes,
                "all_output_bytes": sorted({run.output_bytes for run in mine}),
                "peak_rss_bytes": max(run.peak_rss_bytes for run in mine),
                "peak_space_bytes": max(run.peak_space_bytes for run in mine),
                "peak_extra_space_bytes": max(run.peak_space_bytes - run.output_bytes
                                              for run in mine),
                "median_cpu_seconds": statistics.median(run.cpu_seconds for run in mine),
                "all_cpu_seconds": [round(run.cpu_seconds, 3) for run in mine]}
    return summary


# ------------------------------------------------------------------ uploads

@dataclass
class UploadRun:
    way: str
    round: int
    seconds: float  # the command's wall (the peer: openstack's alone)
    end_to_end_seconds: float  # the peer: qemu-img's median conversion + openstack's wall
    peak_rss_bytes: int
    bytes_sent: int
    image_status: str | None
    image_size: int | None
    intact: bool
    reported: dict[str, Any] = field(default_factory=dict)  # vmwctl's own figures


@dataclass
class Uploader:
    """The three ways from the qcow2 to an image in Glance, and one run of any of them."""

    state: labctl.LabState
    glance: Glance
    source: Path  # the qcow2 (its link in the work directory)
    peer_file: Path  # qemu-img's streamOptimized output of the qcow2
    peer_convert_seconds: float  # qemu-img's median conversion of the qcow2
    openstack: Path | None
    env: dict[str, str]
    scratch: Path
    settle: float = SETTLE_SECONDS

    def argv(self, way: str, name: str) -> list[str]:
        if way == "qemu-img + openstack":
            assert self.openstack is not None
            return [str(self.openstack), "--os-cloud", self.state.cloud, "image", "create",
                    "--disk-format", "vmdk", "--container-format", "bare",
                    "--property", "vmware_disktype=streamOptimized",
                    "--property", "vmware_adaptertype=ide", "--file", str(self.peer_file),
                    "-f", "json", name]
        engine = ["--engine", "qemu"] if way == "convert-then-upload" else []
        return vmwctl_argv("--config", self.state.config_file, "-o", "json", "image", "upload",
                           str(self.source), "--name", name, "--convert", *engine)

    def run(self, way: str, round_: int, check_stored: bool = False) -> tuple[UploadRun,
                                                                            dict[str, Any] | None]:
        """Upload once, check what Glance holds (and, if asked, its file), delete the image."""
        name = f"{NAME_PREFIX}{way.split()[0]}-{round_}-{uuid.uuid4().hex[:8]}"
        image_id = None
        try:
            time.sleep(self.settle)
            done = timed(self.argv(way, name), self.env, self.scratch)
            image_id = self.glance.find(name)
            done.check(way)
            reported: dict[str, Any] = {}
            if way == "qemu-img + openstack":
                sent = self.peer_file.stat().st_size
                end_to_end = self.peer_convert_seconds + done.elapsed
            else:
                result = json.loads(done.stdout)
                sent = int(result["bytes_sent"])
                reported = {key: result.get(key) for key in ("bytes_sent", "seconds",
                                                             "bytes_per_second", "verified")}
                end_to_end = done.elapsed
            if image_id is None:
                raise BenchError(f"{way}: no image named {name} in Glance")
            record = self.glance.get(image_id)
            status, size = record.get("status"), record.get("size")
            stored = None
            if check_stored:  # the file store keeps the data as sent
                path = Path(self.state.dir) / "glance" / "images" / image_id
                stored = compare_disk(self.source, "qcow2", path,
                                      f"the {way} upload as Glance stores it") \
                    if path.exists() else {"output": f"{way} upload", "identical": None,
                                           "message": f"{path} not found"}
            return UploadRun(way, round_, done.elapsed, end_to_end, done.peak_rss_bytes, sent,
                             status, size, status == "active" and size == sent, reported), stored
        finally:
            image_id = image_id or self.glance.find(name)
            if image_id:
                self.glance.delete(image_id)


def warm_up(uploader: Uploader) -> None:
    """One small streamed upload through Glance and one start of the peer, untimed."""
    small = uploader.scratch / "warm-up.raw"
    with small.open("wb") as handle:
        handle.write(os.urandom(4 * MIB))
    name = f"{NAME_PREFIX}warm-up-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(vmwctl_argv("--config", uploader.state.config_file, "-o", "json", "image",
                                   "upload", str(small), "--name", name, "--convert"),
                       env=uploader.env, capture_output=True, check=False)
    finally:
        if image_id := uploader.glance.find(name):
            uploader.glance.delete(image_id)
        small.unlink()
    if uploader.openstack is not None:
        subprocess.run([str(uploader.openstack), "--version"], env=uploader.env,
                       capture_output=True, check=False)


def measure_uploads(uploader: Uploader, runs: int) -> dict[str, Any]:
    """Each way `runs` times, the order reversed every other round, after a warm-up."""
    if removed := uploader.glance.delete_leftovers():
        log(f"deleted {removed} images left by an earlier run")
    log("upload warm-up (untimed)")
    warm_up(uploader)
    ways = WAYS if uploader.openstack is not None else WAYS[:2]
    done: list[UploadRun] = []
    stored: list[dict[str, Any]] = []
    for round_ in range(1, runs + 1):
        for way in ways if round_ % 2 else tuple(reversed(ways)):
            log(f"upload round {round_}/{runs}: {way}")
            run, check = uploader.run(way, round_, check_stored=round_ == 1 and way == "streaming")
            extra = f" (end to end {run.end_to_end_seconds:.2f} s)" \
                if run.end_to_end_seconds != run.seconds else ""
            log(f"  {run.seconds:.2f} s{extra}, {run.bytes_sent / MB:.1f} MB sent, peak RSS "
                f"{run.peak_rss_bytes / MB:.1f} MB, {run.image_status}"
                f"{'' if run.intact else ', NOT INTACT'}")
            done.append(run)
            if check is not None:
                stored.append(check)
    summary = {}
    for way in ways:
        mine = [run for run in done if run.way == way]
        summary[way] = {
            "median_seconds": statistics.median(run.end_to_end_seconds for run in mine),
            "all_seconds": [round(run.end_to_end_seconds, 3) for run in mine],
            "median_command_seconds": statistics.median(run.seconds for run in mine),
            "peak_rss_bytes": max(run.peak_rss_bytes for run in mine),
            "bytes_sent": mine[-1].bytes_sent, "intact": all(run.intact for run in mine)}
        sending = [run.reported["seconds"] for run in mine if run.reported.get("seconds")]
        if sending:  # vmwctl's own figure: from the image's creation to its verification
            summary[way]["median_send_seconds"] = statistics.median(sending)
    return {"runs": [asdict(run) for run in done], "summary": summary, "compared": stored}


# ------------------------------------------------------------------ verdicts and output

def _mb(value: float) -> str:
    return f"{value / MB:,.1f} MB"


def convert_rows(convert: dict[str, Any]) -> list[Row]:
    """Throughput per source against qemu-img's, output size, peak RSS, qcow2 against raw,
    the space used beyond the output."""
    summary = convert["summary"]
    rows = []
    for fmt in SOURCES:
        qemu, mine = summary[fmt]["qemu-img"], summary[fmt]["vmwctl"]
        ratio = mine["median_bytes_per_second"] / qemu["median_bytes_per_second"]
        least = SPEEDUP_MIN[fmt]
        floor = least * qemu["median_bytes_per_second"]
        rows.append(Row(f"native writer throughput, from {fmt}",
                        f"{mine['median_bytes_per_second'] / MB:.1f} MB/s",
                        f">= {least:.0f}x qemu-img = {floor / MB:.1f} MB/s",
                        f"qemu-img {qemu['median_bytes_per_second'] / MB:.1f} MB/s; native/"
                        f"qemu-img {ratio:.2f}x ({seconds_text(mine['median_seconds'])} vs "
                        f"{seconds_text(qemu['median_seconds'])})", verdict(ratio >= least)))
    rows.extend(cpu_rows(convert))
    qemu, mine = summary["qcow2"]["qemu-img"], summary["qcow2"]["vmwctl"]
    ratio = mine["output_bytes"] / qemu["output_bytes"]
    same = all(summary["raw"][tool]["all_output_bytes"] == summary["qcow2"][tool]
               ["all_output_bytes"] for tool in TOOLS)
    rows.append(Row("output size (native writer)", _mb(mine["output_bytes"]),
                    f"<= {SIZE_RATIO_MAX:.2f}x qemu-img = "
                    f"{_mb(SIZE_RATIO_MAX * qemu['output_bytes'])}",
                    f"qemu-img {_mb(qemu['output_bytes'])}; native/qemu-img {ratio:.3f}x; "
                    f"{'the same' if same else 'different'} from raw",
                    verdict(ratio <= SIZE_RATIO_MAX)))
    rss = max(summary[fmt]["vmwctl"]["peak_rss_bytes"] for fmt in SOURCES)
    qemu_rss = max(summary[fmt]["qemu-img"]["peak_rss_bytes"] for fmt in SOURCES)
    rows.append(Row("peak RSS, vmwctl image convert (max)", _mb(rss), f"< {RSS_MAX / MB:.0f} MB",
                    f"qemu-img {_mb(qemu_rss)}", verdict(rss < RSS_MAX)))
    qcow2, raw = summary["qcow2"]["vmwctl"], summary["raw"]["vmwctl"]
    ratio = qcow2["median_bytes_per_second"] / raw["median_bytes_per_second"]
    rows.append(Row("native from qcow2 / native from raw", f"{ratio:.2f}x",
                    f">= {QCOW2_RAW_MIN:.1f}x",
                    f"{qcow2['median_bytes_per_second'] / MB:.1f} vs "
                    f"{raw['median_bytes_per_second'] / MB:.1f} MB/s (qemu-nbd, "
                    "allocated extents only)", verdict(ratio >= QCOW2_RAW_MIN)))
    data = convert["data_bytes"]["qcow2"]
    extra = qcow2["peak_extra_space_bytes"]
    rows.append(Row("peak space beyond the output, from qcow2", _mb(extra),
                    f"< {EXTRA_SPACE_MAX:.0%} of the data = {_mb(EXTRA_SPACE_MAX * data)}",
                    f"peak {_mb(qcow2['peak_space_bytes'])} in the destination's directory "
                    f"and TMPDIR; output {_mb(qcow2['output_bytes'])}; no raw copy",
                    verdict(extra < EXTRA_SPACE_MAX * data)))
    return rows


def cpu_rows(convert: dict[str, Any]) -> list[Row]:
    """CPU seconds per GB of data (user + system, children included), which the load of a
    shared machine does not change much: per source, the native writer's against qemu-img's,
    and the speed ratio that gives on this machine's cores idle (qemu-img compresses on one
    core; the writer at best on all: cores x qemu-img's CPU / the writer's). Informational."""
    summary = convert["summary"]
    cores = os.cpu_count() or 1
    rows = []
    for fmt in SOURCES:
        gb = convert["data_bytes"][fmt] / 1e9
        qemu, mine = summary[fmt]["qemu-img"], summary[fmt]["vmwctl"]
        ratio = qemu["median_cpu_seconds"] / mine["median_cpu_seconds"]
        least = SPEEDUP_MIN[fmt]
        rows.append(Row(f"CPU per GB of data, native from {fmt}",
                        f"{mine['median_cpu_seconds'] / gb:.2f} s/GB",
                        f"<= qemu-img's x {cores}/{least:.0f} = "
                        f"{qemu['median_cpu_seconds'] / gb * cores / least:.2f} s/GB",
                        f"qemu-img {qemu['median_cpu_seconds'] / gb:.2f} s/GB (CPU/wall "
                        f"{qemu['median_cpu_seconds'] / qemu['median_seconds']:.2f}); qemu-img/"
                        f"native {ratio:.2f}x CPU: on {cores} idle cores at most "
                        f"{cores * ratio:.1f}x qemu-img's speed", "info"))
    qcow2, raw = summary["qcow2"]["vmwctl"], summary["raw"]["vmwctl"]
    ratio = (raw["median_cpu_seconds"] / convert["data_bytes"]["raw"]) / (
        qcow2["median_cpu_seconds"] / convert["data_bytes"]["qcow2"])
    rows.append(Row("CPU per byte, native from qcow2 vs from raw", f"{1 / ratio:.2f}x",
                    "info", f"raw/qcow2 {ratio:.2f}x: qcow2's speed at most that of raw on idle "
                    "cores", "info"))
    return rows


def upload_rows(uploads: dict[str, Any]) -> list[Row]:
    """The streaming upload against convert-then-upload (and the peer), and peak RSS."""
    summary = uploads["summary"]
    stream, staged = summary["streaming"], summary["convert-then-upload"]
    peer = summary.get("qemu-img + openstack")
    peer_text = f"; qemu-img + openstack {seconds_text(peer['median_seconds'])}" if peer else ""
    rows = [Row("upload --convert, streaming (wall)", seconds_text(stream["median_seconds"]),
                f"< convert-then-upload = {seconds_text(staged['median_seconds'])}",
                f"--engine qemu {seconds_text(staged['median_seconds'])}, streaming "
                f"{staged['median_seconds'] / stream['median_seconds']:.1f}x faster{peer_text}",
                verdict(stream["median_seconds"] < staged["median_seconds"]))]
    peer_rss = f"; openstack {_mb(peer['peak_rss_bytes'])}" if peer else ""
    rows.append(Row("peak RSS, streaming upload (max)", _mb(stream["peak_rss_bytes"]), "info",
                    f"convert-then-upload {_mb(staged['peak_rss_bytes'])}{peer_rss}", "info"))
    return rows


def identity_row(convert: dict[str, Any], uploads: dict[str, Any]) -> Row:
    checks = convert["compared"] + uploads["compared"]
    same = sum(check["identical"] is True for check in checks)
    return Row("outputs identical to the source", f"{same} of {len(checks)}",
               "all (qemu-img compare)", f"{len(convert['compared'])} conversions and the first "
               "streamed upload as Glance stores it", verdict(same == len(checks)))


def print_conversions(convert: dict[str, Any]) -> None:
    print("source  round  tool      seconds    MB/s  CPU s  output MB  peak RSS MB")
    for run in convert["runs"]:
        print(f"{run['source']:<6}  {run['round']:<5}  {run['tool']:<8}  {run['seconds']:>7.2f}  "
              f"{run['bytes_per_second'] / MB:>6.1f}  {run['cpu_seconds']:>5.1f}  "
              f"{run['output_bytes'] / MB:>9.1f}  {run['peak_rss_bytes'] / MB:>11.1f}")


def print_uploads(uploads: dict[str, Any]) -> None:
    print("round  way                   seconds  end to end  sent MB  peak RSS MB  Glance")
    for run in uploads["runs"]:
        state = f"{run['image_status']} {'intact' if run['intact'] else 'NOT INTACT'}"
        print(f"{run['round']:<5}  {run['way']:<20}  {run['seconds']:>7.2f}  "
              f"{run['end_to_end_seconds']:>10.2f}  {run['bytes_sent'] / MB:>7.1f}  "
              f"{run['peak_rss_bytes'] / MB:>11.1f}  {state}")


def versions(openstack: Path | None) -> dict[str, str]:
    from vmwctl.images.stream import pick_compressor

    compressor = pick_compressor()
    found = {"vmwctl": output_of(vmwctl_argv("--version")),
             "qemu-img": output_of(["qemu-img", "--version"]),
             "compressor": compressor.describe(),
             "isal": benchlib.package_version("isal"),
             "deflate": benchlib.package_version("deflate"),
             "mke2fs": output_of([MKE2FS, "-V"]),
             "python": benchlib.python_version()}
    if openstack is not None:
        found["openstack"] = output_of([str(openstack), "--version"])
    return found


def document(args: argparse.Namespace, image: TestImage, convert: dict[str, Any],
             uploads: dict[str, Any], rows: list[Row], openstack: Path | None) -> dict[str, Any]:
    return {
        **benchlib.environment(versions(openstack)),
        "quick": args.quick,
        "runs": args.runs,
        "settle_seconds": args.settle,
        "units": {"MB": MB, "throughput": "the source's data bytes (qemu-img map: data, not "
                  "zero) / wall seconds of the command (perf_counter)",
                  "peak_rss": "GNU time's %M: the largest of the process and its children",
                  "cpu_seconds": "user + system (getrusage of the children, qemu-nbd and "
                  "qemu-img's threads included); per GB: / the source's data bytes x 10^9"},
        "image": {"directory": str(image.directory), **image.facts},
        "convert": convert,
        "upload": uploads,
        "targets": [asdict(row) for row in rows],
    }


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: a 512 MiB file system holding /usr/bin only")
    parser.add_argument("--runs", type=int, default=2,
                        help="timed runs of each conversion and upload, alternating (default 2; "
                             "medians are reported)")
    parser.add_argument("--lab-dir", type=Path,
                        help="use the lab running in DIR (left running), or start one there")
    parser.add_argument("--keep", action="store_true",
                        help="leave the lab running and keep the work directory")
    parser.add_argument("--no-peer", action="store_true",
                        help="skip the qemu-img + openstack image create peer")
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS, metavar="SECONDS",
                        help="pause before every timed run, so that each starts on a settled "
                             f"machine (default {SETTLE_SECONDS:g}; 0: back to back)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.settle < 0:
        parser.error("--settle must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    image = test_image(args.quick)
    openstack = None if args.no_peer else benchlib.peer_venv() / "bin" / "openstack"
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-native-"))
    try:
        links = {}
        for fmt in SOURCES:
            links[fmt] = workdir / f"disk.{fmt}"
            links[fmt].symlink_to(image.source(fmt))
            warm_page_cache(image.source(fmt))
        log(f"converting in {workdir}; the sources are read once into the page cache; "
            f"{args.settle:g} s pause before every timed run")
        peer_file = workdir / "peer.vmdk"
        tmp = workdir / "tmp"  # vmwctl's TMPDIR (qemu-nbd's socket directory): watched too
        tmp.mkdir()
        converter = Converter(image, links, workdir, benchlib.clean_env() | {"TMPDIR": str(tmp)},
                              args.settle)
        load_before = os.getloadavg()
        convert = measure_conversions(converter, args.runs, peer_file)
        convert["load_average"] = {"before": [round(v, 2) for v in load_before],
                                   "after": [round(v, 2) for v in os.getloadavg()]}
        qemu_seconds = convert["summary"]["qcow2"]["qemu-img"]["median_seconds"]
        with benchlib.running_lab(args.lab_dir, args.keep) as lab:
            state = lab.state
            uploader = Uploader(state, Glance(state.glance_url), links["qcow2"], peer_file,
                                qemu_seconds, openstack, benchlib.tool_env(state), workdir,
                                args.settle)
            uploads = measure_uploads(uploader, args.runs)
    finally:
        if args.keep:
            log(f"the work directory stays: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = [*convert_rows(convert), identity_row(convert, uploads), *upload_rows(uploads)]
    results = document(args, image, convert, uploads, rows, openstack)
    return report(args, image, convert, uploads, rows, results)


def report(args: argparse.Namespace, image: TestImage, convert: dict[str, Any],
           uploads: dict[str, Any], rows: list[Row], results: dict[str, Any]) -> int:
    """Print the tables, write the JSON; 1 when an output differs from the source."""
    facts = image.facts
    peer = "the peer is qemu-img's median conversion + openstack image create --file" \
        if "qemu-img + openstack" in uploads["summary"] else "no peer (--no-peer)"
    print(f"\nstreamOptimized conversion of a {facts['virtual_size'] // MIB:,} MiB ext4 file "
          f"system holding {facts['file_bytes'] / MB:,.0f} MB of this machine's /usr "
          f"({facts['files']:,} files;\n{facts['data_bytes']['qcow2'] / MB:,.0f} MB of data by "
          f"qemu-img map), from qcow2 ({facts['file_size']['qcow2'] / MB:,.0f} MB) and from the "
          f"sparse raw file; {results['versions']['compressor']};\nthroughput = the source's "
          f"data bytes / wall seconds; medians of {args.runs} run(s) each, alternating, each "
          f"after a {args.settle:g} s pause;\nMB = 10^6 bytes. Uploads of the qcow2 to the lab's "
          "Glance: vmwctl image upload --convert --engine qemu\n(convert-then-upload) vs "
          f"--convert (streaming); {peer}\n")
    benchlib.print_table(rows)
    print()
    load = convert["load_average"]
    print(f"load average (1, 5, 15 min) before the conversions {load['before']}, after "
          f"{load['after']}; {os.cpu_count()} cores")
    print_conversions(convert)
    print()
    print_uploads(uploads)
    for way, figures in uploads["summary"].items():
        if "median_send_seconds" in figures:
            print(f"{way}: {seconds_text(figures['median_seconds'])} in all, of which "
                  f"{seconds_text(figures['median_send_seconds'])} from the image's creation to "
                  "its verification (vmwctl's own 'seconds')")
    benchlib.write_results("native_vmdk", results)
    status = 0
    for check in convert["compared"] + uploads["compared"]:
        if check["identical"] is not True:
            problem = "differs from" if check["identical"] is False else "was not compared with"
            log(f"{check['output']} {problem} the source: {check['message']}")
            status = 1
    if not all(run["intact"] for run in uploads["runs"]):
        log("an upload did not arrive intact")
        status = 1
    return status


if __name__ == "__main__":
    benchlib.run(main, RuntimeError, OSError, subprocess.CalledProcessError,
                 urllib.error.URLError)
