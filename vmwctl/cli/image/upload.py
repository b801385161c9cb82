"""``vmwctl image upload``."""

from __future__ import annotations

from pathlib import Path
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
from vmwctl.cli.options import CanonicalChoice
from vmwctl.errors import VmwctlError
from vmwctl.images.ostypes import OS_TYPES
from vmwctl.images.properties import (
    ADAPTER_TYPES,
    DISK_TYPES,
    HYPERVISOR_TYPES,
    OS_TYPES_LISTING,
    VISIBILITIES,
)

DISK_TYPE_CHOICES = ["auto", *DISK_TYPES]
ADAPTER_CHOICES = ["auto", *ADAPTER_TYPES]


def _sent(source: str, file: str) -> str:
    """The file whose bytes go to Glance: the one given, or the flat extent of a pair."""
    return file if file == source else f"{file} (the flat extent of {source})"


def _human_plan(plan: Any) -> Any:
    rows = [("Would upload", _sent(plan.source, plan.file)),
            *([("Downloaded first to", plan.download)] if plan.download else []),
            ("As", plan.name),
            ("disk_format", plan.disk_format), ("container_format", plan.container_format)]
    if plan.convert_command:
        rows.append(("After converting with", plan.convert_command))
    rows += delivery_rows(plan.delivery)
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
        *([("Checksum", result.checksum)] if result.checksum else []),
        ("Transfer", f"{result.seconds:.2f} s, {result.bytes_per_second / (1 << 20):.1f} MiB/s"),
        *result_rows(result),
        *[(key, image.get(key)) for key in ("vmware_disktype", "vmware_adaptertype",
                                            "vmware_ostype", "hypervisor_type",
                                            "img_linked_clone") if key in image],
    ])


@click.command("upload")
@click.argument("file", metavar="FILE|URL")
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
@click.option("--visibility", type=CanonicalChoice(VISIBILITIES, "visibility"),
              help="Who sees the image (Glance's default: shared, i.e. the project and its "
                   "members). public is admin-only under Glance's default policy.")
@click.option("--property", "extra", multiple=True, metavar="KEY=VALUE",
              help="Another image property (repeatable).")
@click.option("--convert", is_flag=True,
              help="Convert a non-VMDK source to streamOptimized on the way (the native "
                   "engine streams it straight into the upload, reading non-raw sources "
                   "through qemu-nbd; nothing is written to disk).")
@click.option("--engine", type=click.Choice(["native", "qemu"]),
              help="The --convert engine (default native; qemu converts to a file first).")
@click.option("--checksum", metavar="ALG:HEX",
              help="A URL's published checksum (sha256, sha384 or sha512) of the bytes at "
                   "the URL; a mismatch leaves no image.")
@click.option("--checksums", metavar="URL",
              help="A SHA256SUMS-style file; its line for the URL's file name is checked.")
@click.option("--ca-file", type=click.Path(dir_okay=False),
              help="The CA that signs an https URL's server (default: the system's store).")
@delivery_options(web_download=True)
@click.option("--force", is_flag=True,
              help="Accept a --disktype or --adapter-type that contradicts the file.")
