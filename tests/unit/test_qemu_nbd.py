"""qemu-nbd serving an image to the NBD client: the allocation map, reads, the end of the
server (tests/reliability/test_local_faults.py has the signals and SIGKILLs)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import child_processes
from hypothesis import given
from hypothesis import strategies as st

from vmwctl.errors import OperationFailed
from vmwctl.images import qemu_nbd

GRAIN = 65536


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_allocation_map_and_reads(tmp_path: Path, private_tmp: Path) -> None:
    raw = tmp_path / "src.raw"
    with raw.open("wb") as handle:
        handle.truncate(1 << 30)
        handle.seek(100 << 20)
        handle.write(b"a" * (3 << 20))
        handle.seek((1 << 30) - 4096)
        handle.write(b"z" * 4096)
    qcow2 = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(qcow2)],
                   check=True)
    with qemu_nbd.exported(str(qcow2), "qcow2", connections=3) as image:
        assert image.size == 1 << 30
        assert list(private_tmp.iterdir()) == []  # the socket's directory: gone already
        [server] = child_processes("qemu-nbd")
        environment = Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_MMAP_THRESHOLD_=%d" % (4 * qemu_nbd.RUN) in environment  # buffers kept
        extents = image.data_extents()
        assert extents == [(100 << 20, 103 << 20), ((1 << 30) - GRAIN, 1 << 30)]
        runs = qemu_nbd.grain_runs(extents, image.size, GRAIN)
        got = list(image.read(runs))
        assert [offset for offset, _ in got] == [offset for offset, _ in runs]
        assert b"".join(data for _, data in got) == (
            b"a" * (3 << 20) + bytes(GRAIN - 4096) + b"z" * 4096)
    assert not Path(f"/proc/{server}").exists() or child_processes("qemu-nbd") == []
    assert list(private_tmp.iterdir()) == []


def test_a_source_qemu_nbd_cannot_open(tmp_path: Path, private_tmp: Path) -> None:
    not_qcow2 = tmp_path / "text.qcow2"
    not_qcow2.write_text("not an image\n" * 100)
    refused = r"^qemu-nbd could not serve .*text\.qcow2: .*(qcow2|Image is not in)"
    with pytest.raises(OperationFailed, match=refused), \
            qemu_nbd.exported(str(not_qcow2), "qcow2"):
        pass
    assert child_processes("qemu-nbd") == [] and list(private_tmp.iterdir()) == []


def test_an_error_inside_ends_qemu_nbd(tmp_path: Path, private_tmp: Path) -> None:
    qcow2 = tmp_path / "e.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "64M"], check=True)
    with pytest.raises(KeyboardInterrupt), qemu_nbd.exported(str(qcow2), "qcow2"):
        assert child_processes("qemu-nbd")
        raise KeyboardInterrupt
    assert child_processes("qemu-nbd") == [] and list(private_tmp.iterdir()) == []


def test_a_long_tmpdir_goes_through_proc(tmp_path: Path, monkeypatch) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    qcow2 = tmp_path / "l.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "1M"], check=True)
    with qemu_nbd.exported(str(qcow2), "qcow2", connections=1) as image:
        assert image.size == 1 << 20 and image.data_extents() == []
    assert list(deep.iterdir()) == []


@given(st.lists(st.tuples(st.integers(0, 1 << 24), st.integers(1, 1 << 22)), max_size=8),
       st.integers(1, 64))
def test_grain_runs_cover_each_grain_once(pieces, run_grains: int) -> None:
    size = (1 << 25) + 1536
    extents: list[tuple[int, int]] = []
    for start, length in sorted(pieces):
        start = max(start, extents[-1][1] if extents else 0)
        if start < size:
            extents.append((start, min(start + length, size)))
    runs = qemu_nbd.grain_runs(extents, size, GRAIN, run_grains * GRAIN)
    wanted = sorted({g for start, end in extents for g in range(start // GRAIN,
                                                               (end - 1) // GRAIN + 1)})
    covered = [g for offset, length in runs for g in range(offset // GRAIN,
                                                          -(-(offset + length) // GRAIN))]
    assert covered == wanted
    assert all(offset % GRAIN == 0 and 0 < length <= run_grains * GRAIN
               and offset + length <= size for offset, length in runs)
