"""``--metrics-file PATH``: a command's results as Prometheus gauges (docs/automation.md).

The option checks its target while click parses, before the command does any work, and
hangs a :class:`~vmwctl.common.metrics.MetricsFile` on the App; the command calls
:func:`identify` first (the run has begun, and this is what it is about), then adds its
results (:func:`record_checks`, :func:`record_purge`, :func:`record_findings`); the root
group writes the file when the run ends, whatever its exit status
(``vmwctl_last_run_success`` 0 on failure, with what was known by then). A run that never
began (``--help``, a command line click refuses) writes nothing.

A new command: ``@metrics_file_option`` on it, ``identify(app, cluster=...)`` as its first
line, a ``record_*`` call with its result before it renders it.

Metrics (every name has one HELP text and one set of labels, as node_exporter requires of
the files it merges):

- ``vmwctl_last_run_timestamp_seconds``, ``vmwctl_last_run_success``,
  ``vmwctl_last_run_exit_code``, ``vmwctl_last_run_duration_seconds``
  {command, vcenter, cluster}: every run.
- ``vmwctl_check_status`` {command, vcenter, cluster, check}: ``check prereqs`` and
  ``check fleet``; :data:`CHECK_STATUS_VALUES`.
- ``vmwctl_cache_purge_freed_bytes`` {vcenter, cluster, datastore} and
  ``vmwctl_cache_purge_folders`` {vcenter, cluster, datastore, outcome}: ``cache purge``;
  with ``--profiles``, each profile's under its own vcenter and cluster, beside its own
  ``vmwctl_last_run_*``.
- ``vmwctl_audit_findings`` and ``vmwctl_audit_findings_bytes`` {vcenter, cluster, kind}:
  ``audit``; ``vmwctl_audit_cleaned_objects`` and ``vmwctl_audit_cleaned_bytes``
  {vcenter, cluster, kind}: ``audit clean``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vmwctl.cli.completers import complete_file
from vmwctl.cli.options import ClusterFlag, refuse_empty
from vmwctl.common.metrics import Gauge, MetricsFile, vcenter_label

if TYPE_CHECKING:
    from vmwctl.cli.app import App
    from vmwctl.profile.schema import Profile

# A check's status as a number: the higher, the worse; a skipped check is below a passed one,
# so that "status > 0" means "warned or failed".
CHECK_STATUS_VALUES = {"pass": 0, "warn": 1, "fail": 2, "skip": -1}

CHECK_STATUS = Gauge(
    "vmwctl_check_status",
    "A check's status: 0 pass, 1 warn, 2 fail, -1 skip (vmwctl check prereqs|fleet).",
    ("command", "vcenter", "cluster", "check"))
PURGE_FREED = Gauge(
    "vmwctl_cache_purge_freed_bytes",
    "Bytes the last cache purge freed on the datastore (0 with --dry-run).",
    ("vcenter", "cluster", "datastore"))
PURGE_FOLDERS = Gauge(
    "vmwctl_cache_purge_folders",
    "Cache folders of the datastore by what the last cache purge did with them (planned: "
    "--dry-run, or not reached).",
    ("vcenter", "cluster", "datastore", "outcome"))
AUDIT_FINDINGS = Gauge(
    "vmwctl_audit_findings", "Findings of the last vmwctl audit, by kind.",
    ("vcenter", "cluster", "kind"))
AUDIT_FINDINGS_BYTES = Gauge(
    "vmwctl_audit_findings_bytes",
    "Bytes on the datastores held by the findings of the last vmwctl audit, by kind.",
    ("vcenter", "cluster", "kind"))
AUDIT_CLEANED = Gauge(
    "vmwctl_audit_cleaned_objects", "Objects the last vmwctl audit clean acted on, by kind.",
    ("vcenter", "cluster", "kind"))
AUDIT_CLEANED_BYTES = Gauge(
    "vmwctl_audit_cleaned_bytes",
    "Bytes held by the objects the last vmwctl audit clean acted on, by kind.",
    ("vcenter", "cluster", "kind"))


def _open(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from vmwctl.cli.app import App

    refuse_empty(ctx, param, value, "a file", "to write no metrics")
    if value is None or ctx.resilient_parsing:
        return
    command = " ".join(ctx.command_path.split()[1:]) or ctx.command_path
    ctx.ensure_object(App).metrics = MetricsFile(Path(value), command)


metrics_file_option = click.option(
    "--metrics-file", metavar="PATH", type=click.Path(),
    expose_value=False, is_eager=True, callback=_open, shell_complete=complete_file,
    help="Also write the results as Prometheus gauges to PATH, for node_exporter's textfile "
         "collector: replaced atomically at the end of every run, failed ones too "
         "(vmwctl_last_run_success 0). Its directory must exist and be writable.")


def identify(app: App, cluster: ClusterFlag | str | None = None, *,
             profile: Profile | None = None, several: bool = False) -> None:
    """The first call of a command with --metrics-file: the run has begun (from now on it
    ends with the file written, failed or not), and this is what it is about: the vCenter
    of ``profile`` (default: the App's, loaded now: a profile that cannot be loaded fails
    the run, unlabelled) and ``cluster`` (a name, or the command's ClusterFlag, read after
    the run has begun); ``several``: many vCenters (empty labels).
    Nothing without --metrics-file."""
    metrics = app.metrics
    if metrics is None:
        return
    metrics.begin()
    if several:
        metrics.identify(None, None)
    else:
        vmware = (profile or app.profile).vmware
        name = cluster.name if isinstance(cluster, ClusterFlag) else cluster
        metrics.identify(vcenter_label(vmware.host_ip, vmware.host_port), name)


def record_checks(app: App, report: Any) -> None:
    """A check report's statuses as ``vmwctl_check_status`` (the worst when an id repeats)."""
    metrics = app.metrics
    if metrics is None:
        return
    worst: dict[str, int] = {}
    for result in report.checks:
        value = CHECK_STATUS_VALUES[result.status.value]
        worst[result.id] = max(worst.get(result.id, value), value)
    for check, value in worst.items():
        metrics.metrics.set(CHECK_STATUS, value, command=metrics.command,
                            vcenter=metrics.vcenter, cluster=metrics.cluster, check=check)


