"""What the ``firewall`` commands share: the port option."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.firewall.ports import Range


def ports_option(help_text: str) -> Any:
    return click.option("--ports", metavar="RANGES", help=help_text)


def wanted_ports(app: App, ports: str | None) -> list[Range]:
    """--ports, else the ports Nova hands out: the profile's vnc_port ..
    vnc_port + vnc_port_total - 1, as the VNC checks judge them."""
    from vmwctl.firewall.ports import parse_ports
    from vmwctl.nova.vnc import vnc_range

    if ports:
        return parse_ports(ports)
    return [vnc_range(app.profile)]

