"""Files written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vmwctl.common.interrupts import deferred_signals


def write_atomically(path: Path, data: str | bytes, mode: int) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never a
    part: a temporary file in the same directory (hidden, ``.NAME.XXXX.tmp``, so that
    readers of ``*.prom``, ``*.yaml`` or ``*.vib`` skip it), with ``mode``, flushed to disk,
    then renamed over ``path``, and the rename itself flushed. The temporary file is removed
    when anything fails (the OSError, or the interruption, goes on)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        os.fchmod(descriptor, mode)
        if isinstance(data, str):
            handle = os.fdopen(descriptor, "w", encoding="utf-8")
        else:
            handle = os.fdopen(descriptor, "wb")
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename, on disk
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextlib.contextmanager
def work_directory(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A new private directory (``tempfile.mkdtemp``, mode 0700) in ``parent`` (None:
    TMPDIR), removed with everything in it when the block is left, however.

    A Ctrl-C or SIGTERM that comes while the directory is being made waits until the
    block that removes it is entered: no moment leaves it behind."""
    made: str | None = None
    try:
        with deferred_signals() as stopper:
            made = tempfile.mkdtemp(prefix=prefix, dir=parent)
        stopper.check()
        yield Path(made)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
