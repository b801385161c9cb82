"""vmwctl and Glance's import API and stores (issue 24), against the lab's Keystone-protected
Glance (import methods glance-direct, web-download, copy-image; stores fast and slow) and an
import-only Glance whose policy leaves the direct upload to admins.

Outcomes are read back from Glance as admin and from the stores' directories; every image
made here is deleted, and the last test finds none left queued, saving or importing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import labctl
import pytest
import yaml
from faultproxy import FaultProxy
from helpers import write_profile
from httpfaults import HttpFaultProxy
from labexports import vm_with_disks
from labimages import delete_protected_image, protected_images, raw_disk, same_disk, vmdk

pytestmark = pytest.mark.lab

PREFIX = "vmwctl-import-test-"


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A streamOptimized VMDK of a 3 MiB disk with random data here and there."""
    return vmdk(raw_disk(tmp_path_factory.mktemp("import-images")), "streamOptimized")


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def profile(lab: labctl.LabState, directory: Path, cloud: str) -> Path:
    """The lab's profile naming ``cloud``."""
    document = yaml.safe_load(Path(lab.config_file).read_text())
    for entry in document["profiles"].values():
        entry["openstack"] = {"cloud": cloud}
    path = directory / f"{cloud}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def operator(lab: labctl.LabState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", lab.clouds_file)
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", lab.secure_file)
    return profile(lab, tmp_path, lab.cloud_operator)


