"""Typed vSphere faults: the registry, the messages, and that only vmwctl/vsphere/ sees pyVmomi's.

The faults are real pyVmomi fault objects, built as the deserializer builds them.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from pyVmomi import VmomiSupport, vim, vmodl

from vmwctl.errors import EXIT_FAILED, OperationFailed, VmwctlError
from vmwctl.privileges.guide import GUIDE_IDS, GUIDE_PRIVILEGES
from vmwctl.vsphere import faults
from vmwctl.vsphere.privileges import PRIVILEGES, privilege, privilege_text

PACKAGE = Path(__file__).resolve().parents[2] / "vmwctl"
REMEDY = "see 'vmwctl check privileges'"


# ------------------------------------------------------------------ the registry

@pytest.mark.parametrize(("fault", "expected"), [
    (vim.fault.FileNotFound(file="[ds] a"), faults.FileNotFound),
    (vim.fault.FileAlreadyExists(file="[ds] a"), faults.FileAlreadyExists),
    (vim.fault.InvalidPowerState(), faults.InvalidPowerState),
    (vim.fault.DuplicateName(name="vmwctl"), faults.DuplicateName),
    (vim.fault.InvalidName(name="bad/name"), faults.InvalidName),
    (vim.fault.InvalidLogin(), faults.InvalidLogin),
    (vim.fault.NoPermission(privilegeId="Datastore.Browse"), faults.NoPermission),
    # a pyVmomi subclass of NoPermission with a class of its own: the nearest wins
    (vim.fault.NotAuthenticated(privilegeId="System.View"), faults.NotAuthenticated),
    (vmodl.fault.ManagedObjectNotFound(), faults.ManagedObjectNotFound),
    (vmodl.fault.MethodNotFound(method="HasPrivilegeOnEntities"), faults.MethodNotFound),
    (vmodl.fault.NotSupported(), faults.NotSupported),
])
def test_a_registered_fault_type_gets_its_class(fault, expected) -> None:
    error = faults.translate(fault)
    assert type(error) is expected
    assert error.fault is fault
    assert isinstance(error, faults.VSphereFault) and isinstance(error, OperationFailed)
    assert error.exit_code == EXIT_FAILED


@pytest.mark.parametrize(("fault", "expected"), [
    # CannotAccessFile and CannotCreateFile are FileFaults, neither registered themselves
    (vim.fault.CannotAccessFile(file="[ds] a"), faults.FileFault),
    (vim.fault.CannotCreateFile(file="[ds] a"), faults.FileFault),
    # NoPermission's parent chain: SecurityError, RuntimeFault, MethodFault
    (vmodl.fault.SecurityError(), faults.VSphereFault),
])
def test_an_unregistered_subclass_gets_its_nearest_registered_parents_class(fault,
                                                                            expected) -> None:
    assert type(faults.translate(fault)) is expected
    assert faults.fault_class(type(fault)) is expected


@pytest.mark.parametrize("fault", [vim.fault.PlatformConfigFault(text="x"),
                                   vmodl.fault.SystemError(reason="r"),
                                   vmodl.fault.InvalidArgument(invalidProperty="p"),
                                   vim.fault.NotFound()])
def test_an_unknown_fault_is_a_vsphere_fault(fault) -> None:
    error = faults.translate(fault)
    assert type(error) is faults.VSphereFault
    assert error.fault is fault


def test_file_faults_and_duplicate_name_expose_what_callers_use() -> None:
    assert faults.translate(vim.fault.FileNotFound(file="[ds] x/y")).file == "[ds] x/y"
    folder = vim.Folder("group-v3")
    assert faults.translate(vim.fault.DuplicateName(name="n", object=folder)).object is folder


def test_is_fault_tells_pyvmomi_faults_from_other_exceptions() -> None:
    assert faults.is_fault(vim.fault.FileNotFound())
    assert faults.is_fault(vmodl.fault.SystemError())
    assert not faults.is_fault(ValueError("x"))
    assert not faults.is_fault(faults.translate(vim.fault.FileNotFound()))


# ------------------------------------------------------------------ messages

def test_the_message_is_the_type_and_message_of_the_fault() -> None:
    fault = vim.fault.FileNotFound(file="[ds] x", msg="File [ds] x was not found")
    error = faults.translate(fault, method="DeleteDatastoreFile_Task")
    assert error.reason == "FileNotFound: File [ds] x was not found"
    assert error.message == "the vCenter answered with a fault: FileNotFound: File [ds] x was " \
                            "not found"
    assert str(error) == error.message and error.summary == error.reason
    assert error.method == "DeleteDatastoreFile_Task" and error.what is None


def test_the_localized_messages_stand_in_for_a_missing_msg() -> None:
    fault = vmodl.fault.SystemError(reason="r", faultMessage=[
        vmodl.LocalizableMessage(key="a", message="first"),
        vmodl.LocalizableMessage(key="b", message="second")])
    assert faults.describe(fault) == "SystemError: first; second"
    assert faults.describe(vim.fault.InvalidPowerState()) == "InvalidPowerState"


def test_during_names_the_operation_and_keeps_the_class_and_fault() -> None:
    error = faults.translate(vim.fault.FileNotFound(msg="gone"), method="MoveDatastoreFile_Task")
    told = error.during("moving [ds] a to [ds] b")
    assert type(told) is faults.FileNotFound and told.fault is error.fault
    assert told.message == "moving [ds] a to [ds] b failed: FileNotFound: gone"
    assert told.summary == told.message and told.args == (told.message,)
    assert error.message == "the vCenter answered with a fault: FileNotFound: gone"  # unchanged


def test_restated_keeps_the_class_with_the_callers_words() -> None:
    error = faults.translate(vim.fault.InvalidName(msg="bad"))
    told = error.restated(f"vCenter refused the role name 'x': {error.reason}")
    assert type(told) is faults.InvalidName
    assert told.message == told.summary == "vCenter refused the role name 'x': InvalidName: bad"


def test_no_permission_names_the_guide_label_the_object_and_the_remedy() -> None:
    datastore = vim.Datastore("datastore-12")
    fault = vim.fault.NoPermission(object=datastore, privilegeId="Datastore.Browse")
    looked_up = []

    def name_of(ref):
        looked_up.append(ref)
        return "LocalDS_0"

    error = faults.translate(fault, method="SearchDatastore_Task",
                             user="svc-nova@vsphere.local", name_of=name_of)
    assert type(error) is faults.NoPermission and looked_up == [datastore]
    assert error.privileges == ["Datastore.Browse"] and error.entity == "datastore LocalDS_0"
    assert error.message == (
        'vCenter refused SearchDatastore_Task: svc-nova@vsphere.local lacks the privilege '
        f'"Datastore > Browse datastore" (Datastore.Browse) on datastore LocalDS_0; {REMEDY}')
    assert error.during("searching [LocalDS_0]").message.startswith(
        "vCenter refused searching [LocalDS_0]: svc-nova@vsphere.local lacks")


def test_no_permission_without_a_name_or_a_known_privilege_shows_the_ids() -> None:
    fault = vim.fault.NoPermission(object=vim.HostSystem("host-21"),
                                   privilegeId="Host.Config.NetService")
    error = faults.translate(fault, method="EnableRuleset", user="u", name_of=lambda ref: None)
    assert error.message == ("vCenter refused EnableRuleset: u lacks the privilege "
                             f"Host.Config.NetService on host host-21; {REMEDY}")
    bare = faults.translate(vim.fault.NoPermission(), method="X")
    assert bare.message == f"vCenter refused X: the session's user lacks a privilege; {REMEDY}"


def test_no_permission_reads_the_missing_privileges_of_newer_vcenters() -> None:
    vm = vim.VirtualMachine("vm-7")
    fault = vim.fault.NoPermission(missingPrivileges=[vim.fault.NoPermission.EntityPrivileges(
        entity=vm, privilegeIds=["VirtualMachine.Interact.PowerOn",
                                 "VirtualMachine.Config.Memory"])])
    error = faults.translate(fault, what="powering on vmwctl-x", user="u",
                             name_of=lambda ref: "vmwctl-x")
    assert error.message == (
        'vCenter refused powering on vmwctl-x: u lacks the privileges "Virtual Machine > '
        'Interaction > Power On" (VirtualMachine.Interact.PowerOn), "Virtual Machine > '
        'Configuration > Memory" (VirtualMachine.Config.Memory) on VM vmwctl-x; '
        f"{REMEDY}")


def test_one_line_tells_each_kind_of_error() -> None:
    bare = faults.translate(vmodl.fault.SystemError(msg="boom"))
    assert faults.one_line(bare) == "SystemError: boom"
    assert faults.one_line(bare.during("x")) == "x failed: SystemError: boom"
    assert faults.one_line(VmwctlError("plain")) == "plain"
    assert faults.one_line(KeyError("k")) == "KeyError: 'k'"


def test_the_faults_module_imports_no_pyvmomi() -> None:
    code = "import sys, vmwctl.vsphere.faults; print('pyVmomi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------------ privilege labels

def test_the_guide_is_built_from_the_vsphere_table() -> None:
    assert list(PRIVILEGES) == GUIDE_PRIVILEGES and len(set(GUIDE_IDS)) == 44
    assert all(privilege(p.id) is p for p in GUIDE_PRIVILEGES)
    assert privilege_text("Datastore.FileManagement") == \
        '"Datastore > Low level file operation" (Datastore.FileManagement)'
    assert privilege("System.View") is None and privilege_text("System.View") == "System.View"


# ------------------------------------------------------------------ nothing outside vsphere/

FAULT_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in VmomiSupport._dataDefMap
                        if name.startswith(("vim.fault.", "vmodl.fault.")))
RAW_FAULTS = re.compile(r"\bMethodFault\b|\b(?:vim|vmodl)\.fault\b")
MESSAGE_MATCH = re.compile(
    r"\bin\s+(?:str\(\s*)?\w+(?:\.\w+)*\.(?:message|msg|reason)\b"  # "X" in exc.message
    r"|\bin\s+(?:str|repr)\(\s*\w+\s*\)"  # "X" in str(exc)
    r"|\.(?:message|msg|reason)\.(?:startswith|endswith|find|index|count)\(")


def violations(source: str) -> list[str]:
    """What handles pyVmomi's faults directly: MethodFault, vim.fault / vmodl.fault, a fault's
    name as a string, or a search of an error's message. Comments do not count."""
    found = []
    lines = [list(line) for line in source.splitlines(keepends=True)]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.STRING):
            continue
        if token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):  # an f-string
                value = None
            if isinstance(value, str) and value in FAULT_NAMES:
                found.append(f"line {token.start[0]}: the fault name {value!r}")
        # blank the token out, keeping the lines where they are; a string becomes ""
        (row, col), (end_row, end_col) = token.start, token.end
        for r in range(row, end_row + 1):
            first = col if r == row else 0
            last = end_col if r == end_row else len(lines[r - 1])
            for c in range(first, last):
                if lines[r - 1][c] != "\n":
                    lines[r - 1][c] = " "
        if token.type == tokenize.STRING:
            lines[row - 1][col:col + 2] = ['"', '"']
    for number, chars in enumerate(lines, 1):
        line = "".join(chars)
        if RAW_FAULTS.search(line) or MESSAGE_MATCH.search(line):
            found.append(f"line {number}: {line.strip()}")
    return found


