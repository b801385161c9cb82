"""``vmwctl firewall status``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.firewall.shared import ports_option, wanted_ports
from vmwctl.cli.format import table
from vmwctl.cli.options import ClusterFlag, cluster_option


def status_table(status: Any) -> Any:
    from vmwctl.firewall.ports import describe_ranges

    def verdict(host: Any) -> str:
        if not host.checked:
            return f"not checked ({host.state})"
        if host.no_vnc_server:
            return "no VNC server (ESXi 7.0+)"
        return "open" if host.open else "GAPS"

    rows = [(h.host, h.version or "-", verdict(h),
             ", ".join(f"{k} ({describe_ranges(v)})" for k, v in h.rulesets.items()) or "-",
             describe_ranges(h.gaps) or "-") for h in status.hosts]
    gaps = status.hosts_with_gaps
    caption = (f"{len(gaps)} of {len(status.hosts)} hosts leave ports closed" if gaps else
               "every checked host opens the ports")
    return table(f"Cluster {status.cluster}: inbound TCP {describe_ranges(status.ports)}",
                 ("HOST", "ESXI", "PORTS", "OPENED BY", "GAPS"), rows, caption=caption)


@click.command("status")
@cluster_option
@ports_option("Ports that must be open (default: as the vnc-firewall check: the guide's "
              "5900-6105, or the profile's vnc_port range when it sets one).")
@click.pass_obj
def status_command(app: App, cluster: ClusterFlag, ports: str | None) -> int:
    """Show, per host of the cluster, whether enabled inbound TCP rulesets open the VNC ports.

    Names the rulesets that cover them and the gaps. ESXi 7.0 and later have
    no VNC server: said instead of a gap. Exit status 1 when any host has a
    gap.
    """
    from vmwctl.firewall.hosts import firewall_status
    from vmwctl.vsphere.snapshot import read_inventory

    wanted = wanted_ports(app, ports)
    inventory = read_inventory(app.vcenter)
    status = firewall_status(app.vcenter, inventory, cluster.resolve(inventory), wanted)
    app.render(status, status_table)
    return 1 if status.hosts_with_gaps else 0
