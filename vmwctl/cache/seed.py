"""``cache seed``: put an image into a datastore's cache exactly as Nova's first boot would.

Nova's method for each disk type (vmops.py ``_prepare_*_image`` / ``_cache_*_image``):

- sparse: PUT ``vmware_temp/<r>/<id>/tmp-sparse.vmdk``, CopyVirtualDisk to
  ``<id>.vmdk`` (ESXi converts it to a flat disk), delete the sparse file;
- flat (thin, preallocated, thick, eagerZeroedThick): CreateVirtualDisk
  ``vmware_temp/<r>/<id>/<id>.vmdk``, delete its ``-flat.vmdk``, PUT the data there;
- streamOptimized: import through an HttpNfc lease as shadow VM ``OSTACK_IMG_<r>``,
  then MoveVirtualDisk its disk to ``vmware_temp/<r>/<id>/<id>.vmdk``;
- ova (container_format=ova, fetch_image_ova): Glance's stream read as a tar; the
  disk member the OVF names is imported as streamOptimized, the rest of the
  archive read so that its size and hash are checked before the move;
- iso: PUT ``vmware_temp/<r>/<id>/<id>.iso``.

Then the folder ``vmware_temp/<r>/<id>`` moves into ``<cache>/<id>`` in one
MoveDatastoreFile, so Nova never sees a partial image (Nova itself builds the
streamOptimized folder in place; vmwctl goes through the temporary folder
for it too). Whatever fails, or a Ctrl-C, removes the temporary folders.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim

from vmwctl.cache.layout import MARKER_PREFIX, is_image_id
from vmwctl.common.hashing import HashBeside
from vmwctl.common.interrupts import deferred_signals
from vmwctl.common.streams import prefetched
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.images.glance import properties_of
from vmwctl.images.properties import DEFAULT_ADAPTER_TYPE, nova_view
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.faults import FileAlreadyExists, FileNotFound
from vmwctl.vsphere.journal import Journal, remove_stale
from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.nfc import import_stream_optimized
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.tasks import run_task

log = logging.getLogger(__name__)

TEMP_FOLDER = "vmware_temp"
IMAGE_VM_PREFIX = "OSTACK_IMG_"
# get_vmdk_adapter_type: VirtualDiskManager knows only the older adapter names
_DISK_MANAGER_ADAPTERS = {"lsiLogicsas": "lsiLogic", "paraVirtual": "lsiLogic"}


@dataclass
class SeedSource:
    """What to fetch from Glance and how Nova caches it."""

    image_id: str
    name: str | None
    size: int
    method: str  # sparse | flat | streamOptimized | ova (its disk, streamOptimized) | iso
    disk_type: str  # Nova's disk type (iso: none)
    adapter_type: str
    file_name: str  # <id>.vmdk or <id>.iso
    hash_algo: str | None
    hash_value: str | None


@dataclass
class SeedResult:
    """JSON keys documented in docs/cache.md."""

    image_id: str
    name: str | None
    datastore: str
    path: str  # [ds] <cache>/<id>
    method: str
    outcome: str  # seeded | cached (already there) | planned (--dry-run)
    bytes: int = 0
    seconds: float = 0.0
    leftovers_removed: list[str] = field(default_factory=list)  # of dead runs on this machine
    markers_removed: list[str] = field(default_factory=list)  # aging markers of a cached image


def seed_source(image: Mapping[str, Any]) -> SeedSource:
    """Read Nova's method for an image from its Glance record; refuse what Nova cannot boot."""

    image_id = image.get("id")
    if not isinstance(image_id, str) or not is_image_id(image_id):
        raise OperationFailed(f"the image service gave the image id {image_id!r}, not a UUID: "
                              "no cache folder or file is named after it")
    size = image.get("size") or 0
    if type(size) is not int or size < 0:
        raise OperationFailed(f"image {image_id}: the image service gave the size {size!r}, "
                              "not a number of bytes")
    if image.get("status") != "active":
        raise UsageError(f"image {image_id} is {image.get('status')}, not active: it has no data "
                         "to seed")
    disk_format = image.get("disk_format")
    view = nova_view(properties_of(image), disk_format=disk_format,
                     container_format=image.get("container_format"))
    if view.problems:
        raise UsageError(f"image {image_id} cannot boot on Nova's VMware driver: "
                         f"{view.problems[0]}")
    if image.get("container_format") == "ova":
        if disk_format != "vmdk" or view.disk_type != "streamOptimized":
            raise UsageError(f"image {image_id} is an OVA with disk_format {disk_format} and "
                             f"vmware_disktype {view.disk_type}: Nova imports an OVA's disk "
                             "through ImportVApp but caches it by its disk type, which only "
                             "works as vmdk and streamOptimized; set them (vmwctl image tag)")
        method, file_name = "ova", f"{image_id}.vmdk"
    elif disk_format == "iso":
        method, file_name = "iso", f"{image_id}.iso"
    else:
        method = view.disk_type if view.disk_type in ("sparse", "streamOptimized") else "flat"
        file_name = f"{image_id}.vmdk"
    adapter = view.adapter_type or DEFAULT_ADAPTER_TYPE
    return SeedSource(image_id, image.get("name"), size, method,
                      view.disk_type, _DISK_MANAGER_ADAPTERS.get(adapter, adapter), file_name,
                      image.get("os_hash_algo"), image.get("os_hash_value"))


