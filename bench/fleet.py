"""Benchmark the commands that work on many vCenters at once against each vCenter alone.

Starts a lab, then simulators of a fixed small inventory (the default topology: one
cluster of 3 hosts, one datastore, 2 VMs), each adding 5 ms to every SOAP call: 20 for
``check fleet``, 5 for ``cache purge --profiles`` with 200 cached images in each one's
cache folder. Times each vCenter's profile alone first (``run_fleet`` of one service;
``purge_profiles`` of one profile), then all of them in one run, as the commands call
them (login included), and prints the fleet's wall time beside the slowest single one
and the CPU each vCenter (profile) cost the client and its simulator, alone and in the
whole run, with PASS/MISS against the targets (informational: the exit status is 0 unless something
crashed or a purge did not do what the cache on disk calls for), and writes
bench/results/fleet.json.

    .venv/bin/python bench/fleet.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import benchlib
from benchlib import (
    BenchError,
    Lab,
    Row,
    Simulator,
    labctl,
    log,
    ms_text,
    seconds_text,
    verdict,
)

from vmwctl.cache.profiles import ProfileJob, ProfilesReport, purge_profiles
from vmwctl.cache.purge import PurgeRequest
from vmwctl.checks.fleet import FleetReport, run_fleet, services_from
from vmwctl.cli.app import App
from vmwctl.cli.cache.purge import DEFAULT_PARALLEL
from vmwctl.common.interrupts import Stopper
from vmwctl.errors import VmwctlError
from vmwctl.profile.load import build_profile
from vmwctl.profile.schema import Profile

DELAY_MS = 5  # added by the simulator to every SOAP call
SMALL: dict[str, int] = {}  # the simulator's default topology
CLUSTER = "DC0_C0"
DATASTORE = "LocalDS_0"
CACHE_FOLDER = f"{labctl.LAB_MY_IP}_base"
MARKER = "ts-%Y-%m-%d-%H-%M-%S"
MIN_AGE = 86400  # Nova's default remove_unused_original_minimum_age_seconds
FULL = {"fleet": 20, "purge": 5, "images": 200}
QUICK = {"fleet": 5, "purge": 2, "images": 40}
RATIO_MAX = 1.5  # the whole fleet's wall <= 1.5x its slowest vCenter alone


# ------------------------------------------------------------------ profiles

def raw_profile(lab: Lab, sim: Simulator, index: int) -> dict[str, Any]:
    """A compute service of its own on the simulator: its zone, the lab's my_ip."""
    state = lab.state
    return {"vmware": {"host_ip": "127.0.0.1", "host_port": sim.port,
                       "host_username": state.username, "host_password_file": state.password_file,
                       "ca_file": state.ca_file, "cluster_name": CLUSTER, "vnc_port_total": 206},
            "DEFAULT": {"my_ip": labctl.LAB_MY_IP}, "availability_zone": f"az-{index}"}


def profiles_of(lab: Lab, sims: list[Simulator], prefix: str) -> list[Profile]:
    return [build_profile(f"{prefix}{index}", raw_profile(lab, sim, index))
            for index, sim in enumerate(sims)]


