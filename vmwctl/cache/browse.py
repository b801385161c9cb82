"""Reading the image caches: one SearchDatastoreSubFolders per datastore, run concurrently."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyVmomi import vim

from vmwctl.cache.layout import DatastoreCache, Entry, build
from vmwctl.vsphere.datastore import DatastorePath
from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.tasks import run_task

SEARCH_WORKERS = 8


def search_tree(vc: VCenter, inventory: Inventory, ds: Datastore) -> dict[str, list[Entry]]:
    """Every folder of the datastore (relative path) with its entries, in one search task."""

    browser = inventory.refs[ds.browser] if ds.browser else None
    if browser is None or not ds.accessible:
        return {}
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"], details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileSize=True, modification=True, fileType=True))
    results = run_task(vc, f"searching [{ds.name}]", lambda: browser.SearchDatastoreSubFolders_Task(
        datastorePath=f"[{ds.name}]", searchSpec=spec)) or []
    tree: dict[str, list[Entry]] = {}
    for result in results:
        folder = DatastorePath.parse(result.folderPath).path
        tree[folder] = [_entry(info) for info in result.file or []]
    return tree


def _entry(info: Any) -> Entry:
    return Entry(name=info.path, folder=isinstance(info, vim.host.DatastoreBrowser.FolderInfo),
                 size=int(info.fileSize or 0), modified=info.modification)


def read_caches(vc: VCenter, inventory: Inventory, datastores: Iterable[Datastore], *,
                folders: list[str] | None, subdirectory_name: str) -> list[DatastoreCache]:
    """The caches (``folders``, or every cache folder when None) of each datastore."""
    stores = list(datastores)

    def one(ds: Datastore) -> DatastoreCache:
        return build(ds.name, search_tree(vc, inventory, ds), folders=folders,
                     subdirectory_name=subdirectory_name)

    if not stores:
        return []
    with ThreadPoolExecutor(max_workers=min(SEARCH_WORKERS, len(stores))) as pool:
        return list(pool.map(one, stores))
