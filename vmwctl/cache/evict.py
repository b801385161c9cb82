"""``cache evict``: remove one image's cache folders now, never while a VM uses them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vmwctl.cache.browse import read_caches
from vmwctl.cache.locks import datastore_lock
from vmwctl.cache.purge import Users
from vmwctl.common.interrupts import Stopper
from vmwctl.errors import ConnectError, OperationFailed, VmwctlError
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.session import VCenter


@dataclass
class EvictItem:
    datastore: str
    path: str
    bytes: int
    outcome: str  # planned (--dry-run) | deleted | failed | skipped (a signal came first)
    reason: str = ""


@dataclass
class EvictReport:
    """JSON keys documented in docs/cache.md."""

    image_id: str
    dry_run: bool
    datastores: list[str]
    items: list[EvictItem] = field(default_factory=list)
    bytes_freed: int = 0
    failures: int = 0


def evict(vc: VCenter, inventory: Inventory, stores: Iterable[Datastore], image_id: str, *,
          folders: list[str] | None, subdirectory_name: str, read_users: Callable[[], Users],
          dry_run: bool, now: dt.datetime, stopper: Stopper | None = None) -> EvictReport:
    """Delete ``[ds] <cache>/<image_id>`` wherever it is; refuse while anything uses one.

    ``folders``: the cache folders to look in (None: every cache folder). With a
    ``stopper``, a signal stops it between datastores.
    """
    stores = list(stores)
    report = EvictReport(image_id, dry_run, [ds.name for ds in stores])
    found = [(ds, folder, image)
             for ds, cache in zip(stores, read_caches(vc, inventory, stores, folders=folders,
                                                       subdirectory_name=subdirectory_name),
                                  strict=True)
             for folder in cache.folders for image in folder.images
             if image.image_id == image_id]
    if not found:
        return report
    users = read_users()
    busy = [f"{image.path} by {', '.join(users[image.path])}" for _, _, image in found
            if users.get(image.path)]
    if busy:
        raise OperationFailed(f"image {image_id} is in use: {'; '.join(busy)}; nothing removed "
                              "(delete those VMs first, or let 'vmwctl cache purge' age it "
                              "out once they are gone)")
    for ds, _, image in found:
        report.items.append(EvictItem(ds.name, image.path, image.size, "planned"))
    if dry_run:
        return report
    for (ds, folder, _), item in zip(found, report.items, strict=True):
        if stopper is not None and stopper.requested:
            item.outcome, item.reason = "skipped", "interrupted before it"
            continue
        files = DatastoreFiles.of(vc, inventory, ds)
        try:
            with datastore_lock(files, DatastorePath.parse(folder.path), now):
                files.delete(DatastorePath.parse(item.path))
            item.outcome = "deleted"
        except ConnectError:
            raise  # vCenter went away: the next datastores would fail alike
        except VmwctlError as exc:
            item.outcome, item.reason = "failed", exc.message
    report.failures = sum(1 for item in report.items if item.outcome == "failed")
    report.bytes_freed = sum(item.bytes for item in report.items if item.outcome == "deleted")
    return report
