"""vCenter going away under vmwctl: mid datastore upload, mid purge, mid spawn.

The simulator sits behind a TCP fault proxy that, when told, resets every open
connection and refuses new ones (an outage), then lets them through again; one
test kills the simulator itself. Expect: exit 3 with what happened, nothing
half-written in the cache folder, and a rerun that completes and removes what
the failed run could not.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import vm_names, wait_until, write_profile
from labimages import datastore_leftovers, raw_disk, upload, vmdk

from vmwctl.cache.layout import LOCK_FOLDER

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"
DS = "LocalDS_0"
DEADLINE = 60
REACH = "check that vCenter is up and reachable"


def start(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vmwctl", "--config", str(config), *args,
                             "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())


def finish(process: subprocess.Popen) -> tuple[int, dict, str]:
    stdout, stderr = process.communicate(timeout=DEADLINE)
    return process.returncode, json.loads(stdout) if stdout.strip() else {}, stderr


def partial_upload(root: Path, image_id: str, name: str) -> Callable[[], bool]:
    def seen() -> bool:
        found = list(root.glob(f"vmware_temp/*/{image_id}/{name}"))
        return bool(found) and found[0].stat().st_size > (1 << 20)
    return seen


@pytest.fixture
def proxied(simulator, lab_env, tmp_path: Path):
    """(sim, proxy, profile through the proxy with one retry per call)."""
    sim = simulator()
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        yield sim, proxy, write_profile(sim, tmp_path / "proxied.yaml", port=proxy.port,
                                        api_retry_count=1)


def test_vcenter_gone_mid_seed_then_rerun_completes(proxied, tmp_path: Path) -> None:
    sim, proxy, config = proxied
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 8 << 20), "monolithicSparse"),
                      "outage", vmware_disktype="sparse")
    proxy.slow_down(0.02)
    process = start(config, "cache", "seed", image_id)
    wait_until(partial_upload(root, image_id, "tmp-sparse.vmdk"), process)
    proxy.go_down()
    code, document, stderr = finish(process)
    assert code == 3, stderr
    assert REACH in document["error"]["message"]
    assert not (root / CACHE / image_id).exists()
    assert len(datastore_leftovers(root)) == 1  # nobody could delete it: vCenter was away

    proxy.come_up()
    proxy.slow_down(0)
    code, document, stderr = finish(start(config, "cache", "seed", image_id))
    assert code == 0, stderr
    assert document[0]["outcome"] == "seeded"
    assert len(document[0]["leftovers_removed"]) == 1
    assert (root / CACHE / image_id / f"{image_id}.vmdk").exists()
    assert datastore_leftovers(root) == []


def test_vcenter_gone_mid_import_then_rerun_completes(simulator, lab_env,
                                                     tmp_path: Path) -> None:
    """streamOptimized: the outage comes while vCenter completes the NFC lease; the image VM
    of the import is left registered (nobody could unregister it); the rerun destroys it."""
    sim = simulator("-method-delay", "HttpNfcLeaseComplete:2000")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 4 << 20), "streamOptimized"),
                      "outage-import", vmware_disktype="streamOptimized")
    sim_vc = sim.connect()
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        process = start(config, "cache", "seed", image_id)
        wait_until(lambda: sim.under_way("HttpNfcLeaseComplete"), process)
        proxy.go_down()
        code, document, stderr = finish(process)
        assert code == 3, stderr
        assert REACH in document["error"]["message"]
        assert not (root / CACHE / image_id).exists()
        [shadow] = [n for n in vm_names(sim_vc) if n.startswith("OSTACK_IMG_")]
        assert (root / shadow).is_dir()
        proxy.come_up()
        code, document, stderr = finish(start(config, "cache", "seed", image_id))
    assert code == 0, stderr
    assert document[0]["outcome"] == "seeded"
    assert (root / CACHE / image_id / f"{image_id}.vmdk").exists()
    assert datastore_leftovers(root) == []
    assert not [n for n in vm_names(sim_vc) if n.startswith("OSTACK_IMG_")]


def test_simulator_killed_mid_seed(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 8 << 20), "monolithicSparse"),
                      "killed", vmware_disktype="sparse")
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        proxy.slow_down(0.02)
        process = start(config, "cache", "seed", image_id)
        wait_until(partial_upload(root, image_id, "tmp-sparse.vmdk"), process)
        os.kill(sim.service.pid, signal.SIGKILL)
        proxy.slow_down(0)
        code, document, stderr = finish(process)
    assert code == 3, stderr
    assert REACH in document["error"]["message"]
    assert not (root / CACHE).exists() or not list((root / CACHE).iterdir())


def put_aged_images(root: Path, count: int) -> list[Path]:
    """Cached images whose marker is three days old: the purge deletes them."""
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("ts-%Y-%m-%d-%H-%M-%S")
    paths = []
    for _ in range(count):
        image_id = str(uuid.uuid4())
        path = root / CACHE / image_id
        (path / stamp).mkdir(parents=True)
        (path / f"{image_id}.vmdk").write_text(f'RW 8 VMFS "{image_id}-flat.vmdk"\n')
        (path / f"{image_id}-flat.vmdk").write_bytes(b"\0" * 4096)
        old = time.time() - 3 * 86400
        for item in (*path.iterdir(), path):
            os.utime(item, (old, old))
        paths.append(path)
    return paths


def test_vcenter_gone_mid_purge_then_rerun_completes(proxied, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sim, proxy, config = proxied
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    root = Path(sim.datastores[DS])
    images = put_aged_images(root, 40)
    proxy.slow_down(0.05)
    process = start(config, "cache", "purge", "--yes")
    wait_until(lambda: sum(p.exists() for p in images) < 35, process)
    proxy.go_down()
    code, document, stderr = finish(process)
    assert code == 3, stderr
    assert REACH in document["error"]["message"]
    survivors = [p for p in images if p.exists()]
    assert 0 < len(survivors) < 40
    for path in survivors:  # each folder is whole or gone
        assert (path / f"{path.name}-flat.vmdk").exists()
    assert (root / CACHE / LOCK_FOLDER).exists()  # nobody could remove it

    proxy.come_up()
    proxy.slow_down(0)
    code, document, stderr = finish(start(config, "cache", "purge", "--yes"))
    assert code == 0, stderr
    assert not [p for p in images if p.exists()]
    assert not (root / CACHE / LOCK_FOLDER).exists()


def has_disk(vc, name: str) -> bool:
    from pyVmomi import vim

    from vmwctl.vsphere.faults import ManagedObjectNotFound

    try:
        view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                          [vim.VirtualMachine], True)
        vm = next((v for v in view.view if v.name == name), None)
        return vm is not None and any(isinstance(d, vim.vm.device.VirtualDisk)
                                      for d in vm.config.hardware.device)
    except ManagedObjectNotFound:
        return False


def test_vcenter_gone_mid_spawn_then_delete_and_rerun(simulator, lab_env,
                                                      tmp_path: Path) -> None:
    sim = simulator("-method-delay", "PowerOnVM_Task:2000")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "outage-spawn", vmware_disktype="streamOptimized")
    vc = sim.connect()
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        process = start(config, "vm", "spawn", image_id, "--name", "outage")
        wait_until(lambda: has_disk(vc, "vmwctl-outage"), process)  # power-on is next
        proxy.go_down()
        code, document, stderr = finish(process)
        assert code == 3, stderr
        message = document["error"]["message"]
        assert REACH in message and "'vmwctl vm delete vmwctl-outage' removes it" in message
        assert "vmwctl-outage" in vm_names(vc)  # nobody could remove it
        assert (root / CACHE / image_id).exists()  # the cache is whole

        proxy.come_up()
        code, document, stderr = finish(start(config, "vm", "delete", "vmwctl-outage", "--yes"))
        assert code == 0, stderr
        assert "vmwctl-outage" not in vm_names(vc)
        assert not (root / "vmwctl-outage").exists()
        code, document, stderr = finish(start(config, "vm", "spawn", image_id, "--name",
                                              "outage"))
        assert code == 0, stderr
        assert "vmwctl-outage" in vm_names(vc)


def test_vcenter_gone_mid_evict_then_rerun_completes(simulator, lab_env, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The outage comes while vCenter deletes the folder: it goes whole, the lock stays (nobody
    could remove it) until the next run that needs it takes it over from the dead owner."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    sim = simulator("-method-delay", "DeleteDatastoreFile_Task:2000")
    root = Path(sim.datastores[DS])
    image = put_aged_images(root, 1)[0]
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        process = start(config, "cache", "evict", image.name, "--yes")
        wait_until(lambda: sim.under_way("DeleteDatastoreFile_Task"), process)
        proxy.go_down()
        code, document, stderr = finish(process)
        assert code == 3, stderr
        assert REACH in document["error"]["message"]
        wait_until(lambda: not sim.under_way("DeleteDatastoreFile_Task"), None)  # carried out
        assert not image.exists()
        assert (root / CACHE / LOCK_FOLDER / "owner.json").exists()
        proxy.come_up()
        code, document, stderr = finish(start(config, "cache", "evict", image.name, "--yes"))
        assert code == 0, stderr
        assert document["items"] == []  # nothing of it is left to evict
        code, document, stderr = finish(start(config, "cache", "purge", "--yes"))
    assert code == 0, stderr
    assert not (root / CACHE / LOCK_FOLDER).exists()


def test_vcenter_gone_mid_vm_delete_then_rerun_completes(simulator, lab_env,
                                                         tmp_path: Path) -> None:
    """Unregistered but not yet deleted, a VM's folder is in no listing: the rerun removes it
    from the record the lost run left."""
    sim = simulator("-method-delay", "UnregisterVM:2000")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "outage-delete", vmware_disktype="streamOptimized")
    for name in ("one", "two"):
        spawned = sim.run("vm", "spawn", image_id, "--name", name)
        assert spawned.exit_code == 0, spawned.stderr
    vc = sim.connect()
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        process = start(config, "vm", "delete", "vmwctl-one", "vmwctl-two", "--yes")
        wait_until(lambda: sim.under_way("UnregisterVM"), process)
        proxy.go_down()
        code, document, stderr = finish(process)
        assert code == 3, stderr
        assert REACH in document["error"]["message"]
        wait_until(lambda: not sim.under_way("UnregisterVM"), None)  # vCenter carried it out
        assert {"vmwctl-one", "vmwctl-two"} & vm_names(vc) == {"vmwctl-two"}
        assert (root / "vmwctl-one").exists()  # nobody could delete it
        proxy.come_up()
        code, document, stderr = finish(start(config, "vm", "delete", "vmwctl-two", "--yes"))
    assert code == 0, stderr
    assert not [n for n in vm_names(vc) if n.startswith("vmwctl-")]
    assert not (root / "vmwctl-one").exists() and not (root / "vmwctl-two").exists()
    assert (root / CACHE / image_id).exists()  # the cached image is never touched


def test_vcenter_gone_mid_vib_install_then_rerun_completes(simulator, lab_env,
                                                           tmp_path: Path) -> None:
    """The outage comes while the hosts install the VIB (in parallel, each held 5 s): vCenter
    carries the installs out; the rerun finds them done and removes the uploaded copy."""
    sim = simulator("-method-delay", "InstallHostPatchV2_Task:5000", scenario="fresh")
    root = Path(sim.datastores[DS])
    built = sim.run("firewall", "vib", "build", str(tmp_path), "-o", "json")
    vib = built.json()["path"]
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "p.yaml", port=proxy.port, api_retry_count=1)
        process = start(config, "firewall", "vib", "install", vib, "--yes")
        wait_until(lambda: sim.under_way("InstallHostPatchV2_Task") == 3, process)
        proxy.go_down()
        code, document, stderr = finish(process)
        assert code == 3, stderr
        assert REACH in document["error"]["message"]
        left = [p.name for p in root.glob("vmwctl-vib-*")]
        assert len(left) == 1  # nobody could delete the uploaded copy
        wait_until(lambda: not sim.under_way("InstallHostPatchV2_Task"), None)  # carried out
        proxy.come_up()
        code, document, stderr = finish(start(config, "firewall", "vib", "install", vib,
                                              "--yes"))
    assert code == 0, stderr
    assert [h["install"] for h in document["hosts"]] == ["already installed"] * 3
    assert document["leftovers_removed"] == [f"[{DS}] {name}" for name in left]
    assert not list(root.glob("vmwctl-vib-*"))


def terminate_other_sessions(admin) -> int:
    manager = admin.content.sessionManager
    mine = manager.currentSession.key
    others = [s.key for s in manager.sessionList or [] if s.key != mine]
    if others:
        manager.TerminateSession(others)
    return len(others)


def test_session_invalidated_mid_purge_logs_in_again(proxied, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sim, proxy, config = proxied
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    root = Path(sim.datastores[DS])
    images = put_aged_images(root, 20)
    admin = sim.connect()
    proxy.slow_down(0.03)
    process = start(config, "cache", "purge", "--yes")
    wait_until(lambda: sum(p.exists() for p in images) < 18, process)
    assert terminate_other_sessions(admin) == 1
    code, _, stderr = finish(process)
    assert code == 0, stderr
    assert not [p for p in images if p.exists()]
    assert not (root / CACHE / LOCK_FOLDER).exists()


def test_session_invalidated_mid_seed_logs_in_again(proxied, tmp_path: Path) -> None:
    """The datastore upload under way keeps its cookie; the calls after it log in again."""
    sim, proxy, config = proxied
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 8 << 20), "monolithicSparse"),
                      "relogin", vmware_disktype="sparse")
    admin = sim.connect()
    proxy.slow_down(0.02)
    process = start(config, "cache", "seed", image_id)
    wait_until(partial_upload(root, image_id, "tmp-sparse.vmdk"), process)
    assert terminate_other_sessions(admin) == 1
    proxy.slow_down(0)
    code, document, stderr = finish(process)
    assert code == 0, stderr
    assert document[0]["outcome"] == "seeded"
    assert (root / CACHE / image_id / f"{image_id}.vmdk").exists()
    assert datastore_leftovers(root) == []
