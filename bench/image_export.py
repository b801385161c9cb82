"""Benchmark ``vmwctl image export`` against a naive lease download then ``image upload``.

A VM of the lab's simulator gets a 2 GiB disk holding 1 GiB of random data
(1 MiB at the start of every 2 MiB). In the same run, each way of turning it
into a Glance image runs under GNU time (wall seconds, peak RSS, and the
bytes the process wrote to local storage, %O x 512), alternately, ``--runs``
times each (best of each compared):

- vmwctl: ``vmwctl image export VM --name NAME``;
- naive: a pyVmomi script (SmartConnect, ExportVm, GET of the disk URL into a
  local file, HttpNfcLeaseComplete), then ``vmwctl image upload FILE``.

ESXi converts a disk to streamOptimized while it sends it; the simulator
converts with qemu-img before the first byte (25 s or more for this disk) and
keeps the conversion while the disk is unchanged. One untimed download first
(to /dev/null) pays that once, and is reported apart: it is the same for both
ways, and not what separates them.

Target: vmwctl faster, and no local disk used. Prints the table, writes
bench/results/image_export.json.

    .venv/bin/python bench/image_export.py [--runs N] [--lab-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import benchlib
from benchlib import NAME_PREFIX, REPO, BenchError, Glance, Row, log, verdict

sys.path.insert(0, str(REPO / "tests"))
from labexports import vm_with_disks

MIB, GIB = 1 << 20, 1 << 30
MB = 1_000_000
DISK_VIRTUAL = 2 * GIB
STRIDE = 2 * MIB
LOCAL_MAX = 1 * MIB  # "no local disk used": less than 1 MiB written by vmwctl

NAIVE_SCRIPT = r'''
import http.client, ssl, sys, time
from urllib.parse import urlsplit
from pyVim.connect import SmartConnect
from pyVmomi import vim
port, user, password_file, ca, vm_name, out = sys.argv[1:7]
password = open(password_file).read().strip()
context = ssl.create_default_context(cafile=ca)
si = SmartConnect(host="127.0.0.1", port=int(port), user=user, pwd=password, sslContext=context)
view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
vm = next(v for v in view.view if v.name == vm_name)
lease = vm.ExportVm()
while lease.state != "ready":
    time.sleep(0.1)
url = urlsplit([d.url for d in lease.info.deviceUrl if d.disk][0])
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=600)
conn.request("GET", url.path, headers={"Cookie": si._stub.cookie})
response = conn.getresponse()
with open(out, "wb") as f:
    while chunk := response.read(1 << 20):
        f.write(chunk)
lease.HttpNfcLeaseComplete()
'''


@dataclass
class Figures:
    wall: float
    peak_rss: int
    written: int  # bytes written to local storage (GNU time %O, 512-byte blocks)


def timed(argv: list[str], env: dict[str, str], scratch: Path) -> Figures:
    report = scratch / "time.txt"
    report.unlink(missing_ok=True)
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M %O", "-o", str(report), *argv],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise BenchError(f"{argv[:4]} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    line = [x for x in report.read_text().splitlines() if x[:1].isdigit()][-1]
    wall, rss, blocks = line.split()
    return Figures(float(wall), int(rss) * 1024, int(blocks) * 512)


def make_raw(path: Path) -> None:
    with open(path, "wb") as f:
        f.truncate(DISK_VIRTUAL)
        for offset in range(0, DISK_VIRTUAL, STRIDE):
            f.seek(offset)
            f.write(os.urandom(MIB))


@dataclass
class ExportRun:
    """One way of turning the VM's disk into an image, once (naive: download + upload)."""

    tool: str
    round: int
    wall_seconds: float
    peak_rss_bytes: int
    written: int
    bytes_per_second: float
    image_status: str
    intact: bool
    parts: dict[str, float]  # naive: the download's and the upload's wall seconds
    error: str | None = None