def open_as_commands_do(timeout: float | None) -> Callable[[Profile], Any]:
    """A logged-in session per profile, as ``check fleet`` (timeout, no retry) and
    ``cache purge --profiles`` open them: App.open_vcenter without a prompt."""
    app = App()

    def open_vcenter(profile: Profile) -> Any:
        if timeout is None:
            return app.open_vcenter(profile, prompt=False)
        return app.open_vcenter(profile, prompt=False, connect_timeout=timeout,
                                api_retry_count=0)

    return open_vcenter


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (its /proc stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SIMULATOR_PIDS: list[int] = []  # whose CPU each timed run adds up
LAST_CPU: dict[str, float] = {}  # the CPU of the last timed run: client, simulators


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """The wall time of ``action``; its CPU, this process's and the simulators', in
    LAST_CPU: a run bound by the 2 cores shows there."""
    simulators = sum(cpu_seconds(pid) for pid in SIMULATOR_PIDS)
    client = time.process_time()
    started = time.perf_counter()
    answer = action()
    seconds = time.perf_counter() - started
    LAST_CPU["client"] = time.process_time() - client
    LAST_CPU["simulators"] = sum(cpu_seconds(pid) for pid in SIMULATOR_PIDS) - simulators
    return seconds, answer


def median_of(label: str, runs: int, once: Callable[[], tuple[float, Any]]
              ) -> dict[str, Any]:
    """One untimed warm-up, then ``runs`` timed ones: their median and every figure, with
    the median CPU of the client and of the simulators (1/100 s ticks)."""
    once()
    done, cpu = [], []
    for _ in range(runs):
        done.append(once())
        cpu.append(dict(LAST_CPU))
    seconds = [s for s, _ in done]
    client = ", ".join(f"{c['client']:.3f}" for c in cpu)
    simulators = ", ".join(f"{c['simulators']:.2f}" for c in cpu)
    log(f"  {label}: {', '.join(f'{s:.3f}' for s in seconds)} s; CPU client {client} s, "
        f"simulators {simulators} s")
    return {"median_seconds": statistics.median(seconds),
            "all_seconds": [round(s, 4) for s in seconds],
            "client_cpu_seconds": statistics.median(c["client"] for c in cpu),
            "simulators_cpu_seconds": statistics.median(c["simulators"] for c in cpu),
            "result": done[-1][1]}


# ------------------------------------------------------------------ check fleet

def fleet_once(profiles: list[Profile]) -> tuple[float, FleetReport]:
    services = services_from([(p.name, p) for p in profiles])
    seconds, report = timed(lambda: run_fleet(services, open_as_commands_do(10.0)))
    down = [c for c in report.checks if c.id == "fleet-reachability" and c.status.value != "pass"]
    if down:
        raise BenchError(f"check fleet: {down[0].detail}")
    return seconds, report


def measure_fleet(lab: Lab, sims: list[Simulator], runs: int) -> dict[str, Any]:
    profiles = profiles_of(lab, sims, "fleet")
    log(f"check fleet: each of the {len(profiles)} vCenters alone, then all at once")
    SIMULATOR_PIDS[:] = [sim.pid for sim in sims]
    alone = [median_of(p.name, runs, lambda p=p: fleet_once([p])) for p in profiles]
    together = median_of("the fleet", runs, lambda: fleet_once(profiles))
    slowest = max(alone, key=lambda figures: figures["median_seconds"])
    return {"alone": [{"median_seconds": a["median_seconds"], "all_seconds": a["all_seconds"]}
                      for a in alone],
            "slowest_alone_seconds": slowest["median_seconds"],
            "fleet": {"median_seconds": together["median_seconds"],
                      "all_seconds": together["all_seconds"],
                      "services": together["result"].services,
                      "vcenters": together["result"].vcenters},
            "ratio": together["median_seconds"] / slowest["median_seconds"],
            "cpu": cpu_figures(alone, together),
            "workers": _fleet_workers()}


def cpu_figures(alone: list[dict[str, Any]], together: dict[str, Any]) -> dict[str, Any]:
    """CPU per unit (vCenter, profile), alone (the median unit) and in the whole run: the
    client's (this process, every thread) and the simulators'."""
    count = len(alone)
    return {"client_alone_seconds": statistics.median(a["client_cpu_seconds"] for a in alone),
            "client_together_seconds_each": together["client_cpu_seconds"] / count,
            "simulators_alone_seconds": statistics.median(a["simulators_cpu_seconds"]
                                                          for a in alone),
            "simulators_together_seconds_each": together["simulators_cpu_seconds"] / count}


def _fleet_workers() -> Any:
    import vmwctl.checks.fleet as fleet

    return getattr(fleet, "CONTACT_WORKERS", None)


# ------------------------------------------------------------------ cache purge --profiles

def lay_out(datastore_dir: Path, count: int, seed: int) -> dict[str, int]:
    """The cache folder anew: ``count`` images as nova-compute leaves them, nothing in them
    changed for three days; a third marked three days ago (the purge deletes them), a third
    marked an hour ago (it waits), a third unmarked (it marks them). The outcomes expected."""
    folder = datastore_dir / CACHE_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    old = (now - dt.timedelta(days=3)).timestamp()
    expected = {"deleted": 0, "waiting": 0, "marked": 0}
    for index in range(count):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        path = folder / image_id
        path.mkdir(parents=True)
        (path / f"{image_id}.vmdk").write_text(f'RW 8 VMFS "{image_id}-flat.vmdk"\n')
        (path / f"{image_id}-flat.vmdk").write_bytes(rng.randbytes(4096))
        kind = ("deleted", "waiting", "marked")[index % 3]
        if kind != "marked":
            age = dt.timedelta(days=3) if kind == "deleted" else dt.timedelta(hours=1)
            (path / (now - age).strftime(MARKER)).mkdir()
        for item in (*path.iterdir(), path):
            os.utime(item, (old, old))
        expected[kind] += 1
    return expected


def purge_once(lab: Lab, profiles: list[Profile], images: int) -> tuple[float, ProfilesReport]:
    """Lay the caches out anew (untimed), then one ``cache purge --profiles`` of them all."""
    expected = {}
    for profile in profiles:
        sim = next(s for s in lab.simulators if s.port == profile.vmware.host_port)
        expected[profile.name] = lay_out(Path(lab.datastore_dirs(sim)[DATASTORE]), images,
                                         seed=sim.port)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    jobs = [ProfileJob(p.name, p, PurgeRequest(CACHE_FOLDER, "_base", MIN_AGE, False,
                                               frozenset(), now)) for p in profiles]
    seconds, report = timed(lambda: purge_profiles(
        jobs, open_vcenter=open_as_commands_do(None), parallel=DEFAULT_PARALLEL,
        stopper=Stopper(), now=now))
    assert report is not None
    for result in report.profiles:
        if result.exit_code != 0 or result.report is None:
            raise BenchError(f"cache purge --profiles: profile {result.profile}: "
                             f"{result.error or 'failed'}")
        got = {kind: sum(1 for i in result.report.items if i.outcome.value == kind)
               for kind in expected[result.profile]}
        if got != expected[result.profile]:
            raise BenchError(f"profile {result.profile}: {got}, expected "
                             f"{expected[result.profile]}")
    return seconds, report


def measure_purge(lab: Lab, sims: list[Simulator], images: int, runs: int) -> dict[str, Any]:
    profiles = profiles_of(lab, sims, "compute")
    log(f"cache purge --profiles: each of the {len(profiles)} profiles alone "
        f"({images} images each), then all at once (--parallel {DEFAULT_PARALLEL})")
    SIMULATOR_PIDS[:] = [sim.pid for sim in sims]
    alone = [median_of(p.name, runs, lambda p=p: purge_once(lab, [p], images))
             for p in profiles]
    together = median_of("all profiles", runs, lambda: purge_once(lab, profiles, images))
    slowest = max(alone, key=lambda figures: figures["median_seconds"])
    per_profile = {r.profile: r.seconds for r in together["result"].profiles}
    return {"alone": [{"median_seconds": a["median_seconds"], "all_seconds": a["all_seconds"]}
                      for a in alone],
            "slowest_alone_seconds": slowest["median_seconds"],
            "together": {"median_seconds": together["median_seconds"],
                         "all_seconds": together["all_seconds"],
                         "profile_seconds_last_run": per_profile},
            "ratio": together["median_seconds"] / slowest["median_seconds"],
            "cpu": cpu_figures(alone, together),
            "parallel": DEFAULT_PARALLEL, "images_per_profile": images}


# ------------------------------------------------------------------ output

def rows_of(fleet: dict[str, Any], purge: dict[str, Any]) -> list[Row]:
    def row(measure: str, figures: dict[str, Any], key: str, peer: str, unit: str) -> Row:
        return Row(measure, seconds_text(figures[key]["median_seconds"]),
                   f"<= {RATIO_MAX}x the slowest alone = "
                   f"{seconds_text(RATIO_MAX * figures['slowest_alone_seconds'])}",
                   f"slowest alone {seconds_text(figures['slowest_alone_seconds'])} "
                   f"(fastest {seconds_text(min(a['median_seconds'] for a in figures['alone']))}"
                   f"); {figures['ratio']:.2f}x; {peer}; {cpu_text(figures['cpu'], unit)}",
                   verdict(figures["ratio"] <= RATIO_MAX))

    n_fleet, n_purge = len(fleet["alone"]), len(purge["alone"])
    return [row(f"check fleet, {n_fleet} vCenters (wall)", fleet, "fleet",
                f"{fleet['workers']} workers", "vCenter"),
            row(f"cache purge --profiles, {n_purge} profiles (wall)", purge, "together",
                f"{purge['images_per_profile']} images each, --parallel {purge['parallel']}",
                "profile")]


def cpu_text(cpu: dict[str, Any], unit: str) -> str:
    return (f"CPU per {unit} alone/together: client {ms_text(cpu['client_alone_seconds'])}/"
            f"{ms_text(cpu['client_together_seconds_each'])}, simulator "
            f"{ms_text(cpu['simulators_alone_seconds'])}/"
            f"{ms_text(cpu['simulators_together_seconds_each'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['fleet']} vCenters for check fleet, {QUICK['purge']} "
                             f"profiles of {QUICK['images']} images for the purge")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed runs of each measure, after a warm-up (default 3)")
    parser.add_argument("--lab-dir", type=Path, help="use (or start) the lab in DIR")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    size = QUICK if args.quick else FULL
    locks = Path(tempfile.mkdtemp(prefix="vmwctl-bench-locks-"))
    os.environ["XDG_RUNTIME_DIR"] = str(locks)  # the purge's local locks, private
    try:
        with benchlib.running_lab(args.lab_dir) as lab:
            sims = [lab.start_simulator(f"fleet{n}", SMALL, DELAY_MS)
                    for n in range(max(size["fleet"], size["purge"]))]
            fleet = measure_fleet(lab, sims[:size["fleet"]], args.runs)
            purge = measure_purge(lab, sims[:size["purge"]], size["images"], args.runs)
            rss = [benchlib.rss_of(sim.pid) or 0 for sim in sims]
    finally:
        shutil.rmtree(locks, ignore_errors=True)
    rows = rows_of(fleet, purge)
    print(f"\n{len(sims)} simulators of {benchlib.topology(SMALL)}, each adding {DELAY_MS} ms "
          f"to every SOAP call (largest RSS {max(rss) / 1e6:.0f} MB); median of {args.runs} "
          "run(s) after a warm-up, login included\n")
    benchlib.print_table(rows)
    benchlib.write_results("fleet", {
        **benchlib.environment(benchlib.vsphere_versions()),
        "quick": args.quick, "delay_ms_per_call": DELAY_MS, "topology": benchlib.topology(SMALL),
        "check_fleet": fleet, "cache_purge_profiles": purge,
        "simulators": [asdict(sim) for sim in sims],
        "targets": [asdict(row) for row in rows]})
    return 0


if __name__ == "__main__":
    benchlib.run(main, VmwctlError, RuntimeError, OSError, subprocess.CalledProcessError)