def is_cached(vc: VCenter, inventory: Inventory, ds: Datastore, image_folder: DatastorePath,
              file_name: str) -> bool:
    """ds_util.file_exists: one SearchDatastore of the image folder for the cached file."""

    browser = inventory.refs[ds.browser]
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=[file_name], details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileSize=True))
    try:
        result = run_task(vc, f"searching {image_folder}", lambda: browser.SearchDatastore_Task(
            datastorePath=str(image_folder), searchSpec=spec))
    except FileNotFound:
        return False
    return any(info.path == file_name for info in getattr(result, "file", None) or [])


def enlist(vc: VCenter, inventory: Inventory, ds: Datastore, image_folder: DatastorePath,
           files: DatastoreFiles) -> list[str]:
    """Nova's enlist_image: remove the image's aging markers before it is used, so that no
    aging pass deletes it from under a spawn. Returns the markers removed."""

    browser = inventory.refs[ds.browser]
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=[f"{MARKER_PREFIX}*"], query=[vim.host.DatastoreBrowser.FolderQuery()])
    try:
        result = run_task(vc, f"searching {image_folder}", lambda: browser.SearchDatastore_Task(
            datastorePath=str(image_folder), searchSpec=spec))
    except FileNotFound:
        return []
    removed = []
    for info in getattr(result, "file", None) or []:
        if info.path.startswith(MARKER_PREFIX):
            files.delete(image_folder.join(info.path))
            removed.append(info.path)
    return removed


class VerifiedStream:
    """Glance's chunks, counted and hashed on the way; raises if they differ from the record.

    The hash runs beside the stream, in a thread of its own (HashBeside), so
    that reading, hashing and sending each take a core. The last chunk is held
    back until the size and the hash of everything are checked: an image that
    differs from its record never reaches the datastore whole.
    """

    def __init__(self, chunks: Iterable[bytes], source: SeedSource) -> None:
        self.chunks = chunks
        self.source = source
        self.received = 0

    def __iter__(self) -> Iterator[bytes]:
        algo = self.source.hash_algo
        hasher = HashBeside(hashlib.new(algo)) if algo in hashlib.algorithms_available and \
            self.source.hash_value else None
        held: bytes | None = None
        try:
            for chunk in self.chunks:
                if not chunk:
                    continue
                self.received += len(chunk)
                if hasher is not None:
                    hasher.add(chunk)
                if held is not None:
                    yield held
                held = chunk
            if self.received != self.source.size:
                raise OperationFailed(f"the image service sent {self.received} bytes of image "
                                      f"{self.source.image_id}, its record says "
                                      f"{self.source.size}")
            if hasher is not None and hasher.hexdigest() != self.source.hash_value:
                raise OperationFailed(f"the data of image {self.source.image_id} does not match "
                                      f"its {algo} in the image service; nothing cached")
        finally:
            if hasher is not None:
                hasher.close()
        if held is not None:
            yield held


