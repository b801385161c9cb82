"""Datastore paths, file operations (FileManager, VirtualDiskManager) and HTTP transfer.

Paths are written as vSphere writes them: ``[ds] folder/file``. File
operations are tasks whose entity is a manager object, waited for through
:func:`vmwctl.vsphere.tasks.wait_for_task`. Data goes over the datastore's
HTTP interface (``/folder/<path>?dcPath=...&dsName=...``) with the session
cookie, streamed with a known length, in constant memory.
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pyVmomi import vim

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.faults import FileAlreadyExists, FileNotFound, VSphereFault
from vmwctl.vsphere.model import Datastore, Inventory
from vmwctl.vsphere.session import VCenter, connect_error, make_ssl_context
from vmwctl.vsphere.tasks import run_task

log = logging.getLogger(__name__)

CHUNK = 1 << 20
_PATH = re.compile(r"\[([^\]]+)\] ?/?(.*)", re.DOTALL)  # names may hold newlines, end in spaces


@dataclass(frozen=True)
class DatastorePath:
    """``[datastore] relative/path`` (oslo.vmware's DatastorePath)."""

    datastore: str
    path: str = ""

    def __str__(self) -> str:
        return f"[{self.datastore}] {self.path}" if self.path else f"[{self.datastore}]"

    def join(self, *parts: str) -> DatastorePath:
        joined = "/".join(p.strip("/") for p in (self.path, *parts) if p.strip("/"))
        return DatastorePath(self.datastore, joined)

    @property
    def parent(self) -> DatastorePath:
        return DatastorePath(self.datastore, self.path.rsplit("/", 1)[0] if "/" in self.path
                             else "")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @classmethod
    def parse(cls, text: str) -> DatastorePath:
        """Accept vSphere's '[ds] a/b' and the simulator's '[ds]/a/b'."""
        match = _PATH.fullmatch(text.lstrip())
        if match is None:
            raise ValueError(f"not a datastore path: {text!r}")
        return cls(match.group(1), match.group(2).strip("/"))


class MissingParent(OperationFailed):
    """The folder to create a file or folder in does not exist."""


class DatastoreFiles:
    """File operations on the datastores of one datacenter (oslo.vmware's Datastore)."""

    def __init__(self, vc: VCenter, datacenter: Any, datacenter_path: str) -> None:
        self.vc = vc
        self.datacenter = datacenter
        self.datacenter_path = datacenter_path.lstrip("/")

    @classmethod
    def of(cls, vc: VCenter, inventory: Inventory, datastore: Datastore) -> DatastoreFiles:
        """File operations on ``datastore``, addressed through its datacenter."""
        dc = inventory.datacenter_of(datastore)
        return cls(vc, inventory.refs[dc.moid], dc.path)

    def _run(self, what: str, start: Callable[[], Any]) -> Any:
        """Start a task and wait for it; a fault raised by the call itself fails it too."""
        return run_task(self.vc, what, start)

    def mkdir(self, path: DatastorePath, *, parents: bool = True) -> bool:
        """MakeDirectory; False when it already exists, MissingParent without ``parents``."""
        try:
            self.vc.content.fileManager.MakeDirectory(str(path), self.datacenter, parents)
        except FileAlreadyExists:
            return False
        except FileNotFound:
            raise MissingParent(f"creating {path} failed: {path.parent} does not exist") \
                from None
        except VSphereFault as exc:
            raise exc.during(f"creating {path}") from None
        return True

    def delete(self, path: DatastorePath, *, missing_ok: bool = True) -> None:
        """DeleteDatastoreFile: a file, or a folder with everything in it."""
        manager = self.vc.content.fileManager
        try:
            self._run(f"deleting {path}",
                      lambda: manager.DeleteDatastoreFile_Task(str(path), self.datacenter))
        except FileNotFound:
            if not missing_ok:
                raise

    def move(self, source: DatastorePath, destination: DatastorePath) -> None:
        manager = self.vc.content.fileManager
        self._run(f"moving {source} to {destination}", lambda: manager.MoveDatastoreFile_Task(
            str(source), self.datacenter, str(destination), self.datacenter, False))

    def copy_disk(self, source: DatastorePath, destination: DatastorePath) -> None:
        """CopyVirtualDisk without destSpec, as Nova converts sparse images."""
        manager = self.vc.content.virtualDiskManager
        self._run(f"copying {source} to {destination}", lambda: manager.CopyVirtualDisk_Task(
            str(source), self.datacenter, str(destination), self.datacenter, None, False))

    def move_disk(self, source: DatastorePath, destination: DatastorePath) -> None:
        manager = self.vc.content.virtualDiskManager
        self._run(f"moving disk {source} to {destination}", lambda: manager.MoveVirtualDisk_Task(
            str(source), self.datacenter, str(destination), self.datacenter, False))

    def extend_disk(self, path: DatastorePath, capacity_kb: int) -> None:
        """ExtendVirtualDisk_Task without eager zeroing, as Nova extends root disks."""
        manager = self.vc.content.virtualDiskManager
        self._run(f"extending {path} to {capacity_kb} KB", lambda: manager.ExtendVirtualDisk_Task(
            str(path), self.datacenter, capacity_kb, False))

    def delete_disk(self, path: DatastorePath) -> None:
        """DeleteVirtualDisk_Task: the descriptor and its extents."""
        manager = self.vc.content.virtualDiskManager
        self._run(f"deleting disk {path}",
                  lambda: manager.DeleteVirtualDisk_Task(str(path), self.datacenter))

    def create_disk(self, path: DatastorePath, *, capacity_kb: int, adapter_type: str,
                    disk_type: str) -> None:
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            adapterType=adapter_type, diskType=disk_type, capacityKb=capacity_kb)
        manager = self.vc.content.virtualDiskManager
        self._run(f"creating disk {path}",
                  lambda: manager.CreateVirtualDisk_Task(str(path), self.datacenter, spec))

    # ------------------------------------------------------------ HTTP

    def url_path(self, path: DatastorePath) -> str:
        return (f"/folder/{quote(path.path)}?dcPath={quote(self.datacenter_path)}"
                f"&dsName={quote(path.datastore)}")

    def _connection(self) -> http.client.HTTPSConnection:
        return https_connection(self.vc, self.vc.settings.host, self.vc.settings.port)

    def upload(self, path: DatastorePath, chunks: Iterable[bytes], size: int, *,
               progress: Callable[[int], None] | None = None) -> int:
        """PUT ``size`` bytes from ``chunks`` to the datastore file; returns the bytes sent."""
        return put_stream(self.vc, self._connection(), self.url_path(path), chunks, size,
                          what=f"uploading {path}", progress=progress)

    def download(self, path: DatastorePath) -> Iterable[bytes]:
        """GET a datastore file in chunks."""
        conn = self._connection()
        try:
            conn.request("GET", self.url_path(path), headers={"Cookie": self.vc.session_cookie})
            response = conn.getresponse()
            if response.status != 200:
                raise OperationFailed(f"reading {path} failed: HTTP {response.status}")
            while chunk := response.read(CHUNK):
                yield chunk
        except OSError as exc:
            raise connect_error(exc, self.vc.settings, during=f"reading {path}") from None
        finally:
            conn.close()


