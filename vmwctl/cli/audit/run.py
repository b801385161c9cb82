"""``vmwctl audit``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.audit import KINDS
from vmwctl.cli.app import App
from vmwctl.cli.format import short_size, table
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.errors import EXIT_FAILED, EXIT_OK, UsageError


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(max(0, seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _human(report: Any) -> Any:
    from rich.console import Group

    rows = [(f.kind, f.subject, short_size(f.size) if f.size is not None else "-",
             _age(f.age_seconds), f.remedy) for f in report.findings]
    summary = ", ".join(f"{count} {kind}" for kind, count in report.counts.items() if count)
    caption = (f"cluster {report.cluster}, node {report.node}; servers from "
               f"{report.servers_from}, images from {report.images_from}; "
               f"{summary or 'no findings'}")
    parts: list[Any] = [table(None, ("KIND", "SUBJECT", "SIZE", "AGE", "REMEDY"), rows,
                              caption=caption, whole=("SUBJECT",))]
    parts.extend(f"note: {note}" for note in report.notes)
    return Group(*parts)


def _kinds(value: str | None) -> list[str]:
    if not value:
        return []
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise UsageError(f"--fail-on {unknown[0]!r}: not a finding kind; kinds: "
                         f"{', '.join(KINDS)}")
    return kinds


@click.command("audit")
@cluster_option
@click.option("--servers-from", default="api", show_default=True, metavar="api|FILE",
              help="The instances OpenStack knows: the compute API (the profile's cloud, "
                   "an admin's), or a JSON file of 'openstack server list --all-projects "
                   "--long -f json'.")
@click.option("--images-from", default="api", show_default=True, metavar="api|FILE",
              help="The images OpenStack knows: the image service, or a JSON file of "
                   "'openstack image list -f json'.")
@click.option("--fail-on", metavar="KIND,...",
              help="Exit 1 when there are findings of these kinds (default: never).")
@click.pass_obj
def audit_command(app: App, cluster: ClusterFlag, servers_from: str, images_from: str,
                  fail_on: str | None) -> int:
    """What vCenter holds that OpenStack does not know, and the reverse.

    Reads vCenter once (the inventory, one search of every datastore Nova
    uses, which VM uses which folder) and OpenStack once (the servers of the
    cluster's compute node, <cluster moid>.<vCenter instanceUuid>, and the
    cached images), then reports each finding with its kind, size, age and
    remedy: orphan-vm (Nova's VM, no instance), lost-instance (an instance,
    no VM), duplicate-vm (two VMs claim one instance), shadow-vm (an image
    import's VM still registered), orphan-folder (an instance-named folder no
    VM uses), deleted-image (cached, gone from Glance), foreign-vm (not
    Nova's; vSphere's own and other solutions' VMs apart). Changes nothing.
    """
    import datetime as dt
    from pathlib import Path

    from vmwctl.audit.run import Sources, failing, run_audit
    from vmwctl.vsphere.snapshot import read_inventory

    kinds = _kinds(fail_on)
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
    inventory = read_inventory(vc)
    found = cluster.resolve(inventory)
    report = run_audit(vc, inventory, app.profile, found, sources,
                       now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    app.render(report, _human)
    return EXIT_FAILED if failing(report, kinds) else EXIT_OK
