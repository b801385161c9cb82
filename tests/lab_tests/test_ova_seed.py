"""OVA images end to end: ``image convert DEST.ova``, ``image upload``, and ``cache seed``
doing what Nova's fetch_image_ova does (the tar read as a stream from Glance, the disk the
OVF names imported through ImportVApp), with the same cleanup rules as streamOptimized."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import run_vmwctl
from labimages import (
    datastore_leftovers,
    interrupted_seed,
    profile_for,
    raw_disk,
    same_disk,
    upload,
    vmdk,
)

from vmwctl.images.glance import open_image_service
from vmwctl.profile.load import load_profile

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"
DS = "LocalDS_0"


def convert_ova(raw: Path, *args: str) -> Path:
    dest = raw.with_name("appliance.ova")
    result = run_vmwctl("image", "convert", str(raw), str(dest), "-o", "json", *args)
    assert result.exit_code == 0, result.stderr
    return dest


def upload_ova(sim, ova: Path, name: str) -> str:
    result = sim.run("image", "upload", str(ova), "--name", name, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()["image"]["id"]


def test_convert_packs_an_ova_that_inspect_accepts(tmp_path: Path) -> None:
    raw = raw_disk(tmp_path)
    dest = raw.with_name("web.ova")
    result = run_vmwctl("image", "convert", str(raw), str(dest), "--ostype", "ubuntu64Guest",
                        "--adapter-type", "lsiLogic", "-o", "json")
    assert result.exit_code == 0, result.stderr
    done = result.json()
    assert done["plan"]["container"] == "ova" and done["plan"]["ostype"] == "ubuntu64Guest"
    assert [m["name"] for m in done["package"]["members"]] == [
        "web.ovf", "web.mf", "web-disk1.vmdk"]
    inspected = run_vmwctl("image", "inspect", str(dest), "-o", "json")
    assert inspected.exit_code == 0, inspected.stdout
    assert inspected.json()["properties"] == {"vmware_disktype": "streamOptimized",
                                              "vmware_adaptertype": "lsiLogic",
                                              "vmware_ostype": "ubuntu64Guest"}
    assert sorted(p.name for p in tmp_path.glob("*.*")) == ["disk.raw", "web.ova"]  # no temp
    for args, message in ((("--disktype", "sparse"), "an OVA holds a streamOptimized disk"),
                          (("--ostype", "nonsense"), "vmware_ostype"),
                          ((), "exists; pass --force")):
        refused = run_vmwctl("image", "convert", str(raw), str(dest), *args)
        assert refused.exit_code == 2 and message in refused.stderr, refused.stderr
    assert run_vmwctl("image", "convert", str(raw), str(tmp_path / "x.vmdk"), "--ostype",
                      "otherGuest").exit_code == 2


def test_seed_of_an_ova_lands_the_same_disk_as_its_vmdk(simulator, lab_env,
                                                         tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    raw = raw_disk(tmp_path)
    ova_id = upload_ova(sim, convert_ova(raw, "--adapter-type", "lsiLogic"), "seed-ova")
    vmdk_id = upload(sim.config, vmdk(raw, "streamOptimized"), "seed-ova-vmdk",
                     vmware_disktype="streamOptimized", vmware_adaptertype="lsiLogic")
    seeded = {}
    for image_id in (ova_id, vmdk_id):
        result = sim.run("cache", "seed", image_id, "-o", "json")
        assert result.exit_code == 0, result.stderr
        [done] = result.json()
        assert done["outcome"] == "seeded"
        folder = root / CACHE / image_id
        assert sorted(p.name for p in folder.iterdir()) == [f"{image_id}-flat.vmdk",
                                                            f"{image_id}.vmdk"]
        seeded[image_id] = (done["method"], folder / f"{image_id}.vmdk")
    assert seeded[ova_id][0] == "ova" and seeded[vmdk_id][0] == "streamOptimized"
    assert same_disk(raw, seeded[ova_id][1])
    compared = subprocess.run(["qemu-img", "compare", "-q", str(seeded[ova_id][1]),
                               str(seeded[vmdk_id][1])], capture_output=True, text=True)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert datastore_leftovers(root) == []
    again = sim.run("cache", "seed", ova_id, "-o", "json")
    assert again.json()[0]["outcome"] == "cached"


def test_seed_refuses_an_ova_whose_disk_is_missing_and_leaves_nothing(simulator, lab_env,
                                                                       tmp_path: Path) -> None:
    import tarfile

    sim = simulator()
    root = Path(sim.datastores[DS])
    good = convert_ova(raw_disk(tmp_path, 1 << 20))
    broken = tmp_path / "broken.ova"
    with tarfile.open(good) as source, tarfile.open(broken, "w", format=tarfile.USTAR_FORMAT) \
            as out:
        for member in source.getmembers():
            if member.name.endswith(".ovf"):  # a package whose disk never comes
                out.addfile(member, source.extractfile(member))
    service = open_image_service(load_profile(str(sim.config), "sim", os.environ), os.environ)
    image = service.create("broken-ova", {"vmware_disktype": "streamOptimized",
                                          "vmware_adaptertype": "lsiLogic"},
                           container_format="ova")
    service.upload(image["id"], iter([broken.read_bytes()]))
    result = sim.run("cache", "seed", image["id"], "-o", "json")
    assert result.exit_code == 1, result.stdout
    assert ("no member holds the disk 'appliance-disk1.vmdk' the OVF names"
            in result.json()["error"]["message"])
    assert not (root / CACHE / image["id"]).exists()
    assert datastore_leftovers(root) == []
    # an OVA tagged with another disk type: Nova would cache it wrongly
    tagged = service.create("ova-sparse", {"vmware_disktype": "sparse"}, container_format="ova")
    service.upload(tagged["id"], iter([good.read_bytes()]))
    refused = sim.run("cache", "seed", tagged["id"], "-o", "json")
    assert refused.exit_code == 2
    assert "only works as vmdk and streamOptimized" in refused.json()["error"]["message"]


def test_ctrl_c_during_an_ova_seed_leaves_nothing(simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    image_id = upload_ova(sim, convert_ova(raw_disk(tmp_path, 8 << 20)), "ova-ctrl-c")
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = profile_for(sim, tmp_path, "slow", port=proxy.port)
        proxy.slow_down(0.02)
        began: list[float] = []

        def ready() -> bool:  # the shadow VM's folder exists: the disk is on its way
            if not began and any(p.name.startswith("OSTACK_IMG_") for p in root.iterdir()):
                began.append(time.monotonic())
            return bool(began and time.monotonic() - began[0] > 0.3)

        code, stdout, stderr = interrupted_seed(config, image_id, ready,
                                                lambda: proxy.slow_down(0))
    assert code == 130, stderr
    assert json.loads(stdout)["error"]["exit_code"] == 130
    assert not (root / CACHE / image_id).exists()
    assert datastore_leftovers(root) == []
