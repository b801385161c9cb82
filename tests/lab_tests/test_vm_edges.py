"""``vm spawn`` at its edges: each thing said once, and a VM without a NIC."""

from __future__ import annotations

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


# ------------------------------------------------------------------ item 9: no NIC

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
