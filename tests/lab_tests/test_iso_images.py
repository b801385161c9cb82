"""ISO 9660 images against the lab's real Glance and simulator: upload, list --verify, seed.

The images are built from ECMA-119 by tests/isofiles.py. The lab's default
Glance checks that the data matches disk_format (Glance 30's
require_image_format_match, oslo.utils' inspector), so an upload that arrives
there as `iso` was recognised as ISO 9660 by Glance too; records whose data
contradicts their disk_format can only be made in the lab's second Glance,
whose format-match check is off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import isofiles
import pytest
from helpers import glance_profile
from labimages import datastore_leftovers

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"
DS = "LocalDS_0"


def glance(cloud: str):
    import openstack

    return openstack.connect(cloud=cloud).image


def all_images(proxy) -> list[dict]:
    return proxy.get("/images?limit=1000").json()["images"]


@pytest.fixture
def images(lab, lab_env):
    """Both of the lab's Glances empty before and after the test; the default one's proxy."""
    def wipe() -> None:
        for cloud in (lab.cloud, lab.cloud_flat):
            proxy = glance(cloud)
            for image in all_images(proxy):
                proxy.delete(f"/images/{image['id']}")
    wipe()
    yield glance(lab.cloud)
    wipe()


def iso_file(path: Path, volume_id: str = "RESCUE", size: int = 3 << 20) -> Path:
    path.write_bytes(isofiles.iso_image(volume_id, os.urandom(size)))
    return path


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ upload

def test_upload_an_iso_with_nova_properties(vmwctl, images, tmp_path: Path) -> None:
    cd = iso_file(tmp_path / "rescue.iso")
    result = vmwctl("image", "upload", str(cd), "--name", "rescue", "--ostype",
                    "UBUNTU64GUEST", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = result.json()
    assert (document["verified"], document["bytes_sent"], document["sha512"]) == (
        "size and sha512", cd.stat().st_size, sha512(cd))
    image = images.get(f"/images/{document['image']['id']}").json()
    assert (image["status"], image["disk_format"], image["container_format"]) == (
        "active", "iso", "bare")
    assert (image["vmware_ostype"], image["hypervisor_type"]) == ("ubuntu64Guest", "vmware")
    assert (image["size"], image["os_hash_algo"], image["os_hash_value"]) == (
        cd.stat().st_size, "sha512", sha512(cd))
    for absent in ("vmware_disktype", "vmware_adaptertype", "img_linked_clone",
                   "hw_disk_type", "hw_disk_bus"):
        assert absent not in image


def test_an_iso_blank_root_disk_takes_the_given_types(vmwctl, images, tmp_path: Path) -> None:
    """Nova makes the blank root disk beside the CD-ROM with the image's adapter and disk
    type: given, they are written; the dry run shows the same and creates nothing."""
    cd = iso_file(tmp_path / "installer.iso", "INSTALLER", 1 << 20)
    args = ("image", "upload", str(cd), "--name", "installer", "--adapter-type", "ide",
            "--disktype", "thin", "--property", "hw_vif_model=vmxnet3")
    dry = vmwctl(*args, "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    plan = dry.json()
    assert (plan["disk_format"], plan["container_format"], plan["dry_run"]) == (
        "iso", "bare", True)
    assert plan["properties"] == {"vmware_disktype": "thin", "vmware_adaptertype": "ide",
                                  "hypervisor_type": "vmware", "hw_vif_model": "vmxnet3"}
    assert plan["warnings"] == ["no --ostype: Nova creates the VM with guest OS otherGuest; "
                                "see 'vmwctl image ostypes'"]
    assert all_images(images) == []
    result = vmwctl(*args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    image = images.get(f"/images/{result.json()['image']['id']}").json()
    assert (image["disk_format"], image["vmware_disktype"], image["vmware_adaptertype"],
            image["hw_vif_model"]) == ("iso", "thin", "ide", "vmxnet3")


def test_a_file_only_named_iso_leaves_nothing_in_glance(vmwctl, images, tmp_path: Path) -> None:
    kept = vmwctl("image", "upload", str(iso_file(tmp_path / "real.iso", size=1 << 20)),
                  "--name", "real", "--ostype", "otherGuest", "-o", "json")
    assert kept.exit_code == 0, kept.stderr
    before = all_images(images)
    fake = tmp_path / "fake.iso"
    fake.write_bytes(os.urandom(2 << 20))
    line = (f"Error: refusing to upload {fake}: named .iso, but not an ISO 9660 image (no volume "
            "descriptor at sector 16, CD001 at byte 32769): it holds raw data; give the ISO "
            "image itself\n")
    for extra in ([], ["--dry-run"], ["--convert"], ["--disktype", "preallocated"]):
        refused = vmwctl("image", "upload", str(fake), "--name", "fake", *extra)
        assert (refused.exit_code, refused.stderr, refused.stdout) == (2, line, ""), extra
    assert all_images(images) == before
    assert [image["name"] for image in before] == ["real"]


# ------------------------------------------------------------------ list --verify

def test_list_verify_knows_iso_images(vmwctl, images, lab, tmp_path: Path) -> None:
    cd = iso_file(tmp_path / "rescue.iso", size=1 << 20)
    result = vmwctl("image", "upload", str(cd), "--name", "rescue", "--ostype", "otherGuest",
                    "-o", "json")
    assert result.exit_code == 0, result.stderr
    image_id = result.json()["image"]["id"]
    listing = vmwctl("image", "list", "--verify", "-o", "json")
    assert listing.exit_code == 0, listing.stdout
    [entry] = listing.json()["images"]
    assert (entry["id"], entry["disk_format"], entry["problems"], entry["warnings"]) == (
        image_id, "iso", [], [])
    assert entry["file"] == {"format": "iso", "create_type": None, "vmware_disktype": None,
                             "descriptor_adapter_type": None, "safe": True}
    table = vmwctl("image", "list", "--verify").stdout
    assert "rescue" in table and " iso " in table and "FAIL" not in table

    images.patch(f"/images/{image_id}", json=[
        {"op": "add", "path": "/vmware_disktype", "value": "streamOptimized"}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    listing = vmwctl("image", "list", "-o", "json")
    assert listing.exit_code == 1
    assert listing.json()["images"][0]["problems"] == [
        "vmware_disktype=streamOptimized on an ISO image: Nova fetches it through ImportVApp "
        "as a VMDK, which fails"]


def test_list_verify_flags_data_that_contradicts_disk_format(vmwctl, images, lab,
                                                             tmp_path: Path) -> None:
    """Records the default Glance refuses (its format-match check), made in the flat one."""
    config = glance_profile(lab, tmp_path / "flat.yaml", lab.cloud_flat)
    flat = glance(lab.cloud_flat)
    cd = iso_file(tmp_path / "cd.iso", size=1 << 20)
    raw = tmp_path / "raw.iso"
    raw.write_bytes(os.urandom(1 << 20))
    made = {}
    for name, data, disk_format in (("iso-as-vmdk", cd, "vmdk"), ("raw-as-iso", raw, "iso"),
                                    ("iso", cd, "iso")):
        record = flat.post("/images", json={
            "name": name, "disk_format": disk_format, "container_format": "bare",
            "hypervisor_type": "vmware", "vmware_disktype": "preallocated",
            "vmware_adaptertype": "lsiLogic"}).json()
        flat.put(f"/images/{record['id']}/file", data=data.read_bytes(),
                 headers={"Content-Type": "application/octet-stream"})
        made[name] = record["id"]
    listing = vmwctl("--config", str(config), "image", "list", "--verify", "-o", "json")
    assert listing.exit_code == 1, listing.stdout
    problems = {e["name"]: e["problems"] for e in listing.json()["images"]}
    assert problems == {
        "iso-as-vmdk": ["the data is an ISO 9660 image but disk_format is vmdk: Nova would "
                        "attach it as a disk, not a CD-ROM; upload it again with "
                        "disk_format=iso"],
        "raw-as-iso": ["disk_format is iso but the data is raw data, not an ISO 9660 image "
                       "(no volume descriptor at sector 16)"],
        "iso": []}


# ------------------------------------------------------------------ cache seed

def test_cache_seed_places_an_uploaded_iso(simulator, images, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    cd = iso_file(tmp_path / "rescue.iso", size=2 << 20)
    uploaded = sim.run("image", "upload", str(cd), "--name", "rescue", "--ostype", "otherGuest",
                       "-o", "json")
    assert uploaded.exit_code == 0, uploaded.stderr
    image_id = uploaded.json()["image"]["id"]
    seeded = sim.run("cache", "seed", image_id, "-o", "json")
    assert seeded.exit_code == 0, seeded.stderr
    [done] = seeded.json()
    assert (done["outcome"], done["method"], done["datastore"], done["bytes"]) == (
        "seeded", "iso", DS, cd.stat().st_size)
    folder = root / CACHE / image_id
    assert [p.name for p in folder.iterdir()] == [f"{image_id}.iso"]
    assert (folder / f"{image_id}.iso").read_bytes() == cd.read_bytes()
    assert datastore_leftovers(root) == []
    again = sim.run("cache", "seed", image_id, "-o", "json")
    assert again.exit_code == 0 and again.json()[0]["outcome"] == "cached"
