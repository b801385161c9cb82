"""Benchmark ``vmwctl image upload`` and ``vmwctl image inspect`` on the lab.

Uploads one 2 GiB-virtual monolithicSparse VMDK (about 1 GiB of data) to the
lab's Glance with curl, with python-openstackclient and with vmwctl, each
under /usr/bin/time (wall seconds, peak RSS), and times the header-only
inspector in-process and as a whole command. Prints a table of each figure
beside its target and its peers, with PASS/MISS (informational: the exit
status is 0 unless something crashed), and writes bench/results/upload_inspect.json.

    .venv/bin/python bench/upload_inspect.py [--lab-dir DIR] [--keep] [--runs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.error
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
import yaml
from benchlib import (
    NAME_PREFIX,
    BenchError,
    Glance,
    Row,
    Timed,
    labctl,
    log,
    ms_text,
    output_of,
    timed,
    verdict,
)

MIB, GIB = 1 << 20, 1 << 30
MB = 1_000_000  # figures are printed in decimal MB and MB/s
IMAGE_VIRTUAL = 2 * GIB
IMAGE_STRIDE = 2 * MIB  # 1 MiB of random data at the start of every 2 MiB
BIG_VIRTUAL = "10G"
TOOLS = ("curl", "openstack", "vmwctl")
KEYSTONE = "+ks"  # the same tools against the Keystone-protected Glance, as the operator
IMPORT = "+import"  # the import API (staged, then glance-direct) on that Glance
KEYSTONE_TOOLS = (*(tool + KEYSTONE for tool in TOOLS), "openstack" + IMPORT,
                  "vmwctl" + IMPORT)

# Targets (informational).
CURL_RATIO_MIN = 0.9  # vmwctl's throughput >= 0.9x curl's
RSS_MAX = 100 * MB  # vmwctl's peak RSS while uploading
INSPECT_MAX = 0.050  # seconds, in-process, for the test image
O1_RATIO_MAX = 2.0  # inspecting 10 GiB takes at most 2x (+1 ms) the time of 2 GiB
O1_SLACK = 0.001


# ------------------------------------------------------------------ inputs

def build_test_image(workdir: Path) -> Path:
    """A 2 GiB-virtual monolithicSparse VMDK with 1 GiB of random data spread over it."""
    raw, vmdk = workdir / "test.raw", workdir / "test.vmdk"
    with open(raw, "wb") as handle:
        handle.truncate(IMAGE_VIRTUAL)
        for offset in range(0, IMAGE_VIRTUAL, IMAGE_STRIDE):
            os.pwrite(handle.fileno(), os.urandom(MIB), offset)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=monolithicSparse,adapter_type=lsilogic", str(raw), str(vmdk)],
                   check=True, capture_output=True)
    raw.unlink()
    return vmdk


def build_big_image(workdir: Path) -> Path:
    """An empty 10 GiB-virtual monolithicSparse VMDK (the O(1) contrast)."""
    big = workdir / "big.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicSparse",
                    str(big), BIG_VIRTUAL], check=True, capture_output=True)
    return big


# ------------------------------------------------------------------ uploads

@dataclass
class UploadRun:
    tool: str
    round: int
    wall_seconds: float
    elapsed_seconds: float
    peak_rss_bytes: int
    bytes_per_second: float
    image_status: str | None
    image_size: int | None
    intact: bool
    reported: dict[str, Any] = field(default_factory=dict)  # the tool's own figures
    error: str | None = None


@dataclass
class Uploader:
    """The three ways to upload the test image, and one run of any of them.

    Each way returns its timing, the image id (None when none was made) and
    the tool's own figures.
    """

    state: labctl.LabState
    glance: Glance
    image: Path
    env: dict[str, str]
    scratch: Path
    openstack: Path
    vmwctl: Path
    cloud: str = ""  # the openstack client's --os-cloud (the lab's plain cloud when empty)
    header_file: Path | None = None  # curl's X-Auth-Token header (-H @FILE: not on argv)

    def curl(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        image_id = self.glance.create(name)
        url = f"{self.glance.url}/v2/images/{image_id}/file"
        token = ["-H", f"@{self.header_file}"] if self.header_file else []
        run = timed(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T",
                     str(self.image), "-X", "PUT", "-H", "Content-Type: application/octet-stream",
                     *token, url], self.env, self.scratch)
        run.check("curl")
        if run.stdout.strip() != "204":
            raise BenchError(f"curl: Glance answered HTTP {run.stdout.strip()}")
        return run, image_id, {}

    def openstack_client(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        run = timed([str(self.openstack), "--os-cloud", self.cloud or self.state.cloud,
                     "image", "create",
                     "--disk-format", "vmdk", "--container-format", "bare",
                     "--file", str(self.image), "-f", "json", name], self.env, self.scratch)
        image_id = self.glance.find(name)
        run.check("openstack image create")
        return run, image_id, {}

    def vmwctl_upload(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        return benchlib.vmwctl_upload(self.vmwctl, str(self.image), name, self.env, self.scratch,
                                      self.glance)

    def openstack_import(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        """``openstack image create --import``: it returns once Glance has the import task;
        the wall time runs on until the image is active."""
        run = timed([str(self.openstack), "--os-cloud", self.cloud, "image", "create",
                     "--disk-format", "vmdk", "--container-format", "bare", "--import",
                     "--file", str(self.image), "-f", "json", name], self.env, self.scratch)
        image_id = self.glance.find(name)
        run.check("openstack image create --import")
        if image_id is None:
            raise BenchError("openstack image create --import made no image")
        waited = self.glance.wait_active(image_id)
        return dataclasses.replace(run, wall=run.wall + waited), image_id, \
            {"waited_after_exit_seconds": round(waited, 2)}

    def vmwctl_import(self, name: str) -> tuple[Timed, str | None, dict[str, Any]]:
        """``vmwctl image upload --method import``, which waits until the image is active."""
        run, image_id, reported = benchlib.vmwctl_upload(
            self.vmwctl, str(self.image), name, self.env, self.scratch, self.glance,
            "--method", "import")
        waited = self.glance.wait_active(image_id) if image_id else 0.0
        return dataclasses.replace(run, wall=run.wall + waited), image_id, \
            {**reported, "waited_after_exit_seconds": round(waited, 2)}

    def run(self, tool: str, round_: int) -> UploadRun:
        """Upload once with tool, check what Glance holds, delete the image."""
        action: Callable[[str], tuple[Timed, str | None, dict[str, Any]]] = {
            "curl": self.curl, "openstack": self.openstack_client,
            "vmwctl": self.vmwctl_upload, "openstack" + IMPORT: self.openstack_import,
            "vmwctl" + IMPORT: self.vmwctl_import}[tool.removesuffix(KEYSTONE)]
        name = f"{NAME_PREFIX}{tool}-{round_}-{uuid.uuid4().hex[:8]}"
        size = self.image.stat().st_size
        image_id = None
        try:
            result, image_id, reported = action(name)
            image_id = image_id or self.glance.find(name)
            record = self.glance.get(image_id) if image_id else {}
            status, stored = record.get("status"), record.get("size")
            return UploadRun(tool, round_, result.wall, result.elapsed, result.peak_rss_bytes,
                             size / result.wall if result.wall > 0 else 0.0, status, stored,
                             status == "active" and stored == size, reported)
        except (BenchError, OSError, ValueError) as exc:
            log(f"{tool} round {round_} failed: {exc}")
            return UploadRun(tool, round_, 0.0, 0.0, 0, 0.0, None, None, False, error=str(exc))
        finally:
            image_id = image_id or self.glance.find(name)
            if image_id:
                self.glance.delete(image_id)


def warm_up(uploader: Uploader, small_vmdk: Path) -> None:
    """One small upload through Glance and one start of each client, untimed."""
    glance = uploader.glance
    image_id = glance.create(f"{NAME_PREFIX}warm-up")
    try:
        glance.put_data(image_id, small_vmdk.read_bytes())
    finally:
        glance.delete(image_id)
    for argv in ([str(uploader.openstack), "--version"], [str(uploader.vmwctl), "--version"]):
        subprocess.run(argv, env=uploader.env, capture_output=True, check=False)


# ------------------------------------------------------------------ inspect

def inspect_in_process(path: Path, calls: int, warm: int = 5) -> dict[str, Any]:
    """Median (and spread) of inspect_file on path, after a warm-up."""
    from vmwctl.images.inspector import inspect_file

    started = time.perf_counter()
    report = inspect_file(path)
    first = time.perf_counter() - started
    for _ in range(warm):
        inspect_file(path)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        inspect_file(path)
        samples.append(time.perf_counter() - started)
    return {"file": path.name, "virtual_size": report.virtual_size,
            "file_size": report.file_size, "allocated_size": report.allocated_size,
            "acceptable": report.acceptable, "calls": calls,
            "first_call_seconds": first, "median_seconds": statistics.median(samples),
            "min_seconds": min(samples), "max_seconds": max(samples)}


def inspect_processes(vmwctl: Path, image: Path, env: dict[str, str], scratch: Path,
                      runs: int) -> dict[str, Any]:
    """Whole-process wall time of `vmwctl image inspect` and `vmwctl --version`, alternated."""
    commands = {"inspect": [str(vmwctl), "image", "inspect", str(image)],
                "version": [str(vmwctl), "--version"]}
    samples: dict[str, list[Timed]] = {key: [] for key in commands}
    for index in range(runs):
        order = list(commands) if index % 2 == 0 else list(reversed(commands))
        for key in order:
            samples[key].append(timed(commands[key], env, scratch))
    samples["version"][0].check("vmwctl --version")
    figures: dict[str, Any] = {}
    for key, runs_of in samples.items():
        figures[key] = {
            "argv": commands[key][1:], "runs": len(runs_of),
            "exit_codes": sorted({t.returncode for t in runs_of}),
            "median_seconds": statistics.median(t.elapsed for t in runs_of),
            "all_seconds": [round(t.elapsed, 4) for t in runs_of],
            "peak_rss_bytes": max(t.peak_rss_bytes for t in runs_of)}
    return figures


# ------------------------------------------------------------------ verdicts and output

def _mbs(run: UploadRun | None) -> str:
    return f"{run.bytes_per_second / MB:.1f} MB/s" if run else "failed"


def _rss(peak: int | None) -> str:
    return f"{peak / MB:.1f} MB" if peak is not None else "failed"


def upload_rows(runs: list[UploadRun], suffix: str = "") -> list[Row]:
    """Best throughput against curl's and the client's, and the highest peak RSS (of the
    tools whose names end in ``suffix``: "" the plain Glance, KEYSTONE the protected one)."""
    best = benchlib.best_runs(runs)
    mine, curl, osc = (best.get(tool + suffix) for tool in ("vmwctl", "curl", "openstack"))
    rss = {tool: benchlib.peak_rss_of(runs, tool + suffix) for tool in TOOLS}
    where = " (Keystone)" if suffix else ""
    rows = []
    if mine and curl:
        floor = CURL_RATIO_MIN * curl.bytes_per_second
        rows.append(Row(f"upload throughput vs curl{where}", _mbs(mine),
                        f">= {CURL_RATIO_MIN}x curl = {floor / MB:.1f} MB/s",
                        f"curl {_mbs(curl)}; vmwctl/curl "
                        f"{mine.bytes_per_second / curl.bytes_per_second:.2f}x",
                        verdict(mine.bytes_per_second >= floor)))
    else:
        rows.append(Row(f"upload throughput vs curl{where}", _mbs(mine),
                        f">= {CURL_RATIO_MIN}x curl",
                        f"curl {_mbs(curl)}", verdict(None)))
    if mine and osc:
        rows.append(Row(f"upload throughput vs openstack{where}", _mbs(mine),
                        f"> openstack = {osc.bytes_per_second / MB:.1f} MB/s",
                        f"openstack {_mbs(osc)}; vmwctl/openstack "
                        f"{mine.bytes_per_second / osc.bytes_per_second:.2f}x",
                        verdict(mine.bytes_per_second > osc.bytes_per_second)))
    else:
        rows.append(Row(f"upload throughput vs openstack{where}", _mbs(mine), "> openstack",
                        f"openstack {_mbs(osc)}", verdict(None)))
    mine_rss = rss["vmwctl"]
    rows.append(Row(f"peak RSS while uploading (max){where}", _rss(mine_rss),
                    f"< {RSS_MAX / MB:.0f} MB",
                    f"curl {_rss(rss['curl'])}, openstack {_rss(rss['openstack'])}",
                    verdict(mine_rss < RSS_MAX if mine_rss is not None else None)))
    return rows


def import_rows(runs: list[UploadRun]) -> list[Row]:
    """The import API (until the image is active) against the openstack client's import and
    against vmwctl's own direct upload, on the Keystone-protected Glance."""
    best = benchlib.best_runs(runs)
    mine, osc, direct = (best.get(tool) for tool in ("vmwctl" + IMPORT, "openstack" + IMPORT,
                                                     "vmwctl" + KEYSTONE))
    rows = []
    if mine and osc:
        rows.append(Row("import throughput vs openstack --import", _mbs(mine),
                        f">= openstack = {osc.bytes_per_second / MB:.1f} MB/s",
                        f"openstack --import {_mbs(osc)}; vmwctl/openstack "
                        f"{mine.bytes_per_second / osc.bytes_per_second:.2f}x (both until "
                        "the image is active)",
                        verdict(mine.bytes_per_second >= osc.bytes_per_second)))
    else:
        rows.append(Row("import throughput vs openstack --import", _mbs(mine),
                        ">= openstack", f"openstack --import {_mbs(osc)}", verdict(None)))
    if mine and direct:
        rows.append(Row("import vs vmwctl's direct upload", _mbs(mine), "info",
                        f"direct {_mbs(direct)}; import/direct "
                        f"{mine.bytes_per_second / direct.bytes_per_second:.2f}x (the import "
                        "writes the data twice: staging, then the store)", "info"))
    return rows