class Seeder:
    """Seeds one image into the caches of several datastores, one at a time."""

    def __init__(self, vc: VCenter, inventory: Inventory, *, cache_folder: str,
                 download: Callable[[str], Iterable[bytes]],
                 pool_for: Callable[[Datastore], Any], journal: Journal | None = None) -> None:
        self.vc = vc
        self.journal = journal or Journal.for_vcenter(vc)
        self.inventory = inventory
        self.cache_folder = cache_folder
        self.download = download
        self.pool_for = pool_for

    def files(self, ds: Datastore) -> DatastoreFiles:
        return DatastoreFiles.of(self.vc, self.inventory, ds)

    def image_folder(self, ds: Datastore, source: SeedSource) -> DatastorePath:
        return DatastorePath(ds.name, self.cache_folder).join(source.image_id)

    def seed(self, source: SeedSource, ds: Datastore, *, dry_run: bool = False,
             progress: Callable[[int], None] | None = None) -> SeedResult:
        target = self.image_folder(ds, source)
        result = SeedResult(source.image_id, source.name, ds.name, str(target), source.method,
                            "cached")
        files = self.files(ds)
        if not dry_run:
            result.leftovers_removed = remove_stale(self.vc, self.inventory, self.journal)
        if is_cached(self.vc, self.inventory, ds, target, source.file_name):
            if not dry_run:  # seeded means ready for a spawn: no aging pass may take it now
                result.markers_removed = enlist(self.vc, self.inventory, ds, target, files)
            return result
        if dry_run:
            result.outcome = "planned"
            return result
        started = time.monotonic()
        run = f"vmwctl-{uuid.uuid4()}"
        temp = DatastorePath(ds.name, TEMP_FOLDER).join(run)
        work = temp.join(source.image_id)
        shadow = DatastorePath(ds.name, f"{IMAGE_VM_PREFIX}{run}") \
            if source.method in ("streamOptimized", "ova") else None
        record = self.journal.open(folders=[str(p) for p in (temp, shadow) if p],
                                   vms=[shadow.path] if shadow else [])
        try:
            # three threads: the read ahead, the hash beside (VerifiedStream), the sending
            stream = VerifiedStream(prefetched(self.download(source.image_id)), source)
            if shadow is not None:
                self._import(files, ds, source, stream, shadow, work, progress)
            else:
                files.mkdir(work, parents=True)
                self._place(files, source, stream, work, progress)
            result.bytes = stream.received
            files.mkdir(target.parent, parents=True)  # check_cache_folder
            try:
                files.move(work, target)
                result.outcome = "seeded"
            except FileAlreadyExists:
                pass  # another seed or a nova-compute cached it meanwhile; theirs stays
        finally:
            with deferred_signals():  # a second Ctrl-C must not leave the leftovers behind
                removed = [_delete_quietly(files, p) for p in (temp, shadow) if p is not None]
                if all(removed):
                    self.journal.close(record)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    def _place(self, files: DatastoreFiles, source: SeedSource, stream: Iterable[bytes],
               work: DatastorePath, progress: Callable[[int], None] | None) -> None:
        disk = work.join(source.file_name)
        if source.method == "sparse":
            sparse = work.join("tmp-sparse.vmdk")
            files.upload(sparse, stream, source.size, progress=progress)
            files.copy_disk(sparse, disk)
            files.delete(sparse)
        elif source.method == "flat":
            files.create_disk(disk, capacity_kb=source.size // 1024,
                              adapter_type=source.adapter_type, disk_type=source.disk_type)
            flat = work.join(f"{source.image_id}-flat.vmdk")
            files.delete(flat)
            files.upload(flat, stream, source.size, progress=progress)
        else:  # iso
            files.upload(disk, stream, source.size, progress=progress)

    def _import(self, files: DatastoreFiles, ds: Datastore, source: SeedSource,
                stream: Iterable[bytes], shadow: DatastorePath, work: DatastorePath,
                progress: Callable[[int], None] | None) -> None:
        dc = self.inventory.datacenter_of(ds)
        if dc.vm_folder is None:
            raise OperationFailed(f"cannot find the VM folder of the datacenter of [{ds.name}]")
        size, rest = source.size, None
        if source.method == "ova":  # Nova's fetch_image_ova: the disk the OVF names
            from vmwctl.images.ova import ova_disk  # OVA images alone need the tar reader

            disk = ova_disk(stream, f"image {source.image_id}")
            stream, size, rest = disk.data, disk.size, disk.rest
        imported = import_stream_optimized(
            self.vc, pool=self.pool_for(ds), folder=self.inventory.refs[dc.vm_folder],
            datastore=ds.name, name=shadow.path, chunks=stream, size=size,
            progress=progress)
        if rest is not None:
            rest()  # the whole archive read: its size and hash are checked
        files.mkdir(work, parents=True)
        files.move_disk(imported.disk, work.join(source.file_name))


def _delete_quietly(files: DatastoreFiles, path: DatastorePath) -> bool:
    try:
        files.delete(path)
        return True
    except Exception as exc:  # cleanup goes on; 'cache list' shows the leftover
        log.warning("could not remove %s: %s", path, exc)
        return False
