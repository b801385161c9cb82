"""``vmwctl firewall vib install``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.common.words import plural


def _human(report: Any) -> Any:
    from rich.console import Group

    from vmwctl.cli.firewall.status import status_table
    from vmwctl.cli.format import table

    rows = []
    planned = "would install" if report.dry_run else "planned"
    for h in report.hosts:
        level = h.acceptance_before or "-"
        if h.acceptance_after and h.acceptance_after != h.acceptance_before:
            level = f"{h.acceptance_before} -> {h.acceptance_after}"
        rows.append((h.host, level, planned if h.install == "planned" else h.install,
                     ", ".join(h.rulesets_enabled) or "-", h.reason or "-"))
    title = f"{report.vib_id} on cluster {report.cluster}" + (
        " (dry run: nothing changed)" if report.dry_run else "")
    read = "would read" if report.dry_run else "read"
    parts: list[Any] = [table(title, ("HOST", "ACCEPTANCE", "INSTALL", "RULESETS ENABLED",
                                      "WHY"), rows), f"the hosts {read} it from {report.host_path}"]
    if report.status is not None:
        parts.append(status_table(report.status))
    if report.failures:
        parts.append(f"failed on {plural(len(report.failures), 'host')}: "
                     f"{', '.join(report.failures)}")
    return Group(*parts)


@click.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datastore", metavar="NAME",
              help="Datastore to upload the VIB to (default: the one every host mounts with "
                   "the most free space).")
@cluster_option
@click.option("--dry-run", is_flag=True, help="Show what would happen on each host.")
@click.option("--yes", "-y", is_flag=True,
              help="Lower hosts' image acceptance level without asking.")
@click.pass_obj
def install_command(app: App, file: Path, datastore: str | None, cluster: ClusterFlag,
                    dry_run: bool, yes: bool) -> int:
    """Install a VIB on every connected host of the cluster, through the vSphere API.

    Validates the VIB, uploads it to a datastore the hosts share, lowers each
    host's image acceptance level to the VIB's where needed (asking first on
    a terminal; --yes for scripts), installs it (HostPatchManager), refreshes
    the firewall and enables the VIB's rulesets, then shows the status for the
    VIB's ports. A host that lists the same VIB already is not reinstalled.
    One host failing does not stop the others. Exit status 1 when a host
    failed or still has a gap.
    """
    from vmwctl.common.interrupts import deferred_signals, immediate_signals
    from vmwctl.errors import UsageError
    from vmwctl.firewall.hosts import FAILED, firewall_status, install_vib
    from vmwctl.firewall.vib import inspect_vib
    from vmwctl.vsphere.snapshot import read_inventory

    vib = inspect_vib(file)
    if not vib.valid:
        raise UsageError(f"{file} is not a valid VIB: {'; '.join(vib.problems)} (see 'vmwctl "
                         "firewall vib inspect')")
    vc = app.vcenter
    inventory = read_inventory(vc)
    target = cluster.resolve(inventory)

    def approve(hosts: list[str]) -> bool:
        with immediate_signals(stopper):
            return app.confirm(f"Lower the image acceptance level of {plural(len(hosts), 'host')} "
                               f"({', '.join(hosts)}) to {vib.acceptance_level}?", yes=yes)

    with deferred_signals() as stopper:
        report = install_vib(vc, inventory, target, vib, file, datastore=datastore,
                             approve_acceptance=approve, dry_run=dry_run, stopper=stopper)
        ports = sorted({(rule["begin"], rule["end"]) for r in vib.rulesets for rule in r.rules
                        if rule["direction"] == "inbound" and rule["protocol"] == "tcp"})
        if ports and not dry_run and not stopper.requested:
            report.status = firewall_status(vc, read_inventory(vc), target, ports)
        return app.finish_batch(report, _human, [f"{h.host}: {h.reason}" for h in report.hosts
                                                 if h.install in FAILED], stopper=stopper,
                                failed=bool(report.status and report.status.hosts_with_gaps))
