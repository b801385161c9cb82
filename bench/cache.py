"""Benchmark ``cache list`` on 20 datastores and the transfer of ``cache seed`` against curl.

Starts a lab, then one more simulator with 20 datastores and 5 ms added to
every SOAP call, and lays out Nova's image cache (``192.0.2.10_base``) on the
simulator's datastore directories: first 100 images, then 500 in all. Times
vmwctl's ``read_inventory`` (scoped to the cluster, its datastores alone) +
``folder_users`` + ``list_cache`` (what ``vmwctl cache list`` does) and
counts its SOAP requests with each cache, times the real command as a
process, and runs a naive pyVmomi walk (one SearchDatastore_Task per
folder). Then seeds a 512 MiB ISO from the lab's Glance into a datastore
with ``vmwctl cache seed`` and with a curl pipeline (Glance GET piped into
the datastore PUT), alternating. Prints a table of
each figure beside its target and its peer, with PASS/MISS (informational:
the exit status is 0 unless something crashed, a listing differs from the
cache on disk or a seeded copy differs from the image), and writes
bench/results/cache.json.

    .venv/bin/python bench/cache.py [--quick] [--runs N] [--cli-runs N] [--seed-runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import benchlib
from benchlib import (
    CONNECT_KIND,
    GNU_TIME,
    BenchError,
    Lab,
    Row,
    Run,
    Simulator,
    Tally,
    gnu_time,
    labctl,
    log,
    output_of,
    seconds_text,
    timed,
    tool_env,
    topology,
    verdict,
    write_profile,
)
from pyVim.task import WaitForTask
from pyVmomi import vim

from vmwctl.cache.listing import CacheListing, list_cache
from vmwctl.cache.usage import folder_users
from vmwctl.errors import VmwctlError
from vmwctl.profile.load import load_profile
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.snapshot import CACHE, read_inventory

DELAY_MS = 5  # added by the simulator to every SOAP call
CLUSTER = "DC0_C0"
CACHE_FOLDER = f"{labctl.LAB_MY_IP}_base"  # Nova's <my_ip>_base of the lab's profile
MARKER = "ts-%Y-%m-%d-%H-%M-%S"  # Nova's aging marker folder, in UTC
# Simulator topologies (datastores mounted on every host) and the images in
# the cache, in all, for the two listings: the second adds to the first.
FULL = {"ds": 20}
QUICK = {"ds": 4}
FULL_IMAGES = (100, 500)
QUICK_IMAGES = (20, 100)
SEED_DATASTORE = "LocalDS_0"  # of the lab's own simulator (no delay)
MIB = 1 << 20
MB = 1_000_000  # figures are printed in decimal MB and MB/s
FULL_SEED_SIZE = 512 * MIB
QUICK_SEED_SIZE = 64 * MIB
SEED_NAME = "vmwctl-bench-seed"
TOOLS = ("curl", "vmwctl")

# Targets (informational).
LIST_WALL_MAX = 3.0  # seconds, `vmwctl cache list` (the process) with the larger cache
CURL_RATIO_MIN = 0.9  # vmwctl's seed transfer >= 0.9x the curl pipeline's throughput
RSS_MAX = 100 * MB  # vmwctl's peak RSS while seeding


# ------------------------------------------------------------------ the cache on disk

def marker_of(stamp: dt.datetime) -> str:
    return stamp.strftime(MARKER)


def lay_out(dirs: dict[str, str], start: int, count: int, rng: random.Random,
            now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Images start .. start+count-1 as a nova-compute leaves them, spread over the datastores.

    Each image folder holds a text descriptor and a -flat.vmdk of 2-6 KiB;
    every third one also a marker folder (1 to 71 hours old). Returns
    ``[ds] <id>`` -> its ``size`` (bytes of its files) and ``marker``.
    """
    stores = sorted(dirs, key=lambda name: (len(name), name))  # LocalDS_0, _1, ..., _10
    written: dict[str, dict[str, Any]] = {}
    for index in range(start, start + count):
        datastore = stores[index % len(stores)]
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        folder = Path(dirs[datastore]) / CACHE_FOLDER / image_id
        folder.mkdir(parents=True)
        flat = (4 + index % 9) * 512
        descriptor = ("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
                      f'createType="vmfs"\n\nRW {flat // 512} VMFS "{image_id}-flat.vmdk"\n\n'
                      'ddb.adapterType = "lsilogic"\nddb.virtualHWVersion = "14"\n').encode()
        (folder / f"{image_id}.vmdk").write_bytes(descriptor)
        (folder / f"{image_id}-flat.vmdk").write_bytes(rng.randbytes(flat))
        marker = None
        if index % 3 == 0:
            marker = marker_of(now - dt.timedelta(hours=1 + index % 71))
            (folder / marker).mkdir()
        written[f"[{datastore}] {image_id}"] = {"size": len(descriptor) + flat,
                                                "marker": marker}
    return written


