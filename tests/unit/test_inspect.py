"""``image inspect`` on files qemu-img really makes and on hand-built bad ones.

oslo.utils' format inspector (what Glance and Nova run) serves as an oracle:
whatever it calls unsafe, vmwctl must too.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest
import vmdkfiles as vf

from vmwctl.images.inspector import HEAD_BYTES, inspect_file, inspect_source
from vmwctl.images.vmdk import DESCRIPTOR_MAX, FOOTER_REGION

SUBFORMATS = ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
              "twoGbMaxExtentFlat", "streamOptimized"]
ADAPTERS = {"ide": "ide", "lsilogic": "lsiLogic", "buslogic": "busLogic", "legacyESX": None}


def qemu_img(*args: str | Path) -> None:
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True)


def oslo_safe(path: Path) -> bool | None:
    """oslo.utils' verdict for a file it detects as vmdk; None when it sees another format."""
    return {"safe": True, "unsafe": False, "other": None}[vf.oslo_verdict(str(path))]


def inspect_cli(vmwctl, path: Path) -> tuple[int, dict]:
    result = vmwctl("image", "inspect", str(path), "-o", "json")
    return result.exit_code, result.json()


# ------------------------------------------------------------------ what qemu-img makes

@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_every_qemu_subformat_and_adapter(vmwctl, tmp_path: Path, subformat: str,
                                          adapter: str) -> None:
    path = tmp_path / "disk.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", f"subformat={subformat},adapter_type={adapter}",
             path, "64M")
    code, report = inspect_cli(vmwctl, path)
    assert report["format"] == "vmdk"
    assert report["create_type"] == subformat
    assert report["descriptor_adapter_type"] == adapter
    assert report["vmware_adaptertype"] == ADAPTERS[adapter]
    assert report["virtual_size"] == 64 << 20
    assert report["hardware_version"] == "4"
    expected_type = {"monolithicSparse": "sparse", "streamOptimized": "streamOptimized",
                     "monolithicFlat": "preallocated", "twoGbMaxExtentFlat": "preallocated",
                     "twoGbMaxExtentSparse": None}[subformat]
    assert report["vmware_disktype"] == expected_type
    acceptable = subformat in ("monolithicSparse", "streamOptimized")
    assert report["safe"] is acceptable
    assert report["glance_accepts"] is acceptable
    assert code == (0 if acceptable else 1)
    if acceptable:
        assert report["problems"] == []
        assert report["compressed"] is (subformat == "streamOptimized")
    else:
        assert "OpenStack accepts only monolithicSparse and streamOptimized" in \
            " ".join(report["problems"])
    assert oslo_safe(path) in (acceptable, None)


def test_flat_extent_is_raw_data_tied_to_its_descriptor(vmwctl, tmp_path: Path) -> None:
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat,adapter_type=buslogic",
             tmp_path / "disk.vmdk", "8M")
    code, report = inspect_cli(vmwctl, tmp_path / "disk-flat.vmdk")
    assert code == 1
    assert (report["format"], report["create_type"], report["vmware_disktype"],
            report["vmware_adaptertype"]) == ("raw", "monolithicFlat", "preallocated",
                                              "busLogic")
    assert report["safe"] is True and report["glance_accepts"] is False
    assert "require_image_format_match" in report["problems"][0]
    assert any("the file to upload for vmware_disktype=preallocated" in n
               for n in report["notes"])
    code, report = inspect_cli(vmwctl, tmp_path / "disk.vmdk")
    assert report["extents"][0]["present"] is True
    assert any("'vmwctl image upload disk.vmdk' sends its extent disk-flat.vmdk with "
               "vmware_disktype=preallocated" in n for n in report["notes"])


def test_thin_vmfs_descriptor(vmwctl, tmp_path: Path) -> None:
    (tmp_path / "d.vmdk").write_text(
        '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
        'createType="vmfs"\nRW 16384 VMFS "d-flat.vmdk"\nddb.adapterType = "lsilogic"\n'
        'ddb.thinProvisioned = "1"\n')
    code, report = inspect_cli(vmwctl, tmp_path / "d.vmdk")
    assert code == 1
    assert (report["create_type"], report["vmware_disktype"]) == ("vmfs", "thin")
    assert report["extents"][0]["present"] is False
    assert "extent d-flat.vmdk is missing" in report["notes"]


def test_zeroed_grain_and_hardware_version_options(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "z.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "zeroed_grain=on,hwversion=13", path, "16M")
    code, report = inspect_cli(vmwctl, path)
    assert code == 0
    assert (report["header_version"], report["hardware_version"]) == (2, "13")


def test_stream_optimized_with_data(vmwctl, tmp_path: Path) -> None:
    raw = tmp_path / "data.raw"
    with open(raw, "wb") as handle:
        handle.truncate(32 << 20)
        handle.seek(5 << 20)
        handle.write(os.urandom(3 << 20))
    qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw,
             tmp_path / "so.vmdk")
    code, report = inspect_cli(vmwctl, tmp_path / "so.vmdk")
    assert code == 0
    assert report["file_size"] > 3 << 20
    assert report["allocated_size"] >= report["file_size"] // 2


