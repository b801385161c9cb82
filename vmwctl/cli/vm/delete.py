"""``vmwctl vm delete``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App


def _human(report: Any) -> str:
    if not report.vms:
        return "no VM to delete"
    verb = {"planned": "would be deleted", "deleted": "deleted", "failed": "NOT deleted",
            "skipped": "not deleted (interrupted before it)"}
    return "\n".join(f"{v.name}: {verb[v.outcome]}" + (f" ({v.folder})" if v.folder else "")
                     + (f": {v.reason}" if v.reason else "") for v in report.vms)


@click.command("delete")
@click.argument("names", nargs=-1)
@click.option("--older-than", metavar="DURATION",
              help="Only VMs spawned longer ago than this (e.g. 2h, 3d); without NAMES, every "
                   "such vmwctl VM.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.pass_obj
def delete_command(app: App, names: tuple[str, ...], older_than: str | None, dry_run: bool,
                   yes: bool) -> int:
    """Power off and destroy VMs that vmwctl spawned, with their folders.

    Refuses any VM vmwctl did not spawn (Nova's included). The cached image a
    linked clone depends on stays: only the VM's own folder is deleted.
    """
    import datetime as dt

    from vmwctl.common.interrupts import deferred_signals
    from vmwctl.vm.manage import delete_vms, parse_duration, select_for_delete
    from vmwctl.vsphere.snapshot import read_inventory

    age = parse_duration(older_than) if older_than else None
    inventory = read_inventory(app.vcenter)
    chosen = select_for_delete(inventory, list(names), age, dt.datetime.now(dt.UTC))
    if chosen and not dry_run and not app.confirm(
            f"Delete {len(chosen)} VMs ({', '.join(vm.name for vm in chosen)})?", yes=yes):
        app.out.info("nothing deleted")
        return 0
    with deferred_signals() as stopper:
        report = delete_vms(app.vcenter, inventory, chosen, dry_run=dry_run, stopper=stopper)
        return app.finish_batch(report, _human, [f"{v.name}: {v.reason}" for v in report.vms
                                                 if v.outcome == "failed"], stopper=stopper)
