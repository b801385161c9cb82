"""The lab's own lifecycle, and vmwctl's exit codes for SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import labctl
import pytest

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def slow_vcenter(lab) -> Iterator[str]:
    """A second simulator that answers every call after 20 s; yields a profile for it."""
    state_dir = Path(lab.dir)
    service, ready = labctl.start_vcsim(state_dir, "healthy", extra_args=["-delay", "20000"],
                                        tie_to_parent=True, name="vcsim-slow")
    port = ready["url"].split(":")[2].split("/")[0]
    config = state_dir / "slow.yaml"
    config.write_text(
        "profiles:\n  slow:\n    vmware:\n"
        f"      host_ip: 127.0.0.1\n      host_port: {port}\n"
        f"      host_username: {lab.username}\n      host_password_file: {lab.password_file}\n"
        f"      ca_file: {lab.ca_file}\n")
    config.chmod(0o600)
    try:
        yield str(config)
    finally:
        labctl.stop_process(service.pid)


@pytest.mark.parametrize(("signum", "code", "message"), [
    (signal.SIGTERM, 143, "Error: terminated"),
    (signal.SIGINT, 130, "Error: interrupted"),
])
def test_signals_during_a_call(slow_vcenter: str, signum: int, code: int, message: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "vmwctl", "--config", slow_vcenter, "about"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # the first SOAP call is now waiting on the slow simulator
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
