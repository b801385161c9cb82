"""Option types shared by commands."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import click


class CanonicalChoice(click.ParamType):
    """One of Nova's values, in any case, turned into Nova's canonical spelling.

    ``streamoptimized`` becomes ``streamOptimized``; anything else is refused
    with the list of valid values and a "did you mean".
    """

    def __init__(self, choices: Sequence[str], what: str) -> None:
        self.choices = list(choices)
        self.what = what
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
        text = str(value)
        for choice in self.choices:
            if choice.lower() == text.lower():
                return choice
        close = difflib.get_close_matches(text.lower(), [c.lower() for c in self.choices],
                                          n=1, cutoff=0.6)
        hint = ""
        if close:
            hint = f" (did you mean '{next(c for c in self.choices if c.lower() == close[0])}'?)"
        self.fail(f"invalid {self.what} {text!r}{hint}; valid values: "
                  f"{', '.join(self.choices)}", param, ctx)
