"""``vmwctl cache purge``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.cache.shared import (
    datastore_option,
    glance_names,
    in_use_ids,
    now,
    refuse_without_aging,
    targets,
    with_in_use,
)
from vmwctl.cli.format import short_size, table
from vmwctl.cli.metrics import identify, metrics_file_option, record_purge
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.common.words import plural

WOULD = {"mark": "would mark", "unmark": "would unmark", "delete": "would delete",
         "keep": "keep", "wait": "wait"}


def human(names: Mapping[str, str] | None) -> Callable[[Any], Any]:
    """The table form of a purge plan or run; ``names``: image id -> name, from Glance."""
    return lambda report: _human(report, names)


def _human(report: Any, names: Mapping[str, str] | None) -> Any:
    from rich.console import Group

    from vmwctl.cache.purge import Outcome
    from vmwctl.vsphere.datastore import DatastorePath

    shown = [i for i in report.items if report.dry_run or i.outcome != Outcome.KEPT]
    title = "Purge plan" if report.dry_run else "Purge"
    what = "ACTION" if report.dry_run else "OUTCOME"

    def done(item: Any) -> str:
        return WOULD[item.action.value] if report.dry_run else item.outcome.value

    def size(item: Any) -> str:
        return short_size(item.bytes) if item.bytes else "-"

    parts: list[Any] = []
    folders: dict[str, list[Any]] = {}
    for item in shown:
        if item.kind == "image":
            folders.setdefault(str(DatastorePath.parse(item.path).parent), []).append(item)
    for folder, items in folders.items():  # the folder once, in the title; each id whole
        columns = ["IMAGE", "NAME", what, "SIZE", "WHY"]
        rows = [[i.image_id, (names or {}).get(i.image_id or "", "-"), done(i), size(i),
                 i.reason] for i in items]
        if names is None:  # no image service: no column of dashes
            columns.pop(1)
            rows = [row[:1] + row[2:] for row in rows]
        parts.append(table(f"{title}: {folder}", columns, rows, whole=("IMAGE",)))
    leftovers = [i for i in shown if i.kind != "image"]
    if leftovers:
        parts.append(table(f"{title}: leftovers of failed spawns", ("PATH", what, "SIZE", "WHY"),
                           [(i.path, done(i), size(i), i.reason) for i in leftovers],
                           whole=("PATH",)))
    parts.append(_summary(report))
    parts.extend(report.locked_out)
    parts.extend(report.errors)
    if report.interrupted:
        parts.append("interrupted: stopped between folders; run it again to finish")
    return Group(*parts)


def _summary(report: Any) -> str:
    from vmwctl.cache.purge import Outcome

    where = f"{report.cache_folder} on {', '.join(report.datastores)}"
    if not report.items:
        return f"{where}: nothing in the cache; " + \
            ("would free 0 B" if report.dry_run else "freed 0 B")
    if report.dry_run:
        actions = Counter(i.action.value for i in report.items)
        counts = ", ".join(f"{action} {n}" for action, n in actions.items())
        deleting = sum(i.bytes for i in report.deletions)
        return f"{where}: would {counts}; would free {short_size(deleting)}"
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Outcome if report.count(o))
    return f"{where}: {counts}; freed {short_size(report.bytes_freed)}"


@click.command("purge")
@click.option("--min-age", type=click.IntRange(min=0), metavar="SECONDS",
              help="Delete unused images marked longer ago than this (default: the profile's "
                   "remove_unused_original_minimum_age_seconds, 86400).")
@datastore_option
@cluster_option
@click.option("--include-temp", is_flag=True,
              help="Also remove vmware_temp/ and OSTACK_IMG_* leftovers older than the "
                   "minimum age that no VM uses.")
@with_in_use
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--no-glance", is_flag=True,
              help="Do not ask the image service for the images' names.")
@metrics_file_option
@click.pass_obj
def purge_command(app: App, min_age: int | None, datastore: str | None, cluster: ClusterFlag,
                  include_temp: bool, in_use: tuple[str, ...], in_use_file: Any, dry_run: bool,
                  yes: bool, no_glance: bool) -> int:
    """Age the image cache exactly as nova-compute does; safe to run from cron.

    An unused image without a marker gets one (ts-<UTC now>); an unused image
    marked longer ago than the minimum age is deleted, folder and all; an
    image in use loses its marker. "In use": a VM registered in vCenter whose
    disk chain or CD-ROM names a file of the image, or an id given with
    --in-use/--in-use-file (Nova also keeps the images of stopped and
    shelved servers). Locked against a second purge on this machine and,
    through a lock folder in the cache folder, on any machine; usage is read
    again right before deleting; Ctrl-C stops between folders. Asks before
    deleting on a terminal unless --yes; acts without a terminal (cron), and
    prints nothing with -q unless something fails. The table names each
    image as the image service does, when it answers (JSON has the ids).
    Exit status 1 when a deletion failed or another purge held a datastore.
    """
    from vmwctl.cache.listing import profile_folder
    from vmwctl.cache.purge import PurgeRequest, plan_purge, purge_cache
    from vmwctl.cache.usage import folder_users
    from vmwctl.common.interrupts import deferred_signals
    from vmwctl.vsphere.snapshot import read_inventory

    identify(app, cluster)
    ids = in_use_ids(in_use, in_use_file)
    refuse_without_aging(app)
    profile = app.profile
    request = PurgeRequest(
        folder=profile_folder(profile, False) or "",
        subdirectory_name=profile.image_cache.subdirectory_name,
        min_age_seconds=profile.image_cache.remove_unused_original_minimum_age_seconds
        if min_age is None else min_age,
        include_temp=include_temp, in_use_ids=ids, now=now())
    vc = app.vcenter
    inventory = read_inventory(vc)
    stores = targets(app, inventory, datastore, cluster)
    table_shown = app.out.format == "table" and not app.out.quiet
    render = human(glance_names(app, table_shown and not no_glance))  # only the table names
    if dry_run:
        plan = plan_purge(vc, inventory, stores, request, folder_users(vc))
        record_purge(app, plan)
        app.render(plan, render)
        return 0

    def ask(plan: Any) -> bool:
        if app.out.format == "table":
            app.render(plan, render)
        total = short_size(sum(i.bytes for i in plan.deletions))
        return app.confirm(f"Delete {plural(len(plan.deletions), 'folder')} ({total})?", yes=yes)

    with deferred_signals() as stopper:
        report = purge_cache(vc, inventory, stores, request,
                             read_users=lambda: folder_users(vc),
                             confirm=ask if not yes and app.stdin_is_terminal() else None,
                             stopper=stopper)
        if report is None:
            app.out.info("nothing changed")
            return 0
        record_purge(app, report)
        failures = [f"{i.path}: {i.reason}" for i in report.items if i.outcome.value == "failed"]
        return app.finish_batch(report, render, failures + report.locked_out + report.errors,
                                stopper=stopper)
