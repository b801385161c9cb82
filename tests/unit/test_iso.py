"""ISO 9660 images: what `image inspect` reports, and what `image upload` refuses before Glance.

The images are built from ECMA-119 by tests/isofiles.py; oslo.utils' format
inspector (what Glance runs on an upload) is the oracle for the format and the
volume size. Every refusal here comes before the image service is asked
anything: these runs have no profile at all, so any Glance call would fail
with a configuration error instead of the line asserted.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from pathlib import Path

import isofiles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmwctl.images.inspector import inspect_source

PVD = 16 * isofiles.SECTOR  # where the primary volume descriptor starts
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def oslo_iso_size(path: Path) -> int | None:
    """The virtual size oslo.utils (Glance's inspector) reads; None unless it says iso."""
    from oslo_utils.imageutils import format_inspector as oslo

    found = oslo.detect_file_format(str(path))
    return found.virtual_size if found is not None and str(found) == "iso" else None


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def inspect(vmwctl, path: Path) -> tuple[int, dict]:
    result = vmwctl("image", "inspect", str(path), "-o", "json")
    return result.exit_code, result.json()


def upload(vmwctl, path: Path, *args: str):
    return vmwctl("image", "upload", str(path), "--name", "cd", *args)


# ------------------------------------------------------------------ inspect

def test_a_bootable_iso_is_reported_and_uploadable(vmwctl, tmp_path: Path) -> None:
    image = write(tmp_path / "rescue.iso", isofiles.iso_image("RESCUE_2024", os.urandom(5000)))
    code, report = inspect(vmwctl, image)
    assert code == 0
    assert report["iso"] == {
        "volume_id": "RESCUE_2024", "system_id": "LINUX", "volume_set_id": "",
        "publisher_id": "", "application_id": "VMWCTL TESTS", "created": "2024-05-17T10:30:45Z",
        "block_size": 2048, "blocks": 27, "volume_size": 27 * 2048, "bootable": True,
        "joliet": False}
    assert (report["format"], report["safe"], report["glance_accepts"], report["disk_format"],
            report["virtual_size"], report["file_size"]) == (
        "iso", True, True, "iso", 27 * 2048, 27 * 2048)
    assert oslo_iso_size(image) == report["virtual_size"]
    assert (report["problems"], report["remedy"]) == ([], None)
    assert report["notes"] == [
        "an ISO 9660 image: Nova attaches it as a CD-ROM on an IDE controller, with a blank root "
        "disk when the flavor has one; upload it as it is (disk_format=iso): vmwctl image "
        "upload rescue.iso --name NAME"]
    table = vmwctl("image", "inspect", str(image)).stdout
    for row in ("Volume id         RESCUE_2024", "Bootable          yes (El Torito)",
                "Blocks            27 of 2048 bytes", "Glance (iso)      accepts"):
        assert row in table


def test_a_data_cd_and_a_short_file_are_noted(vmwctl, tmp_path: Path) -> None:
    data = isofiles.iso_image("DATA", b"x" * 10000, bootable=False, created=None)
    image = write(tmp_path / "data.iso", data[:-isofiles.SECTOR])
    code, report = inspect(vmwctl, image)
    assert code == 0
    assert (report["iso"]["bootable"], report["iso"]["created"]) == (False, None)
    assert report["notes"][1:] == [
        "no El Torito boot record: the VM cannot boot from this CD-ROM",
        f"the file holds {len(data) - 2048} bytes, fewer than the {len(data)} its volume "
        "descriptor says: it may be truncated"]


def test_a_vmdk_keeps_its_verdict(vmwctl, tmp_path: Path) -> None:
    disk = tmp_path / "disk.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized",
                    str(disk), "1M"], check=True)
    code, report = inspect(vmwctl, disk)
    assert (code, report["disk_format"], report["iso"]) == (0, "vmdk", None)
    assert "Glance (vmdk)     accepts" in vmwctl("image", "inspect", str(disk)).stdout


def broken(kind: str) -> bytes:
    data = bytearray(isofiles.iso_image())
    if kind == "no primary":  # a boot record and the terminator only
        data[PVD:PVD + 2048] = data[PVD + 2048:PVD + 4096]
        data[PVD + 2048:PVD + 4096] = isofiles.descriptor(255, b"")
    elif kind == "block size":
        data[PVD + 128:PVD + 132] = isofiles.both16(4096)
    elif kind == "endians":
        data[PVD + 84:PVD + 88] = struct.pack(">I", 26)
    elif kind == "empty volume":
        data[PVD + 80:PVD + 88] = isofiles.both32(3)
    elif kind == "version":
        data[PVD + 6] = 2
    elif kind == "not at 16":  # CD001 only in the next sector, as some magic numbers allow
        data[PVD:PVD + 2048] = bytes(2048)
    elif kind == "no terminator":
        data[PVD + 4096:PVD + 6144] = bytes(2048)
    elif kind == "cut":
        data = data[:PVD + 1024]
    return bytes(data)