def compare(found: dict[str, dict[str, Any]],
            written: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How many images were found as written; a few of the differences, for the error."""
    same = sum(found.get(key) == value for key, value in written.items())
    missing = [key for key in written if key not in found]
    extra = [key for key in found if key not in written]
    wrong = [f"{key}: {found[key]} (written {value})" for key, value in written.items()
             if key in found and found[key] != value]
    return {"written": len(written), "found": len(found), "same": same,
            "equal": same == len(written) == len(found),
            "missing": missing[:5], "extra": extra[:5], "different": wrong[:5]}


# ------------------------------------------------------------------ vmwctl cache list, in-process

def found_in(listing: CacheListing) -> dict[str, dict[str, Any]]:
    return {f"[{row.datastore}] {row.image_id}": {
        "size": row.size, "marker": marker_of(row.marker) if row.marker else None}
        for row in listing.images}


def list_run(lab: Lab, sim: Simulator, profile: Profile) -> Run:
    """One ``cache list`` in a new session: connect, log in, inventory, users, listing."""
    def action(vc: Any) -> CacheListing:
        # as `vmwctl cache list` reads: the cluster's datastores alone, no VM
        inventory = read_inventory(vc, cluster=CLUSTER, properties=CACHE)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return list_cache(vc, inventory, profile, now=now,
                          datastores=inventory.datastores.values(), all_folders=True,
                          users=folder_users(vc))

    listing, run = benchlib.session_run(lab.state, sim.port, action)
    found = found_in(listing)
    run.result = {"images": len(found), "datastores": len(listing.datastores),
                  "bytes": sum(image["size"] for image in found.values()),
                  "marked": sum(image["marker"] is not None for image in found.values()),
                  "found": found}
    return run


def measure_vmwctl(lab: Lab, sim: Simulator, profile: Profile, images: int,
                   runs: int) -> dict[str, Any]:
    figures = benchlib.measure_runs(f"vmwctl cache list, {images} images",
                                    lambda: list_run(lab, sim, profile), runs)
    figures["found"] = figures["result"].pop("found")
    return figures


# ------------------------------------------------------------------ the naive walk

def naive_walk(si: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    """The cache listed the usual way: one SearchDatastore_Task per folder, one folder a level.

    Per datastore of each datacenter its ``name`` and ``browser``, one search
    of ``[ds] <cache>`` (its image folders), then one search of each image
    folder (its files and marker), each awaited with ``pyVim.task.WaitForTask``
    and its ``info.result`` read.
    """
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"], details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileSize=True, modification=True, fileType=True))

    def search(browser: Any, path: str) -> list[Any]:
        task = browser.SearchDatastore_Task(datastorePath=path, searchSpec=spec)
        try:
            WaitForTask(task)
        except vim.fault.FileNotFound:
            return []
        return list(task.info.result.file or [])

    content = si.RetrieveContent()
    found: dict[str, dict[str, Any]] = {}
    searches = 0
    for datacenter in content.rootFolder.childEntity:
        if not isinstance(datacenter, vim.Datacenter):
            continue
        for datastore in datacenter.datastore:
            name, browser = datastore.name, datastore.browser
            folders = search(browser, f"[{name}] {CACHE_FOLDER}")
            searches += 1
            for entry in folders:
                if not isinstance(entry, vim.host.DatastoreBrowser.FolderInfo):
                    continue
                files = search(browser, f"[{name}] {CACHE_FOLDER}/{entry.path}")
                searches += 1
                markers = sorted(f.path for f in files if f.path.startswith("ts-"))
                size = sum(f.fileSize or 0 for f in files
                           if not isinstance(f, vim.host.DatastoreBrowser.FolderInfo))
                found[f"[{name}] {entry.path}"] = {"size": size,
                                                   "marker": markers[0] if markers else None}
            progress(f"[{name}]: {len(folders)} image folders")
    return {"images": found, "searches": searches}


def measure_naive(lab: Lab, sim: Simulator, images: int) -> dict[str, Any]:
    naive = benchlib.naive_run(f"naive pyVmomi walk, {images} images", lab.state, sim.port,
                               naive_walk)
    naive["searches"] = naive["found"]["searches"]
    naive["found"] = naive["found"]["images"]
    return naive


# ------------------------------------------------------------------ processes

def peak_rss(report: Path) -> int:
    """GNU time's %M in bytes, from its report."""
    figures = benchlib.gnu_time_figures(report)
    if figures is None:
        raise BenchError(f"{GNU_TIME} gave no figures ({report})")
    return figures[1]


def vmwctl_argv(config: Path | str, *args: str) -> list[str]:
    return [sys.executable, "-m", "vmwctl", "--config", str(config), *args]


# ------------------------------------------------------------------ vmwctl cache list, the process


def measure_cli(config: Path, env: dict[str, str], scratch: Path, runs: int,
                written: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`vmwctl cache list --all --no-glance -o json` as a process, `runs` times."""
    argv = vmwctl_argv(config, "cache", "list", "--all", "--no-glance", "-o", "json")
    log(f"vmwctl cache list (process), {len(written)} images: {runs} run(s)")
    done = []
    for index in range(runs):
        run = timed(argv, env, scratch).check("vmwctl cache list")
        listing = json.loads(run.stdout)
        found = {f"[{row['datastore']}] {row['image_id']}": row["size"]
                 for row in listing["images"]}
        if found != {key: value["size"] for key, value in written.items()}:
            raise BenchError(f"vmwctl cache list (process) listed {len(found)} images, not the "
                             f"{len(written)} written")
        log(f"  run {index + 1}: {run.elapsed:.3f} s, peak RSS {run.peak_rss_bytes / MB:.1f} MB")
        done.append(run)
    return {"argv": argv[1:], "median_seconds": statistics.median(r.elapsed for r in done),
            "all_seconds": [round(r.elapsed, 4) for r in done],
            "peak_rss_bytes": max(r.peak_rss_bytes for r in done), "images": len(written)}


# ------------------------------------------------------------------ the seed image

def build_iso(path: Path, size: int) -> Path:
    """Random data behind an ISO 9660 primary volume descriptor (Glance inspects uploads)."""
    with path.open("wb") as handle:
        for offset in range(0, size, 8 * MIB):
            handle.write(os.urandom(min(8 * MIB, size - offset)))
        descriptor = bytearray(2048)
        descriptor[0:7] = b"\x01CD001\x01"
        descriptor[80:88] = (size // 2048).to_bytes(4, "little") + (size // 2048).to_bytes(4, "big")
        descriptor[128:132] = (2048).to_bytes(2, "little") + (2048).to_bytes(2, "big")
        handle.seek(32768)
        handle.write(descriptor)
    return path


def glance_call(url: str, method: str, *, body: Any = None, data: Any = None,
                headers: dict[str, str] | None = None) -> Any:
    """One Glance v2 request (the lab's Glance needs no token); its JSON answer or None."""
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    with urllib.request.urlopen(request, timeout=600) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def upload_iso(glance: str, iso: Path) -> dict[str, Any]:
    """Create the image and upload the ISO; its record once active."""
    base = f"{glance.rstrip('/')}/v2/images"
    image = glance_call(base, "POST", body={"name": SEED_NAME, "disk_format": "iso",
                                            "container_format": "bare"})
    size = iso.stat().st_size
    with iso.open("rb") as handle:
        glance_call(f"{base}/{image['id']}/file", "PUT", data=handle,
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Length": str(size)})
    record = glance_call(f"{base}/{image['id']}", "GET")
    if record.get("status") != "active" or record.get("size") != size:
        raise BenchError(f"Glance holds image {image['id']} as {record.get('status')}, "
                         f"{record.get('size')} bytes, not active with {size}")
    return record


# ------------------------------------------------------------------ the seed transfer

@dataclass
class SeedRun:
    tool: str
    round: int
    bytes: int
    seconds: float  # vmwctl: its own `seconds`; curl: the pipeline's wall
    bytes_per_second: float
    wall_seconds: float  # the whole process (vmwctl: start-up, Glance, inventory included)
    peak_rss_bytes: int  # vmwctl; curl: the larger of its two processes
    intact: bool
    reported: dict[str, Any] = field(default_factory=dict)


@dataclass
class Seeding:
    """The two ways to move the image from Glance into the datastore, and one run of each."""

    state: labctl.LabState
    image: dict[str, Any]
    source: Path
    cookie: str
    env: dict[str, str]
    scratch: Path

    @property
    def folder(self) -> Path:
        return Path(self.state.datastores[SEED_DATASTORE]) / CACHE_FOLDER / self.image["id"]

    @property
    def copy(self) -> Path:
        return self.folder / f"{self.image['id']}.iso"

    def vmwctl(self, round_: int) -> SeedRun:
        argv = vmwctl_argv(self.state.config_file, "cache", "seed", self.image["id"],
                           "--datastore", SEED_DATASTORE, "-o", "json")
        run = timed(argv, self.env, self.scratch).check("vmwctl cache seed")
        [result] = json.loads(run.stdout)
        if result.get("outcome") != "seeded":
            raise BenchError(f"vmwctl cache seed: outcome {result.get('outcome')}, not seeded")
        size, seconds = int(result["bytes"]), float(result["seconds"])
        return SeedRun("vmwctl", round_, size, seconds, size / seconds, run.elapsed,
                       run.peak_rss_bytes, self.intact(), reported=result)

    def curl_argvs(self) -> tuple[list[str], list[str]]:
        """curl GET <glance>/v2/images/<id>/file, curl -T - PUT <datastore URL> (stdin)."""
        image_id = self.image["id"]
        url = (f"https://127.0.0.1:{self.state.vcenter_port}/folder/"
               f"{quote(f'{CACHE_FOLDER}/{image_id}/{image_id}.iso')}"
               f"?dcPath={quote(self.state.datacenter)}&dsName={quote(SEED_DATASTORE)}")
        return (["curl", "-sS", "-f", f"{self.state.glance_url}/v2/images/{image_id}/file"],
                ["curl", "-sS", "-T", "-", "-b", self.cookie, "--cacert", self.state.ca_file,
                 "-o", "/dev/null", "-w", "%{http_code}", url])

    def curl(self, round_: int) -> SeedRun:
        """curl GET <glance>/v2/images/<id>/file | curl -T - PUT <datastore URL>."""
        get_argv, put_argv = self.curl_argvs()
        get_report, put_report = self.scratch / "curl-get.txt", self.scratch / "curl-put.txt"
        get = gnu_time(get_argv, get_report)
        put = gnu_time(put_argv, put_report)
        started = time.perf_counter()
        reader = subprocess.Popen(get, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=self.env)
        writer = subprocess.Popen(put, stdin=reader.stdout, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=self.env, text=True)
        assert reader.stdout is not None
        reader.stdout.close()
        status, errors = writer.communicate()
        reader.wait()
        elapsed = time.perf_counter() - started
        problems = (reader.stderr.read().decode() if reader.stderr else "") + errors
        if reader.returncode or writer.returncode or status.strip() not in ("200", "201"):
            raise BenchError(f"the curl pipeline failed (GET status {reader.returncode}, PUT "
                             f"status {writer.returncode}, HTTP {status.strip()}): {problems}")
        size = self.copy.stat().st_size
        return SeedRun("curl", round_, size, elapsed, size / elapsed, elapsed,
                       max(peak_rss(get_report), peak_rss(put_report)), self.intact())

    def intact(self) -> bool:
        return self.copy.exists() and filecmp.cmp(self.source, self.copy, shallow=False)

    def leftovers(self) -> list[str]:
        """What is left in vmware_temp (Nova keeps the folder itself)."""
        temp = Path(self.state.datastores[SEED_DATASTORE]) / "vmware_temp"
        return sorted(p.name for p in temp.iterdir()) if temp.exists() else []

    def run(self, tool: str, round_: int) -> SeedRun:
        """One seed, its copy checked and then deleted on disk (the eviction)."""
        try:
            done = self.vmwctl(round_) if tool == "vmwctl" else self.curl(round_)
            if left := self.leftovers():
                raise BenchError(f"{tool} left {left} in vmware_temp")
            return done
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def run_seeds(seeding: Seeding, runs: int, tools: tuple[str, ...] = TOOLS) -> list[SeedRun]:
    """One untimed vmwctl seed, then each tool `runs` times, the order reversed every round."""
    log("seed: an untimed vmwctl run (Glance's file into the page cache)")
    seeding.run("vmwctl", 0)
    done = []
    for round_ in range(1, runs + 1):
        for tool in tools if round_ % 2 else tuple(reversed(tools)):
            run = seeding.run(tool, round_)
            log(f"round {round_}/{runs}: {tool} {run.seconds:.2f} s, "
                f"{run.bytes_per_second / MB:.1f} MB/s, process {run.wall_seconds:.2f} s, peak "
                f"RSS {run.peak_rss_bytes / MB:.1f} MB{'' if run.intact else ', NOT INTACT'}")
            done.append(run)
    return done


def seed_summary(runs: list[SeedRun], tools: tuple[str, ...] = TOOLS) -> dict[str, Any]:
    """Per tool: the median throughput and seconds, the process wall and the highest RSS."""
    summary = {}
    for tool in tools:
        mine = [run for run in runs if run.tool == tool]
        summary[tool] = {
            "median_bytes_per_second": statistics.median(r.bytes_per_second for r in mine),
            "median_seconds": statistics.median(r.seconds for r in mine),
            "median_wall_seconds": statistics.median(r.wall_seconds for r in mine),
            "peak_rss_bytes": max(r.peak_rss_bytes for r in mine),
            "all_bytes_per_second": [round(r.bytes_per_second) for r in mine],
            "intact": all(r.intact for r in mine)}
    return summary


def seed_image(state: labctl.LabState, workdir: Path, size: int) -> tuple[Path, dict[str, Any]]:
    """The ISO to seed, built in workdir and uploaded to the lab's Glance; Glance's record."""
    log(f"building a {size // MIB} MiB ISO and uploading it to the lab's Glance")
    source = build_iso(workdir / "seed.iso", size)
    started = time.perf_counter()
    record = upload_iso(state.glance_url, source)
    log(f"  image {record['id']} active in {time.perf_counter() - started:.1f} s")
    return source, record


def measure_seed(lab: Lab, workdir: Path, size: int, runs: int) -> dict[str, Any]:
    state = lab.state
    source, record = seed_image(state, workdir, size)
    vc = benchlib.counting_session(state, state.vcenter_port, Tally())
    try:
        seeding = Seeding(state, record, source, vc.session_cookie, tool_env(state), workdir)
        done = run_seeds(seeding, runs)
    finally:
        vc.close()
    return {"image": {"id": record["id"], "size": record["size"],
                      "disk_format": record["disk_format"],
                      "os_hash_algo": record.get("os_hash_algo")},
            "datastore": SEED_DATASTORE, "runs": [asdict(run) for run in done],
            "summary": seed_summary(done)}


# ------------------------------------------------------------------ verdicts and output

def rows_of(sim: Simulator, sizes: tuple[int, int], mine: dict[int, dict[str, Any]],
            naive: dict[int, dict[str, Any]], cli: dict[int, dict[str, Any]],
            checks: dict[int, dict[str, Any]], seed: dict[str, Any]) -> list[Row]:
    small, large = sizes
    requests = {n: mine[n]["requests"] for n in sizes}
    equal_requests = len({*mine[small]["all_requests"], *mine[large]["all_requests"]}) == 1
    wall, naive_wall = cli[large]["median_seconds"], naive[large]["seconds"]
    inside = mine[large]["median_seconds"]
    found = [c for n in sizes for c in (checks[n]["vmwctl"], checks[n]["naive"])]
    same = sum(c["same"] for c in found)
    written = sum(c["written"] for c in found)
    curl, ours = seed["summary"]["curl"], seed["summary"]["vmwctl"]
    ratio = ours["median_bytes_per_second"] / curl["median_bytes_per_second"]
    floor = CURL_RATIO_MIN * curl["median_bytes_per_second"]
    size = seed["image"]["size"]
    return [
        Row(f"cache list SOAP requests, {small} -> {large} images",
            f"{requests[small]} -> {requests[large]}", "equal: independent of the images",
            f"naive walk {naive[small]['requests']:,} -> {naive[large]['requests']:,}",
            verdict(equal_requests)),
        Row(f"vmwctl cache list (process), {large} images", seconds_text(wall),
            f"< {seconds_text(LIST_WALL_MAX)}",
            f"in-process {seconds_text(inside)} ({small} images: "
            f"{seconds_text(mine[small]['median_seconds'])}); naive walk "
            f"{seconds_text(naive_wall)}", verdict(wall < LIST_WALL_MAX)),
        Row(f"cache list in-process, {large} images", seconds_text(inside), "info",
            f"naive walk {seconds_text(naive_wall)} ({naive[large]['searches']} searches); "
            f"speed-up {naive_wall / inside:.0f}x", "info"),
        Row("images listed vs the cache on disk", f"{same:,} of {written:,} equal", "all equal",
            "vmwctl and the naive walk, both caches", verdict(same == written)),
        Row(f"seed transfer ({size // MIB} MiB ISO)",
            f"{ours['median_bytes_per_second'] / MB:.1f} MB/s",
            f">= {CURL_RATIO_MIN}x curl = {floor / MB:.1f} MB/s",
            f"curl pipeline {curl['median_bytes_per_second'] / MB:.1f} MB/s; vmwctl/curl "
            f"{ratio:.2f}x", verdict(ratio >= CURL_RATIO_MIN)),
        Row("peak RSS while seeding (max)", f"{ours['peak_rss_bytes'] / MB:.1f} MB",
            f"< {RSS_MAX / MB:.0f} MB", f"curl {curl['peak_rss_bytes'] / MB:.1f} MB",
            verdict(ours["peak_rss_bytes"] < RSS_MAX)),
        Row("vmwctl cache seed (process wall)", seconds_text(ours["median_wall_seconds"]),
            "info", f"{size / ours['median_wall_seconds'] / MB:.1f} MB/s with start-up, "
            f"Glance and inventory; curl pipeline {seconds_text(curl['median_wall_seconds'])}",
            "info"),
        Row("simulator build (start to ready)", seconds_text(sim.build_seconds), "info",
            f"RSS {(sim.rss_bytes or 0) / 1e6:.0f} MB", "info"),
    ]


def print_requests(sizes: tuple[int, int], mine: dict[int, dict[str, Any]],
                   naive: dict[int, dict[str, Any]]) -> None:
    """vmwctl's requests by kind for both caches, and the naive walk's largest kinds."""
    small, large = sizes
    tallies: dict[int, Tally] = {n: mine[n]["tally"] for n in sizes}
    seen = set(tallies[small].requests) | set(tallies[large].requests)
    kinds = [CONNECT_KIND, *sorted(seen - {CONNECT_KIND})]
    width = max(len(kind) for kind in [*kinds, *naive[large]["tally"].requests]) + 2
    print(f"vmwctl requests by kind{'':<{width - 23}}{small:>6}{large:>6}  (images)")
    for kind in kinds:
        print(f"  {kind:<{width - 2}}{tallies[small].counted(kind):>6,}"
              f"{tallies[large].counted(kind):>6,}")
    print(f"naive walk requests by kind{'':<{width - 27}}{small:>6}{large:>6}")
    for kind, count in naive[large]["tally"].requests.most_common(8):
        print(f"  {kind:<{width - 2}}{naive[small]['tally'].counted(kind):>6,}{count:>6,}")


def print_seeds(seed: dict[str, Any]) -> None:
    print("round  tool     seconds     MB/s  process s  peak RSS MB  copy")
    for run in seed["runs"]:
        print(f"{run['round']:<5}  {run['tool']:<7}  {run['seconds']:>7.2f}  "
              f"{run['bytes_per_second'] / MB:>7.1f}  {run['wall_seconds']:>9.2f}  "
              f"{run['peak_rss_bytes'] / MB:>11.1f}  "
              f"{'intact' if run['intact'] else 'NOT INTACT'}")


def versions() -> dict[str, str]:
    return {**benchlib.vsphere_versions(), "curl": output_of(["curl", "--version"])}


def document(args: argparse.Namespace, sim: Simulator, sizes: tuple[int, int],
             mine: dict[int, dict[str, Any]], naive: dict[int, dict[str, Any]],
             cli: dict[int, dict[str, Any]], checks: dict[int, dict[str, Any]],
             seed: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    def listing(n: int) -> dict[str, Any]:
        theirs = {key: value for key, value in naive[n].items() if key != "found"}
        return {"images": n, "vmwctl": benchlib.plain(mine[n]), "naive": benchlib.plain(theirs),
                "process": cli[n], "compared": checks[n]}

    return {
        **benchlib.environment(versions()),
        "quick": args.quick,
        "units": {"MB": MB, "seed throughput": "image bytes / seconds (vmwctl: its own "
                  "'seconds'; curl: the pipeline's wall)"},
        "delay_ms_per_call": DELAY_MS,
        "cache_folder": CACHE_FOLDER,
        "simulator": asdict(sim) | {"topology": topology(sim.flags)},
        "list": {str(n): listing(n) for n in sizes},
        "seed": seed,
        "targets": [asdict(row) for row in rows],
    }


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK['ds']} datastores, {QUICK_IMAGES[0]} and "
                             f"{QUICK_IMAGES[1]} images, a {QUICK_SEED_SIZE // MIB} MiB ISO")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed in-process cache list runs per cache, after a warm-up "
                             "(default 5)")
    parser.add_argument("--cli-runs", type=int, default=3,
                        help="runs of the 'vmwctl cache list' process per cache (default 3)")
    parser.add_argument("--seed-runs", type=int, default=3,
                        help="seeds per tool, alternating (default 3)")
    args = parser.parse_args(argv)
    for name in ("runs", "cli_runs", "seed_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags, sizes = (QUICK, QUICK_IMAGES) if args.quick else (FULL, FULL_IMAGES)
    seed_size = QUICK_SEED_SIZE if args.quick else FULL_SEED_SIZE
    rng = random.Random(20)
    mine: dict[int, dict[str, Any]] = {}
    naive: dict[int, dict[str, Any]] = {}
    cli: dict[int, dict[str, Any]] = {}
    checks: dict[int, dict[str, Any]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-cache-"))
    try:
        with benchlib.running_lab() as lab:
            sim = lab.start_simulator("cache", flags, DELAY_MS)
            dirs = lab.datastore_dirs(sim)
            config = write_profile(lab.state, sim.port, workdir / "vmwctl.yaml")
            profile = load_profile(str(config), "bench", {})
            env = tool_env(lab.state)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            written: dict[str, dict[str, Any]] = {}
            for images in sizes:
                log(f"laying out {images - len(written)} more images in [*] {CACHE_FOLDER} "
                    f"on {len(dirs)} datastores ({images} in all)")
                written |= lay_out(dirs, len(written), images - len(written), rng, now)
                mine[images] = measure_vmwctl(lab, sim, profile, images, args.runs)
                naive[images] = measure_naive(lab, sim, images)
                cli[images] = measure_cli(config, env, workdir, args.cli_runs, written)
                checks[images] = {"vmwctl": compare(mine[images].pop("found"), written),
                                  "naive": compare(naive[images]["found"], written)}
            sim.rss_bytes = benchlib.rss_of(sim.pid)
            seed = measure_seed(lab, workdir, seed_size, args.seed_runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = rows_of(sim, sizes, mine, naive, cli, checks, seed)
    results = document(args, sim, sizes, mine, naive, cli, checks, seed, rows)
    print(f"\ncache list ([*] {CACHE_FOLDER}) on a simulator adding {DELAY_MS} ms to every SOAP "
          f"call: {topology(sim.flags)}, {sizes[0]} then {sizes[1]} images;\nvmwctl in-process: "
          f"read_inventory + folder_users + list_cache, median of {args.runs} run(s) after a "
          f"warm-up; the process: median of {args.cli_runs};\nnaive pyVmomi walk: one "
          f"SearchDatastore_Task per folder, one run. cache seed: a {seed_size // MIB} MiB ISO "
          f"from the lab's Glance into [{SEED_DATASTORE}],\nvmwctl vs curl GET | curl -T - PUT, "
          f"{args.seed_runs} run(s) each, alternating; medians compared\n")
    benchlib.print_table(rows)
    print()
    print_seeds(seed)
    print()
    print_requests(sizes, mine, naive)
    benchlib.write_results("cache", results)
    status = 0
    for images, check in checks.items():
        for who, compared in check.items():
            if not compared["equal"]:
                log(f"{who} listed the {images}-image cache differently from what was written: "
                    f"{compared}")
                status = 1
    if not all(run["intact"] for run in seed["runs"]):
        log("a seeded copy differs from the image")
        status = 1
    return status


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError,
                 urllib.error.URLError)
