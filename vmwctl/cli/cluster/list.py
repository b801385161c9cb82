"""``vmwctl cluster list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import table
from vmwctl.cli.options import ClusterFlag


def _human(listing: Any) -> Any:
    rows = [("*" if c.selected else "", c.datacenter, c.name, f"{c.hosts_counted}/{c.hosts}",
             "yes" if c.drs_fully_automated else "NO", c.vcpus, f"{c.memory_mb:,}",
             f"{c.disk_gb:,}", f"{c.largest_free_mb:,}") for c in listing.clusters]
    return table(f"Clusters of {listing.vcenter}",
                 ("", "DATACENTER", "CLUSTER", "HOSTS", "DRS FULL", "VCPUS", "MEMORY MB",
                  "DISK GB", "ROOM MB"), rows,
                 caption="* the profile's cluster; HOSTS: counted by Nova / all; totals as "
                         "nova-compute reports them; ROOM: the most memory free on one host")


@click.command("list")
@click.pass_obj
def list_command(app: App) -> None:
    """List every cluster with its hosts, Nova's totals and whether DRS is fully automated."""
    from vmwctl.nova.cluster import list_clusters
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(app.vcenter)
    selected = ClusterFlag.of_profile(lambda: app.profile).resolve(
        inventory, required=False, lenient=True)
    app.render(list_clusters(inventory, app.profile, selected), _human)
