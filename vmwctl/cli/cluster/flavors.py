"""The flavor options ``cluster fit`` and ``check prereqs`` share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def flavor_source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--flavors-from", type=click.Choice(["api"]),
        help="The flavors of the compute API, through the profile's cloud.")(command)
    return click.option(
        "--flavors-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
        help="The flavors of 'openstack flavor list --long -f json' output.")(command)


def load_flavors(app: Any, names: list[str], flavors_file: Path | None,
                 flavors_from: str | None, *, required: bool = True) -> list[Any]:
    """The flavors named (written out, or looked up in the file or API), or all listed.
    Without names or a source: none, or a usage error when ``required``."""
    from vmwctl.errors import UsageError
    from vmwctl.nova.flavors import choose, flavors_from_api, flavors_from_file

    if flavors_file is not None and flavors_from is not None:
        raise UsageError("give --flavors-file or --flavors-from, not both")
    if not required and not names and flavors_file is None and flavors_from is None:
        return []
    listed = None
    if flavors_file is not None:
        listed = flavors_from_file(flavors_file)
    elif flavors_from == "api":
        listed = flavors_from_api(app.images.connection, app.images.cloud)
    return choose(names, listed)
