"""A small NBD client: what reading an export served by qemu-nbd needs, nothing more.

The fixed newstyle handshake, structured replies (``NBD_OPT_STRUCTURED_REPLY``),
the ``base:allocation`` meta context (``NBD_OPT_SET_META_CONTEXT``), the export
opened with ``NBD_OPT_GO`` (its size and block sizes), then ``NBD_CMD_READ``
(answered by OFFSET_DATA, OFFSET_HOLE and ERROR chunks), ``NBD_CMD_BLOCK_STATUS``
(the allocation map, so that holes are never read) and ``NBD_CMD_DISC``. One
request at a time per connection; concurrency comes from several connections
(qemu-nbd's ``--shared``). The protocol is
https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md.

Everything the server sends is checked before it is used: a reply that breaks
the protocol is a :class:`ProtocolError`, one line saying what was wrong.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from vmwctl.errors import OperationFailed

NBDMAGIC = 0x4E42444D41474943  # "NBDMAGIC"
IHAVEOPT = 0x49484156454F5054  # "IHAVEOPT"
OPTION_REPLY_MAGIC = 0x0003E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE = 1 << 0  # handshake flags, and the client's echo of them
FLAG_NO_ZEROES = 1 << 1

OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_SET_META_CONTEXT = 10
REP_ACK = 1
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERROR_BIT = 1 << 31
INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_DISC = 2
CMD_BLOCK_STATUS = 7
TFLAG_SEND_DF = 1 << 7  # transmission flags (of the export)

REPLY_FLAG_DONE = 1
REPLY_NONE = 0
REPLY_OFFSET_DATA = 1
REPLY_OFFSET_HOLE = 2
REPLY_BLOCK_STATUS = 5
REPLY_ERROR = (1 << 15) + 1
REPLY_ERROR_OFFSET = (1 << 15) + 2
REPLY_ERROR_BIT = 1 << 15

STATE_HOLE = 1 << 0  # base:allocation: not allocated
STATE_ZERO = 1 << 1  # base:allocation: reads as zeros
ALLOCATION = "base:allocation"

_U16, _U32, _U64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_CHUNK = struct.Struct(">IHHQI")  # magic, flags, type, cookie, length
_SIMPLE = struct.Struct(">IIQ")  # magic, error, cookie (after its magic's 4 bytes)
_REQUEST = struct.Struct(">IHHQQI")  # magic, flags, type, cookie, offset, length
_OPTION = struct.Struct(">QII")  # IHAVEOPT, option, length
_OPTION_REPLY = struct.Struct(">QIII")  # magic, option, reply type, length
MAX_OPTION_REPLY = 1 << 20  # more than any reply to the options sent here
MAX_ERROR_MESSAGE = 4096
MAX_STATUS_REPLY = 4 + 8 * (1 << 20)  # a million extents: more than any request here gets


class ProtocolError(OperationFailed):
    """The server broke the NBD protocol (or is no NBD server)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"qemu-nbd's reply is not valid NBD: {what}")


class ServerError(OperationFailed):
    """The server answered a request with an error (an ERROR chunk or simple reply)."""

    def __init__(self, error: int, message: str, what: str) -> None:
        self.error = error
        name = _ERRNO_NAMES.get(error, f"error {error}")
        super().__init__(f"qemu-nbd could not {what}: {message or name}")


_ERRNO_NAMES = {1: "operation not permitted", 5: "input/output error",
                12: "cannot allocate memory", 22: "invalid argument",
                28: "no space left on device", 75: "value too large",
                95: "operation not supported", 108: "the server is shutting down"}


@dataclass(frozen=True)
class ChunkHeader:
    flags: int
    type: int
    cookie: int
    length: int

    @property
    def done(self) -> bool:
        return bool(self.flags & REPLY_FLAG_DONE)


@dataclass(frozen=True)
class Extent:
    offset: int
    length: int
    flags: int  # base:allocation's STATE_HOLE | STATE_ZERO

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def zero(self) -> bool:
        return bool(self.flags & STATE_ZERO)


@dataclass(frozen=True)
class Export:
    size: int
    flags: int
    minimum_block: int = 1
    preferred_block: int = 4096
    maximum_block: int = 32 << 20


# -- parsers: plain bytes in, values out, ProtocolError for anything else --------------


def parse_chunk_header(data: bytes) -> ChunkHeader:
    """The 20 bytes that start a structured reply chunk."""
    if len(data) != _CHUNK.size:
        raise ProtocolError(f"a reply chunk header of {len(data)} bytes, not {_CHUNK.size}")
    magic, flags, kind, cookie, length = _CHUNK.unpack(data)
    if magic != STRUCTURED_REPLY_MAGIC:
        raise ProtocolError(f"reply magic {magic:#010x}, not a structured reply's")
    if flags & ~REPLY_FLAG_DONE:
        raise ProtocolError(f"unknown reply chunk flags {flags:#06x}")
    return ChunkHeader(flags, kind, cookie, length)


