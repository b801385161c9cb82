"""Hostile and broken OVA packages: the tar reader and the OVF reader never crash.

Through ``image inspect`` a package is judged (exit 0 only when Nova boots
it, 1 when it is broken or unsafe) or is no tar at all (2, one line); through
``image upload`` anything not acceptable is refused before Glance is asked
(exit 2, one line). Nothing is ever extracted: the folder holding the package
holds nothing else afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from pathlib import Path

import ovafiles as of
from helpers import run_vmwctl
from hypothesis import event, example, given
from hypothesis import strategies as st
from test_fuzz_parsers import CLI_FUZZ, FUZZ, judged, nasty_text, scratch, xml_text

from vmwctl.common.safexml import XmlRefused
from vmwctl.errors import UsageError
from vmwctl.images.ova import inspect_ova, parse_manifest, parse_ovf, read_ova
from vmwctl.images.upload import UploadRequest, plan_upload

DISK = of.stream_vmdk(64 << 10)
GOOD = of.Ova(disk=DISK, descriptor=of.ovf(capacity=64 << 10, file_size=len(DISK)))


def package_bytes(members: list[tuple[str, bytes]]) -> bytes:
    with scratch() as tmp:
        return of.write_members(Path(tmp) / "p.ova", members).read_bytes()


GOOD_BYTES = package_bytes(GOOD.members())


def judge(data: bytes, *, allowed: set[int], upload: bool = False) -> object:
    """Inspect ``data`` as x.ova in process and through the command; nothing is extracted.

    Returns the report, or the UsageError for what is no tar at all."""
    with scratch() as tmp:
        path = Path(tmp) / "x.ova"
        path.write_bytes(data)
        try:
            report = inspect_ova(path)
        except UsageError as exc:
            report = exc
        for fmt in ("json", "table"):
            result = run_vmwctl("image", "inspect", str(path), "-o", fmt)
            judged(result, allowed)
            if isinstance(report, UsageError):
                assert result.exit_code == 2
            else:
                assert result.exit_code == (0 if report.acceptable else 1)
                if fmt == "json":
                    assert json.loads(result.stdout)["acceptable"] == report.acceptable
        if upload and (isinstance(report, UsageError) or not report.acceptable):
            try:
                plan_upload(UploadRequest(path=path, name="fuzz"))
            except UsageError as exc:
                assert "\n" not in exc.message
            else:
                raise AssertionError("a package that is not acceptable was planned")
        assert [p.name for p in Path(tmp).iterdir()] == ["x.ova"]
    return report


# ---------------------------------------------------------------- any bytes, any edit


@CLI_FUZZ
@given(st.binary(max_size=3000))
@example(b"")
@example(bytes(1024))
@example(GOOD_BYTES[:512])
@example(GOOD_BYTES[:1000])
def test_any_bytes_as_an_ova(data: bytes) -> None:
    judge(data, allowed={1, 2}, upload=True)


@CLI_FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD_BYTES) - 1), st.integers(0, 255)),
                min_size=1, max_size=8),
       st.integers(0, len(GOOD_BYTES)))
def test_byte_edits_and_cuts_of_a_good_package(edits, cut) -> None:
    """Headers (names, sizes, checksums, types), the OVF, the manifest, the disk: any byte
    changed, the package cut anywhere. An edit that changes a member's data or a header is
    never acceptable; one in padding may be."""
    data = bytearray(GOOD_BYTES)
    for position, value in edits:
        data[position] = value
    data = bytes(data[:cut] if cut >= 512 else data)
    report = judge(data, allowed={0, 1, 2}, upload=True)
    event(f"acceptable {getattr(report, 'acceptable', 'no tar')}")
    if not isinstance(report, UsageError) and report.acceptable:
        assert [(m.name, m.size) for m in report.members] == [
            (m.name, m.size) for m in inspect_ova_bytes(GOOD_BYTES).members]


def inspect_ova_bytes(data: bytes):
    return read_ova(io.BytesIO(data).read, "bytes", len(data))


# ---------------------------------------------------------------- hostile members


member_name = st.one_of(st.sampled_from(["../x.vmdk", "/etc/passwd", "a/../../x", "./disk.vmdk",
                                         "disk.vmdk", "test-vm.ovf", "x.mf", "..", "/", "",
                                         "a\\..\\b", "d\nx", "\x1b[2Jx", "é.vmdk",
                                         "disk.vmdk.orig", "x" * 300]),
                        nasty_text)
member_kind = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                               tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
                               tarfile.CONTTYPE, b"S", b"Z"])


@FUZZ
@given(st.lists(st.tuples(member_name, member_kind, member_name, st.binary(max_size=64)),
                min_size=1, max_size=5),
       st.integers(0, 3),
       st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
def test_hostile_members_around_a_good_package(entries, where, format) -> None:
    """Links, devices, directories and names that climb out, placed anywhere among the good
    members, in every tar format: never acceptable when one is there, never extracted."""
    buffer = io.BytesIO()
    good = GOOD.members()
    hostile = False
    try:
        with tarfile.open(fileobj=buffer, mode="w", format=format) as tar:
            added = []
            for name, kind, link, data in entries:
                info = tarfile.TarInfo(name)
                info.type = kind
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = link
                if kind in (tarfile.REGTYPE, tarfile.CONTTYPE, b"S", b"Z"):
                    info.size = len(data)
                added.append((info, data))
            ordered = [(tarfile.TarInfo(n), d) for n, d in good]
            for info, data in ordered:
                info.size = len(data)
            ordered[where:where] = added
            for info, data in ordered:
                tar.addfile(info, io.BytesIO(data) if info.size else None)
    except (ValueError, UnicodeEncodeError):
        event("tarfile cannot write it")
        return  # tarfile cannot write that name in this format; nothing to judge
    for info, _ in added:
        hostile = hostile or info.type not in (tarfile.REGTYPE, tarfile.CONTTYPE) \
            or ".." in info.name.replace("\\", "/").split("/") or info.name.startswith("/")
    report = judge(buffer.getvalue(), allowed={1, 2} if hostile else {0, 1, 2}, upload=True)
    event(f"hostile {hostile}, acceptable {getattr(report, 'acceptable', 'no tar')}")
    if hostile and not isinstance(report, UsageError):
        assert not report.acceptable


# ---------------------------------------------------------------- the OVF and the manifest


def descriptor_judged(text: bytes) -> None:
    """The descriptor parsed (or refused as XML), then judged in a package with a good disk."""
    with contextlib.suppress(XmlRefused):
        parse_ovf(text)
    judge(package_bytes([("test-vm.ovf", text), ("disk.vmdk", DISK)]), allowed={0, 1})


ovf_fields = st.dictionaries(
    st.sampled_from(["href", "os_type", "hardware", "disk_format", "controller", "prefix"]),
    xml_text, max_size=4)


@FUZZ
@given(ovf_fields, st.sampled_from(["", "<!DOCTYPE Envelope>", '<?xml version="1.0"?>',
                                    "\ufeff", '<!ENTITY x "y">']))
def test_hostile_descriptor_values(fields, head) -> None:
    """Any text in the descriptor's attributes and elements, declarations in front."""
    controller = fields.pop("controller", "lsilogic")
    if controller not in of.CONTROLLERS:
        controller = "lsilogic"
    prefix = fields.pop("prefix", "ovf")
    if not prefix.isidentifier():
        prefix = "ovf"
    try:
        text = of.ovf(controller=controller, prefix=prefix, head=head, **fields)
    except UnicodeEncodeError:
        return  # a lone surrogate: no descriptor can hold it
    descriptor_judged(text)


