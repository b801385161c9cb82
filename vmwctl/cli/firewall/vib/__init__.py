"""``vmwctl firewall vib``: the custom VIB that keeps a firewall ruleset across reboots."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("vib", {
    "build": "vmwctl.cli.firewall.vib.build:build_command",
    "inspect": "vmwctl.cli.firewall.vib.inspect:inspect_command",
    "install": "vmwctl.cli.firewall.vib.install:install_command",
})
def vib() -> None:
    """The firewall VIB: build it, inspect any VIB, install it on the cluster's hosts."""
