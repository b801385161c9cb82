"""``vmwctl profile``: list, show, validate and import profiles."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("profile", {
    "list": "vmwctl.cli.profile.list:list_command",
    "show": "vmwctl.cli.profile.show:show_command",
    "validate": "vmwctl.cli.profile.validate:validate_command",
    "import-nova-conf": "vmwctl.cli.profile.import_nova_conf:import_command",
})
def profile() -> None:
    """Profiles: the vCenter, cluster and nova.conf settings each command uses."""
