"""``vmwctl image ostypes``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import table


@dataclass
class OsType:
    id: str
    name: str


def _human(types: Any) -> Any:
    return table(None, ("VMWARE_OSTYPE", "RETAIL NAME"), [(t.id, t.name) for t in types])


@click.command("ostypes")
@click.argument("pattern", required=False)
@click.pass_obj
def ostypes_command(app: App, pattern: str | None) -> None:
    """List the valid vmware_ostype values with their retail names.

    PATTERN filters by a case-insensitive substring of the id or the name
    (shell-style wildcards * and ? work too).
    """
    import fnmatch

    from vmwctl.images.ostypes import OS_TYPES

    def wanted(key: str, name: str) -> bool:
        if not pattern:
            return True
        glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
        return any(fnmatch.fnmatchcase(text.lower(), glob.lower()) for text in (key, name))

    app.render([OsType(k, v) for k, v in sorted(OS_TYPES.items(), key=lambda i: i[0].lower())
                if wanted(k, v)], _human)
