"""``vmwctl audit`` (the report itself)."""

from __future__ import annotations

from typing import Any

from vmwctl.audit import KINDS
from vmwctl.cli.app import App
from vmwctl.cli.format import short_size, table
from vmwctl.cli.options import ClusterFlag
from vmwctl.errors import EXIT_FAILED, EXIT_OK, UsageError


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(max(0, seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _human(report: Any) -> Any:
    from rich.console import Group

    rows = [(f.kind, f.subject, short_size(f.size) if f.size is not None else "-",
             _age(f.age_seconds), f.remedy) for f in report.findings]
    summary = ", ".join(f"{count} {kind}" for kind, count in report.counts.items() if count)
    caption = (f"cluster {report.cluster}, node {report.node}; servers from "
               f"{report.servers_from}, images from {report.images_from}; "
               f"{summary or 'no findings'}")
    parts: list[Any] = [table(None, ("KIND", "SUBJECT", "SIZE", "AGE", "REMEDY"), rows,
                              caption=caption, whole=("SUBJECT",))]
    parts.extend(f"note: {note}" for note in report.notes)
    return Group(*parts)


def _kinds(value: str | None) -> list[str]:
    if not value:
        return []
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise UsageError(f"--fail-on {unknown[0]!r}: not a finding kind; kinds: "
                         f"{', '.join(KINDS)}")
    return kinds


def run_command(app: App, cluster: ClusterFlag, servers_from: str, images_from: str,
                fail_on: str | None) -> int:
    """The audit's report, rendered; exit 1 for a --fail-on kind found."""
    from vmwctl.audit.run import failing
    from vmwctl.cli.audit.shared import audit_report
    from vmwctl.cli.metrics import identify, record_findings

    identify(app, cluster)
    kinds = _kinds(fail_on)
    report, *_ = audit_report(app, cluster, servers_from, images_from)
    record_findings(app, {kind: (report.counts[kind], report.bytes[kind]) for kind in KINDS})
    app.render(report, _human)
    return EXIT_FAILED if failing(report, kinds) else EXIT_OK
