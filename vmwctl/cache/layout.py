"""Nova's image cache on a datastore, as Nova lays it out (nova/virt/vmwareapi).

``[ds] <base>/<image_id>/<image_id>.vmdk`` (+ ``-flat.vmdk``), sized
linked-clone copies ``<image_id>.<root_gb>.vmdk``, ISOs ``<image_id>.iso``,
and the aging marker: a *folder* ``ts-%Y-%m-%d-%H-%M-%S`` in UTC. Leftovers of
failed spawns sit at the datastore root. Pure functions over the results of
one SearchDatastoreSubFolders per datastore.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from vmwctl.cache.leftovers import leftover_kind

MARKER_PREFIX = "ts-"
MARKER_FORMAT = "%Y-%m-%d-%H-%M-%S"
LOCK_FOLDER = "vmwctl-purge.lock"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_SIZED = re.compile(r"^(?P<id>.+)\.(?P<gb>\d+)(?:-flat)?\.vmdk$")


def marker_name(now: dt.datetime) -> str:
    return MARKER_PREFIX + now.astimezone(dt.UTC).strftime(MARKER_FORMAT)


def parse_marker(name: str) -> dt.datetime | None:
    """Nova strips the characters t, s and - from the left (str.lstrip), then parses."""
    if not name.startswith(MARKER_PREFIX):
        return None
    try:
        return dt.datetime.strptime(name.lstrip("ts-"), MARKER_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def is_image_id(name: str) -> bool:
    return bool(_UUID.fullmatch(name))  # '$' alone would let a final newline in


@dataclass
class Entry:
    """A file or folder as the datastore browser reports it."""

    name: str
    folder: bool
    size: int = 0
    modified: dt.datetime | None = None


@dataclass
class CachedImage:
    image_id: str
    path: str  # [ds] <base>/<image_id>
    files: list[Entry] = field(default_factory=list)
    size: int = 0
    sized_copies: list[int] = field(default_factory=list)  # root_gb of each sized copy
    iso: bool = False
    marker: dt.datetime | None = None
    markers: list[str] = field(default_factory=list)  # every ts-* folder
    modified: dt.datetime | None = None  # the newest file or folder in it


@dataclass
class CacheFolder:
    datastore: str
    name: str
    path: str
    images: list[CachedImage] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # entries that are not image folders
    locked: bool = False


@dataclass
class Leftover:
    datastore: str
    name: str
    path: str
    kind: str  # vmware_temp | OSTACK_IMG
    modified: dt.datetime | None
    entries: int
    children: list[Entry] = field(default_factory=list)  # vmware_temp: one folder per fetch


@dataclass
class DatastoreCache:
    datastore: str
    folders: list[CacheFolder] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


def is_plain_name(name: str) -> bool:
    """A file or folder name that stays in its folder: no '/', NUL, '.' or '..'."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _aware(entry: Entry) -> Entry:
    """A time without a zone (the browser's xsd:dateTime may have none) is UTC."""
    if entry.modified is None or entry.modified.tzinfo is not None:
        return entry
    return Entry(entry.name, entry.folder, entry.size, entry.modified.replace(tzinfo=dt.UTC))


def is_cache_folder(name: str, subdirectory_name: str) -> bool:
    """<my_ip><sub>, <cache_prefix><sub> or <sub> itself (aging disabled)."""
    return name.endswith(subdirectory_name)


def _newest(*values: dt.datetime | None) -> dt.datetime | None:
    found = [v for v in values if v is not None]
    return max(found) if found else None


def _subtree_newest(tree: dict[str, list[Entry]], folder: str) -> dt.datetime | None:
    """The newest modification time of anything in ``folder`` or below it."""
    newest = None
    for path, entries in tree.items():
        if path == folder or path.startswith(folder + "/"):
            newest = _newest(newest, *(e.modified for e in entries))
    return newest


def build(datastore: str, tree: dict[str, list[Entry]], *, folders: Iterable[str] | None,
          subdirectory_name: str) -> DatastoreCache:
    """Assemble a datastore's cache from ``tree``: relative folder path -> its entries.

    ``folders`` names the cache folders to report (None: every folder at the
    root whose name is a cache folder name).
    """
    result = DatastoreCache(datastore)
    tree = {path: [_aware(e) for e in entries] for path, entries in tree.items()}
    root = tree.get("", [])
    wanted = set(folders) if folders is not None else None
    for entry in root:
        if not entry.folder or not is_plain_name(entry.name):
            continue
        kind = leftover_kind(entry.name)
        if kind is not None:
            children = [Entry(c.name, c.folder, c.size,
                              _newest(c.modified, _subtree_newest(tree, f"{entry.name}/{c.name}")))
                        for c in tree.get(entry.name, []) if is_plain_name(c.name)]
            newest = _newest(entry.modified, _subtree_newest(tree, entry.name))
            result.leftovers.append(Leftover(datastore, entry.name, f"[{datastore}] {entry.name}",
                                             kind, newest, len(children), children))
            continue
        if (wanted is not None and entry.name in wanted) or \
                (wanted is None and is_cache_folder(entry.name, subdirectory_name)):
            result.folders.append(_cache_folder(datastore, entry.name, tree))
    return result


def _cache_folder(datastore: str, name: str, tree: dict[str, list[Entry]]) -> CacheFolder:
    folder = CacheFolder(datastore, name, f"[{datastore}] {name}")
    for entry in sorted(tree.get(name, []), key=lambda e: e.name):
        if entry.name == LOCK_FOLDER:
            folder.locked = True
            continue
        if not entry.folder or not is_plain_name(entry.name):
            folder.others.append(entry.name)
            continue
        image = CachedImage(entry.name, f"[{datastore}] {name}/{entry.name}")
        if not is_image_id(entry.name):
            folder.others.append(entry.name)
        files = tree.get(f"{name}/{entry.name}", [])
        image.modified = entry.modified
        for item in files:
            image.modified = _newest(image.modified, item.modified)
            if item.folder and item.name.startswith(MARKER_PREFIX):
                image.markers.append(item.name)
                stamp = parse_marker(item.name)
                if stamp is not None and image.marker is None:
                    image.marker = stamp
                continue
            image.files.append(item)
            image.size += item.size
            sized = _SIZED.match(item.name)
            if sized and sized.group("id") == entry.name and not item.name.endswith("-flat.vmdk"):
                image.sized_copies.append(int(sized.group("gb")))
            if item.name == f"{entry.name}.iso":
                image.iso = True
        image.sized_copies.sort()
        folder.images.append(image)
    return folder
