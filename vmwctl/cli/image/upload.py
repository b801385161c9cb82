"""``vmwctl image upload``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details
from vmwctl.cli.format import size as human_size
from vmwctl.cli.options import CanonicalChoice
from vmwctl.images.ostypes import OS_TYPES
from vmwctl.images.properties import (
    ADAPTER_TYPES,
    DISK_TYPES,
    HYPERVISOR_TYPES,
    OS_TYPES_LISTING,
)

DISK_TYPE_CHOICES = ["auto", *DISK_TYPES]
ADAPTER_CHOICES = ["auto", *ADAPTER_TYPES]


def _sent(source: str, file: str) -> str:
    """The file whose bytes go to Glance: the one given, or the flat extent of a pair."""
    return file if file == source else f"{file} (the flat extent of {source})"


def _human_plan(plan: Any) -> Any:
    rows = [("Would upload", _sent(plan.source, plan.file)), ("As", plan.name),
            ("disk_format", plan.disk_format), ("container_format", plan.container_format)]
    if plan.convert_command:
        rows.append(("After converting with", plan.convert_command))
    rows += [(key, value) for key, value in plan.properties.items()]
    rows += [("Warning", warning) for warning in plan.warnings]
    return details(rows)


def _human_result(result: Any) -> Any:
    image = result.image
    return details([
        ("Image id", image["id"]),
        ("Name", image.get("name")),
        ("Status", image.get("status")),
        ("Sent", _sent(result.source, result.file)),
        ("Size", human_size(result.bytes_sent)),
        ("Verified", result.verified),
        ("Transfer", f"{result.seconds:.2f} s, {result.bytes_per_second / (1 << 20):.1f} MiB/s"),
        *[(key, image.get(key)) for key in ("vmware_disktype", "vmware_adaptertype",
                                            "vmware_ostype", "hypervisor_type",
                                            "img_linked_clone") if key in image],
    ])


@click.command("upload")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Name of the image in Glance.")
@click.option("--disktype", type=CanonicalChoice(DISK_TYPE_CHOICES, "disk type"),
              default="auto", show_default=True,
              help="vmware_disktype; auto reads it from the file.")
@click.option("--adapter-type", type=CanonicalChoice(ADAPTER_CHOICES, "adapter type"),
              default="auto", show_default=True,
              help="vmware_adaptertype; auto reads the descriptor (lsiLogicsas and paraVirtual "
                   "must be given).")
@click.option("--ostype", type=CanonicalChoice(sorted(OS_TYPES, key=str.lower), "vmware_ostype",
                                   listing=OS_TYPES_LISTING),
              metavar="OSTYPE", help="vmware_ostype (see 'vmwctl image ostypes').")
@click.option("--linked-clone/--no-linked-clone", default=None,
              help="img_linked_clone (default: the compute node's use_linked_clone).")
@click.option("--hypervisor-type", type=CanonicalChoice(HYPERVISOR_TYPES, "hypervisor type"),
              default="vmware", show_default=True,
              help="hypervisor_type, for mixed clouds.")
@click.option("--property", "extra", multiple=True, metavar="KEY=VALUE",
              help="Another image property (repeatable).")
@click.option("--convert", is_flag=True,
              help="Convert a non-VMDK source to streamOptimized on the way (the native "
                   "engine streams it straight into the upload; nothing is written to disk "
                   "but, for non-raw sources, a sparse raw copy).")
@click.option("--engine", type=click.Choice(["native", "qemu"]),
              help="The --convert engine (default native; qemu converts to a file first).")
@click.option("--force", is_flag=True,
              help="Accept a --disktype or --adapter-type that contradicts the file.")
@click.option("--dry-run", is_flag=True, help="Show what would be created; create nothing.")
@click.pass_obj
def upload_command(app: App, file: Path, name: str, disktype: str, adapter_type: str,
                   ostype: str | None, linked_clone: bool | None, hypervisor_type: str,
                   extra: tuple[str, ...], convert: bool, engine: str | None, force: bool,
                   dry_run: bool) -> None:
    """Upload a VMDK, an ISO or an OVA to Glance with the properties Nova's VMware driver needs.

    A VMDK: disk_format=vmdk, container_format=bare, vmware_disktype and
    vmware_adaptertype read from the file, vmware_ostype, hypervisor_type=vmware
    and img_linked_clone when given. An ISO 9660 image (known by its volume
    descriptor, not its name): disk_format=iso, container_format=bare,
    vmware_ostype and hypervisor_type; --disktype and --adapter-type, when
    given, shape the blank root disk Nova adds. An unsafe file is never
    uploaded; the data is streamed, then Glance's size and sha512 are checked
    against what was sent, and a failed upload leaves no image behind. A
    warning says when an image of that name exists already.

    An OVA is read whole first and checked as 'image inspect' does; it is
    sent as it is, with container_format=ova, the adapter type of its disk's
    controller and the guest OS its OVF names.

    Given the descriptor of a flat pair (X.vmdk beside X-flat.vmdk), it sends
    the -flat extent with the descriptor's vmware_disktype (thin or
    preallocated) and adapter type. Glance 30+ refuses such raw data as vmdk
    unless its [image_format] require_image_format_match is off: unless the
    profile says so (openstack.image_format_match: false), raw data is
    refused before anything is sent; --convert sends it as streamOptimized.
    """
    from vmwctl.images.upload import (
        UploadRequest,
        format_match_refusal,
        name_in_use,
        parse_property,
        plan_upload,
        upload,
    )

    request = UploadRequest(path=file, name=name, disktype=disktype, adapter_type=adapter_type,
                            ostype=ostype, linked_clone=linked_clone,
                            hypervisor_type=hypervisor_type,
                            extra=dict(parse_property(item) for item in extra),
                            convert=convert, force=force, engine=engine)
    plan = plan_upload(request)
    format_match_refusal(plan, app.profile.openstack.image_format_match)
    taken = name_in_use(app.images, name)
    if taken:
        plan.warnings.append(taken)
    if dry_run:
        plan.dry_run = True
        app.render(plan, _human_plan)
        return
    for warning in plan.warnings:
        app.out.warn(warning)
    with app.out.progress(f"Uploading {Path(plan.file).name}", plan.report.file_size) as bar:
        result = upload(app.images, plan, progress=bar.advance, on_total=bar.set_total)
    app.render(result, _human_result)
