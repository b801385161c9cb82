"""``vmwctl about``: what the vCenter is and who this session is."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App


def _human(info: Any) -> Any:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("URL", info.url),
        ("Product", info.product),
        ("Version", f"{info.version} (build {info.build})"),
        ("API", f"{info.api_type} {info.api_version}"),
        ("Instance UUID", info.instance_uuid or "-"),
        ("Session user", info.session_user or "-"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


@click.command("about")
@click.pass_obj
def about(app: App) -> None:
    """Show the vCenter's product, version, build, API and instance UUID, and the session user.

    JSON keys (-o json): url, product, name, vendor, version, build, api_type,
    api_version, instance_uuid, product_line_id, os_type, session_user.
    """
    from vmwctl.vsphere.about import read_about

    app.render(read_about(app.vcenter), _human)
