"""Reads scoped to the cluster for ``cache list | purge | evict`` and ``check nova-conf``
(and ``check prereqs --nova-conf``): what they cost does not grow with the rest of the
vCenter, and what they find, list and delete is what the whole read gives.

The cache is laid out by hand in the directory behind DC0's datastore, as in
test_cache.py. In the crowded vCenter every datacenter has a datastore named LocalDS_0,
shared by its two clusters: a VM of DC0_C1 can use an image cached for DC0_C0.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim
from test_cache import CACHE, DS, put_image
from test_checks import NOVA_CONF
from test_scoped_reads import CROWDED, LONE, requests

from vmwctl.vsphere.tasks import wait_for_task

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("private_lock_dir")]

OLD = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=3)


def dc0_store(sim: Any) -> Path:
    """The directory behind DC0's LocalDS_0 (every datacenter has one of that name)."""
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(sim.connect())
    dc0 = next(dc.moid for dc in inventory.datacenters.values() if dc.name == "DC0")
    return Path(next(ds.url for ds in inventory.datastores.values()
                     if ds.name == DS and ds.datacenter == dc0))


def put_images(root: Path) -> dict[str, str]:
    """Three images in the profile's cache folder, as Nova left them three days ago: marked
    then (deleted unless used), unmarked (marked now), and one a VM will use; ids by role."""
    return {role: put_image(root, str(uuid.uuid5(uuid.NAMESPACE_URL, f"scoped-cache/{role}")),
                            marker=None if role == "new" else OLD)[0]
            for role in ("old", "new", "used")}


def vm_of_cluster(vc: Any, cluster: str, name: str, parent_disk: str) -> None:
    """A VM in ``cluster``'s pool whose disk is a linked clone of ``parent_disk``."""
    from vmwctl.vsphere.inventory import collect

    found = {r.get("name"): r for r in collect(vc, {vim.ClusterComputeResource: [
        "name", "resourcePool", "parent"]})}
    pool = found[cluster].get("resourcePool")
    dc = found[cluster].get("parent").parent  # host folder -> datacenter
    parent = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=parent_disk,
                                                           diskMode="persistent")
    changes = [
        vim.vm.device.VirtualDeviceSpec(operation="add", device=vim.vm.device.
                                        VirtualLsiLogicController(key=-100, busNumber=0,
                                                                 sharedBus="noSharing")),
        vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create",
                                        device=vim.vm.device.VirtualDisk(
            key=-101, unitNumber=0, controllerKey=-100, capacityInKB=1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName="", diskMode="persistent", parent=parent)))]
    spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"), deviceChange=changes)
    wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool), what="create")


@pytest.fixture
def pair(simulator) -> tuple[Any, Any]:
    """The cluster alone and among five others, each with the same cache in DC0's
    LocalDS_0 (the commands change it: a pair of the test's own)."""
    lone, crowded = simulator(*LONE), simulator(*CROWDED)
    for sim in (lone, crowded):
        put_images(dc0_store(sim))
    return lone, crowded


@pytest.mark.parametrize("args", [
    ("cache", "list", "--no-glance"),
    ("cache", "list", "--all", "--no-glance"),
    ("cache", "purge", "--dry-run", "--no-glance"),
    ("cache", "purge", "-y", "--no-glance"),
    ("cache", "purge", "--profiles", "sim", "-y", "--no-glance"),
    ("cache", "evict", str(uuid.uuid5(uuid.NAMESPACE_URL, "scoped-cache/old")), "-y"),
], ids=["list", "list --all", "purge --dry-run", "purge", "purge --profiles", "evict"])
def test_the_same_requests_alone_and_among_others(pair, args: tuple[str, ...]) -> None:
    lone, crowded = pair
    assert requests(crowded, *args) == requests(lone, *args)


def test_no_vm_is_read_but_who_uses_which_folder(pair) -> None:
    """The tree and the cluster's datastores (no view: no host or VM is read with them),
    then folder_users' one vCenter-wide read: three views in all for cache list."""
    _, crowded = pair
    found = requests(crowded, "cache", "list", "--no-glance")
    assert found["CreateContainerView"] == found["DestroyView"] == 2
    from vmwctl.vsphere.snapshot import CACHE as KINDS
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(crowded.connect(), cluster="DC0_C0", properties=KINDS)
    assert not inventory.vms and not inventory.hosts and not inventory.networks
    assert [ds.name for ds in inventory.datastores.values()] == [DS]


