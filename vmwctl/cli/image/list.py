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
        rows.append((image.name or "-", image.id, image.status, disk_type,
                     image.adapter_type or "NONE", image.os_type, linked,
                     "\n".join(findings) or "ok"))
    caption = (f"cloud {listing.cloud}; {'mixed' if listing.mixed_cloud else 'VMware-only'}"
               f"{'; data verified' if listing.verified else ''}; values as Nova reads them")
    return table(None, ("NAME", "ID", "STATUS", "DISK TYPE", "ADAPTER", "OS TYPE", "LINKED",
                        "FINDINGS"), rows, caption=caption, whole=("ID",))


@click.command("list")
@click.option("--verify", is_flag=True,
              help="Also read the head of each image back from Glance (ranged reads, not a "
                   "download) and compare the data with the properties.")
@click.pass_obj
def list_command(app: App, verify: bool) -> int:
    """List images for VMware (disk_format=vmdk or hypervisor_type=vmware) as Nova reads them.

    Flags what would break a boot: invalid or missing values, a missing
    hypervisor_type in a mixed cloud, a vmware_* property contradicted by its
    newer Nova name, and with --verify a file whose disk or adapter type
    contradicts the properties. Exit status 1 when any image would fail.
    """
    from vmwctl.images.catalog import list_vmware_images

    listing = list_vmware_images(app.images, verify=verify)
    app.render(listing, _human)
    return EXIT_FAILED if listing.broken else EXIT_OK
