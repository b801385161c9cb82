"""Secrets known to this process, and their removal from any text shown to users.

One rule, used by every message of :mod:`vmwctl.cli.output`, the log filter
(:class:`RedactingFilter`) and the tracebacks of ``-v``, all through :func:`redact`:

- A secret of :data:`ANYWHERE_LENGTH` (8) characters or more is hidden wherever it
  appears, also inside a longer word: a random string that long is no ordinary word.
- A shorter secret is hidden only where it stands alone as a value: an occurrence
  preceded or followed by a letter, digit or underscore (``\\w``) is part of a longer word
  and stays, so that a password ``pass`` leaves "passes" and "bypass" alone while
  ``password=pass``, ``user:pass@host``, ``"pass"`` or a line of its own lose it. A side
  where the secret itself ends in punctuation or a space needs no such boundary (a word
  character next to ``(`` does not make ``a.b*c(`` part of a word). :func:`coverage`
  says which of the two a secret gets, so that the caller can warn about a short one.
- A secret of fewer than :data:`MIN_LENGTH` (3) characters is not registered at all:
  hiding every standalone "a", "no" or "1" would wreck every message, and a password that
  short is no secret from anyone who tries. The caller warns about it too.

The URL-quoted forms of a secret (``quote``, ``quote_plus``: ``p%40ss``, ``my+pass``) are
registered with it, under the same rule, since a URL (``GOVC_URL``'s userinfo) may carry
it that way.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Literal
from urllib.parse import quote, quote_plus

REDACTED = "********"
ANYWHERE_LENGTH = 8  # a secret this long is hidden inside words too
MIN_LENGTH = 3  # a shorter secret is not registered

Coverage = Literal["anywhere", "alone", "none"]

_WORD = re.compile(r"\w")
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
# the compiled patterns of every registered secret, replaced (never changed) on register
_patterns: tuple[re.Pattern[str], ...] = ()


def coverage(secret: str) -> Coverage:
    """How :func:`redact` hides ``secret`` once registered: "anywhere" (also inside a word),
    "alone" (only where it stands as a token of its own) or "none" (too short to register)."""
    if len(secret) >= ANYWHERE_LENGTH:
        return "anywhere"
    return "alone" if len(secret) >= MIN_LENGTH else "none"


def register(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` hides it from now on."""
    global _secrets, _patterns
    if not secret or coverage(secret) == "none":
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets = _secrets | {secret}
        forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret, safe="")}
        _patterns = (*_patterns, *(_pattern(form, coverage(secret)) for form in sorted(forms)))


def _pattern(form: str, how: Coverage) -> re.Pattern[str]:
    """A lookahead, so that overlapping occurrences are all found; group 1 is the secret."""
    before = after = ""
    if how == "alone":
        before = r"(?<!\w)" if _WORD.match(form[0]) else ""
        after = r"(?!\w)" if _WORD.match(form[-1]) else ""
    return re.compile(f"{before}(?=({re.escape(form)}){after})")


def forget_all() -> None:
    """Forget every registered secret, as a new process starts (for in-process test runs)."""
    global _secrets, _patterns
    with _lock:
        _secrets, _patterns = frozenset(), ()


def redact(text: str) -> str:
    """Return ``text`` with every occurrence of a registered secret replaced by
    :data:`REDACTED` under the module's rule; occurrences that overlap (two secrets, or one
    secret repeating itself) become one."""
    patterns = _patterns
    if not patterns or not text:
        return text
    spans = sorted(match.span(1) for pattern in patterns for match in pattern.finditer(text))
    if not spans:
        return text
    parts, end = [], 0
    merged: list[list[int]] = []
    for start, stop in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    for start, stop in merged:
        parts += [text[end:start], REDACTED]
        end = stop
    parts.append(text[end:])
    return "".join(parts)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from each record's final message and from the
    traceback it carries, by the rule of :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _patterns:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        return True
