"""The OVA reader: the tar read as a stream, the OVF, the manifest, the disk inside."""

from __future__ import annotations

import io
import re
import struct
import tarfile
from pathlib import Path

import ovafiles as of
import pytest
import vmdkfiles as vf

from vmwctl.common.safexml import XmlRefused
from vmwctl.errors import UsageError
from vmwctl.images.ova import OVF_MAX, inspect_ova, is_ova, parse_manifest, parse_ovf, read_ova
from vmwctl.images.tarstream import MAX_MEMBERS, MAX_META, TarError, read_members


def judged(tmp_path: Path, **knobs):
    return inspect_ova(of.build(tmp_path / "vm.ova", **knobs))


def files_in(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ---------------------------------------------------------------- the packages the issue names


def test_a_good_package(tmp_path: Path) -> None:
    report = judged(tmp_path)
    assert report.acceptable and report.safe
    assert report.problems == [] and report.warnings == []
    assert [(m.name, m.role, m.manifest) for m in report.members] == [
        ("test-vm.ovf", "descriptor", "ok"), ("test-vm.mf", "manifest", None),
        ("disk.vmdk", "disk", "ok")]
    assert (report.descriptor, report.manifest, report.disk) == ("test-vm.ovf", "test-vm.mf",
                                                                 "disk.vmdk")
    assert report.manifest_algorithms == ["SHA256"]
    assert (report.ovf_version, report.hardware_version, report.os_type) == \
        ("1.x", "vmx-13", "ubuntu64Guest")
    assert report.controller == "SCSI (lsilogic)"
    assert report.disk_report.create_type == "streamOptimized"
    assert report.disk_report.acceptable and report.disk_report.virtual_size == 1 << 20
    assert report.properties == {"vmware_disktype": "streamOptimized",
                                 "vmware_adaptertype": "lsiLogic",
                                 "vmware_ostype": "ubuntu64Guest"}
    assert report.remedy is None
    assert any("vmware:hw_version" in n for n in report.notes)


def test_a_disk_written_by_qemu_img(tmp_path: Path) -> None:
    disk = of.qemu_stream_vmdk(tmp_path, 4 << 20, adapter="ide")
    report = judged(tmp_path, disk=disk, descriptor=of.ovf(capacity=4 << 20, controller="ide"))
    assert report.acceptable, report.problems
    assert report.properties["vmware_adaptertype"] == "ide"
    assert report.disk_report.virtual_size == 4 << 20


def test_a_sha1_manifest_is_warned(tmp_path: Path) -> None:
    report = judged(tmp_path, algorithm="sha1")
    assert report.acceptable and report.manifest_algorithms == ["SHA1"]
    [warning] = report.warnings
    assert "SHA1" in warning and "vSphere 7.0 and later refuse" in warning
    assert "--shaAlgorithm=SHA256" in warning


def test_a_sha512_manifest_is_checked(tmp_path: Path) -> None:
    report = judged(tmp_path, algorithm="sha512")
    assert report.acceptable and report.warnings == []
    assert [m.manifest for m in report.members] == ["ok", None, "ok"]


def test_the_descriptor_not_first(tmp_path: Path) -> None:
    report = judged(tmp_path, ovf_first=False)
    assert not report.acceptable and report.safe
    assert report.problems[0].startswith("the first member is 'disk.vmdk', not the OVF "
                                         "descriptor")
    assert any("Nova would not find 'disk.vmdk'" in p for p in report.problems)
    assert report.remedy.startswith("repack it with the descriptor first")
    # the disk came before the descriptor, and was still inspected while it streamed past
    assert report.disk_report is not None and report.disk_report.acceptable


def test_a_traversal_entry(tmp_path: Path) -> None:
    before = files_in(tmp_path.parent)
    report = judged(tmp_path, traversal=True)
    assert not report.acceptable and not report.safe
    assert "'../escape.txt' climbs out of the package's directory ('..')" in report.problems
    assert "never reads an unsafe package" in report.remedy
    assert files_in(tmp_path.parent) == sorted([*before, "test_a_traversal_entry0/vm.ova"])


def test_a_symbolic_link(tmp_path: Path) -> None:
    report = judged(tmp_path, symlink=True)
    assert not report.safe and not report.acceptable
    assert report.problems == ["'link.vmdk' is a symbolic link to '/etc/passwd', and a "
                               "package holds regular files only"]


def test_a_manifest_mismatch(tmp_path: Path) -> None:
    report = judged(tmp_path, mismatch=True)
    assert not report.acceptable and report.safe
    assert report.problems == ["the SHA256 of 'disk.vmdk' does not match the manifest"]
    assert [m.manifest for m in report.members] == ["ok", None, "mismatch"]
    assert "copy or export it again" in report.remedy


def test_a_missing_disk(tmp_path: Path) -> None:
    report = judged(tmp_path, missing_disk=True)
    assert not report.acceptable
    assert "the disk the descriptor names, 'disk.vmdk', is not in the package" in \
        report.problems
    assert "the manifest lists 'disk.vmdk', which the package does not hold" in report.problems
    assert report.disk is None and report.disk_report is None
    assert "vmware_disktype" not in report.properties


def test_no_manifest_is_a_note(tmp_path: Path) -> None:
    report = judged(tmp_path, algorithm=None)
    assert report.acceptable and report.manifest is None
    assert "no manifest (.mf): the members are not verified" in report.notes
    assert [m.manifest for m in report.members] == [None, None]


def test_a_member_not_in_the_manifest_is_warned(tmp_path: Path) -> None:
    path = tmp_path / "vm.ova"
    members = of.Ova().members()
    of.write_members(path, [*members, ("notes.txt", b"hello")])
    report = inspect_ova(path)
    assert report.acceptable
    assert report.warnings == ["'notes.txt' is not listed in the manifest, so it is not "
                               "verified"]


# ---------------------------------------------------------------- Nova's reading of the stream


def test_nova_takes_the_first_member_that_starts_with_the_href(tmp_path: Path) -> None:
    ova = of.Ova()
    descriptor, manifest_, disk = ova.members()
    path = of.write_members(tmp_path / "vm.ova", [descriptor, manifest_,
                                                  ("disk.vmdk.orig", b"x" * 512), disk])
    report = inspect_ova(path)
    assert "Nova would import 'disk.vmdk.orig', the first member after the descriptor whose " \
           "name starts with 'disk.vmdk', instead of the disk" in report.problems


def test_a_descriptor_without_the_ovf_prefix(tmp_path: Path) -> None:
    report = judged(tmp_path, descriptor=of.ovf(prefix="", file_size=None))
    assert not report.acceptable
    assert any("Nova's reader looks the namespace up by it" in p for p in report.problems)


def test_a_second_descriptor(tmp_path: Path) -> None:
    members = of.Ova().members()
    path = of.write_members(tmp_path / "vm.ova", [*members, ("other.ovf", members[0][1])])
    assert "a second OVF descriptor, 'other.ovf': a package has one" in \
        inspect_ova(path).problems


def test_a_monolithic_sparse_disk_is_not_what_nova_imports(tmp_path: Path) -> None:
    disk = vf.sparse_with_descriptor(vf.descriptor("monolithicSparse", 2048))
    report = judged(tmp_path, disk=disk, descriptor=of.ovf())
    assert any("is monolithicSparse: Nova imports the disk of an OVA through ImportVApp" in p
               for p in report.problems)
    assert "vmware_disktype" not in report.properties


def test_an_unsafe_disk_inside(tmp_path: Path) -> None:
    desc = vf.descriptor("streamOptimized", 2048, extent='"../../etc/shadow"')
    report = judged(tmp_path, disk=vf.stream_optimized(bytes(2048 * 512), desc=desc))
    assert not report.acceptable
    assert any(p.startswith("the disk 'disk.vmdk': descriptor line") and "extent file" in p
               for p in report.problems)


def test_a_disk_that_is_no_disk_image(tmp_path: Path) -> None:
    report = judged(tmp_path, disk=b"just some text\n")
    assert "the disk 'disk.vmdk' is not a disk image: it is text (15 bytes)" in report.problems


def test_the_descriptor_and_the_disk_disagree(tmp_path: Path) -> None:
    report = judged(tmp_path, descriptor=of.ovf(capacity=2 << 20, file_size=7,
                                                disk_format="http://x/vmdk.html#sparse"))
    assert report.acceptable  # Nova reads neither; vSphere might
    assert len(report.warnings) == 3
    assert "the descriptor gives the disk 2097152 bytes, its header 1048576" in report.warnings


def test_several_disks(tmp_path: Path) -> None:
    report = judged(tmp_path, descriptor=of.ovf(extra_disks=2))
    assert "the descriptor names 3 disks; Nova imports only the first (vmdisk1) and the VM " \
           "boots from it alone" in report.warnings


# ---------------------------------------------------------------- properties from the OVF


@pytest.mark.parametrize("controller, adapter, shown", [
    ("ide", "ide", "IDE"),
    ("lsilogic", "lsiLogic", "SCSI (lsilogic)"),
    ("buslogic", "busLogic", "SCSI (buslogic)"),
    ("lsilogicsas", "lsiLogicsas", "SCSI (lsilogicsas)"),
    ("pvscsi", "paraVirtual", "SCSI (VirtualSCSI)"),
    ("sata", None, "SATA"),
    ("nvme", None, "NVMe"),
])
def test_adapter_type_from_the_disks_controller(controller: str, adapter: str | None,
                                                shown: str) -> None:
    ovf = parse_ovf(of.ovf(controller=controller))
    [disk] = ovf.disks
    assert (disk.controller, disk.adapter_type) == (shown, adapter)
    if adapter is None:
        assert any(f"a {shown} controller, which Nova's VMware driver does not create: pass "
                   "--adapter-type" in w for w in ovf.warnings)
    else:
        assert ovf.warnings == []


def test_a_sata_disk_gives_no_adapter_type(tmp_path: Path) -> None:
    report = judged(tmp_path, descriptor=of.ovf(controller="sata"))
    assert report.acceptable and "vmware_adaptertype" not in report.properties


def test_a_disk_on_no_controller_takes_the_descriptors_adapter(tmp_path: Path) -> None:
    text = of.ovf(controller="ide").replace(b"<rasd:Parent>3</rasd:Parent>", b"")
    report = judged(tmp_path, descriptor=text)
    assert report.controller is None
    assert report.properties["vmware_adaptertype"] == "lsiLogic"
    assert any("from the disk's descriptor" in n for n in report.notes)


@pytest.mark.parametrize("written, property_", [
    ("ubuntu64Guest", "ubuntu64Guest"), ("WINDOWS9_64GUEST", "windows9_64Guest"),
    ("rhel42Guest", None), (None, None)])
def test_guest_os_type(tmp_path: Path, written: str | None, property_: str | None) -> None:
    report = judged(tmp_path, descriptor=of.ovf(os_type=written))
    assert report.properties.get("vmware_ostype") == property_
    assert report.acceptable
    if written and property_ is None:
        assert any(f"vmw:osType {written!r} is not a guest OS type Nova knows" in w
                   for w in report.warnings)


def test_capacity_units() -> None:
    text = of.ovf().replace(b'capacity="1048576" ovf:capacityAllocationUnits="byte"',
                            b'capacity="16" ovf:capacityAllocationUnits="byte * 2^30"')
    assert parse_ovf(text).disks[0].capacity == 16 << 30
    text = of.ovf().replace(b'capacity="1048576"', b'capacity="${disk_size}"')
    assert parse_ovf(text).disks[0].capacity is None


def test_ovf_2_namespace() -> None:
    text = of.ovf().replace(b"ovf/envelope/1", b"ovf/envelope/2")
    ovf = parse_ovf(text)
    assert ovf.version == "2.x" and ovf.disks[0].href == "disk.vmdk"


# ---------------------------------------------------------------- the OVF parser's defences


BOMB = (b'<!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        )


@pytest.mark.parametrize("data", [
    of.ovf(head="").replace(b"<Envelope", BOMB + b"<Envelope", 1),
    of.ovf().replace(b"<Envelope", b'<!DOCTYPE Envelope SYSTEM "file:///etc/passwd"><Envelope',
                     1),
    of.ovf().replace(b'encoding="UTF-8"', b'encoding="UTF-16"').replace(
        b"<Envelope", BOMB + b"<Envelope", 1).decode().encode("utf-16"),
])
def test_dtd_and_entities_are_refused(data: bytes) -> None:
    with pytest.raises(XmlRefused, match="DTD or entities"):
        parse_ovf(data)


def test_hostile_descriptor_in_a_package(tmp_path: Path) -> None:
    text = of.ovf().replace(b"<Envelope", BOMB + b"<Envelope", 1).replace(
        b"<Name>test-vm</Name>", b"<Name>&b;</Name>")
    report = judged(tmp_path, descriptor=text)
    assert not report.safe and not report.acceptable
    assert "the OVF descriptor declares a DTD or entities, which vmwctl never reads" in \
        report.problems
    assert "never reads an unsafe package" in report.remedy


def test_an_oversized_descriptor_is_refused(tmp_path: Path) -> None:
    text = of.ovf().replace(b"<Info>A virtual machine</Info>",
                            b"<Info>" + b"x" * OVF_MAX + b"</Info>")
    with pytest.raises(XmlRefused, match="larger than"):
        parse_ovf(text)
    report = judged(tmp_path, descriptor=text)
    assert f"the OVF descriptor has {len(text)} bytes (at most {OVF_MAX})" in report.problems


@pytest.mark.parametrize("text, problem", [
    (b"<Envelope/>", "not an OVF Envelope"),
    (b'<x xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>', "not an OVF Envelope"),
    (b'<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
     b'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"/>', "names no disk"),
])
def test_descriptors_that_are_no_ovf(text: bytes, problem: str) -> None:
    assert any(problem in p for p in parse_ovf(text).problems)


def test_a_malformed_descriptor(tmp_path: Path) -> None:
    report = judged(tmp_path, descriptor=b"<Envelope>")
    assert any("the OVF descriptor is not well-formed XML" in p for p in report.problems)
    assert report.safe


# ---------------------------------------------------------------- the manifest


def test_manifest_lines() -> None:
    digest = "ab" * 32
    entries, problems = parse_manifest(
        f"SHA256(a.ovf)= {digest}\r\nSHA1(b (1).vmdk)={'CD' * 20}\n\nMD5(c)= 00\n"
        f"SHA256(d)= {digest[:-2]}\n".encode())
    assert entries == [("SHA256", "a.ovf", digest), ("SHA1", "b (1).vmdk", "cd" * 20)]
    assert [p.split(":")[0] for p in problems] == ["manifest line 4 is not 'SHA256(name)= "
                                                   "digest'", "manifest line 5 is not "
                                                   "'SHA256(name)= digest'"]
    assert parse_manifest(b"\xff") == ([], ["the manifest is not UTF-8 text"])
    assert parse_manifest(b"\n") == ([], ["the manifest is empty"])


# ---------------------------------------------------------------- the tar stream


def tar_bytes(*infos: tuple[tarfile.TarInfo, bytes], format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as tar:
        for info, data in infos:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def names(data: bytes) -> list[tuple[str, int, bytes]]:
    out = []
    for member, chunks in read_members(io.BytesIO(data).read, size=len(data)):
        out.append((member.name, member.size, b"".join(chunks)))
    return out


@pytest.mark.parametrize("format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT,
                                    tarfile.USTAR_FORMAT])
def test_long_names_in_every_format(format: int) -> None:
    long = "d" * 90 + "/" + "n" * 60 + ".vmdk"  # fits ustar's prefix + name split
    data = tar_bytes((tarfile.TarInfo(long), b"abc"), (tarfile.TarInfo("x.ovf"), b""),
                     format=format)
    assert names(data) == [(long, 3, b"abc"), ("x.ovf", 0, b"")]


def test_non_ascii_names_through_pax() -> None:
    data = tar_bytes((tarfile.TarInfo("disque-é.vmdk"), b"z"))
    assert names(data) == [("disque-é.vmdk", 1, b"z")]


def test_unconsumed_data_is_skipped() -> None:
    data = tar_bytes((tarfile.TarInfo("a"), b"1" * 5000), (tarfile.TarInfo("b"), b"2"))
    assert [m.name for m, _ in read_members(io.BytesIO(data).read)] == ["a", "b"]


def header(name: bytes, size_field: bytes, flag: bytes = b"0") -> bytes:
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[124:136] = size_field
    block[156:157] = flag
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize("data, message", [
    (header(b"big.vmdk", b"\x80" + (1 << 70).to_bytes(11, "big")), "more than any disk holds"),
    (header(b"big.vmdk", b"%011o\0" % (1 << 30)), "beyond the end of the archive"),
    (header(b"PaxHeader", b"%011o\0" % (1 << 30), b"x") + bytes(1024), f"(at most {MAX_META})"),
    (header(b"././@LongLink", b"%011o\0" % (MAX_META + 1), b"L") + bytes(1024),
     f"(at most {MAX_META})"),
    (header(b"x", b"\xff" * 12) + bytes(1024), "a negative size"),
    (header(b"x", b"12345678901z") + bytes(1024), "a bad size field"),
    (header(b"PaxHeader", b"%011o\0" % 11, b"x") + b"99 path=x\n".ljust(512, b"\0")
     + bytes(1024), "a malformed pax header"),
    (header(b"a", b"%011o\0" % 0) + b"\x01" * 512, "a damaged header at byte 512"),
    (header(b"a", b"%011o\0" % 0) + b"\x01" * 100, "ends inside a header"),
])
def test_archives_that_cannot_be_read_on(data: bytes, message: str) -> None:
    with pytest.raises(TarError, match=re.escape(message)):
        names(data)


def test_a_member_cut_short() -> None:
    data = tar_bytes((tarfile.TarInfo("a.ovf"), b"x" * 3000))[:2048]
    with pytest.raises(TarError, match=re.escape("the archive ends inside 'a.ovf'")):
        list(m.name for m, chunks in read_members(io.BytesIO(data).read) if list(chunks))


def test_too_many_members() -> None:
    data = tar_bytes(*[(tarfile.TarInfo(f"m{n}"), b"") for n in range(MAX_MEMBERS + 1)])
    with pytest.raises(TarError, match=f"more than {MAX_MEMBERS} members"):
        names(data)


def test_a_truncated_package_is_judged(tmp_path: Path) -> None:
    path = of.build(tmp_path / "vm.ova")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    report = inspect_ova(path)
    assert not report.acceptable and not report.safe
    assert any(p.startswith("the archive cannot be read on: 'disk.vmdk' claims") for p in
               report.problems)


def test_bounded_memory_on_a_stream_of_unknown_size() -> None:
    """A pax header that claims a GiB is refused at its header, with no GiB read."""
    asked: list[int] = []
    stream = io.BytesIO(header(b"PaxHeader", b"%011o\0" % (1 << 30), b"x") + bytes(4096))

    def read(n: int) -> bytes:
        asked.append(n)
        return stream.read(n)

    report = read_ova(read, "stream", None)
    assert report.not_an_archive is None
    assert any("an extended header of 1073741824 bytes" in p for p in report.problems)
    assert max(asked) <= 1 << 20


# ---------------------------------------------------------------- files that are no OVA


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"hello", "less than a header"),
    (b"x" * 4096, "no valid header at its start"),
    (bytes(1024), "a tar archive with no member"),
])
def test_no_archive_at_all(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.ova"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        inspect_ova(path)


def test_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        inspect_ova(tmp_path / "none.ova")
    with pytest.raises(UsageError, match="is a directory"):
        inspect_ova(tmp_path)


def test_is_ova(tmp_path: Path) -> None:
    package = of.build(tmp_path / "vm.tar")
    assert is_ova(package)  # a tar whose first member is the descriptor
    assert is_ova(tmp_path / "missing.OVA")  # by its name: the reader then says what it is
    plain = of.write_members(tmp_path / "plain.tar", [("a.txt", b"x")])
    assert not is_ova(plain)
    disk = tmp_path / "disk.vmdk"
    disk.write_bytes(of.stream_vmdk())
    assert not is_ova(disk) and not is_ova(tmp_path / "missing.vmdk")


def test_stream_vmdk_is_what_vmdkfiles_builds() -> None:
    data = of.stream_vmdk(1 << 20, adapter="ide")
    assert data[:4] == b"KDMV" and struct.unpack_from("<Q", data, 12)[0] == 2048


# ---------------------------------------------------------------- image inspect FILE.ova

JSON_KEYS = {"path", "file_size", "format", "members", "descriptor", "ovf_version", "disks",
             "disk", "manifest", "manifest_algorithms", "signed", "hardware_version",
             "os_type", "controller", "disk_report", "properties", "safe", "acceptable",
             "problems", "warnings", "notes", "remedy"}


def test_inspect_command_on_a_good_package(vmwctl, tmp_path: Path) -> None:
    path = of.build(tmp_path / "vm.ova")
    result = vmwctl("image", "inspect", str(path), "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert set(document) == JSON_KEYS
    assert document["format"] == "ova" and document["acceptable"] is True
    assert document["properties"] == {"vmware_disktype": "streamOptimized",
                                      "vmware_adaptertype": "lsiLogic",
                                      "vmware_ostype": "ubuntu64Guest"}
    assert set(document["members"][0]) == {"name", "size", "kind", "role", "manifest"}
    assert set(document["disks"][0]) == {"id", "file_ref", "href", "capacity", "format",
                                         "file_size", "compression", "controller",
                                         "adapter_type"}
    assert document["disk_report"]["create_type"] == "streamOptimized"
    assert "not_a_disk" not in document["disk_report"]
    table = vmwctl("image", "inspect", str(path))
    assert table.exit_code == 0
    assert "disk.vmdk (disk, 264.0 KiB (270336 bytes), manifest ok)" in table.stdout
    assert "vmware_adaptertype  lsiLogic" in table.stdout


@pytest.mark.parametrize("knobs, problem", [
    ({"ovf_first": False}, "not the OVF descriptor"),
    ({"traversal": True}, "climbs out of the package's directory"),
    ({"mismatch": True}, "does not match the manifest"),
    ({"missing_disk": True}, "is not in the package"),
    ({"symlink": True}, "is a symbolic link to '/etc/passwd'"),
])
def test_inspect_command_on_broken_packages(vmwctl, tmp_path: Path, knobs: dict,
                                            problem: str) -> None:
    result = vmwctl("image", "inspect", str(of.build(tmp_path / "vm.ova", **knobs)), "-o",
                    "json")
    assert result.exit_code == 1, result.stderr
    document = result.json()
    assert document["acceptable"] is False and document["remedy"]
    assert any(problem in p for p in document["problems"]), document["problems"]


def test_inspect_command_warns_of_sha1_and_passes(vmwctl, tmp_path: Path) -> None:
    result = vmwctl("image", "inspect", str(of.build(tmp_path / "vm.ova", algorithm="sha1")))
    assert result.exit_code == 0
    assert "vSphere 7.0 and later refuse" in result.stdout


def test_inspect_command_on_what_is_no_package(vmwctl, tmp_path: Path) -> None:
    (tmp_path / "x.ova").write_text("not a package\n" * 100)
    result = vmwctl("image", "inspect", str(tmp_path / "x.ova"))
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {tmp_path / 'x.ova'} is not an OVA: not a tar archive "
                             "(no valid header at its start); give the .ova file exported from "
                             "vCenter or ovftool\n")
    plain = of.write_members(tmp_path / "files.tar", [("a.txt", b"x")])
    result = vmwctl("image", "inspect", str(plain))
    assert result.exit_code == 2 and "it is a tar archive" in result.stderr
