"""``vmwctl role create``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.options import ClusterFlag, cluster_option


def _human(result: Any) -> str:
    verb = {"created": "would be created", "updated": "would be updated",
            "unchanged": "already holds exactly the guide's privileges"} \
        if result.dry_run else {"created": "created", "updated": "updated",
                                "unchanged": "already holds exactly the guide's privileges"}
    lines = [f"role {result.role}: {verb[result.role_action]}"
             + (f" (+{len(result.added)} -{len(result.removed)} privileges)"
                if result.role_action == "updated" else "")]
    if result.principal:
        grant = {"granted": "granted", "updated": "changed to this role",
                 "unchanged": "already granted"}[result.grant_action]
        prefix = "would be " if result.dry_run and result.grant_action != "unchanged" else ""
        lines.append(f"permission for {result.principal} on {result.datacenter} (propagated): "
                     f"{prefix}{grant}")
    if not result.changed:
        lines.append("nothing would change" if result.dry_run else "nothing changed")
    return "\n".join(lines)


@click.command("create")
@click.option("--name", default="openstack-nova", show_default=True, help="Role name.")
@click.option("--grant", "principal", metavar="PRINCIPAL",
              help="Also give the role to this user on the Datacenter, propagated.")
@click.option("--group", is_flag=True, help="PRINCIPAL is a group.")
@click.option("--datacenter", metavar="NAME", help="The Datacenter (default: the cluster's).")
@cluster_option
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.pass_obj
def create_command(app: App, name: str, principal: str | None, group: bool,
                   datacenter: str | None, cluster: ClusterFlag, dry_run: bool) -> None:
    """Create (or update) a role holding exactly the guide's 44 privileges.

    With --grant, set a permission for the principal on the Datacenter with
    propagation, as the guide prescribes. Running it again changes nothing.
    """
    from vmwctl.privileges.held import pick_datacenter
    from vmwctl.privileges.roles import ensure_role
    from vmwctl.vsphere.snapshot import read_inventory

    vc = app.vcenter
    dc = None
    inventory = read_inventory(vc)
    found = cluster.resolve(inventory, required=False, lenient=True)
    if principal:
        dc = pick_datacenter(inventory, datacenter, found.name if found else None)
    result = ensure_role(vc, inventory, name, principal=principal, group=group, datacenter=dc,
                         dry_run=dry_run)
    app.render(result, _human)