def test_the_same_listing_plan_and_deletions_as_the_whole_read(pair) -> None:
    from vmwctl.cache.listing import list_cache, target_datastores
    from vmwctl.cache.purge import PurgeRequest, plan_purge
    from vmwctl.cache.usage import folder_users
    from vmwctl.profile.load import load_profile
    from vmwctl.vsphere.snapshot import CACHE as KINDS
    from vmwctl.vsphere.snapshot import read_inventory

    _, crowded = pair
    root = dc0_store(crowded)
    images = {role: str(uuid.uuid5(uuid.NAMESPACE_URL, f"scoped-cache/{role}"))
              for role in ("old", "new", "used")}
    vc = crowded.connect()
    # a VM of the other cluster on the shared datastore holds the third image
    vm_of_cluster(vc, "DC0_C1", "other-cluster-vm",
                  f"[{DS}] {CACHE}/{images['used']}/{images['used']}.vmdk")
    profile = load_profile(str(crowded.config), "sim", {})
    users = folder_users(vc)
    when = dt.datetime.now(dt.UTC).replace(microsecond=0)
    request = PurgeRequest(folder=CACHE, subdirectory_name="_base", min_age_seconds=86400,
                           include_temp=False, in_use_ids=frozenset(), now=when)
    found = []
    for inventory in (read_inventory(vc),
                      read_inventory(vc, cluster="DC0_C0", properties=KINDS)):
        stores = target_datastores(inventory, profile, None, inventory.cluster_named("DC0_C0"))
        listing = list_cache(vc, inventory, profile, now=when, datastores=stores, users=users)
        plan = plan_purge(vc, inventory, stores, request, users)
        found.append((dataclasses.asdict(listing), dataclasses.asdict(plan)))
    assert found[0] == found[1]
    plan = found[1][1]
    assert {i["image_id"]: i["action"] for i in plan["items"]} == {
        images["old"]: "delete", images["new"]: "mark", images["used"]: "unmark"}

    listed = crowded.run("cache", "list", "--no-glance", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert {r["image_id"]: r["users"] for r in listed.json()["images"]} == {
        images["old"]: [], images["new"]: [], images["used"]: ["other-cluster-vm"]}

    done = crowded.run("cache", "purge", "-y", "--no-glance", "-o", "json")
    assert done.exit_code == 0, done.stderr
    outcomes = {i["image_id"]: i["outcome"] for i in done.json()["items"]}
    assert outcomes == {images["old"]: "deleted", images["new"]: "marked",
                        images["used"]: "unmarked"}
    # read back from the datastore directory: only the planned deletion happened
    assert {p.name for p in (root / CACHE).iterdir()} == {images["new"], images["used"]}
    def markers(image: str) -> list[str]:
        return [p.name for p in (root / CACHE / image).iterdir() if p.name.startswith("ts-")]

    assert len(markers(images["new"])) == 1 and markers(images["used"]) == []
    assert (root / CACHE / images["used"] / f"{images['used']}-flat.vmdk").exists()
    # the same names in the other datacenters hold no cache and were not touched
    others = {ds.url for ds in read_inventory(vc).datastores.values()} - {str(root)}
    assert others and not any((Path(url) / CACHE).exists() for url in others)


def test_a_vm_of_another_cluster_keeps_its_image_from_evict(pair) -> None:
    _, crowded = pair
    root = dc0_store(crowded)
    used = str(uuid.uuid5(uuid.NAMESPACE_URL, "scoped-cache/used"))
    vm_of_cluster(crowded.connect(), "DC0_C1", "holder",
                  f"[{DS}] {CACHE}/{used}/{used}.vmdk")
    refused = crowded.run("cache", "evict", used, "-y")
    assert refused.exit_code == 1, refused.stderr
    assert "holder" in refused.stderr + refused.stdout
    assert (root / CACHE / used / f"{used}.vmdk").exists()


def test_a_cluster_that_does_not_exist(pair, tmp_path: Path) -> None:
    _, crowded = pair
    listed = crowded.run("cache", "list", "--cluster", "Nope", "--no-glance")
    assert listed.exit_code == 2
    assert "no cluster named 'Nope' (clusters: DC0_C0, DC0_C1, DC1_C0, DC1_C1, DC2_C0, " \
        "DC2_C1)" in listed.stderr
    purged = crowded.run("cache", "purge", "--cluster", "Nope", "-y", "--no-glance")
    assert purged.exit_code == 2 and "no cluster named 'Nope'" in purged.stderr
    root = dc0_store(crowded)
    assert len(list((root / CACHE).iterdir())) == 3  # nothing changed

    import yaml

    config = yaml.safe_load(Path(crowded.config).read_text())
    config["profiles"]["sim"]["vmware"]["cluster_name"] = "Gone"
    path = tmp_path / "gone.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    profile = crowded.run("--config", str(path), "cache", "list", "--no-glance")
    assert profile.exit_code == 2
    assert "no cluster named 'Gone'" in profile.stderr
    assert "vmware.cluster_name of profile 'sim'" in profile.stderr
    # --datastore does without the profile's cluster: every LocalDS_0 of the vCenter
    named = crowded.run("--config", str(path), "cache", "list", "--datastore", DS,
                        "--no-glance", "-o", "json")
    assert named.exit_code == 0, named.stderr
    assert named.json()["datastores"] == [DS, DS, DS]
    assert len(named.json()["images"]) == 3
    aged = crowded.run("--config", str(path), "cache", "purge", "--profiles", "sim", "-y",
                       "--no-glance", "-o", "json")
    assert aged.exit_code == 2, aged.stderr
    (entry,) = aged.json()["profiles"]
    assert "no cluster named 'Gone'" in entry["error"]
    assert len(list((root / CACHE).iterdir())) == 3


# ---------------------------------------------------------------- check nova-conf


@pytest.fixture(scope="module")
def shared_pair(module_simulator) -> tuple[Any, Any]:
    return module_simulator(*LONE), module_simulator(*CROWDED)


def conf_file(tmp_path: Path, cluster: str) -> str:
    path = tmp_path / f"nova-{cluster}.conf"
    path.write_text(NOVA_CONF.replace("cluster_name = DC0_C0", f"cluster_name = {cluster}"))
    return str(path)


@pytest.mark.parametrize("args", [
    ("check", "nova-conf", "{conf}"),
    ("check", "prereqs", "--nova-conf", "{conf}", "--skip", "sessions"),
], ids=["check nova-conf", "check prereqs --nova-conf"])
def test_nova_conf_the_same_requests_alone_and_among_others(shared_pair, tmp_path: Path,
                                                             args: tuple[str, ...]) -> None:
    lone, crowded = shared_pair
    args = tuple(arg.format(conf=conf_file(tmp_path, "DC0_C0")) for arg in args)
    assert requests(crowded, *args) == requests(lone, *args)


def _whole(sim: Any, path: str, prereqs: bool) -> list[dict]:
    """The checks as the whole read gives them (today's read)."""
    from vmwctl.checks.model import Context
    from vmwctl.checks.nova_conf import check_nova_conf
    from vmwctl.checks.prereqs import run_prereqs
    from vmwctl.profile.load import load_profile
    from vmwctl.profile.nova_conf import read_nova_conf
    from vmwctl.vsphere.snapshot import read_inventory

    vc = sim.connect()
    profile = load_profile(str(sim.config), "sim", {})
    inventory = read_inventory(vc)
    if prereqs:
        report = run_prereqs(vc, profile, cluster_name="DC0_C0", nova_conf=Path(path),
                             skip=["sessions"], inventory=inventory)
        return [dataclasses.asdict(c) for c in report.checks]
    ctx = Context(inventory=inventory, profile=profile, cluster_name=None, cluster=None,
                  regex=None, portgroup=None)
    return [dataclasses.asdict(c) for c in check_nova_conf(read_nova_conf(Path(path)),
                                                           profile, ctx, vc)]


@pytest.mark.parametrize("cluster", ["DC0_C0", "DC1_C1", "Nope"])
@pytest.mark.parametrize("prereqs", [False, True], ids=["nova-conf", "prereqs --nova-conf"])
def test_nova_conf_the_same_verdicts_as_the_whole_read(shared_pair, tmp_path: Path,
                                                       cluster: str, prereqs: bool) -> None:
    """The file's cluster, the profile's (DC0_C0) or another, or none of that name."""
    _, crowded = shared_pair
    path = conf_file(tmp_path, cluster)
    args = ("check", "prereqs", "--nova-conf", path, "--skip", "sessions") if prereqs \
        else ("check", "nova-conf", path)
    done = crowded.run(*args, "-o", "json")
    assert done.exit_code in (0, 1), done.stderr
    scoped = done.json()["checks"]
    whole = _whole(crowded, path, prereqs)
    assert scoped == [{k: v for k, v in c.items() if k in scoped[0]} for c in whole]
    verdict = next(c for c in scoped if c["id"] == "nova-conf.cluster")
    if cluster == "Nope":
        assert verdict["status"] == "fail"
        assert verdict["detail"].endswith("no cluster named 'Nope' in " +
                                          done.json()["vcenter"])
        assert {c["id"]: c["status"] for c in scoped}["nova-conf.datastores"] == "skip"
    else:
        assert verdict["status"] == "pass", verdict
        assert {c["id"]: c["status"] for c in scoped}["nova-conf.vnc-ports"] != "skip"


def test_prereqs_reads_a_nova_conf_of_another_cluster_scoped_too(shared_pair,
                                                                  tmp_path: Path) -> None:
    """The file's cluster differs from the profile's: one more read scoped to it (tree and
    cluster, no VM), never the whole vCenter; the VNC ports are read once."""
    _, crowded = shared_pair
    same = requests(crowded, "check", "prereqs", "--nova-conf", conf_file(tmp_path, "DC0_C0"),
                    "--skip", "sessions")
    other = requests(crowded, "check", "prereqs", "--nova-conf",
                     conf_file(tmp_path, "DC1_C1"), "--skip", "sessions")
    extra = {m: other.get(m, 0) - same.get(m, 0) for m in {*same, *other}
             if other.get(m, 0) != same.get(m, 0)}
    assert extra == {"CreateContainerView": 2, "RetrievePropertiesEx": 2, "DestroyView": 2}