def inspect_rows(small: dict[str, Any], big: dict[str, Any],
                 processes: dict[str, Any]) -> list[Row]:
    """In-process inspect time, its O(1) check, and the command beside --version."""
    s, b = small["median_seconds"], big["median_seconds"]
    command, version = processes["inspect"]["median_seconds"], \
        processes["version"]["median_seconds"]
    return [
        Row("inspect in-process (2 GiB image)", ms_text(s), f"< {INSPECT_MAX * 1000:.0f} ms",
            f"10 GiB image {ms_text(b)}", verdict(s < INSPECT_MAX)),
        Row("inspect O(1): 10 GiB / 2 GiB", f"{b / s:.2f}x",
            f"about the same (<= {O1_RATIO_MAX:.0f}x + {O1_SLACK * 1000:.0f} ms)",
            f"{ms_text(b)} vs {ms_text(s)}", verdict(b <= O1_RATIO_MAX * s + O1_SLACK)),
        Row("vmwctl image inspect (process)", ms_text(command), "beside --version",
            f"vmwctl --version {ms_text(version)}; inspect adds {ms_text(command - version)}",
            "info"),
    ]


def versions(openstack: Path, vmwctl: Path) -> dict[str, str]:
    return {"vmwctl": output_of([str(vmwctl), "--version"]),
            "openstack": output_of([str(openstack), "--version"]),
            "curl": output_of(["curl", "--version"]),
            "qemu-img": output_of(["qemu-img", "--version"]),
            "python": benchlib.python_version()}


