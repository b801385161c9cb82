"""``cache purge``: Nova's aging, carried out safely.

Safety, in order: a lock on this machine, then per datastore a lock in the
cache folder; the datastore is read again under that lock and the plan made
from what it holds then; usage is read again right before each datastore's
deletions (one inventory read for the batch); nothing modified within the
minimum age is deleted; Ctrl-C and SIGTERM stop between folders, never in the
middle of one.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from vmwctl.cache.aging import Action, decide
from vmwctl.cache.browse import read_caches, search_tree
from vmwctl.cache.layout import DatastoreCache, build, marker_name
from vmwctl.cache.locks import LockHeld, datastore_lock, local_lock
from vmwctl.common.interrupts import Stopper, immediate_signals
from vmwctl.errors import ConnectError, VmwctlError
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.session import VCenter

Users = Mapping[str, list[str]]


class Outcome(enum.StrEnum):
    PLANNED = "planned"  # --dry-run, or not reached
    MARKED = "marked"
    UNMARKED = "unmarked"
    DELETED = "deleted"
    KEPT = "kept"
    WAITING = "waiting"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class PurgeItem:
    datastore: str
    path: str
    kind: str  # image | temp
    image_id: str | None
    action: Action
    outcome: Outcome
    reason: str
    bytes: int = 0
    delete_after: dt.datetime | None = None
    markers: list[str] = field(default_factory=list)


@dataclass
class PurgeRequest:
    folder: str  # the profile's cache folder name
    subdirectory_name: str
    min_age_seconds: int
    include_temp: bool
    in_use_ids: frozenset[str]
    now: dt.datetime


@dataclass
class PurgeReport:
    """JSON keys documented in docs/cache.md."""

    dry_run: bool
    now: dt.datetime
    cache_folder: str
    min_age_seconds: int
    datastores: list[str]
    items: list[PurgeItem] = field(default_factory=list)
    bytes_freed: int = 0
    failures: int = 0
    locked_out: list[str] = field(default_factory=list)  # held by another purge
    errors: list[str] = field(default_factory=list)  # a datastore that could not be purged
    interrupted: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def deletions(self) -> list[PurgeItem]:
        """The folders the plan (or the run) deletes."""
        return [item for item in self.items if item.action == Action.DELETE]

    def finish(self) -> PurgeReport:
        self.failures = self.count(Outcome.FAILED) + len(self.errors)
        self.bytes_freed = sum(i.bytes for i in self.items if i.outcome == Outcome.DELETED)
        return self


def _young(modified: dt.datetime | None, now: dt.datetime, min_age: int) -> bool:
    return modified is not None and now - modified <= dt.timedelta(seconds=min_age)


def plan_cache(cache: DatastoreCache, users: Users, request: PurgeRequest) -> list[PurgeItem]:
    """What a purge does to one datastore's cache folder (and leftovers) now."""
    now, min_age = request.now, request.min_age_seconds
    items: list[PurgeItem] = []
    for folder in cache.folders:
        for image in folder.images:
            who = list(users.get(image.path, []))
            if image.image_id in request.in_use_ids:
                who.append("--in-use")
            decision = decide(image, who, now, min_age)
            item = PurgeItem(cache.datastore, image.path, "image", image.image_id,
                             decision.action, Outcome.PLANNED, decision.reason, image.size,
                             decision.delete_after, list(image.markers))
            if decision.action == Action.DELETE and _young(image.modified, now, min_age):
                item.action = Action.WAIT
                item.reason = "a file in it changed within the minimum age"
            items.append(item)
    if request.include_temp:
        for leftover in cache.leftovers:
            path = DatastorePath.parse(leftover.path)
            if leftover.kind == "vmware_temp":
                # One folder per fetch; vmware_temp itself stays, as Nova leaves it.
                targets = [(path.join(c.name), c.modified) for c in leftover.children]
            else:
                targets = [(path, leftover.modified)]
            for target, modified in targets:
                who = users.get(str(target), [])
                if who:
                    action, reason = Action.KEEP, f"used by {', '.join(who)}"
                elif _young(modified, now, min_age):
                    action, reason = Action.KEEP, ("changed within the minimum age (a fetch "
                                                   "may be running)")
                else:
                    action, reason = Action.DELETE, "leftover of a failed spawn"
                items.append(PurgeItem(cache.datastore, str(target), "temp", None, action,
                                       Outcome.PLANNED, reason))
    return items


def plan_purge(vc: VCenter, inventory: Inventory, stores: Iterable[Datastore],
               request: PurgeRequest, users: Users) -> PurgeReport:
    """The whole plan without changing anything (``--dry-run``, and what is confirmed)."""
    stores = list(stores)
    report = PurgeReport(True, request.now, request.folder, request.min_age_seconds,
                         [ds.name for ds in stores])
    for cache in read_caches(vc, inventory, stores, folders=[request.folder],
                             subdirectory_name=request.subdirectory_name):
        report.items.extend(plan_cache(cache, users, request))
    return report


def local_lock_key(host: str, port: int, folder: str) -> str:
    """What this machine's purge lock is named after: the vCenter, as the profile names it,
    and the cache folder (two profiles with both alike share the lock)."""
    return f"{host}:{port}/{folder}"


