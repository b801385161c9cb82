"""Glance failing under vmwctl: errors answered, connections cut, downloads ending early.

Expect: exit 1 with what happened, no image left queued or saving in Glance,
nothing partial in any cache folder.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from helpers import Result, glance_profile, images_named, run_vmwctl, write_profile
from labimages import datastore_leftovers, raw_disk, upload, vmdk

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


FILE = r"/v2/images/[^/]+/file$"
NOT_INTACT = "Error: the upload did not arrive intact: "


def upload_through_proxy(lab, tmp_path: Path, *args: str) -> tuple[Result, Path, str]:
    """``image upload`` through cloud 'faulty' with -o json, of a 2 MiB streamOptimized disk,
    or with --convert of the raw disk streamed into the upload; (result, profile, name)."""
    config = glance_profile(lab, tmp_path / "faulty.yaml", "faulty")
    raw = raw_disk(tmp_path, 2 << 20)
    source = raw if "--convert" in args else vmdk(raw, "streamOptimized")
    name = f"damaged-{uuid.uuid4().hex[:8]}"
    result = run_vmwctl("--config", str(config), "image", "upload", str(source), "--name",
                        name, "--ostype", "otherGuest", "-o", "json", *args)
    return result, config, name


def sent_before_damage(proxy) -> int:
    """The size of the one body the proxy damaged, as vmwctl sent it."""
    [injected] = proxy.injected
    return int(injected.rsplit(" of ", 1)[1])


@pytest.mark.parametrize("args", [pytest.param([], id="vmdk"),
                                  pytest.param(["--convert"], id="streamed-conversion")])
def test_data_flipped_on_the_way_is_caught(lab, glance_http, tmp_path: Path,
                                           args: list[str]) -> None:
    """Glance stores what it received, of the right size: only the sha512 tells."""
    glance_http.corrupt("PUT", FILE, flip=1)
    result, config, name = upload_through_proxy(lab, tmp_path, *args)
    assert result.exit_code == 1, result.stderr
    assert len(glance_http.injected) == 1
    line = result.stderr.strip()
    assert line.startswith(NOT_INTACT + "Glance's sha512 differs from the one computed while "
                           "sending (the image record "), line
    assert line.endswith(" was deleted)") and len(result.stderr.splitlines()) == 1
    assert result.json()["error"]["exit_code"] == 1
    assert images_named(config, name) == []


def test_data_shortened_on_the_way_is_caught(lab, glance_http, tmp_path: Path) -> None:
    glance_http.corrupt("PUT", FILE, drop=4096)
    result, config, name = upload_through_proxy(lab, tmp_path)
    assert result.exit_code == 1, result.stderr
    sent = sent_before_damage(glance_http)
    line = result.stderr.strip()
    assert line.startswith(f"{NOT_INTACT}Glance holds {sent - 4096} bytes, vmwctl sent {sent}; "
                           "Glance's sha512 differs from the one computed while sending "
                           "(the image record "), line
    assert images_named(config, name) == []


def test_a_glance_hashing_with_sha256_is_checked_on_size(lab, sha256_glance_http,
                                                         tmp_path: Path) -> None:
    """Glance's os_hash_algo is not sha512: the size is all vmwctl can compare, and says so."""
    result, config, name = upload_through_proxy(lab, tmp_path)
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["verified"] == "size only (Glance hashes with sha256)"
    assert document["image"]["os_hash_algo"] == "sha256"
    assert [i["id"] for i in images_named(config, name)] == [document["image"]["id"]]

    sha256_glance_http.corrupt("PUT", FILE, drop=1)
    result, config, name = upload_through_proxy(lab, tmp_path)
    assert result.exit_code == 1, result.stderr
    sent = sent_before_damage(sha256_glance_http)
    message = result.json()["error"]["message"]
    assert message.startswith(f"the upload did not arrive intact: Glance holds {sent - 1} "
                              f"bytes, vmwctl sent {sent} (the image record "), message
    assert images_named(config, name) == []


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
    assert datastore_leftovers(root) == []  # no OSTACK_IMG_*, nothing in vmware_temp


@pytest.mark.parametrize("disktype, subformat, at", [
    pytest.param("sparse", "monolithicSparse", -1, id="sparse-last-byte"),
    pytest.param("sparse", "monolithicSparse", None, id="sparse-middle"),
    pytest.param("streamOptimized", "streamOptimized", -1, id="streamOptimized-last-byte")])
def test_seed_of_data_changed_on_the_way_leaves_nothing(simulator, glance_http, tmp_path: Path,
                                                        disktype: str, subformat: str,
                                                        at: int | None) -> None:
    """A byte of the download flipped in transit, the size intact: only Glance's sha512
    tells, once the last byte has arrived (the hash runs beside the sending). Nothing is
    cached and nothing left behind."""
    sim = simulator()
    root = Path(sim.datastores["LocalDS_0"])
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(8 << 20))
    image_id = upload(sim.config, vmdk(raw, subformat), "changed", vmware_disktype=disktype)
    config = write_profile(sim, tmp_path / "faulty.yaml", cloud="faulty")
    glance_http.corrupt("GET", FILE, flip=1, at=at, answer=True)
    result = sim.run("--config", str(config), "cache", "seed", image_id, "-o", "json")
    assert result.exit_code == 1, result.stderr
    assert len(glance_http.injected) == 1
    assert result.json()["error"]["message"] == (f"the data of image {image_id} does not match "
                                                 "its sha512 in the image service; nothing "
                                                 "cached")
    assert not (root / CACHE / image_id).exists()
    assert datastore_leftovers(root) == []  # no OSTACK_IMG_*, nothing in vmware_temp

    result = sim.run("--config", str(config), "cache", "seed", image_id, "-o", "json")
    assert result.exit_code == 0, result.stderr  # the same download, undamaged
    assert (root / CACHE / image_id / f"{image_id}.vmdk").exists()


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
