"""A disk image read through qemu-nbd: its allocation map and its data, never a raw copy.

qemu-nbd stays the one reader of qcow2, vhd, vdi and foreign VMDKs. It serves
the image read-only (``--read-only``, the format named with ``--format``, never
probed) on a Unix socket in a private temporary directory (mode 0700), in
the foreground, as a child of vmwctl's main thread: it gets SIGTERM when
vmwctl dies (``PR_SET_PDEATHSIG``), runs in its own session (Ctrl-C reaches
vmwctl, which stops it), and exits by itself once vmwctl's connections
close. The socket and its directory are removed as soon as the connections
are open, so that not even a SIGKILL of vmwctl leaves them behind.

:func:`exported` gives an :class:`NbdImage`: its size, the extents that hold
data (``NBD_CMD_BLOCK_STATUS``, ``base:allocation``: what reads as zeros is
never read) and those extents read over several connections at once, in
order, with a bounded number of reads ahead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

from vmwctl.common.interrupts import deferred_signals
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.images.nbd import Connection, Export, ProtocolError

log = logging.getLogger(__name__)

QEMU_NBD = "qemu-nbd"
SOCKET = "nbd.sock"
CONNECTIONS = 4  # readers at once (qemu-nbd's --shared)
RUN = 2 << 20  # bytes per read request, at most
AHEAD = 3  # reads in flight per connection
STATUS_SPAN = 1 << 30  # bytes asked about per block status request
START_TIMEOUT = 30.0  # seconds for qemu-nbd to open the image and listen
STOP_TIMEOUT = 5.0  # seconds for it to exit once asked, before SIGKILL
_MAX_SUN_PATH = 100  # sockaddr_un's sun_path is 108 bytes with its NUL
PR_SET_PDEATHSIG = 1
_DEATH_WAIT = 1.0  # seconds for a qemu-nbd whose connection closed to be seen gone
_DISCONNECTED = ("Disconnect client, due to: ", "Failed to send reply: ")
# qemu-nbd allocates a bounce buffer per request; glibc gives one of RUN bytes its own mmap
# and returns it at once, so every request faulted in and zeroed fresh pages: half of
# qemu-nbd's CPU (bench/README.md, native_vmdk.py). Buffers from the heap, kept, instead.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 * RUN),
              "MALLOC_TRIM_THRESHOLD_": str(4 * RUN * CONNECTIONS * AHEAD)}


def binary() -> str:
    path = shutil.which(QEMU_NBD)
    if path is None:
        raise UsageError("qemu-nbd is not installed: apt-get install qemu-utils (or put "
                         "qemu-nbd on PATH)")
    return path


def arguments(source: str, fmt: str, socket_path: str,
              connections: int = CONNECTIONS) -> list[str]:
    """qemu-nbd's arguments: read-only, the format named, no caching of its own beyond the
    page cache, exiting when the last of ``connections`` clients leaves."""
    return ["--read-only", f"--format={fmt}", f"--shared={connections}",
            f"--socket={socket_path}", "--cache=writeback", "--aio=threads",
            os.path.abspath(source)]  # absolute: never a protocol name like 'nbd:...'


def command_line(source: str, fmt: str) -> str:
    """The command as a user would type it, for --dry-run and logs."""
    return shlex.join([QEMU_NBD, *arguments(source, fmt, f"TEMPDIR/{SOCKET}")])


class NbdImage:
    """An image exported by qemu-nbd, read over ``connections``."""

    def __init__(self, source: str, connections: list[Connection],
                 explain: Callable[[OperationFailed], OperationFailed] = lambda exc: exc
                 ) -> None:
        self.source = source
        self.connections = connections
        self.explain = explain  # a failed request as qemu-nbd tells it
        export = connections[0].export
        assert export is not None
        self.export: Export = export
        self.size = export.size
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[int, bytearray]]] = deque()

    def data_extents(self) -> list[tuple[int, int]]:
        """The [start, end) byte ranges that do not read as zeros, merged, ascending."""
        connection = self.connections[0]
        extents: list[tuple[int, int]] = []
        offset = 0
        while offset < self.size:
            span = min(self.size - offset, STATUS_SPAN)
            try:
                found = connection.block_status(offset, span)
            except OperationFailed as exc:
                raise self.explain(exc) from None
            for extent in found:
                if extent.zero:
                    continue
                if extents and extents[-1][1] == extent.offset:
                    extents[-1] = (extents[-1][0], extent.end)
                else:
                    extents.append((extent.offset, extent.end))
            offset = found[-1].end
        return extents

    def read(self, ranges: Iterator[tuple[int, int]] | list[tuple[int, int]]
             ) -> Iterator[tuple[int, bytearray]]:
        """Each (offset, length) of ``ranges`` read, in order: (offset, its bytes). The
        reads run on every connection at once, at most ``AHEAD`` per connection ahead of
        the caller."""
        free: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        for connection in self.connections:
            free.put(connection)

        def fetch(offset: int, length: int) -> tuple[int, bytearray]:
            connection = free.get()
            try:
                data = bytearray(length)
                connection.read_into(offset, memoryview(data))
                return offset, data
            finally:
                free.put(connection)

        limit = AHEAD * len(self.connections)
        self._pool = pool = ThreadPoolExecutor(len(self.connections),
                                               thread_name_prefix="vmwctl-nbd")
        pending = self._pending
        try:
            for offset, length in ranges:
                pending.append(pool.submit(fetch, offset, length))
                if len(pending) >= limit:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            self._stop_reads()

    def _result(self, future: Future[tuple[int, bytearray]]) -> tuple[int, bytearray]:
        try:
            return future.result()
        except OperationFailed as exc:
            raise self.explain(exc) from None

    def _stop_reads(self) -> None:
        """Cancel what has not started; break off what has (its thread then ends)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for future in self._pending:
            future.cancel()
        if any(not future.done() for future in self._pending):
            for connection in self.connections:
                connection.abort()
        self._pending.clear()
        pool.shutdown(wait=True)


