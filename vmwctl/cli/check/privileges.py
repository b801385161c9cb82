"""``vmwctl check privileges``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import table
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.errors import EXIT_FAILED, EXIT_OK, UsageError


def _human(report: Any, remedy: str | None) -> Any:
    from rich.console import Group

    subject = {"session": f"the session user {report.subject}",
               "role": f"role {report.subject}",
               "principal": f"principal {report.subject}"}[report.mode]
    where = f" on {report.entity}" if report.entity else ""
    if report.ok:
        lines = f"{subject} holds all {report.required} privileges of the guide{where}"
        return "\n".join([lines, *report.notes])
    rows = [("missing", p.group, p.label, p.id) for p in report.missing]
    rows += [("not propagated", p.group, p.label, p.id) for p in report.not_propagated]
    caption = "; ".join([f"{subject}{where}: {len(report.missing)} of {report.required} missing",
                         *report.notes])
    return Group(table(None, ("PROBLEM", "GROUP", "PRIVILEGE (GUIDE)", "ID"), rows,
                       caption=caption), f"remedy: {remedy}")


@click.command("privileges")
@click.option("--principal", metavar="USER",
              help="Check what the permissions give this user (not the session's own).")
@click.option("--role", metavar="NAME", help="Check a role definition instead.")
@click.option("--datacenter", metavar="NAME", help="The Datacenter (default: the cluster's).")
@cluster_option
@click.pass_obj
def privileges_command(app: App, principal: str | None, role: str | None,
                       datacenter: str | None, cluster: ClusterFlag) -> int:
    """Check the guide's 44 privileges on the Datacenter, propagated to its children.

    Without options: what the session's own account holds. --role NAME: what
    a role definition lacks. --principal USER: what the permissions on the
    Datacenter and its ancestors give that user. Exit status 1 when any is
    missing, with the 'vmwctl role create' that grants them.
    """
    from vmwctl.checks.prereqs import privileges_remedy
    from vmwctl.cli.output import to_data
    from vmwctl.privileges import held as priv
    from vmwctl.vsphere.snapshot import read_inventory

    if principal and role:
        raise UsageError("--principal and --role exclude each other")
    vc = app.vcenter
    if role:
        report = priv.role_privileges(vc, role)
    else:
        inventory = read_inventory(vc)
        found = cluster.resolve(inventory, required=False, lenient=True)
        dc = priv.pick_datacenter(inventory, datacenter, found.name if found else None)
        if principal:
            report = priv.principal_privileges(vc, inventory, dc, principal)
        else:
            child = found.moid if found and found.datacenter == dc else None
            report = priv.session_privileges(vc, inventory, dc, child)
    remedy = privileges_remedy(report, datacenter)
    app.render({**to_data(report), "remedy": remedy}, lambda _: _human(report, remedy))
    return EXIT_OK if report.ok else EXIT_FAILED
