"""``image convert`` with the real qemu-img."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import vmdkfiles as vf
from helpers import child_processes

ADAPTERS = {"ide": "ide", "lsiLogic": "lsilogic", "busLogic": "buslogic"}


def make_raw(path: Path, size: int = 16 << 20) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset in range(0, size, 4 << 20):
            handle.seek(offset)
            handle.write(os.urandom(65536))
    return path


def identical(first: Path, first_format: str, second: Path) -> bool:
    done = subprocess.run(["qemu-img", "compare", "-f", first_format, "-F", "vmdk", str(first),
                           str(second)], capture_output=True, text=True, check=False)
    return done.returncode == 0


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".vmwctl-convert"))


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize(("disktype", "create_type"), [
    ("streamOptimized", "streamOptimized"), ("sparse", "monolithicSparse"),
    ("preallocated", "monolithicFlat"), ("thin", "monolithicFlat")])
def test_convert_each_disktype_and_adapter(vmwctl, tmp_path: Path, disktype: str,
                                           create_type: str, adapter: str) -> None:
    source = make_raw(tmp_path / "src.raw")
    dest = tmp_path / "out.vmdk"
    result = vmwctl("image", "convert", str(source), str(dest), "--disktype", disktype,
                    "--adapter-type", adapter, "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    plan = document["plan"]
    assert plan["subformat"] == create_type
    assert plan["adapter_type"] == adapter
    assert identical(source, "raw", dest)
    inspected = vmwctl("image", "inspect", str(dest), "-o", "json").json()
    assert inspected["create_type"] == create_type
    assert inspected["descriptor_adapter_type"] == ADAPTERS[adapter]
    if create_type == "monolithicFlat":
        flat = tmp_path / "out-flat.vmdk"
        assert plan["upload_file"] == str(flat)
        assert flat.stat().st_size == 16 << 20
        assert document["report"]["vmware_disktype"] == disktype
        # the pair as inspect reads it: its one extent whole, beside it, nothing refused
        assert inspected["vmware_disktype"] == disktype
        assert inspected["extents"] == [{"access": "RW", "sectors": 32768, "type": "FLAT",
                                         "filename": "out-flat.vmdk", "present": True,
                                         "size": 16 << 20}]
        assert inspected["remedy"] == "vmwctl image convert out.vmdk OUT.vmdk"
        assert ('ddb.thinProvisioned = "1"' in dest.read_text()) == (disktype == "thin")
    else:
        assert plan["upload_file"] == str(dest)
        assert document["report"]["safe"] and document["report"]["glance_accepts"]
    assert leftovers(tmp_path) == []


def test_convert_qcow2_and_keep_a_vmdk_sources_adapter(vmwctl, tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "src.raw")
    qcow2 = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
                   check=True)
    assert vmwctl("image", "convert", str(qcow2), str(tmp_path / "a.vmdk")).exit_code == 0
    assert identical(qcow2, "qcow2", tmp_path / "a.vmdk")

    sparse = tmp_path / "lsi.vmdk"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "adapter_type=lsilogic", str(raw), str(sparse)], check=True)
    result = vmwctl("image", "convert", str(sparse), str(tmp_path / "b.vmdk"), "-o", "json")
    assert result.json()["plan"]["adapter_type"] == "lsiLogic"
    assert result.json()["plan"]["source_format"] == "vmdk"


def patchy_raw(path: Path, size: int = (40 << 20) + 3 * 512) -> Path:
    """Data that is neither grain- nor cluster-aligned, zero grains inside data, a tail
    that ends mid-grain, and holes; a size that is no multiple of 64 KiB."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, length in ((0, 512), (70_000, 200_000), (5 << 20, 3 << 20),
                               ((20 << 20) + 4096, 1), (size - 2048, 2048)):
            handle.seek(offset)
            handle.write(os.urandom(length))
        handle.seek(6 << 20)
        handle.write(bytes(128 << 10))  # zeros written: allocated, but zero grains
    return path