@pytest.mark.parametrize(("fmt", "name", "size"), [
    ("qcow2", "qcow2", 16 << 20), ("vpc", "vhd", None), ("vhdx", "vhdx", None),
    ("vdi", "vdi", 16 << 20), ("qed", "qed", 16 << 20), ("raw", "raw", 16 << 20),
])
def test_other_formats_are_named_with_a_hint(vmwctl, tmp_path: Path, fmt: str, name: str,
                                             size: int | None) -> None:
    path = tmp_path / f"disk.{name}"
    qemu_img("create", "-f", fmt, path, "16M")
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert report["format"] == name
    if size is not None:
        assert report["virtual_size"] == size
    assert report["remedy"] == f"vmwctl image convert disk.{name} OUT.vmdk"
    assert report["glance_accepts"] is False


def test_unreadable_input_exits_2(vmwctl, tmp_path: Path) -> None:
    result = vmwctl("image", "inspect", str(tmp_path / "missing.vmdk"))
    assert (result.exit_code, result.stderr) == (2, f"Error: {tmp_path}/missing.vmdk: no such "
                                                    "file\n")
    result = vmwctl("image", "inspect", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


# ------------------------------------------------------------------ hand-built files

def hand_stream(tmp_path: Path, name: str = "s.vmdk", **kwargs) -> Path:
    data = bytearray(1 << 20)
    data[:4096] = os.urandom(4096)
    path = tmp_path / name
    path.write_bytes(vf.stream_optimized(bytes(data), **kwargs))
    return path


def test_vmware_style_stream_file_is_safe(vmwctl, tmp_path: Path) -> None:
    path = hand_stream(tmp_path)
    subprocess.run(["qemu-img", "check", str(path)], check=True, capture_output=True)
    code, report = inspect_cli(vmwctl, path)
    assert code == 0, report["problems"]
    assert oslo_safe(path) is True


def rewrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset if offset >= 0 else os.path.getsize(path) + offset)
        handle.write(data)


def sparse_file(tmp_path: Path, desc: bytes, **kwargs) -> Path:
    path = tmp_path / "bad.vmdk"
    path.write_bytes(vf.sparse_with_descriptor(desc, **kwargs))
    return path


BAD_DESCRIPTORS = {
    "absolute extent": (vf.descriptor("monolithicSparse", extent='"/etc/passwd"'),
                        "contains a path separator"),
    "relative escape": (vf.descriptor("monolithicSparse", extent='"../other.vmdk"'),
                        "contains a path separator"),
    "dot-dot name": (vf.descriptor("monolithicSparse", extent='"..other.vmdk"'),
                     "contains '..'"),
    "unknown line": (vf.descriptor("monolithicSparse", extra="this is not vmdk\n"),
                     "unknown or malformed line"),
    "malformed extent": (vf.descriptor("monolithicSparse", extent='"x.vmdk" junk'),
                         "malformed extent line"),
    "flat subformat": (vf.descriptor("monolithicFlat", kind="FLAT", extent='"x-flat.vmdk" 0'),
                       "is not monolithicSparse or streamOptimized"),
    "delta disk": (vf.descriptor("monolithicSparse", extra='parentFileNameHint="base.vmdk"\n'),
                   "delta disk"),
    "no extents": (b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicSparse"\n',
                   "lists no extent"),
    "two extents": (vf.descriptor("monolithicSparse") + b'RW 8 SPARSE "b.vmdk"\n',
                    "lists 2 extents"),
    "not ascii": (vf.descriptor("monolithicSparse").replace(b"CID", "CÏD".encode()),
                  "not ASCII"),
}


@pytest.mark.parametrize("case", list(BAD_DESCRIPTORS))
def test_bad_embedded_descriptors_are_unsafe(vmwctl, tmp_path: Path, case: str) -> None:
    desc, reason = BAD_DESCRIPTORS[case]
    path = sparse_file(tmp_path, desc)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert report["safe"] is False
    assert reason in " ".join(report["problems"]), report["problems"]


def test_cve_2022_47951_capacity_zero_descriptor(vmwctl, tmp_path: Path) -> None:
    """A sparse header with capacity 0 whose descriptor names a host file (qemu follows it)."""
    desc = vf.descriptor("monolithicFlat", kind="FLAT", extent='"/etc/hostname" 0')
    path = sparse_file(tmp_path, desc, capacity=0)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    problems = " ".join(report["problems"])
    assert "capacity 0" in problems and "CVE-2022-47951" in problems
    assert "contains a path separator" in problems
    assert oslo_safe(path) is False


