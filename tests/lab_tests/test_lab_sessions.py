"""The lab simulator's list of live vCenter sessions (GET /lab/sessions), and the test
suite's use of it: a vmwctl run that leaves a session logged in fails its test
(tests/sessionwatch.py)."""

from __future__ import annotations

import pytest
import sessionwatch

from vmwctl.vsphere.session import ConnectionSettings, VCenter

pytestmark = pytest.mark.lab


def test_sessions_are_listed_from_login_to_logout(simulator) -> None:
    sim = simulator()
    assert sim.sessions() == []  # the simulator's own in-process client never logs in
    vc = sim.connect()
    vc.content.rootFolder.childEntity  # noqa: B018 (a read in the session)
    [session] = sim.sessions()
    assert session["key"] == sessionwatch.session_key(vc)
    assert session["userName"] == sim.username
    assert session["userAgent"].startswith("pyvmomi")
    assert session["ipAddress"] == "127.0.0.1"
    assert session["loginTime"] <= session["lastActiveTime"]
    assert sim.sessions() == [session]  # reading the list is no activity of any session
    admin = sim.connect()
    admin.content.about  # noqa: B018
    assert [s["key"] for s in sim.sessions()] == [session["key"], sessionwatch.session_key(admin)]
    vc.close()
    assert [s["key"] for s in sim.sessions()] == [sessionwatch.session_key(admin)]


def test_a_vmwctl_run_logs_out(simulator) -> None:
    sim = simulator()
    assert sim.run("about").exit_code == 0
    assert sim.run("check", "prereqs", "-o", "json").exit_code in (0, 1)
    assert sim.sessions() == []


def test_a_session_left_behind_fails_the_test(simulator) -> None:
    """What the suite's watch does when a command leaves its session: fails the test,
    naming the command and the session's user agent; a session of the test's own
    (Simulator.connect) is not the command's."""
    sim = simulator()
    own = sim.connect()
    leaked = VCenter(ConnectionSettings(host="127.0.0.1", port=sim.port,
                                        username=sim.username,
                                        password=lambda: sim.lab.password,
                                        ca_file=sim.lab.ca_file))
    try:
        with pytest.raises(pytest.fail.Exception) as failure, \
                sessionwatch.no_leaked_sessions(["cluster", "list"]):
            own.connect()
            leaked.connect()
        message = str(failure.value)
        assert "vmwctl cluster list left its vCenter session logged in" in message
        assert "userAgent 'pyvmomi" in message
        assert f"session {sessionwatch.session_key(leaked)[:8]}..." in message
        assert sessionwatch.session_key(own)[:8] not in message  # the test's own
        with sessionwatch.no_leaked_sessions(["about"]):
            leaked.close()  # a session that ends during the command is no leak
    finally:
        leaked.close()


def test_connecting_again_logs_the_first_session_out(simulator) -> None:
    sim = simulator()
    vc = sim.connect()
    vc.connect()
    first = sessionwatch.session_key(vc)
    vc.connect()
    second = sessionwatch.session_key(vc)
    assert first != second
    assert [s["key"] for s in sim.sessions()] == [second]
    vc.close()
    assert sim.sessions() == []
