"""vmwctl never leaks a vCenter session: every vmwctl run of the test suite is held to it.

The simulators a test uses (its ``simulator`` and ``module_simulator`` fixtures' and the
lab's) register here for the test (tests/conftest.py). ``run_vmwctl``, ``run_process`` and
``Simulator.run`` (tests/helpers.py) wrap each command in :func:`no_leaked_sessions`: it
reads GET /lab/sessions of each of them before and after the command (loopback GETs,
answered before any injected delay) and fails the test, naming the command's arguments and
the session's userAgent, when a session that appeared during the command is still logged
in afterwards. Sessions the test opened itself (``Simulator.connect()``, or a VCenter of
its own before the command) are not vmwctl's and are left out.
"""

from __future__ import annotations

import json
import shlex
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

READ_TIMEOUT = 10.0


@dataclass
class SessionSource:
    """One simulator whose sessions are watched: where its /lab/sessions is, and the keys of
    the sessions the test opened on it itself (``own``, read when a command ends)."""

    name: str
    port: int
    ca_file: str
    own: Callable[[], Iterable[str]] = field(default=lambda: ())
    _context: ssl.SSLContext | None = field(default=None, repr=False)

    def sessions(self) -> list[dict[str, Any]] | None:
        """The live sessions, or None when the simulator does not answer (stopped by the
        test, or never started): nothing to compare then."""
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/lab/sessions",
                                        context=self._context, timeout=READ_TIMEOUT) as reply:
                return json.load(reply)
        except (OSError, urllib.error.URLError, ValueError):
            return None


# The providers of the current test's sources (set by tests/conftest.py per test): each
# returns the sources alive now, so that a simulator started during the test counts from
# its start.
_providers: list[Callable[[], Iterable[SessionSource]]] = []


def watch(providers: Sequence[Callable[[], Iterable[SessionSource]]]) -> None:
    """The sources of the test that begins (none: nothing is compared)."""
    _providers[:] = providers


def sources() -> list[SessionSource]:
    return [source for provider in _providers for source in provider()]


def session_key(vcenter: Any) -> str | None:
    """The key of a VCenter's session (its cookie's value), None when not logged in."""
    stub = getattr(vcenter, "_stub", None)
    cookie = getattr(stub, "cookie", "") if stub is not None else ""
    if not cookie or "=" not in cookie:
        return None
    return cookie.split(";", 1)[0].split("=", 1)[1].strip('"')


def leaked(before: list[dict[str, Any]], after: list[dict[str, Any]],
           own: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The sessions of ``after`` that ``before`` lacks and the test did not open itself."""
    known = {s["key"] for s in before} | set(own)
    return [s for s in after if s["key"] not in known]


@contextmanager
def no_leaked_sessions(args: Sequence[str]) -> Iterator[None]:
    """Fail the test if the command run inside leaves a session logged in."""
    watched = [(source, source.sessions()) for source in sources()]
    yield
    problems = []
    for source, before in watched:
        if before is None:
            continue
        after = source.sessions()
        if after is None:
            continue
        for session in leaked(before, after, source.own()):
            problems.append(f"session {session['key'][:8]}... of {session['userName']} on "
                            f"{source.name} (userAgent {session['userAgent']!r})")
    if problems:
        pytest.fail(f"vmwctl {shlex.join(args)} left its vCenter session logged in: "
                    + "; ".join(problems), pytrace=False)
