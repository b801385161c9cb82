"""Purge locks: one on this machine (a lock file), one on the datastore (a lock folder).

The datastore lock is a folder ``<cache>/vmwctl-purge.lock`` made with
MakeDirectory without parents, which fails when it exists: only one purge
gets it, whichever machine it runs on. An ``owner.json`` inside says who and
since when; a lock older than ``STALE_AFTER``, without a readable owner after
a short grace, or left by a process of this machine that no longer runs, is
taken over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from vmwctl import __version__
from vmwctl.cache.layout import LOCK_FOLDER
from vmwctl.errors import OperationFailed, VmwctlError
from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath, MissingParent
from vmwctl.vsphere.journal import process_gone


class LockHeld(OperationFailed):
    """Another purge holds the lock."""


STALE_AFTER = dt.timedelta(hours=6)
OWNER_FILE = "owner.json"
OWNER_GRACE = 2.0  # seconds


@dataclass
class Owner:
    host: str
    pid: int
    user: str
    since: str  # ISO 8601, UTC
    tool: str = f"vmwctl {__version__}"

    @classmethod
    def me(cls, now: dt.datetime) -> Owner:
        return cls(socket.gethostname(), os.getpid(), getpass.getuser(),
                   now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def describe(self) -> str:
        return f"{self.tool} pid {self.pid} on {self.host} (user {self.user}) since {self.since}"


def lock_dir(env_home: str | None = None) -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or env_home or \
        os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmwctl" / "locks"


@contextlib.contextmanager
def local_lock(key: str, now: dt.datetime, directory: Path | None = None) -> Iterator[Path]:
    """An exclusive, non-blocking lock file for ``key`` (a vCenter and cache folder)."""
    directory = directory or lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"purge-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockHeld(f"another purge of this cache runs on this machine ({holder}); "
                                  "nothing done") from None
        handle.seek(0)
        handle.truncate()
        handle.write(Owner.me(now).describe())
        handle.flush()
        yield path
    finally:
        handle.close()


@contextlib.contextmanager
def datastore_lock(files: DatastoreFiles, cache: DatastorePath, now: dt.datetime, *,
                   stale_after: dt.timedelta = STALE_AFTER) -> Iterator[Owner | None]:
    """Hold ``<cache>/vmwctl-purge.lock`` for the block; take it over when stale.

    Yields None when the cache folder does not exist: there is nothing in it to protect.
    """
    folder = cache.join(LOCK_FOLDER)
    owner = Owner.me(now)
    try:
        made = files.mkdir(folder, parents=False)
    except MissingParent:
        yield None
        return
    if not made:
        holder = _read_owner(files, folder)
        if _since(holder) is None:
            # The holder may be between making the folder and writing owner.json.
            time.sleep(OWNER_GRACE)
            holder = _read_owner(files, folder)
        since = _since(holder)
        if since is not None and now - since <= stale_after and not _dead_here(holder):
            raise LockHeld(f"another purge holds {cache}: {holder.describe()}; nothing "
                                  "done there")
        files.delete(folder)
        if not files.mkdir(folder, parents=False):
            raise LockHeld(f"another purge took over the stale lock of {cache}")
    try:
        payload = json.dumps(asdict(owner)).encode()
        files.upload(folder.join(OWNER_FILE), [payload], len(payload))
        yield owner
    except BaseException:
        with contextlib.suppress(VmwctlError):  # the first error is the one to report
            files.delete(folder)
        raise
    files.delete(folder)


def _dead_here(owner: Owner) -> bool:
    """The holder ran on this machine and its process is gone (it was killed, or the vCenter
    went away before it could remove its lock): the lock is stale at once."""
    return process_gone(owner.host, owner.pid)


def _read_owner(files: DatastoreFiles, folder: DatastorePath) -> Owner:
    try:
        data = json.loads(b"".join(files.download(folder.join(OWNER_FILE))))
        owner = Owner(**{k: data[k] for k in ("host", "pid", "user", "since", "tool")})
        if type(owner.pid) is not int or not 0 <= owner.pid < 1 << 31 or not all(
                isinstance(v, str) for v in (owner.host, owner.user, owner.since, owner.tool)):
            raise TypeError("not an owner file")  # another tool's, or damaged
        return owner
    except (OperationFailed, ValueError, KeyError, TypeError, RecursionError):
        return Owner("unknown", 0, "unknown", "")


def _since(owner: Owner) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(owner.since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
