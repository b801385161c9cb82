"""Scale: a 20 GiB-virtual image uploaded, a purge over 1,000 cached images; memory flat.

Each case runs vmwctl as a process of its own at two sizes and measures its
peak RSS (the largest of it and its children, from getrusage); the large run
may use little more memory than the small one. The figures are printed at the
end of the session (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from labimages import vmdk
from test_vcenter_faults import CACHE, DS, put_aged_images

from vmwctl.images.glance import open_image_service
from vmwctl.profile.load import load_profile

pytestmark = [pytest.mark.lab, pytest.mark.scale]

GIB = 1 << 30
MIB = 1 << 20
FLAT_MARGIN = 32 * MIB  # what the large run may use beyond the small one


def peak_rss(*args: str) -> tuple[int, dict | list, str]:
    """Run vmwctl with -o json; its peak RSS in bytes (the largest of it and its children)."""
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "sys.stderr.write(r.stderr)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "print(r.stdout)\n")
    result = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "vmwctl",
                             *args, "-o", "json"], capture_output=True, text=True,
                            env=os.environ.copy(), timeout=900)
    head, _, body = result.stdout.partition("\n")
    code, kib = map(int, head.split())
    assert code == 0, result.stderr
    return kib * 1024, json.loads(body), result.stderr


def sparse_raw(path: Path, virtual: int, data: int) -> Path:
    """``virtual`` bytes, of which ``data`` random bytes in 16 MiB runs spread evenly."""
    runs = max(1, data // (16 * MIB))
    step = virtual // runs
    with path.open("wb") as out:
        out.truncate(virtual)
        for n in range(runs):
            out.seek(n * step)
            out.write(os.urandom(16 * MIB))
    return path


def delete_image(config: str, image_id: str) -> None:
    service = open_image_service(load_profile(config, None, os.environ), os.environ)
    service.delete(image_id)


@pytest.mark.parametrize("way", ["streamed --convert", "monolithicSparse file"])
def test_upload_of_20_gib_virtual_holds_memory_flat(lab, lab_env, tmp_path: Path,
                                                    record_figure, way: str) -> None:
    peaks = {}
    for label, virtual, data in (("small", 256 * MIB, 16 * MIB), ("20 GiB", 20 * GIB, 2 * GIB)):
        folder = tmp_path / label.replace(" ", "")
        folder.mkdir()
        raw = sparse_raw(folder / "disk.raw", virtual, data)
        if way == "streamed --convert":
            args = ["image", "upload", str(raw), "--convert", "--name", f"scale-{label}",
                    "--ostype", "otherGuest"]
        else:
            disk = vmdk(raw, "monolithicSparse")
            raw.unlink()
            args = ["image", "upload", str(disk), "--name", f"scale-{label}", "--ostype",
                    "otherGuest"]
        peak, document, _ = peak_rss(*args)
        image = document["image"]
        try:
            assert image["status"] == "active"
            assert image["virtual_size"] in (virtual, None)
        finally:
            delete_image(lab.config_file, image["id"])
        peaks[label] = peak
        for leftover in folder.iterdir():
            leftover.unlink()
    record_figure(f"upload {way}: peak RSS", f"{peaks['small'] / MIB:.1f} MiB (256 MiB "
                  f"virtual) -> {peaks['20 GiB'] / MIB:.1f} MiB (20 GiB virtual, 2 GiB data)")
    assert peaks["20 GiB"] < peaks["small"] + FLAT_MARGIN, peaks


def test_purge_over_1000_images_holds_memory_flat(simulator, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  record_figure) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    peaks = {}
    for count in (100, 1000):
        sim = simulator()
        root = Path(sim.datastores[DS])
        images = put_aged_images(root, count)
        peak, report, _ = peak_rss("--config", str(sim.config), "cache", "purge", "--yes")
        assert sum(item["outcome"] == "deleted" for item in report["items"]) == count
        assert not [path for path in images if path.exists()]
        assert [p.name for p in (root / CACHE).iterdir()] == []
        peaks[count] = peak
        sim.close()
    record_figure("cache purge: peak RSS", f"{peaks[100] / MIB:.1f} MiB (100 images deleted) -> "
                  f"{peaks[1000] / MIB:.1f} MiB (1,000 images deleted)")
    assert peaks[1000] < peaks[100] + FLAT_MARGIN, peaks
