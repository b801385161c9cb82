"""An HTTP proxy on loopback in front of a real service (the lab's Glance) that can answer
chosen requests with an error instead of forwarding them.

Requests, chunked uploads included, are forwarded as they come; a rule
``fail(method, path_regex, status, times)`` makes the next matching requests
read in full and answered with ``status`` (a Glance outage, say), without
reaching the service; a rule ``corrupt(method, path_regex, flip=..., drop=...)``
forwards the next matching request with its body damaged on the way (a bit
flipped in transit, bytes lost), which the service accepts as it comes (with
``answer=True``, the service's answer to it is damaged instead: a download
changed on the way); a rule
``read_slowly(method, path_regex, pause)`` reads the body of the next matching request
slowly (``pause`` seconds per 64 KiB) before forwarding it whole, as a proxy that buffers
requests (nginx's proxy_request_buffering) does in front of a slow client. ``requests``
lists every request received ("PUT /v2/images/ID/file").
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-connection"}



class QuietHTTPServer(ThreadingHTTPServer):
    """A test server that says nothing when a client drops its connection (a client that
    closed a kept-alive connection, or read only the head): socketserver would print a
    traceback into the stderr of the vmwctl command a test is capturing."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

class HttpFaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.rules: list[list[Any]] = []  # [method, regex, status, times left]
        self.damages: list[list[Any]] = []  # [method, regex, flip, drop, times left, at]
        self.answer_damages: list[list[Any]] = []  # the same, for the answers
        self.slow_reads: list[list[Any]] = []  # [method, regex, pause, times left]
        self.requests: list[str] = []  # "METHOD path" of every request received
        self.injected: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _read(self, size: int, pause: float) -> bytes:
                if not pause:
                    return self.rfile.read(size)
                data = bytearray()
                while len(data) < size:
                    block = self.rfile.read(min(1 << 16, size - len(data)))
                    if not block:
                        break
                    data += block
                    time.sleep(pause)
                return bytes(data)

            def _body(self) -> bytes:
                pause = proxy._slow_read(self.command, self.path)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(data)
                        data += self._read(size, pause)
                        self.rfile.readline()
                return self._read(int(self.headers.get("Content-Length") or 0), pause)

            def _answer(self, status: int, message: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)

            def _handle(self) -> None:
                with proxy.lock:
                    proxy.requests.append(f"{self.command} {self.path}")
                body = proxy._damage(proxy.damages, self.command, self.path, self._body())
                status = proxy._match(self.command, self.path)
                if status is not None:
                    self._answer(status, b'{"message": "injected by the test proxy"}')
                    return
                upstream = http.client.HTTPConnection(*proxy.target, timeout=120)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_HEADERS and k.lower() != "content-length"}
                # the service may answer (a 401) and close before it has read the body
                with contextlib.suppress(OSError):
                    upstream.request(self.command, self.path, body=body or None,
                                     headers=headers)
                try:
                    response = upstream.getresponse()
                    data = proxy._damage(proxy.answer_damages, self.command, self.path,
                                         response.read())
                except (OSError, http.client.HTTPException):
                    upstream.close()  # no answer at all: what a proxy then says (nginx too)
                    self._answer(502, b'{"message": "the service closed the connection"}')
                    return
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, method: str, path: str, status: int, times: int = 1) -> None:
        with self.lock:
            self.rules.append([method, re.compile(path), status, times])

    def corrupt(self, method: str, path: str, *, flip: int = 0, drop: int = 0,
                times: int = 1, at: int | None = None, answer: bool = False) -> None:
        """Damage the body of the next ``times`` matching requests in the middle (or at
        offset ``at``, from the end when negative): invert ``flip`` bytes (the size stays),
        then leave out ``drop`` bytes (the size shrinks). ``answer``: damage the service's
        answers to them instead (the request goes as it came)."""
        with self.lock:
            (self.answer_damages if answer else self.damages).append(
                [method, re.compile(path), flip, drop, times, at])

    def read_slowly(self, method: str, path: str, pause: float, times: int = 1) -> None:
        """Read the body of the next ``times`` matching requests ``pause`` seconds per
        64 KiB, then forward it whole (the service sees the request only then)."""
        with self.lock:
            self.slow_reads.append([method, re.compile(path), pause, times])

    def _slow_read(self, method: str, path: str) -> float:
        with self.lock:
            for rule in self.slow_reads:
                if rule[0] == method and rule[1].search(path) and rule[3] > 0:
                    rule[3] -= 1
                    return rule[2]
        return 0.0

    def _damage(self, damages: list[list[Any]], method: str, path: str, body: bytes) -> bytes:
        with self.lock:
            rule = next((r for r in damages
                         if r[0] == method and r[1].search(path) and r[4] > 0), None)
            if rule is None or not body:
                return body
            rule[4] -= 1
            flip, drop = rule[2], rule[3]
            at = rule[5]
            middle = len(body) // 2 if at is None else (at if at >= 0 else len(body) + at)
            data = bytearray(body)
            data[middle:middle + flip] = bytes(b ^ 0xFF for b in data[middle:middle + flip])
            del data[middle:middle + drop]
            self.injected.append(f"{method} {path} -> {flip} bytes flipped, {drop} dropped "
                                 f"of {len(body)}")
            return bytes(data)

    def _match(self, method: str, path: str) -> int | None:
        with self.lock:
            for rule in self.rules:
                if rule[0] == method and rule[1].search(path) and rule[3] > 0:
                    rule[3] -= 1
                    self.injected.append(f"{method} {path} -> {rule[2]}")
                    return rule[2]
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HttpFaultProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
