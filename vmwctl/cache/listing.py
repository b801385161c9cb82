"""``cache list``: every cached image, who uses it, and what a purge would do now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vmwctl.cache.aging import Action, decide
from vmwctl.cache.browse import read_caches
from vmwctl.errors import ConfigError, UsageError
from vmwctl.nova.rules import cache_folder, compile_regex, valid_datastores
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Datastore, Inventory
from vmwctl.vsphere.session import VCenter


@dataclass
class ImageRow:
    datastore: str
    folder: str
    image_id: str
    path: str
    name: str | None  # its name in Glance
    glance: str  # present | deleted | unknown
    size: int
    files: int
    sized_copies: list[int]
    iso: bool
    marker: dt.datetime | None
    users: list[str]
    action: Action
    reason: str
    delete_after: dt.datetime | None


@dataclass
class LeftoverRow:
    datastore: str
    path: str
    kind: str
    modified: dt.datetime | None
    age_seconds: int | None
    entries: int


@dataclass
class CacheListing:
    """JSON keys documented in docs/cache.md."""

    cache_folder: str | None  # None with --all
    min_age_seconds: int
    now: dt.datetime
    datastores: list[str]
    images: list[ImageRow] = field(default_factory=list)
    leftovers: list[LeftoverRow] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)  # cache folders a purge holds now
    notes: list[str] = field(default_factory=list)


def target_datastores(inventory: Inventory, profile: Profile, name: str | None,
                      cluster: Cluster | None) -> list[Datastore]:
    """--datastore, else the datastores Nova uses for the cluster (its aging walks them all),
    else (no cluster) those of the whole vCenter."""
    if name:
        found = [ds for ds in inventory.datastores.values() if ds.name == name]
        if not found:
            names = ", ".join(sorted(ds.name for ds in inventory.datastores.values()))
            raise UsageError(f"no datastore {name!r}; datastores: {names}")
        return found
    regex = compile_regex(profile.vmware.datastore_regex)
    if cluster is not None:
        return valid_datastores(inventory.cluster_datastores(cluster), regex)
    return valid_datastores(inventory.datastores.values(), regex)


def profile_folder(profile: Profile, all_folders: bool) -> str | None:
    """The profile's cache folder name; None with --all. Explains a missing my_ip."""
    if all_folders:
        return None
    folder = cache_folder(profile)
    if folder is None:
        raise ConfigError(f"profile '{profile.name}' has no DEFAULT.my_ip: Nova names its cache "
                          f"folder <my_ip>{profile.image_cache.subdirectory_name} after the "
                          "nova-compute host's address; set DEFAULT.my_ip (or "
                          "vmware.cache_prefix), or pass --all")
    return folder


def list_cache(vc: VCenter, inventory: Inventory, profile: Profile, *, now: dt.datetime,
               datastores: Iterable[Datastore], all_folders: bool = False,
               users: Mapping[str, list[str]], in_use_ids: Iterable[str] = (),
               glance_names: Mapping[str, str] | None = None,
               min_age_seconds: int | None = None) -> CacheListing:
    folder = profile_folder(profile, all_folders)
    stores = list(datastores)
    min_age = profile.image_cache.remove_unused_original_minimum_age_seconds \
        if min_age_seconds is None else min_age_seconds
    listing = CacheListing(cache_folder=folder, min_age_seconds=min_age, now=now,
                           datastores=[ds.name for ds in stores])
    caches = read_caches(vc, inventory, stores, folders=None if folder is None else [folder],
                         subdirectory_name=profile.image_cache.subdirectory_name)
    forced = set(in_use_ids)
    for cache in caches:
        for leftover in cache.leftovers:
            if leftover.kind == "vmware_temp" and not leftover.children:
                continue  # Nova keeps the empty vmware_temp folder itself
            age = int((now - leftover.modified).total_seconds()) if leftover.modified else None
            listing.leftovers.append(LeftoverRow(cache.datastore, leftover.path, leftover.kind,
                                                 leftover.modified, age, leftover.entries))
        for cache_dir in cache.folders:
            if cache_dir.locked:
                listing.locked.append(cache_dir.path)
            for image in cache_dir.images:
                who = list(users.get(image.path, []))
                if image.image_id in forced:
                    who.append("--in-use")
                decision = decide(image, who, now, min_age)
                known = glance_names is not None
                name = glance_names.get(image.image_id) if known else None
                listing.images.append(ImageRow(
                    datastore=cache.datastore, folder=cache_dir.name, image_id=image.image_id,
                    path=image.path, name=name,
                    glance=("present" if name is not None else "deleted") if known
                    else "unknown", size=image.size, files=len(image.files),
                    sized_copies=image.sized_copies, iso=image.iso, marker=image.marker,
                    users=decision.users, action=decision.action, reason=decision.reason,
                    delete_after=decision.delete_after))
    if not profile.image_cache.remove_unused_base_images:
        listing.notes.append("remove_unused_base_images is false: Nova does not age this cache, "
                             "and 'vmwctl cache purge' leaves it alone too")
    return listing
