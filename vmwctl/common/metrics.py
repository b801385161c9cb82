"""Metrics for monitoring: gauges in Prometheus's text exposition format (version 0.0.4),
written atomically for node_exporter's textfile collector.

A :class:`Gauge` is a name, its HELP text and its label names, fixed: node_exporter merges
every ``*.prom`` file of its directory and refuses a metric family whose HELP text or label
names differ between files, so each metric name has one HELP and one set of labels wherever
it is written. :class:`Metrics` holds the values of one run and renders them;
:class:`MetricsFile` is the ``--metrics-file`` of one run: its target is checked before the
command does any work (:func:`check_target`), and :meth:`MetricsFile.finish` writes the
file with the run's own gauges (``vmwctl_last_run_*``), on success and on failure alike.
docs/automation.md lists the metrics.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vmwctl.common.files import write_atomically
from vmwctl.errors import OperationFailed, UsageError

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
FILE_MODE = 0o644


@dataclass(frozen=True)
class Gauge:
    """A gauge's name, HELP text and label names (in the order they are rendered)."""

    name: str
    help: str
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not METRIC_NAME.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        for label in self.labels:
            if not LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} of {self.name}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"a label named twice in {self.name}")


def escape_help(text: str) -> str:
    """A HELP text as the format wants it: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(value: str) -> str:
    """A label value as the format wants it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers without a fraction, ``NaN``, ``+Inf`` and ``-Inf`` spelled as
    the format does, other floats in the shortest form that reads back the same."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Metrics:
    """The gauges of one run and their samples, in the order they were first set."""

    _families: dict[str, tuple[Gauge, dict[tuple[str, ...], float]]] = field(
        default_factory=dict)

    def set(self, gauge: Gauge, value: float, **labels: str) -> None:
        """Set one sample; the labels must be exactly the gauge's (a sample with the same
        label values is replaced)."""
        if set(labels) != set(gauge.labels):
            raise ValueError(f"{gauge.name} takes the labels {', '.join(gauge.labels) or 'none'}"
                             f", not {', '.join(sorted(labels)) or 'none'}")
        known = self._families.get(gauge.name)
        if known is not None and known[0] != gauge:
            raise ValueError(f"{gauge.name} defined twice, differently")
        family = self._families.setdefault(gauge.name, (gauge, {}))[1]
        family[tuple(str(labels[name]) for name in gauge.labels)] = float(value)

    def value(self, gauge: Gauge, **labels: str) -> float | None:
        """A sample's value, or None when it was not set."""
        family = self._families.get(gauge.name)
        if family is None:
            return None
        return family[1].get(tuple(str(labels.get(name, "")) for name in gauge.labels))

    def render(self) -> str:
        """The text exposition format: HELP and TYPE, then the samples, of each gauge."""
        lines: list[str] = []
        for gauge, samples in self._families.values():
            lines.append(f"# HELP {gauge.name} {escape_help(gauge.help)}")
            lines.append(f"# TYPE {gauge.name} gauge")
            for values, value in samples.items():
                pairs = ",".join(f'{name}="{escape_label_value(v)}"'
                                 for name, v in zip(gauge.labels, values, strict=True))
                lines.append(f"{gauge.name}{{{pairs}}} {format_value(value)}" if pairs
                             else f"{gauge.name} {format_value(value)}")
        return "".join(line + "\n" for line in lines)


def check_target(path: Path) -> None:
    """Refuse (exit 2) a metrics file that could not be written: its directory missing, not
    a directory or not writable (tried with a temporary file, as the write will), or the
    path itself a directory. Run before the command does its work."""
    directory = path.parent
    where = f"--metrics-file {path}"
    if path.is_dir():
        raise UsageError(f"{where}: is a directory; name a file in it (node_exporter's "
                         "textfile collector reads *.prom files)")
    if not directory.exists():
        raise UsageError(f"{where}: directory {directory} does not exist; create it (the "
                         "directory of node_exporter's --collector.textfile.directory)")
    if not directory.is_dir():
        raise UsageError(f"{where}: {directory} is not a directory")
    try:
        descriptor, probe = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.",
                                             suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{where}: cannot write in {directory} ({exc.strerror or exc}); "
                         "make it writable for this user or name another directory") from None
    os.close(descriptor)
    os.unlink(probe)


# ------------------------------------------------------------------ a run's file

RUN_LABELS = ("command", "vcenter", "cluster")
LAST_RUN_TIMESTAMP = Gauge(
    "vmwctl_last_run_timestamp_seconds",
    "When the last run of this vmwctl command ended (Unix time), whatever its outcome.",
    RUN_LABELS)
LAST_RUN_SUCCESS = Gauge(
    "vmwctl_last_run_success", "1 when the last run of this vmwctl command exited 0, else 0.",
    RUN_LABELS)
LAST_RUN_EXIT_CODE = Gauge(
    "vmwctl_last_run_exit_code",
    "The exit status of the last run of this vmwctl command (1 failed, 2 usage or "
    "configuration, 3 cannot connect, 130/143 interrupted).", RUN_LABELS)
LAST_RUN_DURATION = Gauge(
    "vmwctl_last_run_duration_seconds", "How long the last run of this vmwctl command took.",
    RUN_LABELS)


def vcenter_label(host: str | None, port: int) -> str:
    """The ``vcenter`` label: the vCenter's host as the profile names it, with the port
    unless 443."""
    if not host:
        return ""
    return host if port == 443 else f"{host}:{port}"


class MetricsFile:
    """The ``--metrics-file`` of one run: the target (checked now), the metrics the command
    adds as it learns them, and the run's identity (``command``, ``vcenter``, ``cluster``:
    the labels of ``vmwctl_last_run_*``)."""

    def __init__(self, path: Path, command: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        check_target(path)
        self.path = path
        self.command = command
        self.vcenter = ""
        self.cluster = ""
        self.began = False  # the command's own code ran (not only click's parsing, --help)
        self.metrics = Metrics()
        self._clock = clock
        self._started = clock()

    def begin(self) -> None:
        """The command's code starts: from now on the run ends with the file written."""
        self.began = True

    def identify(self, vcenter: str | None, cluster: str | None) -> None:
        """The vCenter and cluster the run is about (empty when it is about several)."""
        self.vcenter, self.cluster = vcenter or "", cluster or ""

    @property
    def run_labels(self) -> dict[str, str]:
        return {"command": self.command, "vcenter": self.vcenter, "cluster": self.cluster}

    def finish(self, exit_code: int) -> None:
        """Add the run's gauges and write the file (what is known so far when the run
        failed). A write that fails raises OperationFailed (exit 1)."""
        ended = self._clock()
        labels = self.run_labels
        self.metrics.set(LAST_RUN_TIMESTAMP, ended, **labels)
        self.metrics.set(LAST_RUN_SUCCESS, 1 if exit_code == 0 else 0, **labels)
        self.metrics.set(LAST_RUN_EXIT_CODE, exit_code, **labels)
        self.metrics.set(LAST_RUN_DURATION, max(0.0, ended - self._started), **labels)
        try:
            write_atomically(self.path, self.metrics.render(), FILE_MODE)
        except OSError as exc:
            raise OperationFailed(f"--metrics-file {self.path}: not written "
                                  f"({exc.strerror or exc})") from None
