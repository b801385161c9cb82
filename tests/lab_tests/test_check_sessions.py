"""``check prereqs``' sessions check on the lab's simulator: the service account's
sessions counted from one read of SessionManager, the warning above --max-sessions, a
refused read that degrades to a skip, and --max-sessions' bad values."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def sessions_result(sim, *args: str) -> tuple[int, dict]:
    result = sim.run("check", "prereqs", "--only", "sessions", "-o", "json", *args)
    [check] = result.json()["checks"]
    assert check["id"] == "sessions"
    return result.exit_code, check


def test_the_accounts_sessions_pass_with_their_count(simulator) -> None:
    sim = simulator()
    code, check = sessions_result(sim)
    assert code == 0
    assert check["status"] == "pass"
    assert check["detail"] == f"{sim.username} holds 1 vCenter session, this one (vmwctl's)"
    [agent] = check["objects"]
    assert agent.startswith("1 from pyvmomi")
    vc = sim.connect()
    vc.content.rootFolder.childEntity  # noqa: B018 (the test's session, idle from now on)
    code, check = sessions_result(sim)
    assert (code, check["status"]) == (0, "pass")
    assert check["detail"].startswith(f"{sim.username} holds 2 vCenter sessions (vmwctl's own "
                                      "included), the longest idle for ")
    short = agent.removeprefix("1 from ").split(" (")[0]  # without the platform comment
    assert check["detail"].endswith(f"; by user agent: 2 from {short}")
    assert check["objects"] == [agent.replace("1 from", "2 from", 1)]
    assert [s["key"] for s in sim.sessions()] == [vc.session_cookie.split("=", 1)[1].strip('"')]


def test_more_sessions_than_max_sessions_warn(simulator) -> None:
    sim = simulator()
    held = [sim.connect() for _ in range(3)]
    for vc in held:
        vc.content.about  # noqa: B018 (logs in)
    code, check = sessions_result(sim, "--max-sessions", "3")
    assert code == 0  # a warning; --strict makes it fail
    assert check["status"] == "warn"
    assert check["detail"].startswith(f"{sim.username} holds 4 vCenter sessions (more than "
                                      "3), the longest idle for ")
    assert "this is how a nova-compute that leaks sessions shows" in check["detail"]
    assert check["remedy"].startswith("restart the nova-compute service that holds them")
    assert check["objects"][0].startswith("4 from pyvmomi")
    code, check = sessions_result(sim, "--max-sessions", "3", "--strict")
    assert (code, check["status"]) == (1, "warn")
    code, check = sessions_result(sim, "--max-sessions", "4")
    assert (code, check["status"]) == (0, "pass")


def test_a_refused_read_of_the_sessions_is_a_skip_not_a_crash(simulator) -> None:
    """The inventory read scoped to the cluster is the first two RetrievePropertiesEx (the
    tree, the cluster); the sessions' read, the third, is answered with a fault."""
    sim = simulator("-fail-method", "RetrievePropertiesEx:3")
    code, check = sessions_result(sim)
    assert code == 0
    assert check["status"] == "skip"
    assert check["detail"].startswith("cannot read vCenter's sessions (")
    assert "needs Sessions.TerminateSession" in check["detail"]
    assert sim.calls()["begun"]["RetrievePropertiesEx"] == 3


def test_the_check_costs_one_read(simulator) -> None:
    sim = simulator()
    without = sim.run("check", "prereqs", "--skip", "sessions", "-o", "json").json()
    with_it = sim.run("check", "prereqs", "-o", "json").json()
    assert with_it["vsphere_requests"] == without["vsphere_requests"] + 1


@pytest.mark.parametrize("value", ["0", "-1", "many", ""])
def test_bad_max_sessions_are_usage_errors_before_any_call(simulator, value: str) -> None:
    sim = simulator()
    result = sim.run("check", "prereqs", "--max-sessions", value)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--max-sessions" in result.stderr
    assert sim.calls()["begun"] == {}
