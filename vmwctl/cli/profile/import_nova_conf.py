"""``vmwctl profile import-nova-conf``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App


def _human(result: Any) -> str:
    from vmwctl.profile.yamlfile import dump_yaml

    verb = "wrote" if result.written else "would write"
    created = " (new file, mode 0600)" if result.created_file else ""
    lines = [f"{verb} profile {result.profile} to {result.config_file}{created}",
             f"password: {result.password}",
             *(f"network: {line}" for line in result.network)]
    if not result.written:
        lines.append(dump_yaml({"profiles": {result.profile: result.data}}).rstrip())
    return "\n".join(lines)


@click.command("import-nova-conf")
@click.argument("nova_conf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name of the new profile.")
@click.option("--include-password", is_flag=True,
              help="Copy [vmware] host_password into the profile (the file is kept mode 0600).")
@click.option("--password-env", metavar="VAR",
              help="Have the profile read the password from this environment variable.")
@click.option("--replace", is_flag=True, help="Replace a profile of the same name.")
@click.option("--dry-run", is_flag=True, help="Show the profile and where it would go; write "
                                              "nothing.")
@click.pass_obj
def import_command(app: App, nova_conf: Path, name: str, include_password: bool,
                   password_env: str | None, replace: bool, dry_run: bool) -> None:
    """Create a profile from an existing nova.conf.

    Reads [vmware], [image_cache] (and its deprecated [DEFAULT] aliases),
    my_ip, reserved_host_*, default_availability_zone and [vnc] enabled; the
    networking model from use_neutron, network_manager and integration_bridge,
    with nova-network's flat_network_bridge and vlan_interface ([vmware] or
    [DEFAULT]), saying what it took and what it ignored; and
    adds the profile to the config file that would be read (created with mode
    0600 when missing; other profiles are kept). The password is not copied
    unless --include-password is given.
    """
    from vmwctl.profile.manage import import_nova_conf

    result = import_nova_conf(nova_conf, name, config=app.config_option, env=app.env,
                              include_password=include_password, password_env=password_env,
                              replace=replace, dry_run=dry_run)
    for warning in result.warnings:
        app.out.warn(warning)
    app.render(result, _human)
