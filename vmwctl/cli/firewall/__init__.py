"""``vmwctl firewall``: VNC ports open on every ESXi host, and kept open across reboots."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("firewall", {
    "vib": "vmwctl.cli.firewall.vib:vib",
    "status": "vmwctl.cli.firewall.status:status_command",
    "enable": "vmwctl.cli.firewall.enable:enable_command",
    "disable": "vmwctl.cli.firewall.disable:disable_command",
})
def firewall() -> None:
    """Host firewalls: VNC port status, rulesets on and off, the firewall VIB."""
