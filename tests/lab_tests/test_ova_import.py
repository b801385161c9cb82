"""An OVA that vmwctl packs is one vCenter imports: CreateImportSpec on its OVF, ImportVApp,
the disk written through the lease; the disk on the datastore is the source's data."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
from labimages import raw_disk, same_disk, vmdk
from pyVmomi import vim

from vmwctl.images.ova_write import pack_ova
from vmwctl.vsphere.datastore import DatastorePath, https_connection, put_stream
from vmwctl.vsphere.inventory import collect, read_paths
from vmwctl.vsphere.nfc import wait_ready

pytestmark = pytest.mark.lab


def find(vc, kind, name: str):
    return next(r.ref for r in collect(vc, {kind: ["name"]}) if r.get("name") == name)


def members(ova: Path) -> dict[str, bytes]:
    with tarfile.open(ova) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@pytest.mark.parametrize("adapter", ["lsiLogic", "ide", "paraVirtual"])
def test_a_packed_ova_imports_through_ovf_manager(simulator, tmp_path: Path,
                                                  adapter: str) -> None:
    raw = raw_disk(tmp_path)
    disk = vmdk(raw, "streamOptimized")
    ova = pack_ova(disk, raw.stat().st_size, tmp_path / "appliance.ova", name="appliance",
                   adapter_type=adapter, ostype="ubuntu64Guest")
    found = members(Path(ova.path))
    assert list(found) == ["appliance.ovf", "appliance.mf", "appliance-disk1.vmdk"]
    assert found["appliance.mf"].decode() == "".join(
        f"SHA256({name})= {hashlib.sha256(found[name]).hexdigest()}\n"
        for name in ("appliance.ovf", "appliance-disk1.vmdk"))

    sim = simulator()
    vc = sim.connect()
    pool = read_paths(vc, find(vc, vim.ClusterComputeResource, "DC0_C0"),
                      ("resourcePool",))["resourcePool"]
    datastore = find(vc, vim.Datastore, "LocalDS_0")
    folder = read_paths(vc, find(vc, vim.Datacenter, "DC0"), ("vmFolder",))["vmFolder"]
    params = vim.OvfManager.CreateImportSpecParams(entityName=f"ova-{adapter}")
    result = vc.content.ovfManager.CreateImportSpec(
        ovfDescriptor=found["appliance.ovf"].decode(), resourcePool=pool, datastore=datastore,
        cisp=params)
    assert not result.error, [e.localizedMessage for e in result.error]
    config = result.importSpec.configSpec
    assert (config.guestId, config.numCPUs, config.memoryMB) == ("ubuntu64Guest", 1, 512)
    assert config.version == "vmx-13"
    assert [item.path for item in result.fileItem] == ["appliance-disk1.vmdk"]
    controllers = [c.device for c in config.deviceChange
                   if isinstance(c.device, vim.vm.device.VirtualController)]
    kind = {"lsiLogic": vim.vm.device.VirtualLsiLogicController,
            "ide": vim.vm.device.VirtualIDEController,
            "paraVirtual": vim.vm.device.ParaVirtualSCSIController}[adapter]
    assert any(isinstance(c, kind) for c in controllers), controllers

    lease = pool.ImportVApp(spec=result.importSpec, folder=folder)
    info = wait_ready(vc, lease, "importing ova", lambda: 0.0)
    url = next(d.url for d in info.deviceUrl if d.disk)
    path = url.split("://", 1)[1].split("/", 1)[1]
    body = found["appliance-disk1.vmdk"]
    put_stream(vc, https_connection(vc, vc.settings.host, vc.settings.port), f"/{path}",
               iter([body]), len(body), what="importing the OVA's disk",
               headers={"overwrite": "t"})
    lease.HttpNfcLeaseComplete()
    devices = read_paths(vc, info.entity, ("config.hardware.device",))["config.hardware.device"]
    disk_path = next(DatastorePath.parse(d.backing.fileName) for d in devices
                     if isinstance(d, vim.vm.device.VirtualDisk))
    on_datastore = Path(sim.datastores["LocalDS_0"], disk_path.path)
    assert same_disk(raw, on_datastore)