@CLI_FUZZ
@given(st.binary(max_size=600), st.integers(0, 3))
@example(b'<?xml version="1.0" encoding="utf-16"?><!DOCTYPE a [<!ENTITY x "y">]><a/>', 0)
@example("<Envelope>".encode("utf-16"), 0)
@example(b"<Envelope>" * 5000, 0)
def test_any_descriptor_bytes(raw: bytes, where: int) -> None:
    good = of.ovf(capacity=64 << 10, file_size=len(DISK))
    text = good[:len(good) * where // 4] + raw + good[len(good) * where // 4:] if where else raw
    descriptor_judged(text)


manifest_line = st.one_of(
    st.sampled_from(["SHA256(disk.vmdk)= " + "0" * 64, "SHA1(disk.vmdk)=" + "a" * 40,
                     "SHA512(test-vm.ovf)= " + "f" * 128, "SHA256()= ", "SHA256(../x)= 00",
                     "MD5(disk.vmdk)= 00", "SHA256(disk.vmdk) = " + "G" * 64, "\x00", "\r"]),
    st.text(max_size=40))


@FUZZ
@given(st.lists(manifest_line, max_size=6))
def test_hostile_manifests(lines) -> None:
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    entries, problems = parse_manifest(text)
    assert all(len(digest) in (40, 64, 128) for _, _, digest in entries)
    members = GOOD.members()
    report = judge(package_bytes([members[0], ("test-vm.mf", text), members[2]]),
                   allowed={0, 1})
    if problems:
        assert not report.acceptable


# ---------------------------------------------------------------- Nova's fetch from a stream


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD_BYTES) - 1), st.integers(0, 255)),
                max_size=8),
       st.integers(0, len(GOOD_BYTES)), st.integers(1, 5000))
def test_cache_seeds_reading_of_any_edited_package_fails_only_in_one_line(edits, cut,
                                                                        chunk) -> None:
    """ova_disk (cache seed's fetch_image_ova) on any edit or cut of a good package, in any
    chunking: the disk and the rest stream, or one OperationFailed line; never a crash."""
    from vmwctl.errors import OperationFailed
    from vmwctl.images.ova import ova_disk

    data = bytearray(GOOD_BYTES)
    for position, value in edits:
        data[position] = value
    data = bytes(data[:cut])
    try:
        disk = ova_disk((data[i:i + chunk] for i in range(0, len(data), chunk)), "image x")
        body = b"".join(disk.data)
        disk.rest()
    except OperationFailed as exc:
        assert exc.message.startswith("image x: ") and "\n" not in exc.message
        event("failed")
    else:
        assert len(body) == disk.size
        if not edits and cut == len(GOOD_BYTES):
            assert body == DISK
        event("streamed")