def test_descriptor_file_naming_host_files_is_unsafe(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "evil.vmdk"
    path.write_bytes(vf.descriptor("monolithicFlat", kind="FLAT", extent='"/etc/shadow" 0'))
    code, report = inspect_cli(vmwctl, path)
    assert code == 1 and report["safe"] is False
    assert "contains a path separator" in " ".join(report["problems"])
    assert report["extents"][0]["present"] is None  # never looked up


@pytest.mark.parametrize(("offset", "data", "reason"), [
    (4, struct.pack("<I", 4), "unsupported header version 4"),
    (28, struct.pack("<Q", 2), "not at sector 1"),
    (20, struct.pack("<Q", 100), "grain size 100"),
    (44, struct.pack("<I", 4096), "4096 entries per grain table"),
    (73, b"\n \n\n", "text-mode transfer"),
    (77, struct.pack("<H", 7), "unknown compression algorithm 7"),
    (56, struct.pack("<Q", 10_000_000), "grain directory lies beyond the end"),
])
def test_bad_headers_are_unsafe(vmwctl, tmp_path: Path, offset: int, data: bytes,
                                reason: str) -> None:
    path = sparse_file(tmp_path, vf.descriptor("monolithicSparse"))
    rewrite(path, offset, data)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert reason in " ".join(report["problems"]), report["problems"]


def test_truncated_headers_are_unsafe_not_unreadable(vmwctl, tmp_path: Path) -> None:
    path = tmp_path / "t.vmdk"
    path.write_bytes(b"KDMV" + b"\x01" * 96)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert "truncated header" in report["problems"][0]
    full = vf.sparse_with_descriptor(vf.descriptor("monolithicSparse"))
    path.write_bytes(full[:700])
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert any("truncated file" in p for p in report["problems"])


FOOTER_DAMAGE = {
    "trailing bytes": (None, b"\0" * 512, "footer marker"),
    "footer magic": (-1024, b"XXXX", "no KDMV signature in the footer"),
    "footer version": (-1020, struct.pack("<I", 1), "version differs"),
    "footer descriptor": (-996, struct.pack("<Q", 9), "different descriptor"),
    "footer points at a footer": (-968, struct.pack("<Q", vf.GD_AT_END), "yet another footer"),
    "footer marker type": (-1528, struct.pack("<I", 2), "footer marker is missing"),
    "marker padding": (-1400, b"\x01", "footer marker is missing"),
    "eos type": (-504, struct.pack("<I", 1), "end-of-stream marker"),
    "eos padding": (-10, b"\x01", "end-of-stream marker"),
}


@pytest.mark.parametrize("case", list(FOOTER_DAMAGE))
def test_bad_footers_are_unsafe(vmwctl, tmp_path: Path, case: str) -> None:
    offset, data, reason = FOOTER_DAMAGE[case]
    path = hand_stream(tmp_path)
    if offset is None:
        with open(path, "ab") as handle:
            handle.write(data)
    else:
        rewrite(path, offset, data)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert any(reason in p for p in report["problems"]), report["problems"]
    assert oslo_safe(path) is not True


def test_stream_file_cut_before_its_footer(vmwctl, tmp_path: Path) -> None:
    path = hand_stream(tmp_path)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - 2048)
    code, report = inspect_cli(vmwctl, path)
    assert code == 1
    assert any(p.startswith("bad footer") for p in report["problems"])
    assert oslo_safe(path) is not True


# ------------------------------------------------------------------ O(1) reading

class CountingReader:
    def __init__(self, path: Path) -> None:
        self.handle = open(path, "rb")  # noqa: SIM115
        self.bytes = 0
        self.calls = 0

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls += 1
        self.bytes += length
        return os.pread(self.handle.fileno(), length, offset)


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_inspect_reads_the_same_few_bytes_whatever_the_size(tmp_path: Path,
                                                            subformat: str) -> None:
    counts = []
    for size in ("10M", "10G"):
        path = tmp_path / f"{size}.vmdk"
        qemu_img("create", "-f", "vmdk", "-o", f"subformat={subformat}", path, size)
        reader = CountingReader(path)
        report = inspect_source(str(path), path.stat().st_size, reader)
        assert report.safe
        counts.append((reader.calls, reader.bytes))
    assert counts[0][0] == counts[1][0] <= 3
    assert max(b for _, b in counts) <= HEAD_BYTES + DESCRIPTOR_MAX + FOOTER_REGION


def test_inspect_of_a_huge_sparse_raw_file_reads_head_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "big.raw"
    with open(path, "wb") as handle:
        handle.truncate(50 << 30)
    reader = CountingReader(path)
    report = inspect_source(str(path), path.stat().st_size, reader)
    assert report.format == "raw"
    assert reader.bytes <= HEAD_BYTES + 512


def test_inspect_file_matches_inspect_source(tmp_path: Path) -> None:
    path = hand_stream(tmp_path)
    assert inspect_file(path).safe
