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
    return table("VMs" if listing.all else "VMs spawned by vmwctl",
                 ("NAME", "OWNER", "POWER", "HOST", "VNC", "IMAGE", "AGE"),
                 [(v.name, v.owner, v.power_state or "-", v.host or "-", v.vnc_port or "-",
                   v.image_id or "-", _age(v.age_seconds)) for v in listing.vms])


@click.command("list")
@click.option("--all", "everything", is_flag=True,
              help="Every VM: also Nova's (nvp.vm-uuid) and the others.")
@click.pass_obj
def list_command(app: App, everything: bool) -> None:
    """List the VMs vmwctl spawned: power state, host, VNC port, image and age."""
    import datetime as dt

    from vmwctl.vm.manage import list_vms
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(app.vcenter)
    app.render(list_vms(inventory, everything=everything, now=dt.datetime.now(dt.UTC)), _human)
