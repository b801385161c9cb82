"""Counting words: "1 host", "3 hosts", "the 1 host", "all 3 hosts"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, in the plural (``many``, else ``word`` + s) unless one."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def every(count: int, word: str, many: str | None = None) -> str:
    """"the 1 host" or "all 3 hosts"."""
    return f"the {plural(count, word, many)}" if count == 1 else f"all {plural(count, word, many)}"


def verb(count: int, one: str, many: str) -> str:
    """The verb that agrees with ``count`` subjects: verb(2, "has", "have") -> "have"."""
    return one if count == 1 else many