def parse_hole(payload: bytes, start: int, length: int) -> tuple[int, int]:
    """An OFFSET_HOLE chunk's (offset, size), checked to lie within the request."""
    if len(payload) != 12:
        raise ProtocolError(f"an OFFSET_HOLE chunk of {len(payload)} bytes, not 12")
    offset, size = struct.unpack(">QI", payload)
    if size == 0:
        raise ProtocolError("an OFFSET_HOLE chunk of size 0")
    check_within(offset, size, start, length, "OFFSET_HOLE")
    return offset, size


def check_within(offset: int, size: int, start: int, length: int, what: str) -> None:
    if offset < start or offset + size > start + length:
        raise ProtocolError(f"an {what} chunk for {offset}+{size}, outside the request "
                            f"{start}+{length}")


def parse_error(kind: int, payload: bytes) -> tuple[int, str, int | None]:
    """An ERROR or ERROR_OFFSET chunk's (error number, message, offset or None)."""
    if len(payload) < 6:
        raise ProtocolError(f"an error chunk of {len(payload)} bytes, shorter than 6")
    error, size = struct.unpack(">IH", payload[:6])
    extra = 8 if kind == REPLY_ERROR_OFFSET else 0
    known = kind in (REPLY_ERROR, REPLY_ERROR_OFFSET)  # others may carry more after it
    if len(payload) < 6 + size + extra or (known and len(payload) != 6 + size + extra):
        raise ProtocolError(f"an error chunk of {len(payload)} bytes whose message says "
                            f"{size} bytes")
    if error == 0:
        raise ProtocolError("an error chunk with error 0")
    message = payload[6:6 + size].decode("utf-8", "replace")
    offset = _U64.unpack(payload[6 + size:6 + size + 8])[0] if extra else None
    return error, _one_line(message), offset


def parse_block_status(payload: bytes, context: int, start: int,
                       length: int) -> list[Extent]:
    """A BLOCK_STATUS chunk's extents from ``start``: non-empty, the first at ``start``,
    the last clipped to the request (a server may describe past its end)."""
    if len(payload) < 12 or (len(payload) - 4) % 8:
        raise ProtocolError(f"a BLOCK_STATUS chunk of {len(payload)} bytes (4 + 8 per "
                            "extent, at least one)")
    got = _U32.unpack(payload[:4])[0]
    if got != context:
        raise ProtocolError(f"block status for meta context {got}, not {context} (asked for)")
    extents = []
    offset = start
    end = start + length
    for size, flags in struct.iter_unpack(">II", payload[4:]):
        if size == 0:
            raise ProtocolError("a block status extent of length 0")
        if offset >= end:
            raise ProtocolError("block status extents past the end of the request")
        extents.append(Extent(offset, min(size, end - offset), flags))
        offset += size
    return extents


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_ERROR_MESSAGE]


# -- the connection ---------------------------------------------------------------------


