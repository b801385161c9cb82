"""The service account's privileges: the guide's table, as vSphere privilege ids.

The guide names 44 privileges (its "Disk change tracking" row appears twice)
to grant on the Datacenter with "Propagate to Child Objects". The labels are
kept so that reports speak the guide's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GuidePrivilege:
    group: str
    label: str
    id: str

    @property
    def name(self) -> str:
        return f"{self.group} > {self.label} ({self.id})"


def _table(rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[GuidePrivilege]:
    return [GuidePrivilege(group, label, pid) for group, items in rows for label, pid in items]


GUIDE_PRIVILEGES = _table([
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
GUIDE_IDS = [p.id for p in GUIDE_PRIVILEGES]
# vCenter adds these to every role.
SYSTEM_PRIVILEGES = ("System.Anonymous", "System.Read", "System.View")
DEFAULT_ROLE = "openstack-nova"


def missing_from(held: Iterable[str]) -> list[GuidePrivilege]:
    have = set(held)
    return [p for p in GUIDE_PRIVILEGES if p.id not in have]


def same_principal(a: str, b: str) -> bool:
    """DOMAIN\\user and user@domain name the same principal; case does not matter."""
    def normal(name: str) -> str:
        name = name.lower()
        domain, sep, user = name.partition("\\")
        return f"{user}@{domain}" if sep else name

    return normal(a) == normal(b)
