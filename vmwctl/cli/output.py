"""Rendering results as a table (rich), JSON or YAML, and messages on stderr.

stdout carries only the command's result: one JSON or YAML document with
``-o json``/``-o yaml``. Warnings, progress and logs go to stderr.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from vmwctl.common.redact import redact
from vmwctl.profile.yamlfile import dump_yaml

FORMATS = ("table", "json", "yaml")
PIPE_WIDTH = 200  # the width of tables written to a file or a pipe when COLUMNS is unset


def to_data(obj: Any) -> Any:
    """Turn results (dataclasses, enums, datetimes, paths, sets) into JSON-able data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("internal")}
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_data(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted(to_data(v) for v in obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(dt.UTC)
        return obj.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Where and how a command's result and messages are written."""

    def __init__(self, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.format = "table"
        self.quiet = False
        self.no_color = False
        self._stdout = stdout
        self._stderr = stderr
        self._env = os.environ if env is None else env
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()  # check fleet logs in from several threads

    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    def color(self, stream: IO[str]) -> bool:
        return not self.no_color and "NO_COLOR" not in self._env and _isatty(stream)

    @property
    def interactive(self) -> bool:
        """True when progress bars may be drawn: stderr is a terminal and -q is off."""
        return not self.quiet and _isatty(self.stderr)

    def console(self, stream: IO[str]) -> Any:
        """A rich console on ``stream``: a terminal's own width; else COLUMNS, or 200."""
        from rich.console import Console

        tty = _isatty(stream)
        return Console(file=stream, color_system="auto" if self.color(stream) else None,
                       force_terminal=tty, width=None if tty else self.pipe_width(),
                       highlight=False, soft_wrap=False)

    def pipe_width(self) -> int:
        """The width for output that is not a terminal: COLUMNS when it is a number."""
        columns = self._env.get("COLUMNS", "").strip()
        return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH

    @contextmanager
    def progress(self, description: str, total: float | None, *,
                 unit: str = "bytes") -> Iterator[Progress]:
        """A progress bar on stderr when it is a terminal (and not -q); silent otherwise.

        ``unit`` is "bytes" (size, throughput, time left) or "percent".
        """
        if not self.interactive:
            yield Progress()
            return
        from rich import progress as rp

        if unit == "bytes":
            columns = [rp.TextColumn("{task.description}"), rp.BarColumn(),
                       rp.DownloadColumn(binary_units=True), rp.TransferSpeedColumn(),
                       rp.TimeRemainingColumn()]
        else:
            columns = [rp.TextColumn("{task.description}"), rp.BarColumn(),
                       rp.TaskProgressColumn(), rp.TimeRemainingColumn()]
        with rp.Progress(*columns, console=self.console(self.stderr)) as bar:
            yield _RichProgress(bar, bar.add_task(description, total=total))

    # ----------------------------------------------------------- results

    def result(self, data: Any, human: Callable[[Any], Any] | None = None) -> None:
        """Print a command's result: the document, or its human form on a table run."""
        if self.format == "json":
            self._write(self.stdout, json.dumps(to_data(data), indent=2, ensure_ascii=False) + "\n")
        elif self.format == "yaml":
            self._write(self.stdout, dump_yaml(to_data(data)))
        elif not self.quiet:
            rendered = human(data) if human else dump_yaml(to_data(data))
            if isinstance(rendered, str):
                rendered = printable(rendered)
                self._write(self.stdout, rendered if rendered.endswith("\n") else rendered + "\n")
            elif rendered is not None:
                self._print(_plain_strings(rendered))

    def _print(self, rendered: Any) -> None:
        """A rich renderable on stdout; to a file or a pipe without the spaces that pad
        its lines to the table's width."""
        console = self.console(self.stdout)
        if _isatty(self.stdout):
            console.print(rendered)
            return
        with console.capture() as captured:
            console.print(rendered)
        self._write(self.stdout, "".join(line.rstrip() + "\n"
                                         for line in captured.get().splitlines()))

    def error(self, message: str, exit_code: int) -> None:
        """Report a failure: the error document on stdout for -o json/yaml, a line on stderr."""
        message = redact(message)
        document = {"error": {"message": message, "exit_code": exit_code}}
        if self.format == "json":
            self._write(self.stdout, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        elif self.format == "yaml":
            self._write(self.stdout, dump_yaml(document))
        self._message("Error", message, "red")

    def failure(self, message: str) -> None:
        """One failed part of a command that goes on (shown even with -q, on stderr only)."""
        self._message("Error", redact(message), "red")

    def warn(self, message: str) -> None:
        """A warning on stderr, once per run however often it applies (not shown with -q)."""
        if self.quiet:
            return
        with self._warned_lock:
            if message in self._warned:
                return
            self._warned.add(message)
        self._message("Warning", redact(message), "yellow")

    def info(self, message: str) -> None:
        """A progress note for humans on stderr (not shown with -q)."""
        if not self.quiet:
            self._write(self.stderr, redact(message) + "\n")

    def _message(self, label: str, message: str, style: str) -> None:
        message = one_line(message)
        if self.color(self.stderr):
            self._write(self.stderr, f"\x1b[1;{_ANSI[style]}m{label}:\x1b[0m {message}\n")
        else:
            self._write(self.stderr, f"{label}: {message}\n")

    @staticmethod
    def _write(stream: IO[str], text: str) -> None:
        stream.write(text)
        stream.flush()


_ANSI = {"red": "31", "yellow": "33"}
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(message: str) -> str:
    """A message as one line without terminal controls: a newline or an escape sequence
    that came from a file or a server is shown escaped ('\\n', '\\x1b')."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], message)


_CELL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text for a table or a line of human output: controls from a file or a server (an ESC
    that would drive the terminal) shown escaped; newlines and tabs kept."""
    return _CELL_CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class Progress:
    """Progress that is not shown (no terminal, or -q)."""

    def advance(self, amount: float) -> None:
        """Record ``amount`` more units done."""

    def update(self, completed: float) -> None:
        """Record that ``completed`` units are done in all."""

    def set_total(self, total: float) -> None:
        """The total, once it is known."""


class _RichProgress(Progress):
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task

    def advance(self, amount: float) -> None:
        self._bar.advance(self._task, amount)

    def update(self, completed: float) -> None:
        self._bar.update(self._task, completed=completed)

    def set_total(self, total: float) -> None:
        self._bar.update(self._task, total=total)


def _plain_strings(rendered: Any) -> Any:
    """A group's plain strings as text, not markup, and printable."""
    from rich.console import Group
    from rich.text import Text

    if isinstance(rendered, Group):
        return Group(*(Text(printable(part)) if isinstance(part, str) else part
                       for part in rendered.renderables))
    return rendered
