"""Option types shared by commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from vmwctl.common.choices import choose
from vmwctl.errors import UsageError


class CanonicalChoice(click.ParamType):
    """One of Nova's values, in any case, turned into Nova's canonical spelling.

    ``streamoptimized`` becomes ``streamOptimized``; anything else is refused
    with the list of valid values and a "did you mean".
    """

    def __init__(self, choices: Sequence[str], what: str, *, listing: str | None = None) -> None:
        self.choices = list(choices)
        self.what = what
        self.listing = listing
        self.name = what

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices) + "]"

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices if c.lower().startswith(
            incomplete.lower())]

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            return choose(str(value), self.choices, self.what, listing=self.listing)
        except UsageError as exc:
            self.fail(exc.message, param, ctx)


cluster_option = click.option(
    "--cluster", metavar="NAME",
    help="The cluster (default: the profile's vmware.cluster_name).")