def record_purge(app: App, report: Any, *, vcenter: str | None = None,
                 cluster: str | None = None) -> None:
    """A purge plan or run: per datastore the bytes freed, and the folders by outcome (every
    outcome, 0 included, so that an alert's series exists). ``vcenter`` and ``cluster``:
    the labels of one profile of ``cache purge --profiles`` (default: the run's)."""
    from vmwctl.cache.purge import Outcome

    metrics = app.metrics
    if metrics is None:
        return
    where = {"vcenter": metrics.vcenter if vcenter is None else vcenter,
             "cluster": metrics.cluster if cluster is None else cluster}
    for datastore in report.datastores:
        items = [item for item in report.items if item.datastore == datastore]
        freed = sum(i.bytes for i in items if i.outcome == Outcome.DELETED)
        metrics.metrics.set(PURGE_FREED, freed, **where, datastore=datastore)
        for outcome in Outcome:
            metrics.metrics.set(PURGE_FOLDERS, sum(1 for i in items if i.outcome == outcome),
                                **where, datastore=datastore, outcome=outcome.value)


def record_profiles(app: App, report: Any) -> None:
    """``cache purge --profiles``: each profile's purge as :func:`record_purge` records one,
    labelled with its vcenter and cluster, and its own ``vmwctl_last_run_*`` (its exit
    status and how long it took) under the same labels, as its own cron line would leave
    them; the run's own, unlabelled, are written at the end as for every run."""
    from vmwctl.common.metrics import (
        LAST_RUN_DURATION,
        LAST_RUN_EXIT_CODE,
        LAST_RUN_SUCCESS,
        LAST_RUN_TIMESTAMP,
    )

    metrics = app.metrics
    if metrics is None:
        return
    ended = time.time()
    for result in report.profiles:
        labels = {"command": metrics.command, "vcenter": result.vcenter,
                  "cluster": result.cluster or ""}
        if result.report is not None:
            record_purge(app, result.report, vcenter=labels["vcenter"],
                         cluster=labels["cluster"])
        metrics.metrics.set(LAST_RUN_TIMESTAMP, ended, **labels)
        metrics.metrics.set(LAST_RUN_SUCCESS, 1 if result.exit_code == 0 else 0, **labels)
        metrics.metrics.set(LAST_RUN_EXIT_CODE, result.exit_code, **labels)
        metrics.metrics.set(LAST_RUN_DURATION, result.seconds, **labels)


def record_findings(app: App, totals: Mapping[str, tuple[int, int]], *,
                    cleaned: bool = False) -> None:
    """For ``audit`` and ``audit clean``: per finding kind, (count, bytes).

    ``audit`` (``cleaned`` False): ``vmwctl_audit_findings`` and
    ``vmwctl_audit_findings_bytes``, what the audit found. ``audit clean`` (``cleaned``
    True): ``vmwctl_audit_cleaned_objects`` and ``vmwctl_audit_cleaned_bytes``, what the
    run acted on. Pass every kind the run looked at, with (0, 0) when it has none, so that
    an alert's series exists (and drops to 0 once cleaned). Labels: the run's vcenter and
    cluster (:func:`identify`) and ``kind``. Nothing without --metrics-file.
    """
    metrics = app.metrics
    if metrics is None:
        return
    count_gauge, bytes_gauge = (AUDIT_CLEANED, AUDIT_CLEANED_BYTES) if cleaned else \
        (AUDIT_FINDINGS, AUDIT_FINDINGS_BYTES)
    where = {"vcenter": metrics.vcenter, "cluster": metrics.cluster}
    for kind, (count, size) in totals.items():
        metrics.metrics.set(count_gauge, count, **where, kind=kind)
        metrics.metrics.set(bytes_gauge, size, **where, kind=kind)
