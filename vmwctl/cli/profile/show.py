"""``vmwctl profile show``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.completers import complete_profile_name
from vmwctl.cli.options import nonempty


def _human(view: Any) -> str:
    from vmwctl.profile.yamlfile import dump_yaml

    header = [f"# profile {view.name} from {view.source}"]
    if view.password_source:
        header.append(f"# password from {view.password_source}")
    for key, origin in view.origins.items():
        if origin != "file":
            header.append(f"# {key} from {origin}")
    return "\n".join(header) + "\n" + dump_yaml(view.profile)


@click.command("show")
@click.argument("name", required=False, shell_complete=complete_profile_name,
                callback=nonempty("a profile ('vmwctl profile list' shows them)",
                                  "for the selected one"))
@click.pass_obj
def show_command(app: App, name: str | None) -> None:
    """Show a profile (default: the selected one) with Nova's defaults filled in.

    Passwords are never shown.
    """
    from vmwctl.profile.manage import show_profile

    app.render(show_profile(app.load_profile(name), app.env), _human)
