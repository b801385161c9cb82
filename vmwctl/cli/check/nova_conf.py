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

    compute_driver, the required [vmware] options, reserved_host_memory_mb,
    insecure without ca_file, removed and deprecated options, datastore_regex;
    online also: cluster_name exists, the regex selects a datastore, and the
    hosts' firewalls open the vnc_port range. Exit status 1 when a check fails.
    """
    from vmwctl.checks.prereqs import run_nova_conf

    if offline:
        report = run_nova_conf(None, None, nova_conf)
    else:
        report = run_nova_conf(app.vcenter, app.profile, nova_conf)
    app.render(report, render_report)
    return report.exit_code(strict=strict)
