"""Secrets known to this process, and their removal from any text shown to users."""

from __future__ import annotations

import logging

REDACTED = "********"

_secrets: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` hides it from now on."""
    if secret and len(secret) >= 3:
        _secrets.add(secret)


def forget_all() -> None:
    """Forget every registered secret, as a new process starts (for in-process test runs)."""
    _secrets.clear()


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from each record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
