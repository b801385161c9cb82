"""Every ``--dry-run`` of the cache, vm and role commands: it says "would ..." on a
terminal, its JSON carries ``"dry_run": true``, and nothing changes (read back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import vm_names
from labimages import raw_disk, upload, vmdk

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"


@pytest.fixture
def image(sim, lab_env, tmp_path: Path) -> str:
    return upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                  "dry-image", vmware_disktype="streamOptimized")


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def role_named(vc, name: str):
    return next((r for r in vc.content.authorizationManager.roleList if r.name == name), None)


def test_cache_seed_dry_run(sim, ds_dir, image) -> None:
    before = tree(ds_dir)
    human = sim.run("cache", "seed", image, "--dry-run")
    assert human.exit_code == 0, human.stderr
    assert human.stdout == (f"[LocalDS_0] {CACHE}/{image}: would be seeded "
                            "(streamOptimized)\n")
    document = sim.run("cache", "seed", image, "--dry-run", "-o", "json")
    [result] = document.json()
    assert (result["outcome"], result["dry_run"]) == ("planned", True)
    assert tree(ds_dir) == before
    seeded = sim.run("cache", "seed", image, "-o", "json")
    assert seeded.exit_code == 0, seeded.stderr
    assert seeded.json()[0]["dry_run"] is False and seeded.json()[0]["outcome"] == "seeded"


def test_cache_evict_and_purge_dry_runs(sim, ds_dir, image) -> None:
    assert sim.run("cache", "seed", image, "-q").exit_code == 0
    before = tree(ds_dir)
    evict = sim.run("cache", "evict", image, "--dry-run")
    assert evict.exit_code == 0, evict.stderr
    assert evict.stdout.startswith(f"[LocalDS_0] {CACHE}/{image}: would be removed (")
    assert sim.run("cache", "evict", image, "--dry-run", "-o", "json").json()["dry_run"] is True

    purge = sim.run("cache", "purge", "--dry-run", env={"COLUMNS": "160"})
    assert purge.exit_code == 0, purge.stderr
    row = next(line for line in purge.stdout.splitlines() if image in line)
    assert "would mark" in row and "dry-image" in row
    assert purge.stdout.splitlines()[-1] == (f"{CACHE} on LocalDS_0: would mark 1; would free "
                                             "0 B")
    plan = sim.run("cache", "purge", "--dry-run", "-o", "json").json()
    assert plan["dry_run"] is True and [i["outcome"] for i in plan["items"]] == ["planned"]
    assert tree(ds_dir) == before


def test_vm_delete_dry_run(sim, vc, image) -> None:
    assert sim.run("vm", "spawn", image, "--name", "dry", "--no-network",
                   "--no-power-on").exit_code == 0
    before = vm_names(vc)
    human = sim.run("vm", "delete", "vmwctl-dry", "--dry-run")
    assert human.stdout == "vmwctl-dry: would be deleted ([LocalDS_0] vmwctl-dry)\n"
    document = sim.run("vm", "delete", "dry", "--dry-run", "-o", "json").json()
    assert document["dry_run"] is True and document["vms"][0]["outcome"] == "planned"
    assert vm_names(vc) == before


def test_role_create_dry_run(simulator) -> None:
    sim = simulator()
    vc = sim.connect()
    human = sim.run("role", "create", "--dry-run")
    assert human.stdout == "role openstack-nova: would be created\n"
    document = sim.run("role", "create", "--dry-run", "-o", "json").json()
    assert document["dry_run"] is True and document["role_action"] == "created"
    assert role_named(vc, "openstack-nova") is None
    assert sim.run("role", "create", "-q").exit_code == 0
    again = sim.run("role", "create", "--dry-run")
    assert again.stdout == ("role openstack-nova: already holds exactly the guide's privileges\n"
                            "nothing would change\n")
