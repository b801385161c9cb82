"""Edges a new user meets without a vCenter: a selection that leaves nothing to check."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_config

PROFILES = """\
default_profile: prod
profiles:
  prod:
    vmware: {host_ip: 127.0.0.1, host_port: 9, host_username: u, api_retry_count: 0,
             cluster_name: C1}
  dev:
    vmware: {host_ip: vc2.example.com, host_username: u}
"""


def one_line_error(result) -> str:
    """The one line a usage error prints; nothing on stdout."""
    assert result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


# ------------------------------------------------------------------ item 1: nothing to check

@pytest.mark.parametrize(("argv", "line"), [
    (["--only", "nova-conf"],
     "Error: --only nova-conf leaves no check to run: the nova-conf checks need "
     "--nova-conf FILE"),
    (["--only", "network", "--skip", "network"],
     "Error: --only network --skip network leaves no check to run; ids: vcenter, cluster, drs, "
     "shared-storage, datastores, dedicated, network, vnc-firewall, privileges, hosts, "
     "image-cache, nova-conf"),
])
def test_a_selection_that_leaves_no_check_is_a_usage_error_before_connecting(
        vmwctl, isolated_environment: Path, argv: list[str], line: str) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)  # unreachable vCenter
    result = vmwctl("check", "prereqs", *argv)
    assert result.exit_code == 2, result.stderr
    assert one_line_error(result) == line


def test_skipping_every_check_is_a_usage_error(vmwctl, isolated_environment: Path) -> None:
    from vmwctl.checks.prereqs import CHECK_IDS

    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("check", "prereqs", "--skip", ",".join(CHECK_IDS), "-o", "json")
    assert result.exit_code == 2
    message = result.json()["error"]["message"]
    assert message.startswith("--skip vcenter,cluster,")
    assert "leaves no check to run" in message