@click.option("--dry-run", is_flag=True, help="Show what would be created; create nothing.")
@click.pass_obj
def upload_command(app: App, file: str, name: str, disktype: str, adapter_type: str,
                   ostype: str | None, linked_clone: bool | None, hypervisor_type: str,
                   visibility: str | None,
                   extra: tuple[str, ...], convert: bool, engine: str | None,
                   checksum: str | None, checksums: str | None, ca_file: str | None,
                   method: str, store: str | None, stores: str | None,
                   force: bool, dry_run: bool) -> None:
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

    An http:// or https:// URL: a streamOptimized VMDK, or raw data with
    --convert, is streamed from the URL into Glance (no local copy); other
    formats are downloaded to a temporary file first (under $TMPDIR). TLS is
    verified (the system's CAs, or --ca-file), proxies come from the
    environment, redirects are followed within the URL's scheme only.
    --checksum or --checksums is checked over the bytes read from the URL
    before the image goes active.

    The data reaches Glance through its direct upload or, with --method
    import, --stores, or (auto) when Glance's upload_image policy refuses the
    direct upload, through the interoperable import API (staged, then
    imported with glance-direct; vmwctl follows the import until every store
    has the image). --method web-download hands Glance a URL to fetch itself.
    The token that starts a transfer need only be valid when Glance starts
    reading it: with a password or an application credential, vmwctl
    authenticates again for the calls after a transfer that outlived it.
    """
    from vmwctl.errors import UsageError
    from vmwctl.images.remote import is_url
    from vmwctl.images.upload import (
        UploadRequest,
        format_match_refusal,
        parse_property,
        plan_upload,
        upload,
    )

    if checksum and checksums:
        raise UsageError("give --checksum or --checksums, not both")
    url = is_url(file)
    if not url and (checksum or checksums or ca_file):
        flag = "--checksum" if checksum else "--checksums" if checksums else "--ca-file"
        raise UsageError(f"{flag} applies to an http(s) URL, and {file} is a file; drop it")
    request = UploadRequest(path=Path(file), name=name, disktype=disktype,
                            adapter_type=adapter_type,
                            ostype=ostype, linked_clone=linked_clone,
                            hypervisor_type=hypervisor_type, visibility=visibility,
                            extra=dict(parse_property(item) for item in extra),
                            convert=convert, force=force, engine=engine)
    delivery = delivery_from(method, store, stores)
    if method == "web-download" and not url:
        raise UsageError(f"--method web-download hands Glance a URL to fetch, and {file} is a "
                         "file; drop it")
    if url:
        _upload_url(app, file, request, checksum, checksums, ca_file, dry_run, delivery)
        return
    plan = plan_upload(request)
    format_match_refusal(plan, app.profile.openstack.image_format_match)
    _warn_or_show(app, plan, dry_run, delivery)
    if dry_run:
        return
    app.images.require_token_for(plan.report.file_size, f"uploading {file}")
    with app.out.progress(f"Uploading {Path(plan.file).name}", plan.report.file_size) as bar:
        result = upload(app.images, plan, progress=bar.advance, on_total=bar.set_total)
    _render_result(app, plan, result)


def _upload_url(app: App, url: str, request: Any, checksum: str | None,
                checksums: str | None, ca_file: str | None, dry_run: bool,
                delivery: Any) -> None:
    """Stream the URL into Glance, or download it first and upload the copy."""
    import shutil

    from vmwctl.images import digests, remote, url_upload
    from vmwctl.images.upload import format_match_refusal, plan_upload, upload

    expected = digests.parse_checksum(checksum) if checksum else None
    if checksums:
        text = remote.read_text(checksums, ca_file=ca_file, what="the checksums file")
        expected = digests.from_checksums_file(text, remote.file_name(url),
                                               remote.shown(checksums))
    source = remote.open_url(url, ca_file=ca_file)
    request.url, request.path = source.url, Path(source.name or "image")
    try:
        if not dry_run:
            app.images.require_token_for(source.size or 0, f"uploading {source.url}")
        decided = url_upload.plan_url(request, source)
        plan = decided.plan
        if delivery.method == "web-download":
            plan = url_upload.plan_web_download(request, source, decided)
            plan.file = source.url
            _warn_or_show(app, plan, dry_run, delivery)
            if dry_run:
                return
            source.close()
            with app.out.progress(f"Glance is fetching {source.name}", None):
                result = url_upload.upload_web_download(app.images, plan, url, source.size,
                                                        expected)
            _render_result(app, plan, result, expected)
            return
        if plan is not None:
            plan.file = source.url
            _warn_or_show(app, plan, dry_run, delivery)
            if dry_run:
                return
            with app.out.progress(f"Uploading {source.name}", source.size) as bar:
                result = url_upload.upload_streamed(app.images, plan, source, expected,
                                                    progress=bar.advance)
            _render_result(app, plan, result, expected)
            return
        if dry_run:
            plan = url_upload.plan_download(request, source, decided)
            format_match_refusal(plan, app.profile.openstack.image_format_match)
            _warn_or_show(app, plan, dry_run, delivery)
            return
        app.out.warn(f"{decided.why_download}: downloading {source.name} to a temporary "
                     "file first")
        with app.out.progress(f"Downloading {source.name}", source.size) as bar:
            path = url_upload.download(source, expected, progress=bar.advance)
    finally:
        source.close()
    try:
        request.url, request.path = None, path
        plan = plan_upload(request)
        format_match_refusal(plan, app.profile.openstack.image_format_match)
        _warn_or_show(app, plan, dry_run, delivery)
        with app.out.progress(f"Uploading {path.name}", plan.report.file_size) as bar:
            result = upload(app.images, plan, progress=bar.advance, on_total=bar.set_total)
        result.source = result.file = source.url
        _render_result(app, plan, result, expected)
    except VmwctlError as exc:  # the temporary copy is gone: the error names the URL
        exc.message = exc.message.replace(str(path), source.url)
        exc.args = (exc.message,)
        raise
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _warn_or_show(app: App, plan: Any, dry_run: bool, delivery: Any) -> None:
    """Check the stores and the import method against Glance (the plan takes them), then
    show the plan (a dry run) or its warnings."""
    from vmwctl.images.upload import check_delivery, name_in_use

    check_delivery(app.images, delivery)
    plan.delivery = delivery
    taken = name_in_use(app.images, plan.name)
    if taken:
        plan.warnings.append(taken)
    if dry_run:
        plan.dry_run = True
        app.render(plan, _human_plan)
        return
    for warning in plan.warnings:
        app.out.warn(warning)


def _render_result(app: App, plan: Any, result: Any, expected: Any = None) -> None:
    for note in result.warnings[len(plan.warnings):]:  # what the transfer found
        app.out.warn(note)
    if expected is not None:
        origin = "--checksum" if expected.origin == "--checksum" else expected.origin
        result.checksum = f"{expected.algorithm} of the source matches {origin}"
    app.render(result, _human_result)
