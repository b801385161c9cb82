"""``image upload FILE.ova`` against the lab's real Glance: the properties read back, and
packages refused before a byte is sent."""

from __future__ import annotations

from pathlib import Path

import ovafiles as of
import pytest
from test_images import all_images, sha512

# the fixture that empties both Glances, requested by name (a re-export, for ruff)
from test_images import images as images

pytestmark = pytest.mark.lab


def test_upload_an_ova_with_the_properties_of_its_ovf(vmwctl, images, tmp_path: Path) -> None:
    disk = of.qemu_stream_vmdk(tmp_path, 4 << 20)
    path = of.build(tmp_path / "appliance.ova", disk=disk, descriptor=of.ovf(
        capacity=4 << 20, controller="pvscsi", os_type="ubuntu64Guest", file_size=len(disk)))
    result = vmwctl("image", "upload", str(path), "--name", "appliance", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["verified"] == "size and sha512"
    assert document["bytes_sent"] == path.stat().st_size
    image = images.get(f"/images/{document['image']['id']}").json()
    assert image["status"] == "active"
    assert (image["container_format"], image["disk_format"]) == ("ova", "vmdk")
    assert image["vmware_disktype"] == "streamOptimized"
    assert image["vmware_adaptertype"] == "paraVirtual"
    assert image["vmware_ostype"] == "ubuntu64Guest"
    assert image["hypervisor_type"] == "vmware"
    assert image["size"] == path.stat().st_size
    assert image["os_hash_value"] == sha512(path) == document["sha512"]
    assert "no --ostype" not in result.stderr


def test_flags_override_the_ovf_and_a_sha1_manifest_is_warned(vmwctl, images,
                                                             tmp_path: Path) -> None:
    path = of.build(tmp_path / "old.ova", algorithm="sha1",
                    descriptor=of.ovf(controller="sata", os_type=None))
    refused = vmwctl("image", "upload", str(path), "--name", "old")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        f"Error: the disk of {path} sits on a SATA controller, which Nova's VMware driver does "
        "not create: pass --adapter-type (one the guest has a driver for)")
    assert all_images(images) == []
    result = vmwctl("image", "upload", str(path), "--name", "old", "--adapter-type", "ide",
                    "--ostype", "debian10_64Guest", "--no-linked-clone")
    assert result.exit_code == 0, result.stderr
    assert "vSphere 7.0 and later refuse to deploy" in result.stderr
    [image] = all_images(images)
    assert (image["container_format"], image["vmware_adaptertype"], image["vmware_ostype"],
            image["img_linked_clone"]) == ("ova", "ide", "debian10_64Guest", "false")


@pytest.mark.parametrize("knobs, reason", [
    ({"mismatch": True}, "the SHA256 of 'disk.vmdk' does not match the manifest"),
    ({"traversal": True}, "'../escape.txt' climbs out of the package's directory"),
    ({"ovf_first": False}, "the first member is 'disk.vmdk', not the OVF descriptor"),
    ({"missing_disk": True}, "the manifest lists 'disk.vmdk', which the package does not hold"),
    ({"symlink": True}, "'link.vmdk' is a symbolic link to '/etc/passwd'"),
])
def test_a_bad_ova_leaves_nothing_in_glance(vmwctl, images, tmp_path: Path, knobs: dict,
                                            reason: str) -> None:
    path = of.build(tmp_path / "bad.ova", **knobs)
    result = vmwctl("image", "upload", str(path), "--name", "bad")
    assert result.exit_code == 2
    [line] = [x for x in result.stderr.splitlines() if not x.startswith("Warning: ")]
    assert line.startswith(f"Error: refusing to upload {path}: {reason}")
    assert all_images(images) == []


def test_flags_that_make_no_sense_for_an_ova(vmwctl, images, tmp_path: Path) -> None:
    path = of.build(tmp_path / "vm.ova")
    for flags, message in ((["--convert"], "is an OVA, uploaded as it is "
                                           "(container_format=ova): drop --convert"),
                           (["--disktype", "sparse"], "--disktype sparse: Nova imports the disk "
                                                      "of an OVA through ImportVApp"),
                           (["--adapter-type", "ide"], "--adapter-type ide contradicts the OVF, "
                                                       "which puts the disk on a SCSI "
                                                       "(lsilogic) controller")):
        result = vmwctl("image", "upload", str(path), "--name", "vm", *flags)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert all_images(images) == []


def test_dry_run_of_an_ova(vmwctl, images, tmp_path: Path) -> None:
    path = of.build(tmp_path / "vm.ova")
    result = vmwctl("image", "upload", str(path), "--name", "vm", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.stderr
    plan = result.json()
    assert (plan["disk_format"], plan["container_format"], plan["file"]) == \
        ("vmdk", "ova", str(path))
    assert plan["properties"] == {"vmware_disktype": "streamOptimized",
                                  "vmware_adaptertype": "lsiLogic",
                                  "vmware_ostype": "ubuntu64Guest", "hypervisor_type": "vmware"}
    assert all_images(images) == []


def stored(images, name: str, data: bytes) -> str:
    """An image with container_format=ova holding ``data``, created without vmwctl."""
    image = images.post("/images", json={"name": name, "disk_format": "vmdk",
                                         "container_format": "ova",
                                         "vmware_disktype": "streamOptimized",
                                         "hypervisor_type": "vmware"}).json()
    images.put(f"/images/{image['id']}/file", data=data,
               headers={"Content-Type": "application/octet-stream"})
    return image["id"]


def test_list_verify_knows_an_ova(vmwctl, images, tmp_path: Path) -> None:
    path = of.build(tmp_path / "vm.ova")
    assert vmwctl("image", "upload", str(path), "--name", "vm").exit_code == 0
    plain = of.write_members(tmp_path / "plain.tar", [("notes.txt", b"x" * 600)])
    wrong = stored(images, "plain-tar", plain.read_bytes())
    listing = vmwctl("image", "list", "--verify", "-o", "json")
    assert listing.exit_code == 1
    entries = {e["name"]: e for e in listing.json()["images"]}
    good = entries["vm"]
    assert (good["container_format"], good["problems"]) == ("ova", [])
    assert good["file"] == {"format": "ova", "descriptor": "test-vm.ovf"}
    assert entries["plain-tar"]["id"] == wrong
    assert entries["plain-tar"]["problems"] == [
        "the data is not an OVA: its first member is 'notes.txt', not an OVF descriptor, and "
        "Nova looks for the disk only after the descriptor"]
