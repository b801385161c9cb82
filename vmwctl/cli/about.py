"""``vmwctl about``: what the vCenter is and who this session is."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details


def _human(info: Any) -> Any:
    return details([
        ("URL", info.url),
        ("Product", info.product),
        ("Version", f"{info.version} (build {info.build})"),
        ("API", f"{info.api_type} {info.api_version}"),
        ("Instance UUID", info.instance_uuid),
        ("Session user", info.session_user),
    ])


@click.command("about")
@click.pass_obj
def about(app: App) -> None:
    """Show the vCenter's product, version, build, API and instance UUID, and the session user.

    JSON keys (-o json): url, product, name, vendor, version, build, api_type,
    api_version, instance_uuid, product_line_id, os_type, session_user.
    """
    from vmwctl.vsphere.about import read_about

    app.render(read_about(app.vcenter), _human)
