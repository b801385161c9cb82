"""``vmwctl image inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details
from vmwctl.cli.format import size as human_size
from vmwctl.errors import EXIT_FAILED, EXIT_OK


def render_report(report: Any) -> Any:
    rows = [
        ("File", report.path),
        ("Format", report.format + (f" ({report.create_type})" if report.create_type else "")),
        ("vmware_disktype", report.vmware_disktype or "-"),
        ("Adapter type", (f"{report.vmware_adaptertype or '-'} (descriptor: "
                          f"{report.descriptor_adapter_type})")
         if report.descriptor_adapter_type else "-"),
        ("Virtual size", human_size(report.virtual_size)),
        ("File size", human_size(report.file_size)),
        ("Allocated", human_size(report.allocated_size)),
        ("Hardware version", report.hardware_version or "-"),
        *(_iso_rows(report.iso) if report.iso else []),
        ("Safe", "yes" if report.safe else "NO"),
        (f"Glance ({report.disk_format or 'vmdk'})",
         "accepts" if report.glance_accepts else "refuses"),
    ]
    rows += [("Problem", problem) for problem in report.problems]
    rows += [("Note", note) for note in report.notes]
    if report.remedy:
        rows.append(("Remedy", report.remedy))
    return details(rows)


def _iso_rows(volume: Any) -> list[tuple[str, Any]]:
    """The primary volume descriptor of an ISO 9660 image."""
    return [("Volume id", volume.volume_id or "-"),
            ("System id", volume.system_id or "-"),
            ("Application", volume.application_id or "-"),
            ("Created", volume.created.isoformat() if volume.created else "-"),
            ("Bootable", "yes (El Torito)" if volume.bootable else "no"),
            ("Blocks", f"{volume.blocks} of {volume.block_size} bytes")]


def render_ova(report: Any) -> Any:
    """The table of an OVA: its members, what the OVF says, the disk, the properties."""
    disk = report.disk_report
    rows = [("File", report.path),
            ("Format", f"OVA (OVF {report.ovf_version})" if report.ovf_version else "OVA"),
            ("File size", human_size(report.file_size))]
    for member in report.members:
        verdict = f", manifest {member.manifest}" if member.manifest else ""
        kind = "" if member.kind == "file" else f"{member.kind}, "
        rows.append(("Member", f"{member.name} ({kind}{member.role}, "
                               f"{human_size(member.size)}{verdict})"))
    rows += [
        ("Manifest", f"{report.manifest} ({', '.join(report.manifest_algorithms) or '-'})"
         if report.manifest else "-"),
        ("Disk", f"{report.disk} ({disk.create_type or disk.format}, virtual size "
                 f"{human_size(disk.virtual_size)})" if report.disk and disk else report.disk),
        ("Controller", report.controller),
        ("Hardware version", report.hardware_version),
        ("Guest OS", report.os_type),
        ("Safe", "yes" if report.safe else "NO"),
        ("Acceptable", "yes" if report.acceptable else "NO"),
    ]
    rows += [(key, value) for key, value in report.properties.items()]
    rows += [("Problem", problem) for problem in report.problems]
    if disk is not None:
        rows += [("Disk problem", problem) for problem in disk.problems[1:]]
    rows += [("Warning", warning) for warning in report.warnings]
    rows += [("Note", note) for note in report.notes]
    if report.remedy:
        rows.append(("Remedy", report.remedy))
    return details(rows)


def _inspect_ova(app: App, file: Path) -> int:
    from vmwctl.images.ova import inspect_ova

    try:
        total: int | None = file.stat().st_size
    except OSError:
        total = None  # inspect_ova says why
    with app.out.progress(f"Reading {file.name}", total) as bar:
        report = inspect_ova(file, progress=bar.advance)
    app.render(report, render_ova)
    return EXIT_OK if report.acceptable else EXIT_FAILED


@click.command("inspect")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
def inspect_command(app: App, file: Path) -> int:
    """Tell what an image file is and whether Nova and Glance will take it.

    Reads only the headers, whatever the image size. Exit status 0 when the
    file is a safe VMDK that Glance accepts, or an ISO 9660 image (uploaded as
    disk_format=iso); 1 when it is a disk image that is unsafe or not
    acceptable as a VMDK (the report says why, and the one remedy); 2 when it
    is no disk image (empty, text, compressed, an archive, not whole 512-byte
    sectors) or cannot be read.

    An OVA (FILE.ova, or a tar whose first member is an .ovf) is read whole,
    as a stream, never extracted: its members, the OVF, the manifest's
    digests and the disk inside. Exit status 0 when Nova boots it; 1 when
    the package or its disk is unsafe or broken; 2 when it is no tar at all.
    """
    from vmwctl.images.inspector import inspect_file
    from vmwctl.images.ova import is_ova

    if is_ova(file):
        return _inspect_ova(app, file)
    report = inspect_file(file)
    app.render(report, render_report)
    return EXIT_OK if report.acceptable else EXIT_FAILED
