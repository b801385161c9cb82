"""Nova's fetch of an OVA from a stream (fetch_image_ova), as cache seed reads Glance's."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from vmwctl.errors import OperationFailed
from vmwctl.images.ova import ova_disk
from vmwctl.images.ova_write import ovf_descriptor, pack_ova

DISK = b"KDMV" + bytes(508) + bytes(range(256)) * 40


def packed(tmp_path: Path) -> bytes:
    disk = tmp_path / "disk.vmdk"
    disk.write_bytes(DISK)
    out = tmp_path / "app.ova"
    pack_ova(disk, 1 << 20, out, name="app", adapter_type="lsiLogic", ostype="otherGuest")
    return out.read_bytes()


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def archive(*members: tuple[str, bytes, bytes]) -> bytes:
    """A tar of (name, type flag, data) members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return out.getvalue()


OVF = ovf_descriptor("app", "app-disk1.vmdk", len(DISK), 1 << 20, adapter_type="ide",
                     ostype="otherGuest", hardware_version="vmx-13")


@pytest.mark.parametrize("size", [1, 511, 512, 4096, 1 << 20])
def test_the_disk_the_ovf_names_streams_whatever_the_chunks(tmp_path: Path, size: int) -> None:
    pulled = []

    def glance():
        for chunk in chunked(packed(tmp_path), size):
            pulled.append(len(chunk))
            yield chunk

    data = packed(tmp_path)
    disk = ova_disk(glance(), "image x")
    assert (disk.name, disk.size) == ("app-disk1.vmdk", len(DISK))
    assert b"".join(disk.data) == DISK
    disk.rest()
    assert sum(pulled) == len(data)  # the whole archive read: Glance's hash is checked


def test_nova_takes_the_first_member_after_the_ovf_whose_name_starts_with_the_href() -> None:
    data = archive(("app-disk1.vmdk", tarfile.REGTYPE, b"before the ovf"),
                   ("app.ovf", tarfile.REGTYPE, OVF),
                   ("app-disk1.vmdk.orig", tarfile.REGTYPE, b"picked"),
                   ("app-disk1.vmdk", tarfile.REGTYPE, DISK))
    disk = ova_disk(chunked(data, 700), "image x")
    assert (disk.name, b"".join(disk.data)) == ("app-disk1.vmdk.orig", b"picked")


@pytest.mark.parametrize(("members", "message"), [
    ([("app.ovf", tarfile.REGTYPE, OVF)],
     "no member holds the disk 'app-disk1.vmdk' the OVF names"),
    ([("app-disk1.vmdk", tarfile.REGTYPE, DISK)], "no OVF descriptor in the archive"),
    ([("app.ovf", tarfile.REGTYPE, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>")], "DTD"),
    ([("../app.ovf", tarfile.REGTYPE, OVF)], "climbs out of the package's directory"),
    ([("link", tarfile.SYMTYPE, b"")], "is a symbolic link to '/etc/passwd'"),
    ([("app.ovf", tarfile.REGTYPE, OVF.replace(b"ovf:fileRef=\"file1\"", b""))],
     "names no disk file"),
])
def test_what_nova_would_fail_on_fails_in_one_line(members, message: str) -> None:
    with pytest.raises(OperationFailed) as caught:
        ova_disk(chunked(archive(*members), 300), "image x")
    assert caught.value.message.startswith("image x: ")
    assert message in caught.value.message


def test_an_archive_cut_inside_the_disk_fails_while_streaming(tmp_path: Path) -> None:
    data = packed(tmp_path)
    disk = ova_disk([data[:data.index(DISK) + 1000]], "image x")
    with pytest.raises(OperationFailed) as caught:
        b"".join(disk.data)
    assert caught.value.message.startswith("image x: not a readable OVA: the archive ends "
                                           "inside 'app-disk1.vmdk'")
    with pytest.raises(OperationFailed, match="not a readable OVA"):
        ova_disk([b"\x00" * 100 + b"x"], "image x")
