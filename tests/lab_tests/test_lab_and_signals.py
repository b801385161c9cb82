"""The lab's own lifecycle, and vmwctl's exit codes for SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import labctl
import pytest

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def slow_vcenter(module_simulator) -> Any:
    """A simulator of its own that answers every call after 20 s."""
    return module_simulator("-delay", "20000")


@pytest.mark.parametrize(("signum", "code", "message"), [
    (signal.SIGTERM, 143, "Error: terminated"),
    (signal.SIGINT, 130, "Error: interrupted"),
])
def test_signals_during_a_call(slow_vcenter, signum: int, code: int, message: str) -> None:
    def begun() -> int:
        return sum(slow_vcenter.calls()["begun"].values())

    before = begun()  # the other signal's call may still be held
    proc = subprocess.Popen([sys.executable, "-m", "vmwctl", "--config",
                             str(slow_vcenter.config), "about"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while begun() == before:  # until vmwctl's first SOAP call is held by the simulator
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == code
    assert stderr.strip() == message
    assert stdout == ""


def test_lab_up_and_down_leave_nothing_running(tmp_path: Path) -> None:
    state = labctl.up(tmp_path / "lab", scenario="fresh", tie_to_parent=True)
    try:
        pids = [s.pid for s in state.services]
        assert all(labctl._alive(pid) for pid in pids)
        assert labctl.status(tmp_path / "lab")["running"] is True
        assert state.glance_flat_url is None
        assert os.stat(state.password_file).st_mode & 0o077 == 0
        # the fresh scenario: DRS off
        from pyVmomi import vim

        from vmwctl.vsphere.inventory import collect
        from vmwctl.vsphere.session import ConnectionSettings, VCenter

        vc = VCenter(ConnectionSettings(host=state.vcenter_host, port=state.vcenter_port,
                                        username=state.username,
                                        password=lambda: state.password,
                                        ca_file=state.ca_file))
        try:
            cluster = collect(vc, {vim.ClusterComputeResource: ["configurationEx"]})[0]
            assert cluster.get("configurationEx").drsConfig.enabled is False
        finally:
            vc.close()
    finally:
        assert labctl.down(tmp_path / "lab") is True
    assert not any(labctl._alive(pid) for pid in pids)
    assert labctl.status(tmp_path / "lab")["running"] is False
    datastores = list((tmp_path / "lab" / "vcsim-datastores").iterdir())
    assert datastores == []  # the simulator removed its datastore directories on exit