class Connection:
    """One NBD connection, one request at a time. ``readinto`` and ``send`` are the
    socket's (a test may give others)."""

    def __init__(self, readinto: Callable[[memoryview], int],
                 send: Callable[[bytes], None], close: Callable[[], None] = lambda: None,
                 sock: socket.socket | None = None) -> None:
        self._readinto = readinto
        self._raw_send = send
        self._close = close
        self._sock = sock
        self._cookie = 0
        self.export: Export | None = None
        self.context: int | None = None  # base:allocation's id, when the server has it
        self.broken = False

    @classmethod
    def unix(cls, path: str, *, timeout: float | None = None) -> Connection:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.settimeout(None)
        except OSError:
            sock.close()
            raise
        return cls(sock.recv_into, sock.sendall, sock.close, sock)

    # handshake

    def handshake(self, name: str = "") -> Export:
        """Fixed newstyle negotiation: structured replies, base:allocation, then GO."""
        magic, opt_magic, flags = struct.unpack(">QQH", self._exactly(18))
        if magic != NBDMAGIC:
            raise ProtocolError("no NBDMAGIC at the start (not an NBD server)")
        if opt_magic != IHAVEOPT or not flags & FLAG_FIXED_NEWSTYLE:
            raise ProtocolError("the server does not speak fixed newstyle NBD")
        self._send(_U32.pack(FLAG_FIXED_NEWSTYLE | (flags & FLAG_NO_ZEROES)))
        self._option(OPT_STRUCTURED_REPLY, b"")
        kind, _ = self._option_reply(OPT_STRUCTURED_REPLY)
        if kind != REP_ACK:
            raise ProtocolError("the server does not send structured replies")
        encoded = name.encode()
        query = ALLOCATION.encode()
        self._option(OPT_SET_META_CONTEXT, _U32.pack(len(encoded)) + encoded + _U32.pack(1)
                     + _U32.pack(len(query)) + query)
        while True:
            kind, data = self._option_reply(OPT_SET_META_CONTEXT)
            if kind == REP_ACK:
                break
            if kind == REP_META_CONTEXT:
                if len(data) < 4:
                    raise ProtocolError("a meta context reply shorter than 4 bytes")
                if data[4:].decode("utf-8", "replace") == ALLOCATION:
                    self.context = _U32.unpack(data[:4])[0]
            elif kind & REP_ERROR_BIT:
                break  # no meta contexts: every extent is data
        self._option(OPT_GO, _U32.pack(len(encoded)) + encoded + _U16.pack(1)
                     + _U16.pack(INFO_BLOCK_SIZE))
        size = flags_ = None
        blocks = (1, 4096, 32 << 20)
        while True:
            kind, data = self._option_reply(OPT_GO)
            if kind == REP_ACK:
                break
            if kind & REP_ERROR_BIT:
                raise OperationFailed(f"qemu-nbd refused to open the export: "
                                      f"{_one_line(data.decode('utf-8', 'replace'))}")
            if kind != REP_INFO or len(data) < 2:
                continue
            info = _U16.unpack(data[:2])[0]
            if info == INFO_EXPORT:
                if len(data) != 12:
                    raise ProtocolError(f"NBD_INFO_EXPORT of {len(data)} bytes, not 12")
                size, flags_ = struct.unpack(">QH", data[2:])
            elif info == INFO_BLOCK_SIZE:
                if len(data) != 14:
                    raise ProtocolError(f"NBD_INFO_BLOCK_SIZE of {len(data)} bytes, not 14")
                blocks = struct.unpack(">III", data[2:])
        if size is None or flags_ is None:
            raise ProtocolError("NBD_OPT_GO succeeded without the export's size")
        self.export = Export(size, flags_, *blocks)
        return self.export

    def _option(self, option: int, data: bytes) -> None:
        self._send(_OPTION.pack(IHAVEOPT, option, len(data)) + data)

    def _option_reply(self, option: int) -> tuple[int, bytes]:
        magic, got, kind, length = _OPTION_REPLY.unpack(self._exactly(_OPTION_REPLY.size))
        if magic != OPTION_REPLY_MAGIC:
            raise ProtocolError(f"option reply magic {magic:#x}")
        if got != option:
            raise ProtocolError(f"a reply to option {got} while negotiating option {option}")
        if length > MAX_OPTION_REPLY:
            raise ProtocolError(f"an option reply of {length} bytes")
        return kind, self._exactly(length)

    # transmission

    def read_into(self, offset: int, view: memoryview) -> None:
        """Fill ``view`` with the export's bytes from ``offset`` (holes as zeros)."""
        try:
            self._read_into(offset, view)
        except ProtocolError:
            self.broken = True  # where the next reply starts is unknown
            raise

    def _read_into(self, offset: int, view: memoryview) -> None:
        length = len(view)
        cookie = self._request(CMD_READ, offset, length)
        covered = 0
        pieces: list[tuple[int, int]] = []
        while True:
            header = self._chunk(cookie)
            kind = header.type
            if kind == REPLY_OFFSET_DATA:
                if header.length < 9:
                    raise ProtocolError(f"an OFFSET_DATA chunk of {header.length} bytes")
                at = _U64.unpack(self._exactly(8))[0]
                size = header.length - 8
                check_within(at, size, offset, length, "OFFSET_DATA")
                self._fill(view[at - offset:at - offset + size])
                pieces.append((at, size))
                covered += size
            elif kind == REPLY_OFFSET_HOLE:
                if header.length != 12:
                    raise ProtocolError(f"an OFFSET_HOLE chunk of {header.length} bytes, not 12")
                at, size = parse_hole(self._exactly(12), offset, length)
                view[at - offset:at - offset + size] = bytes(size)
                pieces.append((at, size))
                covered += size
            elif kind & REPLY_ERROR_BIT:
                self._failed(header, f"read {length} bytes at offset {offset}")
            elif kind == REPLY_NONE and header.done and header.length == 0:
                pass
            else:
                raise ProtocolError(f"a chunk of type {kind} in reply to a read")
            if covered > length:
                raise ProtocolError(f"overlapping chunks in reply to a read of {length} "
                                    "bytes")
            if header.done:
                break
        if covered != length:
            raise ProtocolError(f"a read of {length} bytes answered with {covered}")
        pieces.sort()
        if any(at + size != after for (at, size), (after, _) in itertools.pairwise(pieces)):
            raise ProtocolError(f"overlapping chunks in reply to a read of {length} bytes")

    def block_status(self, offset: int, length: int) -> list[Extent]:
        """base:allocation from ``offset``: at least one extent, within the request.
        Without the context, the request as one data extent."""
        if self.context is None:
            return [Extent(offset, length, 0)]
        try:
            return self._block_status(offset, length)
        except ProtocolError:
            self.broken = True
            raise

    def _block_status(self, offset: int, length: int) -> list[Extent]:
        assert self.context is not None
        cookie = self._request(CMD_BLOCK_STATUS, offset, length)
        extents: list[Extent] = []
        while True:
            header = self._chunk(cookie)
            if header.type == REPLY_BLOCK_STATUS:
                if header.length > MAX_STATUS_REPLY:
                    raise ProtocolError(f"a BLOCK_STATUS chunk of {header.length} bytes")
                if extents:
                    raise ProtocolError("two BLOCK_STATUS chunks for one meta context")
                extents = parse_block_status(self._exactly(header.length), self.context,
                                             offset, length)
            elif header.type & REPLY_ERROR_BIT:
                self._failed(header, f"report the allocation at offset {offset}")
            elif not (header.type == REPLY_NONE and header.done and header.length == 0):
                raise ProtocolError(f"a chunk of type {header.type} in reply to block status")
            if header.done:
                break
        if not extents:
            raise ProtocolError("a block status reply without extents")
        return extents

    def abort(self) -> None:
        """Break off a request another thread is waiting on (its read then fails)."""
        self.broken = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """NBD_CMD_DISC (when the connection is sound), then the socket closed."""
        try:
            if not self.broken and self.export is not None:
                self._send(_REQUEST.pack(REQUEST_MAGIC, 0, CMD_DISC, self._next_cookie(), 0, 0))
        except ProtocolError:
            pass
        finally:
            self._close()

    def _send(self, data: bytes) -> None:
        try:
            self._raw_send(data)
        except OSError as exc:
            self.broken = True
            raise ProtocolError(f"the connection broke ({exc.strerror or exc})") from None

    def _next_cookie(self) -> int:
        self._cookie += 1
        return self._cookie

    def _request(self, command: int, offset: int, length: int) -> int:
        if self.export is None:
            raise RuntimeError("handshake() first")
        if self.broken:
            raise ProtocolError("the connection was broken by an earlier reply")
        cookie = self._next_cookie()
        self._send(_REQUEST.pack(REQUEST_MAGIC, 0, command, cookie, offset, length))
        return cookie

    def _chunk(self, cookie: int) -> ChunkHeader:
        first = self._exactly(4)
        if _U32.unpack(first)[0] == SIMPLE_REPLY_MAGIC:  # allowed for an error
            error, got = struct.unpack(">IQ", self._exactly(12))
            if got != cookie:
                self._break(f"a reply for request {got} while waiting for {cookie}")
            if error == 0:
                self._break("a simple reply without an error after structured replies "
                            "were negotiated")
            raise ServerError(error, "", "answer the request")
        try:
            header = parse_chunk_header(first + self._exactly(_CHUNK.size - 4))
        except ProtocolError:
            self.broken = True
            raise
        if header.cookie != cookie:
            self._break(f"a reply for request {header.cookie} while waiting for {cookie}")
        return header

    def _failed(self, header: ChunkHeader, what: str) -> None:
        error, message, _ = parse_error(header.type, self._payload(header))
        while not header.done:  # the rest of the reply, so that the connection stays usable
            header = self._chunk(header.cookie)
            self._payload(header)
        raise ServerError(error, message, what)

    def _payload(self, header: ChunkHeader) -> bytes:
        """A chunk's payload that is not read data: small, whatever the header says."""
        if header.length > MAX_OPTION_REPLY:
            raise ProtocolError(f"a chunk of type {header.type} of {header.length} bytes")
        return self._exactly(header.length)

    def _break(self, what: str) -> None:
        self.broken = True
        raise ProtocolError(what)

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        self._fill(memoryview(buffer))
        return bytes(buffer)

    def _fill(self, view: memoryview) -> None:
        while view:
            try:
                got = self._readinto(view)
            except OSError as exc:
                self.broken = True
                raise ProtocolError(f"the connection broke ({exc.strerror or exc})") from None
            if not got:
                self.broken = True
                raise ProtocolError("the connection closed in the middle of a reply")
            view = view[got:]
