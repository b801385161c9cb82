"""``vmwctl vm delete``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App

VERBS = {"planned": "would be deleted", "deleted": "deleted", "failed": "NOT deleted",
         "skipped": "not deleted (interrupted before it)"}


def _human(report: Any) -> str:
    if not report.vms:
        return "no VM to delete"
    return "\n".join(_line(v) for v in report.vms)


def _line(item: Any) -> str:
    """One VM: the name given, and the VM it means when that is another name."""
    from vmwctl.vm.spec import spawned_name

    if item.outcome == "absent":
        names = dict.fromkeys((item.given, spawned_name(item.given)))
        return f"{item.given}: no VM named {' or '.join(repr(n) for n in names)}; nothing to do"
    who = f"{item.given}: VM {item.name}" if item.given and item.given != item.name else \
        f"{item.name}:"
    return f"{who} {VERBS[item.outcome]}" + (f" ({item.folder})" if item.folder else "") + \
        (f": {item.reason}" if item.reason else "")


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

    NAMES are VM names, or the names given to 'vm spawn --name' (the VM is
    vmwctl-NAME). Refuses any VM vmwctl did not spawn (Nova's included); a
    name no VM has is nothing to do. The cached image a linked clone depends
    on stays: only the VM's own folder is deleted.
    """
    import datetime as dt

    from vmwctl.common.interrupts import deferred_signals
    from vmwctl.vm.manage import delete_vms, parse_duration, select_for_delete
    from vmwctl.vsphere.snapshot import read_inventory

    age = parse_duration(older_than) if older_than else None
    inventory = read_inventory(app.vcenter)
    chosen = select_for_delete(inventory, list(names), age, dt.datetime.now(dt.UTC))
    if chosen.vms and not dry_run and not app.confirm(
            f"Delete {len(chosen.vms)} VMs ({', '.join(vm.name for vm in chosen.vms)})?",
            yes=yes):
        app.out.info("nothing deleted")
        return 0
    with deferred_signals() as stopper:
        report = delete_vms(app.vcenter, inventory, chosen, dry_run=dry_run, stopper=stopper)
        return app.finish_batch(report, _human, [f"{v.name}: {v.reason}" for v in report.vms
                                                 if v.outcome == "failed"], stopper=stopper)
