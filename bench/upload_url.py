"""Benchmark ``vmwctl image upload URL`` against ``curl URL | curl -T - GLANCE`` on the lab.

Serves one streamOptimized VMDK (1 GiB of random data with holes; 128 MiB
with --quick) from a loopback HTTP server started by the script, and streams
it into the lab's Glance with vmwctl and with two curls in a pipe, each under
/usr/bin/time (wall seconds, peak RSS), in the same run. Prints every run and
a table of the figures beside their targets with PASS/MISS (informational:
the exit status is 0 unless something failed), and writes
bench/results/upload_url.json.

    .venv/bin/python bench/upload_url.py [--quick] [--runs N] [--lab-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import benchlib
from benchlib import (
    NAME_PREFIX,
    BenchError,
    Glance,
    Row,
    Timed,
    log,
    output_of,
    timed,
    verdict,
)

MIB, GIB = 1 << 20, 1 << 30
MB = 1_000_000  # figures are printed in decimal MB and MB/s
STRIDE = 2 * MIB  # 1 MiB of random data at the start of every 2 MiB
FULL_DATA, QUICK_DATA = GIB, 128 * MIB
TOOLS = ("curl", "vmwctl")
FILE_NAME = "disk.vmdk"

# Targets (informational).
CURL_RATIO_MIN = 0.9  # vmwctl's throughput >= 0.9x the curl pipe's
RSS_MAX = 100 * MB  # vmwctl's peak RSS while uploading


# ------------------------------------------------------------------ the test image

def build_test_image(workdir: Path, vmwctl: Path, data: int, env: dict[str, str]) -> Path:
    """A streamOptimized VMDK of `data` bytes of random data, 1 MiB at the start of every
    2 MiB of a sparse raw file twice that size (the holes are zero grains, left out)."""
    raw, vmdk = workdir / "disk.raw", workdir / FILE_NAME
    virtual = data * 2
    with open(raw, "wb") as handle:
        handle.truncate(virtual)
        for offset in range(0, virtual, STRIDE):
            os.pwrite(handle.fileno(), os.urandom(MIB), offset)
    timed([str(vmwctl), "image", "convert", str(raw), str(vmdk), "--engine", "native",
           "--adapter-type", "lsiLogic", "--force"], env, workdir).check("vmwctl image convert")
    raw.unlink()
    return vmdk


# ------------------------------------------------------------------ the HTTP server

@dataclass
class Served:
    """What the loopback server sent: GET requests and body bytes."""

    requests: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@contextmanager
def serving(path: Path) -> Iterator[tuple[str, Served]]:
    """A loopback HTTP server (a thread) that serves `path` at /NAME with sendfile(2)."""
    served = Served()
    size = path.stat().st_size

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _head(self) -> bool:
            if self.path != f"/{path.name}":
                self.send_error(404)
                return False
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            return True

        def do_HEAD(self) -> None:
            self._head()

        def do_GET(self) -> None:
            if not self._head():
                return
            with path.open("rb") as handle:
                try:
                    sent = self.connection.sendfile(handle)
                except OSError:  # the client went away
                    sent = 0
                    self.close_connection = True
            with served.lock:
                served.requests += 1
                served.bytes += sent

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}", served
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ uploads

@dataclass
class UploadRun:
    tool: str
    round: int
    wall_seconds: float
    elapsed_seconds: float
    peak_rss_bytes: int
    bytes_per_second: float
    served_bytes: int
    image_status: str | None
    image_size: int | None
    intact: bool
    reported: dict[str, Any] = field(default_factory=dict)  # vmwctl's own figures
    error: str | None = None


@dataclass
class Uploader:
    """The two ways to stream the URL into Glance, and one run of either."""

    glance: Glance
    url: str
    size: int
    served: Served
    properties: dict[str, Any]  # vmwctl's plan: disk_format, container_format, properties
    env: dict[str, str]
    scratch: Path
    vmwctl: Path

    def curl(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        # The record is made first, untimed, with the properties vmwctl gives the image.
        image_id = self.glance.create(name, self.properties)
        target = f"{self.glance.url}/v2/images/{image_id}/file"
        pipe = (f"curl -sS {self.url} | curl -sS -T - -H 'Content-Type: application/octet-"
                f"stream' -o /dev/null -w '%{{http_code}}' {target}")
        run = timed(["bash", "-o", "pipefail", "-c", pipe], self.env, self.scratch)
        run.check("curl | curl")
        if run.stdout.strip() != "204":
            raise BenchError(f"curl: Glance answered HTTP {run.stdout.strip()}")
        return run, image_id, {}

    def vmwctl_upload(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        return benchlib.vmwctl_upload(self.vmwctl, self.url, name, self.env, self.scratch,
                                      self.glance)

    def run(self, tool: str, round_: int) -> UploadRun:
        """Upload once with tool, check what Glance holds and what was served, delete."""
        action: Callable[[str], tuple[Timed, str | None, dict[str, Any]]] = {
            "curl": self.curl, "vmwctl": self.vmwctl_upload}[tool]
        name = f"{NAME_PREFIX}url-{tool}-{round_}-{uuid.uuid4().hex[:8]}"
        image_id = None
        before = self.served.bytes
        try:
            result, image_id, reported = action(name)
            image_id = image_id or self.glance.find(name)
            record = self.glance.get(image_id) if image_id else {}
            status, stored = record.get("status"), record.get("size")
            served = self.served.bytes - before
            return UploadRun(tool, round_, result.wall, result.elapsed, result.peak_rss_bytes,
                             self.size / result.wall if result.wall > 0 else 0.0, served,
                             status, stored,
                             status == "active" and stored == self.size and served == self.size,
                             reported)
        except (BenchError, OSError, ValueError) as exc:
            log(f"{tool} round {round_} failed: {exc}")
            return UploadRun(tool, round_, 0.0, 0.0, 0, 0.0, self.served.bytes - before, None,
                             None, False, error=str(exc))
        finally:
            image_id = image_id or self.glance.find(name)
            if image_id:
                self.glance.delete(image_id)


def planned_properties(vmwctl: Path, url: str, env: dict[str, str],
                       scratch: Path) -> dict[str, Any]:
    """What vmwctl would create for the URL (its --dry-run plan), for the peer's record."""
    run = timed([str(vmwctl), "-o", "json", "image", "upload", url, "--name",
                 f"{NAME_PREFIX}plan", "--dry-run"], env, scratch).check("vmwctl --dry-run")
    plan = json.loads(run.stdout)
    return {"disk_format": plan["disk_format"], "container_format": plan["container_format"],
            **plan["properties"]}


