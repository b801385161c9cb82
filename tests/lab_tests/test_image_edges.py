"""``image upload | tag`` at their edges, against the lab's real Glance: one
refusal line and exit 2 for bad input, "would" and ``"dry_run": true`` for every --dry-run,
and a warning when the upload's name is taken."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import vmdkfiles as vf
from helpers import not_disk_files

pytestmark = pytest.mark.lab


@pytest.fixture
def glance(lab, lab_env):
    """The lab's Glance, empty before and after the test."""
    import openstack

    proxy = openstack.connect(cloud=lab.cloud).image

    def wipe() -> None:
        for image in proxy.get("/images?limit=1000").json()["images"]:
            proxy.delete(f"/images/{image['id']}")
    wipe()
    yield proxy
    wipe()


def images(proxy) -> list[dict]:
    return proxy.get("/images?limit=1000").json()["images"]


def stream_vmdk(directory: Path, name: str = "disk.vmdk") -> Path:
    raw = directory / "source.raw"
    with open(raw, "wb") as handle:
        handle.truncate(2 << 20)
        handle.write(os.urandom(1 << 20))
    path = directory / name
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized,adapter_type=lsilogic", str(raw), str(path)],
                   check=True)
    raw.unlink()
    return path


# ------------------------------------------------------------------ upload: refusals

def refusal_inputs(directory: Path) -> dict[str, tuple[Path, str]]:
    files = not_disk_files(directory)
    notes, empty, packed = files["text"], files["empty"], files["gzip"]
    qcow2 = directory / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "1M"], check=True)
    raw = directory / "disk.raw"
    raw.write_bytes(os.urandom(1 << 20))
    evil = directory / "evil.vmdk"
    evil.write_bytes(vf.sparse_with_descriptor(
        vf.descriptor("monolithicSparse", extent='"/etc/passwd"')))
    iso = directory / "cd.iso"
    data = bytearray(0x9000)
    data[0x8001:0x8006] = b"CD001"
    iso.write_bytes(bytes(data))
    flat = directory / "pair.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat",
                    str(flat), "1M"], check=True)
    return {
        "text": (notes, f"{notes} is not a disk image: it is text (12 bytes); give the disk "
                        "image file"),
        "empty": (empty, f"{empty} is not a disk image: the file is empty; give the disk "
                         "image file"),
        "gzip": (packed, f"{packed} is not a disk image: it is gzip-compressed; decompress it "
                         "first: gunzip -k disk.raw.gz"),
        "qcow2": (qcow2, f"{qcow2} is a qcow2 image, not a VMDK: add --convert"),
        "raw": (raw, f"{raw} is raw data, not a VMDK: add --convert"),
        "descriptor": (flat, f"refusing to upload {directory / 'pair-flat.vmdk'} (the flat "
                             f"extent of {flat}): raw data, which this image service refuses "
                             "as disk_format=vmdk (Glance 30 and later do unless [image_format] "
                             "require_image_format_match is off, and the profile's "
                             "openstack.image_format_match says it is on); add --convert to "
                             "upload it as streamOptimized"),
        "iso": (iso, f"refusing to upload {iso}: an ISO 9660 signature, but not a readable "
                     "image: sector 17 of the volume descriptor set holds no descriptor, and "
                     "no terminator came before it; write the image again (genisoimage or "
                     "xorriso), or give the original"),
        "unsafe": (evil, f"refusing to upload {evil}: descriptor line 8: extent file "
                         "'/etc/passwd' contains a path separator (it must name a file in the "
                         "descriptor's directory) (qemu-img would read files outside its "
                         "directory, CVE-2022-47951); re-export the disk from its source: "
                         "vmwctl never reads an unsafe file"),
    }


@pytest.mark.parametrize("kind", ["text", "empty", "gzip", "qcow2", "raw", "descriptor", "iso",
                                  "unsafe"])
def test_upload_refusals_are_one_line_one_remedy_exit_2(vmwctl, glance, tmp_path: Path,
                                                        kind: str) -> None:
    path, line = refusal_inputs(tmp_path)[kind]
    for extra in ([], ["--dry-run"], ["--force"]):
        result = vmwctl("image", "upload", str(path), "--name", "x", *extra)
        assert (result.exit_code, result.stderr) == (2, f"Error: {line}\n"), extra
    if kind in ("text", "empty", "gzip", "iso", "unsafe"):  # --convert cannot help either
        result = vmwctl("image", "upload", str(path), "--name", "x", "--convert")
        assert result.exit_code == 2
        assert result.stderr.count("Error: ") == 1 and "; or " not in result.stderr
    assert images(glance) == []


