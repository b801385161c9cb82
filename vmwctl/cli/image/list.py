"""``vmwctl image list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import table
from vmwctl.errors import EXIT_FAILED, EXIT_OK


def _human(listing: Any) -> Any:
    rows = []
    for image in listing.images:
        findings = [f"FAIL: {p}" for p in image.problems] + \
            [f"warn: {w}" for w in image.warnings]
        linked = {None: "default", True: "yes", False: "no"}[image.linked_clone]
        disk_type = "iso" if image.disk_format == "iso" else image.disk_type  # a CD-ROM
        owner = ("yours" if image.owner == listing.project_id else image.owner or "-",) \
            if listing.foreign else ()
        stores = (", ".join(image.stores) or "-",) if listing.multi_store else ()
        rows.append((image.name or "-", image.id, image.status, *owner,
                     image.visibility or "-", *stores, disk_type, image.adapter_type or "NONE",
                     image.os_type, linked, "\n".join(findings) or "ok"))
    scope = f"; project {listing.project}" if listing.project else ""
    if listing.all_projects:
        scope += " (all projects)"
    caption = (f"cloud {listing.cloud}{scope}; "
               f"{'mixed' if listing.mixed_cloud else 'VMware-only'}"
               f"{'; data verified' if listing.verified else ''}; values as Nova reads them")
    headers = ("NAME", "ID", "STATUS", *(("OWNER",) if listing.foreign else ()), "VISIBILITY",
               *(("STORES",) if listing.multi_store else ()), "DISK TYPE", "ADAPTER", "OS TYPE",
               "LINKED", "FINDINGS")
    return table(None, headers, rows, caption=caption, whole=("ID",))


@click.command("list")
@click.option("--verify", is_flag=True,
              help="Also read the head of each image back from Glance (ranged reads, not a "
                   "download) and compare the data with the properties.")
@click.option("--all-projects", is_flag=True,
              help="Every project's images, not only those your project sees (needs the "
                   "admin role).")
@click.pass_obj
def list_command(app: App, verify: bool, all_projects: bool) -> int:
    """List images for VMware (disk_format=vmdk or hypervisor_type=vmware) as Nova reads them.

    Flags what would break a boot: invalid or missing values, a missing
    hypervisor_type in a mixed cloud, a vmware_* property contradicted by its
    newer Nova name, and with --verify a file whose disk or adapter type
    contradicts the properties. Exit status 1 when any image would fail.
    """
    from vmwctl.images.catalog import list_vmware_images

    listing = list_vmware_images(app.images, verify=verify, all_projects=all_projects)
    app.render(listing, _human)
    return EXIT_FAILED if listing.broken else EXIT_OK
