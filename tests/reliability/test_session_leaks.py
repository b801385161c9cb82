"""vmwctl never leaves its vCenter session logged in: not when Ctrl-C or SIGTERM comes
in the middle of a vSphere call, during the login or during the logout, not when the
connection is lost, not when writing the result fails.

vmwctl runs as a real process (``python -m vmwctl``); the simulator holds a call with
-method-delay and the test acts once the call is under way (never a sleep that guesses the
moment). After each, the simulator's session list (GET /lab/sessions) is what it was
before: the test's own session stays, no other is left. SIGKILL cannot log out (nothing
runs); vCenter ends such a session after its idle timeout (docs/reliability.md).

Complements tests/sessionwatch.py, which holds every command the suite runs through
run_vmwctl, run_process and Simulator.run to the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import wait_until, write_profile

pytestmark = pytest.mark.lab

SIGNALS = [pytest.param(signal.SIGINT, 130, "Error: interrupted", id="SIGINT"),
           pytest.param(signal.SIGTERM, 143, "Error: terminated", id="SIGTERM")]
HELD = 30000  # ms: a call the test interrupts is held far longer than the test needs


def start(config: Path | str, *args: str, stdout: int | object = subprocess.PIPE
          ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vmwctl", "--config", str(config), *args],
                            stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=os.environ.copy())


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """The exit status and stderr's lines (the blank line after a terminal's ^C left out)."""
    _, stderr = process.communicate(timeout=60)
    return process.returncode, "\n".join(line for line in stderr.splitlines() if line.strip())


def keys(sim) -> list[str]:
    return [session["key"] for session in sim.sessions()]


def with_own_session(sim) -> list[str]:
    """A session of the test's own, which must stay; the session list with it."""
    sim.connect().connect()
    before = keys(sim)
    assert len(before) == 1
    return before


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS)
def test_a_signal_during_a_call_logs_out(simulator, signum: int, code: int,
                                         message: str) -> None:
    sim = simulator("-method-delay", f"RetrievePropertiesEx:{HELD}")
    before = with_own_session(sim)
    process = start(sim.config, "cluster", "list")
    wait_until(lambda: sim.under_way("RetrievePropertiesEx"), process,
               what="the inventory read under way")
    assert len(keys(sim)) == 2  # vmwctl's session, logged in
    process.send_signal(signum)
    assert finish(process) == (code, message)
    assert keys(sim) == before


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS)
def test_a_signal_in_a_worker_threads_call_logs_out(simulator, signum: int, code: int,
                                                    message: str) -> None:
    """check prereqs gathers in threads: the privileges check's call is held in one."""
    sim = simulator("-method-delay", "HasPrivilegeOnEntities:3000")
    before = with_own_session(sim)
    process = start(sim.config, "check", "prereqs", "--only", "privileges")
    wait_until(lambda: sim.under_way("HasPrivilegeOnEntities"), process,
               what="the privileges read under way")
    process.send_signal(signum)
    assert finish(process) == (code, message)
    assert keys(sim) == before


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS)
def test_a_signal_during_the_login_logs_out_once_logged_in(simulator, signum: int, code: int,
                                                          message: str) -> None:
    """vCenter opens the session whether or not the client is still there to get its
    cookie: vmwctl finishes the login, then logs out, then stops."""
    sim = simulator("-method-delay", "Login:3000")
    before = with_own_session(sim)
    process = start(sim.config, "about")
    wait_until(lambda: sim.under_way("Login"), process, what="the login under way")
    process.send_signal(signum)
    assert finish(process) == (code, message)
    wait_until(lambda: not sim.under_way("Login"), what="the login answered")
    assert keys(sim) == before


@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS)
def test_a_second_signal_during_the_logout_waits_for_it(simulator, signum: int, code: int,
                                                       message: str) -> None:
    """Ctrl-C twice (or SIGTERM after it): the logout is not cut short, no traceback."""
    sim = simulator("-method-delay", f"RetrievePropertiesEx:{HELD},Logout:2000")
    before = with_own_session(sim)
    process = start(sim.config, "cluster", "list")
    wait_until(lambda: sim.under_way("RetrievePropertiesEx"), process,
               what="the inventory read under way")
    process.send_signal(signal.SIGINT)
    wait_until(lambda: sim.under_way("Logout"), process, what="the logout under way")
    process.send_signal(signum)
    assert finish(process) == (130, "Error: interrupted")
    assert sim.calls()["answered"]["Logout"] == 1  # answered before vmwctl ended
    assert keys(sim) == before


@pytest.mark.parametrize(("retries", "code"), [(0, 3), (1, 0)])
def test_a_lost_connection_logs_out(simulator, tmp_path: Path, retries: int,
                                    code: int) -> None:
    """The connection is reset during a call: vmwctl gives up (exit 3) or retries, and
    logs out through a new connection either way."""
    sim = simulator("-method-delay", "RetrievePropertiesEx:2000")
    before = with_own_session(sim)
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "proxied.yaml", port=proxy.port,
                               api_retry_count=retries)
        process = start(config, "cluster", "list", "-o", "json")
        wait_until(lambda: sim.under_way("RetrievePropertiesEx"), process,
                   what="the inventory read under way")
        proxy.cut_all()
        returncode, stderr = finish(process)
    assert returncode == code, stderr
    if code:
        assert "broke off during RetrievePropertiesEx" in stderr or \
            "failed during RetrievePropertiesEx" in stderr, stderr
    assert keys(sim) == before


def test_a_failed_write_of_the_result_logs_out(simulator) -> None:
    """The result cannot be written (a full disk: /dev/full): exit 1, logged out all the
    same. The path every unexpected error takes (RootGroup._run, then App.close)."""
    sim = simulator()
    before = with_own_session(sim)
    with open("/dev/full", "w") as full:
        process = start(sim.config, "cluster", "list", stdout=full)
        returncode, stderr = finish(process)
    assert returncode == 1, stderr
    assert "No space left on device" in stderr
    assert "Traceback" not in stderr
    assert keys(sim) == before