def grain_runs(extents: list[tuple[int, int]], size: int, grain: int,
               run: int = RUN) -> list[tuple[int, int]]:
    """The (offset, length) reads that cover the grains the extents touch: grain-aligned,
    each at most ``run`` bytes (a multiple of ``grain``), clipped to ``size``."""
    run = max(grain, run - run % grain)
    runs: list[tuple[int, int]] = []
    for start, end in extents:
        first = start - start % grain
        last = min(-(-end // grain) * grain, size)
        if runs and runs[-1][0] + runs[-1][1] > first:  # a grain shared with the previous
            first = runs[-1][0] + runs[-1][1]
        while first < last:
            if runs and runs[-1][0] + runs[-1][1] == first and runs[-1][1] < run:
                offset, length = runs.pop()
            else:
                offset, length = first, 0
            take = min(run - length, last - first)
            runs.append((offset, length + take))
            first += take
    return runs


@contextlib.contextmanager
def exported(source: str, fmt: str, *, connections: int = CONNECTIONS) -> Iterator[NbdImage]:
    """``source`` served by qemu-nbd as ``fmt``, connected ``connections`` times.

    On leaving, however that happens, the reads stop, the connections close
    and qemu-nbd is gone (asked, then SIGTERM, then SIGKILL).
    """
    program = binary()
    directory: str | None = None
    process: subprocess.Popen[bytes] | None = None
    opened: list[Connection] = []
    image: NbdImage | None = None
    clean = False
    try:
        with deferred_signals() as stopper:  # made and known here, or not made
            directory = tempfile.mkdtemp(prefix="vmwctl-nbd-")  # 0700
        stopper.check()
        errors: IO[bytes] = open(os.path.join(directory, "stderr"), "w+b")  # noqa: SIM115
        with errors:
            path = os.path.join(directory, SOCKET)
            holder = None
            if len(path) > _MAX_SUN_PATH:  # a long TMPDIR: the directory through /proc
                holder = os.open(directory, os.O_PATH | os.O_DIRECTORY)
                path = f"/proc/self/fd/{holder}/{SOCKET}"  # the same number in qemu-nbd
            try:
                argv = [program, *arguments(source, fmt, path, connections)]
                log.info("running %s", shlex.join(argv))
                with deferred_signals() as stopper:  # its pid is kept, whatever comes
                    process = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=errors, start_new_session=True, env={**os.environ, **MALLOC_ENV},
                        pass_fds=() if holder is None else (holder,),
                        preexec_fn=_tied_to(os.getpid()))
                stopper.check()
                opened.extend(_connect(process, path, connections, errors, source))
            finally:
                if holder is not None:
                    os.close(holder)
            shutil.rmtree(directory, ignore_errors=True)  # the socket: the clients are in
            directory = None
            server = process
            image = NbdImage(source, opened, lambda exc: _with_reason(exc, server, errors))
            yield image  # a failed read is explained where it fails; what else fails here
            # (Glance, during an upload) is not qemu-nbd's doing
            clean = True
    finally:
        if image is not None:
            image._stop_reads()
        for connection in opened:
            connection.close()
        if process is not None:
            _stop(process, gently=clean)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _tied_to(parent: int) -> Callable[[], None]:
    """preexec_fn: SIGTERM to the child when the thread that started it (vmwctl's main
    thread) ends, however; an exit at once if that happened already."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def tie() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return tie


def _connect(process: subprocess.Popen[bytes], path: str, count: int,
             errors: IO[bytes], source: str) -> list[Connection]:
    """``count`` connections, once qemu-nbd listens; OperationFailed if it exits first."""
    connections: list[Connection] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.002
        while not connections:
            if process.poll() is not None:
                raise OperationFailed(f"qemu-nbd could not serve {source}: "
                                      f"{_line(errors)}")
            try:
                connections.append(Connection.unix(path, timeout=START_TIMEOUT))
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise OperationFailed(f"qemu-nbd did not listen within "
                                          f"{START_TIMEOUT:.0f} s for {source}") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        try:
            while len(connections) < count:
                connections.append(Connection.unix(path, timeout=START_TIMEOUT))
            for connection in connections:
                connection.handshake()
        except (ProtocolError, OSError):  # the socket listens before the image is open
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_DEATH_WAIT)
            if process.returncode is None:
                raise
            raise OperationFailed(f"qemu-nbd could not serve {source}: "
                                  f"{_line(errors)}") from None
    except BaseException:
        for connection in connections:
            connection.close()
        raise
    return connections


def _stop(process: subprocess.Popen[bytes], *, gently: bool) -> None:
    """Wait for qemu-nbd to leave (it does once its clients are gone), else SIGTERM, then
    SIGKILL; always reaped."""
    if gently:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    for send in (process.terminate, process.kill):
        if process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            send()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    process.wait()


def _with_reason(exc: OperationFailed, process: subprocess.Popen[bytes],
                 errors: IO[bytes]) -> OperationFailed:
    """A failed request (read or block status) as qemu-nbd tells it: killed by a signal, or
    its stderr (it drops the connection when a read of the image fails); else as it is."""
    if isinstance(exc, ProtocolError):  # the connection closed: qemu-nbd may be dying
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_DEATH_WAIT)
        if process.returncode is not None and process.returncode < 0:
            return OperationFailed(f"qemu-nbd was killed by {_signal_name(-process.returncode)}")
    said = _line(errors, first=True)  # the cause; what follows is about the others
    if said == "no error message":
        return exc
    for prefix in _DISCONNECTED:
        said = said.removeprefix(prefix)
    return OperationFailed(f"qemu-nbd failed: {said}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _line(errors: IO[bytes], *, first: bool = False) -> str:
    errors.flush()
    errors.seek(0)
    lines = [line.strip() for line in errors.read().decode("utf-8", "replace").splitlines()
             if line.strip()]
    errors.seek(0, os.SEEK_END)
    if not lines:
        return "no error message"
    return lines[0 if first else -1].removeprefix("qemu-nbd: ")

