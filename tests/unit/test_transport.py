"""Request bodies stop once the server has answered (vmwctl.images.transport), against a real
HTTP server on loopback that answers before reading, as Glance does when a policy refuses."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from vmwctl.common.streams import Replayable
from vmwctl.images.transport import stop_bodies_on_early_answers

PIECE = 256 << 10
TOTAL = 512 << 20


class Server:
    """Answers each request at once (``refuse``) or after reading its chunked body, and keeps
    the connection alive, reading and discarding what comes (gunicorn's threaded workers)."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.received = 0
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                while reader.readline() not in (b"\r\n", b""):
                    pass
                if self.refuse:
                    body = b"You are not authorized to complete upload_image action."
                    client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%s"
                                   % (len(body), body))
                while True:  # the chunked body, read and dropped
                    size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        reader.readline()
                        break
                    self.received += len(reader.read(size))
                    reader.readline()
                if not self.refuse:
                    client.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (OSError, ValueError):
            return
        finally:
            client.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _body(counter: list[int]) -> Iterator[memoryview]:
    data = memoryview(bytes(PIECE))
    while counter[0] < TOTAL:
        counter[0] += PIECE
        yield data


def test_a_refused_body_stops_at_the_answer(session: requests.Session) -> None:
    server = Server(refuse=True)
    url = f"http://127.0.0.1:{server.port}"
    stop_bodies_on_early_answers(session, url)
    taken = [0]
    response = session.put(f"{url}/v2/images/x/file", data=_body(taken))
    assert response.status_code == 403
    assert "upload_image" in response.text
    assert taken[0] < 64 << 20, taken[0]  # not the 512 MiB: the answer stopped it
    # the half-sent connection is never used again: the next request gets a new one
    again = session.put(f"{url}/v2/images/x/file", data=iter([b"abc"]))
    assert again.status_code == 403
    assert server.connections == 2
    server.close()


def test_without_the_adapter_the_whole_body_goes(session: requests.Session) -> None:
    server = Server(refuse=True)
    taken = [0]
    response = session.put(f"http://127.0.0.1:{server.port}/x", data=_body(taken))
    assert response.status_code == 403
    assert taken[0] >= TOTAL  # what the adapter saves
    server.close()


def test_an_accepted_body_goes_whole(session: requests.Session) -> None:
    server = Server(refuse=False)
    url = f"http://127.0.0.1:{server.port}"
    stop_bodies_on_early_answers(session, url)
    taken = [0]
    for _ in range(2):
        taken[0] = 0
        response = session.put(f"{url}/file", data=_body(taken))
        assert response.status_code == 204
    assert server.received == 2 * TOTAL
    assert server.connections == 1  # kept alive as usual
    server.close()


def test_replayable_gives_what_it_kept_once() -> None:
    stream = Replayable(iter([b"ab", b"cd", b"ef"]), limit=4)
    assert [next(stream), next(stream)] == [b"ab", b"cd"]
    assert stream.rewind()
    assert list(stream) == [b"ab", b"cd", b"ef"]
    assert not stream.rewind()  # once only


def test_replayable_drops_what_exceeds_its_limit() -> None:
    stream = Replayable(iter([b"ab", b"cd", b"ef"]), limit=3)
    assert list(stream) == [b"ab", b"cd", b"ef"]
    assert not stream.rewind()
    assert stream.kept == []
