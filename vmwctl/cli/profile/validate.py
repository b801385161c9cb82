"""``vmwctl profile validate``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.completers import complete_profile_name
from vmwctl.errors import EXIT_OK, EXIT_USAGE


def _human(report: Any) -> str:
    lines = [f"{report.config_file}: INVALID"] if report.problems else []
    lines.extend(f"  error: {problem}" for problem in report.problems)
    for check in report.profiles:
        lines.append(f"{check.name}: {'ok' if check.valid else 'INVALID'}")
        lines.extend(f"  error: {problem}" for problem in check.problems)
        lines.extend(f"  warning: {warning}" for warning in check.warnings)
    return "\n".join(lines)


@click.command("validate")
@click.argument("names", nargs=-1, metavar="[NAME]...",
                shell_complete=complete_profile_name)
@click.pass_obj
def validate_command(app: App, names: tuple[str, ...]) -> int:
    """Check the config file and every profile (or the named ones); report all problems.

    Exit status 0 when all are valid, 2 when any is not.
    """
    from vmwctl.profile.manage import validate_profiles

    report = validate_profiles(app.config_option, list(names), app.env)
    app.render(report, _human)
    return EXIT_OK if report.valid else EXIT_USAGE
