"""``vm spawn | list | delete`` at their edges: each thing said once, the names a user gave,
a VM without a NIC, identifiers whole at 100 columns, and numbers as numbers in JSON."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import vm_names
from labimages import raw_disk, upload, vmdk
from pyVmomi import vim

pytestmark = pytest.mark.lab

STEPS = ("datastore", "inventory folder", "create VM", "VNC port", "image cache", "sized copy",
         "attach linked clone", "power on")


@pytest.fixture
def image(sim, lab_env, tmp_path: Path) -> str:
    return upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                  "edge-image", vmware_disktype="streamOptimized", vmware_adaptertype="ide")


def vm_named(vc, name: str):
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        return next((vm for vm in view.view if vm.name == name), None)
    finally:
        view.Destroy()


def nics(vm) -> list:
    return [d for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualEthernetCard)]


# ------------------------------------------------------------------ item 8: said once

def test_spawn_prints_each_step_once(sim, image) -> None:
    result = sim.run("vm", "spawn", image, "--name", "steps", "--network", "br-int")
    assert result.exit_code == 0, result.stderr
    for step in STEPS:  # as it ends, on stderr
        assert any(line.startswith(f"{step} ") for line in result.stderr.splitlines()), \
            result.stderr
    # and not again on stdout: the result is the VM, not a second list of the steps
    for step in ("inventory folder", "attach linked clone", "image cache"):
        assert step not in result.stdout, result.stdout
    assert "vmwctl-steps" in result.stdout and "br-int" in result.stdout
    document = sim.run("vm", "list", "-o", "json").json()
    assert [v["name"] for v in document["vms"]] == ["vmwctl-steps"]


def test_unknown_network_lists_each_network_once(sim, vc, image) -> None:
    before = vm_names(vc)
    result = sim.run("vm", "spawn", image, "--network", "br-itn")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: cluster 'DC0_C0' has no network 'br-itn' (did you mean 'br-int'?); its "
        "networks: DC0_DVPG0, DVS0-DVUplinks-9, VM Network, br-int\n")
    assert vm_names(vc) == before


# ------------------------------------------------------------------ item 9: names, NICs

def test_delete_takes_the_name_given_at_spawn(sim, vc, image) -> None:
    assert sim.run("vm", "spawn", image, "--name", "first-boot", "--no-network",
                   "--no-power-on").exit_code == 0
    assert vm_named(vc, "vmwctl-first-boot") is not None
    dry = sim.run("vm", "delete", "first-boot", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout == ("first-boot: VM vmwctl-first-boot would be deleted "
                          "([LocalDS_0] vmwctl-first-boot)\n")
    done = sim.run("vm", "delete", "first-boot", "--yes", "-o", "json")
    assert done.exit_code == 0, done.stderr
    [item] = done.json()["vms"]
    assert (item["name"], item["given"], item["outcome"]) == (
        "vmwctl-first-boot", "first-boot", "deleted")
    assert vm_named(vc, "vmwctl-first-boot") is None


def test_deleting_a_vm_that_is_gone_is_nothing_to_do(sim, vc, image) -> None:
    before = vm_names(vc)
    gone = sim.run("vm", "delete", "first-boot", "--yes")
    assert gone.exit_code == 0, gone.stderr
    assert gone.stdout == ("first-boot: no VM named 'first-boot' or 'vmwctl-first-boot'; "
                           "nothing to do\n")
    document = sim.run("vm", "delete", "vmwctl-gone", "--yes", "-o", "json")
    assert document.exit_code == 0
    assert document.json()["vms"] == [{"name": "vmwctl-gone", "given": "vmwctl-gone",
                                       "outcome": "absent", "reason": "no such VM",
                                       "folder": None}]
    assert vm_names(vc) == before
    # a VM that is not vmwctl's is still refused, whatever else is named
    refused = sim.run("vm", "delete", "first-boot", "DC0_C0_RP0_VM0", "--yes")
    assert refused.exit_code == 2 and "Nova's" in refused.stderr
    assert vm_names(vc) == before


def test_spawn_without_a_network_says_so(sim, vc, image) -> None:
    warned = sim.run("vm", "spawn", image, "--name", "bare", "--no-power-on")
    assert warned.exit_code == 0, warned.stderr
    assert ("Warning: no --network and profile 'sim' sets no vmware.integration_bridge: "
            "the VM gets no NIC; pass --network PORTGROUP, or --no-network to build it "
            "without one\n") in warned.stderr
    assert nics(vm_named(vc, "vmwctl-bare")) == []

    quiet = sim.run("vm", "spawn", image, "--name", "meant", "--no-network", "--no-power-on")
    assert quiet.exit_code == 0, quiet.stderr
    assert "Warning" not in quiet.stderr
    assert nics(vm_named(vc, "vmwctl-meant")) == []

    before = vm_names(vc)
    both = sim.run("vm", "spawn", image, "--network", "br-int", "--no-network")
    assert both.exit_code == 2
    assert both.stderr == ("Error: --network and --no-network exclude each other; give "
                           "one\n")
    assert vm_names(vc) == before


# ------------------------------------------------------------------ item 10: list

def test_vm_list_gives_numbers_and_whole_ids(sim, image) -> None:
    result = sim.run("vm", "spawn", image, "--name", "listed", "--network", "br-int",
                     "-o", "json")
    assert result.exit_code == 0, result.stderr
    port = int(result.json()["vnc"].rsplit(":", 1)[1])
    [row] = sim.run("vm", "list", "-o", "json").json()["vms"]
    assert row["vnc_port"] == port and isinstance(row["vnc_port"], int)
    assert row["image_id"] == image and row["image_name"] == "edge-image"

    for columns in (100, 130):
        piped = subprocess.run([sys.executable, "-m", "vmwctl", "--config", str(sim.config),
                                "vm", "list", "--all"], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": str(columns)},
                               stdin=subprocess.DEVNULL, timeout=120)
        assert piped.returncode == 0, piped.stderr
        lines = piped.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns, piped.stdout
        assert [line for line in lines if line != line.rstrip()] == []
        # the identifiers whole, each on one line; the other columns wrap to make room
        assert any(image in line and "vmwctl-listed" in line for line in lines), piped.stdout
    assert "IMAGE NAME" in piped.stdout and "edge-image" in piped.stdout