@pytest.mark.parametrize(("fmt", "options"), [
    ("qcow2", []), ("qcow2", ["-c"]), ("qcow2", ["-o", "cluster_size=2M"]),
    ("qcow2", ["-o", "cluster_size=4096"]), ("vpc", []), ("vpc", ["-o", "subformat=fixed"]),
    ("vdi", []), ("vmdk", []), ("vmdk", ["-o", "subformat=streamOptimized"]), ("vhdx", []),
    ("qed", [])])
def test_native_writer_reads_each_format_through_qemu_nbd(vmwctl, tmp_path: Path, monkeypatch,
                                                          fmt: str, options: list[str]) -> None:
    """qemu-nbd serves the source, the NBD client reads its data extents: the output
    holds the source's data (qemu-img compare), and nothing but the output was written."""
    raw = patchy_raw(tmp_path / "src.raw")
    source = tmp_path / f"src.{fmt}"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, *options, str(raw),
                    str(source)], check=True)
    out = tmp_path / "out" / "o.vmdk"
    out.parent.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # TMPDIR, as this process reads it
    result = vmwctl("image", "convert", str(source), str(out), "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["plan"]["source_format"] == fmt
    assert identical(source, fmt, out)
    assert identical(raw, "raw", out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.vmdk"]
    assert list(tmp.iterdir()) == []
    assert not child_processes("qemu-nbd")


def test_dry_run_prints_the_exact_command(vmwctl, tmp_path: Path) -> None:
    source = make_raw(tmp_path / "src.raw")
    result = vmwctl("image", "convert", str(source), str(tmp_path / "o.vmdk"), "--dry-run",
                    "--engine", "qemu")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        f"qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=ide "
        f"{source} {tmp_path / 'o.vmdk'}")
    assert not (tmp_path / "o.vmdk").exists()
    assert "-S 0" not in result.stdout and " -t " not in result.stdout
    native = vmwctl("image", "convert", str(source), str(tmp_path / "o.vmdk"), "--dry-run")
    assert native.stdout.startswith(
        f"{source} -> vmwctl's streamOptimized writer (isal+libdeflate, ")
    assert "# engine native" in native.stdout
    qcow2 = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(source), str(qcow2)], check=True)
    via_nbd = vmwctl("image", "convert", str(qcow2), str(tmp_path / "o.vmdk"), "--dry-run")
    assert via_nbd.stdout.startswith(
        f"qemu-nbd --read-only --format=qcow2 --shared=4 --socket=TEMPDIR/nbd.sock "
        f"--cache=writeback --aio=threads {qcow2} (read-only, in a private directory; its "
        "allocated extents read over 4 NBD connections) -> vmwctl's streamOptimized writer")
    thin = vmwctl("image", "convert", str(source), str(tmp_path / "o.vmdk"), "--dry-run",
                  "--disktype", "thin")
    assert thin.stdout.splitlines()[:2] == [
        f"qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat,adapter_type=ide "
        f"{source} {tmp_path / 'o.vmdk'} -> ddb.thinProvisioned = \"1\" added to "
        f"{tmp_path / 'o.vmdk'}",
        f"# engine qemu: would write {tmp_path / 'o.vmdk'}, {tmp_path / 'o-flat.vmdk'} (through "
        "a temporary directory beside the destination, renamed into place when complete); "
        "dry run: nothing written"]
    assert not (tmp_path / "o-flat.vmdk").exists()
    wrong = vmwctl("image", "convert", str(source), str(tmp_path / "o.vmdk"), "--engine",
                   "native", "--disktype", "sparse")
    assert wrong.exit_code == 2 and "streamOptimized only" in wrong.stderr


