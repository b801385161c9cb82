"""Hashing beside a stream (vmwctl.common.hashing) and cache seed's verified stream."""

from __future__ import annotations

import hashlib
import threading

import pytest

from vmwctl.cache.seed import SeedSource, VerifiedStream
from vmwctl.common.hashing import HashBeside
from vmwctl.errors import OperationFailed


class Gated:
    """A hasher whose update waits for ``gate``: the hash falls behind on purpose."""

    def __init__(self) -> None:
        self.inner = hashlib.sha512()
        self.gate = threading.Event()
        self.started = threading.Event()
        self.updates = 0

    def update(self, data: bytes) -> None:
        self.started.set()
        self.gate.wait(10)
        self.inner.update(data)
        self.updates += 1

    def hexdigest(self) -> str:
        return self.inner.hexdigest()


def test_the_digest_is_that_of_every_chunk_in_order() -> None:
    chunks = [bytes([i]) * (3000 + i) for i in range(40)]
    with HashBeside(hashlib.sha512(), depth=3) as beside:
        for chunk in chunks:
            beside.add(chunk)
        assert beside.hexdigest() == hashlib.sha512(b"".join(chunks)).hexdigest()
    assert not beside.thread.is_alive()


def test_adding_waits_while_depth_chunks_are_queued() -> None:
    hasher = Gated()
    beside = HashBeside(hasher, depth=2)
    added = []

    def feed() -> None:
        for i in range(10):
            beside.add(bytes(4096))
            added.append(i)

    feeder = threading.Thread(target=feed)
    feeder.start()
    assert hasher.started.wait(10)  # one chunk in update(), held there
    for _ in range(1000):
        if len(added) >= 3:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # room for a fourth, were the queue unbounded
    assert feeder.is_alive() and len(added) == 1 + 2  # that one, then two queued
    hasher.gate.set()
    feeder.join(10)
    assert len(added) == 10
    assert beside.hexdigest() == hashlib.sha512(bytes(4096 * 10)).hexdigest()


def test_close_stops_the_thread_and_drops_what_is_queued() -> None:
    hasher = Gated()
    beside = HashBeside(hasher, depth=4)
    for _ in range(4):
        beside.add(b"x" * 4096)
    assert hasher.started.wait(10)
    hasher.gate.set()
    beside.close()
    assert not beside.thread.is_alive()
    assert hasher.updates <= 4
    with pytest.raises(RuntimeError):
        beside.add(b"y")


def test_a_failing_hasher_is_raised_by_hexdigest() -> None:
    class Broken:
        def update(self, data: bytes) -> None:
            raise MemoryError("no room")

    beside = HashBeside(Broken(), depth=1)
    for _ in range(5):  # never stuck behind the failure
        beside.add(b"z" * 4096)
    with pytest.raises(MemoryError, match="no room"):
        beside.hexdigest()


def source(data: bytes, *, size: int | None = None, digest: str | None = None) -> SeedSource:
    return SeedSource("6f1e0a47-9c43-4bbb-9d2a-3a3d3c1f0b5e", "image", len(data)
                      if size is None else size, "iso", "", "lsiLogic", "x.iso", "sha512",
                      hashlib.sha512(data).hexdigest() if digest is None else digest)


DATA = [bytes([i]) * 5000 for i in range(7)]


def test_a_verified_stream_gives_every_chunk_and_counts_them() -> None:
    stream = VerifiedStream(iter(DATA), source(b"".join(DATA)))
    assert list(stream) == DATA
    assert stream.received == sum(map(len, DATA))


@pytest.mark.parametrize("change", ["hash", "size"])
def test_a_difference_is_raised_before_the_last_chunk_goes(change: str) -> None:
    """The last chunk is held back until the size and the hash are checked: an image that
    differs from its record never reaches the datastore whole."""
    data = b"".join(DATA)
    record = source(data, digest=hashlib.sha512(b"other").hexdigest()) if change == "hash" \
        else source(data, size=len(data) + 1)
    given = []
    with pytest.raises(OperationFailed) as failed:
        for chunk in VerifiedStream(iter(DATA), record):
            given.append(chunk)
    assert given == DATA[:-1]
    assert ("does not match its sha512" if change == "hash" else
            f"sent {len(data)} bytes") in str(failed.value)


def test_without_a_hash_in_the_record_the_size_is_checked() -> None:
    data = b"".join(DATA)
    record = source(data)
    record.hash_value = None
    assert list(VerifiedStream(iter(DATA), record)) == DATA
    record.size += 1
    with pytest.raises(OperationFailed, match="its record says"):
        list(VerifiedStream(iter(DATA), record))


def test_a_stream_abandoned_midway_stops_its_hash_thread() -> None:
    before = {t for t in threading.enumerate() if t.name == "vmwctl-hash"}
    stream = iter(VerifiedStream(iter(DATA), source(b"".join(DATA))))
    next(stream)
    next(stream)
    stream.close()  # what the sending does on an error or a Ctrl-C
    assert {t for t in threading.enumerate() if t.name == "vmwctl-hash"} == before
