"""Choosing among fixed values: any case in, the canonical spelling out."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from vmwctl.errors import UsageError


def choose(value: str, allowed: Iterable[str], what: str, *, listing: str | None = None) -> str:
    """The canonical spelling of ``value`` among ``allowed`` (any case), or a UsageError.

    The error lists the valid values, or says ``listing`` (where to find them)
    when there are too many to print.
    """
    allowed = list(allowed)
    for candidate in allowed:
        if candidate.lower() == value.lower():
            return candidate
    close = difflib.get_close_matches(value.lower(), [a.lower() for a in allowed], n=1,
                                      cutoff=0.6)
    hint = ""
    if close:
        hint = f" (did you mean '{next(a for a in allowed if a.lower() == close[0])}'?)"
    shown = ", ".join(allowed) if len(allowed) <= 12 or listing is None else listing
    raise UsageError(f"{value!r} is not a valid {what}{hint}; valid values: {shown}")
