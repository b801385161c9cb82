"""``vmwctl cache list``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.cache.shared import (
    cache_inventory,
    datastore_option,
    glance_names,
    in_use_ids,
    now,
    with_in_use,
)
from vmwctl.cli.format import short_size, table
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.common.words import plural


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def purge_now(row: Any) -> str:
    """What a purge does now, in a few words."""
    action = row.action.value
    if action == "wait" and row.delete_after is not None:
        return f"wait: delete after {row.delete_after:%Y-%m-%d %H:%M} UTC"
    if action == "keep":
        return "keep (in use)"
    if action == "unmark":
        return "keep, remove marker"
    if action == "mark":
        return "mark now"
    return action


def _human(listing: Any) -> Any:
    from rich.console import Group

    parts: list[Any] = []
    by_folder: dict[tuple[str, str], list[Any]] = {}
    for row in listing.images:
        by_folder.setdefault((row.datastore, row.folder), []).append(row)
    for (datastore, folder), rows in sorted(by_folder.items()):
        total = sum(r.size for r in rows)
        parts.append(table(
            f"[{datastore}] {folder}",
            ("IMAGE", "NAME", "SIZE", "COPIES", "MARKER", "USED BY", "PURGE NOW"),
            [(r.image_id, r.name if r.name is not None else
              ("(deleted from Glance)" if r.glance == "deleted" else "-"),
              short_size(r.size), ", ".join(f"{gb} GB" for gb in r.sized_copies) or "-",
              f"{r.marker:%Y-%m-%d %H:%M:%S}" if r.marker else "-",
              ", ".join(r.users) or "-", purge_now(r)) for r in rows],
            caption=f"{plural(len(rows), 'image')}, {short_size(total)}", whole=("IMAGE",)))
    if listing.leftovers:
        parts.append(table("Leftovers of failed spawns", ("PATH", "KIND", "AGE", "ENTRIES"),
                           [(r.path, r.kind, _age(r.age_seconds), r.entries)
                            for r in listing.leftovers], whole=("PATH",)))
    if not parts:
        where = listing.cache_folder or "any cache folder"
        parts.append(f"no cached images in {where} on {', '.join(listing.datastores)}")
    for path in listing.locked:
        parts.append(f"{path}: a purge holds its lock now")
    parts.extend(listing.notes)
    return Group(*parts)


@click.command("list")
@datastore_option
@click.option("--all", "all_folders", is_flag=True,
              help="Every cache folder on the datastores (every compute node's), not only "
                   "the profile's.")
@cluster_option
@click.option("--min-age", type=click.IntRange(min=0), metavar="SECONDS",
              help="Minimum age for the PURGE NOW column (default: the profile's "
                   "remove_unused_original_minimum_age_seconds).")
@with_in_use
@click.option("--no-glance", is_flag=True, help="Do not ask the image service for names.")
@click.pass_obj
def list_command(app: App, datastore: str | None, all_folders: bool, cluster: ClusterFlag,
                 min_age: int | None, in_use: tuple[str, ...], in_use_file: Any,
                 no_glance: bool) -> None:
    """List the cached images per datastore: size, marker, users, and what a purge does now.

    Reads the profile's cache folder (<my_ip>_base, or cache_prefix) on every
    datastore Nova uses, one datastore search each, run concurrently; the
    VMs whose disks or CD-ROMs use an image; its name in Glance when the
    image service answers. Leftover vmware_temp and OSTACK_IMG_* folders too.
    """
    from vmwctl.cache.listing import list_cache, profile_folder
    from vmwctl.cache.usage import folder_users

    ids = in_use_ids(in_use, in_use_file)
    profile_folder(app.profile, all_folders)  # explain a missing my_ip before connecting
    vc = app.vcenter
    inventory, stores = cache_inventory(app, datastore, cluster)
    names = glance_names(app, not no_glance)
    listing = list_cache(vc, inventory, app.profile, now=now(), datastores=stores,
                         all_folders=all_folders, users=folder_users(vc), in_use_ids=ids,
                         glance_names=names, min_age_seconds=min_age)
    app.render(listing, _human)