@pytest.mark.parametrize("line", [
    'if "FileNotFound" in exc.message:',
    'if "FileAlreadyExists" not in exc.message:',
    "if 'InvalidPowerState' not in str(exc):",
    "if exc.message.startswith(prefix):",
    "if name in error.reason:",
    "except vmodl.MethodFault as fault:",
    "except vim.fault.DuplicateName as fault:",
    "except (vmodl.fault.MethodNotFound, vmodl.fault.NotSupported):",
    "known = {'ManagedObjectNotFound': 1}",
])
def test_the_scan_finds_raw_fault_handling(line: str) -> None:
    assert violations(f"try:\n    pass\nexcept Exception as exc:\n    {line}\n        pass\n")


def test_the_scan_passes_typed_handling() -> None:
    assert not violations("try:\n    pass\nexcept FileNotFound:\n    pass\n"
                          "# a comment may say vmodl.MethodFault\n"
                          'x = f"{exc.summary}: FileNotFound is a class"\n')


def test_no_code_outside_vsphere_handles_pyvmomi_faults() -> None:
    modules = [p for p in PACKAGE.rglob("*.py") if "vsphere" not in p.relative_to(PACKAGE).parts]
    assert len(modules) > 100
    found = {str(p.relative_to(PACKAGE.parent)): v for p in modules
             if (v := violations(p.read_text()))}
    assert found == {}
