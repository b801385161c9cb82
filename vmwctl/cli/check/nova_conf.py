"""``vmwctl check nova-conf``."""

from __future__ import annotations

from pathlib import Path

import click

from vmwctl.cli.app import App
from vmwctl.cli.check.render import render_report


@click.command("nova-conf")
@click.argument("nova_conf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Check the file alone, without the vCenter.")
@click.option("--strict", is_flag=True, help="Exit 1 on a warning too.")
@click.pass_obj
def nova_conf_command(app: App, nova_conf: Path, offline: bool, strict: bool) -> int:
    """Check a nova.conf as Nova's VMware driver reads it.

    Every option set, against Nova's own definitions and as oslo.config parses
    it: invalid values, unknown names, removed and deprecated options. Then
    compute_driver, the required [vmware] options, reserved_host_memory_mb,
    TLS, the vCenter connection, the image cache folder, the consoles, storage
    policies and datastore_regex; online also: cluster_name exists, the regex
    selects a datastore, the hosts' firewalls open the vnc_port range, and the
    share of the cluster's memory reserved_host_memory_mb hides. Exit status 1
    when a check fails.
    """
    from vmwctl.checks.prereqs import run_nova_conf

    if offline:
        report = run_nova_conf(None, None, nova_conf)
    else:
        report = run_nova_conf(app.vcenter, app.profile, nova_conf)
    app.render(report, render_report)
    return report.exit_code(strict=strict)