# ------------------------------------------------------------------ main

@dataclass
class Measurements:
    runs: list[UploadRun]
    small: dict[str, Any]
    big: dict[str, Any]
    processes: dict[str, Any]

    @property
    def best(self) -> dict[str, UploadRun]:
        return benchlib.best_runs(self.runs)

    def rows(self) -> list[Row]:
        keystone = upload_rows(self.runs, KEYSTONE) + import_rows(self.runs) \
            if any(run.tool.endswith(KEYSTONE) for run in self.runs) else []
        return upload_rows(self.runs) + keystone + \
            inspect_rows(self.small, self.big, self.processes)


def keystone_uploader(uploader: Uploader) -> Uploader | None:
    """The same uploads into the lab's Keystone-protected Glance, as the member of project
    operators: a token for curl (in a header file) and the benchmark's own calls, the
    operator's cloud for the openstack client and vmwctl (secrets from secure.yaml)."""
    state = uploader.state
    if not getattr(state, "keystone_url", None):
        return None
    token = labctl.keystone_token(state.keystone_url, "operator",
                                  state.keystone_password("operator"), "operators")
    header = uploader.scratch / "auth-header"
    header.touch(mode=0o600)
    header.write_text(f"X-Auth-Token: {token}\n")
    profile = yaml.safe_load(Path(state.config_file).read_text())
    for entry in profile["profiles"].values():
        entry.setdefault("openstack", {})["cloud"] = state.cloud_operator
    config = uploader.scratch / "keystone-profile.yaml"
    config.write_text(yaml.safe_dump(profile))
    config.chmod(0o600)
    env = uploader.env | {"VMWCTL_CONFIG": str(config),
                          "OS_CLIENT_SECURE_FILE": state.secure_file}
    return dataclasses.replace(uploader, glance=Glance(state.glance_keystone_url, token),
                               env=env, cloud=state.cloud_operator, header_file=header)


