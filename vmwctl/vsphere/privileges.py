"""The vSphere privileges vmwctl names, with the group and label the vSphere Client shows.

Pure data: the configuration guide's table (``vmwctl.privileges.guide``) is
built from it, and a refused call (:class:`vmwctl.vsphere.faults.NoPermission`)
names its missing privilege by the same label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Privilege:
    group: str
    label: str
    id: str

    @property
    def name(self) -> str:
        return f"{self.group} > {self.label} ({self.id})"


def _table(rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> tuple[Privilege, ...]:
    return tuple(Privilege(group, label, pid) for group, items in rows for label, pid in items)


PRIVILEGES = _table([
    ("Datastore", [("Allocate space", "Datastore.AllocateSpace"),
                   ("Browse datastore", "Datastore.Browse"),
                   ("Low level file operation", "Datastore.FileManagement"),
                   ("Remove file", "Datastore.DeleteFile")]),
    ("Extension", [("Register extension", "Extension.Register")]),
    ("Folder", [("Create folder", "Folder.Create")]),
    ("Host > Configuration", [("Maintenance", "Host.Config.Maintenance"),
                              ("Network configuration", "Host.Config.Network"),
                              ("Storage partition configuration", "Host.Config.Storage")]),
    ("Network", [("Assign network", "Network.Assign")]),
    ("Resource", [("Assign virtual machine to resource pool", "Resource.AssignVMToPool"),
                  ("Migrate powered off virtual machine", "Resource.ColdMigrate"),
                  ("Migrate powered on virtual machine", "Resource.HotMigrate")]),
    ("Virtual Machine > Configuration", [
        ("Add existing disk", "VirtualMachine.Config.AddExistingDisk"),
        ("Add new disk", "VirtualMachine.Config.AddNewDisk"),
        ("Add or remove device", "VirtualMachine.Config.AddRemoveDevice"),
        ("Advanced", "VirtualMachine.Config.AdvancedConfig"),
        ("CPU count", "VirtualMachine.Config.CPUCount"),
        ("Disk change tracking", "VirtualMachine.Config.ChangeTracking"),
        ("Host USB device", "VirtualMachine.Config.HostUSBDevice"),
        ("Memory", "VirtualMachine.Config.Memory"),
        ("Raw device", "VirtualMachine.Config.RawDevice"),
        ("Remove disk", "VirtualMachine.Config.RemoveDisk"),
        ("Rename", "VirtualMachine.Config.Rename"),
        ("Swapfile placement", "VirtualMachine.Config.SwapPlacement")]),
    ("Virtual Machine > Interaction", [
        ("Configure CD media", "VirtualMachine.Interact.SetCDMedia"),
        ("Power Off", "VirtualMachine.Interact.PowerOff"),
        ("Power On", "VirtualMachine.Interact.PowerOn"),
        ("Reset", "VirtualMachine.Interact.Reset"),
        ("Suspend", "VirtualMachine.Interact.Suspend")]),
    ("Virtual Machine > Inventory", [
        ("Create from existing", "VirtualMachine.Inventory.CreateFromExisting"),
        ("Create new", "VirtualMachine.Inventory.Create"),
        ("Move", "VirtualMachine.Inventory.Move"),
        ("Remove", "VirtualMachine.Inventory.Delete"),
        ("Unregister", "VirtualMachine.Inventory.Unregister")]),
    ("Virtual Machine > Provisioning", [
        ("Clone virtual machine", "VirtualMachine.Provisioning.Clone"),
        ("Customize", "VirtualMachine.Provisioning.Customize"),
        ("Create template from virtual machine",
         "VirtualMachine.Provisioning.CreateTemplateFromVM")]),
    ("Virtual Machine > Snapshot management", [
        ("Create snapshot", "VirtualMachine.State.CreateSnapshot"),
        ("Remove snapshot", "VirtualMachine.State.RemoveSnapshot")]),
    ("Sessions", [("Validate session", "Sessions.ValidateSession"),
                  ("View and stop sessions", "Sessions.TerminateSession")]),
    ("vApp", [("Export", "VApp.Export"), ("Import", "VApp.Import")]),
])
_BY_ID = {p.id: p for p in PRIVILEGES}


def privilege(privilege_id: str) -> Privilege | None:
    """The privilege with that id, when vmwctl names it."""
    return _BY_ID.get(privilege_id)


def privilege_text(privilege_id: str) -> str:
    """``"Datastore > Browse datastore" (Datastore.Browse)``, or the bare id when unnamed."""
    known = _BY_ID.get(privilege_id)
    return f'"{known.group} > {known.label}" ({known.id})' if known else privilege_id