def compressed_qcow2_with_bad_data(path: Path) -> Path:
    """A qcow2 whose tables are sound (qemu-img check passes) but whose first compressed
    cluster does not decompress: qemu-img convert fails while reading it."""
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as handle:
        handle.write((b"compressible " * 400_000)[:4 << 20])
        handle.truncate(8 << 20)
    subprocess.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(raw),
                    str(path)], check=True, capture_output=True)
    raw.unlink()
    data = bytearray(path.read_bytes())
    cluster_bits = int.from_bytes(data[20:24], "big")
    l1_offset = int.from_bytes(data[40:48], "big")
    l2_offset = int.from_bytes(data[l1_offset:l1_offset + 8], "big") & 0x00FFFFFFFFFFFE00
    entry = int.from_bytes(data[l2_offset:l2_offset + 8], "big")
    assert entry >> 62 & 1, "the first cluster is not compressed"
    offset = entry & ((1 << (62 - (cluster_bits - 8))) - 1)
    data[offset + 10:offset + 200] = bytes(190)
    path.write_bytes(data)
    assert subprocess.run(["qemu-img", "check", str(path)], capture_output=True).returncode == 0
    return path


def test_qemu_failure_leaves_nothing(vmwctl, tmp_path: Path) -> None:
    broken = compressed_qcow2_with_bad_data(tmp_path / "broken.qcow2")
    for engine, says in (("native", "Error: qemu-nbd failed: reading from file failed: "
                                    "Input/output error\n"),
                         ("qemu", "Error: qemu-img failed: ")):
        result = vmwctl("image", "convert", str(broken), str(tmp_path / "o.vmdk"), "--engine",
                        engine)
        assert result.exit_code == 1
        assert result.stderr.startswith(says)
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "o.vmdk").exists()
        assert leftovers(tmp_path) == []


def test_existing_destination_and_force(vmwctl, tmp_path: Path) -> None:
    source = make_raw(tmp_path / "src.raw")
    dest = tmp_path / "o.vmdk"
    dest.write_text("keep me")
    result = vmwctl("image", "convert", str(source), str(dest))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {dest} exists; pass --force to replace it\n"
    assert dest.read_text() == "keep me"
    assert vmwctl("image", "convert", str(source), str(dest), "--force").exit_code == 0
    assert identical(source, "raw", dest)


@pytest.mark.parametrize(("args", "message"), [
    (["--disktype", "thick"], "'thick' is not a valid disk type (did you mean 'thin'?); "
                              "valid values: streamOptimized, sparse, preallocated, thin"),
    (["--adapter-type", "paraVirtual"], "'paraVirtual' is not a valid adapter type; valid "
                                        "values: ide, lsiLogic, busLogic"),
    (["--disktype", "streamoptimised"], "(did you mean 'streamOptimized'?)"),
])
def test_bad_flags(vmwctl, tmp_path: Path, args: list[str], message: str) -> None:
    source = make_raw(tmp_path / "src.raw")
    result = vmwctl("image", "convert", str(source), str(tmp_path / "o.vmdk"), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_destination_must_be_a_vmdk_name(vmwctl, tmp_path: Path) -> None:
    source = make_raw(tmp_path / "src.raw")
    result = vmwctl("image", "convert", str(source), str(tmp_path / "o.img"))
    assert result.exit_code == 2
    assert "must end in .vmdk" in result.stderr


def test_unsafe_vmdk_source_is_never_read(vmwctl, tmp_path: Path) -> None:
    evil = tmp_path / "evil.vmdk"
    evil.write_bytes(vf.descriptor("monolithicFlat", kind="FLAT", extent='"/etc/hostname" 0'))
    result = vmwctl("image", "convert", str(evil), str(tmp_path / "o.vmdk"))
    assert result.exit_code == 2
    assert "CVE-2022-47951" in result.stderr
    assert not (tmp_path / "o.vmdk").exists()


@pytest.mark.parametrize("engine, mib, pause", [("qemu", 256, 0.3), ("native", 512, 0.0)])
def test_sigint_during_conversion_leaves_nothing(tmp_path: Path, engine: str, mib: int,
                                                 pause: float) -> None:
    source = tmp_path / "big.raw"
    with open(source, "wb") as handle:
        for _ in range(mib // 4):
            handle.write(os.urandom(4 << 20))
    dest = tmp_path / "o.vmdk"
    proc = subprocess.Popen([sys.executable, "-m", "vmwctl", "image", "convert", str(source),
                             str(dest), "--engine", engine], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(pause)  # the engine is converting into the temporary directory
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "Error: interrupted"
    assert not dest.exists()
    assert leftovers(tmp_path) == []
