"""``vmwctl image convert``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details


def _human(result: Any) -> Any:
    plan = result.plan
    if result.report is None:
        return details([("Would run", plan.command),
                        ("Writes", ", ".join(plan.outputs)),
                        ("Upload", plan.upload_file),
                        ("Note", "vmwctl runs it into a temporary directory beside the "
                                 "destination and renames the result into place")])
    rows = [("Wrote", ", ".join(plan.outputs)),
            ("Subformat", plan.subformat),
            ("Adapter type", plan.adapter_type),
            ("Took", f"{result.seconds:.1f} s"),
            ("Upload", f"vmwctl image upload {plan.upload_file} --name NAME")]
    if plan.subformat == "monolithicFlat":
        rows.append(("Note", f"upload {Path(plan.upload_file).name}, the flat extent (not the "
                             "descriptor), with --disktype preallocated; Glance 30+ accepts it "
                             "only with [image_format] require_image_format_match off"))
    return details(rows)


@click.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--disktype", type=click.Choice(["streamOptimized", "sparse", "preallocated"],
                                              case_sensitive=False),
              default="streamOptimized", show_default=True,
              help="streamOptimized (what current Glance and ESXi import directly), sparse "
                   "(monolithicSparse), or preallocated (descriptor + -flat.vmdk).")
@click.option("--adapter-type", type=click.Choice(["ide", "lsiLogic", "busLogic"],
                                                  case_sensitive=False),
              help="Adapter written into the descriptor (default: the source VMDK's, else ide).")
@click.option("--force", is_flag=True, help="Replace DEST if it exists.")
@click.option("--dry-run", is_flag=True, help="Print the qemu-img command; write nothing.")
@click.pass_obj
def convert_command(app: App, src: Path, dest: Path, disktype: str, adapter_type: str | None,
                    force: bool, dry_run: bool) -> None:
    """Convert any image qemu-img reads into a VMDK that Nova boots.

    A failure or an interrupt leaves no partial DEST behind.
    """
    from vmwctl.images.convert import ConversionResult, convert, plan_conversion
    from vmwctl.images.properties import adapter_type as canonical_adapter
    from vmwctl.images.properties import disk_type as canonical_disk

    plan = plan_conversion(src, dest, disktype=canonical_disk(disktype),
                           adapter_type=canonical_adapter(adapter_type) if adapter_type else None,
                           overwrite=force)
    if dry_run:
        app.render(ConversionResult(plan=plan, seconds=0.0, report=None), _human)
        return
    with app.out.progress(f"Converting {src.name}", 100, unit="percent") as bar:
        result = convert(plan, progress=bar.update)
    app.render(result, _human)
