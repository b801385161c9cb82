"""Benchmark ``vmwctl image export`` against a naive lease download then ``image upload``.

A VM of the lab's simulator gets a 2 GiB disk holding 1 GiB of random data
(1 MiB at the start of every 2 MiB). In the same run, each way of turning it
into a Glance image runs under GNU time (wall seconds, peak RSS, and the
bytes the process wrote to local storage, %O x 512):

- vmwctl: ``vmwctl image export VM --name NAME``;
- naive: a pyVmomi script (SmartConnect, ExportVm, GET of the disk URL into a
  local file, HttpNfcLeaseComplete), then ``vmwctl image upload FILE``.

Target: vmwctl faster, and no local disk used. Prints the table, writes
bench/results/image_export.json.

    .venv/bin/python bench/image_export.py [--lab-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
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
        vmwctl = [sys.executable, "-m", "vmwctl", "-p", "bench", "-o", "json"]

        log("vmwctl image export")
        name = f"{NAME_PREFIX}export-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        ours = timed([*vmwctl, "image", "export", vm_name, "--name", name], env, scratch)
        log(f"  {time.perf_counter() - started:.1f} s")
        size = glance.get(glance.find(name) or "")["size"]

        log("naive: pyVmomi lease download to a file, then vmwctl image upload")
        local = scratch / "export.vmdk"
        download = timed([sys.executable, "-c", NAIVE_SCRIPT, str(sim.port), state.username,
                          state.password_file, state.ca_file, vm_name, str(local)], env, scratch)
        upload_name = f"{NAME_PREFIX}naive-{uuid.uuid4().hex[:6]}"
        upload = timed([*vmwctl, "image", "upload", str(local), "--name", upload_name],
                       env, scratch)
        naive = Figures(download.wall + upload.wall, max(download.peak_rss, upload.peak_rss),
                        download.written + upload.written)
        glance.delete_leftovers()

    rows = [
        Row("wall seconds", f"{ours.wall:.2f}", "< naive", f"{naive.wall:.2f} "
            f"({download.wall:.2f} + {upload.wall:.2f})", verdict(ours.wall < naive.wall)),
        Row("throughput MB/s", f"{size / ours.wall / MB:.1f}", "info",
            f"{size / naive.wall / MB:.1f}", "info"),
        Row("local bytes written", f"{ours.written:,}", f"< {LOCAL_MAX:,}",
            f"{naive.written:,}", verdict(ours.written < LOCAL_MAX)),
        Row("peak RSS MB", f"{ours.peak_rss / MB:.1f}", "info", f"{naive.peak_rss / MB:.1f}",
            "info"),
    ]
    print(f"image export of {size / MB:,.0f} MB of streamOptimized data "
          "(1 GiB of data in a 2 GiB disk)")
    benchlib.print_table(rows, "vmwctl")
    benchlib.write_results("image_export", {
        **benchlib.environment(benchlib.vsphere_versions()),
        "image_bytes": size, "vmwctl": ours.__dict__, "naive": naive.__dict__,
        "naive_download": download.__dict__, "naive_upload": upload.__dict__,
        "rows": [row.__dict__ for row in rows]})
    return 0


if __name__ == "__main__":
    benchlib.run(main)
