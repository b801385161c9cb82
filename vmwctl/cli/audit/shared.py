"""What ``audit`` and ``audit clean`` share: where OpenStack's view comes from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vmwctl.cli.options import cluster_option

_options = [
    cluster_option,
    click.option("--servers-from", default="api", show_default=True, metavar="api|FILE",
                 help="The instances OpenStack knows: the compute API (the profile's cloud, "
                      "an admin's), or a JSON file of 'openstack server list --all-projects "
                      "--long -f json'."),
    click.option("--images-from", default="api", show_default=True, metavar="api|FILE",
                 help="The images OpenStack knows: the image service, or a JSON file of "
                      "'openstack image list -f json'."),
]


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_options):
        command = option(command)
    return command


def audit_report(app: Any, cluster: Any, servers_from: str, images_from: str) -> Any:
    """Read vCenter and OpenStack and judge: (the report, the inventory, the cluster, the
    datastores Nova uses)."""
    import datetime as dt
    from pathlib import Path

    from vmwctl.audit.run import Sources, run_audit
    from vmwctl.cache.listing import target_datastores
    from vmwctl.errors import UsageError
    from vmwctl.vsphere.snapshot import read_inventory

    for flag, value in (("--servers-from", servers_from), ("--images-from", images_from)):
        if value != "api" and not Path(value).is_file():
            raise UsageError(f"{flag} {value}: no such file; give 'api' or a JSON file")
    sources = Sources(servers=servers_from, images=images_from)
    if servers_from == "api":
        from vmwctl.audit.sources import servers_from_api

        sources.list_servers = lambda node: servers_from_api(
            app.images.connection, node, app.images.cloud)
    if images_from == "api":
        from vmwctl.audit.sources import deleted_images_from_api

        sources.deleted_images = lambda ids: deleted_images_from_api(app.images, ids)
    vc = app.vcenter
    inventory = read_inventory(vc, cluster=cluster.name)
    found = cluster.resolve(inventory)
    report = run_audit(vc, inventory, app.profile, found, sources,
                       now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    return report, inventory, found, target_datastores(inventory, app.profile, None, found)