def warm_up(uploader: Uploader) -> None:
    """One small upload through Glance and one start of vmwctl, untimed."""
    glance = uploader.glance
    image_id = glance.create(f"{NAME_PREFIX}warm-up", {"disk_format": "raw"})  # zeros
    try:
        glance.put_data(image_id, b"\0" * MIB)
    finally:
        glance.delete(image_id)
    subprocess.run([str(uploader.vmwctl), "--version"], env=uploader.env, capture_output=True,
                   check=False)


# ------------------------------------------------------------------ verdicts and output

def _mbs(run: UploadRun | None) -> str:
    return f"{run.bytes_per_second / MB:.1f} MB/s" if run else "failed"


def _rss(peak: int | None) -> str:
    return f"{peak / MB:.1f} MB" if peak is not None else "failed"


def rows(runs: list[UploadRun]) -> list[Row]:
    """Best throughput against the curl pipe's best, and the highest peak RSS."""
    best = benchlib.best_runs(runs)
    mine, curl = best.get("vmwctl"), best.get("curl")
    found = []
    if mine and curl:
        floor = CURL_RATIO_MIN * curl.bytes_per_second
        found.append(Row("upload URL throughput vs curl", _mbs(mine),
                         f">= {CURL_RATIO_MIN}x curl = {floor / MB:.1f} MB/s",
                         f"curl | curl {_mbs(curl)}; vmwctl/curl "
                         f"{mine.bytes_per_second / curl.bytes_per_second:.2f}x",
                         verdict(mine.bytes_per_second >= floor)))
    else:
        found.append(Row("upload URL throughput vs curl", _mbs(mine),
                         f">= {CURL_RATIO_MIN}x curl", f"curl | curl {_mbs(curl)}",
                         verdict(None)))
    mine_rss = benchlib.peak_rss_of(runs, "vmwctl")
    curl_rss = benchlib.peak_rss_of(runs, "curl")
    found.append(Row("peak RSS while uploading (max)", _rss(mine_rss),
                     f"< {RSS_MAX / MB:.0f} MB", f"curl | curl {_rss(curl_rss)}",
                     verdict(mine_rss < RSS_MAX if mine_rss is not None else None)))
    return found


