"""Benchmark ``cache seed`` against a verifying curl pipeline: Glance -> datastore, sha512 checked.

Starts a lab (or reuses one with ``--lab-dir``), uploads a 512 MiB ISO to its
Glance, then seeds it into ``[LocalDS_0]`` of the lab's simulator with each
tool, alternating: ``vmwctl cache seed`` (which checks Glance's sha512 before
the image enters the cache), the verifying pipeline
``curl GET | tee >(sha512sum) | curl -T - PUT`` (the digest compared with
Glance's ``os_hash_value`` afterwards) and, for scale, the plain
``curl GET | curl -T - PUT``. Prints every run, a table of each figure
beside its target and its peer, with PASS/MISS (informational: the exit
status is 0 unless something crashed or a seeded copy differs from the
image), and writes bench/results/cache_seed.json.

    .venv/bin/python bench/cache_seed.py [--quick] [--runs N] [--lab-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
from dataclasses import asdict
from pathlib import Path
from typing import Any

import benchlib
from benchlib import BenchError, Row, gnu_time, log, output_of, seconds_text, verdict
from cache import (
    FULL_SEED_SIZE,
    MB,
    MIB,
    QUICK_SEED_SIZE,
    SEED_DATASTORE,
    Seeding,
    SeedRun,
    peak_rss,
    run_seeds,
    seed_image,
    seed_summary,
)

from vmwctl.errors import VmwctlError

PLAIN = "curl"  # curl GET | curl -T - PUT
VERIFYING = "curl+sha512"  # curl GET | tee >(sha512sum) | curl -T - PUT
TOOLS = ("vmwctl", VERIFYING, PLAIN)

# Targets (informational).
PIPELINE_RATIO_MIN = 0.9  # vmwctl's seed >= 0.9x the verifying pipeline's throughput
RSS_MAX = 100 * MB  # vmwctl's peak RSS while seeding


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (its children, theirs, ...)."""
    found = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(child) for child in tasks.read_text().split()]
        except OSError:  # the task ended meanwhile
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


class ThreadSampler:
    """CPU seconds of each thread of the ``vmwctl`` process below this one, from /proc.

    Sampled every 10 ms while the command runs (a thread's figures vanish with
    it): the busiest thread bounds the seed's throughput on a machine with
    cores to spare, whatever the load of this one. Python 3.11 names no
    operating-system threads; the main one (the sending) has the process's id,
    and its figure counts only while other threads run (the transfer: its
    start-up, the Glance lookup and the inventory read left out).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], float] = {}  # (pid, tid) -> CPU seconds
        self.main_beside = 0.0  # the main thread's, while other threads ran
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        while not self.stop.wait(0.01):
            for pid in descendants(os.getpid()):
                try:
                    if b"vmwctl" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue
                    stats = [(int(task.name), (task / "stat").read_text())
                             for task in Path(f"/proc/{pid}/task").iterdir()]
                except OSError:
                    continue
                for tid, stat in stats:
                    fields = stat.rsplit(")", 1)[1].split()  # utime, stime: fields 14, 15
                    cpu = (int(fields[11]) + int(fields[12])) / self.tick
                    if tid == pid and len(stats) > 1 and (pid, tid) in self.seen:
                        self.main_beside += cpu - self.seen[pid, tid]
                    self.seen[pid, tid] = cpu

    def __enter__(self) -> ThreadSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def figures(self) -> dict[str, Any]:
        """CPU seconds: the main thread's in all and beside the others, the others' (largest
        first), and the busiest thread's during the transfer."""
        main = sum(cpu for (pid, tid), cpu in self.seen.items() if pid == tid)
        others = sorted((cpu for (pid, tid), cpu in self.seen.items() if pid != tid),
                        reverse=True)
        return {"main": round(main, 2), "main_beside_others": round(self.main_beside, 2),
                "others": [round(cpu, 2) for cpu in others],
                "busiest": round(max([self.main_beside, *others]), 2)}