@dataclass
class Exporter:
    """Runs both ways against one VM of the export simulator."""

    vm: str
    vmwctl: list[str]
    naive: list[str]  # the pyVmomi script's argv, without the output file
    env: dict[str, str]
    scratch: Path
    glance: Glance
    expected_sha512: str | None = None  # the first image's hash: every run must match it

    def run(self, tool: str, round_: int) -> ExportRun:
        name = f"{NAME_PREFIX}{tool}-{round_}-{uuid.uuid4().hex[:6]}"
        parts: dict[str, float] = {}
        if tool == "vmwctl":
            figures = timed([*self.vmwctl, "image", "export", self.vm, "--name", name],
                            self.env, self.scratch)
        else:
            local = self.scratch / "export.vmdk"
            download = timed([*self.naive, str(local)], self.env, self.scratch)
            upload = timed([*self.vmwctl, "image", "upload", str(local), "--name", name],
                           self.env, self.scratch)
            local.unlink()
            parts = {"download": download.wall, "upload": upload.wall}
            figures = Figures(download.wall + upload.wall,
                              max(download.peak_rss, upload.peak_rss),
                              download.written + upload.written)
        record = self.glance.get(self.glance.find(name) or "")
        self.expected_sha512 = self.expected_sha512 or record.get("os_hash_value")
        intact = record.get("status") == "active" and \
            record.get("os_hash_value") == self.expected_sha512
        self.glance.delete(record["id"])
        return ExportRun(tool, round_, figures.wall, figures.peak_rss, figures.written,
                         record.get("size", 0) / figures.wall, str(record.get("status")),
                         intact, parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs of each way (default 2)")
    parser.add_argument("--lab-dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with benchlib.running_lab(args.lab_dir, args.keep) as lab, \
            tempfile.TemporaryDirectory(prefix="vmwctl-bench-export-") as tmp:
        scratch = Path(tmp)
        state = lab.state
        glance = Glance(state.glance_url)
        glance.delete_leftovers()
        sim = lab.start_simulator("export", {}, 0)
        ds_dir = Path(lab.datastore_dirs(sim)["LocalDS_0"])
        log("writing 1 GiB of random data into a 2 GiB disk")
        raw = scratch / "disk.raw"
        make_raw(raw)
        vc = benchlib.counting_session(state, sim.port, benchlib.Tally())
        _, vm_name = vm_with_disks(vc, ds_dir, [raw], name=f"bench-{uuid.uuid4().hex[:6]}")
        raw.unlink()
        vc.close()
        config = benchlib.write_profile(state, sim.port, scratch / "bench.yaml")
        env = benchlib.tool_env(state) | {"VMWCTL_CONFIG": str(config)}
        naive = [sys.executable, "-c", NAIVE_SCRIPT, str(sim.port), state.username,
                 state.password_file, state.ca_file, vm_name]
        log("warm-up: the simulator converts the disk (one download to /dev/null, untimed)")
        conversion = timed([*naive, "/dev/null"], env, scratch).wall
        log(f"  {conversion:.1f} s")
        exporter = Exporter(vm_name, [sys.executable, "-m", "vmwctl", "-p", "bench", "-o", "json"],
                            naive, env, scratch, glance)
        runs = benchlib.alternating_runs(("vmwctl", "naive"), args.runs, exporter.run)
        glance.delete_leftovers()

    best = benchlib.best_runs(runs)
    ours, peer = best.get("vmwctl"), best.get("naive")
    if ours is None or peer is None:
        raise BenchError("no intact run of each way: " + "; ".join(
            f"{r.tool} round {r.round}: {r.error or r.image_status}" for r in runs))
    written = max(r.written for r in runs if r.tool == "vmwctl")
    size = ours.bytes_per_second * ours.wall_seconds
    benchlib.print_runs(runs, best)
    rows = [
        Row("wall seconds (best)", f"{ours.wall_seconds:.2f}", "< naive",
            f"{peer.wall_seconds:.2f} ({peer.parts['download']:.2f} + "
            f"{peer.parts['upload']:.2f})", verdict(ours.wall_seconds < peer.wall_seconds)),
        Row("throughput MB/s", f"{ours.bytes_per_second / MB:.1f}", "info",
            f"{peer.bytes_per_second / MB:.1f}", "info"),
        Row("local bytes written (max)", f"{written:,}", f"< {LOCAL_MAX:,}",
            f"{peer.written:,}", verdict(written < LOCAL_MAX)),
        Row("peak RSS MB (max)", f"{benchlib.peak_rss_of(runs, 'vmwctl') / MB:.1f}", "info",
            f"{benchlib.peak_rss_of(runs, 'naive') / MB:.1f}", "info"),
        Row("simulator's conversion s", f"{conversion:.1f}", "info", "the same, paid once",
            "info"),
    ]
    print(f"\nimage export of {size / MB:,.0f} MB of streamOptimized data "
          "(1 GiB of data in a 2 GiB disk)")
    benchlib.print_table(rows, "vmwctl")
    benchlib.write_results("image_export", {
        **benchlib.environment(benchlib.vsphere_versions()),
        "image_bytes": size, "conversion_seconds": conversion,
        **benchlib.runs_document(runs, best, rows)})
    return benchlib.exit_status(runs)


if __name__ == "__main__":
    benchlib.run(main)