@pytest.fixture
def import_only(import_only_lab: labctl.LabState, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", import_only_lab.clouds_file)
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", import_only_lab.secure_file)
    return profile(import_only_lab, tmp_path, import_only_lab.cloud_import_only)


def as_import_only(lab: labctl.LabState) -> labctl.LabState:
    """The state whose protected Glance is the import-only one (for labimages' admin calls)."""
    return dataclasses.replace(lab, glance_keystone_url=lab.glance_import_only_url)


def mine(lab: labctl.LabState) -> list[dict[str, Any]]:
    return [image for image in protected_images(lab) if image["name"].startswith(PREFIX)]


@pytest.fixture
def clean(lab: labctl.LabState) -> Iterator[None]:
    yield
    for image in mine(lab):
        delete_protected_image(lab, image["id"])


@pytest.fixture
def clean_import_only(import_only_lab: labctl.LabState) -> Iterator[None]:
    yield
    state = as_import_only(import_only_lab)
    for image in mine(state):
        delete_protected_image(state, image["id"])


def upload(vmwctl, config: Path, path: Path, name: str, *args: str) -> Any:
    return vmwctl("--config", str(config), "-o", "json", "image", "upload", str(path),
                  "--name", f"{PREFIX}{name}", "--ostype", "otherLinux64Guest", *args)


def in_stores(stores: dict[str, str], image_id: str) -> list[str]:
    return [name for name, directory in stores.items() if (Path(directory) / image_id).exists()]


# ------------------------------------------------------------------ methods and stores

def test_import_stages_and_imports_into_the_stores_asked(vmwctl, lab, operator, disk,
                                                         clean) -> None:
    done = upload(vmwctl, operator, disk, "import", "--method", "import", "--stores",
                  "fast,slow")
    assert done.exit_code == 0, done.stderr
    result = done.json()
    assert (result["method"], result["stores"], result["verified"]) == \
        ("glance-direct", ["fast", "slow"], "size and sha512")
    [image] = mine(lab)
    assert (image["status"], image["stores"], image["os_hash_value"]) == \
        ("active", "fast,slow", sha512(disk))
    assert image["os_glance_failed_import"] == image["os_glance_importing_to_stores"] == ""
    assert in_stores(lab.glance_keystone_stores, image["id"]) == ["fast", "slow"]
    for directory in lab.glance_keystone_stores.values():
        assert (Path(directory) / image["id"]).read_bytes() == disk.read_bytes()


@pytest.mark.parametrize("args, method, stores", [
    (("--store", "slow"), "direct", ["slow"]),
    (("--method", "import", "--store", "slow"), "glance-direct", ["slow"]),
    (("--stores", "all"), "glance-direct", ["fast", "slow"]),
    ((), "direct", ["fast"]),  # Glance's default store
])
def test_store_options_read_back(vmwctl, lab, operator, disk, clean, args, method,
                                 stores) -> None:
    done = upload(vmwctl, operator, disk, "stores", *args)
    assert done.exit_code == 0, done.stderr
    assert (done.json()["method"], done.json()["stores"]) == (method, stores)
    [image] = mine(lab)
    assert image["stores"] == ",".join(stores)
    assert in_stores(lab.glance_keystone_stores, image["id"]) == stores
    listed = vmwctl("--config", str(operator), "-o", "json", "image", "list")
    entry = next(i for i in listed.json()["images"] if i["id"] == image["id"])
    assert entry["stores"] == stores
    table = vmwctl("--config", str(operator), "image", "list")
    assert "STORES" in table.stdout


@pytest.mark.parametrize("args, message", [
    (("--store", "nowhere"), "no store 'nowhere' in the image service of cloud "
                             "'vmwctl-lab-operator'; its stores: fast, slow"),
    (("--stores", "fast,nowhere"), "no store 'nowhere'"),
    (("--method", "direct", "--stores", "fast,slow"), "the direct upload puts the image in "
                                                     "one store"),
    (("--store", "fast", "--stores", "slow"), "give --store NAME or --stores A,B, not both"),
    (("--method", "web-download"), "--method web-download hands Glance a URL to fetch"),
])
def test_bad_store_and_method_options_exit_2_creating_nothing(vmwctl, lab, operator, disk,
                                                              args, message) -> None:
    done = upload(vmwctl, operator, disk, "bad", *args)
    assert done.exit_code == 2, done.stdout
    assert message in done.json()["error"]["message"]
    assert mine(lab) == []


def test_stores_on_a_single_store_glance_exit_2(vmwctl, lab_env, disk) -> None:
    """Glance without enabled_backends names its one store "file" in /v2/info/stores."""
    done = vmwctl("-o", "json", "image", "upload", str(disk), "--name", f"{PREFIX}single",
                  "--store", "fast")
    assert done.exit_code == 2
    assert done.json()["error"]["message"] == \
        "no store 'fast' in the image service of cloud 'vmwctl-lab'; its stores: file"


def test_import_where_glance_offers_none_exits_2(vmwctl, lab_env, disk) -> None:
    done = vmwctl("-o", "json", "image", "upload", str(disk), "--name", f"{PREFIX}none",
                  "--method", "import")
    assert done.exit_code == 2
    assert done.json()["error"]["message"] == (
        "--method import: the image service of cloud 'vmwctl-lab' does not offer the "
        "glance-direct import (its import methods: none); use --method direct or auto")


def test_dry_run_shows_method_and_stores(vmwctl, lab, operator, disk) -> None:
    done = vmwctl("--config", str(operator), "image", "upload", str(disk), "--name",
                  f"{PREFIX}dry", "--method", "import", "--stores", "fast,slow", "--dry-run")
    assert done.exit_code == 0, done.stderr
    assert "Method" in done.stdout and "import" in done.stdout
    assert "fast, slow" in done.stdout
    assert mine(lab) == []


# ------------------------------------------------------------------ the import-only Glance

def test_auto_falls_back_to_the_import_when_the_policy_refuses(
        vmwctl, import_only_lab, import_only, disk, clean_import_only) -> None:
    done = upload(vmwctl, import_only, disk, "auto")
    assert done.exit_code == 0, done.stderr
    result = done.json()
    assert (result["method"], result["stores"]) == ("glance-direct", ["fast"])
    assert "Glance policy upload_image" in done.stderr
    assert "staged and imported with glance-direct instead" in done.stderr
    [image] = mine(as_import_only(import_only_lab))
    assert (image["status"], image["os_hash_value"]) == ("active", sha512(disk))
    assert in_stores(import_only_lab.glance_import_only_stores, image["id"]) == ["fast"]


def test_auto_stops_the_refused_upload_at_glances_answer(
        vmwctl, import_only_lab, tmp_path, clean_import_only, monkeypatch) -> None:
    """A 96 MiB conversion streamed (read once, not from a file): the direct upload Glance
    refuses carries a few MiB before its answer stops it, and they are staged again."""
    raw = tmp_path / "big.raw"
    raw.write_bytes(os.urandom(96 << 20))
    port = int(import_only_lab.glance_import_only_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        clouds = yaml.safe_load(Path(import_only_lab.clouds_file).read_text())
        entry = clouds["clouds"][import_only_lab.cloud_import_only]
        entry["image_endpoint_override"] = f"http://127.0.0.1:{proxy.port}"
        path = tmp_path / "clouds.yaml"
        path.write_text(yaml.safe_dump(clouds))
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        monkeypatch.setenv("OS_CLIENT_SECURE_FILE", import_only_lab.secure_file)
        config = profile(import_only_lab, tmp_path, import_only_lab.cloud_import_only)
        done = upload(vmwctl, config, raw, "big", "--convert")
        carried = proxy.carried
    assert done.exit_code == 0, done.stderr
    result = done.json()
    assert result["method"] == "glance-direct"
    sent = result["bytes_sent"]
    assert sent > 96 << 20
    assert carried < sent + (24 << 20), (carried, sent)  # not twice the image
    [image] = mine(as_import_only(import_only_lab))
    assert (image["status"], image["size"]) == ("active", sent)


def test_direct_is_refused_naming_the_policy(vmwctl, import_only_lab, import_only, disk,
                                              clean_import_only) -> None:
    done = upload(vmwctl, import_only, disk, "direct", "--method", "direct")
    assert done.exit_code == 1
    message = done.json()["error"]["message"]
    assert "cannot upload image data (Glance policy upload_image)" in message
    assert "--method import" in message
    assert "was deleted" in message
    assert mine(as_import_only(import_only_lab)) == []


def test_a_failed_import_is_an_error_and_the_image_is_deleted(
        vmwctl, lab, disk, tmp_path, clean, monkeypatch) -> None:
    """The staged data damaged on the way: Glance's safety check fails the import (the task
    says only "Internal Error"), vmwctl says so and deletes the image."""
    port = int(lab.glance_keystone_url.rsplit(":", 1)[1])
    with HttpFaultProxy("127.0.0.1", port) as proxy:
        clouds = yaml.safe_load(Path(lab.clouds_file).read_text())
        clouds["clouds"][lab.cloud_operator]["image_endpoint_override"] = \
            f"http://127.0.0.1:{proxy.port}"
        path = tmp_path / "clouds.yaml"
        path.write_text(yaml.safe_dump(clouds))
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        monkeypatch.setenv("OS_CLIENT_SECURE_FILE", lab.secure_file)
        proxy.corrupt("PUT", r"/stage$", flip=4, at=0)  # the VMDK's magic
        config = profile(lab, tmp_path, lab.cloud_operator)
        done = upload(vmwctl, config, disk, "failed", "--method", "import")
    assert done.exit_code == 1, done.stdout
    message = done.json()["error"]["message"]
    assert "Glance's import of image" in message
    assert "into store fast failed: Task failed due to Internal Error" in message
    assert "was deleted" in message
    assert mine(lab) == []
    # Glance 33 leaves the refused data in the store, with no image pointing at it
    image_id = re.search(r"image ([0-9a-f-]{36})", message).group(1)
    (Path(lab.glance_keystone_stores["fast"]) / image_id).unlink(missing_ok=True)


# ------------------------------------------------------------------ web-download

class Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path, disk: Path) -> Iterator[str]:
    """A loopback HTTP server of the test's files: disk.vmdk and raw data."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "disk.vmdk").write_bytes(disk.read_bytes())  # adapter: ide (qemu-img's default)
    (root / "disk.raw").write_bytes(os.urandom(1 << 20))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: Files(*a, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_web_download_has_glance_fetch_the_url(vmwctl, lab, operator, disk, web,
                                               clean) -> None:
    digest = hashlib.sha256(disk.read_bytes()).hexdigest()
    done = upload(vmwctl, operator, f"{web}/disk.vmdk", "web", "--method", "web-download",
                  "--stores", "slow", "--checksum", f"sha256:{digest}")
    assert done.exit_code == 0, done.stderr
    result = done.json()
    assert (result["method"], result["stores"], result["verified"]) == \
        ("web-download", ["slow"], "size and sha256")
    [image] = mine(lab)
    assert (image["status"], image["os_hash_value"], image["vmware_disktype"]) == \
        ("active", sha512(disk), "streamOptimized")
    assert in_stores(lab.glance_keystone_stores, image["id"]) == ["slow"]


def test_web_download_with_a_wrong_checksum_leaves_no_image(vmwctl, lab, operator, web,
                                                            clean) -> None:
    done = upload(vmwctl, operator, f"{web}/disk.vmdk", "web-bad", "--method",
                  "web-download", "--checksum", "sha512:" + "0" * 128)
    assert done.exit_code == 1
    assert "not the published image" in done.json()["error"]["message"]
    assert mine(lab) == []


def test_web_download_glance_refuses_to_fetch_leaves_no_image(vmwctl, lab, operator, web,
                                                             clean) -> None:
    """The lab's [import_filtering_opts] allow 127.0.0.1, not the name localhost."""
    url = web.replace("127.0.0.1", "localhost") + "/disk.vmdk"
    done = upload(vmwctl, operator, url, "web-filtered", "--method", "web-download")
    assert done.exit_code == 1, done.stdout
    message = done.json()["error"]["message"]
    assert f"Glance refuses to fetch {url}: its [import_filtering_opts]" in message
    assert "drop --method web-download" in message
    assert "was deleted" in message
    assert mine(lab) == []


def test_web_download_of_what_needs_converting_exits_2(vmwctl, lab, operator, web) -> None:
    done = upload(vmwctl, operator, f"{web}/disk.raw", "web-raw", "--method", "web-download",
                  "--convert")
    assert done.exit_code == 2
    assert "Glance takes" in done.json()["error"]["message"]
    assert "drop --method web-download" in done.json()["error"]["message"]
    assert mine(lab) == []


def test_nothing_is_left_queued_saving_or_importing(lab) -> None:
    left = [(image["name"], image["status"]) for image in protected_images(lab)
            if image["status"] in ("queued", "saving", "uploading", "importing")]
    assert left == []
    assert json.dumps(mine(lab)) == "[]"


def test_cache_seed_reads_an_image_kept_in_the_slow_store(vmwctl, simulator, lab, operator,
                                                          tmp_path, clean) -> None:
    """Glance serves the data from whichever store holds it: seeding needs no store."""
    sim = simulator()
    config = write_profile(sim, tmp_path / "sim.yaml", cloud=lab.cloud_operator)
    raw = raw_disk(tmp_path)
    source = vmdk(raw, "streamOptimized")
    done = vmwctl("--config", str(config), "-o", "json", "image", "upload", str(source),
                  "--name", f"{PREFIX}seed", "--store", "slow")
    assert done.exit_code == 0, done.stderr
    image_id = done.json()["image"]["id"]
    assert in_stores(lab.glance_keystone_stores, image_id) == ["slow"]
    seeded = sim.run("--config", str(config), "cache", "seed", image_id, "-o", "json")
    assert seeded.exit_code == 0, seeded.stderr
    assert seeded.json()[0]["outcome"] == "seeded"
    folder = Path(sim.datastores["LocalDS_0"]) / "192.0.2.10_base" / image_id
    assert same_disk(raw, folder / f"{image_id}.vmdk")


def test_export_imports_into_the_stores_asked(vmwctl, simulator, lab, operator, tmp_path,
                                               clean) -> None:
    sim = simulator()
    config = write_profile(sim, tmp_path / "sim.yaml", cloud=lab.cloud_operator)
    raw = raw_disk(tmp_path, 2 << 20)
    _, vm_name = vm_with_disks(sim.connect(), Path(sim.datastores["LocalDS_0"]), [raw])
    done = sim.run("--config", str(config), "-o", "json", "image", "export", vm_name, "--name",
                   f"{PREFIX}export", "--method", "import", "--stores", "fast,slow")
    assert done.exit_code == 0, done.stderr
    result = done.json()
    assert (result["method"], result["stores"], result["verified"]) == \
        ("glance-direct", ["fast", "slow"], "size and sha512")
    [image] = mine(lab)
    assert (image["status"], image["stores"]) == ("active", "fast,slow")
    assert in_stores(lab.glance_keystone_stores, image["id"]) == ["fast", "slow"]
    exported = tmp_path / "exported.vmdk"
    exported.write_bytes((Path(lab.glance_keystone_stores["slow"]) / image["id"]).read_bytes())
    assert same_disk(raw, exported)