class VerifyingSeeding(Seeding):
    """The seeds of cache.py's benchmark, and the verifying pipeline beside them."""

    def vmwctl(self, round_: int) -> SeedRun:
        """cache.py's vmwctl run, with the CPU seconds of its threads."""
        with ThreadSampler() as sampler:
            done = super().vmwctl(round_)
        done.reported["thread_cpu_seconds"] = sampler.figures()
        return done

    def verifying_curl(self, round_: int) -> SeedRun:
        """curl GET | tee >(sha512sum) | curl -T - PUT, then the digest against Glance's.

        The same processes as the shell's process substitution (tee writes to
        the hasher's pipe as /dev/fd/N); the wall time runs until the last of
        the four has ended, sha512sum included, as a script that checks the
        digest has to wait for it.
        """
        get_argv, put_argv = self.curl_argvs()
        reports = {name: self.scratch / f"verify-{name}.txt"
                   for name in ("get", "tee", "sha512sum", "put")}
        env = self.env
        started = time.perf_counter()
        get = subprocess.Popen(gnu_time(get_argv, reports["get"]), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        hashed, side = os.pipe()
        hasher = subprocess.Popen(gnu_time(["sha512sum"], reports["sha512sum"]), stdin=hashed,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert get.stdout is not None
        tee = subprocess.Popen(gnu_time(["tee", f"/dev/fd/{side}"], reports["tee"]),
                               stdin=get.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               pass_fds=(side,), env=env)
        assert tee.stdout is not None
        put = subprocess.Popen(gnu_time(put_argv, reports["put"]), stdin=tee.stdout,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)
        for fd in (hashed, side):  # the children hold the pipes now
            os.close(fd)
        get.stdout.close()
        tee.stdout.close()
        status, put_errors = put.communicate()
        tee_errors = tee.communicate()[1]
        get_errors = get.communicate()[1]
        digest, hash_errors = hasher.communicate()
        elapsed = time.perf_counter() - started
        codes = [p.returncode for p in (get, tee, hasher, put)]
        if any(codes) or status.strip() not in ("200", "201"):
            problems = b" ".join((get_errors, tee_errors, hash_errors)).decode() + put_errors
            raise BenchError(f"the verifying pipeline failed (exit statuses of curl GET, tee, "
                             f"sha512sum, curl PUT: {codes}; HTTP {status.strip()}): {problems}")
        computed = digest.decode().split()[0]
        if computed != self.image.get("os_hash_value"):
            raise BenchError(f"sha512sum computed {computed[:16]}..., Glance's os_hash_value is "
                             f"{str(self.image.get('os_hash_value'))[:16]}...")
        size = self.copy.stat().st_size
        return SeedRun(VERIFYING, round_, size, elapsed, size / elapsed, elapsed,
                       max(peak_rss(report) for report in reports.values()), self.intact())

    def run(self, tool: str, round_: int) -> SeedRun:
        if tool != VERIFYING:
            return super().run(tool, round_)
        try:
            done = self.verifying_curl(round_)
            if left := self.leftovers():
                raise BenchError(f"{tool} left {left} in vmware_temp")
            return done
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def summary_of(runs: list[SeedRun]) -> dict[str, Any]:
    """cache.py's summary per tool, and the median CPU seconds of vmwctl's threads."""
    summary = seed_summary(runs, TOOLS)
    threads = [run.reported["thread_cpu_seconds"] for run in runs if run.tool == "vmwctl"]
    summary["vmwctl"]["median_thread_cpu_seconds"] = {
        "busiest": statistics.median(t["busiest"] for t in threads),
        "main_beside_others": statistics.median(t["main_beside_others"] for t in threads),
        "others": [statistics.median(t["others"][i] if i < len(t["others"]) else 0.0
                                     for t in threads)
                   for i in range(max(len(t["others"]) for t in threads))]}
    return summary


def hash_rate(size: int = 256 * MIB, piece: int = MIB) -> float:
    """hashlib's sha512 in this process, one thread, bytes per second (what bounds a
    seed that hashes on its critical path)."""
    block = os.urandom(piece)
    hasher = hashlib.sha512()
    started = time.perf_counter()
    for _ in range(size // piece):
        hasher.update(block)
    return size / (time.perf_counter() - started)


def sha512sum_rate(path: Path) -> float:
    """sha512sum of the ISO (in the page cache), bytes per second."""
    started = time.perf_counter()
    subprocess.run(["sha512sum", str(path)], check=True, capture_output=True)
    return path.stat().st_size / (time.perf_counter() - started)


def measure(lab: benchlib.Lab, workdir: Path, size: int, runs: int) -> dict[str, Any]:
    state = lab.state
    source, record = seed_image(state, workdir, size)
    try:
        vc = benchlib.counting_session(state, state.vcenter_port, benchlib.Tally())
        try:
            seeding = VerifyingSeeding(state, record, source, vc.session_cookie,
                                       benchlib.tool_env(state), workdir)
            done = run_seeds(seeding, runs, TOOLS)
        finally:
            vc.close()
        rates = {"hashlib_sha512_bytes_per_second": hash_rate(),
                 "sha512sum_bytes_per_second": sha512sum_rate(source)}
    finally:
        benchlib.Glance(state.glance_url).delete(record["id"])
    return {"image": {"id": record["id"], "size": record["size"],
                      "disk_format": record["disk_format"],
                      "os_hash_algo": record.get("os_hash_algo")},
            "datastore": SEED_DATASTORE, "runs": [asdict(run) for run in done],
            "summary": summary_of(done), "hash_rates": rates}


def rows_of(seed: dict[str, Any]) -> list[Row]:
    summary = seed["summary"]
    ours, verifying, plain = summary["vmwctl"], summary[VERIFYING], summary[PLAIN]
    mine = ours["median_bytes_per_second"]
    ratio = mine / verifying["median_bytes_per_second"]
    floor = PIPELINE_RATIO_MIN * verifying["median_bytes_per_second"]
    size = seed["image"]["size"]
    rates = seed["hash_rates"]
    threads = ours["median_thread_cpu_seconds"]
    return [
        Row(f"seed transfer ({size // MIB} MiB ISO)", f"{mine / MB:.1f} MB/s",
            f">= {PIPELINE_RATIO_MIN}x verifying pipeline = {floor / MB:.1f} MB/s",
            f"curl | tee >(sha512sum) | curl -T - {verifying['median_bytes_per_second'] / MB:.1f}"
            f" MB/s; vmwctl/pipeline {ratio:.2f}x", verdict(ratio >= PIPELINE_RATIO_MIN)),
        Row("seed transfer vs the plain pipeline", f"{mine / MB:.1f} MB/s", "info",
            f"curl | curl -T - {plain['median_bytes_per_second'] / MB:.1f} MB/s; "
            f"vmwctl/curl {mine / plain['median_bytes_per_second']:.2f}x", "info"),
        Row("peak RSS while seeding (max)", f"{ours['peak_rss_bytes'] / MB:.1f} MB",
            f"< {RSS_MAX / MB:.0f} MB",
            f"the verifying pipeline's largest process {verifying['peak_rss_bytes'] / MB:.1f} MB",
            verdict(ours["peak_rss_bytes"] < RSS_MAX)),
        Row("vmwctl cache seed (process wall)", seconds_text(ours["median_wall_seconds"]),
            "info", f"{size / ours['median_wall_seconds'] / MB:.1f} MB/s with start-up, Glance "
            f"and inventory; verifying pipeline {seconds_text(verifying['median_wall_seconds'])}",
            "info"),
        Row("busiest vmwctl thread (transfer)", f"{threads['busiest']:.2f} s CPU", "info",
            f"bound {size / threads['busiest'] / MB:.0f} MB/s with cores to spare; sending "
            f"(main) {threads['main_beside_others']:.2f} s, others "
            f"{', '.join(f'{cpu:.2f}' for cpu in threads['others'])} s", "info"),
        Row("sha512 on one core", f"{rates['hashlib_sha512_bytes_per_second'] / MB:.0f} MB/s",
            "info", f"hashlib, 1 MiB pieces; sha512sum of the ISO "
            f"{rates['sha512sum_bytes_per_second'] / MB:.0f} MB/s", "info"),
    ]


def print_runs(seed: dict[str, Any]) -> None:
    width = max(len(tool) for tool in TOOLS)
    print(f"round  {'tool':<{width}}  seconds     MB/s  process s  peak RSS MB  copy")
    for run in seed["runs"]:
        print(f"{run['round']:<5}  {run['tool']:<{width}}  {run['seconds']:>7.2f}  "
              f"{run['bytes_per_second'] / MB:>7.1f}  {run['wall_seconds']:>9.2f}  "
              f"{run['peak_rss_bytes'] / MB:>11.1f}  "
              f"{'intact' if run['intact'] else 'NOT INTACT'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: a {QUICK_SEED_SIZE // MIB} MiB ISO")
    parser.add_argument("--runs", type=int, default=5,
                        help="seeds per tool, the order reversed every round (default 5)")
    parser.add_argument("--lab-dir", type=Path,
                        help="use the lab running in DIR (left running), or start one there")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = QUICK_SEED_SIZE if args.quick else FULL_SEED_SIZE
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-bench-seed-"))
    try:
        with benchlib.running_lab(args.lab_dir) as lab:
            seed = measure(lab, workdir, size, args.runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = rows_of(seed)
    print(f"\ncache seed: a {size // MIB} MiB ISO from the lab's Glance into [{SEED_DATASTORE}] "
          f"of the lab's simulator, {args.runs} run(s) per tool, alternating; medians "
          f"compared.\nvmwctl: its result's bytes / seconds; the pipelines: the image's size / "
          f"their wall (sha512sum's end included)\n")
    benchlib.print_table(rows)
    print()
    print_runs(seed)
    versions = {**benchlib.vsphere_versions(), "curl": output_of(["curl", "--version"]),
                "sha512sum": output_of(["sha512sum", "--version"])}
    benchlib.write_results("cache_seed", {
        **benchlib.environment(versions), "quick": args.quick,
        "units": {"MB": MB, "seed throughput": "image bytes / seconds (vmwctl: its own "
                  "'seconds'; the pipelines: their wall)"},
        "seed": seed, "targets": [asdict(row) for row in rows]})
    if not all(run["intact"] for run in seed["runs"]):
        log("a seeded copy differs from the image")
        return 1
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError,
                 urllib.error.URLError)
