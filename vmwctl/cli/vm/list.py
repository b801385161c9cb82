"""``vmwctl vm list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _human(listing: Any) -> Any:
    from vmwctl.cli.format import table

    if not listing.vms:
        return "no VMs spawned by vmwctl" + ("" if listing.all else " (--all lists every VM)")
    named = any(v.image_name for v in listing.vms)
    columns = ["NAME", "OWNER", "POWER", "HOST", "VNC", "IMAGE", "IMAGE NAME", "AGE"]
    rows = [[v.name, v.owner, v.power_state, v.host, v.vnc_port, v.image_id, v.image_name,
             _age(v.age_seconds)] for v in listing.vms]
    # without --all every VM is vmwctl's; without the image service no image has a name
    dropped = {"OWNER"} if not listing.all else set()
    dropped |= set() if named else {"IMAGE NAME"}
    keep = [i for i, column in enumerate(columns) if column not in dropped]
    return table("VMs" if listing.all else "VMs spawned by vmwctl",
                 [columns[i] for i in keep], [[row[i] for i in keep] for row in rows],
                 whole=("NAME", "IMAGE"))


@click.command("list")
@click.option("--all", "everything", is_flag=True,
              help="Every VM: also Nova's (nvp.vm-uuid) and the others.")
@click.option("--no-glance", is_flag=True, help="Do not ask the image service for names.")
@click.pass_obj
def list_command(app: App, everything: bool, no_glance: bool) -> None:
    """List the VMs vmwctl spawned: power state, host, VNC port, image and age.

    The image's name comes from the image service when it answers.
    """
    import datetime as dt

    from vmwctl.cli.cache.shared import glance_names
    from vmwctl.vm.manage import list_vms
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(app.vcenter)
    listing = list_vms(inventory, everything=everything, now=dt.datetime.now(dt.UTC))
    if any(v.image_id for v in listing.vms):
        names = glance_names(app, not no_glance) or {}
        for row in listing.vms:
            row.image_name = names.get(row.image_id) if row.image_id else None
    app.render(listing, _human)
