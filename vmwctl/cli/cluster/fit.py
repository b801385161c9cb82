"""``vmwctl cluster fit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.cluster.flavors import flavor_source_options, load_flavors
from vmwctl.cli.format import table
from vmwctl.cli.options import ClusterFlag, cluster_option


def _human(report: Any) -> Any:
    rows = [(fit.flavor.name, fit.flavor.vcpus, f"{fit.flavor.ram_mb:,}", fit.flavor.disk_gb,
             "yes" if fit.accepted else "NO", fit.fit_now, fit.fit_after_ha,
             fit.verdict, fit.detail) for fit in report.flavors]
    room = report.headroom.largest_now
    caption = (f"largest room now: {room.memory_mb:,} MB on {room.host}; " if room else "") \
        + f"HA: {report.ha.detail}"
    return table(f"Flavors on {report.cluster}", ("FLAVOR", "VCPUS", "RAM MB", "DISK GB",
                                                 "NOVA", "NOW", "AFTER HA", "VERDICT",
                                                 "DETAIL"), rows, caption=caption)


@click.command("fit")
@click.argument("flavors", nargs=-1, metavar="[FLAVOR]...")
@cluster_option
@flavor_source_options
@click.pass_obj
def fit_command(app: App, flavors: tuple[str, ...], cluster: ClusterFlag,
                flavors_file: Path | None, flavors_from: str | None) -> int:
    """Tell whether flavors fit the cluster's hosts as they are now.

    FLAVOR is name:vcpus:ram_mb:disk_gb, or the name of a flavor of
    --flavors-file (openstack flavor list --long -f json) or --flavors-from
    api; with a source and no FLAVOR, every flavor listed. For each: whether
    Nova accepts it (placement's max_unit, the node's free figures), on which
    hosts it fits now without overcommitting memory (free memory, vCPUs up to
    the threads), how many fit now and after vSphere HA's reserve. Exit
    status 1 when Nova accepts a flavor that fits nowhere: it boots by
    overcommitting memory, DRS has to move VMs, or HA refuses its power-on.
    """
    from vmwctl.nova.cluster import fit_flavors
    from vmwctl.vsphere.snapshot import VM_OWNERS, read_inventory

    chosen = load_flavors(app, list(flavors), flavors_file, flavors_from)
    inventory = read_inventory(app.vcenter, cluster=cluster.name, vm_properties=VM_OWNERS)
    report = fit_flavors(inventory, cluster.resolve(inventory), app.profile, chosen)
    app.render(report, _human)
    return report.exit_code()
