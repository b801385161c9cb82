"""``vmwctl cache evict``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.cache.shared import cache_inventory, datastore_option, now
from vmwctl.cli.format import short_size
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.common.interrupts import deferred_signals


def _human(report: Any) -> str:
    if not report.items:
        return f"image {report.image_id} is not cached on {', '.join(report.datastores)}; " \
               "nothing to do"
    verb = {"planned": "would be removed", "deleted": "removed", "failed": "NOT removed",
            "skipped": "not removed (interrupted before it)"}
    lines = [f"{item.path}: {verb[item.outcome]} ({short_size(item.bytes)})"
             + (f": {item.reason}" if item.reason else "") for item in report.items]
    return "\n".join(lines)


@click.command("evict")
@click.argument("image")
@datastore_option
@cluster_option
@click.option("--all", "all_folders", is_flag=True,
              help="From every cache folder (every compute node's), not only the profile's.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing.")
@click.pass_obj
def evict_command(app: App, image: str, datastore: str | None, cluster: ClusterFlag,
                  all_folders: bool, dry_run: bool, yes: bool) -> int:
    """Remove one image from the cache now, e.g. after a bad image was replaced in Glance.

    IMAGE is an image id, or a name the image service resolves. Refuses, and
    removes nothing, while any VM's disk chain or CD-ROM uses the image.
    Removing an image that is not cached does nothing and says so.
    """
    from vmwctl.cache.evict import evict
    from vmwctl.cache.layout import is_image_id
    from vmwctl.cache.listing import profile_folder
    from vmwctl.cache.usage import folder_users

    folder = profile_folder(app.profile, all_folders)
    image_id = image.lower() if is_image_id(image) else app.images.find(image)["id"]
    vc = app.vcenter
    inventory, stores = cache_inventory(app, datastore, cluster)
    options = {"folders": None if folder is None else [folder],
               "subdirectory_name": app.profile.image_cache.subdirectory_name,
               "read_users": lambda: folder_users(vc), "now": now()}
    report = evict(vc, inventory, stores, image_id, dry_run=True, **options)
    if report.items and not dry_run:
        total = short_size(sum(i.bytes for i in report.items))
        if not app.confirm(f"Remove image {image_id} from {len(report.items)} cache folders "
                           f"({total})?", yes=yes):
            app.out.info("nothing changed")
            return 0
        with deferred_signals() as stopper:
            report = evict(vc, inventory, stores, image_id, dry_run=False, stopper=stopper,
                           **options)
            return app.finish_batch(report, _human, _failures(report), stopper=stopper)
    return app.finish_batch(report, _human, _failures(report))


def _failures(report: Any) -> list[str]:
    return [f"{item.path}: {item.reason}" for item in report.items if item.outcome == "failed"]
