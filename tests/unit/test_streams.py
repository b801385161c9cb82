"""vmwctl.common.streams.prefetched: order, errors, bounded read-ahead, early stop."""

from __future__ import annotations

import threading

import pytest

from vmwctl.common.streams import pieces, prefetched


def test_chunks_arrive_in_order() -> None:
    chunks = [bytes([i]) * 10 for i in range(50)]
    assert list(prefetched(iter(chunks), depth=2)) == chunks


def test_a_reader_error_is_raised_in_the_consumer() -> None:
    def broken():
        yield b"a"
        raise OSError("connection reset")

    stream = prefetched(broken())
    assert next(stream) == b"a"
    with pytest.raises(OSError, match="connection reset"):
        next(stream)


def test_reads_ahead_at_most_depth_chunks_and_stops_when_abandoned() -> None:
    produced = []
    release = threading.Event()

    def source():
        for i in range(1000):
            produced.append(i)
            yield b"x"
            if i == 0:
                release.wait(5)

    stream = prefetched(source(), depth=3)
    assert next(stream) == b"x"
    release.set()
    for _ in range(100):  # let the reader fill the queue
        threading.Event().wait(0.01)
        if len(produced) >= 5:
            break
    # one consumed, three queued, one held by the blocked reader
    assert len(produced) <= 1 + 3 + 1
    stream.close()
    threading.Event().wait(0.3)
    assert len(produced) <= 1 + 3 + 2


@pytest.mark.parametrize("length", [0, 1, 5, 6, 7, 12, 13])
def test_pieces_are_views_of_the_chunk_in_order(length: int) -> None:
    chunk = bytes(range(length))
    got = list(pieces(chunk, 6))
    assert b"".join(got) == chunk
    assert all(isinstance(piece, memoryview) and 0 < len(piece) <= 6 for piece in got)
    assert len(got) == -(-length // 6)
