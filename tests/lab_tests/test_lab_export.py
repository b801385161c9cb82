"""The lab simulator's VirtualMachine.ExportVm: a lease whose disk URL serves the VM's disk.

Read through pyVmomi and plain HTTPS, as a client of a vCenter would: the
lease's deviceUrl lists the VM's disks as ESXi names them (disk-N.vmdk), a
GET of the URL returns the disk converted to streamOptimized, and the data is
compared with what was written into the VM's disk with ``qemu-img compare``.
"""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from labexports import open_exports, vm_with_disks
from pyVmomi import vim

from vmwctl.vsphere.faults import InvalidPowerState, VSphereFault
from vmwctl.vsphere.nfc import wait_ready
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

MIB = 1 << 20


def raw_file(tmp_path: Path, name: str, size: int = 2 * MIB) -> Path:
    data = bytearray(size)
    data[: size // 4] = os.urandom(size // 4)
    data[-4096:] = os.urandom(4096)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def ready_lease(vc, vm):
    """An export lease of ``vm``, once ready (vmwctl's own wait: a lease error fails it)."""
    lease = vm.ExportVm()
    wait_ready(vc, lease, "exporting", time.monotonic)
    return lease


def get(sim, vc, path: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=vc.settings.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": vc.session_cookie})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_export_serves_each_disk_as_stream_optimized(sim, vc, ds_dir, tmp_path) -> None:
    raws = [raw_file(tmp_path, "a.raw"), raw_file(tmp_path, "b.raw", 1 * MIB)]
    vm, _ = vm_with_disks(vc, ds_dir, raws, controller="busLogic")
    lease = ready_lease(vc, vm)
    info = lease.info
    assert info.entity == vm
    assert [(d.targetId, d.disk) for d in info.deviceUrl] == [("disk-0.vmdk", True),
                                                              ("disk-1.vmdk", True)]
    assert [d.key.split("/")[-1] for d in info.deviceUrl] == ["VirtualBusLogicController0:0",
                                                             "VirtualBusLogicController0:1"]
    assert [o["lease"] for o in open_exports(sim)] == [lease._moId]
    for device, raw in zip(info.deviceUrl, raws, strict=True):
        parts = urlsplit(device.url)
        assert (parts.scheme, parts.hostname) == ("https", "*")
        status, body = get(sim, vc, parts.path)
        assert status == 200
        out = tmp_path / f"{raw.stem}.vmdk"
        out.write_bytes(body)
        info_json = subprocess.run(["qemu-img", "info", "--output=json", str(out)],
                                   capture_output=True, text=True, check=True).stdout
        assert '"create-type": "streamOptimized"' in info_json
        assert '"adapter-type"' not in info_json or "buslogic" in info_json.lower()
        assert subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "vmdk",
                               str(raw), str(out)]).returncode == 0
    lease.HttpNfcLeaseProgress(percent=50)
    assert lease.info.entity == vm  # still readable after progress
    lease.HttpNfcLeaseComplete()
    assert open_exports(sim) == []
    assert get(sim, vc, urlsplit(info.deviceUrl[0].url).path)[0] == 404
    assert not any(p.name.startswith(".nfc-") for p in (ds_dir / vm.name).iterdir())


def test_a_disk_is_converted_again_once_its_data_changed(sim, vc, ds_dir, tmp_path) -> None:
    """The simulator converts a disk once per version of its files, outside the datastore."""
    first = raw_file(tmp_path, "a.raw")
    vm, name = vm_with_disks(vc, ds_dir, [first])
    served = []
    for round_ in range(3):
        if round_ == 2:  # new data in the -flat extent, same size: a new conversion
            second = raw_file(tmp_path, "b.raw")
            with open(ds_dir / name / f"{name}-flat.vmdk", "r+b") as flat:
                flat.write(second.read_bytes())
        lease = ready_lease(vc, vm)
        status, body = get(sim, vc, urlsplit(lease.info.deviceUrl[0].url).path)
        lease.HttpNfcLeaseComplete()
        assert status == 200
        out = tmp_path / f"export-{round_}.vmdk"
        out.write_bytes(body)
        served.append(out)
    for out, raw in zip(served, [first, first, second], strict=True):
        assert subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "vmdk",
                               str(raw), str(out)]).returncode == 0, out.name
    assert not any(p.name.startswith(".nfc") for p in (ds_dir / name).iterdir())
    assert [p.name.startswith("nfc-export-") for p in ds_dir.parent.iterdir()].count(True) == 1


def test_abort_ends_the_lease_and_a_second_export_waits_for_the_first(sim, vc, ds_dir,
                                                                       tmp_path) -> None:
    vm, _ = vm_with_disks(vc, ds_dir, [raw_file(tmp_path, "a.raw")])
    lease = ready_lease(vc, vm)
    with pytest.raises(VSphereFault, match="export lease is held"):
        vm.ExportVm()
    path = urlsplit(lease.info.deviceUrl[0].url).path
    lease.HttpNfcLeaseAbort()
    assert open_exports(sim) == []
    assert get(sim, vc, path)[0] == 404
    assert get(sim, vc, path.rsplit("/", 2)[0] + "/no-lease/disk-0.vmdk")[0] == 404
    again = ready_lease(vc, vm)
    assert get(sim, vc, path.replace(lease._moId, again._moId).replace(
        "disk-0", "disk-9"))[0] == 404
    again.HttpNfcLeaseComplete()


def test_export_of_a_powered_on_vm_is_refused(sim, vc, ds_dir, tmp_path) -> None:
    vm, _ = vm_with_disks(vc, ds_dir, [raw_file(tmp_path, "a.raw")])
    wait_for_task(vc, vm.PowerOnVM_Task(), what="powering on")
    with pytest.raises(InvalidPowerState):
        vm.ExportVm()
    assert open_exports(sim) == []
    wait_for_task(vc, vm.SuspendVM_Task(), what="suspending")
    lease = ready_lease(vc, vm)  # a suspended VM's disk is not written to
    lease.HttpNfcLeaseComplete()


def test_export_fail_after_fails_the_lease_mid_transfer(simulator, tmp_path) -> None:
    sim = simulator("-export-fail-after", str(64 << 10))
    vc = sim.connect()
    ds_dir = Path(sim.datastores["LocalDS_0"])
    vm, _ = vm_with_disks(vc, ds_dir, [raw_file(tmp_path, "a.raw")])
    lease = ready_lease(vc, vm)
    context = ssl.create_default_context(cafile=vc.settings.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=60)
    conn.request("GET", urlsplit(lease.info.deviceUrl[0].url).path)
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
    assert lease.state == "error"
    assert "-export-fail-after" in lease.error.reason
    assert [o["state"] for o in open_exports(sim)] == ["error"]
    lease.HttpNfcLeaseAbort()
    assert open_exports(sim) == []
    assert isinstance(vm, vim.VirtualMachine)
