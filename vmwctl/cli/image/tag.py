"""``vmwctl image tag``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details
from vmwctl.cli.options import CanonicalChoice
from vmwctl.images.ostypes import OS_TYPES
from vmwctl.images.properties import (
    ADAPTER_TYPES,
    DISK_TYPES,
    HYPERVISOR_TYPES,
    OS_TYPES_LISTING,
)


def _human(change: Any) -> Any:
    if not change.pending:
        return f"image {change.name or change.image_id} already has these properties; nothing " \
               "to change"
    would = "would " if change.dry_run else ""
    image = f"{change.name} ({change.image_id})" + (": dry run, nothing changed"
                                                     if change.dry_run else "")
    rows: list[tuple[str, Any]] = [("Image", image)]
    rows += [(f"{would}set {key}", value) for key, value in change.set.items()]
    rows += [(f"{would}remove" if change.dry_run else "removed", key) for key in change.removed]
    for key in change.also_set:
        rows.append(("Note", f"{key} {'would change' if change.dry_run else 'changed'} as "
                             "well: Nova reads it in preference to its vmware_* name, and the "
                             "two must agree"))
    return details(rows)


@click.command("tag")
@click.argument("image")
@click.option("--ostype", type=CanonicalChoice(sorted(OS_TYPES, key=str.lower), "vmware_ostype",
                                   listing=OS_TYPES_LISTING),
              metavar="OSTYPE", help="vmware_ostype (see 'vmwctl image ostypes').")
@click.option("--adapter-type", type=CanonicalChoice(ADAPTER_TYPES, "adapter type"),
              help="vmware_adaptertype.")
@click.option("--disktype", type=CanonicalChoice(DISK_TYPES, "disk type"),
              help="vmware_disktype.")
@click.option("--linked-clone/--no-linked-clone", default=None, help="img_linked_clone.")
@click.option("--hypervisor-type", type=CanonicalChoice(HYPERVISOR_TYPES, "hypervisor type"),
              help="hypervisor_type.")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a property (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show the change; make none.")
@click.pass_obj
def tag_command(app: App, image: str, ostype: str | None, adapter_type: str | None,
                disktype: str | None, linked_clone: bool | None, hypervisor_type: str | None,
                unset: tuple[str, ...], dry_run: bool) -> None:
    """Set or clear the VMware properties of an image (by id or unique name).

    Every value is checked against Nova's list. Where the image also carries
    the newer name Nova reads first (hw_disk_type, hw_disk_bus/hw_scsi_model,
    os_distro, img_hv_type, vmware_linked_clone), it is set to agree.
    Running the same command twice changes nothing the second time.
    """
    from vmwctl.images.catalog import apply_tag, plan_tag

    updates: dict[str, str] = {}
    if ostype:
        updates["vmware_ostype"] = ostype
    if adapter_type:
        updates["vmware_adaptertype"] = adapter_type
    if disktype:
        updates["vmware_disktype"] = disktype
    if linked_clone is not None:
        updates["img_linked_clone"] = "true" if linked_clone else "false"
    if hypervisor_type:
        updates["hypervisor_type"] = hypervisor_type
    if not updates and not unset:
        from vmwctl.errors import UsageError

        raise UsageError("nothing to change: give at least one of --ostype, --adapter-type, "
                         "--disktype, --linked-clone/--no-linked-clone, --hypervisor-type, "
                         "--unset")
    record = app.images.find(image)
    change = plan_tag(record, updates, list(unset))
    if dry_run:
        change.dry_run = True
    else:
        change = apply_tag(app.images, record, change)
    app.render(change, _human)
