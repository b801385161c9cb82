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
    """
    from vmwctl.images.inspector import inspect_file

    report = inspect_file(file)
    app.render(report, render_report)
    return EXIT_OK if report.acceptable else EXIT_FAILED
