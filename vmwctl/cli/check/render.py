"""The table form of a check report (shared by the check commands)."""

from __future__ import annotations

from typing import Any

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
SHOWN_OBJECTS = 12  # on the objects line of a row; JSON has them all


def render_report(report: Any) -> Any:
    from rich.text import Text

    from vmwctl.cli.format import table

    title = " ".join(part for part in (
        f"vCenter {report.vcenter}" if report.vcenter else "offline",
        f"cluster {report.cluster}" if report.cluster else "") if part)
    rows = []
    for result in report.checks:
        status = result.status.value
        detail = result.detail
        if status in ("warn", "fail"):
            detail += objects_line(result.detail, result.objects)
        rows.append((result.id, Text(status.upper(), style=STATUS_STYLE[status]), detail,
                     result.remedy or ""))
    summary = report.summary
    return table(title, ("CHECK", "STATUS", "DETAIL", "REMEDY"), rows,
                 caption=f"{summary['pass']} passed, {summary['warn']} warned, "
                         f"{summary['fail']} failed, {summary['skip']} skipped")


def objects_line(detail: str, objects: list[str]) -> str:
    """The objects a detail does not name already, as a line of their own (or nothing).

    A privilege counts as named when the detail gives its vSphere Client label.
    """
    from vmwctl.vsphere.privileges import privilege

    def named(name: str) -> bool:
        known = privilege(name)
        return name in detail or (known is not None and
                                  f"{known.group} > {known.label}" in detail)

    rest = [name for name in objects if not named(name)]
    if not rest:
        return ""
    shown = ", ".join(rest[:SHOWN_OBJECTS]) + \
        (f", ... ({len(rest)})" if len(rest) > SHOWN_OBJECTS else "")
    return "\n" + ("also: " if len(rest) < len(objects) else "") + shown
