"""``cache list | purge | evict`` against the simulator: files on its datastore directory.

The cache is laid out by hand on the simulator's datastore directory (as a
nova-compute would have left it) and read back from there after each run.
Time is injected: markers are written with the stamp a test needs, file
times set with os.utime, or ``now`` passed to the purge functions; nothing
sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pytest
import yaml
from pyVmomi import vim

from vmwctl.cache.layout import LOCK_FOLDER, marker_name, parse_marker
from vmwctl.cache.locks import local_lock
from vmwctl.cache.purge import Outcome, PurgeRequest, plan_purge, purge_cache, run_purge
from vmwctl.cache.usage import folder_users
from vmwctl.common.interrupts import Stopper
from vmwctl.vsphere.snapshot import read_inventory
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("private_lock_dir")]

CACHE = "192.0.2.10_base"
DS = "LocalDS_0"
DAY = dt.timedelta(days=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def age_tree(path: Path, age: dt.timedelta) -> None:
    """Set the modification time of everything under ``path`` (and itself) ``age`` ago."""
    stamp = (utcnow() - age).timestamp()
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files + dirs:
            os.utime(Path(root) / name, (stamp, stamp))
    os.utime(path, (stamp, stamp))


def put_image(root: Path, image_id: str | None = None, *, folder: str = CACHE,
              marker: dt.datetime | str | None = None, age: dt.timedelta = 3 * DAY,
              size: int = 4096, iso: bool = False) -> tuple[str, Path]:
    """An image folder as Nova leaves it: descriptor + flat (or an ISO), maybe a marker."""
    image_id = image_id or str(uuid.uuid4())
    path = root / folder / image_id
    path.mkdir(parents=True, exist_ok=True)
    if iso:
        (path / f"{image_id}.iso").write_bytes(b"\0" * size)
    else:
        (path / f"{image_id}.vmdk").write_text(f'RW {size // 512} VMFS "{image_id}-flat.vmdk"\n')
        (path / f"{image_id}-flat.vmdk").write_bytes(b"\0" * size)
    if marker is not None:
        name = marker if isinstance(marker, str) else marker_name(marker)
        (path / name).mkdir()
    age_tree(path, age)
    return image_id, path


def markers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith("ts-"))


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def make_vm(vc, name: str, *, parent_disk: str | None = None, iso: str | None = None):
    """A VM whose disk is a linked clone of ``parent_disk`` and/or whose CD-ROM holds ``iso``."""
    dc = vc.content.rootFolder.childEntity[0]
    pool = dc.hostFolder.childEntity[0].resourcePool
    changes = [vim.vm.device.VirtualDeviceSpec(operation="add", device=vim.vm.device.
                                               VirtualLsiLogicController(key=-100, busNumber=0,
                                                                        sharedBus="noSharing"))]
    if parent_disk:
        parent = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=parent_disk,
                                                               diskMode="persistent")
        disk = vim.vm.device.VirtualDisk(
            key=-101, unitNumber=0, controllerKey=-100, capacityInKB=1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName="", diskMode="persistent", parent=parent))
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create",
                                                       device=disk))
    if iso:
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=vim.vm.device.
                                                       VirtualCdrom(
            key=-102, controllerKey=200, unitNumber=0,
            backing=vim.vm.device.VirtualCdrom.IsoBackingInfo(fileName=iso))))
    spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"), deviceChange=changes)
    return wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool), what="create")


def variant(sim, tmp_path: Path, name: str, **sections: dict) -> Path:
    """The simulator's profile with some sections changed (None deletes a key)."""
    config = yaml.safe_load(Path(sim.config).read_text())
    profile = config["profiles"]["sim"]
    for section, values in sections.items():
        target = profile.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def purge(sim, *args: str):
    return sim.run("cache", "purge", "-o", "json", *args)


def items_by_path(result) -> dict[str, dict]:
    return {item["path"]: item for item in result.json()["items"]}


def image_path(image_id: str, folder: str = CACHE) -> str:
    return f"[{DS}] {folder}/{image_id}"


# ---------------------------------------------------------------- list and layout