def versions(vmwctl: Path) -> dict[str, str]:
    return {"vmwctl": output_of([str(vmwctl), "--version"]),
            "curl": output_of(["curl", "--version"]),
            "python": benchlib.python_version()}


# ------------------------------------------------------------------ main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 128 MiB of data instead of 1 GiB")
    parser.add_argument("--runs", type=int, default=3,
                        help="uploads per tool, alternating order (at least 2; default 3)")
    parser.add_argument("--lab-dir", type=Path,
                        help="use the lab running in DIR (left running), or start one there")
    parser.add_argument("--keep", action="store_true",
                        help="leave the lab running and keep the test image")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    vmwctl = benchlib.vmwctl_beside_python("upload_url.py")
    data = QUICK_DATA if args.quick else FULL_DATA
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-"))
    try:
        log(f"building the test image in {workdir}: {data // MIB} MiB of random data")
        started = time.perf_counter()
        image = build_test_image(workdir, vmwctl, data, benchlib.clean_env())
        info = {"file_size": image.stat().st_size, "virtual_size": data * 2, "data_bytes": data,
                "create_type": "streamOptimized", "adapter_type": "lsiLogic",
                "built_with": "vmwctl image convert --engine native",
                "build_seconds": round(time.perf_counter() - started, 2)}
        log(f"built in {info['build_seconds']:.1f} s: {info['file_size'] / MB:.1f} MB file")
        with benchlib.running_lab(args.lab_dir, args.keep) as lab, \
                serving(image) as (url, served):
            state = lab.state
            env = benchlib.tool_env(state) | {"VMWCTL_CONFIG": state.config_file}
            glance = Glance(state.glance_url)
            if removed := glance.delete_leftovers():
                log(f"deleted {removed} images left by an earlier run")
            log(f"serving {url}")
            properties = planned_properties(vmwctl, url, env, workdir)
            log(f"the peer's image record: {properties}")
            uploader = Uploader(glance, url, info["file_size"], served, properties, env,
                                workdir, vmwctl)
            warm_up(uploader)
            runs = benchlib.alternating_runs(TOOLS, args.runs, uploader.run)
    finally:
        if args.keep:
            log(f"the test image stays in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(args, runs, info, properties, vmwctl)


def report(args: argparse.Namespace, runs: list[UploadRun], info: dict[str, Any],
           properties: dict[str, Any], vmwctl: Path) -> int:
    """Print the tables, write the JSON; 1 when an upload failed, else 0."""
    best = benchlib.best_runs(runs)
    table = rows(runs)
    size = info["file_size"]
    print(f"\nStreaming a {size / MB:.1f} MB streamOptimized VMDK ({info['data_bytes'] // MIB} "
          "MiB of data) from a loopback HTTP server into the lab's Glance,\nbest of each tool "
          "marked *; throughput = file bytes / wall seconds (GNU time); MB = 10^6 bytes\n")
    benchlib.print_runs(runs, best)
    print()
    benchlib.print_table(table, value_header="vmwctl")
    benchlib.write_results("upload_url", {
        **benchlib.environment(versions(vmwctl)),
        "quick": args.quick,
        "units": {"MB": MB, "throughput": "file bytes / GNU time wall seconds"},
        "test_image": info,
        "peer_properties": properties,
        **benchlib.runs_document(runs, best, table),
    })
    return benchlib.exit_status(runs)


if __name__ == "__main__":
    benchlib.run(main, subprocess.CalledProcessError, urllib.error.URLError)
