"""``vm spawn | list | delete`` against the simulator: the VM's configuration read back.

Images are made with qemu-img and uploaded to the lab's Glance (preallocated
ones to the Glance with format-match off); each spawned VM is checked
through the vSphere API: controller class, disk backing chain, guestId, NIC
class and network, VNC keys, power state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import vm_names
from labimages import iso_image, profile_for, raw_disk, upload, vmdk
from pyVmomi import vim

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"


def vm_named(vc, name: str) -> vim.VirtualMachine:
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        return next(vm for vm in view.view if vm.name == name)
    finally:
        view.Destroy()


def extra(vm) -> dict[str, str]:
    return {o.key: o.value for o in vm.config.extraConfig or []}


def spawn(sim, image: str, *args: str, config: Path | None = None):
    return sim.run("--config", str(config or sim.config), "vm", "spawn", image,
                   "--network", "br-int", "-o", "json", *args)


@pytest.fixture
def images(sim, lab, lab_env, tmp_path: Path) -> dict[str, str]:
    """One image per disk type and adapter, in the lab's Glances."""
    raw = raw_disk(tmp_path, 2 << 20)
    flat_config = profile_for(sim, tmp_path, "flat", cloud=lab.cloud_flat)
    return {
        "stream-ide": upload(sim.config, vmdk(raw, "streamOptimized"), "stream-ide",
                             vmware_disktype="streamOptimized", vmware_adaptertype="ide",
                             vmware_ostype="ubuntu64Guest"),
        "sparse-lsi": upload(sim.config, vmdk(raw, "monolithicSparse"), "sparse-lsi",
                             vmware_disktype="sparse", hw_disk_bus="scsi",
                             hw_scsi_model="lsilogic", os_distro="rhel7_64Guest",
                             hw_vif_model="vmxnet3"),
        "stream-pvscsi": upload(sim.config, vmdk(raw, "streamOptimized"), "stream-pvscsi",
                                vmware_disktype="streamOptimized",
                                vmware_adaptertype="paraVirtual"),
        "flat-sas": upload(flat_config, raw, "flat-sas", vmware_disktype="preallocated",
                           vmware_adaptertype="lsiLogicsas", hw_vif_model="e1000e"),
        "iso": upload(sim.config, iso_image(tmp_path / "rescue.iso"), "rescue",
                      disk_format="iso"),
        "flat-config": str(flat_config),
    }


CASES = [
    # image, controller class, guestId, NIC class
    ("stream-ide", vim.vm.device.VirtualIDEController, "ubuntu64Guest", vim.vm.device.VirtualE1000),
    ("sparse-lsi", vim.vm.device.VirtualLsiLogicController, "rhel7_64Guest",
     vim.vm.device.VirtualVmxnet3),
    ("stream-pvscsi", vim.vm.device.ParaVirtualSCSIController, "otherGuest",
     vim.vm.device.VirtualE1000),
    ("flat-sas", vim.vm.device.VirtualLsiLogicSASController, "otherGuest",
     vim.vm.device.VirtualE1000e),
]