# ------------------------------------------------------------------ upload: the name

def test_upload_warns_when_the_name_is_taken(vmwctl, glance, tmp_path: Path) -> None:
    disk = stream_vmdk(tmp_path)
    first = vmwctl("image", "upload", str(disk), "--name", "twice", "--ostype", "otherGuest",
                   "-o", "json")
    assert first.exit_code == 0, first.stderr
    assert first.stderr == ""
    first_id = first.json()["image"]["id"]
    warning = (f"an image named 'twice' exists already ({first_id}); this upload adds "
               "another, and commands given the name will then need the id")

    dry = vmwctl("image", "upload", str(disk), "--name", "twice", "--ostype", "otherGuest",
                 "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["warnings"] == [warning]
    assert [i["id"] for i in images(glance)] == [first_id]

    second = vmwctl("image", "upload", str(disk), "--name", "twice", "--ostype", "otherGuest",
                    "-o", "json")
    assert second.exit_code == 0, second.stderr
    assert second.stderr == f"Warning: {warning}\n"
    assert second.json()["warnings"] == [warning]
    assert sorted(i["name"] for i in images(glance)) == ["twice", "twice"]


def test_the_name_is_looked_up_exactly(vmwctl, glance, tmp_path: Path) -> None:
    """Characters a URL gives a meaning to ('&', '#', '+', ' '), and the ':' after which
    Glance reads an operator, are the name's own."""
    disk = stream_vmdk(tmp_path)
    for decoy in ("a", "in:a"):
        glance.post("/images", json={"name": decoy, "disk_format": "vmdk",
                                     "container_format": "bare"})
    name = "a&b=c #1 +ü:22.04"
    first = vmwctl("image", "upload", str(disk), "--name", name, "--ostype", "otherGuest")
    assert (first.exit_code, first.stderr) == (0, "")
    again = vmwctl("image", "upload", str(disk), "--name", name, "--ostype", "otherGuest",
                   "--dry-run", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert [w.split(" (")[0] for w in again.json()["warnings"]] == [
        f"an image named {name!r} exists already"]


# ------------------------------------------------------------------ every --dry-run

def test_upload_dry_run_says_would_and_carries_dry_run(vmwctl, glance, tmp_path: Path) -> None:
    disk = stream_vmdk(tmp_path)
    table = vmwctl("image", "upload", str(disk), "--name", "dry", "--ostype", "otherGuest",
                   "--dry-run")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.startswith("Would upload")
    document = vmwctl("image", "upload", str(disk), "--name", "dry", "--ostype", "otherGuest",
                      "--dry-run", "-o", "json").json()
    assert document["dry_run"] is True
    assert images(glance) == []


def test_tag_dry_run_says_would_and_changes_nothing(vmwctl, glance) -> None:
    image = glance.post("/images", json={"name": "tagme", "disk_format": "vmdk",
                                         "container_format": "bare",
                                         "vmware_disktype": "sparse",
                                         "hw_disk_type": "sparse"}).json()
    args = ("image", "tag", "tagme", "--disktype", "streamOptimized", "--ostype",
            "ubuntu64Guest", "--dry-run")
    result = vmwctl(*args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert (document["dry_run"], document["changed"]) == (True, False)
    assert document["set"] == {"vmware_disktype": "streamOptimized",
                               "vmware_ostype": "ubuntu64Guest",
                               "hw_disk_type": "streamOptimized"}
    table = vmwctl(*args)
    assert table.exit_code == 0
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert lines[0].split(None, 1) == ["Image", f"tagme ({image['id']}): dry run, nothing "
                                                "changed"]
    assert [line.split()[:3] for line in lines[1:4]] == [
        ["would", "set", "vmware_ostype"], ["would", "set", "vmware_disktype"],
        ["would", "set", "hw_disk_type"]]
    assert "hw_disk_type would change as well" in table.stdout
    after = glance.get(f"/images/{image['id']}").json()
    assert after["updated_at"] == image["updated_at"]
    assert (after["vmware_disktype"], "vmware_ostype" in after) == ("sparse", False)

    real = vmwctl(*args[:-1], "-o", "json")
    assert (real.json()["dry_run"], real.json()["changed"]) == (False, True)
    assert glance.get(f"/images/{image['id']}").json()["vmware_disktype"] == "streamOptimized"
