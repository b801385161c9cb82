"""``vmwctl audit`` on a simulator laid out to hold every finding kind, and on a clean one.

The layout is made with pyVmomi and files written in the simulator's datastore
directory, as Nova and its failures leave them; OpenStack's view comes from
JSON files in the form of 'openstack server list --all-projects --long -f json'
and 'openstack image list -f json'.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until
from pyVmomi import vim

from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
CACHE = "192.0.2.10_base"


def nova_vm(vc: Any, instance: str, display: str | None, *, marked: bool = True) -> Any:
    """A VM as Nova makes one: created as <uuid> (its folder keeps that name), marked with
    nvp.vm-uuid, renamed '<display> (<uuid>)'."""
    dc = vc.content.rootFolder.childEntity[0]
    extra = [vim.option.OptionValue(key="nvp.vm-uuid", value=instance)] if marked else []
    spec = vim.vm.ConfigSpec(name=instance, guestId="otherGuest", numCPUs=1, memoryMB=64,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"), extraConfig=extra)
    pool = dc.hostFolder.childEntity[0].resourcePool
    vm = wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool),
                       what=f"creating {instance}")
    if display:
        wait_for_task(vc, vm.Rename_Task(newName=f"{display[:41]} ({instance})"),
                      what="renaming")
    return vm


def plain_vm(vc: Any, name: str) -> Any:
    dc = vc.content.rootFolder.childEntity[0]
    spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", numCPUs=1, memoryMB=64,
                             files=vim.vm.FileInfo(vmPathName=f"[{DS}]"))
    pool = dc.hostFolder.childEntity[0].resourcePool
    return wait_for_task(vc, dc.vmFolder.CreateVM_Task(config=spec, pool=pool),
                         what=f"creating {name}")


def instances_of(vc: Any) -> list[dict]:
    """Server rows for the VMs the simulator made (its healthy scenario marks them Nova's)."""
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        rows = []
        for vm in view.view:
            marks = {o.key: o.value for o in vm.config.extraConfig or []}
            if "nvp.vm-uuid" in marks:
                rows.append({"ID": marks["nvp.vm-uuid"], "Name": vm.name, "Status": "ACTIVE",
                             "OS-EXT-SRV-ATTR:hypervisor_hostname": node_of(vc)})
        return rows
    finally:
        view.Destroy()


def node_of(vc: Any) -> str:
    dc = vc.content.rootFolder.childEntity[0]
    cluster = dc.hostFolder.childEntity[0]
    return f"{cluster._moId}.{vc.content.about.instanceUuid}"


def write_json(path: Path, rows: list[dict]) -> str:
    path.write_text(json.dumps(rows))
    return str(path)


def audit(sim, *args: str):
    return sim.run("--config", str(sim.config), "-o", "json", "audit", *args)


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture
def laid_out(simulator, tmp_path: Path) -> dict[str, Any]:
    return lay_out(simulator(), tmp_path)


def lay_out(sim: Any, tmp_path: Path) -> dict[str, Any]:
    """A simulator with one finding of each kind, and the files of OpenStack's view."""
    vc = sim.connect()
    root = Path(sim.datastores[DS])
    known = instances_of(vc)
    kept, orphan, twice, lost, shelved, folder, gone, cached = ids(8)
    plain_vm(vc, "operator-vm")
    nova_vm(vc, kept, "web")
    nova_vm(vc, orphan, "old-db")
    nova_vm(vc, twice, "twin")
    clone = nova_vm(vc, twice, None)  # a second VM claiming the same instance
    wait_for_task(vc, clone.Rename_Task(newName=f"twin-copy ({twice})"), what="renaming")
    named_only = str(uuid.uuid4())
    nova_vm(vc, named_only, "unmarked", marked=False)  # Nova's by its name alone
    shadow = f"OSTACK_IMG_{uuid.uuid4()}"
    plain_vm(vc, shadow)
    (root / shadow / f"{shadow}.vmdk").write_bytes(b"x" * 4096)
    (root / folder).mkdir()
    (root / folder / f"{folder}.vmdk").write_bytes(b"d" * 8192)
    for image in (gone, cached):
        (root / CACHE / image).mkdir(parents=True)
        (root / CACHE / image / f"{image}.vmdk").write_bytes(b"i" * 2048)
    node = node_of(vc)
    servers = write_json(tmp_path / "servers.json", [
        *known,
        {"ID": kept, "Name": "web", "Status": "ACTIVE", "Host": "nova-compute-1",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": node},
        {"ID": twice, "Name": "twin", "Status": "ACTIVE",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": node},
        {"ID": named_only, "Name": "unmarked", "Status": "ACTIVE",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": node},
        {"ID": lost, "Name": "lost", "Status": "ACTIVE",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": node},
        {"ID": shelved, "Name": "shelved", "Status": "SHELVED_OFFLOADED",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": node},
        {"ID": orphan.replace("-", "0", 1)[:36], "Name": "elsewhere", "Status": "ACTIVE",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": "domain-c99.other-vcenter"},
    ])
    images = write_json(tmp_path / "images.json", [{"ID": cached, "Name": "ubuntu",
                                                    "Status": "active"}])
    return {"sim": sim, "vc": vc, "root": root, "servers": servers, "images": images,
            "node": node, "kept": kept, "orphan": orphan, "twice": twice, "lost": lost,
            "folder": folder, "gone": gone, "cached": cached, "shadow": shadow,
            "named_only": named_only}


def by_kind(document: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for finding in document["findings"]:
        found.setdefault(finding["kind"], []).append(finding)
    return found


def test_every_kind_is_found(laid_out) -> None:
    sim = laid_out["sim"]
    done = audit(sim, "--servers-from", laid_out["servers"], "--images-from",
                 laid_out["images"])
    assert done.exit_code == 0, done.stderr
    document = done.json()
    assert document["node"] == laid_out["node"]
    found = by_kind(document)
    [orphan] = found["orphan-vm"]
    assert (orphan["subject"], orphan["instance"]) == \
        (f"old-db ({laid_out['orphan']})", laid_out["orphan"])
    [lost] = found["lost-instance"]
    assert lost["instance"] == laid_out["lost"]  # the shelved one is not lost
    [twins] = found["duplicate-vm"]
    assert twins["objects"] == sorted([f"twin ({laid_out['twice']})",
                                       f"twin-copy ({laid_out['twice']})"])
    [shadow] = found["shadow-vm"]
    assert shadow["subject"] == laid_out["shadow"]
    assert shadow["objects"] == [laid_out["shadow"], f"[{DS}] {laid_out['shadow']}"]
    assert shadow["size"] >= 4096
    [folder] = found["orphan-folder"]
    assert (folder["subject"], folder["size"]) == (f"[{DS}] {laid_out['folder']}", 8192)
    assert folder["age_seconds"] is not None
    [image] = found["deleted-image"]
    assert (image["subject"], image["size"]) == \
        (f"[{DS}] {CACHE}/{laid_out['gone']}", 2048)
    [foreign] = found["foreign-vm"]
    assert foreign["subject"] == "operator-vm"
    assert document["counts"] == {kind: len(found.get(kind, [])) for kind in (
        "orphan-vm", "lost-instance", "duplicate-vm", "shadow-vm", "orphan-folder",
        "deleted-image", "foreign-vm")}
    assert document["bytes"]["orphan-folder"] == 8192
    # the folders of VMs that exist are never orphaned
    subjects = {f["subject"] for f in document["findings"]}
    assert f"[{DS}] {laid_out['kept']}" not in subjects
    assert f"[{DS}] {laid_out['orphan']}" not in subjects


def test_fail_on_and_the_table(laid_out) -> None:
    sim = laid_out["sim"]
    args = ("--servers-from", laid_out["servers"], "--images-from", laid_out["images"])
    failed = audit(sim, *args, "--fail-on", "orphan-vm,shadow-vm")
    assert failed.exit_code == 1
    table = sim.run("--config", str(sim.config), "audit", *args)
    assert table.exit_code == 0
    assert "orphan-folder" in table.stdout and laid_out["node"] in table.stdout


def test_without_node_names_lost_instance_is_not_judged(laid_out, tmp_path: Path) -> None:
    sim = laid_out["sim"]
    rows = json.loads(Path(laid_out["servers"]).read_text())
    plain = write_json(tmp_path / "plain.json", [{"ID": r["ID"], "Name": r["Name"]}
                                                 for r in rows])
    done = audit(sim, "--servers-from", plain, "--images-from", laid_out["images"])
    assert done.exit_code == 0, done.stderr
    document = done.json()
    assert document["counts"]["lost-instance"] == 0
    assert any("lost-instance is not judged" in note for note in document["notes"])


def test_a_clean_lab_has_no_findings(simulator, tmp_path: Path) -> None:
    sim = simulator()
    servers = write_json(tmp_path / "servers.json", instances_of(sim.connect()))
    images = write_json(tmp_path / "images.json", [])
    done = audit(sim, "--servers-from", servers, "--images-from", images)
    assert done.exit_code == 0, done.stderr
    document = done.json()
    assert document["findings"] == []
    assert set(document["counts"].values()) == {0}


@pytest.mark.parametrize("args, message", [
    (("--fail-on", "orphans"), "--fail-on 'orphans': not a finding kind"),
    (("--servers-from", "/nonexistent.json"), "--servers-from /nonexistent.json: no such file"),
])
def test_bad_input_exits_2(simulator, args, message) -> None:
    sim = simulator()
    done = audit(sim, *args)
    assert done.exit_code == 2
    assert message in done.json()["error"]["message"]


def test_a_file_that_is_not_a_server_list_exits_2(simulator, tmp_path: Path) -> None:
    sim = simulator()
    bad = tmp_path / "servers.json"
    bad.write_text('{"servers": [{"Name": "no id"}]}')
    done = audit(sim, "--servers-from", str(bad), "--images-from", str(bad))
    assert done.exit_code == 2
    assert done.json()["error"]["message"] == f"--servers-from {bad}: entry 1 has no ID"


# ------------------------------------------------------------------ audit clean

def clean(laid_out, *args: str, servers: str | None = None):
    sim = laid_out["sim"]
    return sim.run("--config", str(sim.config), "-o", "json", "audit", "clean", *args,
                   "--servers-from", servers or laid_out["servers"],
                   "--images-from", laid_out["images"])


def vm_state(vc: Any) -> dict[str, tuple[str, str | None]]:
    """Every VM's power state and audit mark, by name."""
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        found = {}
        for vm in view.view:
            marks = {o.key: o.value for o in vm.config.extraConfig or []}
            found[vm.name] = (vm.runtime.powerState, marks.get("vmwctl.audit.orphaned"))
        return found
    finally:
        view.Destroy()


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def powered_on(laid_out, name: str) -> None:
    vc = laid_out["vc"]
    vm = vc.content.searchIndex.FindByInventoryPath(f"DC0/vm/{name}")
    wait_for_task(vc, vm.PowerOnVM_Task(), what=f"powering on {name}")


def test_clean_acts_in_stages(laid_out) -> None:
    orphan = f"old-db ({laid_out['orphan']})"
    powered_on(laid_out, orphan)
    root, vc = laid_out["root"], laid_out["vc"]
    first = clean(laid_out, "--older-than", "0", "--yes")
    assert first.exit_code == 0, first.stderr
    steps = {(a["kind"], a["step"], a["outcome"]) for a in first.json()["actions"]}
    assert steps == {("orphan-vm", "power-off", "done"), ("shadow-vm", "unregister", "done"),
                     ("orphan-folder", "delete-folder", "done"),
                     ("deleted-image", "delete-folder", "done")}
    state = vm_state(vc)
    power, mark = state[orphan]
    assert power == "poweredOff"
    assert json.loads(mark)["power"] == "poweredOn"
    assert laid_out["shadow"] not in state
    assert not (root / laid_out["shadow"]).exists()
    assert not (root / laid_out["folder"]).exists()
    assert not (root / CACHE / laid_out["gone"]).exists()
    assert (root / CACHE / laid_out["cached"]).exists()  # Glance still has it
    assert (root / laid_out["orphan"]).exists()  # the VM is only powered off so far
    seen = audit(laid_out["sim"], "--servers-from", laid_out["servers"], "--images-from",
                 laid_out["images"]).json()["findings"]
    [marked] = [f for f in seen if f["kind"] == "orphan-vm"]
    since = dt.datetime.fromisoformat(json.loads(mark)["since"])
    assert dt.datetime.fromisoformat(marked["since"]) == since  # the age is the mark's
    assert marked["age_seconds"] >= 0

    waiting = clean(laid_out, "--older-than", "1d", "--yes")
    assert waiting.exit_code == 0, waiting.stderr
    [action] = waiting.json()["actions"]
    assert (action["subject"], action["step"], action["outcome"]) == (orphan, "wait",
                                                                      "waiting")
    assert orphan in vm_state(vc)

    second = clean(laid_out, "--older-than", "0", "--yes")
    assert second.exit_code == 0, second.stderr
    [action] = second.json()["actions"]
    assert (action["subject"], action["step"], action["outcome"]) == (orphan, "delete-vm",
                                                                      "done")
    assert orphan not in vm_state(vc)
    assert not (root / laid_out["orphan"]).exists()
    after = audit(laid_out["sim"], "--servers-from", laid_out["servers"], "--images-from",
                  laid_out["images"]).json()["counts"]
    assert (after["orphan-vm"], after["shadow-vm"], after["orphan-folder"],
            after["deleted-image"]) == (0, 0, 0, 0)


def test_a_reappearing_instance_is_rescued(laid_out, tmp_path: Path) -> None:
    orphan = f"old-db ({laid_out['orphan']})"
    powered_on(laid_out, orphan)
    first = clean(laid_out, "orphan-vm", "--yes")
    assert first.exit_code == 0, first.stderr
    assert vm_state(laid_out["vc"])[orphan][0] == "poweredOff"
    rows = json.loads(Path(laid_out["servers"]).read_text())
    rows.append({"ID": laid_out["orphan"], "Name": "old-db", "Status": "SHUTOFF",
                 "OS-EXT-SRV-ATTR:hypervisor_hostname": laid_out["node"]})
    back = write_json(tmp_path / "back.json", rows)
    second = clean(laid_out, "orphan-vm", "--yes", "--older-than", "0", servers=back)
    assert second.exit_code == 0, second.stderr
    [action] = second.json()["actions"]
    assert (action["step"], action["outcome"]) == ("rescue", "done")
    assert vm_state(laid_out["vc"])[orphan] == ("poweredOn", None)


def test_max_refuses_and_dry_run_change_nothing(laid_out) -> None:
    vc, root = laid_out["vc"], laid_out["root"]
    before = (vm_state(vc), files(root))
    refused = clean(laid_out, "--older-than", "0", "--yes", "--max", "2")
    assert refused.exit_code == 1
    document = refused.json()
    assert "4 objects would be touched, more than --max 2: nothing done" in \
        document["refused"]
    assert {a["outcome"] for a in document["actions"]} == {"planned"}  # none done
    share = clean(laid_out, "--older-than", "0", "--yes", "--max", "1%")
    assert share.exit_code == 1
    dry = clean(laid_out, "--older-than", "0", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert len(dry.json()["actions"]) == 4
    assert (vm_state(vc), files(root)) == before


@pytest.mark.parametrize("args, message", [
    (("lost-instance",), "lost-instance is not cleaned by vmwctl"),
    (("orphans",), "'orphans' is not a finding kind 'audit clean' acts on"),
    (("--older-than", "soon"), "--older-than 'soon': give an age"),
    (("--max", "-3"), "--max '-3': give a number of objects"),
])
def test_clean_bad_input_exits_2(laid_out, args, message) -> None:
    before = vm_state(laid_out["vc"])
    done = clean(laid_out, *args, "--yes")
    assert done.exit_code == 2
    assert message in done.json()["error"]["message"]
    assert vm_state(laid_out["vc"]) == before


def test_clean_without_a_terminal_or_yes_refuses(laid_out) -> None:
    done = clean(laid_out, "--older-than", "0")
    assert done.exit_code == 2
    assert "refusing without confirmation; pass --yes" in done.json()["error"]["message"]


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_stops_between_objects_and_a_rerun_finishes(simulator, tmp_path: Path,
                                                           signum: int, code: int) -> None:
    laid_out = lay_out(simulator("-method-delay", "PowerOffVM_Task:2000"), tmp_path)
    sim = laid_out["sim"]
    orphan = f"old-db ({laid_out['orphan']})"
    powered_on(laid_out, orphan)
    process = subprocess.Popen(
        [sys.executable, "-m", "vmwctl", "--config", str(sim.config), "-o", "json", "audit",
         "clean", "--older-than", "0", "--yes", "--servers-from", laid_out["servers"],
         "--images-from", laid_out["images"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True)
    wait_until(lambda: sim.under_way("PowerOffVM_Task"), process, "the power-off", poll=0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    report = json.loads(stdout)
    assert report["interrupted"] is True
    outcomes = {a["step"]: (a["outcome"], a["error"]) for a in report["actions"]}
    assert outcomes["power-off"] == ("done", None)  # the step under way finished
    assert outcomes["unregister"] == ("skipped", "interrupted before it")
    state = vm_state(laid_out["vc"])
    assert state[orphan][0] == "poweredOff" and laid_out["shadow"] in state
    assert (laid_out["root"] / laid_out["folder"]).exists()
    rerun = clean(laid_out, "--older-than", "1d", "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert laid_out["shadow"] in vm_state(laid_out["vc"])  # 1d: the young folders wait
    finish = clean(laid_out, "--older-than", "0", "--yes")
    assert finish.exit_code == 0, finish.stderr
    assert laid_out["shadow"] not in vm_state(laid_out["vc"])
    assert not (laid_out["root"] / laid_out["folder"]).exists()


@pytest.mark.parametrize("flags", [(), ("-ds", "4"), ("-ds", "4", "-vm", "40")])
def test_requests_follow_the_formula(simulator, tmp_path: Path, flags: tuple[str, ...]) -> None:
    """vSphere requests of an audit = 2 * (2 + P) for the inventory read scoped to the cluster
    (the tree, then the cluster) + (2 + P) for the VMs' files + 2 per Nova datastore (its
    search task, and the wait for it), P the pages of 1,000 objects (1 here):
    docs/audit.md. The number of VMs does not count."""
    import datetime as dt

    from vmwctl.audit.run import Sources, run_audit
    from vmwctl.cache.listing import target_datastores
    from vmwctl.profile.load import load_profile
    from vmwctl.vsphere.snapshot import read_inventory

    sim = simulator(*flags)
    vc = sim.connect()
    vc.connect()
    empty = write_json(tmp_path / "empty.json", [])
    profile = load_profile(str(sim.config), None, {})
    before = vc.request_count
    inventory = read_inventory(vc, cluster="DC0_C0")
    cluster = inventory.cluster_named("DC0_C0")
    stores = target_datastores(inventory, profile, None, cluster)
    run_audit(vc, inventory, profile, cluster, Sources(servers=empty, images=empty),
              now=dt.datetime.now(dt.UTC))
    assert len(stores) == (4 if flags else 1)
    assert vc.request_count - before == 2 * (2 + 1) + (2 + 1) + 2 * len(stores)


def test_vcenter_going_away_exits_3_and_a_rerun_finishes(simulator, tmp_path: Path) -> None:
    """The vCenter connection cut while the power-off is under way: exit 3, and the next
    run, with vCenter back, does what is left."""
    from faultproxy import FaultProxy
    from helpers import write_profile

    laid_out = lay_out(simulator("-method-delay", "PowerOffVM_Task:2000"), tmp_path)
    sim = laid_out["sim"]
    orphan = f"old-db ({laid_out['orphan']})"
    powered_on(laid_out, orphan)
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = write_profile(sim, tmp_path / "proxied.yaml", port=proxy.port)
        process = subprocess.Popen(
            [sys.executable, "-m", "vmwctl", "--config", str(config), "-o", "json", "audit",
             "clean", "--older-than", "0", "--yes", "--servers-from", laid_out["servers"],
             "--images-from", laid_out["images"]], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        wait_until(lambda: sim.under_way("PowerOffVM_Task"), process, "the power-off",
                   poll=0.02)
        proxy.go_down()
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert laid_out["shadow"] in vm_state(laid_out["vc"])  # nothing after the cut
    rerun = clean(laid_out, "--older-than", "0", "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert laid_out["shadow"] not in vm_state(laid_out["vc"])
    assert not (laid_out["root"] / laid_out["folder"]).exists()


# ------------------------------------------------------------------ the compute API

def test_servers_from_the_compute_api(lab, admin_cloud, simulator, tmp_path: Path) -> None:
    """The same findings from nova-api's plain list of the node as from the file."""
    import labctl
    from helpers import write_profile

    laid_out = lay_out(simulator(), tmp_path)
    sim = laid_out["sim"]
    rows = json.loads(Path(laid_out["servers"]).read_text())
    # The simulator's model VMs carry the same instance UUIDs as the lab's own simulator's,
    # whose records lab up made on the lab's node: on this node they are orphans too.
    models = {row["ID"] for row in instances_of(laid_out["vc"])}
    projects, users = labctl.keystone_ids(lab, "projects"), labctl.keystone_ids(lab, "users")
    made = [labctl.NovaInstance(
        uuid=row["ID"], name=row["Name"], project_id=projects["operators"],
        user_id=users["operator"], node=laid_out["node"], host="lab-compute-audit")
        for row in rows if row.get("OS-EXT-SRV-ATTR:hypervisor_hostname") == laid_out["node"]
        and row["Status"] != "SHELVED_OFFLOADED"  # an offloaded instance has no node
        and row["ID"] not in models]
    labctl.create_nova_instances(lab, made)
    config = write_profile(sim, tmp_path / "admin.yaml", cloud=admin_cloud)
    try:
        done = sim.run("--config", str(config), "-o", "json", "audit", "--servers-from",
                       "api", "--images-from", laid_out["images"])
    finally:  # the lab's nova-api outlives the test: leave it as it was
        for instance in made:
            labctl.delete_nova_instance(lab, instance.uuid, hard=True)
    assert done.exit_code == 0, done.stderr
    document = done.json()
    assert document["servers_from"] == "api"
    found = by_kind(document)
    assert {f["instance"] for f in found["orphan-vm"]} == {laid_out["orphan"], *models}
    assert [f["instance"] for f in found["lost-instance"]] == [laid_out["lost"]]
    assert len(found["duplicate-vm"]) == 1


def test_clean_refuses_an_empty_list_from_the_api(lab, admin_cloud, simulator,
                                                  tmp_path: Path) -> None:
    """A node the compute API lists nothing on (a wrong cloud, a wrong region): every Nova VM
    would look orphaned; refused, nothing changed, unless --allow-empty."""
    from helpers import write_profile

    sim = simulator()
    vc = sim.connect()
    config = write_profile(sim, tmp_path / "admin.yaml", cloud=admin_cloud)
    images = write_json(tmp_path / "images.json", [])
    before = vm_state(vc)
    args = ("--config", str(config), "-o", "json", "audit", "clean", "orphan-vm",
            "--servers-from", "api", "--images-from", images, "--yes")
    refused = sim.run(*args)
    assert refused.exit_code == 1, refused.stdout
    assert "lists no instance on node" in refused.json()["refused"]
    assert "--allow-empty" in refused.json()["refused"]
    assert vm_state(vc) == before
    allowed = sim.run(*args, "--allow-empty", "--dry-run")
    assert allowed.exit_code == 0, allowed.stderr
    assert {a["step"] for a in allowed.json()["actions"]} == {"power-off"}
    assert vm_state(vc) == before
