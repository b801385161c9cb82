"""The lab simulator's disks hold real bytes: CopyVirtualDisk, CreateVirtualDisk, NFC import.

Disks are made with qemu-img from random data, handed to the simulator through
its datastore directories or the vSphere API (pyVmomi), and read back from
those directories with ``qemu-img compare``: what ESXi would have written.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import vm_names
from pyVmomi import vim

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.nfc import shadow_vm_spec
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
MIB = 1 << 20


# ------------------------------------------------------------------ helpers

def qemu_img(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)


def raw_disk(tmp_path: Path, size: int = 3 * MIB, name: str = "disk.raw") -> Path:
    """Random data with a run of zeros in the middle (a hole the formats leave out)."""
    import os

    data = bytearray(os.urandom(size))
    data[size // 4: size // 2] = bytes(size // 2 - size // 4)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def vmdk(raw: Path, subformat: str, adapter: str = "lsilogic", name: str | None = None) -> Path:
    out = raw.with_name(name or f"{raw.stem}-{subformat}.vmdk")
    done = qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o",
                    f"subformat={subformat},adapter_type={adapter}", str(raw), str(out))
    assert done.returncode == 0, done.stderr
    return out


def same_content(a: Path, b: Path) -> bool:
    done = qemu_img("compare", str(a), str(b))
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def descriptor(path: Path) -> str:
    return path.read_bytes().rstrip(b"\0").decode()


def datacenter(vc):
    return vc.content.rootFolder.childEntity[0]


def copy_disk(vc, source: str, dest: str, *, force: bool = False) -> None:
    task = vc.content.virtualDiskManager.CopyVirtualDisk_Task(
        sourceName=source, sourceDatacenter=datacenter(vc), destName=dest, force=force)
    wait_for_task(vc, task, what=f"copying {source}")


def create_disk(vc, name: str, capacity_kb: int, adapter: str = "lsiLogic",
                disk_type: str = "preallocated") -> str:
    spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
        adapterType=adapter, diskType=disk_type, capacityKb=capacity_kb)
    task = vc.content.virtualDiskManager.CreateVirtualDisk_Task(
        name=name, datacenter=datacenter(vc), spec=spec)
    return wait_for_task(vc, task, what=f"creating {name}")


# ------------------------------------------------------------------ CopyVirtualDisk

@pytest.mark.parametrize(("subformat", "adapter"), [("monolithicSparse", "ide"),
                                                    ("streamOptimized", "lsilogic")])
def test_copy_of_a_sparse_disk_becomes_a_flat_pair(vc, ds_dir, tmp_path, subformat,
                                                   adapter) -> None:
    raw = raw_disk(tmp_path)
    source = vmdk(raw, subformat, adapter)
    (ds_dir / "images").mkdir()
    (ds_dir / "images" / "src.vmdk").write_bytes(source.read_bytes())
    (ds_dir / "disks").mkdir()

    copy_disk(vc, f"[{DS}] images/src.vmdk", f"[{DS}] disks/dest.vmdk")

    dest = ds_dir / "disks" / "dest.vmdk"
    text = descriptor(dest)
    assert 'createType="monolithicFlat"' in text
    assert 'FLAT "dest-flat.vmdk" 0' in text
    assert f'ddb.adapterType = "{adapter}"' in text
    assert (ds_dir / "disks" / "dest-flat.vmdk").stat().st_size == raw.stat().st_size
    assert same_content(source, dest)
    assert same_content(raw, dest)
    assert sorted(p.name for p in (ds_dir / "disks").iterdir()) == ["dest-flat.vmdk", "dest.vmdk"]


def test_copy_tolerates_a_slash_after_the_datastore(vc, ds_dir, tmp_path) -> None:
    raw = raw_disk(tmp_path, MIB)
    (ds_dir / "src.vmdk").write_bytes(vmdk(raw, "monolithicSparse").read_bytes())
    copy_disk(vc, f"[{DS}]/src.vmdk", f"[{DS}]/dest.vmdk")
    assert same_content(raw, ds_dir / "dest.vmdk")


def test_copy_of_a_flat_pair_is_byte_for_byte_with_its_extent_renamed(vc, ds_dir,
                                                                      tmp_path) -> None:
    raw = raw_disk(tmp_path, MIB)
    flat = vmdk(raw, "monolithicFlat", "buslogic", name="src.vmdk")
    (ds_dir / "src.vmdk").write_bytes(flat.read_bytes())
    (ds_dir / "src-flat.vmdk").write_bytes((tmp_path / "src-flat.vmdk").read_bytes())

    copy_disk(vc, f"[{DS}] src.vmdk", f"[{DS}] copy.vmdk")

    assert (ds_dir / "copy-flat.vmdk").read_bytes() == raw.read_bytes()
    text = descriptor(ds_dir / "copy.vmdk")
    assert text == descriptor(ds_dir / "src.vmdk").replace('"src-flat.vmdk"', '"copy-flat.vmdk"')
    assert same_content(raw, ds_dir / "copy.vmdk")
    # Removing the source shows that the copy reads its own extent.
    (ds_dir / "src-flat.vmdk").unlink()
    assert same_content(raw, ds_dir / "copy.vmdk")


def test_copy_onto_an_existing_disk_fails_unless_forced(vc, ds_dir, tmp_path) -> None:
    first, second = raw_disk(tmp_path, MIB, "a.raw"), raw_disk(tmp_path, MIB, "b.raw")
    (ds_dir / "a.vmdk").write_bytes(vmdk(first, "monolithicSparse").read_bytes())
    (ds_dir / "b.vmdk").write_bytes(vmdk(second, "streamOptimized").read_bytes())
    copy_disk(vc, f"[{DS}] a.vmdk", f"[{DS}] dest.vmdk")

    with pytest.raises(OperationFailed, match=r"FileAlreadyExists: .*dest\.vmdk already exists"):
        copy_disk(vc, f"[{DS}] b.vmdk", f"[{DS}] dest.vmdk")
    assert same_content(first, ds_dir / "dest.vmdk")

    copy_disk(vc, f"[{DS}] b.vmdk", f"[{DS}] dest.vmdk", force=True)
    assert same_content(second, ds_dir / "dest.vmdk")


def test_copy_of_a_missing_source_or_into_a_missing_folder_fails(vc, ds_dir, tmp_path) -> None:
    with pytest.raises(OperationFailed, match=rf"FileNotFound: File \[{DS}\] nope.vmdk was not"):
        copy_disk(vc, f"[{DS}] nope.vmdk", f"[{DS}] dest.vmdk")
    (ds_dir / "src.vmdk").write_bytes(vmdk(raw_disk(tmp_path, MIB), "monolithicSparse")
                                      .read_bytes())
    with pytest.raises(OperationFailed, match=rf"FileNotFound: File \[{DS}\] no/such was not"):
        copy_disk(vc, f"[{DS}] src.vmdk", f"[{DS}] no/such/dest.vmdk")
    assert sorted(p.name for p in ds_dir.iterdir() if p.suffix == ".vmdk") == ["src.vmdk"]


def test_copy_of_a_corrupt_sparse_disk_fails_with_qemu_img_s_message(vc, ds_dir,
                                                                     tmp_path) -> None:
    source = vmdk(raw_disk(tmp_path, MIB), "monolithicSparse").read_bytes()
    (ds_dir / "bad.vmdk").write_bytes(source[:4] + b"\xff" * 60 + source[64:])
    with pytest.raises(OperationFailed, match=rf"SystemError: qemu-img: .*'\[{DS}\] bad\.vmdk'"):
        copy_disk(vc, f"[{DS}] bad.vmdk", f"[{DS}] dest.vmdk")
    assert not (ds_dir / "dest.vmdk").exists()
    assert not (ds_dir / "dest-flat.vmdk").exists()


def test_move_renames_the_extent_in_the_descriptor(vc, ds_dir, tmp_path) -> None:
    raw = raw_disk(tmp_path, MIB)
    (ds_dir / "src.vmdk").write_bytes(vmdk(raw, "monolithicSparse").read_bytes())
    copy_disk(vc, f"[{DS}] src.vmdk", f"[{DS}] flat.vmdk")
    (ds_dir / "cache" / "image").mkdir(parents=True)

    task = vc.content.virtualDiskManager.MoveVirtualDisk_Task(
        sourceName=f"[{DS}] flat.vmdk", sourceDatacenter=datacenter(vc),
        destName=f"[{DS}] cache/image/image.vmdk", force=False)
    wait_for_task(vc, task, what="moving")

    assert not (ds_dir / "flat.vmdk").exists() and not (ds_dir / "flat-flat.vmdk").exists()
    moved = ds_dir / "cache" / "image" / "image.vmdk"
    assert 'FLAT "image-flat.vmdk" 0' in descriptor(moved)
    assert same_content(raw, moved)


def test_vm_disks_are_still_created_empty_and_destroyed(vc, ds_dir) -> None:
    """VM creation and device removal reach the disk manager through other paths."""
    dc = datacenter(vc)
    name = f"vm-{uuid.uuid4().hex[:8]}"
    spec = shadow_vm_spec(name, DS)
    task = dc.vmFolder.CreateVM_Task(config=spec, pool=dc.hostFolder.childEntity[0].resourcePool)
    vm = wait_for_task(vc, task, what="creating a VM")
    disk = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    assert disk.backing.fileName == f"[{DS}] {name}/{name}.vmdk"
    files = [ds_dir / name / f"{name}.vmdk", ds_dir / name / f"{name}-flat.vmdk"]
    assert [f.stat().st_size for f in files] == [0, 0]
    # An empty pair still copies as it is.
    copy_disk(vc, disk.backing.fileName, f"[{DS}] {name}/copy.vmdk")
    assert (ds_dir / name / "copy.vmdk").stat().st_size == 0

    change = vim.vm.device.VirtualDeviceSpec(operation="remove", fileOperation="destroy",
                                             device=disk)
    wait_for_task(vc, vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])),
                  what="removing the disk")
    assert not any(f.exists() for f in files)


# ------------------------------------------------------------------ CreateVirtualDisk

@pytest.mark.parametrize(("adapter", "written"), [("lsiLogic", "lsilogic"), ("ide", "ide"),
                                                  ("busLogic", "buslogic"),
                                                  ("paraVirtual", "lsilogic")])
def test_create_writes_a_descriptor_and_its_flat_extent(vc, ds_dir, adapter, written) -> None:
    (ds_dir / "vmware_temp").mkdir()
    result = create_disk(vc, f"[{DS}] vmware_temp/new.vmdk", 3072, adapter)

    assert result == f"[{DS}] vmware_temp/new.vmdk"
    text = descriptor(ds_dir / "vmware_temp" / "new.vmdk")
    assert 'RW 6144 FLAT "new-flat.vmdk" 0' in text
    assert f'ddb.adapterType = "{written}"' in text
    flat = ds_dir / "vmware_temp" / "new-flat.vmdk"
    assert flat.stat().st_size == 3072 * 1024
    info = qemu_img("info", "--output=json", str(ds_dir / "vmware_temp" / "new.vmdk"))
    assert '"virtual-size": 3145728' in info.stdout


def test_create_then_upload_flat_bytes_as_nova_does(vc, ds_dir, tmp_path) -> None:
    raw = raw_disk(tmp_path, MIB)
    create_disk(vc, f"[{DS}] pre.vmdk", MIB // 1024)
    # Nova deletes the -flat and PUTs the image's bytes in its place.
    (ds_dir / "pre-flat.vmdk").unlink()
    (ds_dir / "pre-flat.vmdk").write_bytes(raw.read_bytes())
    assert same_content(raw, ds_dir / "pre.vmdk")


def test_create_refuses_an_existing_disk_or_a_missing_folder(vc, ds_dir) -> None:
    create_disk(vc, f"[{DS}] once.vmdk", 1024)
    with pytest.raises(OperationFailed, match="FileAlreadyExists"):
        create_disk(vc, f"[{DS}] once.vmdk", 1024)
    (ds_dir / "once.vmdk").unlink()  # the -flat alone is enough to refuse
    with pytest.raises(OperationFailed, match="FileAlreadyExists"):
        create_disk(vc, f"[{DS}] once.vmdk", 1024)
    with pytest.raises(OperationFailed, match=rf"FileNotFound: File \[{DS}\] missing was not"):
        create_disk(vc, f"[{DS}] missing/new.vmdk", 1024)


# ------------------------------------------------------------------ NFC import

class Import:
    """An ImportVApp of a shadow VM, as Nova's image upload starts it."""

    def __init__(self, vc, sim) -> None:
        self.vc = vc
        self.name = f"OSTACK_IMG_{uuid.uuid4()}"
        dc = datacenter(vc)
        pool = dc.hostFolder.childEntity[0].resourcePool
        spec = vim.vm.VmImportSpec(configSpec=shadow_vm_spec(self.name, DS))
        self.lease = pool.ImportVApp(spec=spec,
                                     folder=dc.vmFolder)
        deadline = time.monotonic() + 30
        while self.lease.state != "ready":
            assert self.lease.state == "initializing" and time.monotonic() < deadline
            time.sleep(0.1)
        info = self.lease.info
        self.vm = info.entity
        urls = [d.url for d in info.deviceUrl if d.disk]
        assert len(urls) == 1
        # Nova replaces "*" by the vCenter's host name.
        self.path = urlsplit(urls[0]).path
        self.port = sim.port
        self.context = ssl.create_default_context(cafile=vc.settings.ca_file)

    def send(self, body: bytes, method: str = "PUT", path: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                           timeout=60)
        try:
            conn.request(method, path or self.path, body=body,
                         headers={"Overwrite": "t", "Content-Type": "binary/octet-stream"})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def disk_path(self) -> str:
        disks = [d for d in self.vm.config.hardware.device
                 if isinstance(d, vim.vm.device.VirtualDisk)]
        assert len(disks) == 1
        return disks[0].backing.fileName

    def finish(self) -> None:
        self.lease.HttpNfcLeaseComplete()
        self.vm.UnregisterVM()


