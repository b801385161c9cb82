"""``vmwctl image export``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details
from vmwctl.cli.format import size as human_size
from vmwctl.cli.image.delivery import (
    delivery_from,
    delivery_options,
    delivery_rows,
    result_rows,
)


def _disk(plan: Any) -> str:
    return f"disk {plan.disk} of VM {plan.vm}" + (f" ({plan.file})" if plan.file else "")


def _human_plan(plan: Any, delivery: list[tuple[str, str]]) -> Any:
    rows = [("Would export", _disk(plan)), ("Power state", plan.power_state),
            ("Disk size", human_size(plan.capacity)), ("As", plan.name),
            ("disk_format", plan.disk_format), ("container_format", plan.container_format),
            ("Hardware version", plan.hardware_version or "unknown")]
    rows += delivery
    rows += [(key, value) for key, value in plan.properties.items()]
    rows += [("Warning", warning) for warning in plan.warnings]
    return details(rows)


def _human_result(result: Any) -> Any:
    image = result.image
    return details([
        ("Image id", image["id"]),
        ("Name", image.get("name")),
        ("Status", image.get("status")),
        ("Exported", f"disk {result.disk} of VM {result.vm}"),
        ("Hardware version", result.hardware_version or "unknown"),
        ("Size", human_size(result.bytes_sent)),
        ("Verified", result.verified),
        ("Transfer", f"{result.seconds:.2f} s, {result.bytes_per_second / (1 << 20):.1f} MiB/s"),
        *result_rows(result),
        *[(key, image.get(key)) for key in ("vmware_disktype", "vmware_adaptertype",
                                            "vmware_ostype", "hw_vif_model",
                                            "hypervisor_type") if key in image],
    ])


@click.command("export")
@click.argument("vm")
@click.option("--name", required=True, help="Name of the image in Glance.")
@click.option("--disk", type=click.IntRange(min=0), metavar="N",
              help="The disk to export, from 0 in device order (required when the VM has "
                   "several).")
@click.option("--allow-running", is_flag=True,
              help="Export a VM that is not powered off (its disk may be inconsistent).")
@delivery_options()
@click.option("--dry-run", is_flag=True, help="Show what would be exported; create nothing.")
@click.pass_obj
def export_command(app: App, vm: str, name: str, disk: int | None, allow_running: bool,
                   method: str, store: str | None, stores: str | None,
                   dry_run: bool) -> None:
    """Export a VM's disk from vCenter into Glance, without a local copy.

    The VM's disk is read through an ExportVm lease as streamOptimized, as
    Nova's snapshots are, and streamed into a new image with the properties
    the VM implies: disk_format=vmdk, container_format=bare,
    vmware_disktype=streamOptimized, vmware_adaptertype from the disk's
    controller, vmware_ostype from the VM's guestId, hw_vif_model from its
    first NIC and hypervisor_type=vmware. Glance's size and sha512 are checked
    against what was sent; the lease is kept alive while the data flows,
    completed at the end, and aborted, the image deleted, on any failure or
    Ctrl-C.

    Refused before anything is created: a VM with snapshots (the export reads
    the base disk, not the state the snapshots keep), a VM with several disks
    unless --disk N, a VM that is not powered off unless --allow-running
    (vCenter itself refuses to export a powered-on VM; a suspended one is
    exported).
    """
    from vmwctl.images.export import plan_export, send_export
    from vmwctl.images.upload import check_delivery, name_in_use
    from vmwctl.vsphere.export import export_disk, find_vm

    delivery = delivery_from(method, store, stores)
    source = find_vm(app.vcenter, vm)
    plan = plan_export(source, name=name, disk=disk, allow_running=allow_running)
    check_delivery(app.images, delivery)
    taken = name_in_use(app.images, name)
    if taken:
        plan.warnings.append(taken)
    if dry_run:
        plan.dry_run = True
        app.render(plan, lambda plan: _human_plan(plan, delivery_rows(delivery)))
        return
    app.images.require_token_for(plan.capacity, f"exporting disk {plan.disk} of {source.name}")
    for warning in plan.warnings:
        app.out.warn(warning)
    with app.out.progress(f"Exporting {source.name}", plan.capacity) as bar, \
            export_disk(app.vcenter, source, source.disks[plan.disk]) as export:
        result = send_export(app.images, plan,
                             export.chunks(progress=bar.advance, on_total=bar.set_total),
                             delivery=delivery)
    for note in result.warnings[len(plan.warnings):]:  # what the transfer found
        app.out.warn(note)
    app.render(result, _human_result)
