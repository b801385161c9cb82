"""What a seed creates on a datastore before it is done, recorded on this machine.

A seed removes its temporary folder and image VM itself, even on Ctrl-C; it
cannot when the vCenter went away or the process was killed. Each run writes
a small record first (``$XDG_STATE_HOME/vmwctl/inflight/<pid>-<n>.json``) and
removes it when its leftovers are gone; a later run against the same vCenter
finds the records of dead processes and removes what they name. Leftovers of
another machine stay to ``cache purge --include-temp``, which goes by age.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
            except (OSError, ValueError, TypeError):
                continue
            if entry.vcenter == self.vcenter and process_gone(entry.host, entry.pid):
                found.append((path, entry))
        return found
