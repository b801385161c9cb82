"""``vmwctl firewall status``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.firewall.shared import ports_option, wanted_ports
from vmwctl.cli.format import table
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.cli.output import printable


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
    from rich.console import Group
    from rich.text import Text

    verdict = status.verdict
    if verdict is None:
        summary = "SKIP: no connected host to check"
    else:
        summary = f"{verdict.status.upper()}: {verdict.detail}"
        if verdict.remedy:
            summary += f"\nRemedy: {verdict.remedy}"
    return Group(table(f"Cluster {status.cluster}: inbound TCP {describe_ranges(status.ports)}",
                       ("HOST", "ESXI", "PORTS", "OPENED BY", "GAPS"), rows),
                 Text(printable(summary)))


@click.command("status")
@cluster_option
@ports_option("Ports that must be open (default: the ones Nova hands out, the profile's "
              "vnc_port .. vnc_port + vnc_port_total - 1).")
@click.pass_obj
def status_command(app: App, cluster: ClusterFlag, ports: str | None) -> int:
    """Show, per host of the cluster, whether enabled inbound TCP rulesets open the VNC ports.

    Names the rulesets that cover them and the gaps, and gives the verdict
    check prereqs and check nova-conf give: pass when every port is open, warn
    when only part is and Nova can still hand out open ports (it says how
    many, counting the ports the vCenter's VMs hold), fail when the next port
    it hands out is closed. ESXi 7.0 and later have no VNC server: said
    instead of a gap. Exit status 1 exactly when the verdict is fail.
    """
    from vmwctl.firewall.hosts import firewall_status
    from vmwctl.vsphere.snapshot import read_inventory

    wanted = wanted_ports(app, ports)
    inventory = read_inventory(app.vcenter, cluster=cluster.name)
    status = firewall_status(app.vcenter, inventory, cluster.resolve(inventory), wanted)
    app.render(status, status_table)
    return 1 if status.status == "fail" else 0
