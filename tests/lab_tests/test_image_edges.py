"""``image upload`` at its edges, against the lab's real Glance: one refusal line, one
remedy and exit 2 for bad input."""

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
        "descriptor": (flat, f"{flat} is a descriptor-only VMDK (monolithicFlat) whose data is "
                             "in pair-flat.vmdk, not a VMDK Glance accepts: add --convert"),
        "iso": (iso, f"refusing to upload {iso}: an ISO image, not a disk: Nova attaches it as "
                     "a CD-ROM; upload it as it is, with disk_format=iso: openstack image "
                     "create --disk-format iso --file cd.iso NAME"),
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
