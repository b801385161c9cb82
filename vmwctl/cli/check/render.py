"""The table form of a check report (shared by the check commands)."""

from __future__ import annotations

from typing import Any

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def render_report(report: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    from vmwctl.cli.output import printable

    title = " ".join(part for part in (
        f"vCenter {report.vcenter}" if report.vcenter else "offline",
        f"cluster {report.cluster}" if report.cluster else "") if part)
    table = Table(title=Text(printable(title)), title_justify="left")
    for column in ("CHECK", "STATUS", "DETAIL", "REMEDY"):
        table.add_column(column)
    for result in report.checks:
        status = result.status.value
        detail = result.detail
        if result.objects and result.status.value in ("warn", "fail"):
            detail += "\n" + ", ".join(result.objects[:12]) + \
                (f", ... ({len(result.objects)})" if len(result.objects) > 12 else "")
        table.add_row(Text(result.id), Text(status.upper(), style=STATUS_STYLE[status]),
                      Text(printable(detail)), Text(printable(result.remedy or "")))
    summary = report.summary
    table.caption = (f"{summary['pass']} passed, {summary['warn']} warned, "
                     f"{summary['fail']} failed, {summary['skip']} skipped")
    return table
