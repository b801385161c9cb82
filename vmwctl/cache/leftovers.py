"""Leftovers of failed spawns at the datastore root: ``vmware_temp/`` and ``OSTACK_IMG_*``.

Nova fetches images into ``[ds] vmware_temp/<uuid>/`` (sparse, flat, ISO) or
``[ds] OSTACK_IMG_<uuid>/`` (streamOptimized imports) and deletes them once
the image is cached; a failed spawn leaves them behind and no periodic task
removes them. The one detection used by ``check prereqs`` and the cache commands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyVmomi import vim

from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.tasks import run_task

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

TEMP_FOLDER = "vmware_temp"
IMAGE_VM_PREFIX = "OSTACK_IMG_"
PATTERNS = (TEMP_FOLDER, f"{IMAGE_VM_PREFIX}*")
BROWSE_WORKERS = 8


@dataclass
class Leftover:
    datastore: str
    name: str
    path: str  # [ds] name
    modified: dt.datetime | None


def leftover_kind(name: str) -> str | None:
    """'vmware_temp' or 'OSTACK_IMG' for a leftover's name at the datastore root, else None."""
    if name == TEMP_FOLDER:
        return TEMP_FOLDER
    if name.startswith(IMAGE_VM_PREFIX):
        return "OSTACK_IMG"
    return None


Found = tuple[str, dt.datetime | None]  # a name and its modification time


def leftovers_at(datastore: str, root: Iterable[Found], temp: Iterable[Found]) -> list[Leftover]:
    """The leftovers of one datastore from the entries found at its root and in vmware_temp.

    Nova keeps the vmware_temp folder itself: only what is inside is left over.
    """
    found: list[Found] = []
    for name, modified in root:
        if name == TEMP_FOLDER:
            found += [(f"{TEMP_FOLDER}/{child}", when) for child, when in temp]
        elif leftover_kind(name) is not None:
            found.append((name, modified))
    return [Leftover(datastore=datastore, name=name, path=f"[{datastore}] {name}",
                     modified=modified) for name, modified in found]


def find_leftovers(vc: VCenter, inventory: Inventory,
                   datastores: Iterable[Datastore]) -> list[Leftover]:
    """One SearchDatastore per datastore (and one in its vmware_temp folder), concurrently."""

    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=list(PATTERNS), query=[vim.host.DatastoreBrowser.FolderQuery()],
        details=vim.host.DatastoreBrowser.FileInfo.Details(modification=True, fileType=True))

    inside = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"],
        details=vim.host.DatastoreBrowser.FileInfo.Details(modification=True))

    def entries(browser: object, path: str, search_spec: object) -> list[Found]:
        result = run_task(vc, f"searching {path}", lambda: browser.SearchDatastore_Task(
            datastorePath=path, searchSpec=search_spec))
        return [(info.path, info.modification)
                for info in getattr(result, "file", None) or []]

    def search(ds: Datastore) -> list[Leftover]:
        if ds.browser is None or not ds.accessible:
            return []
        browser = inventory.refs[ds.browser]
        root = entries(browser, f"[{ds.name}]", spec)
        temp = entries(browser, f"[{ds.name}] {TEMP_FOLDER}", inside) \
            if any(name == TEMP_FOLDER for name, _ in root) else []
        return leftovers_at(ds.name, root, temp)

    stores = list(datastores)
    with ThreadPoolExecutor(max_workers=min(BROWSE_WORKERS, max(1, len(stores)))) as pool:
        return [item for items in pool.map(search, stores) for item in items]
