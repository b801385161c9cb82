"""What counts as a disk image, and one verdict, one remedy, one exit code per class of input.

The decision is written down in docs/images.md ("Which inputs are refused"):
not a disk image (empty, text, compressed, an archive, not whole sectors) is
bad input, exit 2 in every command; a disk image vmwctl will not read
(unsafe, empty, a broken ISO) makes `inspect` exit 1 and `convert` exit 2;
each refusal names one remedy. ISO images: tests/unit/test_iso.py.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import vmdkfiles as vf
from helpers import not_disk_files


def qemu_img(*args: str | Path) -> None:
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True)


def inspect(vmwctl, path: Path):
    return vmwctl("image", "inspect", str(path), "-o", "json")


# ------------------------------------------------------------------ not a disk image

def not_disk_inputs(directory: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, the one line a command prints about it)."""
    files = not_disk_files(directory)
    notes, empty, zipped = files["text"], files["empty"], files["gzip"]
    odd = directory / "odd.bin"
    odd.write_bytes(bytes(range(256)) * 3)  # 768 bytes: binary, not whole sectors
    ova = directory / "files.tar"  # a tar that is no OVA (those have a reader of their own)
    with tarfile.open(ova, "w") as tar:
        tar.add(notes, arcname="notes.txt")
    return {
        "text": (notes, f"{notes} is not a disk image: it is text (12 bytes); give the disk "
                        "image file"),
        "empty": (empty, f"{empty} is not a disk image: the file is empty; give the disk "
                         "image file"),
        "data": (odd, f"{odd} is not a disk image: its 768 bytes are not a whole number of "
                      "512-byte sectors; give the disk image file"),
        "gzip": (zipped, f"{zipped} is not a disk image: it is gzip-compressed; decompress it "
                         f"first: gunzip -k {zipped.name}"),
        "tar": (ova, f"{ova} is not a disk image: it is a tar archive (an OVA is one); extract "
                     f"the disk from it first: tar -xf {ova.name}"),
    }


@pytest.mark.parametrize("kind", ["text", "empty", "data", "gzip", "tar"])
def test_not_a_disk_image_is_bad_input_everywhere(vmwctl, tmp_path: Path, kind: str) -> None:
    path, line = not_disk_inputs(tmp_path)[kind]
    for args in (["image", "inspect", str(path)],
                 ["image", "convert", str(path), str(tmp_path / "x.vmdk")],
                 ["image", "convert", str(path), str(tmp_path / "x.vmdk"), "--dry-run"]):
        result = vmwctl(*args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {line}\n"), args
        assert result.stdout == ""
    assert not (tmp_path / "x.vmdk").exists()
    document = inspect(vmwctl, path).json()
    assert document == {"error": {"message": line, "exit_code": 2}}


# ------------------------------------------------------------------ disk images: verdicts

@pytest.mark.parametrize(("fmt", "name"), [("raw", "blank.raw"), ("qcow2", "one.qcow2")])
def test_another_disk_format_is_safe_not_a_vmdk_with_one_remedy(vmwctl, tmp_path: Path,
                                                                fmt: str, name: str) -> None:
    path = tmp_path / name
    qemu_img("create", "-f", fmt, path, "1M")
    result = inspect(vmwctl, path)
    assert result.exit_code == 1
    report = result.json()
    assert (report["format"], report["safe"], report["glance_accepts"]) == (fmt, True, False)
    assert report["problems"][0].startswith(f"{fmt} data, not a VMDK" if fmt == "raw"
                                            else f"a {fmt} image, not a VMDK")
    assert len(report["problems"]) == 1
    assert report["remedy"] == f"vmwctl image convert {name} OUT.vmdk"
    table = vmwctl("image", "inspect", str(path)).stdout
    assert [line.split(None, 1)[1].strip() for line in table.splitlines()
            if line.startswith(("Safe", "Remedy"))] == [
        "yes", f"vmwctl image convert {name} OUT.vmdk"]


def test_an_empty_qcow2_is_safe_but_holds_no_disk(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "empty.qcow2"
    qemu_img("create", "-f", "qcow2", path, "0")
    result = inspect(vmwctl, path)
    assert result.exit_code == 1
    report = result.json()
    assert (report["safe"], report["virtual_size"]) == (True, 0)
    assert report["problems"] == ["a qcow2 image, not a VMDK",
                                  "its virtual size is 0: it holds no disk"]
    assert report["remedy"] == "give the image that holds the disk"
    for engine in ("native", "qemu"):
        refused = vmwctl("image", "convert", str(path), str(tmp_path / "e.vmdk"), "--engine",
                         engine)
        assert (refused.exit_code, refused.stderr) == (
            2, f"Error: refusing to convert {path}: its virtual size is 0: it holds no disk; "
               "give the image that holds the disk\n")
    assert not (tmp_path / "e.vmdk").exists()


@pytest.mark.parametrize("fmt", ["qcow2", "qed"])
def test_an_image_naming_a_backing_file_is_unsafe_and_never_read(vmwctl, tmp_path: Path,
                                                                 fmt: str) -> None:
    secret = tmp_path / "secret.raw"
    secret.write_bytes(b"TOP SECRET".ljust(1 << 20, b"!"))
    overlay = tmp_path / f"overlay.{fmt}"
    qemu_img("create", "-f", fmt, "-b", secret, "-F", "raw", overlay)
    result = inspect(vmwctl, overlay)
    assert result.exit_code == 1
    report = result.json()
    assert report["safe"] is False
    assert report["problems"] == [
        f"a {fmt} image, not a VMDK",
        f"it names a backing file ({secret}), which qemu-img would read too; OpenStack "
        "refuses such images"]
    assert report["remedy"] == (f"if you trust that file, flatten the image first: qemu-img "
                                f"convert -O {fmt} overlay.{fmt} flat.{fmt}")
    refused = vmwctl("image", "convert", str(overlay), str(tmp_path / "o.vmdk"))
    assert (refused.exit_code, refused.stderr) == (
        2, f"Error: refusing to convert {overlay}: it names a backing file ({secret}), which "
           "qemu-img would read too; OpenStack refuses such images; if you trust that file, "
           f"flatten the image first: qemu-img convert -O {fmt} overlay.{fmt} flat.{fmt}\n")
    assert not (tmp_path / "o.vmdk").exists()


@pytest.mark.parametrize("engine", ["native", "qemu"])
def test_a_qcow2_cut_short_is_refused_not_converted_with_zeros(vmwctl, tmp_path: Path,
                                                                engine: str) -> None:
    raw = tmp_path / "source.raw"
    with open(raw, "wb") as handle:
        handle.truncate(8 << 20)
        handle.write(os.urandom(4 << 20))
    whole, cut, lost = (tmp_path / "in" / name for name in ("whole.qcow2", "cut.qcow2",
                                                            "lost.qcow2"))
    whole.parent.mkdir()
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, whole)
    cut.write_bytes(whole.read_bytes()[:2_000_000])  # the last ~40 data clusters missing
    lost.write_bytes(whole.read_bytes())
    with open(lost, "r+b") as handle:  # an L1 table offset qemu-img cannot open
        handle.seek(40)
        handle.write((1 << 30).to_bytes(4, "big") + (1 << 40).to_bytes(8, "big"))
    out = tmp_path / "in" / "o.vmdk"
    refused = vmwctl("image", "convert", str(cut), str(out), "--engine", engine)
    assert (refused.exit_code, refused.stderr) == (
        2, f"Error: refusing to convert {cut}: qemu-img check finds 38 errors in its tables (a "
           "damaged file, or one cut short); fetch the image again and compare it with its "
           "published checksum\n")
    refused = vmwctl("image", "convert", str(lost), str(out), "--engine", engine)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: refusing to convert {lost}: qemu-img check "
                                     "cannot read its tables (")
    assert sorted(p.name for p in out.parent.iterdir()) == ["cut.qcow2", "lost.qcow2",
                                                            "whole.qcow2"]
    done = vmwctl("image", "convert", str(whole), str(out), "--engine", engine)
    assert done.exit_code == 0, done.stderr


