"""The native streamOptimized writer, judged by qemu-img, oslo.utils and a reader of our own."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import vmdkfiles as vf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmwctl.errors import OperationFailed
from vmwctl.images.inspector import inspect_file
from vmwctl.images.stream import (
    GD_AT_END,
    GRAIN,
    SECTOR,
    STRETCH,
    Compressor,
    StreamStats,
    data_extents,
    pick_compressor,
    stream_vmdk,
    stream_vmdk_runs,
    stream_vmdk_sequential,
)

# isal and libdeflate are dependencies (the default: libdeflate by stretch where it pays);
# isal alone, and zlib the fallback
COMPRESSORS = ["isal+libdeflate", "isal", "zlib"]


def write_vmdk(raw: Path, compressor: str = "isal", **options) -> tuple[Path, StreamStats]:
    out = raw.with_suffix(".vmdk")
    stats = StreamStats()
    with out.open("wb") as handle:
        for chunk in stream_vmdk(raw, compressor=pick_compressor(compressor), stats=stats,
                                 **options):
            handle.write(chunk)
    return out, stats


def qemu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True)


def sparse_file(path: Path, size: int, writes: list[tuple[int, bytes]]) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
        for offset, data in writes:
            handle.seek(offset)
            handle.write(data)
    return path


def qemu_made(tmp_path: Path, name: str, size: str, fill: list[tuple[str, str]]) -> Path:
    """A raw image made by qemu-img, with data written by qemu-io-free means (dd)."""
    path = tmp_path / f"{name}.raw"
    assert qemu("create", "-q", "-f", "raw", str(path), size).returncode == 0
    with path.open("r+b") as handle:
        for offset, length in fill:
            handle.seek(int(offset))
            handle.write(os.urandom(int(length)))
    return path


CASES = {
    "empty": ("64M", []),
    "random": ("8M", [("0", str(8 << 20))]),
    "half holes": ("64M", [(str(i << 20), str(512 << 10)) for i in range(0, 64, 2)]),
    "not a grain multiple": (str((3 << 20) + 3 * 512), [("0", str((3 << 20) + 3 * 512))]),
    "one sector": ("512", [("0", "512")]),
    "over 4 GiB": ("5G", [("0", "4096"), (str((4 << 30) + 12345), "70000"),
                          (str((5 << 30) - 4096), "4096")]),
}


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("case", CASES)
def test_qemu_oslo_and_our_inspector_accept_it(tmp_path: Path, case: str,
                                               compressor: str) -> None:
    size, fill = CASES[case]
    raw = qemu_made(tmp_path, case.replace(" ", "-"), size, fill)
    out, stats = write_vmdk(raw, compressor)
    check = qemu("check", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
    compare = qemu("compare", "-f", "raw", "-F", "vmdk", str(raw), str(out))
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert vf.oslo_verdict(str(out)) == "safe"
    report = inspect_file(out)
    assert report.acceptable, report.problems
    assert report.create_type == "streamOptimized"
    assert report.virtual_size == raw.stat().st_size
    assert stats.written == out.stat().st_size
    if case == "empty":  # qemu-img writes zeros into the first block: read, not written
        assert stats.grains == 0 and stats.to_read <= GRAIN


def test_holes_are_never_read(tmp_path: Path) -> None:
    raw = sparse_file(tmp_path / "sparse.raw", 1 << 30, [(5 << 20, b"x" * 100)])
    with raw.open("rb") as handle:
        extents = data_extents(handle.fileno(), raw.stat().st_size)
    assert sum(end - start for start, end in extents) <= 64 << 10  # one file-system block
    _, stats = write_vmdk(raw)
    assert stats.to_read == GRAIN and stats.grains == 1


def test_zero_grains_inside_data_are_left_out(tmp_path: Path) -> None:
    raw = tmp_path / "zeros.raw"
    raw.write_bytes(bytes(4 * GRAIN) + b"y" * GRAIN)  # written zeros, not holes
    _, stats = write_vmdk(raw)
    assert stats.read == 5 * GRAIN and stats.grains == 1


# ------------------------------------------------------------------ a reader of our own


def read_stream(data: bytes) -> tuple[dict, bytes]:
    """Walk a VMware-layout stream marker by marker; return the footer fields and the disk."""
    fields = struct.unpack_from("<4sIIQQQQIQQQB4sH", data, 0)
    assert fields[0] == b"KDMV" and fields[1] == 3 and fields[2] == 0x30001
    assert fields[9] == GD_AT_END  # gdOffset in the header
    capacity, grain_sectors, desc_offset, desc_size = fields[3], fields[4], fields[5], fields[6]
    disk = bytearray(capacity * SECTOR)
    position = (desc_offset + desc_size) * SECTOR
    tables: dict[int, int] = {}
    grains_at: dict[int, int] = {}
    while True:
        value, size = struct.unpack_from("<QI", data, position)
        if size:
            lba = value
            grains_at[position // SECTOR] = lba
            chunk = zlib.decompress(data[position + 12:position + 12 + size])
            assert len(chunk) <= grain_sectors * SECTOR
            disk[lba * SECTOR:lba * SECTOR + len(chunk)] = chunk
            position += -(-(12 + size) // SECTOR) * SECTOR
            continue
        kind = struct.unpack_from("<I", data, position + 12)[0]
        position += SECTOR
        if kind == 0:
            break
        if kind == 1:
            tables[position // SECTOR] = value
        if kind == 2:
            gd_offset = position // SECTOR
            directory = struct.unpack_from(f"<{-(-capacity // (grain_sectors * 512))}I", data,
                                           position)
        if kind == 3:
            footer = struct.unpack_from("<4sIIQQQQIQQQB4sH", data, position)
        position += value * SECTOR
    assert position == len(data)  # EOS is the last sector
    assert footer[9] == gd_offset and footer[3] == capacity
    referenced = set()
    for index, table_sector in enumerate(directory):  # the tables point at the grain markers
        if table_sector:
            assert table_sector in tables
            entries = struct.unpack_from("<512I", data, table_sector * SECTOR)
            for slot, sector in enumerate(entries):
                if sector:
                    assert grains_at[sector] == (index * 512 + slot) * grain_sectors
                    referenced.add(sector)
    assert referenced == set(grains_at)  # every grain is in a table, every entry a grain
    return {"capacity": capacity}, bytes(disk)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size_sectors=st.integers(1, 3 * 512 * 128 // 2),
       writes=st.lists(st.tuples(st.integers(0, 10 << 20), st.integers(1, 200_000),
                                 st.sampled_from([b"\0", b"a", b"random"])), max_size=8),
       compressor=st.sampled_from(COMPRESSORS))
def test_random_sparse_layouts_round_trip(tmp_path: Path, size_sectors: int, writes,
                                          compressor: str) -> None:
    size = size_sectors * SECTOR
    layout = []
    for offset, length, pattern in writes:
        offset %= size
        length = min(length, size - offset)
        data = os.urandom(length) if pattern == b"random" else pattern * length
        layout.append((offset, data))
    raw = sparse_file(tmp_path / f"r{os.getpid()}-{len(layout)}.raw", size, layout)
    out, stats = write_vmdk(raw, compressor)
    _, disk = read_stream(out.read_bytes())
    assert disk == raw.read_bytes()
    assert stats.written == out.stat().st_size


def test_grains_in_flight_are_bounded(tmp_path: Path) -> None:
    """Memory does not grow with the image: a slow consumer holds back the reading."""
    import threading
    import time

    calls = []
    lock = threading.Lock()

    def compress(data: bytes) -> bytes:
        with lock:
            calls.append(len(data))
        return zlib.compress(data, 1)

    raw = tmp_path / "big.raw"
    raw.write_bytes(os.urandom(16 * STRETCH * GRAIN))
    stream = stream_vmdk(raw, compressor=Compressor("counting", 1, compress), workers=2)
    next(stream)  # header and descriptor
    next(stream)  # the first grain
    time.sleep(0.2)  # the workers would run ahead now if nothing held them
    assert len(calls) <= (2 * 2 + 1) * STRETCH  # 2 stretches a worker, and the one written
    rest = b"".join(stream)
    assert len(calls) == 16 * STRETCH and rest


def test_the_stronger_compressor_takes_the_stretches_where_it_pays(tmp_path: Path) -> None:
    """The first grain of each stretch that is not zeros is compressed by both; the stronger
    compresses the rest of the stretch only where it won by STRONGER_GAIN."""
    import threading

    calls: dict[str, list[int]] = {"fast": [], "strong": []}
    lock = threading.Lock()

    def counted(name: str, level: int):
        def compress(data: bytes) -> bytes:
            with lock:
                calls[name].append(data[0])
            return zlib.compress(data, level)
        return compress

    pair = Compressor("pair", 0, counted("fast", 0),  # stored: the stronger wins on text
                      Compressor("strong", 6, counted("strong", 6)))
    text = b"".join(b"%d the quick brown fox " % i for i in range(4000))[:GRAIN]
    grains = [bytes([1]) + text[1:]] * STRETCH  # stretch 0: text, the stronger pays
    grains += [bytes(GRAIN)]  # stretch 1: a zero grain first, then random data: it does not
    grains += [bytes([2]) + os.urandom(GRAIN - 1) for _ in range(STRETCH - 1)]
    raw = tmp_path / "mixed.raw"
    raw.write_bytes(b"".join(grains))
    out = tmp_path / "mixed.vmdk"
    stats = StreamStats()
    with out.open("wb") as handle:
        for piece in stream_vmdk(raw, compressor=pair, stats=stats, workers=2):
            handle.write(piece)
    assert sorted(calls["strong"]) == [1] * STRETCH + [2]  # the probe of stretch 1
    assert sorted(calls["fast"]) == [1] + [2] * (STRETCH - 1)  # the probe of stretch 0
    assert stats.grains == 2 * STRETCH - 1
    assert stats.compressor == ("pair (level 0; strong level 6 on the stretches of 16 grains "
                                "where it gains 8%)")
    _, disk = read_stream(out.read_bytes())
    assert disk == raw.read_bytes()
    compare = qemu("compare", "-f", "raw", "-F", "vmdk", str(raw), str(out))
    assert compare.returncode == 0, compare.stdout + compare.stderr


def test_the_output_does_not_depend_on_how_the_source_is_read(tmp_path: Path) -> None:
    """From a file, from runs cut across the stretches, from a stream, with 1 or 3 threads:
    the same grains compressed the same way (only the descriptor's random CID differs)."""
    binary = Path(shutil.which("qemu-img") or "qemu-img").read_bytes()[:40 * GRAIN]  # 2.3 MB
    writes = [(0, binary), (50 * GRAIN, os.urandom(3 * GRAIN)), (70 * GRAIN + 512, binary)]
    size = 128 * GRAIN
    raw = sparse_file(tmp_path / "disk.raw", size, writes)
    data = raw.read_bytes()
    compressor = pick_compressor("isal+libdeflate")

    def body(pieces) -> bytes:
        whole = b"".join(pieces)
        desc_end = (1 + struct.unpack_from("<Q", whole, 36)[0]) * SECTOR  # header, descriptor
        return whole[desc_end:]

    by_file = body(stream_vmdk(raw, compressor=compressor, workers=1))
    assert body(stream_vmdk(raw, compressor=compressor, workers=3)) == by_file
    runs = [(start, data[start:start + 5 * GRAIN]) for start in range(0, size, 5 * GRAIN)
            if start not in range(55 * GRAIN, 70 * GRAIN, 5 * GRAIN)]  # 5-grain runs, a gap
    assert body(stream_vmdk_runs(runs, size, sum(len(r) for _, r in runs),
                                 compressor=compressor, workers=2)) == by_file
    chunks = (data[i:i + 100_000] for i in range(0, size, 100_000))
    assert body(stream_vmdk_sequential(chunks, size, compressor=compressor)) == by_file
    alone = body(stream_vmdk(raw, compressor=pick_compressor("isal"), workers=2))
    assert len(by_file) < len(alone)  # libdeflate took some stretches of the binary


def _sequential(raw: Path, out: Path, chunk: int, size: int | None = None) -> StreamStats:
    data = raw.read_bytes()
    stats = StreamStats()
    pieces = (data[i:i + chunk] for i in range(0, len(data), chunk))
    with out.open("wb") as handle:
        for piece in stream_vmdk_sequential(pieces, len(data) if size is None else size,
                                            adapter_type="lsiLogic", stats=stats):
            handle.write(piece)
    return stats


@pytest.mark.parametrize("chunk", [4096, 100_000, 1 << 20])
def test_the_sequential_writer_reads_a_stream_once(tmp_path: Path, chunk: int) -> None:
    # odd chunk sizes: grains straddle the reads; a zero run inside, a short last grain
    raw = sparse_file(tmp_path / "disk.raw", 3 * GRAIN * 512 + 7 * SECTOR,
                      [(0, os.urandom(GRAIN + 3 * SECTOR)), (GRAIN * 600, os.urandom(SECTOR)),
                       (3 * GRAIN * 512 + 6 * SECTOR, os.urandom(SECTOR))])
    out = tmp_path / "seq.vmdk"
    stats = _sequential(raw, out, chunk)
    assert stats.to_read == stats.read == raw.stat().st_size
    assert stats.grains == 4  # zero grains left out, as from a file
    assert qemu("compare", "-f", "raw", "-F", "vmdk", str(raw), str(out)).returncode == 0
    report = inspect_file(out)
    assert report.acceptable and report.create_type == "streamOptimized"
    assert report.vmware_adaptertype == "lsiLogic"
    by_file, _ = write_vmdk(raw, adapter_type="lsiLogic")
    assert out.stat().st_size == by_file.stat().st_size


@pytest.mark.parametrize("announced, message", [
    (GRAIN * 3, "the raw data ended after 131072 of the 196608 bytes announced"),
    (GRAIN, "the raw data runs past the 65536 bytes announced"),
])
def test_the_sequential_writer_refuses_a_stream_of_another_size(tmp_path: Path, announced: int,
                                                                message: str) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(os.urandom(2 * GRAIN))
    with pytest.raises(OperationFailed) as caught:
        _sequential(raw, tmp_path / "seq.vmdk", 4096, size=announced)
    assert caught.value.message == message
