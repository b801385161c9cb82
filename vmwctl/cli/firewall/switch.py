"""What ``firewall enable`` and ``firewall disable`` share."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.options import ClusterFlag, cluster_option


def _human(report: Any) -> str:
    verb = "enabled" if report.enable else "disabled"
    words = {"changed": verb, "unchanged": f"already {verb}",
             "planned": f"would be {verb}", "failed": "would fail" if report.dry_run
             else "FAILED", "skipped": "skipped"}
    lines = [f"{h.host}: {words[h.outcome]}" + (f" ({h.reason})" if h.reason else "")
             for h in report.hosts]
    dry = " (dry run: nothing changed)" if report.dry_run else ""
    return f"ruleset {report.ruleset} on cluster {report.cluster}{dry}:\n" + "\n".join(
        f"  {line}" for line in lines)


def switch_command(name: str, enable: bool) -> click.Command:
    word = "Enable" if enable else "Disable"

    @click.command(name)
    @click.option("--ruleset", "ruleset_id", required=True, metavar="ID",
                  help="The ruleset's key, as 'esxcli network firewall ruleset list' shows it.")
    @cluster_option
    @click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
    @click.pass_obj
    def command(app: App, ruleset_id: str, cluster: ClusterFlag, dry_run: bool) -> int:
        from vmwctl.firewall.hosts import set_ruleset
        from vmwctl.vsphere.snapshot import read_inventory

        inventory = read_inventory(app.vcenter)
        report = set_ruleset(app.vcenter, inventory, cluster.resolve(inventory),
                             ruleset_id, enable=enable, dry_run=dry_run)
        return app.finish_batch(report, _human, [f"{h.host}: {h.reason}" for h in report.hosts
                                                 if h.outcome == "failed"])

    command.help = (f"{word} an existing firewall ruleset on every connected host of the "
                    "cluster (HostFirewallSystem); hosts where it already is are left alone. "
                    "Exit status 1 when a host fails.")
    return command
