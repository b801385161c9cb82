"""A native streamOptimized VMDK writer: sparse reads, parallel compression, no seeking.

VMware's layout for streams (what OVF exports use, and the only one that can
be written into a pipe): the header says the grain directory is at the end
(GD_AT_END); each non-zero 64 KiB grain follows as a marker (its LBA and
compressed size) and a zlib stream; after the grains of each 32 MiB region
comes a GT marker and that grain table; then a GD marker and the directory, a
footer marker and a copy of the header with the real directory offset, and
an end-of-stream marker. Version 3 and flags 0x30001, as ESXi expects.

The source is read sparsely (SEEK_DATA/SEEK_HOLE; holes and zero grains are
never compressed nor written) and grains are compressed by a pool of threads
(zlib releases the GIL, and so do isal, libdeflate's binding and zlib-ng), a
stretch of 16 grains (1 MiB of the disk) per job. The fastest library
installed is used: isal level 2, and where libdeflate is installed too, its
level 2 for the stretches where it pays: the first grain of each stretch is
compressed by both, and when libdeflate's is 8 % smaller or more, it
compresses the rest of the stretch (libdeflate's deeper search for matches
gains 7 % on average over isal, at 2.7x its CPU; choosing by stretch puts
that CPU where the gain is). The choice depends only on the data, so the
output is the same whatever the threads or the way the source is read. All
write standard zlib streams, which every VMDK reader expects. Memory is
bounded by the stretches in flight.
"""

from __future__ import annotations

import errno
import os
import struct
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from vmwctl.errors import OperationFailed

SECTOR = 512
GRAIN_SECTORS = 128
GRAIN = GRAIN_SECTORS * SECTOR  # 64 KiB
GTES = 512  # grain table entries: a table covers 32 MiB
GD_AT_END = 0xFFFFFFFFFFFFFFFF
FLAGS = 0x00030001  # newline test valid, compressed grains, markers
VERSION = 3
MARKER_EOS, MARKER_GT, MARKER_GD, MARKER_FOOTER = 0, 1, 2, 3
_HEADER = struct.Struct("<4sIIQQQQIQQQB4sH")
_ZERO_GRAIN = bytes(GRAIN)
T = TypeVar("T")
# ddb.adapterType as a VMDK descriptor writes it; the geometry qemu computes for it
DESCRIPTOR_ADAPTERS = {"ide": "ide", "lsiLogic": "lsilogic", "busLogic": "buslogic"}


STRETCH = 16  # grains per job, sharing one choice of compressor: 1 MiB of the disk
STRONGER_GAIN = 0.08  # the stronger compressor takes a stretch whose probe it shrinks this much


@dataclass(frozen=True)
class Compressor:
    name: str  # isal | isal+libdeflate | zlib-ng | zlib
    level: int
    compress: Callable[[bytes | memoryview], bytes]
    # tried with ``compress`` on the first grain of each stretch; compresses the rest of the
    # stretch when its output is STRONGER_GAIN smaller
    stronger: Compressor | None = None

    def describe(self) -> str:
        if self.stronger is None:
            return f"{self.name} (level {self.level})"
        return (f"{self.name} (level {self.level}; {self.stronger.name} level "
                f"{self.stronger.level} on the stretches of {STRETCH} grains where it gains "
                f"{STRONGER_GAIN:.0%})")


def pick_compressor(prefer: str | None = None) -> Compressor:
    """The fastest zlib-stream compressor installed: isal with libdeflate where it pays, isal
    alone, zlib-ng, else the stdlib's.

    On the benchmark's images (bench/native_vmdk.py), isal level 2 alone gives
    1.09-1.10x qemu-img's output (zlib 6); with libdeflate level 2 on the
    stretches where it gains, 1.06-1.07x.
    """
    candidates = [prefer] if prefer else ["isal+libdeflate", "isal", "zlib-ng", "zlib"]
    for name in candidates:
        if name == "isal+libdeflate":
            try:
                import deflate
                from isal import isal_zlib
            except ImportError:
                continue
            return Compressor("isal+libdeflate", 2, lambda data: isal_zlib.compress(data, 2),
                              Compressor("libdeflate", 2,
                                         lambda data: bytes(deflate.zlib_compress(data, 2))))
        if name == "isal":
            try:
                from isal import isal_zlib
            except ImportError:
                continue
            return Compressor("isal", 2, lambda data: isal_zlib.compress(data, 2))
        if name == "zlib-ng":
            try:
                from zlib_ng import zlib_ng
            except ImportError:
                continue
            return Compressor("zlib-ng", 6, lambda data: zlib_ng.compress(data, 6))
        if name == "zlib":
            import zlib

            return Compressor("zlib", 6, lambda data: zlib.compress(data, 6))
    raise ValueError(f"compressor {prefer!r} is not installed")