BROKEN = {
    "no primary": "its volume descriptors hold no primary volume descriptor",
    "block size": "logical block size 4096: ISO 9660 allows 512, 1024 or 2048",
    "endians": "the primary volume descriptor's two copies (little- and big-endian) of the "
               "block size or volume size disagree",
    "empty volume": "the primary volume descriptor says the volume holds 6144 bytes, too few "
                    "for its own descriptor",
    "version": "primary volume descriptor version 2, not 1",
    "not at 16": "no volume descriptor at sector 16 (CD001 at byte 32769), where every ISO "
                 "9660 image has its first",
    "no terminator": "sector 18 of the volume descriptor set holds no descriptor, and no "
                     "terminator came before it",
    "cut": "the file ends before its volume descriptor at sector 16",
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_descriptor_set_is_refused_everywhere(vmwctl, tmp_path: Path,
                                                       kind: str) -> None:
    image = write(tmp_path / "bad.iso", broken(kind))
    problem = f"an ISO 9660 signature, but not a readable image: {BROKEN[kind]}"
    remedy = "write the image again (genisoimage or xorriso), or give the original"
    code, report = inspect(vmwctl, image)
    assert (code, report["format"], report["glance_accepts"], report["disk_format"]) == (
        1, "iso", False, None)
    assert (report["problems"], report["remedy"], report["iso"]) == ([problem], remedy, None)
    for args in (("image", "convert", str(image), str(tmp_path / "o.vmdk")),
                 ("image", "upload", str(image), "--name", "cd")):
        refused = vmwctl(*args)
        verb = args[1]
        assert (refused.exit_code, refused.stderr) == (
            2, f"Error: refusing to {verb} {image}: {problem}; {remedy}\n")
    assert not (tmp_path / "o.vmdk").exists()


def test_a_good_iso_is_still_no_disk_to_convert(vmwctl, tmp_path: Path) -> None:
    image = write(tmp_path / "cd.iso", isofiles.iso_image())
    refused = vmwctl("image", "convert", str(image), str(tmp_path / "o.vmdk"))
    assert (refused.exit_code, refused.stderr) == (
        2, f"Error: refusing to convert {image}: an ISO image, not a disk: Nova attaches it as "
           "a CD-ROM; upload it as it is: vmwctl image upload cd.iso --name NAME\n")


# ------------------------------------------------------------------ upload refusals

def test_a_file_named_iso_without_a_volume_descriptor_is_refused(vmwctl, tmp_path: Path) -> None:
    fake = write(tmp_path / "fake.ISO", os.urandom(1 << 20))
    qcow = tmp_path / "disk.iso"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "1M"], check=True)
    stream = tmp_path / "stream.iso"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized",
                    str(stream), "1M"], check=True)
    for path, what in ((fake, "raw data"), (qcow, "a qcow2 image"),
                       (stream, "a streamOptimized VMDK")):
        line = (f"named .iso, but not an ISO 9660 image (no volume descriptor at sector 16, "
                f"CD001 at byte 32769): it holds {what}")
        refused = upload(vmwctl, path, "--convert")
        assert (refused.exit_code, refused.stderr) == (
            2, f"Error: refusing to upload {path}: {line}; give the ISO image itself\n")
        assert refused.stdout == ""
        assert line in inspect(vmwctl, path)[1]["notes"]


@pytest.mark.parametrize("args, line", [
    (("--convert",), "--convert does not apply to {path}: an ISO image is uploaded as it is "
                     "(disk_format=iso); drop the flag"),
    (("--no-linked-clone",), "--linked-clone/--no-linked-clone does not apply to {path}: Nova "
                             "ignores img_linked_clone for ISO images (the root disk is "
                             "blank); drop the flag"),
    (("--disktype", "streamoptimized"), "vmware_disktype=streamOptimized on an ISO image: Nova "
                                        "fetches it through ImportVApp as a VMDK, which fails; "
                                        "for an ISO the disk type only sets the blank root "
                                        "disk's: thin, preallocated, thick, eagerZeroedThick"),
    (("--property", "hw_disk_type=sparse"), "hw_disk_type=sparse on an ISO image: Nova's "
                                            "CreateVirtualDisk of the blank root disk fails (no "
                                            "such disk type); for an ISO the disk type only "
                                            "sets the blank root disk's: thin, preallocated, "
                                            "thick, eagerZeroedThick"),
    (("--property", "hw_vif_model=virtio"), "these properties would not boot: hw_vif_model "
                                            "'virtio' is not a NIC model the VMware driver "
                                            "supports (e1000, e1000e, pcnet, sriov, vmxnet, "
                                            "vmxnet3)"),
    (("--property", "disk_format=vmdk"), "disk_format is an image attribute, not a property"),
])
def test_flags_that_do_not_fit_an_iso(vmwctl, tmp_path: Path, args: tuple[str, ...],
                                      line: str) -> None:
    image = write(tmp_path / "cd.iso", isofiles.iso_image())
    refused = upload(vmwctl, image, *args)
    assert (refused.exit_code, refused.stderr) == (2, f"Error: {line.format(path=image)}\n")


# ------------------------------------------------------------------ fuzz

@FUZZ
@given(st.lists(st.tuples(st.integers(0, 3 * 2048 - 1), st.integers(0, 255)), max_size=24),
       st.integers(0, 4))
def test_edited_descriptors_never_crash(edits: list[tuple[int, int]], cut: int) -> None:
    """Bytes of the descriptor set changed, the file cut: a report, never an exception; a
    file called an acceptable ISO is one oslo.utils (Glance) reads as iso, of that size when
    the primary descriptor is the first (the only place oslo.utils reads a size from)."""
    data = bytearray(isofiles.iso_image())
    for offset, value in edits:
        data[PVD + offset] = value
    data = data[:len(data) - cut * 4096]
    report = inspect_source("fuzz.iso", len(data), lambda off, n: bytes(data[off:off + n]))
    assert report.format in ("iso", "raw", "text")
    if report.format == "iso":
        assert report.acceptable == (report.iso is not None)
    if report.acceptable:
        with tempfile.NamedTemporaryFile(suffix=".iso") as handle:
            handle.write(data)
            handle.flush()
            size = oslo_iso_size(Path(handle.name))
        assert size is not None
        if data[PVD] == 1:
            assert size == report.virtual_size
