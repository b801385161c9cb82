"""``vmwctl check fleet``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.check.render import render_report
from vmwctl.cli.completers import complete_profile_list
from vmwctl.cli.metrics import identify, metrics_file_option, record_checks
from vmwctl.cli.options import nonempty
from vmwctl.common.words import plural


def _human(report: Any) -> Any:
    """The shared check table, titled with what the fleet is."""
    from rich.text import Text

    rendered = render_report(report)
    rendered.title = Text(f"{plural(report.services, 'nova-compute service')} on "
                          f"{plural(report.vcenters, 'vCenter')}")
    return rendered


@click.command("fleet")
@click.option("--profiles", metavar="NAME,...", shell_complete=complete_profile_list,
              callback=nonempty("profiles", "to check every profile", items=True),
              help="These profiles of the config file (default: every profile).")
@click.option("--nova-conf", "nova_confs", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A nova-compute service's nova.conf (repeatable), checked with the "
                   "profiles.")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              metavar="SECONDS", help="How long each vCenter may take to answer.")
@click.option("--strict", is_flag=True, help="Exit 1 on a warning too.")
@metrics_file_option
@click.pass_obj
def fleet_command(app: App, profiles: str | None, nova_confs: tuple[Path, ...], timeout: float,
                  strict: bool) -> int:
    """Check several nova-compute services as a whole.

    The services: every profile of the config file (or the --profiles ones),
    and each --nova-conf file. Check ids: fleet-reachability (each vCenter
    answers, concurrently), fleet-az (each vCenter its own availability
    zone), fleet-cluster-owner (each cluster claimed by one service, by
    vCenter UUID and moref), fleet-cache (no two services on a shared
    datastore with the same cache folder). Exit status 1 when a check fails
    (or, with --strict, warns).
    """
    from vmwctl.checks.fleet import run_fleet, services_from
    from vmwctl.errors import UsageError
    from vmwctl.profile.load import build_profile
    from vmwctl.profile.nova_conf import profile_from_nova_conf, read_nova_conf

    identify(app, several=True)
    wanted = [n.strip() for n in (profiles or "").split(",") if n.strip()]
    chosen: list = [(profile.name, profile) for profile in app.named_profiles(wanted)]
    for conf_path in nova_confs:
        imported = profile_from_nova_conf(read_nova_conf(conf_path), include_password=True)
        chosen.append((str(conf_path), build_profile(str(conf_path), imported.data,
                                                     source=conf_path)))
    if not chosen:
        raise UsageError("nothing to check: give --profiles, --nova-conf FILE, or a config file "
                         "with profiles")
    report = run_fleet(services_from(chosen), lambda profile: app.open_vcenter(
        profile, prompt=False, connect_timeout=timeout, api_retry_count=0))
    record_checks(app, report)
    app.render(report, _human)
    return report.exit_code(strict=strict)
