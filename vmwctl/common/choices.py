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
    hint = did_you_mean(value, allowed)
    shown = ", ".join(allowed) if len(allowed) <= 12 or listing is None else listing
    raise UsageError(f"{value!r} is not a valid {what}{hint}; valid values: {shown}")


def did_you_mean(word: str, candidates: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (any case), or an empty string."""
    spelled = {str(c).lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(spelled), n=1, cutoff=0.6)
    return f" (did you mean '{spelled[close[0]]}'?)" if close else ""
