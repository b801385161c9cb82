"""A digest computed beside a stream, in a thread of its own, in bounded memory."""

from __future__ import annotations

import queue
import threading
from typing import Any

DEPTH = 8  # chunks waiting to be hashed: 8 MiB of Glance's 1 MiB chunks


class HashBeside:
    """Hashes the chunks given to :meth:`add`, in order, in a thread of its own.

    hashlib releases the GIL on buffers over 2047 bytes, so the digest is
    computed on another core while the caller reads and sends the same
    chunks. At most ``depth`` chunks wait: :meth:`add` blocks when the hash
    falls that far behind, so memory stays bounded and a slow hash slows the
    stream down instead of piling chunks up. The chunks must not change after
    they are added (bytes, or views of buffers never reused). :meth:`close`
    (also on the way out of a ``with`` block) stops the thread when the
    stream ends early.
    """

    def __init__(self, hasher: Any, *, depth: int = DEPTH) -> None:
        self.hasher = hasher
        self.waiting: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._hash, name="vmwctl-hash", daemon=True)
        self.thread.start()

    def _hash(self) -> None:
        while (chunk := self.waiting.get()) is not None:
            if self.stopped.is_set() or self.failure is not None:
                continue  # drained, so that add() and close() never wait for long
            try:
                self.hasher.update(chunk)
            except BaseException as exc:  # raised to the caller by hexdigest()
                self.failure = exc

    def add(self, chunk: bytes | memoryview) -> None:
        """Queue ``chunk`` for hashing; waits while ``depth`` chunks are queued already."""
        if self.stopped.is_set():
            raise RuntimeError("add() after hexdigest() or close()")
        self.waiting.put(chunk)

    def hexdigest(self) -> str:
        """The digest of every chunk added, once the thread has hashed them all."""
        if not self.stopped.is_set():
            self.waiting.put(None)
            self.thread.join()
            self.stopped.set()
        if self.failure is not None:
            raise self.failure
        return str(self.hasher.hexdigest())

    def close(self) -> None:
        """Stop hashing (what is queued is dropped); nothing to do after hexdigest()."""
        if self.thread.is_alive() and not self.stopped.is_set():
            self.stopped.set()
            self.waiting.put(None)
            self.thread.join()

    def __enter__(self) -> HashBeside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