def test_a_qcow2_with_an_external_data_file_is_unsafe(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "split.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={tmp_path / 'split.data'}", path, "1M")
    report = inspect(vmwctl, path).json()
    assert report["safe"] is False
    assert "it keeps its data in another file (data_file), which qemu-img would read; " \
           "OpenStack refuses such images" in report["problems"]
    assert vmwctl("image", "convert", str(path), str(tmp_path / "o.vmdk")).exit_code == 2


def test_unsafe_vmdk_remedy_and_refusal(vmwctl, tmp_path: Path) -> None:
    evil = tmp_path / "evil.vmdk"
    evil.write_bytes(vf.sparse_with_descriptor(
        vf.descriptor("monolithicSparse", extent='"/etc/passwd"')))
    result = inspect(vmwctl, evil)
    assert result.exit_code == 1
    report = result.json()
    assert report["safe"] is False
    assert report["remedy"] == "re-export the disk from its source: vmwctl never reads an " \
                               "unsafe file"
    refused = vmwctl("image", "convert", str(evil), str(tmp_path / "o.vmdk"))
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: refusing to convert {evil}: ")
    assert refused.stderr.endswith("; re-export the disk from its source: vmwctl never reads "
                                   "an unsafe file\n")
    assert refused.stderr.count(";") == 1  # the one remedy, after the reason


def test_descriptor_only_vmdk_remedy_is_to_convert_it(vmwctl, tmp_path: Path) -> None:
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", tmp_path / "disk.vmdk",
             "1M")
    report = inspect(vmwctl, tmp_path / "disk.vmdk").json()
    assert report["remedy"] == "vmwctl image convert disk.vmdk OUT.vmdk"
    assert not [n for n in report["notes"] if n.startswith("or ")]
    flat = inspect(vmwctl, tmp_path / "disk-flat.vmdk").json()
    assert flat["remedy"] == "vmwctl image convert disk.vmdk OUT.vmdk"
    result = vmwctl("image", "convert", str(tmp_path / "disk.vmdk"), str(tmp_path / "o.vmdk"))
    assert result.exit_code == 0, result.stderr


def test_a_safe_vmdk_has_no_remedy(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "so.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=streamOptimized", path, "1M")
    result = inspect(vmwctl, path)
    assert result.exit_code == 0
    assert result.json()["remedy"] is None
    assert "Remedy" not in vmwctl("image", "inspect", str(path)).stdout


# ------------------------------------------------------------------ --dry-run

def test_convert_dry_run_says_would_and_carries_dry_run(vmwctl, tmp_path: Path) -> None:
    source = tmp_path / "src.raw"
    source.write_bytes(os.urandom(1 << 20))
    dest = tmp_path / "o.vmdk"
    table = vmwctl("image", "convert", str(source), str(dest), "--dry-run")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.splitlines()[1].startswith(f"# engine native: would write {dest} ")
    document = vmwctl("image", "convert", str(source), str(dest), "--dry-run", "-o",
                      "json").json()
    assert (document["dry_run"], document["report"]) == (True, None)
    real = vmwctl("image", "convert", str(source), str(dest), "-o", "json").json()
    assert real["dry_run"] is False
