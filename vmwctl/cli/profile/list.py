"""``vmwctl profile list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App


def _human(listing: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"Profiles in {listing.config_file or 'the environment (GOVC_*)'}",
                  title_justify="left")
    for column in ("", "NAME", "VCENTER", "USER", "CLUSTER", "ZONE", "STATUS"):
        table.add_column(column)
    for p in listing.profiles:
        mark = ("*" if p.selected else "") + ("d" if p.default else "")
        vcenter = f"{p.host}:{p.port}" if p.host else "-"
        status = "ok" if p.valid else f"invalid: {p.problem}"
        table.add_row(mark, p.name, vcenter, p.username or "-", p.cluster or "-",
                      p.availability_zone or "-", status)
    table.caption = "* selected, d default_profile"
    return table


@click.command("list")
@click.pass_obj
def list_command(app: App) -> None:
    """List the profiles of the config file, marking the selected and the default one."""
    from vmwctl.profiles import list_profiles

    app.render(list_profiles(app.config_option, app.profile_option, app.env), _human)
