"""Stopping long operations only between steps, never in the middle of one."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vmwctl.errors import Terminated


class Stopper:
    """Records SIGINT/SIGTERM instead of raising; ``check()`` raises at a safe point."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.previous: dict[int, Any] = {}

    def _record(self, signum: int, _frame: Any) -> None:
        self.signal = signum

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def check(self) -> None:
        if self.signal == signal.SIGTERM:
            raise Terminated()
        if self.signal is not None:
            raise KeyboardInterrupt()


@contextmanager
def deferred_signals() -> Iterator[Stopper]:
    """Within the block, Ctrl-C and SIGTERM only set a flag (main thread only)."""
    stopper = Stopper()
    if threading.current_thread() is not threading.main_thread():
        yield stopper
        return
    previous = {sig: signal.signal(sig, stopper._record) for sig in (signal.SIGINT,
                                                                       signal.SIGTERM)}
    stopper.previous = previous
    try:
        yield stopper
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def immediate_signals(stopper: Stopper) -> Iterator[None]:
    """Within a deferred block, a part that waits on the user (a question): Ctrl-C acts at once."""
    if not stopper.previous:
        yield
        return
    for sig, handler in stopper.previous.items():
        signal.signal(sig, handler)
    try:
        stopper.check()  # a signal that came just before
        yield
    finally:
        for sig in stopper.previous:
            signal.signal(sig, stopper._record)


@contextmanager
def held_signals() -> Iterator[None]:
    """A step that must not be cut in two: within the block, a first Ctrl-C or SIGTERM
    waits, and acts when the block ends, as it would have (delivered again to the handlers
    in place before); a second one acts at once (the way out of a step that hangs).

    For the vCenter login (vCenter opens the session whether or not the client is still
    there to receive its cookie, which is the only way to log it out) and the logout.
    Main thread only; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: Any) -> None:
        if not held:
            held.append(signum)
            return
        _restore(previous)  # a second signal: act now
        _deliver(previous, signum, frame)

    previous.update({sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)})
    try:
        yield
    finally:
        _restore(previous)
        if held:
            _deliver(previous, held[0], None)


def _restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def _deliver(handlers: dict[int, Any], signum: int, frame: Any) -> None:
    """What ``handlers`` do with the signal: call a Python handler, else send it again."""
    handler = handlers.get(signum)
    if callable(handler):
        handler(signum, frame)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(signum)