def purge_cache(vc: VCenter, inventory: Inventory, stores: Iterable[Datastore],
                request: PurgeRequest, *, read_users: Callable[[], Users],
                confirm: Callable[[PurgeReport], bool] | None,
                stopper: Stopper) -> PurgeReport | None:
    """The whole ``cache purge``: lock, plan, confirm, act.

    This machine's lock for the vCenter's cache folder is held throughout.
    ``confirm`` is asked with the plan when it deletes anything (None: act
    without asking, as from cron); declined, nothing changes and the answer
    is None. ``stopper``: the caller's deferred-signal block; until the purge
    acts, a signal acts at once (at the question too), then only between folders.
    """
    stores = list(stores)
    with local_lock(local_lock_key(vc.settings.host, vc.settings.port, request.folder),
                    request.now):
        with immediate_signals(stopper):
            users = read_users()
            approved: set[str] | None = None
            if confirm is not None:
                plan = plan_purge(vc, inventory, stores, request, users)
                if plan.deletions and not confirm(plan):
                    return None
                approved = {item.path for item in plan.deletions}
        return run_purge(vc, inventory, stores, request, users=users, reread_users=read_users,
                         approved=approved, stopper=stopper)


def run_purge(vc: VCenter, inventory: Inventory, stores: Iterable[Datastore],
              request: PurgeRequest, *, users: Users, reread_users: Callable[[], Users],
              approved: set[str] | None, stopper: Stopper) -> PurgeReport:
    """Purge datastore by datastore, each under its datastore lock.

    The caller (:func:`purge_cache`) holds this machine's lock
    (:func:`local_lock`) around the whole run. ``approved``: the folders the
    user agreed to delete (None: any the plan deletes).
    """
    stores = list(stores)
    report = PurgeReport(False, request.now, request.folder, request.min_age_seconds,
                         [ds.name for ds in stores])
    for ds in stores:
        if stopper.requested:
            report.interrupted = True
            break
        files = DatastoreFiles.of(vc, inventory, ds)
        cache_path = DatastorePath(ds.name, request.folder)
        try:
            with datastore_lock(files, cache_path, request.now):
                tree = search_tree(vc, inventory, ds)
                cache = build(ds.name, tree, folders=[request.folder],
                              subdirectory_name=request.subdirectory_name)
                items = plan_cache(cache, users, request)
                report.items.extend(items)

                def reread_cache(ds: Datastore = ds) -> DatastoreCache:
                    return build(ds.name, search_tree(vc, inventory, ds),
                                 folders=[request.folder],
                                 subdirectory_name=request.subdirectory_name)

                _carry_out(files, items, request, report, reread_users, reread_cache,
                           approved, stopper)
        except LockHeld as exc:
            report.locked_out.append(exc.message)
        except ConnectError:
            raise  # vCenter went away: the next folders would fail alike
        except VmwctlError as exc:
            report.errors.append(f"[{ds.name}]: {exc.message}")
    return report.finish()


def _carry_out(files: DatastoreFiles, items: list[PurgeItem], request: PurgeRequest,
               report: PurgeReport, reread_users: Callable[[], Users],
               reread_cache: Callable[[], DatastoreCache], approved: set[str] | None,
               stopper: Stopper) -> None:
    for item in items:
        path = DatastorePath.parse(item.path)
        if item.action == Action.KEEP:
            item.outcome = Outcome.KEPT
        elif item.action == Action.WAIT:
            item.outcome = Outcome.WAITING
        elif item.action == Action.MARK:
            _one_folder(item, report, stopper, Outcome.MARKED, lambda p=path: files.mkdir(
                p.join(marker_name(request.now)), parents=False))
        elif item.action == Action.UNMARK:
            _one_folder(item, report, stopper, Outcome.UNMARKED, lambda p=path, i=item: [
                files.delete(p.join(name)) for name in i.markers])
    batch = [i for i in items if i.action == Action.DELETE]
    for item in batch:
        if approved is not None and item.path not in approved:
            item.outcome, item.reason = Outcome.SKIPPED, "not in the plan that was confirmed"
    batch = [i for i in batch if i.outcome == Outcome.PLANNED]
    if not batch or report.interrupted or stopper.requested:
        for item in batch:
            item.outcome, item.reason = Outcome.SKIPPED, "interrupted before it"
        return
    # Once for the batch, right before deleting: who uses what, and the markers. A spawn
    # (Nova's enlist_image, or vmwctl vm spawn) removes an image's marker before using it.
    users = reread_users()
    markers = {image.path: image.markers for folder in reread_cache().folders
               for image in folder.images}
    for item in batch:
        if item.kind == "image" and markers.get(item.path) != item.markers:
            item.outcome = Outcome.KEPT
            item.reason = ("its marker changed since the plan (a spawn enlisted it)"
                           if item.path in markers else "gone already")
            continue
        who = list(users.get(item.path, []))
        if item.image_id is not None and item.image_id in request.in_use_ids:
            who.append("--in-use")
        if who:
            item.outcome, item.reason = Outcome.KEPT, f"in use now ({', '.join(who)})"
            continue
        target = DatastorePath.parse(item.path)
        _one_folder(item, report, stopper, Outcome.DELETED, lambda p=target: files.delete(p))


def _one_folder(item: PurgeItem, report: PurgeReport, stopper: Stopper, outcome: Outcome,
                operation: Callable[[], object]) -> None:
    """Run one folder's operation whole; once a signal came, skip the ones after it."""
    if report.interrupted or stopper.requested:
        report.interrupted = True
        item.outcome, item.reason = Outcome.SKIPPED, "interrupted before it"
        return
    try:
        operation()
        item.outcome = outcome
    except ConnectError:
        raise
    except VmwctlError as exc:
        item.outcome, item.reason = Outcome.FAILED, exc.message
