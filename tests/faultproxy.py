"""A TCP proxy on loopback in front of a real service, which can cut connections.

Used to inject transport faults (resets) between vmwctl and the lab's services
without touching either: TLS passes through untouched.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any

BLOCK = 65536  # the most passed on at once


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, as a crashed peer or a firewall would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Wake a thread blocked in recv on it: until that call returns, close() alone
    # releases nothing and the peer hears nothing. SHUT_RD sends no FIN.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._reset_next = 0
        self._cut_after: int | None = None
        self._pause = 0.0
        self._pause_inbound = 0.0
        self._proportional = {True: False, False: False}  # by direction: outbound or not
        self._cut_inbound_after: int | None = None
        self._down = False
        self.cuts = 0
        self.carried = 0  # bytes passed on to the service, all connections together
        self.accepted = 0
        self.resets = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def reset_next(self, count: int) -> None:
        """Reset the next ``count`` connections as soon as they are accepted."""
        with self._lock:
            self._reset_next = count

    def cut_after(self, count: int | None) -> None:
        """Reset the next connection that carries more than ``count`` bytes to the service."""
        with self._lock:
            self._cut_after = count

    def slow_down(self, pause: float, *, proportional: bool = False) -> None:
        """Wait ``pause`` seconds before passing on each block (64 KiB at most) to the service.

        ``proportional``: ``pause`` per 64 KiB, less for a smaller block (a bandwidth, which
        lets an API call through at once while a transfer takes its time)."""
        with self._lock:
            self._pause = pause
            self._proportional[True] = proportional

    def slow_down_inbound(self, pause: float, *, proportional: bool = False) -> None:
        """As slow_down, for what goes back to the client (a slow download)."""
        with self._lock:
            self._pause_inbound = pause
            self._proportional[False] = proportional

    def cut_inbound_after(self, count: int | None) -> None:
        """Reset the next connection that carries more than ``count`` bytes back to the client
        (a download that ends early)."""
        with self._lock:
            self._cut_inbound_after = count

    def go_down(self) -> None:
        """The service goes away: every connection is reset, and new ones too, until come_up."""
        with self._lock:
            self._down = True
        self.cut_all()

    def come_up(self) -> None:
        with self._lock:
            self._down = False

    def cut_all(self) -> None:
        """Reset every connection open now (pooled keep-alive connections included)."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut_all()

    def _should_cut(self, carried: int, outbound: bool) -> bool:
        with self._lock:
            if self._down:
                return True
            limit = self._cut_after if outbound else self._cut_inbound_after
            if limit is not None and carried > limit:
                if outbound:
                    self._cut_after = None
                else:
                    self._cut_inbound_after = None
                self.cuts += 1
                return True
        return False

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                if self._down:
                    _reset(client)
                    continue
                if self._reset_next > 0:
                    self._reset_next -= 1
                    self.resets += 1
                    _reset(client)
                    continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink, outbound in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, outbound),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        carried = 0
        try:
            while data := source.recv(BLOCK):
                carried += len(data)
                if self._should_cut(carried, outbound):
                    _reset(source)
                    _reset(sink)
                    return
                pause = self._pause if outbound else self._pause_inbound
                if pause and self._proportional[outbound]:
                    pause *= len(data) / BLOCK
                if pause:
                    time.sleep(pause)
                sink.sendall(data)
                if outbound:
                    with self._lock:
                        self.carried += len(data)
        except OSError:
            pass
        finally:
            # The client's side ending (or the service refusing more of it) passes its end on
            # and leaves the way back open: an answer the service sent before it stopped
            # reading (a 403 ahead of a body) still reaches the client, as through a real
            # proxy. The way back ending closes both.
            closing = ((sink, socket.SHUT_WR),) if outbound else \
                ((source, socket.SHUT_RDWR), (sink, socket.SHUT_RDWR))
            for sock, how in closing:
                with contextlib.suppress(OSError):
                    sock.shutdown(how)
