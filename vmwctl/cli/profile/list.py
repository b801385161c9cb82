"""``vmwctl profile list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import table


def _human(listing: Any) -> Any:
    rows = []
    for p in listing.profiles:
        mark = ("*" if p.selected else "") + ("d" if p.default else "")
        vcenter = f"{p.host}:{p.port}" if p.host else None
        status = "ok" if p.valid else f"invalid: {p.problem}"
        rows.append((mark, p.name, vcenter, p.username, p.cluster, p.availability_zone, status))
    return table(f"Profiles in {listing.config_file or 'the environment (GOVC_*)'}",
                 ("", "NAME", "VCENTER", "USER", "CLUSTER", "ZONE", "STATUS"), rows,
                 caption="* selected, d default_profile")


@click.command("list")
@click.pass_obj
def list_command(app: App) -> None:
    """List the profiles of the config file, marking the selected and the default one."""
    from vmwctl.profile.manage import list_profiles

    listing = list_profiles(app.config_option, app.profile_option, app.env)
    for warning in listing.warnings:
        app.out.warn(warning)
    app.render(listing, _human)