def https_connection(vc: VCenter, host: str, port: int) -> http.client.HTTPSConnection:
    """A connection verified as the vCenter session is (same CA file or insecure flag)."""
    s = vc.settings
    return http.client.HTTPSConnection(host, port, context=make_ssl_context(s.ca_file, s.insecure),
                                       timeout=s.read_timeout)


def put_stream(vc: VCenter, conn: http.client.HTTPSConnection, url_path: str,
               chunks: Iterable[bytes], size: int, *, what: str,
               headers: dict[str, str] | None = None,
               progress: Callable[[int], None] | None = None) -> int:
    """PUT exactly ``size`` bytes with the session cookie; returns the bytes sent."""
    sent = 0
    try:
        conn.putrequest("PUT", url_path, skip_accept_encoding=True)
        conn.putheader("Cookie", vc.session_cookie)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size))
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.endheaders()
        for chunk in chunks:
            if sent + len(chunk) > size:
                raise OperationFailed(f"{what}: the source holds more than the {size} bytes "
                                      "announced")
            conn.send(chunk)
            sent += len(chunk)
            if progress is not None:
                progress(len(chunk))
        if sent != size:
            raise OperationFailed(f"{what} stopped after {sent} of {size} bytes")
        response = conn.getresponse()
        body = response.read(2048)
        if response.status not in (200, 201, 204):
            raise OperationFailed(f"{what} failed: HTTP {response.status} "
                                  f"{body.decode('utf-8', 'replace').strip()[:200]}")
    except OSError as exc:
        raise connect_error(exc, vc.settings, during=what) from None
    finally:
        conn.close()
    return sent
