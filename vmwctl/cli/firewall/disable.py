"""``vmwctl firewall disable``."""

from vmwctl.cli.firewall.switch import switch_command

disable_command = switch_command("disable", enable=False)
