"""``vmwctl cache seed``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import short_size
from vmwctl.cli.options import ClusterFlag, cluster_option
from vmwctl.cli.output import to_data
from vmwctl.errors import UsageError


def _human(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        if r["outcome"] == "cached":
            lines.append(f"{r['path']}: already cached; nothing to do")
        elif r["outcome"] == "planned":
            lines.append(f"{r['path']}: would be seeded ({r['method']})")
        else:
            rate = r["bytes"] / r["seconds"] if r["seconds"] else 0
            lines.append(f"{r['path']}: seeded ({r['method']}, {short_size(r['bytes'])} "
                         f"in {r['seconds']:.1f} s, {short_size(int(rate))}/s)")
    return "\n".join(lines)


def _datastores(app: App, inventory: Any, cluster: Any, name: str | None, every: bool,
                disk_type: str) -> list[Any]:
    """--datastore; --all-datastores: every one Nova may use; default: the one Nova picks."""
    from vmwctl.nova.rules import (
        allowed_datastore_types,
        best_datastore,
        compile_regex,
        datastore_rejection,
        valid_datastores,
    )

    regex = compile_regex(app.profile.vmware.datastore_regex)
    allowed = allowed_datastore_types(disk_type)
    mine = inventory.cluster_datastores(cluster)
    if name:
        found = [ds for ds in mine if ds.name == name]
        if not found:
            names = ", ".join(sorted(ds.name for ds in mine))
            raise UsageError(f"cluster {cluster.name!r} has no datastore {name!r}; its "
                             f"datastores: {names}")
        reason = datastore_rejection(found[0], regex, allowed)
        if reason:
            app.out.warn(f"Nova does not use [{name}] for this image ({reason}): the seeded "
                         "copy will not be booted from")
        return found
    if every:
        stores = valid_datastores(mine, regex, allowed)
    else:
        best = best_datastore(mine, regex, allowed)
        stores = [best] if best else []
    if not stores:
        raise UsageError(f"no datastore of cluster {cluster.name!r} passes Nova's datastore "
                         "filter for this image; 'vmwctl cluster inspect' shows why")
    return stores


@click.command("seed")
@click.argument("image")
@click.option("--datastore", metavar="NAME", help="Seed this datastore.")
@click.option("--all-datastores", is_flag=True,
              help="Seed every datastore Nova may use for the image.")
@cluster_option
@click.option("--dry-run", is_flag=True, help="Show where it would be seeded; change nothing.")
@click.pass_obj
def seed_command(app: App, image: str, datastore: str | None, all_datastores: bool,
                 cluster: ClusterFlag, dry_run: bool) -> int:
    """Put an image into the cache before its first boot, as Nova would.

    IMAGE is an image id or name in the image service. The image is streamed
    from Glance straight into the datastore (constant memory) and placed by
    Nova's method for its disk type: sparse images through CopyVirtualDisk,
    flat ones through CreateVirtualDisk and the -flat upload, streamOptimized
    ones through an HttpNfc import, ISOs as they are. Work happens under
    vmware_temp/ and moves into the cache folder only when complete. Default
    datastore: the one Nova picks (the most free space); --all-datastores
    seeds each. Seeding an image that is cached already does nothing.
    """
    from vmwctl.cache.listing import profile_folder
    from vmwctl.cache.seed import Seeder, seed_source
    from vmwctl.vsphere.snapshot import read_inventory

    if datastore and all_datastores:
        raise UsageError("--datastore and --all-datastores exclude each other; give one")
    folder = profile_folder(app.profile, False) or ""
    record, (vc, inventory) = app.images_beside_vcenter(
        lambda images: images.find(image), lambda vc: (vc, read_inventory(vc)))
    source = seed_source(record)
    target = cluster.resolve(inventory)
    stores = _datastores(app, inventory, target, datastore, all_datastores, source.disk_type)
    seeder = Seeder(vc, inventory, cache_folder=folder, download=app.images.download,
                    pool_for=lambda ds: inventory.refs[target.resource_pool])
    results = []
    for ds in stores:
        if dry_run:  # nothing is fetched: no progress to show
            results.append(seeder.seed(source, ds, dry_run=True))
            continue
        label = f"Seeding {source.name or source.image_id} into [{ds.name}]"
        with app.out.progress(label, source.size) as bar:
            results.append(seeder.seed(source, ds, progress=bar.advance))
    app.render([{**to_data(r), "dry_run": dry_run} for r in results], _human)
    return 0
