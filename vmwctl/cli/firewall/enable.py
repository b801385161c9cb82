"""``vmwctl firewall enable``."""

from vmwctl.cli.firewall.switch import switch_command

enable_command = switch_command("enable", enable=True)
