"""Request bodies that stop going out once the server has answered.

An HTTP server may refuse an upload before reading its body: Glance's
``upload_image`` policy, an expired token, a quota, an unknown store. requests
(through urllib3) reads the answer only after the whole body is sent, and a
server that keeps the connection alive reads and discards that body (gunicorn's
threaded workers drain it): a refused 20 GB upload would cost 20 GB. The
connections mounted here look for an answer before each piece of a body and,
when one has arrived, stop sending (a BrokenPipeError, which urllib3 swallows
to read the answer) and are never reused: the server still waits for the rest.
"""

from __future__ import annotations

import errno
from typing import Any
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.wait import wait_for_read


class _EarlyAnswer:
    """Mixed into urllib3's connections: the body stops when an answer is waiting."""

    _in_body = False
    _answered_early = False
    _abandoned = False

    def connect(self) -> None:
        self._abandoned = False
        super().connect()  # type: ignore[misc]

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self._in_body = self._answered_early = False
        super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def endheaders(self, *args: Any, **kwargs: Any) -> None:
        super().endheaders(*args, **kwargs)  # type: ignore[misc]
        self._in_body = True

    def send(self, data: Any) -> None:
        sock = getattr(self, "sock", None)
        if self._in_body and sock is not None and wait_for_read(sock, timeout=0.0):
            self._in_body, self._answered_early = False, True
            raise BrokenPipeError(errno.EPIPE, "the server answered before the body was sent")
        super().send(data)  # type: ignore[misc]

    def getresponse(self) -> Any:
        early, self._in_body = self._answered_early, False
        response = super().getresponse()  # type: ignore[misc]
        if early:
            self._abandoned = True  # the server still waits for the rest of the body
        return response

    @property
    def is_connected(self) -> bool:
        return not self._abandoned and super().is_connected  # type: ignore[misc]


class EarlyAnswerHTTPConnection(_EarlyAnswer, HTTPConnection):
    pass


class EarlyAnswerHTTPSConnection(_EarlyAnswer, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = EarlyAnswerHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = EarlyAnswerHTTPSConnection


def stop_bodies_on_early_answers(requests_session: Any, url: str) -> None:
    """Mount, for ``url``'s origin on ``requests_session``, connections whose request bodies
    stop once the server answers (keystoneauth's TCP keep-alive settings are kept)."""
    from keystoneauth1.session import TCPKeepAliveAdapter

    class Adapter(TCPKeepAliveAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    parts = urlsplit(url)
    requests_session.mount(f"{parts.scheme}://{parts.netloc}/", Adapter())
