"""``cache purge --profiles``: several compute services' caches in one run, on several
simulators at once (each a vCenter of its own, with its own datastore directory)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from test_cache import CACHE, DAY, DS, markers, put_image, snapshot, utcnow
from test_vcenter import closed_port

from vmwctl.cache.layout import LOCK_FOLDER
from vmwctl.cache.locks import local_lock
from vmwctl.cache.profiles import ProfileJob, purge_profiles
from vmwctl.cache.purge import PurgeRequest
from vmwctl.common.interrupts import Stopper
from vmwctl.profile.load import build_profile

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("private_lock_dir")]


def raw_profile(sim, **vmware) -> dict:
    profile = copy.deepcopy(yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"])
    profile["vmware"].update(vmware)
    return profile


def write_config(tmp_path: Path, profiles: dict[str, dict]) -> Path:
    path = tmp_path / "compute.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    path.chmod(0o600)
    return path


def purge(sim, config: Path, *args: str):
    return sim.run("--config", str(config), "cache", "purge", *args)


def by_profile(result) -> dict[str, dict]:
    return {entry["profile"]: entry for entry in result.json()["profiles"]}


def outcomes(entry: dict) -> dict[str, str]:
    return {item["path"]: item["outcome"] for item in entry["report"]["items"]}


def lock_file(locks: Path, port: int, folder: str = CACHE) -> Path:
    key = hashlib.sha256(f"127.0.0.1:{port}/{folder}".encode()).hexdigest()[:16]
    return locks / "vmwctl" / "locks" / f"purge-{key}.lock"


@pytest.fixture
def three(simulator, tmp_path: Path):
    """Three vCenters, one profile each (a, b, c), each cache with an image due for deletion
    and one without a marker."""
    sims = [simulator() for _ in range(3)]
    images = {}
    for name, sim in zip("abc", sims, strict=True):
        root = Path(sim.datastores[DS])
        images[name] = (put_image(root, marker=utcnow() - 3 * DAY), put_image(root))
    config = write_config(tmp_path, {name: raw_profile(sim) for name, sim in zip("abc", sims,
                                                                                strict=True)})
    return dict(zip("abc", sims, strict=True)), images, config


def image_path(image_id: str) -> str:
    return f"[{DS}] {CACHE}/{image_id}"


def test_each_profile_is_aged_on_its_own_vcenter(three, private_lock_dir: Path) -> None:
    sims, images, config = three
    result = purge(sims["a"], config, "--profiles", "a,b,c", "--parallel", "2", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert (document["dry_run"], document["interrupted"], document["exit_code"],
            document["failures"], document["parallel"]) == (False, False, 0, 0, 2)
    entries = by_profile(result)
    assert list(entries) == ["a", "b", "c"]  # in the order given
    for name, sim in sims.items():
        (due, due_path), (fresh, fresh_path) = images[name]
        entry = entries[name]
        assert (entry["vcenter"], entry["cluster"], entry["cache_folder"], entry["exit_code"],
                entry["error"]) == (f"127.0.0.1:{sim.port}", "DC0_C0", CACHE, 0, None)
        assert outcomes(entry) == {image_path(due): "deleted", image_path(fresh): "marked"}
        assert entry["report"]["datastores"] == [DS]
        assert not due_path.exists() and len(markers(fresh_path)) == 1
        root = Path(sim.datastores[DS])
        assert not (root / CACHE / LOCK_FOLDER).exists()
        assert lock_file(private_lock_dir, sim.port).exists()  # this machine's lock, its own
    assert document["bytes_freed"] == sum(e["report"]["bytes_freed"] for e in entries.values())

    table = purge(sims["a"], config, "--profiles", "a,b,c")
    assert table.exit_code == 0, table.stderr
    for name, sim in sims.items():
        assert f"Profile {name} (127.0.0.1:{sim.port}, cluster DC0_C0)" in table.stdout
    assert "3 profiles: 3 aged; freed 0 B" in table.stdout


def test_a_vcenter_down_is_that_profiles_error(three, tmp_path: Path) -> None:
    sims, images, _ = three
    down = raw_profile(sims["c"], host_port=closed_port())
    config = write_config(tmp_path, {"a": raw_profile(sims["a"]), "down": down,
                                     "b": raw_profile(sims["b"])})
    result = purge(sims["a"], config, "--profiles", "a,down,b", "-o", "json")
    assert result.exit_code == 3, result.stderr  # the worst: a vCenter not reached
    entries = by_profile(result)
    assert entries["down"]["exit_code"] == 3 and entries["down"]["report"] is None
    assert f"127.0.0.1:{down['vmware']['host_port']}" in entries["down"]["error"]
    assert f"profile down: {entries['down']['error']}" in result.stderr
    for name in "ab":
        assert entries[name]["exit_code"] == 0 and entries[name]["error"] is None
        (_, due_path), (_, fresh_path) = images[name]
        assert not due_path.exists() and len(markers(fresh_path)) == 1
    (_, due_path), (_, fresh_path) = images["c"]  # c's vCenter was never named: untouched
    assert due_path.exists() and markers(fresh_path) == []
    document = result.json()
    assert (document["exit_code"], document["failures"]) == (3, 1)


def test_the_locks_are_per_profile(three) -> None:
    """b's cache is held on this machine, c's datastore by another machine: those two say so
    and change nothing; a is aged; exit 1."""
    sims, images, config = three
    lock = Path(sims["c"].datastores[DS]) / CACHE / LOCK_FOLDER
    lock.mkdir()
    (lock / "owner.json").write_text(json.dumps({
        "host": "compute-7", "pid": 4242, "user": "nova", "tool": "vmwctl 0.1.0",
        "since": (utcnow() - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
    before = {name: snapshot(Path(sims[name].datastores[DS]) / CACHE) for name in "bc"}
    with local_lock(f"127.0.0.1:{sims['b'].port}/{CACHE}", utcnow()):
        result = purge(sims["a"], config, "--profiles", "a,b,c", "-o", "json")
    assert result.exit_code == 1, result.stderr
    entries = by_profile(result)
    assert entries["a"]["exit_code"] == 0
    assert entries["b"]["exit_code"] == 1 and entries["b"]["report"] is None
    assert "another purge of this cache runs on this machine" in entries["b"]["error"]
    assert entries["c"]["exit_code"] == 1 and entries["c"]["error"] is None
    assert "compute-7" in entries["c"]["report"]["locked_out"][0]
    assert entries["c"]["report"]["items"] == []
    for name in "bc":
        assert snapshot(Path(sims[name].datastores[DS]) / CACHE) == before[name]
    assert "profile b: another purge" in result.stderr
    assert "profile c: another purge holds" in result.stderr
    (_, due_path), _ = images["a"]
    assert not due_path.exists()


def test_profiles_of_one_vcenter_share_its_locks_and_run_in_turn(simulator,
                                                                  tmp_path: Path) -> None:
    """Two services on two clusters of one vCenter sharing its datastore: with the same cache
    folder they share one lock and run one after the other (neither turned away); a third
    with its own my_ip ages its own folder."""
    sim = simulator("-cluster", "2")
    root = Path(sim.datastores[DS])
    (due, due_path), (fresh, fresh_path) = (put_image(root, marker=utcnow() - 3 * DAY),
                                            put_image(root))
    (_, other_path) = put_image(root, folder="10.9.9.9_base", marker=utcnow() - 3 * DAY)
    config = write_config(tmp_path, {
        "c0": raw_profile(sim), "c1": raw_profile(sim, cluster_name="DC0_C1"),
        "own": {**raw_profile(sim, cluster_name="DC0_C1"), "DEFAULT": {"my_ip": "10.9.9.9"}}})
    result = purge(sim, config, "--profiles", "c0,c1,own", "--parallel", "3", "-o", "json")
    assert result.exit_code == 0, result.stderr
    entries = by_profile(result)
    assert outcomes(entries["c0"]) == {image_path(due): "deleted", image_path(fresh): "marked"}
    assert outcomes(entries["c1"]) == {image_path(fresh): "waiting"}  # marked just before
    assert entries["own"]["cache_folder"] == "10.9.9.9_base"
    assert [i["outcome"] for i in entries["own"]["report"]["items"]] == ["deleted"]
    assert not due_path.exists() and len(markers(fresh_path)) == 1 and not other_path.exists()


def test_bad_input_exits_2_before_anything(three, tmp_path: Path) -> None:
    sims, _, config = three
    roots = {name: Path(sim.datastores[DS]) for name, sim in sims.items()}
    before = {name: snapshot(root) for name, root in roots.items()}
    off = write_config(tmp_path, {"a": raw_profile(sims["a"]), "b": {
        **raw_profile(sims["b"]), "image_cache": {"remove_unused_base_images": False}}})
    cases = [
        (config, ["--profiles", "a,nope,b"], "no profile 'nope' in"),
        (config, ["--profiles", "a", "--profile", "a"], "--profiles and -p/--profile"),
        (config, ["-p", "b", "--profiles", "a"], "--profiles and -p/--profile"),
        (config, ["--profiles", "a", "--datastore", DS], "--profiles and --datastore"),
        (config, ["--profiles", "a", "--cluster", "DC0_C0"], "--profiles and --cluster"),
        (config, ["--profiles", ""], "--profiles"),
        (config, ["--parallel", "2"], "--parallel needs --profiles"),
        (off, ["--profiles", "a,b"], "profile 'b' sets image_cache.remove_unused_base_images"),
    ]
    for path, args, message in cases:
        result = purge(sims["a"], path, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert {name: snapshot(root) for name, root in roots.items()} == before


def test_dry_run_and_a_quiet_cron_run(three, private_lock_dir: Path) -> None:
    sims, images, config = three
    roots = {name: Path(sim.datastores[DS]) for name, sim in sims.items()}
    before = {name: snapshot(root) for name, root in roots.items()}
    plan = purge(sims["a"], config, "--profiles", "a,b,c", "--dry-run", "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    assert plan.json()["dry_run"] is True
    for name, entry in by_profile(plan).items():
        (due, _), (fresh, _) = images[name]
        assert {i["path"]: i["action"] for i in entry["report"]["items"]} == {
            image_path(due): "delete", image_path(fresh): "mark"}
        assert set(outcomes(entry).values()) == {"planned"}
    human = purge(sims["a"], config, "--profiles", "a,b,c", "--dry-run")
    assert "Purge plan" in human.stdout and "3 profiles: 3 planned; would free" in human.stdout
    assert {name: snapshot(root) for name, root in roots.items()} == before
    assert not (private_lock_dir / "vmwctl").exists()  # no lock taken, not even here

    cron = purge(sims["a"], config, "--profiles", "a,b,c", "-q")  # no terminal: acts
    assert (cron.exit_code, cron.stdout, cron.stderr) == (0, "", "")
    for name in sims:
        (_, due_path), (_, fresh_path) = images[name]
        assert not due_path.exists() and len(markers(fresh_path)) == 1


def test_the_question_shows_every_plan_and_declined_changes_nothing(three) -> None:
    """On a terminal the purge asks once, with every profile's plan; the runs delete only
    what the plan showed."""
    sims, images, config_path = three
    raw = yaml.safe_load(config_path.read_text())["profiles"]
    now = utcnow()
    jobs = [ProfileJob(name, build_profile(name, raw[name]),
                       PurgeRequest(CACHE, "_base", 86400, False, frozenset(), now))
            for name in "abc"]
    roots = {name: Path(sim.datastores[DS]) for name, sim in sims.items()}
    before = {name: snapshot(root) for name, root in roots.items()}
    asked: list[dict[str, list[str]]] = []

    def answer(yes: bool):
        def confirm(plans) -> bool:
            asked.append({r.profile: [i.path for i in r.report.deletions]
                          for r in plans.profiles})
            return yes
        return confirm

    def open_vcenter(profile):
        return sims[profile.name].connect()

    assert purge_profiles(jobs, open_vcenter=open_vcenter, parallel=4, confirm=answer(False),
                          stopper=Stopper(), now=now) is None
    expected = {name: [image_path(images[name][0][0])] for name in "abc"}
    assert asked == [expected]
    assert {name: snapshot(root) for name, root in roots.items()} == before
    report = purge_profiles(jobs, open_vcenter=open_vcenter, parallel=4,
                            confirm=answer(True), stopper=Stopper(), now=now)
    assert asked[1:] == [expected]
    assert report is not None and report.exit_code == 0
    for name in "abc":
        (due, due_path), (fresh, fresh_path) = images[name]
        result = next(r for r in report.profiles if r.profile == name)
        assert {i.path: i.outcome.value for i in result.report.items} == {
            image_path(due): "deleted", image_path(fresh): "marked"}
        assert not due_path.exists() and len(markers(fresh_path)) == 1