def data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The [start, end) byte ranges of ``fd`` that hold data (SEEK_DATA/SEEK_HOLE).

    A file system without hole reporting gives one range, the whole file.
    """
    extents = []
    offset = 0
    try:
        while offset < size:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if start >= size:
                break
            extents.append((start, end))
            offset = end
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data after offset
            return extents
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return [(0, size)] if size else []
        raise
    return extents


def grains_of(extents: list[tuple[int, int]]) -> list[int]:
    """The indexes of the grains the extents touch, ascending, each once."""
    grains: list[int] = []
    for start, end in extents:
        first, last = start // GRAIN, (end - 1) // GRAIN
        if grains and grains[-1] >= first:
            first = grains[-1] + 1
        grains.extend(range(first, last + 1))
    return grains


def header(capacity: int, descriptor_sectors: int, gd_offset: int) -> bytes:
    packed = _HEADER.pack(b"KDMV", VERSION, FLAGS, capacity, GRAIN_SECTORS, 1,
                          descriptor_sectors, GTES, 0, gd_offset, 1 + descriptor_sectors, 0,
                          b"\n \r\n", 1)
    return packed.ljust(SECTOR, b"\0")


def marker(value: int, kind: int) -> bytes:
    return struct.pack("<QII", value, 0, kind).ljust(SECTOR, b"\0")


def descriptor(capacity: int, adapter_type: str, extent_name: str, cid: int | None = None) -> bytes:
    """The embedded descriptor, as qemu-img writes one for streamOptimized."""
    adapter = DESCRIPTOR_ADAPTERS.get(adapter_type, adapter_type)
    heads = 16 if adapter == "ide" else 255
    cylinders = min(capacity // (heads * 63), 16383)
    cid = uuid.uuid4().int & 0xFFFFFFFE if cid is None else cid
    text = (f"# Disk DescriptorFile\nversion=1\nCID={cid:08x}\nparentCID=ffffffff\n"
            f'createType="streamOptimized"\n\n# Extent description\n'
            f'RW {capacity} SPARSE "{extent_name}"\n\n# The Disk Data Base\n#DDB\n\n'
            f'ddb.virtualHWVersion = "4"\nddb.geometry.cylinders = "{cylinders}"\n'
            f'ddb.geometry.heads = "{heads}"\nddb.geometry.sectors = "63"\n'
            f'ddb.adapterType = "{adapter}"\n')
    return text.encode("ascii")


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % SECTOR)


@dataclass
class StreamStats:
    """Filled in while the stream is written."""

    virtual_size: int = 0
    to_read: int = 0  # bytes of the grains that hold data (the progress total)
    read: int = 0
    grains: int = 0  # grains written (non-zero)
    written: int = 0  # bytes of output
    compressor: str = ""


class _Layout:
    """The output's bookkeeping: where we are, the grain table being filled, the directory."""

    def __init__(self, capacity: int, stats: StreamStats) -> None:
        self.position = 0  # sectors written
        self.stats = stats
        self.directory = [0] * -(-max(capacity, 1) // (GRAIN_SECTORS * GTES))
        self.table = [0] * GTES
        self.table_index: int | None = None

    def emit(self, data: bytes) -> bytes:
        self.position += len(data) // SECTOR
        self.stats.written += len(data)
        return data

    def flush_table(self) -> Iterator[bytes]:
        """The finished grain table, after its region's grains (none when it stayed empty)."""
        if self.table_index is not None and any(self.table):
            yield self.emit(marker(GTES * 4 // SECTOR, MARKER_GT))
            self.directory[self.table_index] = self.position
            yield self.emit(struct.pack(f"<{GTES}I", *self.table))
        self.table, self.table_index = [0] * GTES, None

    def grain(self, index: int, compressed: bytes) -> Iterator[bytes]:
        if self.position >= 1 << 32:
            raise OperationFailed("the streamOptimized file would pass 2 TiB, beyond what its "
                                  "32-bit grain tables address")
        if self.table_index is not None and index // GTES != self.table_index:
            yield from self.flush_table()
        self.table_index = index // GTES
        self.table[index % GTES] = self.position
        yield self.emit(_pad(struct.pack("<QI", index * GRAIN_SECTORS, len(compressed))
                             + compressed))


def stream_vmdk(source: Path, *, adapter_type: str = "ide", extent_name: str = "disk.vmdk",
                workers: int | None = None, compressor: Compressor | None = None,
                progress: Callable[[int], None] | None = None,
                stats: StreamStats | None = None) -> Iterator[bytes]:
    """The streamOptimized VMDK of the raw file ``source``, in pieces, in order.

    At most ``workers * 2`` stretches of grains are in flight (read, being
    compressed, or waiting to be written), so memory does not depend on the
    image's size.
    """
    compressor = compressor or pick_compressor()
    fd = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        grains = grains_of(data_extents(fd, size))

        def work(stretch: list[tuple[int, None]]) -> list[tuple[int, bytes | None, int]]:
            return _deflate(((index, os.pread(fd, min(GRAIN, size - index * GRAIN),
                                              index * GRAIN)) for index, _ in stretch),
                            compressor)

        yield from _stream(size, sum(min(GRAIN, size - g * GRAIN) for g in grains),
                           (partial(work, stretch)
                            for stretch in _by_stretch((index, None) for index in grains)),
                           adapter_type=adapter_type,
                           extent_name=extent_name, workers=workers, compressor=compressor,
                           progress=progress, stats=stats)
    finally:
        os.close(fd)


def stream_vmdk_sequential(chunks: Iterable[bytes], size: int, *, adapter_type: str = "ide",
                           extent_name: str = "disk.vmdk", workers: int | None = None,
                           compressor: Compressor | None = None,
                           progress: Callable[[int], None] | None = None,
                           stats: StreamStats | None = None) -> Iterator[bytes]:
    """The streamOptimized VMDK of ``size`` bytes of raw data read once, in order (an HTTP
    response: no seeking, no SEEK_DATA).

    The trade-off against :func:`stream_vmdk`: every byte is read, holes
    included (a file's holes are skipped unread); zero grains are still
    neither compressed nor written. Reading happens in the caller's thread,
    compression in the pool, memory stays bounded by the grains in flight.
    OperationFailed when the data ends before ``size`` bytes or runs past it.
    """
    compressor = compressor or pick_compressor()

    def grains() -> Iterator[tuple[int, bytes]]:
        buffer = bytearray()
        index = 0
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > size:
                raise OperationFailed(f"the raw data runs past the {size} bytes announced")
            buffer += chunk
            while len(buffer) >= GRAIN:
                yield index, bytes(buffer[:GRAIN])
                del buffer[:GRAIN]
                index += 1
        if total != size:
            raise OperationFailed(f"the raw data ended after {total} of the {size} bytes "
                                  "announced")
        if buffer:
            yield index, bytes(buffer)

    yield from _stream(size, size, (partial(_deflate, stretch, compressor)
                                    for stretch in _by_stretch(grains())),
                       adapter_type=adapter_type, extent_name=extent_name,
                       workers=workers, compressor=compressor, progress=progress, stats=stats)


def stream_vmdk_runs(runs: Iterable[tuple[int, bytes | bytearray]], size: int, to_read: int,
                     *, adapter_type: str = "ide", extent_name: str = "disk.vmdk",
                     workers: int | None = None, compressor: Compressor | None = None,
                     progress: Callable[[int], None] | None = None,
                     stats: StreamStats | None = None) -> Iterator[bytes]:
    """The streamOptimized VMDK of ``size`` bytes given as runs of data: (offset, bytes),
    each offset on a grain boundary, ascending, not overlapping; what no run covers reads
    as zeros and is not written (an NBD export read where its allocation map says data).

    ``to_read`` is the runs' total length (the progress total). Zero grains
    within a run are neither compressed nor written.
    """
    compressor = compressor or pick_compressor()

    def grains() -> Iterator[tuple[int, memoryview]]:
        for offset, data in runs:
            if offset % GRAIN or offset + len(data) > size:
                raise OperationFailed(f"a run of {len(data)} bytes at {offset} is not "
                                      f"grain-aligned within the {size} bytes")
            view = memoryview(data)
            first = offset // GRAIN
            for start in range(0, len(data), GRAIN):  # views, not copies: the run's buffer
                yield first + start // GRAIN, view[start:start + GRAIN]  # is never reused

    yield from _stream(size, to_read, (partial(_deflate, stretch, compressor)
                                       for stretch in _by_stretch(grains())),
                       adapter_type=adapter_type,
                       extent_name=extent_name, workers=workers, compressor=compressor,
                       progress=progress, stats=stats)


def _by_stretch(grains: Iterable[tuple[int, T]]) -> Iterator[list[tuple[int, T]]]:
    """The grains (index, anything), ascending, grouped by stretch: the jobs."""
    stretch: list[tuple[int, T]] = []
    for grain in grains:
        if stretch and grain[0] // STRETCH != stretch[0][0] // STRETCH:
            yield stretch
            stretch = []
        stretch.append(grain)
    if stretch:
        yield stretch


def _deflate(grains: Iterable[tuple[int, bytes | memoryview]],
             compressor: Compressor) -> list[tuple[int, bytes | None, int]]:
    """The grains of one stretch: (index, None when it holds only zeros else its compressed
    bytes, its length). With a stronger compressor, the first grain that is not zeros is
    compressed by both, and the one that won by STRONGER_GAIN compresses the rest."""
    done: list[tuple[int, bytes | None, int]] = []
    stronger = compressor.stronger
    chosen = compressor if stronger is None else None
    for index, data in grains:
        length = len(data)
        if length % SECTOR:
            data = bytes(data) + bytes(-length % SECTOR)  # the last grain, to whole sectors
        if _ZERO_GRAIN.startswith(data):  # a memcmp, for a view too (== compares items)
            done.append((index, None, length))
        elif chosen is not None:
            done.append((index, chosen.compress(data), length))
        elif stronger is not None:
            fast, strong = compressor.compress(data), stronger.compress(data)
            chosen = stronger if len(strong) <= len(fast) * (1 - STRONGER_GAIN) else compressor
            done.append((index, strong if len(strong) < len(fast) else fast, length))
    return done


def _stream(size: int, to_read: int,
            jobs: Iterable[Callable[[], list[tuple[int, bytes | None, int]]]],
            *, adapter_type: str, extent_name: str, workers: int | None,
            compressor: Compressor, progress: Callable[[int], None] | None,
            stats: StreamStats | None) -> Iterator[bytes]:
    """Header and descriptor, the grains the jobs give (run in a pool, written in order),
    the grain tables, the directory, the footer."""
    stats = stats if stats is not None else StreamStats()
    stats.compressor = compressor.describe()
    workers = workers or max(1, os.cpu_count() or 1)
    capacity = -(-size // SECTOR)
    stats.virtual_size = size
    stats.to_read = to_read
    text = descriptor(capacity, adapter_type, extent_name)
    desc_sectors = max(1, -(-len(text) // SECTOR))
    layout = _Layout(capacity, stats)
    yield layout.emit(header(capacity, desc_sectors, GD_AT_END) + _pad(text))

    in_flight: deque[Future[list[tuple[int, bytes | None, int]]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vmwctl-deflate") as pool:
        try:
            for job in jobs:
                in_flight.append(pool.submit(job))
                if len(in_flight) >= workers * 2:
                    yield from _written(in_flight.popleft().result(), layout, progress)
            while in_flight:
                yield from _written(in_flight.popleft().result(), layout, progress)
        finally:
            for future in in_flight:
                future.cancel()
    yield from layout.flush_table()
    gd_bytes = _pad(struct.pack(f"<{len(layout.directory)}I", *layout.directory))
    yield layout.emit(marker(len(gd_bytes) // SECTOR, MARKER_GD))
    gd_offset = layout.position
    yield layout.emit(gd_bytes)
    yield layout.emit(marker(1, MARKER_FOOTER) + header(capacity, desc_sectors, gd_offset)
                      + marker(0, MARKER_EOS))


def _written(done: list[tuple[int, bytes | None, int]], layout: _Layout,
             progress: Callable[[int], None] | None) -> Iterator[bytes]:
    length = sum(grain[2] for grain in done)
    layout.stats.read += length
    if progress is not None:
        progress(length)
    for index, compressed, _ in done:
        if compressed is not None:
            layout.stats.grains += 1
            yield from layout.grain(index, compressed)
