"""The lab simulator's record of the calls it received (GET /lab/calls).

Every SOAP call is counted by method when its request arrives (``begun``,
before -delay, -method-delay or -fail-method act on it) and when its response
is written (``answered``), also to a client that went away: tests act at the
moment a call is held by a -method-delay, and know when a call whose client
gave up was carried out all the same.
"""

from __future__ import annotations

import threading
import time

import pytest
from faultproxy import FaultProxy
from helpers import wait_until

from vmwctl.errors import ConnectError
from vmwctl.vsphere.session import ConnectionSettings, VCenter

pytestmark = pytest.mark.lab


def test_calls_are_counted_by_method(simulator) -> None:
    sim = simulator("-fail-method", "CreateFolder")
    assert sim.calls() == {"begun": {}, "answered": {}}  # the simulator's own build is not
    assert sim.run("about").exit_code == 0
    calls = sim.calls()
    assert calls["begun"] == calls["answered"]
    assert calls["begun"]["Login"] == 1 and calls["begun"]["RetrieveServiceContent"] >= 1
    vc = sim.connect()
    datacenter = vc.content.rootFolder.childEntity[0]
    with pytest.raises(Exception, match="injected by the lab"):
        datacenter.vmFolder.CreateFolder("x")
    calls = sim.calls()
    assert calls["begun"]["CreateFolder"] == calls["answered"]["CreateFolder"] == 1


def test_a_held_call_is_under_way_then_answered_to_a_client_gone(simulator) -> None:
    """A -method-delay holds the call: it is under way until answered, and it is carried
    out even when the client's connection was reset meanwhile."""
    sim = simulator("-method-delay", "CreateFolder:3000")
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        vc = VCenter(ConnectionSettings(host="127.0.0.1", port=proxy.port,
                                        username=sim.username,
                                        password=lambda: sim.lab.password,
                                        ca_file=sim.lab.ca_file, api_retry_count=0))
        folder = vc.content.rootFolder.childEntity[0].vmFolder
        failed: list[ConnectError] = []

        def create() -> None:
            try:
                folder.CreateFolder("held")
            except ConnectError as exc:
                failed.append(exc)

        caller = threading.Thread(target=create)
        caller.start()
        wait_until(lambda: sim.under_way("CreateFolder"), what="CreateFolder under way")
        assert sim.calls()["begun"]["CreateFolder"] == 1
        proxy.go_down()
        caller.join(timeout=60)
        assert failed, "the call should have lost its connection"
        wait_until(lambda: not sim.under_way("CreateFolder"), what="CreateFolder answered")
    assert sim.calls()["answered"]["CreateFolder"] == 1
    own = sim.connect()
    names = [f.name for f in own.content.rootFolder.childEntity[0].vmFolder.childEntity]
    assert "held" in names  # carried out for a client that was gone


def test_connections_that_carry_client_requests_are_counted(simulator) -> None:
    """GET /lab/connections: each connection that carried a client's request, once however
    many it carried; the lab's own GET /lab/... (this read too) are not counted."""
    import http.client
    import ssl

    sim = simulator()
    assert sim.connections() == 0
    sim.calls()
    sim.sessions()
    assert sim.connections() == 0
    context = ssl.create_default_context(cafile=sim.lab.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=30)
    try:
        for _ in range(3):  # three requests, one connection
            conn.request("GET", "/sdk/vimServiceVersions.xml")
            response = conn.getresponse()
            assert response.status == 200 and b"urn:vim25" in response.read()
        assert sim.connections() == 1
    finally:
        conn.close()
    other = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=30)
    try:
        other.request("GET", "/sdk/vimServiceVersions.xml")
        other.getresponse().read()
    finally:
        other.close()
    assert sim.connections() == 2


def test_answered_calls_are_logged_with_their_times(simulator) -> None:
    """GET /lab/calls/log: every answered call with its method and the Unix times it began
    and was answered (its -delay and -method-delay inside), oldest answer first; two calls
    made at once overlap there, two made in turn do not."""
    sim = simulator("-delay", "5", "-method-delay", "CreateFolder:300")
    assert sim.call_log() == []
    vc = sim.connect()
    folder = vc.content.rootFolder.childEntity[0].vmFolder
    started = time.time()
    callers = [threading.Thread(target=folder.CreateFolder, args=(name,))
               for name in ("one", "two")]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=60)
    folder.CreateFolder("three")
    ended = time.time()
    log = sim.call_log()
    assert [c["method"] for c in log][:2] == ["RetrieveServiceContent", "Login"]
    assert [c["answered"] for c in log] == sorted(c["answered"] for c in log)
    assert all(c["answered"] - c["begun"] >= 0.005 for c in log)
    created = [c for c in log if c["method"] == "CreateFolder"]
    assert len(created) == 3
    assert all(started <= c["begun"] and c["answered"] <= ended and
               c["answered"] - c["begun"] >= 0.305 for c in created)
    one, two, three = created
    assert max(one["begun"], two["begun"]) < min(one["answered"], two["answered"])  # at once
    assert three["begun"] >= max(one["answered"], two["answered"])  # in turn
    assert sim.calls()["answered"]["CreateFolder"] == 3
