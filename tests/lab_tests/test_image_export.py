"""``image export`` against the simulator and the lab's Glance: a VM's disk becomes an image.

A VM is made through the vSphere API and its disk written with known data in
the simulator's datastore directory; the export is then seeded into Nova's
cache by ``cache seed`` and the cached disk compared with the data by
``qemu-img compare``. Refusals and interruptions leave no image in Glance and
no export lease open in the simulator (GET /lab/exports).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import images_named, write_clouds, write_profile
from labexports import open_exports, vm_with_disks
from labimages import raw_disk, same_disk
from pyVmomi import vim

from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
CACHE = "192.0.2.10_base"


def export(sim, *args: str, config: Path | None = None, env: dict | None = None):
    return sim.run("--config", str(config or sim.config), "image", "export", *args, "-o",
                   "json", env=env)


def image_name() -> str:
    return f"exported-{uuid.uuid4().hex[:8]}"


def test_export_then_seed_gives_back_the_vm_s_data(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path, 4 << 20)
    vm, vm_name = vm_with_disks(vc, ds_dir, [raw], controller="paraVirtual",
                                nic=vim.vm.device.VirtualE1000e, guest="rhel8_64Guest")
    name = image_name()

    dry = export(sim, vm_name, "--name", name, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    plan = dry.json()
    assert (plan["vm"], plan["disk"], plan["file"], plan["dry_run"]) == (
        vm_name, 0, f"[{DS}] {vm_name}/{vm_name}.vmdk", True)
    assert images_named(sim.config, name) == []

    result = export(sim, vm_name, "--name", name)
    assert result.exit_code == 0, result.stderr
    document = result.json()
    image = document["image"]
    assert (image["name"], image["status"], image["disk_format"],
            image["container_format"]) == (name, "active", "vmdk", "bare")
    assert {key: image[key] for key in ("vmware_disktype", "vmware_adaptertype",
                                        "vmware_ostype", "hw_vif_model",
                                        "hypervisor_type")} == {
        "vmware_disktype": "streamOptimized", "vmware_adaptertype": "paraVirtual",
        "vmware_ostype": "rhel8_64Guest", "hw_vif_model": "e1000e",
        "hypervisor_type": "vmware"}
    assert document["verified"] == "size and sha512"
    assert document["bytes_sent"] == image["size"]
    assert document["hardware_version"] == vm.config.version
    assert open_exports(sim) == []

    seeded = sim.run("--config", str(sim.config), "cache", "seed", image["id"], "-o", "json")
    assert seeded.exit_code == 0, seeded.stderr
    cached = ds_dir / CACHE / image["id"] / f"{image['id']}.vmdk"
    assert same_disk(raw, cached)


def test_refusals_create_nothing(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    name = image_name()
    _, two_name = vm_with_disks(vc, ds_dir, [raw_disk(tmp_path, 1 << 20)] * 2)

    several = export(sim, two_name, "--name", name)
    assert several.exit_code == 2
    message = several.json()["error"]["message"]
    assert "has 2 disks" in message and "--disk N" in message
    out_of_range = export(sim, two_name, "--name", name, "--disk", "2")
    assert out_of_range.exit_code == 2

    running, running_name = vm_with_disks(vc, ds_dir, [raw_disk(tmp_path, 1 << 20)])
    wait_for_task(vc, running.PowerOnVM_Task(), what="powering on")
    refused = export(sim, running_name, "--name", name)
    assert refused.exit_code == 2
    assert "--allow-running" in refused.json()["error"]["message"]
    # vCenter itself refuses a powered-on VM: told as its fault, nothing left
    allowed = export(sim, running_name, "--name", name, "--allow-running")
    assert allowed.exit_code == 1
    assert "InvalidPowerState" in allowed.json()["error"]["message"]

    snapped, snapped_name = vm_with_disks(vc, ds_dir, [raw_disk(tmp_path, 1 << 20)])
    wait_for_task(vc, snapped.CreateSnapshot_Task(name="s1", memory=False, quiesce=False),
                  what="snapshot")
    with_snapshot = export(sim, snapped_name, "--name", name)
    assert with_snapshot.exit_code == 2
    assert "reads its base disk" in with_snapshot.json()["error"]["message"]

    unknown = export(sim, two_name + "x", "--name", name)
    assert unknown.exit_code == 2
    assert f"did you mean '{two_name}'" in unknown.json()["error"]["message"]
    assert images_named(sim.config, name) == []
    assert open_exports(sim) == []


def test_export_of_a_suspended_vm_warns(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path, 1 << 20)
    vm, vm_name = vm_with_disks(vc, ds_dir, [raw])
    wait_for_task(vc, vm.PowerOnVM_Task(), what="powering on")
    wait_for_task(vc, vm.SuspendVM_Task(), what="suspending")
    name = image_name()
    result = sim.run("--config", str(sim.config), "image", "export", vm_name, "--name", name,
                     "--allow-running")
    assert result.exit_code == 0, result.stderr
    assert "may be inconsistent" in result.stderr
    [image] = images_named(sim.config, name)
    assert image["status"] == "active"


def test_a_lease_the_simulator_fails_leaves_nothing(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator("-export-fail-after", str(256 << 10))
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    _, vm_name = vm_with_disks(vc, ds_dir, [raw_disk(tmp_path, 4 << 20)])
    name = image_name()
    result = export(sim, vm_name, "--name", name)
    assert result.exit_code == 1, result.stdout
    message = result.json()["error"]["message"]
    assert "vCenter ended the export lease" in message
    assert "-export-fail-after" in message
    assert "was deleted" in message
    assert images_named(sim.config, name) == []
    assert open_exports(sim) == []


def test_ctrl_c_mid_export_leaves_nothing(simulator, lab, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(8 << 20))  # does not compress: 8 MiB go to Glance
    _, vm_name = vm_with_disks(vc, ds_dir, [raw])
    name = image_name()
    port = int(lab.glance_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:  # the lab's Glance, slowed
        clouds = write_clouds(tmp_path, "slow", f"http://127.0.0.1:{proxy.port}")
        config = write_profile(sim, tmp_path / "slow.yaml", cloud="slow")
        proxy.slow_down(0.02)
        process = subprocess.Popen(
            [sys.executable, "-m", "vmwctl", "--config", str(config), "image", "export",
             vm_name, "--name", name, "-o", "json"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proxy.carried < 1 << 20:
            time.sleep(0.05)
        assert proxy.carried >= 1 << 20, process.communicate(timeout=5)
        assert [o["state"] for o in open_exports(sim)] == ["ready"]
        process.send_signal(signal.SIGINT)
        proxy.slow_down(0)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert json.loads(stdout)["error"]["exit_code"] == 130
    assert images_named(sim.config, name) == []
    assert open_exports(sim) == []