@pytest.mark.parametrize("image, controller, guest, nic", CASES)
def test_spawn_a_linked_clone(sim, vc, ds_dir, images, image, controller, guest, nic) -> None:
    config = Path(images["flat-config"]) if image.startswith("flat") else None
    result = spawn(sim, images[image], "--name", image, config=config)
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["name"] == f"vmwctl-{image}" and report["linked_clone"]
    assert [s["name"] for s in report["steps"]] == [
        "datastore", "inventory folder", "create VM", "VNC port", "image cache", "sized copy",
        "attach linked clone", "power on"]
    vm = vm_named(vc, f"vmwctl-{image}")
    assert vm.config.guestId == guest and vm.runtime.powerState == "poweredOn"
    assert vm.parent.name == "vmwctl"
    disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert len(disks) == 1
    owner = next(d for d in vm.config.hardware.device if d.key == disks[0].controllerKey)
    assert isinstance(owner, controller)
    image_id = images[image]
    parent = f"[LocalDS_0] {CACHE}/{image_id}/{image_id}.vmdk"
    assert disks[0].backing.parent.fileName == parent
    assert disks[0].backing.fileName.startswith(f"[LocalDS_0] vmwctl-{image}/")
    assert (ds_dir / CACHE / image_id / f"{image_id}-flat.vmdk").exists()
    nics = [d for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert [type(n) for n in nics] == [nic]
    assert isinstance(nics[0].backing,
                      vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo)
    assert [n.name for n in vm.network] == ["br-int"]
    keys = extra(vm)
    assert keys["RemoteDisplay.vnc.enabled"] == "true" and keys["RemoteDisplay.vnc.keyMap"]
    assert keys["RemoteDisplay.vnc.port"] == report["vnc"].rsplit(":", 1)[1]
    marker = json.loads(keys["vmwctl.spawned"])
    assert marker["image"] == image_id and "nvp.vm-uuid" not in keys


def test_full_clone_with_a_bigger_root_disk(sim, vc, ds_dir, images) -> None:
    result = spawn(sim, images["sparse-lsi"], "--full-clone", "--root-gb", "1", "--name", "full")
    assert result.exit_code == 0, result.stderr
    vm = vm_named(vc, "vmwctl-full")
    [disk] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert disk.backing.fileName == "[LocalDS_0] vmwctl-full/vmwctl-full.vmdk"
    assert disk.backing.parent is None
    assert disk.capacityInKB == 1024 * 1024
    assert (ds_dir / "vmwctl-full" / "vmwctl-full-flat.vmdk").stat().st_size == 1 << 30


def test_sized_copy_for_root_gb(sim, vc, ds_dir, images) -> None:
    image_id = images["stream-ide"]
    first = spawn(sim, image_id, "--root-gb", "1", "--name", "one")
    assert first.exit_code == 0, first.stderr
    sized = ds_dir / CACHE / image_id / f"{image_id}.1-flat.vmdk"
    assert sized.stat().st_size == 1 << 30  # copied and extended once
    vm = vm_named(vc, "vmwctl-one")
    [disk] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert disk.backing.parent.fileName.endswith(f"/{image_id}.1.vmdk")
    second = spawn(sim, image_id, "--root-gb", "1", "--name", "two")
    steps = {s["name"]: s for s in second.json()["steps"]}
    assert steps["sized copy"]["detail"].endswith("(exists)")


def test_iso_boots_from_a_cd_rom_with_a_blank_disk(sim, vc, ds_dir, images) -> None:
    result = spawn(sim, images["iso"], "--root-gb", "1", "--name", "rescue")
    assert result.exit_code == 0, result.stderr
    vm = vm_named(vc, "vmwctl-rescue")
    [cdrom] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom)]
    iso_id = images["iso"]
    assert cdrom.backing.fileName == f"[LocalDS_0] {CACHE}/{iso_id}/{iso_id}.iso"
    owner = next(d for d in vm.config.hardware.device if d.key == cdrom.controllerKey)
    assert isinstance(owner, vim.vm.device.VirtualIDEController)
    [disk] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert disk.backing.fileName == "[LocalDS_0] vmwctl-rescue/vmwctl-rescue.vmdk"


def test_vnc_port_does_not_collide(sim, vc, images) -> None:
    taken = vm_named(vc, "DC0_C0_RP0_VM0")
    task = taken.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=[
        vim.option.OptionValue(key="RemoteDisplay.vnc.port", value="5900")]))
    from vmwctl.vsphere.tasks import wait_for_task

    wait_for_task(vc, task, what="reconfigure")
    first = spawn(sim, images["stream-ide"], "--name", "a").json()
    second = spawn(sim, images["stream-ide"], "--name", "b").json()
    assert first["vnc"].endswith(":5901") and second["vnc"].endswith(":5902")
    no_vnc = spawn(sim, images["stream-ide"], "--name", "c", "--no-vnc", "--no-power-on").json()
    assert no_vnc["vnc"] is None and no_vnc["power_state"] == "poweredOff"
    assert "RemoteDisplay.vnc.port" not in extra(vm_named(vc, "vmwctl-c"))


def test_bad_input_changes_nothing(sim, vc, ds_dir, images) -> None:
    before = vm_names(vc)
    odd = spawn(sim, images["stream-ide"], "--memory-mb", "510")
    assert odd.exit_code == 2 and "multiple of 4" in odd.json()["error"]["message"]
    net = spawn(sim, images["stream-ide"], "--network", "nope")
    assert net.exit_code == 2 and "no network 'nope'" in net.json()["error"]["message"]
    store = spawn(sim, images["stream-ide"], "--datastore", "nope")
    assert store.exit_code == 2 and "no datastore 'nope'" in store.json()["error"]["message"]
    assert vm_names(vc) == before and not (ds_dir / CACHE).exists()
    assert spawn(sim, images["stream-ide"], "--name", "dup").exit_code == 0
    dup = spawn(sim, images["stream-ide"], "--name", "dup")
    assert dup.exit_code == 2 and "a VM named 'vmwctl-dup' exists" in dup.json()["error"]["message"]
    assert vm_names(vc) == before | {"vmwctl-dup"}


def test_delete_leaves_the_cache_intact(sim, vc, ds_dir, images) -> None:
    image_id = images["stream-ide"]
    assert spawn(sim, image_id, "--name", "gone").exit_code == 0
    cached = sorted(p.name for p in (ds_dir / CACHE / image_id).iterdir())
    listing = sim.run("vm", "list", "-o", "json").json()
    assert [(v["name"], v["image_id"], v["owner"]) for v in listing["vms"]] == [
        ("vmwctl-gone", image_id, "vmwctl")]
    everything = sim.run("vm", "list", "--all", "-o", "json").json()
    assert {v["owner"] for v in everything["vms"]} == {"vmwctl", "nova"}

    refused = sim.run("vm", "delete", "DC0_C0_RP0_VM0", "--yes")
    assert refused.exit_code == 2 and "Nova's" in refused.stderr
    dry = sim.run("vm", "delete", "vmwctl-gone", "--dry-run", "-o", "json")
    assert dry.json()["vms"][0]["outcome"] == "planned" and "vmwctl-gone" in vm_names(vc)
    assert sim.run("vm", "delete", "--older-than", "1h", "--yes", "-o", "json").json()[
        "vms"] == []
    done = sim.run("vm", "delete", "vmwctl-gone", "--yes", "-o", "json")
    assert done.exit_code == 0, done.stderr
    assert "vmwctl-gone" not in vm_names(vc)
    assert not (ds_dir / "vmwctl-gone").exists()
    assert sorted(p.name for p in (ds_dir / CACHE / image_id).iterdir()) == cached
    bad = sim.run("vm", "delete", "--older-than", "soon")
    assert bad.exit_code == 2


