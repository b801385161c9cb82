"""``vmwctl firewall vib inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details, table


def _human(report: Any) -> Any:
    from rich.console import Group

    yes = {True: "yes", False: "no", None: "-"}
    parts: list[Any] = [details([
        ("VIB", f"{report.path} ({report.size:,} bytes)"),
        ("Verdict", "valid" if report.valid else "INVALID"),
        ("Id", report.vib_id or "-"),
        ("Acceptance", report.acceptance_level or "-"),
        ("Signed", yes[report.signed]),
        ("Live install / remove", f"{yes[report.live_install_allowed]} / "
                                  f"{yes[report.live_remove_allowed]}"),
        ("Maintenance mode", yes[report.maintenance_mode]),
        ("Members", ", ".join(report.members) or "-"),
    ])]
    if report.payloads:
        parts.append(table("Payloads", ("NAME", "TYPE", "SIZE", "CHECKSUMS", "FILES"),
                           [(p.name, p.type, f"{p.size:,}",
                             ", ".join(f"{k} {v}" for k, v in p.checksums.items()) or "-",
                             len(p.files)) for p in report.payloads]))
    if report.rulesets:
        parts.append(table("Firewall rules", ("RULESET", "ENABLED", "DIRECTION", "PROTOCOL",
                                              "PORTS", "FILE"),
                           [(r.id, yes[r.enabled], rule["direction"], rule["protocol"],
                             f"{rule['begin']}" if rule["begin"] == rule["end"]
                             else f"{rule['begin']}-{rule['end']}", r.file)
                            for r in report.rulesets for rule in r.rules]))
    parts.extend(f"problem: {p}" for p in report.problems)
    parts.extend(f"warning: {w}" for w in report.warnings)
    return Group(*parts)


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def inspect_command(app: App, file: Path) -> int:
    """Validate a VIB (any vendor's) and list the firewall rules inside; extract nothing.

    Checks the ar structure, the descriptor, each payload's size and
    checksums, and reads the payload archives in memory. Exit status 1 when
    the VIB is malformed or hostile, with the reasons.
    """
    from vmwctl.firewall.vib import inspect_vib

    report = inspect_vib(file)
    app.render(report, _human)
    return 0 if report.valid else 1
