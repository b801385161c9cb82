"""What the ``cache`` commands share: options, target datastores, image names, usage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.options import ClusterFlag
from vmwctl.errors import ConnectError, UsageError, VmwctlError

if TYPE_CHECKING:
    from vmwctl.profile.schema import Profile
    from vmwctl.vsphere.model import Datastore, Inventory

datastore_option = click.option(
    "--datastore", metavar="NAME",
    help="Only this datastore (default: every datastore Nova uses for the cluster).")
in_use_options = [
    click.option("--in-use", "in_use", multiple=True, metavar="IMAGE_ID",
                 help="Treat this image as in use (repeatable), e.g. an image of a shelved "
                      "server."),
    click.option("--in-use-file", type=click.File("r"), metavar="FILE",
                 help="Image ids in use, one a line ('-' for stdin), e.g. from 'openstack "
                      "server list --all-projects -c \"Image ID\" -f value'."),
]


def with_in_use(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(in_use_options):
        command = option(command)
    return command


def in_use_ids(ids: tuple[str, ...], file: Any) -> frozenset[str]:
    from vmwctl.cache.usage import read_in_use_ids

    text = file.read() if file is not None else None
    name = getattr(file, "name", "--in-use-file") if file is not None else "--in-use-file"
    return read_in_use_ids(ids, text, name)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def targets(app: App, inventory: Any, datastore: str | None, cluster: ClusterFlag) -> list[Any]:
    """--datastore, else the datastores Nova uses for the cluster (--cluster or the profile's),
    else (no cluster at all) every datastore Nova may use. With --datastore the profile's
    cluster does not matter; a --cluster must exist all the same."""
    from vmwctl.cache.listing import target_datastores

    found = cluster.resolve(inventory, required=False, lenient=datastore is not None)
    stores = target_datastores(inventory, app.profile, datastore, found)
    if not stores:
        where = f"cluster {found.name!r}" if found else "the vCenter"
        raise UsageError(f"no datastore of {where} passes Nova's datastore filter; pass "
                         "--datastore NAME ('vmwctl cluster inspect' shows why each is refused)")
    return stores


def cache_inventory(app: App, datastore: str | None,
                    cluster: ClusterFlag) -> tuple[Inventory, list[Datastore]]:
    """The inventory the cache commands read, and their target datastores (:func:`targets`).

    Only the tree and the cluster's datastores (``snapshot.CACHE``, scoped to the cluster:
    the cost does not grow with the rest of the vCenter); every datastore of the vCenter
    without a cluster, or with --datastore (any datastore of that name, the cluster's or
    not). No VM is read here: which VM uses which folder is read apart, vCenter-wide.
    """
    from vmwctl.vsphere.snapshot import CACHE, read_inventory

    name = None if datastore else cluster.name
    inventory = read_inventory(app.vcenter, cluster=name, properties=CACHE)
    return inventory, targets(app, inventory, datastore, cluster)


def glance_names(app: App, enabled: bool, profile: Profile | None = None) -> dict[str, str] | None:
    """Image id -> name from the image service (that of ``profile``, opened and closed here;
    default the App's); None (with a warning) when it cannot be read."""
    if not enabled:
        return None
    own = profile is None
    profile = app.profile if profile is None else profile
    if not (profile.openstack.cloud or app.env.get("OS_CLOUD")):
        return None
    try:
        if own:
            images = app.images.list()
        else:
            from vmwctl.images.glance import open_image_service

            service = open_image_service(profile, app.env)
            try:
                images = service.list()
            finally:
                service.close()
        return {image["id"]: image.get("name") or "" for image in images}
    except (ConnectError, VmwctlError) as exc:
        whose = "" if own else f"profile {profile.name}: "
        app.out.warn(f"{whose}image names are not shown: {exc.message}")
        return None


def refuse_without_aging(profile: Profile) -> None:
    """Nova does not age a cache with remove_unused_base_images off; neither does vmwctl."""
    if not profile.image_cache.remove_unused_base_images:
        raise UsageError(f"profile '{profile.name}' sets image_cache."
                         "remove_unused_base_images to false: Nova does not age this cache and "
                         "'vmwctl cache purge' leaves it alone too; use 'vmwctl cache evict' "
                         "for one image")