def test_layout_naming_for_each_profile_variant(simulator, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    folders = {"my_ip": CACHE, "prefix": "cp_base", "no_aging": "_base",
               "subdirectory": "192.0.2.10_cache"}
    ids = {key: put_image(root, folder=folder)[0] for key, folder in folders.items()}
    configs = {
        "my_ip": sim.config,
        "prefix": variant(sim, tmp_path, "prefix", vmware={"cache_prefix": "cp"}),
        "no_aging": variant(sim, tmp_path, "no-aging",
                            image_cache={"remove_unused_base_images": False}),
        "subdirectory": variant(sim, tmp_path, "sub", image_cache={"subdirectory_name": "_cache"}),
    }
    for key, config in configs.items():
        result = sim.run("--config", str(config), "cache", "list", "--no-glance", "-o", "json")
        assert result.exit_code == 0, result.stderr
        listing = result.json()
        assert listing["cache_folder"] == folders[key]
        assert [(i["folder"], i["image_id"]) for i in listing["images"]] == \
            [(folders[key], ids[key])]
    notes = sim.run("--config", str(configs["no_aging"]), "cache", "list", "--no-glance",
                    "-o", "json").json()["notes"]
    assert "Nova does not age this cache" in notes[0]
    every = sim.run("cache", "list", "--all", "--no-glance", "-o", "json").json()
    assert every["cache_folder"] is None
    # every folder whose name ends with the profile's subdirectory name (_base)
    assert sorted(i["folder"] for i in every["images"]) == ["192.0.2.10_base", "_base",
                                                            "cp_base"]

    no_ip = variant(sim, tmp_path, "no-ip", DEFAULT={"my_ip": None})
    result = sim.run("--config", str(no_ip), "cache", "list", "--no-glance")
    assert result.exit_code == 2
    assert "no DEFAULT.my_ip" in result.stderr and "--all" in result.stderr
    assert sim.run("--config", str(no_ip), "cache", "list", "--all", "--no-glance").exit_code == 0
    refused = sim.run("--config", str(configs["no_aging"]), "cache", "purge", "--yes")
    assert refused.exit_code == 2 and "remove_unused_base_images" in refused.stderr


def test_list_shows_sizes_copies_users_names_and_leftovers(simulator, lab_env) -> None:
    from vmwctl.images.glance import open_image_service
    from vmwctl.profile.load import load_profile

    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id, path = put_image(root, size=8192)
    named, _ = put_image(root)
    glance = open_image_service(load_profile(str(sim.config), "sim", os.environ), os.environ)
    glance.create("cirros-cached", {"id": named})
    (path / f"{image_id}.20.vmdk").write_text("descriptor")
    (path / f"{image_id}.20-flat.vmdk").write_bytes(b"\0" * 1024)
    iso_id, _ = put_image(root, iso=True, size=100)
    vc = sim.connect()
    make_vm(vc, "web-1", parent_disk=f"{image_path(image_id)}/{image_id}.20.vmdk")
    make_vm(vc, "rescue", iso=f"{image_path(iso_id)}/{iso_id}.iso")
    temp = root / "vmware_temp" / str(uuid.uuid4()) / image_id
    temp.mkdir(parents=True)
    (temp / "tmp-sparse.vmdk").write_bytes(b"x" * 10)
    age_tree(root / "vmware_temp", 2 * DAY)

    listing = sim.run("cache", "list", "-o", "json").json()
    rows = {row["image_id"]: row for row in listing["images"]}
    row = rows[image_id]
    assert row["size"] == 8192 + 1024 + len(f'RW {8192 // 512} VMFS "{image_id}-flat.vmdk"\n') \
        + len("descriptor")
    assert row["sized_copies"] == [20]
    assert row["users"] == ["web-1"] and row["action"] == "keep"
    assert rows[iso_id]["iso"] and rows[iso_id]["users"] == ["rescue"]
    assert row["glance"] == "deleted" and row["name"] is None  # Glance does not know it
    assert (rows[named]["glance"], rows[named]["name"]) == ("present", "cirros-cached")
    glance.delete(named)
    assert [(lo["kind"], lo["entries"]) for lo in listing["leftovers"]] == [("vmware_temp", 1)]
    assert listing["leftovers"][0]["age_seconds"] >= 2 * 86400

    table = sim.run("cache", "list", "--no-glance")
    assert table.exit_code == 0
    assert "web-1" in table.stdout and "20 GB" in table.stdout and "keep (in use)" in table.stdout
    assert "cirros-cached" not in table.stdout  # --no-glance


def test_list_request_count_does_not_grow_with_images(simulator) -> None:
    from vmwctl.cache.listing import list_cache
    from vmwctl.profile.load import build_profile

    sim = simulator()
    root = Path(sim.datastores[DS])
    profile = build_profile("p", {"DEFAULT": {"my_ip": "192.0.2.10"}})
    vc = sim.connect()
    inventory = read_inventory(vc)
    stores = [ds for ds in inventory.datastores.values() if ds.name == DS]

    def count() -> int:
        before = vc.request_count
        list_cache(vc, inventory, profile, now=utcnow(), datastores=stores, users={})
        return vc.request_count - before

    put_image(root)
    few = count()
    for _ in range(30):
        put_image(root, marker=utcnow())
    assert count() == few


# ---------------------------------------------------------------- aging


def test_full_aging_cycle(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id, path = put_image(root, size=65536)

    first = purge(sim)
    assert first.exit_code == 0, first.stderr
    assert items_by_path(first)[image_path(image_id)]["outcome"] == "marked"
    [marker] = markers(path)
    assert abs((parse_marker(marker) - utcnow()).total_seconds()) < 30

    second = purge(sim)  # marked just now: younger than the minimum age
    assert items_by_path(second)[image_path(image_id)]["outcome"] == "waiting"
    assert path.exists() and markers(path) == [marker]

    # a day and a second later, by the marker's clock
    (path / marker).rename(path / marker_name(utcnow() - DAY - dt.timedelta(seconds=1)))
    age_tree(path, 2 * DAY)
    third = purge(sim)
    item = items_by_path(third)[image_path(image_id)]
    assert item["outcome"] == "deleted"
    assert not path.exists() and (root / CACHE).exists()
    assert third.json()["bytes_freed"] == item["bytes"] > 65536
    assert not (root / CACHE / LOCK_FOLDER).exists()


def test_aging_with_injected_clock(simulator) -> None:
    """The domain functions take ``now``: a marker made today is due after the minimum age."""
    sim = simulator()
    root = Path(sim.datastores[DS])
    _, path = put_image(root)
    assert purge(sim).exit_code == 0
    vc = sim.connect()
    inventory = read_inventory(vc)
    stores = [ds for ds in inventory.datastores.values() if ds.name == DS]
    made = parse_marker(markers(path)[0])

    def request(now: dt.datetime) -> PurgeRequest:
        return PurgeRequest(CACHE, "_base", 3600, False, frozenset(), now)

    at_limit = plan_purge(vc, inventory, stores, request(made + dt.timedelta(hours=1)), {})
    assert [i.action.value for i in at_limit.items] == ["wait"]  # strictly older, as Nova
    # the marker folder itself was made a moment after the time in its name
    later = request(made + dt.timedelta(hours=1, minutes=2))
    with local_lock("test", later.now):
        report = run_purge(vc, inventory, stores, later, users={}, reread_users=lambda: {},
                           approved=None, stopper=Stopper())
    assert [i.outcome for i in report.items] == [Outcome.DELETED]
    assert not path.exists()


def test_in_use_through_linked_clone_iso_and_options(simulator, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    old = utcnow() - 3 * DAY
    linked, linked_path = put_image(root, marker=old)
    iso, iso_path = put_image(root, marker=old, iso=True)
    shelved, shelved_path = put_image(root, marker=old)
    listed, listed_path = put_image(root, marker=old)
    unused, unused_path = put_image(root, marker=old)
    vc = sim.connect()
    make_vm(vc, "web-1", parent_disk=f"{image_path(linked)}/{linked}.vmdk")
    make_vm(vc, "rescue", iso=f"{image_path(iso)}/{iso}.iso")
    ids = tmp_path / "in-use.txt"
    ids.write_text(f"{listed}\nN/A (booted from volume)\n")

    result = purge(sim, "--in-use", shelved, "--in-use-file", str(ids))
    assert result.exit_code == 0, result.stderr
    items = items_by_path(result)
    for image_id, folder in ((linked, linked_path), (iso, iso_path), (shelved, shelved_path),
                             (listed, listed_path)):
        assert items[image_path(image_id)]["outcome"] == "unmarked"
        assert folder.exists() and markers(folder) == []
    assert items[image_path(unused)]["outcome"] == "deleted" and not unused_path.exists()
    assert "web-1" in items[image_path(linked)]["reason"]
    assert "--in-use" in items[image_path(shelved)]["reason"]

    bad = purge(sim, "--in-use", "cirros")
    assert bad.exit_code == 2 and "not an image id" in bad.json()["error"]["message"]


def test_usage_is_read_again_right_before_deleting(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id, path = put_image(root, marker=utcnow() - 3 * DAY)
    vc = sim.connect()
    inventory = read_inventory(vc)
    stores = [ds for ds in inventory.datastores.values() if ds.name == DS]
    request = PurgeRequest(CACHE, "_base", 86400, False, frozenset(), utcnow())
    reads = []

    def late_user():  # a spawn linked a VM to it after the purge made its plan
        reads.append(1)
        return {image_path(image_id): ["late-vm"]}

    with local_lock("test", request.now):
        report = run_purge(vc, inventory, stores, request, users={}, reread_users=late_user,
                           approved=None, stopper=Stopper())
    assert reads == [1]  # one read for the batch
    [item] = report.items
    assert item.outcome == Outcome.KEPT and "late-vm" in item.reason and path.exists()
    assert folder_users(vc) == folder_users(vc)  # stable read


def test_a_signal_stops_between_folders(simulator) -> None:
    import signal

    sim = simulator()
    root = Path(sim.datastores[DS])
    paths = [put_image(root, marker=utcnow() - 3 * DAY)[1] for _ in range(3)]
    vc = sim.connect()
    inventory = read_inventory(vc)
    stores = [ds for ds in inventory.datastores.values() if ds.name == DS]
    request = PurgeRequest(CACHE, "_base", 86400, False, frozenset(), utcnow())
    stopper = Stopper()

    def ctrl_c_now():
        stopper.signal = signal.SIGINT
        return {}

    with local_lock("test", request.now):
        report = run_purge(vc, inventory, stores, request, users={}, reread_users=ctrl_c_now,
                           stopper=stopper, approved=None)
    assert report.interrupted
    assert {i.outcome for i in report.items} == {Outcome.SKIPPED}
    assert all(p.exists() for p in paths)
    assert not (root / CACHE / LOCK_FOLDER).exists()


def test_the_purge_asks_with_its_plan_and_declined_changes_nothing(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    due, due_path = put_image(root, marker=utcnow() - 3 * DAY)
    fresh, fresh_path = put_image(root)
    vc = sim.connect()
    inventory = read_inventory(vc)
    stores = [ds for ds in inventory.datastores.values() if ds.name == DS]
    request = PurgeRequest(CACHE, "_base", 86400, False, frozenset(), utcnow())
    asked: list[list[str]] = []

    def answer(yes: bool):
        def confirm(plan) -> bool:
            asked.append([item.path for item in plan.deletions])
            return yes
        return confirm

    before = snapshot(root)
    assert purge_cache(vc, inventory, stores, request, read_users=lambda: {},
                       confirm=answer(False), stopper=Stopper()) is None
    assert asked == [[image_path(due)]]
    assert snapshot(root) == before  # not even the marker
    report = purge_cache(vc, inventory, stores, request, read_users=lambda: {},
                         confirm=answer(True), stopper=Stopper())
    assert asked[1:] == [[image_path(due)]]
    assert {i.path: i.outcome for i in report.items} == {
        image_path(due): Outcome.DELETED, image_path(fresh): Outcome.MARKED}
    assert not due_path.exists() and len(markers(fresh_path)) == 1
    # nothing to delete: nothing to ask; the lock is free again after each run
    with local_lock(f"127.0.0.1:{sim.port}/{CACHE}", utcnow()):
        pass
    report = purge_cache(vc, inventory, stores, request, read_users=lambda: {},
                         confirm=answer(False), stopper=Stopper())
    assert len(asked) == 2 and [i.outcome for i in report.items] == [Outcome.WAITING]


def test_dry_run_changes_nothing(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    put_image(root)
    put_image(root, marker=utcnow() - 3 * DAY)
    put_image(root, marker=utcnow() - 3 * DAY)
    (root / "OSTACK_IMG_x").mkdir()
    age_tree(root / "OSTACK_IMG_x", 3 * DAY)
    before = snapshot(root)
    result = purge(sim, "--dry-run", "--include-temp")
    assert result.exit_code == 0
    plan = result.json()
    assert plan["dry_run"] is True
    assert sorted(i["action"] for i in plan["items"]) == ["delete", "delete", "delete", "mark"]
    assert {i["outcome"] for i in plan["items"]} == {"planned"}
    assert snapshot(root) == before
    human = sim.run("cache", "purge", "--dry-run")
    assert "Purge plan" in human.stdout and "would free" in human.stdout
    assert snapshot(root) == before


def test_leftover_temp_folders(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    old_fetch = root / "vmware_temp" / str(uuid.uuid4())
    new_fetch = root / "vmware_temp" / str(uuid.uuid4())
    for folder in (old_fetch, new_fetch):
        (folder / "img").mkdir(parents=True)
        (folder / "img" / "tmp-sparse.vmdk").write_bytes(b"x" * 100)
    age_tree(old_fetch, 2 * DAY)
    orphan = root / "OSTACK_IMG_orphan"
    orphan.mkdir()
    (orphan / "OSTACK_IMG_orphan.vmdk").write_text("d")
    age_tree(orphan, 2 * DAY)
    vc = sim.connect()
    make_vm(vc, "OSTACK_IMG_busy")  # a shadow VM still registered
    age_tree(root / "OSTACK_IMG_busy", 2 * DAY)

    without = purge(sim)
    assert without.json()["items"] == [] and old_fetch.exists() and orphan.exists()

    result = purge(sim, "--include-temp")
    assert result.exit_code == 0, result.stderr
    items = items_by_path(result)
    assert items[f"[{DS}] vmware_temp/{old_fetch.name}"]["outcome"] == "deleted"
    assert items[f"[{DS}] vmware_temp/{new_fetch.name}"]["outcome"] == "kept"
    assert items[f"[{DS}] OSTACK_IMG_orphan"]["outcome"] == "deleted"
    assert "OSTACK_IMG_busy" in items[f"[{DS}] OSTACK_IMG_busy"]["reason"]
    assert not old_fetch.exists() and not orphan.exists()
    assert new_fetch.exists() and (root / "OSTACK_IMG_busy").exists()
    assert (root / "vmware_temp").exists()


# ---------------------------------------------------------------- locks and cron


def test_a_second_purge_on_this_machine_exits_at_once(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    _, path = put_image(root)
    with local_lock(f"127.0.0.1:{sim.port}/{CACHE}", utcnow()):
        result = purge(sim)
    assert result.exit_code == 1
    assert "another purge of this cache runs on this machine" in result.json()["error"]["message"]
    assert markers(path) == []
    assert purge(sim).exit_code == 0 and len(markers(path)) == 1


def test_the_datastore_lock_of_another_machine(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    _, path = put_image(root)
    lock = root / CACHE / LOCK_FOLDER
    lock.mkdir()

    def owner(since: dt.datetime) -> None:
        (lock / "owner.json").write_text(json.dumps({
            "host": "compute-7", "pid": 4242, "user": "nova", "tool": "vmwctl 0.1.0",
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}))

    owner(utcnow() - dt.timedelta(minutes=5))
    held = purge(sim)
    assert held.exit_code == 1
    assert "another purge holds" in held.stderr and "compute-7" in held.stderr
    assert held.json()["locked_out"] and held.json()["items"] == []
    assert markers(path) == [] and lock.exists()

    owner(utcnow() - dt.timedelta(hours=7))  # stale: taken over
    taken = purge(sim)
    assert taken.exit_code == 0, taken.stderr
    assert len(markers(path)) == 1 and not lock.exists()


def test_quiet_cron_run_prints_nothing(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    put_image(root)
    put_image(root, marker=utcnow() - 3 * DAY)
    result = sim.run("cache", "purge", "-q")  # no terminal: acts without asking
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert len(list((root / CACHE).iterdir())) == 1


# ---------------------------------------------------------------- evict


def test_evict(simulator) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id, path = put_image(root)
    used, used_path = put_image(root)
    make_vm(sim.connect(), "db-1", parent_disk=f"{image_path(used)}/{used}.vmdk")

    dry = sim.run("cache", "evict", image_id, "--dry-run", "-o", "json")
    assert dry.json()["items"][0]["outcome"] == "planned" and path.exists()
    refused = sim.run("cache", "evict", image_id)  # no terminal and no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr and path.exists()

    done = sim.run("cache", "evict", image_id, "--yes", "-o", "json")
    assert done.exit_code == 0, done.stderr
    assert done.json()["items"][0]["outcome"] == "deleted" and not path.exists()
    again = sim.run("cache", "evict", image_id, "--yes")
    assert again.exit_code == 0 and "not cached" in again.stdout

    busy = sim.run("cache", "evict", used, "--yes")
    assert busy.exit_code == 1
    assert "in use" in busy.stderr and "db-1" in busy.stderr and used_path.exists()


def test_a_failed_deletion_is_reported_even_with_quiet(simulator) -> None:
    """A file that cannot be deleted (here immutable: ESXi's locked file) fails that folder."""
    import subprocess

    sim = simulator()
    root = Path(sim.datastores[DS])
    _, done = put_image(root, marker=utcnow() - 3 * DAY)
    _, stuck = put_image(root, marker=utcnow() - 3 * DAY)
    locked = stuck / f"{stuck.name}-flat.vmdk"
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("making a file undeletable needs chattr +i: root on ext4 or xfs")
    try:
        result = sim.run("cache", "purge", "-q")
        report = purge(sim, "--dry-run")
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"Error: [{DS}] {CACHE}/{stuck.name}: deleting" in result.stderr
    assert "CannotDeleteFile" in result.stderr
    assert not done.exists() and locked.exists()
    # what is left of it is aged again from the start
    assert [i["action"] for i in report.json()["items"]] == ["mark"]