def no_spool_left(folder: Path) -> bool:
    """The upload's spool folder is gone (the server removes it once it has answered)."""
    deadline = time.monotonic() + 5
    while any(p.name.startswith(".nfc-") for p in folder.iterdir()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_import_of_a_stream_optimized_disk_as_nova_does(vc, sim, ds_dir, tmp_path,
                                                        method) -> None:
    raw = raw_disk(tmp_path)
    stream = vmdk(raw, "streamOptimized")
    upload = Import(vc, sim)
    name = upload.name
    assert upload.vm.config.files.vmPathName == f"[{DS}] {name}/{name}.vmx"
    assert upload.disk_path() == f"[{DS}] {name}/{name}.vmdk"

    assert upload.send(stream.read_bytes(), method) == (200, "")
    upload.finish()

    assert name not in vm_names(vc)
    folder = ds_dir / name
    assert no_spool_left(folder)
    text = descriptor(folder / f"{name}.vmdk")
    assert f'FLAT "{name}-flat.vmdk" 0' in text
    assert 'ddb.adapterType = "lsilogic"' in text
    assert (folder / f"{name}-flat.vmdk").stat().st_size == raw.stat().st_size
    assert same_content(stream, folder / f"{name}.vmdk")
    assert same_content(raw, folder / f"{name}.vmdk")


def test_import_of_garbage_fails_and_leaves_the_disk_empty(vc, sim, ds_dir) -> None:
    upload = Import(vc, sim)
    status, message = upload.send(b"not a disk\n" * 1000)
    assert status == 500
    assert "not a streamOptimized or sparse VMDK" in message
    # A body with the magic but no valid header fails in qemu-img.
    status, message = upload.send(b"KDMV" + b"\xff" * 4092)
    assert status == 500
    assert message.strip()
    folder = ds_dir / upload.name
    assert no_spool_left(folder)
    assert (folder / f"{upload.name}.vmdk").stat().st_size == 0
    assert (folder / f"{upload.name}-flat.vmdk").stat().st_size == 0
    upload.finish()


def test_import_cut_short_leaves_no_converted_disk(vc, sim, ds_dir, tmp_path) -> None:
    data = vmdk(raw_disk(tmp_path), "streamOptimized").read_bytes()
    upload = Import(vc, sim)
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=30)
    with upload.context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(f"PUT {upload.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode())
        conn.sendall(data[: len(data) // 2])
        # The client goes away mid-body: its half of TCP closes, no TLS close_notify.
        socket.socket.shutdown(conn, socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 400"), answer
    assert b"unexpected EOF" in answer
    folder = ds_dir / upload.name
    assert no_spool_left(folder)
    assert (folder / f"{upload.name}.vmdk").stat().st_size == 0
    assert (folder / f"{upload.name}-flat.vmdk").stat().st_size == 0
    upload.finish()


def test_import_to_an_unknown_lease_or_file_is_not_found(vc, sim) -> None:
    upload = Import(vc, sim)
    lease_dir = upload.path.rsplit("/", 1)[0]
    assert upload.send(b"x", path=f"{lease_dir}/other.vmdk")[0] == 404
    assert upload.send(b"x", path="/nfc/no-such-lease/disk.vmdk")[0] == 404
    upload.finish()
    # A completed lease takes no more uploads.
    assert upload.send(b"x")[0] == 404