@pytest.mark.parametrize("fault, step", [
    ("CreateVM_Task", "create VM"),
    ("ReconfigVM_Task:1", "VNC port"),
    ("CopyVirtualDisk_Task", "sized copy"),
    ("ReconfigVM_Task:2", "attach linked clone"),
    ("PowerOnVM_Task", "power on"),
])
def test_a_failed_step_cleans_up(simulator, lab_env, tmp_path: Path, fault: str,
                                 step: str) -> None:
    sim = simulator("-fail-method", fault)
    vc = sim.connect()
    ds_dir = Path(sim.datastores["LocalDS_0"])
    raw = raw_disk(tmp_path, 1 << 20)
    image_id = upload(sim.config, vmdk(raw, "streamOptimized"), "fails",
                      vmware_disktype="streamOptimized")
    args = ["--root-gb", "1"] if fault.startswith("CopyVirtualDisk") else []
    before = vm_names(vc)
    result = spawn(sim, image_id, "--name", "broken", *args)
    assert result.exit_code == 1
    message = result.json()["error"]["message"]
    assert message.startswith(f"step '{step}' failed: ")
    assert "SystemError: injected by the lab" in message
    assert vm_names(vc) == before
    assert not (ds_dir / "vmwctl-broken").exists()
    if fault.startswith("CreateVM"):
        assert "nothing was created" in message
    else:
        assert "VM vmwctl-broken and its folder were removed" in message
    if fault.startswith("CopyVirtualDisk"):  # no partial sized copy either
        assert not list((ds_dir / CACHE / image_id).glob(f"{image_id}.1*"))


def test_keep_on_failure_and_wait(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator("-fail-method", "PowerOnVM_Task:1", "-guest-tools", "0.5")
    vc = sim.connect()
    raw = raw_disk(tmp_path, 1 << 20)
    image_id = upload(sim.config, vmdk(raw, "streamOptimized"), "kept",
                      vmware_disktype="streamOptimized")
    kept = spawn(sim, image_id, "--name", "kept", "--keep-on-failure")
    assert kept.exit_code == 1
    assert "kept (--keep-on-failure)" in kept.json()["error"]["message"]
    assert vm_named(vc, "vmwctl-kept").runtime.powerState == "poweredOff"

    waited = spawn(sim, image_id, "--name", "waited", "--wait", "30")
    assert waited.exit_code == 0, waited.stderr
    report = waited.json()
    assert report["guest"].startswith("ip 198.51.100.")
    assert report["steps"][-1]["name"] == "wait for the guest"

    silent = simulator()  # no Tools: neither comes
    silent_image = upload(silent.config, vmdk(raw, "streamOptimized"), "silent",
                          vmware_disktype="streamOptimized")
    nothing = spawn(silent, silent_image, "--name", "silent", "--wait", "1")
    assert nothing.exit_code == 1
    assert "no heartbeat and no IP address" in nothing.json()["error"]["message"]


def test_ctrl_c_during_a_step_cleans_up(simulator, lab_env, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    sim = simulator("-method-delay", "PowerOnVM_Task:3000")
    vc = sim.connect()
    raw = raw_disk(tmp_path, 1 << 20)
    image_id = upload(sim.config, vmdk(raw, "streamOptimized"), "interrupted",
                      vmware_disktype="streamOptimized")
    before = vm_names(vc)
    process = subprocess.Popen(
        [sys.executable, "-m", "vmwctl", "--config", str(sim.config), "vm", "spawn", image_id,
         "--name", "ctrl-c", "--network", "br-int"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not sim.under_way("PowerOnVM_Task"):  # the simulator holds the power-on 3 s
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert vm_names(vc) == before
    assert not (Path(sim.datastores["LocalDS_0"]) / "vmwctl-ctrl-c").exists()


def test_spawn_enlists_the_image_as_nova_does(sim, ds_dir, images) -> None:
    """A marked (aging) image loses its marker before it is used: no purge deletes it."""
    image_id = images["stream-ide"]
    assert spawn(sim, image_id, "--name", "first", "--no-power-on").exit_code == 0
    marker = ds_dir / CACHE / image_id / "ts-2026-01-01-00-00-00"
    marker.mkdir()
    second = spawn(sim, image_id, "--name", "second", "--no-power-on").json()
    steps = {s["name"]: s for s in second["steps"]}
    assert "marker ts-2026-01-01-00-00-00 removed" in steps["image cache"]["detail"]
    assert not marker.exists()