def measure(args: argparse.Namespace, uploader: Uploader, big: Path) -> Measurements:
    """Every measurement, on a running lab."""
    protected = keystone_uploader(uploader)
    for each in (uploader, protected):
        if each is not None and (removed := each.glance.delete_leftovers()):
            log(f"deleted {removed} images left by an earlier run")
    warm_up(uploader, big)
    if protected is not None:
        warm_up(protected, big)

    def run_one(tool: str, round_: int) -> UploadRun:
        return (protected if tool in KEYSTONE_TOOLS and protected else uploader).run(
            tool, round_)

    tools = TOOLS + (KEYSTONE_TOOLS if protected is not None else ())
    runs = benchlib.alternating_runs(tools, args.runs, run_one)
    log("inspect: in-process")
    small = inspect_in_process(uploader.image, args.inspect_calls)
    large = inspect_in_process(big, args.inspect_calls)
    log("inspect: whole process")
    processes = inspect_processes(uploader.vmwctl, uploader.image, uploader.env,
                                  uploader.scratch, args.process_runs)
    return Measurements(runs, small, large, processes)


def document(found: Measurements, image: dict[str, Any], openstack: Path,
             vmwctl: Path) -> dict[str, Any]:
    """The results as JSON-ready data."""
    return {
        **benchlib.environment(versions(openstack, vmwctl)),
        "units": {"MB": MB, "throughput": "file bytes / GNU time wall seconds"},
        "test_image": image,
        **benchlib.runs_document(found.runs, found.best, found.rows()),
        "inspect": {"in_process": {"test_image": found.small, "big_image": found.big},
                    "process": found.processes},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab-dir", type=Path,
                        help="use the lab running in DIR (left running), or start one there")
    parser.add_argument("--keep", action="store_true",
                        help="leave the lab running and keep the test images")
    parser.add_argument("--runs", type=int, default=3,
                        help="uploads per tool, alternating order (at least 2; default 3)")
    parser.add_argument("--inspect-calls", type=int, default=50,
                        help="timed in-process inspect calls per image (default 50)")
    parser.add_argument("--process-runs", type=int, default=5,
                        help="runs of 'vmwctl image inspect' and 'vmwctl --version' (default 5)")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    vmwctl = benchlib.vmwctl_beside_python("upload_inspect.py")
    openstack = benchlib.peer_venv() / "bin" / "openstack"
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-"))
    try:
        log(f"building the test images in {workdir}")
        started = time.perf_counter()
        image, big = build_test_image(workdir), build_big_image(workdir)
        info = {"file_size": image.stat().st_size, "virtual_size": IMAGE_VIRTUAL,
                "allocated_size": image.stat().st_blocks * 512,
                "create_type": "monolithicSparse", "adapter_type": "lsilogic"}
        log(f"built in {time.perf_counter() - started:.1f} s: "
            f"{info['file_size'] / GIB:.2f} GiB file, {info['allocated_size'] / GIB:.2f} GiB "
            "allocated")
        with benchlib.running_lab(args.lab_dir, args.keep) as lab:
            state = lab.state
            # vmwctl finds the lab's config through VMWCTL_CONFIG (no --config on its commands)
            env = benchlib.tool_env(state) | {"VMWCTL_CONFIG": state.config_file}
            uploader = Uploader(state, Glance(state.glance_url), image, env, workdir, openstack,
                                vmwctl)
            found = measure(args, uploader, big)
    finally:
        if args.keep:
            log(f"the test images stay in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(found, document(found, info, openstack, vmwctl))


def report(found: Measurements, results: dict[str, Any]) -> int:
    """Print the tables, write the JSON; 1 when an upload failed, else 0."""
    size = results["test_image"]["file_size"]
    print(f"\nUploads of a {size / GIB:.2f} GiB monolithicSparse VMDK (2 GiB virtual) to the "
          "lab's Glance, best of each tool marked *;\nthroughput = file bytes / wall seconds "
          "(GNU time); MB = 10^6 bytes\n")
    benchlib.print_runs(found.runs, found.best)
    print()
    benchlib.print_table(found.rows(), value_header="vmwctl")
    benchlib.write_results("upload_inspect", results)
    return benchlib.exit_status(found.runs)


if __name__ == "__main__":
    benchlib.run(main, subprocess.CalledProcessError, urllib.error.URLError)
