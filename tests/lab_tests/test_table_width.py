"""Tables on a pipe: as wide as COLUMNS says, no line padded, no identifier cut.

vmwctl runs as a subprocess with stdout a pipe, as in ``vmwctl image list | less``
or a cron job's mail; COLUMNS is what a shell exports for its terminal's width.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from labimages import raw_disk, upload, vmdk

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"


def piped(sim, columns: int | str | None, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "vmwctl", "--config", str(sim.config), *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=300)


def assert_fits(stdout: str, columns: int) -> list[str]:
    lines = stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, stdout
    assert [line for line in lines if line != line.rstrip()] == [], "padded lines"
    assert "…" not in stdout, stdout
    return lines


@pytest.fixture
def image(sim, lab_env, tmp_path: Path) -> str:
    return upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                  "width-image", vmware_disktype="streamOptimized", vmware_adaptertype="ide")


def test_image_list_keeps_ids_whole_at_100_columns(sim, image) -> None:
    result = piped(sim, 100, "image", "list")
    assert result.returncode in (0, 1), result.stderr  # 1: another test's broken image
    lines = assert_fits(result.stdout, 100)
    assert any(image in line for line in lines), result.stdout


def test_cache_purge_plan_names_the_images(sim, image) -> None:
    assert piped(sim, None, "cache", "seed", image, "-q").returncode == 0
    result = piped(sim, 100, "cache", "purge", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = assert_fits(result.stdout, 100)
    row = next(line for line in lines if image in line)  # the id whole, on one line
    assert "width-image" in row and "would mark" in row, result.stdout
    assert f"[LocalDS_0] {CACHE}" in result.stdout  # the folder, said once in the title
    # without the image service's names: no column of dashes
    offline = piped(sim, 100, "cache", "purge", "--dry-run", "--no-glance")
    assert offline.returncode == 0, offline.stderr
    assert image in offline.stdout and "NAME" not in offline.stdout


def test_without_columns_a_pipe_is_wide_but_not_padded(sim, image) -> None:
    wide = piped(sim, None, "image", "list")
    assert wide.returncode in (0, 1), wide.stderr
    assert_fits(wide.stdout, 200)
    for junk in ("0", "wide", "-5"):  # a COLUMNS that gives no width: as if unset
        assert piped(sim, junk, "image", "list").stdout == wide.stdout, junk
