"""Runs at the same time: two purges, and a purge racing a seed or a spawn of its image.

The purges go through a slowed fault proxy so that the runs overlap for
seconds; each is a real process. Expect: one purge does the work and the
other says why it did nothing; an image a seed or spawn uses while a purge
runs survives it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import wait_until, write_profile
from labimages import raw_disk, upload, vmdk
from test_vcenter_faults import CACHE, DS, finish, put_aged_images, start

from vmwctl.cache.layout import LOCK_FOLDER

pytestmark = pytest.mark.lab


def markers(path: Path) -> list[str]:
    return [p.name for p in path.iterdir() if p.name.startswith("ts-")]


def put_fresh_images(root: Path, count: int) -> list[Path]:
    """Unused cached images without a marker: a purge marks each (one request apiece)."""
    paths = put_aged_images(root, count)
    for path in paths:
        for marker in markers(path):
            (path / marker).rmdir()
    return paths


@pytest.fixture
def slow(simulator, lab_env, tmp_path: Path):
    sim = simulator()
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        proxy.slow_down(0.03)
        yield sim, proxy, write_profile(sim, tmp_path / "slow.yaml", port=proxy.port)


@pytest.mark.parametrize("machines", ["one machine", "two machines"])
def test_two_purges_at_once(slow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            machines: str) -> None:
    """One machine: the local lock turns the second away at once. Two machines (separate lock
    directories): the datastore lock does."""
    sim, _, config = slow
    root = Path(sim.datastores[DS])
    fresh = put_fresh_images(root, 15)
    aged = put_aged_images(root, 15)
    runs = []
    for n in range(2):
        run_dir = tmp_path / ("run" if machines == "one machine" else f"run{n}")
        run_dir.mkdir(exist_ok=True)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
        runs.append(start(config, "cache", "purge", "--yes"))
        if n == 0:
            wait_until(lambda: (root / CACHE / LOCK_FOLDER).exists(), runs[0])
    results = [finish(run) for run in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(stderr for code, _, stderr in results if code == 1)
    expected = "runs on this machine" if machines == "one machine" else "another purge holds"
    assert expected in loser
    assert all(len(markers(path)) == 1 for path in fresh)  # marked once, not twice
    assert not [path for path in aged if path.exists()]
    assert not (root / CACHE / LOCK_FOLDER).exists()


@pytest.mark.parametrize("command", ["cache seed", "vm spawn"])
def test_an_image_used_during_a_purge_survives_it(slow, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  command: str) -> None:
    """The image is cached with a three-day-old marker (the purge plans to delete it); a seed
    or spawn of it starts once the purge has planned and is marking 25 other images, and,
    going direct, ends before the purge (slowed) reads the markers again to delete."""
    sim, _, config = slow
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "raced", vmware_disktype="streamOptimized")
    seeded = sim.run("cache", "seed", image_id)
    assert seeded.exit_code == 0, seeded.stderr
    folder = root / CACHE / image_id
    put_aged_images(root, 1)  # a marker of the right form, moved onto the image
    stamp = next(p for p in (root / CACHE).iterdir() if p != folder and p.name != LOCK_FOLDER)
    marker = markers(stamp)[0]
    (folder / marker).mkdir()
    old = os.stat(stamp).st_mtime
    for item in (*folder.iterdir(), folder):
        os.utime(item, (old, old))
    fresh = put_fresh_images(root, 25)

    purge = start(config, "cache", "purge", "--yes")
    wait_until(lambda: sum(bool(markers(path)) for path in fresh) >= 3, purge)  # planned
    args = ["vm", "spawn", image_id, "--name", "raced"] if command == "vm spawn" else \
        ["cache", "seed", image_id]
    used = sim.run(*args)
    assert used.exit_code == 0, used.stderr
    assert purge.poll() is None, "the purge ended before the race"
    code, report, stderr = finish(purge)
    assert code == 0, stderr
    item = next(i for i in report["items"] if i["image_id"] == image_id)
    assert item["outcome"] == "kept" and "marker changed" in item["reason"]
    assert (folder / f"{image_id}.vmdk").exists() and markers(folder) == []
    assert not stamp.exists()  # the other aged image went
    assert all(len(markers(path)) == 1 for path in fresh)
