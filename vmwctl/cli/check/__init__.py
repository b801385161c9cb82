"""``vmwctl check``: the guide's prerequisites, privileges and nova.conf, verified."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("check", {
    "prereqs": "vmwctl.cli.check.prereqs:prereqs_command",
    "privileges": "vmwctl.cli.check.privileges:privileges_command",
    "nova-conf": "vmwctl.cli.check.nova_conf:nova_conf_command",
    "fleet": "vmwctl.cli.check.fleet:fleet_command",
})
def check() -> None:
    """Checks: the guide's prerequisites, privileges, nova.conf, and a fleet of services."""
