"""What a run creates on the vCenter before it is done, recorded on this machine.

A cache seed (its temporary folder and image VM), a VIB install (its uploaded
copy) and a VM deletion (the folder of a VM already unregistered) remove what
they leave themselves, even on Ctrl-C; they cannot when the vCenter went away
or the process was killed. Each run writes a small
record first (``$XDG_STATE_HOME/vmwctl/inflight/<pid>-<n>.json``) and removes
it when its leftovers are gone; a later run against the same vCenter finds
the records of dead processes and removes what they name. Leftovers of
another machine stay to ``cache purge --include-temp``, which goes by age.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath
from vmwctl.vsphere.faults import FileNotFound
from vmwctl.vsphere.tasks import run_task

if TYPE_CHECKING:
    from vmwctl.vsphere.model import Inventory
    from vmwctl.vsphere.session import VCenter


def journal_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "vmwctl" / "inflight"


@dataclass
class Inflight:
    """The leftovers one run may leave: datastore paths and registered VMs, by name."""

    vcenter: str  # host:port
    host: str
    pid: int
    folders: list[str] = field(default_factory=list)
    vms: list[str] = field(default_factory=list)


def process_gone(host: str, pid: int) -> bool:
    """The process ran on this machine and is not running any more."""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Journal:
    def __init__(self, vcenter: str, directory: Path | None = None) -> None:
        self.vcenter = vcenter
        self.directory = directory or journal_dir()

    @classmethod
    def for_vcenter(cls, vc: VCenter) -> Journal:
        return cls(f"{vc.settings.host}:{vc.settings.port}")

    def open(self, *, folders: list[str], vms: list[str]) -> Path:
        """Record the leftovers a run is about to create; before anything is created."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        entry = Inflight(self.vcenter, socket.gethostname(), os.getpid(), folders, vms)
        path.write_text(json.dumps(asdict(entry)))
        return path

    @staticmethod
    def close(path: Path) -> None:
        """The run removed its leftovers (or never made them)."""
        path.unlink(missing_ok=True)

    def stale(self) -> list[tuple[Path, Inflight]]:
        """Records of dead processes of this machine against this vCenter."""
        found = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                entry = Inflight(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError, RecursionError):
                continue
            if not _well_formed(entry):
                continue  # damaged: what it names cannot be trusted
            if entry.vcenter == self.vcenter and process_gone(entry.host, entry.pid):
                found.append((path, entry))
        return found


def _well_formed(entry: Inflight) -> bool:
    names = (entry.folders, entry.vms)
    return (isinstance(entry.vcenter, str) and isinstance(entry.host, str)
            and type(entry.pid) is int and 0 <= entry.pid < 1 << 31
            and all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in names))


def remove_stale(vc: VCenter, inventory: Inventory, journal: Journal | None = None) -> list[str]:
    """Remove what dead runs of this machine left on this vCenter: the VMs they name (destroyed
    with their files), then their folders, except a folder a registered VM still lives in.
    A record stays until all it names is gone."""

    journal = journal or Journal.for_vcenter(vc)
    removed: list[str] = []
    stores = {ds.name: ds for ds in inventory.datastores.values()}
    registered = {vm.name: vm for vm in inventory.vms.values()}
    for record, entry in journal.stale():
        for name in entry.vms:
            if name in registered:
                run_task(vc, f"destroying VM {name}",
                         inventory.refs[registered.pop(name).moid].Destroy_Task)
                removed.append(name)
        homes = {str(DatastorePath.parse(vm.path).parent) for vm in registered.values()
                 if vm.path}
        done = True
        for folder in map(DatastorePath.parse, entry.folders):
            if str(folder) in homes or folder.datastore not in stores:
                done = False  # a VM lives there: 'vmwctl vm delete' is the way
                continue
            try:
                DatastoreFiles.of(vc, inventory, stores[folder.datastore]).delete(
                    folder, missing_ok=False)
                removed.append(str(folder))
            except FileNotFound:
                pass  # gone already
        if done:
            journal.close(record)
    return removed
