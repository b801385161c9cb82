"""``cache seed`` against the simulator and the lab's Glance: the cached disk read back.

Each image is made from random bytes with qemu-img, uploaded to Glance, seeded,
and the disk the simulator's datastore directory then holds is compared with
the source by ``qemu-img compare`` (the lab's simulator converts as ESXi does:
CopyVirtualDisk, CreateVirtualDisk and the NFC import).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from labimages import (
    datastore_leftovers,
    interrupted_seed,
    iso_image,
    profile_for,
    raw_disk,
    same_disk,
    upload,
    vmdk,
)

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"
DS = "LocalDS_0"


def seed(sim, config: Path, image_id: str, *args: str):
    return sim.run("--config", str(config), "cache", "seed", image_id, "-o", "json", *args)


@pytest.mark.parametrize("subformat, disktype", [("monolithicSparse", "sparse"),
                                                 ("streamOptimized", "streamOptimized")])
def test_seed_places_the_disk_as_nova_would(simulator, lab_env, tmp_path: Path, subformat: str,
                                            disktype: str) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path)
    image_id = upload(sim.config, vmdk(raw, subformat), f"seed-{disktype}",
                      vmware_disktype=disktype, vmware_adaptertype="lsiLogic")
    result = seed(sim, sim.config, image_id)
    assert result.exit_code == 0, result.stderr
    [done] = result.json()
    assert (done["outcome"], done["method"], done["datastore"]) == ("seeded", disktype, DS)
    folder = root / CACHE / image_id
    assert sorted(p.name for p in folder.iterdir()) == [f"{image_id}-flat.vmdk",
                                                        f"{image_id}.vmdk"]
    descriptor = (folder / f"{image_id}.vmdk").read_text()
    assert f'"{image_id}-flat.vmdk"' in descriptor
    assert same_disk(raw, folder / f"{image_id}.vmdk")
    assert datastore_leftovers(root) == []

    again = seed(sim, sim.config, image_id)
    assert again.exit_code == 0 and again.json()[0]["outcome"] == "cached"
    human = sim.run("--config", str(sim.config), "cache", "seed", image_id)
    assert "already cached; nothing to do" in human.stdout


def test_seed_preallocated_from_a_flat_glance(simulator, lab, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    config = profile_for(sim, tmp_path, "flat", cloud=lab.cloud_flat)
    raw = raw_disk(tmp_path)
    image_id = upload(config, raw, "seed-flat", vmware_disktype="preallocated",
                      vmware_adaptertype="ide")
    result = seed(sim, config, image_id)
    assert result.exit_code == 0, result.stderr
    assert result.json()[0]["method"] == "flat"
    folder = root / CACHE / image_id
    assert (folder / f"{image_id}-flat.vmdk").read_bytes() == raw.read_bytes()
    descriptor = (folder / f"{image_id}.vmdk").read_text()
    assert 'ddb.adapterType = "ide"' in descriptor
    assert same_disk(raw, folder / f"{image_id}.vmdk")
    assert datastore_leftovers(root) == []


def test_seed_iso_all_datastores_and_dry_run(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator("-ds", "2")
    iso = iso_image(tmp_path / "rescue.iso")
    image_id = upload(sim.config, iso, "rescue", disk_format="iso")
    dry = seed(sim, sim.config, image_id, "--all-datastores", "--dry-run")
    assert dry.exit_code == 0
    assert sorted((r["datastore"], r["outcome"]) for r in dry.json()) == [
        ("LocalDS_0", "planned"), ("LocalDS_1", "planned")]
    assert not any((Path(d) / CACHE).exists() for d in sim.datastores.values())

    result = seed(sim, sim.config, image_id, "--all-datastores")
    assert result.exit_code == 0, result.stderr
    for directory in sim.datastores.values():
        cached = Path(directory) / CACHE / image_id / f"{image_id}.iso"
        assert cached.read_bytes() == iso.read_bytes()


def test_seed_refuses_what_nova_cannot_boot(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    raw = raw_disk(tmp_path, 1 << 20)
    bad = upload(sim.config, vmdk(raw, "streamOptimized"), "bad-type",
                 vmware_disktype="qcow-ish")
    result = seed(sim, sim.config, bad)
    assert result.exit_code == 2
    assert "not a disk type Nova boots" in result.json()["error"]["message"]
    missing = seed(sim, sim.config, "no-such-image")
    assert missing.exit_code == 1 and "no image 'no-such-image'" in missing.stderr
    both = seed(sim, sim.config, bad, "--datastore", DS, "--all-datastores")
    assert both.exit_code == 2
    assert not (Path(sim.datastores[DS]) / CACHE).exists()


def test_seed_cut_mid_transfer_leaves_nothing(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path, 8 << 20)
    image_id = upload(sim.config, vmdk(raw, "monolithicSparse"), "cut", vmware_disktype="sparse")
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = profile_for(sim, tmp_path, "proxied", port=proxy.port)
        proxy.cut_after(2 << 20)
        result = seed(sim, config, image_id)
        assert proxy.cuts == 1
    assert result.exit_code == 3, result.stdout  # the connection, not vCenter, failed
    # "broke off" mid-send, "failed" when the reset is read as the answer: one cause, as the
    # reason in brackets says
    assert re.fullmatch(
        rf"the connection to vCenter 127\.0\.0\.1:{proxy.port} (broke off|failed) during "
        rf"uploading \[{DS}\] vmware_temp/vmwctl-[-0-9a-f]+/{image_id}/tmp-sparse\.vmdk "
        r"\(.+\); check that vCenter is up and reachable, then run the command again",
        result.json()["error"]["message"]), result.stdout
    assert not (root / CACHE / image_id).exists()
    assert datastore_leftovers(root) == []


def test_seed_interrupted_by_ctrl_c_leaves_nothing(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path, 8 << 20)
    image_id = upload(sim.config, vmdk(raw, "monolithicSparse"), "ctrl-c",
                      vmware_disktype="sparse")
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = profile_for(sim, tmp_path, "slow", port=proxy.port)
        proxy.slow_down(0.02)

        def ready() -> bool:
            found = list(root.glob(f"vmware_temp/*/{image_id}/tmp-sparse.vmdk"))
            return bool(found and found[0].stat().st_size > 1 << 20)

        code, stdout, stderr = interrupted_seed(config, image_id, ready,
                                                lambda: proxy.slow_down(0))
    assert code == 130, stderr
    assert json.loads(stdout)["error"]["exit_code"] == 130
    assert not (root / CACHE / image_id).exists()
    assert datastore_leftovers(root) == []
