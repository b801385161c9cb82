"""The lab simulator's fault injection (-fail-method) and its ExtendVirtualDisk_Task.

``-fail-method METHOD[:N]`` makes every call of METHOD (or only its N-th) fail
with a SystemError reading "injected by the lab (-fail-method SPEC)": a _Task
method returns a task that ends in that error, any other method raises it on
the call. Nothing of the request is executed.

ExtendVirtualDisk_Task grows a descriptor and its -flat extent, as a host
does; the disks are read back from the datastore directory with qemu-img.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import vm_names
from pyVmomi import vim, vmodl

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.nfc import shadow_vm_spec
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
MIB = 1 << 20


# ------------------------------------------------------------------ helpers

def qemu_img(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)


def datacenter(vc):
    return vc.content.rootFolder.childEntity[0]


def first_vm(vc):
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        return sorted(view.view, key=lambda vm: vm.name)[0]
    finally:
        view.DestroyView()


def injected(spec: str) -> str:
    """The message of the fault -fail-method SPEC injects, as a pattern."""
    return rf"SystemError: injected by the lab \(-fail-method {spec}\)"


def set_annotation(vc, vm, text: str) -> None:
    task = vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation=text))
    wait_for_task(vc, task, what="reconfiguring", poll_interval=0.05)


def create_disk(vc, name: str, capacity_kb: int, adapter: str = "lsiLogic") -> None:
    spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
        adapterType=adapter, diskType="preallocated", capacityKb=capacity_kb)
    task = vc.content.virtualDiskManager.CreateVirtualDisk_Task(
        name=name, datacenter=datacenter(vc), spec=spec)
    wait_for_task(vc, task, what=f"creating {name}", poll_interval=0.05)


def extend_disk(vc, name: str, capacity_kb: int, eager_zero: bool = False) -> None:
    task = vc.content.virtualDiskManager.ExtendVirtualDisk_Task(
        name=name, datacenter=datacenter(vc), newCapacityKb=capacity_kb, eagerZero=eager_zero)
    assert isinstance(task, vim.Task)
    wait_for_task(vc, task, what=f"extending {name}", poll_interval=0.05)


def virtual_size(disk: Path) -> int:
    done = qemu_img("info", "--output=json", str(disk))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["virtual-size"]


def geometry(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == f"ddb.geometry.{key}":
            return value.strip().strip('"')
    return None


# ------------------------------------------------------------------ -fail-method

def test_a_task_method_returns_a_task_that_fails_and_changes_nothing(simulator) -> None:
    sim = simulator("-fail-method", "PowerOffVM_Task")
    vc = sim.connect()
    vm = first_vm(vc)
    assert vm.runtime.powerState == "poweredOn"

    task = vm.PowerOffVM_Task()

    assert isinstance(task, vim.Task)
    with pytest.raises(OperationFailed, match=injected("PowerOffVM_Task")):
        wait_for_task(vc, task, what="powering off", poll_interval=0.05)
    info = read_paths(vc, task, ["info.state", "info.error", "info.name", "info.entity",
                                 "info.entityName"])
    assert info["info.state"] == "error"
    fault = info["info.error"]
    assert isinstance(fault, vmodl.fault.SystemError)
    assert fault.msg == fault.reason == "injected by the lab (-fail-method PowerOffVM_Task)"
    assert [m.message for m in fault.faultMessage] == [fault.reason]
    assert info["info.name"] == "PowerOffVM_Task"
    assert info["info.entity"]._moId == vm._moId
    assert info["info.entityName"] == vm.name
    assert vm.runtime.powerState == "poweredOn"
    # Every call fails, not the first only.
    with pytest.raises(OperationFailed, match=injected("PowerOffVM_Task")):
        wait_for_task(vc, vm.PowerOffVM_Task(), what="powering off", poll_interval=0.05)
    assert vm.runtime.powerState == "poweredOn"


def test_only_the_nth_call_fails(simulator) -> None:
    sim = simulator("-fail-method", "ReconfigVM_Task:2")
    vc = sim.connect()
    vm = first_vm(vc)

    set_annotation(vc, vm, "first")
    assert vm.config.annotation == "first"
    with pytest.raises(OperationFailed, match=injected("ReconfigVM_Task:2")):
        set_annotation(vc, vm, "second")
    assert vm.config.annotation == "first"
    set_annotation(vc, vm, "third")
    assert vm.config.annotation == "third"


def test_several_specs_of_one_method_add_up(simulator) -> None:
    sim = simulator("-fail-method", "ReconfigVM_Task:1", "-fail-method", "ReconfigVM_Task:3")
    vc = sim.connect()
    vm = first_vm(vc)
    outcomes = []
    for n in range(1, 5):
        try:
            set_annotation(vc, vm, f"call {n}")
            outcomes.append("ok")
        except OperationFailed as error:
            assert f"ReconfigVM_Task:{n})" in str(error)
            outcomes.append("failed")
    assert outcomes == ["failed", "ok", "failed", "ok"]
    assert vm.config.annotation == "call 4"


def test_a_failed_create_vm_leaves_no_vm_and_no_files(simulator) -> None:
    sim = simulator("-fail-method", "CreateVM_Task")
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    dc = datacenter(vc)
    before = vm_names(vc)
    name = f"vm-{uuid.uuid4().hex[:8]}"

    task = dc.vmFolder.CreateVM_Task(config=shadow_vm_spec(name, DS),
                                     pool=dc.hostFolder.childEntity[0].resourcePool)

    with pytest.raises(OperationFailed, match=injected("CreateVM_Task")):
        wait_for_task(vc, task, what="creating a VM", poll_interval=0.05)
    assert vm_names(vc) == before
    assert not (ds_dir / name).exists()


def test_a_failed_disk_copy_writes_nothing(simulator) -> None:
    sim = simulator("-fail-method", "CopyVirtualDisk_Task")
    vc = sim.connect()
    disks = Path(sim.datastores[DS]) / "disks"
    disks.mkdir()
    create_disk(vc, f"[{DS}] disks/src.vmdk", 1024)

    task = vc.content.virtualDiskManager.CopyVirtualDisk_Task(
        sourceName=f"[{DS}] disks/src.vmdk", sourceDatacenter=datacenter(vc),
        destName=f"[{DS}] disks/dest.vmdk")

    with pytest.raises(OperationFailed, match=injected("CopyVirtualDisk_Task")):
        wait_for_task(vc, task, what="copying", poll_interval=0.05)
    assert sorted(p.name for p in disks.iterdir()) == ["src-flat.vmdk", "src.vmdk"]


def test_another_method_raises_the_fault_on_the_call(simulator) -> None:
    sim = simulator("-fail-method", "CreateFolder")
    vc = sim.connect()
    folder = datacenter(vc).vmFolder
    before = [child.name for child in folder.childEntity]

    with pytest.raises(VSphereFault) as caught:
        folder.CreateFolder("injected")

    fault = caught.value.fault
    assert isinstance(fault, vmodl.fault.SystemError)
    assert fault.msg == "injected by the lab (-fail-method CreateFolder)"
    assert fault.reason == fault.msg
    assert [m.message for m in fault.faultMessage] == [fault.msg]
    assert [child.name for child in folder.childEntity] == before
    with pytest.raises(VSphereFault, match=r"^the vCenter answered with a fault: SystemError: "):
        folder.CreateFolder("injected")
    # Other methods, on the same object too, are unaffected.
    wait_for_task(vc, folder.Rename_Task(newName="renamed"), what="renaming",
                  poll_interval=0.05)
    assert folder.name == "renamed"


def test_the_nth_call_of_another_method_fails_alone(simulator) -> None:
    sim = simulator("-fail-method", "CreateFolder:2")
    vc = sim.connect()
    folder = datacenter(vc).vmFolder

    folder.CreateFolder("one")
    with pytest.raises(VSphereFault, match=r"SystemError: .*CreateFolder:2\)"):
        folder.CreateFolder("two")
    folder.CreateFolder("three")

    names = {child.name for child in folder.childEntity}
    assert {"one", "three"} <= names
    assert "two" not in names


@pytest.mark.parametrize("spec", ["NoSuchMethod_Task", "VirtualMachineConfigSpec",
                                  "CreateFolder:0", "CreateFolder:x", "CreateFolder:"])
def test_a_bad_spec_stops_the_simulator_at_start(simulator, spec) -> None:
    with pytest.raises(RuntimeError, match="exited with status"):
        simulator("-fail-method", spec)


# ------------------------------------------------------------------ ExtendVirtualDisk_Task

def test_extend_grows_the_disk_and_keeps_its_data(vc, ds_dir, tmp_path) -> None:
    create_disk(vc, f"[{DS}] grow.vmdk", 1024, adapter="ide")
    data = os.urandom(MIB)
    flat = ds_dir / "grow-flat.vmdk"
    flat.write_bytes(data)
    raw = tmp_path / "data.raw"
    raw.write_bytes(data)
    disk = ds_dir / "grow.vmdk"
    assert geometry(disk.read_text(), "cylinders") == "2"

    extend_disk(vc, f"[{DS}] grow.vmdk", 4096, eager_zero=True)

    assert virtual_size(disk) == 4 * MIB
    assert flat.stat().st_size == 4 * MIB
    assert flat.read_bytes()[:MIB] == data
    # compare checks the bytes past the raw image's end are zeros.
    done = qemu_img("compare", "-f", "raw", "-F", "vmdk", str(raw), str(disk))
    assert done.returncode == 0, done.stdout + done.stderr
    text = disk.read_text()
    assert 'RW 8192 FLAT "grow-flat.vmdk" 0' in text
    # The geometry qemu-img writes for a new disk of that size.
    reference = tmp_path / "reference.vmdk"
    made = qemu_img("create", "-q", "-f", "vmdk", "-o",
                    "subformat=monolithicFlat,adapter_type=ide", str(reference), "4M")
    assert made.returncode == 0, made.stderr
    for key in ("cylinders", "heads", "sectors"):
        assert geometry(text, key) == geometry(reference.read_text(), key)
    assert geometry(text, "cylinders") == "8"
    assert sorted(p.name for p in ds_dir.glob("grow*")) == ["grow-flat.vmdk", "grow.vmdk"]
    assert not list(ds_dir.glob(".extend-*"))


def test_extend_a_copied_disk_in_a_folder(vc, ds_dir, tmp_path) -> None:
    (ds_dir / "images").mkdir()
    create_disk(vc, f"[{DS}] images/base.vmdk", 2048)
    data = os.urandom(2 * MIB)
    (ds_dir / "images" / "base-flat.vmdk").write_bytes(data)
    task = vc.content.virtualDiskManager.CopyVirtualDisk_Task(
        sourceName=f"[{DS}] images/base.vmdk", sourceDatacenter=datacenter(vc),
        destName=f"[{DS}] images/copy.vmdk")
    wait_for_task(vc, task, what="copying", poll_interval=0.05)

    extend_disk(vc, f"[{DS}] images/copy.vmdk", 3 * 1024 + 512)

    copy = ds_dir / "images" / "copy.vmdk"
    assert virtual_size(copy) == 3 * MIB + 512 * 1024
    assert (ds_dir / "images" / "copy-flat.vmdk").read_bytes()[:2 * MIB] == data
    # The source is untouched.
    assert virtual_size(ds_dir / "images" / "base.vmdk") == 2 * MIB


ESX_DESCRIPTOR = """\
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW 2048 VMFS "esx-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "1"
ddb.geometry.heads = "64"
ddb.geometry.sectors = "32"
ddb.virtualHWVersion = "13"
"""


def test_extend_an_esxi_descriptor(vc, ds_dir) -> None:
    """ESXi writes VMFS extents without an offset, and its own geometry."""
    (ds_dir / "esx.vmdk").write_text(ESX_DESCRIPTOR)
    data = os.urandom(MIB)
    (ds_dir / "esx-flat.vmdk").write_bytes(data)

    extend_disk(vc, f"[{DS}] esx.vmdk", 8192)

    text = (ds_dir / "esx.vmdk").read_text()
    assert text == ESX_DESCRIPTOR.replace("RW 2048 VMFS", "RW 16384 VMFS").replace(
        'cylinders = "1"', 'cylinders = "8"')
    assert virtual_size(ds_dir / "esx.vmdk") == 8 * MIB
    assert (ds_dir / "esx-flat.vmdk").read_bytes()[:MIB] == data


@pytest.mark.parametrize("capacity_kb", [1024, 512])
def test_extend_refuses_to_shrink_or_keep_the_size(vc, ds_dir, capacity_kb) -> None:
    create_disk(vc, f"[{DS}] fixed.vmdk", 1024)
    text = (ds_dir / "fixed.vmdk").read_text()

    with pytest.raises(OperationFailed,
                       match=r"InvalidArgument: A specified parameter was not correct: "
                             r"newCapacityKb"):
        extend_disk(vc, f"[{DS}] fixed.vmdk", capacity_kb)

    assert (ds_dir / "fixed.vmdk").read_text() == text
    assert (ds_dir / "fixed-flat.vmdk").stat().st_size == MIB


def test_extend_of_a_missing_disk_fails(vc, ds_dir) -> None:
    with pytest.raises(OperationFailed,
                       match=rf"FileNotFound: File \[{DS}\] nowhere/missing\.vmdk was not found"):
        extend_disk(vc, f"[{DS}] nowhere/missing.vmdk", 4096)
    # A descriptor whose -flat is gone names the extent.
    create_disk(vc, f"[{DS}] half.vmdk", 1024)
    (ds_dir / "half-flat.vmdk").unlink()
    with pytest.raises(OperationFailed,
                       match=rf"FileNotFound: File \[{DS}\] half-flat\.vmdk was not found"):
        extend_disk(vc, f"[{DS}] half.vmdk", 4096)


def test_extend_of_a_sparse_disk_is_not_supported(vc, ds_dir, tmp_path) -> None:
    sparse = tmp_path / "sparse.vmdk"
    made = qemu_img("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicSparse",
                    str(sparse), "1M")
    assert made.returncode == 0, made.stderr
    (ds_dir / "sparse.vmdk").write_bytes(sparse.read_bytes())

    with pytest.raises(OperationFailed, match=r"NotSupported: The lab only extends ESX flat "
                                              r"disks .* hosted sparse disk"):
        extend_disk(vc, f"[{DS}] sparse.vmdk", 4096)
    assert (ds_dir / "sparse.vmdk").read_bytes() == sparse.read_bytes()
