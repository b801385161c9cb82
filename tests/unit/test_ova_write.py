"""Packing an OVA: member order, the manifest, the OVF's content, reproducible bytes."""

from __future__ import annotations

import hashlib
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vmwctl.images.ova_write import CONTROLLERS, ovf_descriptor, pack_ova

NS = {"ovf": "http://schemas.dmtf.org/ovf/envelope/1",
      "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
      "vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
      "vmw": "http://www.vmware.com/schema/ovf"}
OVF = "{http://schemas.dmtf.org/ovf/envelope/1}"


def pack(tmp_path: Path, name: str = "web", **options) -> tuple[Path, dict[str, bytes]]:
    disk = tmp_path / "disk.vmdk"
    disk.write_bytes(b"KDMV" + bytes(4092))
    out = tmp_path / f"{name}.ova"
    pack_ova(disk, 1 << 30, out, name=options.pop("vm", name),
             adapter_type=options.pop("adapter_type", "lsiLogic"),
             ostype=options.pop("ostype", "otherGuest"), **options)
    with tarfile.open(out) as tar:
        assert all(m.isfile() and m.uid == 64 for m in tar.getmembers())
        return out, {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_the_ovf_comes_first_then_a_sha256_manifest_then_the_disk(tmp_path: Path) -> None:
    _, members = pack(tmp_path)
    assert list(members) == ["web.ovf", "web.mf", "web-disk1.vmdk"]
    assert members["web.mf"].decode().splitlines() == [
        f"SHA256(web.ovf)= {hashlib.sha256(members['web.ovf']).hexdigest()}",
        f"SHA256(web-disk1.vmdk)= {hashlib.sha256(members['web-disk1.vmdk']).hexdigest()}"]


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = pack(tmp_path / "a")
    second, _ = pack(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(("adapter", "kind", "subtype"), [
    ("ide", "5", None), ("lsiLogic", "6", "lsilogic"), ("busLogic", "6", "buslogic"),
    ("lsiLogicsas", "6", "lsilogicsas"), ("paraVirtual", "6", "VirtualSCSI")])
def test_the_ovf_says_what_nova_reads(tmp_path: Path, adapter: str, kind: str,
                                      subtype: str | None) -> None:
    _, members = pack(tmp_path, adapter_type=adapter, ostype="ubuntu64Guest",
                      hardware_version="vmx-19")
    root = ET.fromstring(members["web.ovf"])
    file = root.find("ovf:References/ovf:File", NS)
    assert (file.get(f"{OVF}href"), file.get(f"{OVF}size")) == ("web-disk1.vmdk", "4096")
    disk = root.find("ovf:DiskSection/ovf:Disk", NS)
    assert disk.get(f"{OVF}capacity") == str(1 << 30)
    assert disk.get(f"{OVF}format").endswith("#streamOptimized")
    system = root.find("ovf:VirtualSystem", NS)
    assert system.find("ovf:OperatingSystemSection", NS).get(
        f"{{{NS['vmw']}}}osType") == "ubuntu64Guest"
    assert system.find("ovf:VirtualHardwareSection/ovf:System/vssd:VirtualSystemType",
                       NS).text == "vmx-19"
    items = {i.find("rasd:InstanceID", NS).text: i
             for i in system.findall("ovf:VirtualHardwareSection/ovf:Item", NS)}
    controller = items["3"]
    assert controller.find("rasd:ResourceType", NS).text == kind
    found = controller.find("rasd:ResourceSubType", NS)
    assert (found.text if found is not None else None) == subtype
    assert items["4"].find("rasd:Parent", NS).text == "3"
    assert items["4"].find("rasd:HostResource", NS).text == "ovf:/disk/vmdisk1"


def test_every_adapter_nova_knows_has_a_controller() -> None:
    from vmwctl.images.properties import ADAPTER_TYPES

    assert set(CONTROLLERS) == set(ADAPTER_TYPES)


def test_names_are_escaped_in_the_xml() -> None:
    text = ovf_descriptor('a<b>&"c', 'd"<.vmdk', 1, 2, adapter_type="ide", ostype="x\"y",
                          hardware_version="vmx-13")
    root = ET.fromstring(text)
    assert root.find("ovf:VirtualSystem/ovf:Name", NS).text == 'a<b>&"c'
    assert root.find("ovf:References/ovf:File", NS).get(f"{OVF}href") == 'd"<.vmdk'
