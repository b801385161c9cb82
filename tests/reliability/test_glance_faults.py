"""Glance failing under vmwctl: errors answered, connections cut, downloads ending early.

Expect: exit 1 with what happened, no image left queued or saving in Glance,
nothing partial in any cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import write_profile
from labimages import raw_disk, upload, vmdk

from vmwctl.images.glance import open_image_service
from vmwctl.profile.load import load_profile

pytestmark = pytest.mark.lab

CACHE = "192.0.2.10_base"


def glance_images(sim) -> list[dict]:
    """Every image in the lab's Glance (read directly, not through the proxy)."""
    service = open_image_service(load_profile(str(sim.config), "sim", os.environ), os.environ)
    return service.list()


def test_data_refused_with_503_leaves_no_image(simulator, glance_http, tmp_path: Path) -> None:
    sim = simulator()
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    disk = vmdk(raw_disk(tmp_path, 2 << 20), "streamOptimized")
    before = {i["id"] for i in glance_images(sim)}
    glance_http.fail("PUT", r"/images/[^/]+/file$", 503)
    result = sim.run("--config", str(config), "image", "upload", str(disk), "--name", "x",
                     "--ostype", "otherGuest")
    assert result.exit_code == 1
    assert "HTTP 503" in result.stderr and "was deleted" in result.stderr
    assert glance_http.injected and {i["id"] for i in glance_images(sim)} == before


def test_create_refused_with_500(simulator, glance_http, tmp_path: Path) -> None:
    sim = simulator()
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    disk = vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized")
    before = {i["id"] for i in glance_images(sim)}
    glance_http.fail("POST", r"/images$", 500)
    result = sim.run("--config", str(config), "image", "upload", str(disk), "--name", "x",
                     "--ostype", "otherGuest", "-o", "json")
    assert result.exit_code == 1
    assert "creating image 'x' failed: Glance answered HTTP 500" in \
        result.json()["error"]["message"]
    assert {i["id"] for i in glance_images(sim)} == before


def test_streamed_conversion_cut_mid_upload_leaves_no_image(simulator, glance_tcp,
                                                            tmp_path: Path) -> None:
    sim = simulator()
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(24 << 20))  # incompressible: the stream is as large
    before = {i["id"] for i in glance_images(sim)}
    glance_tcp.cut_after(6 << 20)
    result = sim.run("--config", str(config), "image", "upload", str(raw), "--name", "cut",
                     "--convert", "--ostype", "otherGuest")
    assert result.exit_code == 1, result.stderr
    assert "broke off after" in result.stderr and "was deleted" in result.stderr
    assert glance_tcp.cuts == 1
    assert {i["id"] for i in glance_images(sim)} == before
    assert not list(tmp_path.glob(".vmwctl-upload-*"))


@pytest.mark.parametrize("disktype, subformat", [("sparse", "monolithicSparse"),
                                                 ("streamOptimized", "streamOptimized")])
def test_seed_download_ending_early_leaves_nothing(simulator, glance_tcp, tmp_path: Path,
                                                   disktype: str, subformat: str) -> None:
    sim = simulator()
    root = Path(sim.datastores["LocalDS_0"])
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(8 << 20))
    image_id = upload(sim.config, vmdk(raw, subformat), "early", vmware_disktype=disktype)
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    glance_tcp.cut_inbound_after(3 << 20)
    result = sim.run("--config", str(config), "cache", "seed", image_id)
    assert result.exit_code == 1, result.stderr
    assert "broke off" in result.stderr
    assert not (root / CACHE / image_id).exists()
    assert not [p for p in (root / "vmware_temp").glob("*")] if (root / "vmware_temp").exists() \
        else True
    assert not list(root.glob("OSTACK_IMG_*"))


def test_image_lookup_failing_changes_nothing(simulator, glance_http, tmp_path: Path) -> None:
    sim = simulator()
    root = Path(sim.datastores["LocalDS_0"])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "lookup", vmware_disktype="streamOptimized")
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    glance_http.fail("GET", rf"/images/{image_id}$", 500, times=100)
    for command in (["cache", "seed", image_id], ["vm", "spawn", image_id]):
        result = sim.run("--config", str(config), *command)
        assert result.exit_code == 1, result.stderr
        assert "HTTP 500" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (root / CACHE).exists()
    assert [vm for vm in os.listdir(root) if vm.startswith("vmwctl-")] == []


def test_image_lookup_answered_503_is_retried(simulator, glance_http, tmp_path: Path) -> None:
    """A read is safe to repeat: a Glance briefly unavailable costs a retry, not the run."""
    sim = simulator()
    root = Path(sim.datastores["LocalDS_0"])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "retried", vmware_disktype="streamOptimized")
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    glance_http.fail("GET", rf"/images/{image_id}$", 503, times=2)
    result = sim.run("--config", str(config), "cache", "seed", image_id)
    assert result.exit_code == 0, result.stderr
    assert len(glance_http.injected) == 2
    assert (root / CACHE / image_id / f"{image_id}.vmdk").exists()


def test_cleanup_waits_out_a_busy_glance(simulator, glance_http, tmp_path: Path) -> None:
    """Right after a broken upload Glance may answer the DELETE with 500 ('database is
    locked' while it cleans up): the image is deleted on a later try, never left saving."""
    sim = simulator()
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    disk = vmdk(raw_disk(tmp_path, 2 << 20), "streamOptimized")
    before = {i["id"] for i in glance_images(sim)}
    glance_http.fail("PUT", r"/images/[^/]+/file$", 500)
    glance_http.fail("DELETE", r"/images/[^/]+$", 500, times=2)
    result = sim.run("--config", str(config), "image", "upload", str(disk), "--name", "busy",
                     "--ostype", "otherGuest")
    assert result.exit_code == 1
    assert "was deleted" in result.stderr, result.stderr
    assert [f for f in glance_http.injected if f.startswith("DELETE")] and \
        len(glance_http.injected) == 3
    assert {i["id"] for i in glance_images(sim)} == before
