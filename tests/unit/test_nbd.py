"""The NBD client's reply parser: structured read replies, block status, errors, the
handshake; what breaks the protocol is a ProtocolError, never another exception.

The server's side is bytes built here (the client reads them from a buffer);
tests/unit/test_convert.py and tests/reliability/test_local_faults.py run it
against the real qemu-nbd.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmwctl.images import nbd
from vmwctl.images.nbd import Connection, Export, Extent, ProtocolError, ServerError

SIZE = 1 << 20


def connection(server: bytes, *, context: int | None = 7) -> tuple[Connection, list[bytes]]:
    """A connection in transmission whose server has sent ``server``; what the client
    sends is collected."""
    sent: list[bytes] = []
    conn = Connection(io.BytesIO(server).readinto, sent.append)
    conn.export = Export(SIZE, 1)
    conn.context = context
    return conn, sent


def chunk(kind: int, payload: bytes, *, cookie: int = 1, done: bool = False) -> bytes:
    return struct.pack(">IHHQI", nbd.STRUCTURED_REPLY_MAGIC, nbd.REPLY_FLAG_DONE if done else 0,
                       kind, cookie, len(payload)) + payload


def data_chunk(offset: int, data: bytes, **kw: object) -> bytes:
    return chunk(nbd.REPLY_OFFSET_DATA, struct.pack(">Q", offset) + data, **kw)  # type: ignore[arg-type]


def hole_chunk(offset: int, size: int, **kw: object) -> bytes:
    return chunk(nbd.REPLY_OFFSET_HOLE, struct.pack(">QI", offset, size), **kw)  # type: ignore[arg-type]


def error_chunk(error: int, message: bytes, offset: int | None = None, **kw: object) -> bytes:
    kind = nbd.REPLY_ERROR if offset is None else nbd.REPLY_ERROR_OFFSET
    tail = b"" if offset is None else struct.pack(">Q", offset)
    return chunk(kind, struct.pack(">IH", error, len(message)) + message + tail, **kw)  # type: ignore[arg-type]


@st.composite
def read_replies(draw: st.DrawFn) -> tuple[int, bytes, bytes]:
    """A read request (offset, expected bytes) and a valid structured reply to it: the
    range cut into data and hole pieces, sent in any order, the last chunk DONE (or an
    empty NONE chunk after them)."""
    offset = draw(st.integers(0, SIZE - 1))
    length = draw(st.integers(1, min(8192, SIZE - offset)))
    cuts = sorted(set(draw(st.lists(st.integers(1, length - 1), max_size=6))
                      if length > 1 else []))
    bounds = [0, *cuts, length]
    pieces = []
    expected = bytearray(length)
    for start, end in itertools.pairwise(bounds):
        if draw(st.booleans()):
            data = draw(st.binary(min_size=end - start, max_size=end - start))
            expected[start:end] = data
            pieces.append(("data", offset + start, data))
        else:
            pieces.append(("hole", offset + start, end - start))
    order = draw(st.permutations(pieces))
    none_last = draw(st.booleans())
    stream = b""
    for n, (kind, at, what) in enumerate(order):
        done = n == len(order) - 1 and not none_last
        stream += (data_chunk(at, what, done=done) if kind == "data"  # type: ignore[arg-type]
                   else hole_chunk(at, what, done=done))  # type: ignore[arg-type]
    if none_last:
        stream += chunk(nbd.REPLY_NONE, b"", done=True)
    return offset, bytes(expected), stream


@given(read_replies())
def test_structured_read_replies_in_any_order_fill_the_request(reply) -> None:
    offset, expected, stream = reply
    conn, sent = connection(stream)
    buffer = bytearray(b"\xff" * len(expected))  # holes must be written as zeros
    conn.read_into(offset, memoryview(buffer))
    assert bytes(buffer) == expected
    magic, flags, kind, cookie, at, length = struct.unpack(">IHHQQI", sent[0])
    assert (magic, flags, kind, cookie, at, length) == (nbd.REQUEST_MAGIC, 0, nbd.CMD_READ, 1,
                                                        offset, len(expected))


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(read_replies(), st.data())
def test_a_damaged_read_reply_is_a_protocol_error(reply, data) -> None:
    """Any byte changed, or the stream cut short: the data, or one clear error."""
    offset, expected, stream = reply
    if data.draw(st.booleans()):
        stream = stream[:data.draw(st.integers(0, len(stream) - 1))]
    else:
        at = data.draw(st.integers(0, len(stream) - 1))
        stream = stream[:at] + bytes([stream[at] ^ data.draw(st.integers(1, 255))]) \
            + stream[at + 1:]
    conn, _ = connection(stream)
    buffer = bytearray(len(expected))
    try:
        conn.read_into(offset, memoryview(buffer))
    except ProtocolError as exc:
        assert exc.message.startswith("qemu-nbd's reply is not valid NBD: ")
        assert "\n" not in exc.message
        assert conn.broken
    except ServerError as exc:  # a type byte turned into an error chunk's
        assert exc.message.startswith("qemu-nbd could not ")
    # else: a change in a data byte is data (the protocol has no checksum)


@given(st.binary(max_size=40))
def test_random_chunk_headers(data: bytes) -> None:
    try:
        header = nbd.parse_chunk_header(data)
    except ProtocolError:
        return
    assert len(data) == 20 and data[:4] == b"\x66\x8e\x33\xef"
    assert header.flags in (0, 1)


@given(st.integers(0, SIZE), st.integers(1, 1 << 31),
       st.lists(st.tuples(st.integers(1, 1 << 20), st.integers(0, 3)), min_size=1,
                max_size=20))
def test_block_status_descriptors(start: int, length: int, descriptors) -> None:
    payload = struct.pack(">I", 7) + b"".join(struct.pack(">II", *d) for d in descriptors)
    try:
        extents = nbd.parse_block_status(payload, 7, start, length)
    except ProtocolError as exc:
        assert "past the end of the request" in exc.message
        assert sum(size for size, _ in descriptors[:-1]) >= length
        return
    assert extents[0].offset == start
    assert all(a.end == b.offset for a, b in itertools.pairwise(extents))
    assert extents[-1].end <= start + length
    assert [(e.flags) for e in extents] == [flags for _, flags in descriptors]
    assert all(e.length > 0 for e in extents)


@given(st.binary(max_size=64), st.integers(0, 10))
def test_random_block_status_payloads(payload: bytes, context: int) -> None:
    try:
        extents = nbd.parse_block_status(payload, context, 0, SIZE)
    except ProtocolError:
        return
    assert (len(payload) - 4) % 8 == 0 and extents


@pytest.mark.parametrize(("payload", "says"), [
    (b"", "of 0 bytes"),
    (struct.pack(">I", 7) + b"\0\0\0", "4 + 8 per extent"),
    (struct.pack(">III", 8, 512, 0), "meta context 8, not 7"),
    (struct.pack(">III", 7, 0, 0), "extent of length 0"),
])
def test_malformed_block_status(payload: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(says)):
        nbd.parse_block_status(payload, 7, 0, SIZE)


def test_block_status_request_and_reply() -> None:
    payload = struct.pack(">IIIIIII", 7, 65536, 0, 131072, 3, 1 << 30, 2)
    conn, sent = connection(chunk(nbd.REPLY_BLOCK_STATUS, payload, done=True))
    assert conn.block_status(0, SIZE) == [Extent(0, 65536, 0), Extent(65536, 131072, 3),
                                          Extent(196608, SIZE - 196608, 2)]
    assert struct.unpack(">IHHQQI", sent[0])[2] == nbd.CMD_BLOCK_STATUS
    without, _ = connection(b"", context=None)  # no base:allocation: all data
    assert without.block_status(512, 1024) == [Extent(512, 1024, 0)]


@pytest.mark.parametrize(("stream", "says"), [
    (data_chunk(4096, b"x" * 16, done=True), "outside the request"),
    (data_chunk(0, b"x" * 16, done=True), "answered with 16"),
    (data_chunk(0, b"x" * 512) + data_chunk(0, b"y" * 512, done=True), "overlapping"),
    (hole_chunk(0, 0, done=True), "OFFSET_HOLE chunk of size 0"),
    (chunk(nbd.REPLY_OFFSET_HOLE, b"\0" * 11, done=True), "OFFSET_HOLE chunk of 11 bytes"),
    (chunk(nbd.REPLY_BLOCK_STATUS, b"\0" * 12, done=True), "type 5 in reply to a read"),
    (data_chunk(0, b"x" * 1024, cookie=2, done=True), "request 2 while waiting for 1"),
    (struct.pack(">IHHQI", 0x12345678, 1, 1, 1, 0), "reply magic 0x12345678"),
    (struct.pack(">IHHQI", nbd.STRUCTURED_REPLY_MAGIC, 4, 1, 1, 0), "chunk flags 0x0004"),
    (data_chunk(0, b"x" * 100), "closed in the middle of a reply"),
    (struct.pack(">IIQ", nbd.SIMPLE_REPLY_MAGIC, 0, 1), "simple reply without an error"),
])
def test_malformed_read_replies(stream: bytes, says: str) -> None:
    conn, _ = connection(stream)
    with pytest.raises(ProtocolError, match=re.escape(says)):
        conn.read_into(0, memoryview(bytearray(1024)))
    assert conn.broken
    with pytest.raises(ProtocolError, match="broken by an earlier reply"):
        conn.read_into(0, memoryview(bytearray(1024)))


def test_error_chunks_leave_the_connection_usable() -> None:
    stream = (error_chunk(5, b"reading from\nfile failed", offset=512)
              + chunk(nbd.REPLY_NONE, b"", done=True)
              + error_chunk(22, b"", done=True, cookie=2)
              + struct.pack(">IIQ", nbd.SIMPLE_REPLY_MAGIC, 1, 3)
              + data_chunk(0, b"z" * 1024, cookie=4, done=True))
    conn, _ = connection(stream)
    with pytest.raises(ServerError) as first:
        conn.read_into(0, memoryview(bytearray(1024)))
    assert first.value.message == ("qemu-nbd could not read 1024 bytes at offset 0: reading "
                                   "from file failed")
    assert first.value.error == 5
    with pytest.raises(ServerError, match="invalid argument"):
        conn.read_into(0, memoryview(bytearray(1024)))
    with pytest.raises(ServerError, match="operation not permitted"):
        conn.read_into(0, memoryview(bytearray(1024)))
    buffer = bytearray(1024)
    conn.read_into(0, memoryview(buffer))
    assert buffer == b"z" * 1024 and not conn.broken


@pytest.mark.parametrize(("payload", "says"), [
    (b"\0\0\0\5\0", "shorter than 6"),
    (struct.pack(">IH", 5, 10) + b"abc", "message says 10 bytes"),
    (struct.pack(">IH", 0, 0), "error 0"),
])
def test_malformed_error_chunks(payload: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(says)):
        nbd.parse_error(nbd.REPLY_ERROR, payload)


# -- the handshake --------------------------------------------------------------------


def option_reply(option: int, kind: int, data: bytes = b"") -> bytes:
    return struct.pack(">QIII", nbd.OPTION_REPLY_MAGIC, option, kind, len(data)) + data


def server_greeting(flags: int = 3) -> bytes:
    return struct.pack(">QQH", nbd.NBDMAGIC, nbd.IHAVEOPT, flags)


def go_replies(size: int = 10 << 20) -> bytes:
    return (option_reply(nbd.OPT_GO, nbd.REP_INFO, struct.pack(">HQH", 0, size, 0x48f))
            + option_reply(nbd.OPT_GO, nbd.REP_INFO, struct.pack(">HIII", 3, 1, 4096,
                                                                  32 << 20))
            + option_reply(nbd.OPT_GO, nbd.REP_ACK))


def test_handshake_negotiates_structured_replies_allocation_and_go() -> None:
    server = (server_greeting()
              + option_reply(nbd.OPT_STRUCTURED_REPLY, nbd.REP_ACK)
              + option_reply(nbd.OPT_SET_META_CONTEXT, nbd.REP_META_CONTEXT,
                             struct.pack(">I", 3) + b"base:allocation")
              + option_reply(nbd.OPT_SET_META_CONTEXT, nbd.REP_ACK)
              + go_replies())
    sent: list[bytes] = []
    conn = Connection(io.BytesIO(server).readinto, sent.append)
    export = conn.handshake()
    assert export == Export(10 << 20, 0x48f, 1, 4096, 32 << 20)
    assert conn.context == 3
    assert sent[0] == struct.pack(">I", 3)  # fixed newstyle, no zeroes
    options = [struct.unpack(">QII", message[:16])[1] for message in sent[1:]]
    assert options == [nbd.OPT_STRUCTURED_REPLY, nbd.OPT_SET_META_CONTEXT, nbd.OPT_GO]
    assert sent[2].endswith(b"\0\0\0\1\0\0\0\x0fbase:allocation")


def test_handshake_without_meta_contexts_reads_everything() -> None:
    server = (server_greeting()
              + option_reply(nbd.OPT_STRUCTURED_REPLY, nbd.REP_ACK)
              + option_reply(nbd.OPT_SET_META_CONTEXT, nbd.REP_ERROR_BIT | 1)
              + go_replies())
    conn = Connection(io.BytesIO(server).readinto, lambda _: None)
    conn.handshake()
    assert conn.context is None


@pytest.mark.parametrize(("server", "says"), [
    (b"HTTP/1.1 400 Bad Request\r\n", "no NBDMAGIC"),
    (struct.pack(">QQH", nbd.NBDMAGIC, 0x420281861253, 0), "fixed newstyle"),
    (server_greeting() + option_reply(nbd.OPT_STRUCTURED_REPLY, nbd.REP_ERROR_BIT | 1),
     "does not send structured replies"),
    (server_greeting() + option_reply(nbd.OPT_GO, nbd.REP_ACK), "while negotiating option 8"),
    (server_greeting() + option_reply(nbd.OPT_STRUCTURED_REPLY, nbd.REP_ACK)
     + option_reply(nbd.OPT_SET_META_CONTEXT, nbd.REP_ACK)
     + option_reply(nbd.OPT_GO, nbd.REP_ACK), "without the export's size"),
    (server_greeting()[:10], "closed in the middle"),
])
def test_handshake_refuses_what_is_not_nbd(server: bytes, says: str) -> None:
    conn = Connection(io.BytesIO(server).readinto, lambda _: None)
    with pytest.raises(ProtocolError, match=re.escape(says)):
        conn.handshake()


@given(st.binary(max_size=200))
def test_random_servers_fail_the_handshake_cleanly(prefix: bytes) -> None:
    conn = Connection(io.BytesIO(server_greeting() + prefix).readinto, lambda _: None)
    with contextlib.suppress(ProtocolError, nbd.OperationFailed):
        conn.handshake()
