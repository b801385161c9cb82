"""``image upload | tag | list`` against the lab's real Glance."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import vmdkfiles as vf
import yaml
from faultproxy import FaultProxy

pytestmark = pytest.mark.lab


def glance(cloud: str):
    import openstack

    return openstack.connect(cloud=cloud).image


@pytest.fixture
def images(lab, lab_env):
    """An empty image service (both Glances) before and after the test."""
    def wipe() -> None:
        for cloud in (lab.cloud, lab.cloud_flat):
            proxy = glance(cloud)
            for image in proxy.get("/images?limit=1000").json()["images"]:
                proxy.delete(f"/images/{image['id']}")
    wipe()
    yield glance(lab.cloud)
    wipe()


def all_images(proxy) -> list[dict]:
    return proxy.get("/images?limit=1000").json()["images"]


def make_vmdk(directory: Path, subformat: str = "streamOptimized", adapter: str = "lsilogic",
              size: int = 16 << 20, name: str = "disk.vmdk") -> Path:
    raw = directory / "source.raw"
    with open(raw, "wb") as handle:
        handle.truncate(size)
        for offset in range(0, size, 2 << 20):
            handle.seek(offset)
            handle.write(os.urandom(1 << 20))
    path = directory / name
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    f"subformat={subformat},adapter_type={adapter}", str(raw), str(path)],
                   check=True)
    return path


def sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def profile_with_cloud(lab, path: Path, cloud: str, **openstack: object) -> Path:
    data = yaml.safe_load(Path(lab.config_file).read_text())
    data["profiles"]["lab"]["openstack"].update(cloud=cloud, **openstack)
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------ upload

def test_upload_stream_optimized(vmwctl, images, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path)
    result = vmwctl("image", "upload", str(disk), "--name", "ubuntu-so", "--ostype",
                    "ubuntu64guest", "--linked-clone", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["verified"] == "size and sha512"
    image = images.get(f"/images/{document['image']['id']}").json()
    assert image["status"] == "active"
    assert (image["disk_format"], image["container_format"]) == ("vmdk", "bare")
    assert image["vmware_disktype"] == "streamOptimized"
    assert image["vmware_adaptertype"] == "lsiLogic"
    assert image["vmware_ostype"] == "ubuntu64Guest"  # canonical spelling
    assert image["hypervisor_type"] == "vmware"
    assert image["img_linked_clone"] == "true"
    assert image["size"] == disk.stat().st_size == document["bytes_sent"]
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == sha512(disk) == document["sha512"]
    assert "hw_disk_type" not in image and "os_distro" not in image


def test_upload_sparse_ide_prints_the_id(vmwctl, images, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, "monolithicSparse", "ide")
    result = vmwctl("image", "upload", str(disk), "--name", "sparse-ide")
    assert result.exit_code == 0, result.stderr
    [image] = all_images(images)
    assert result.stdout.split()[:3] == ["Image", "id", image["id"]]
    assert (image["vmware_disktype"], image["vmware_adaptertype"]) == ("sparse", "ide")
    assert "no --ostype" in result.stderr


REFUSED_RAW = ("raw data, which this image service refuses as disk_format=vmdk (Glance 30 and "
               "later do unless [image_format] require_image_format_match is off, and the "
               "profile's openstack.image_format_match says it is on); add --convert to upload "
               "it as streamOptimized")


def test_flat_extent_refused_by_format_match_then_accepted_without_it(vmwctl, images, lab,
                                                                      tmp_path: Path) -> None:
    make_vmdk(tmp_path, "monolithicFlat", "buslogic")
    flat = tmp_path / "disk-flat.vmdk"
    # the profile says that Glance matches formats (its default): refused before sending
    result = vmwctl("image", "upload", str(flat), "--name", "flat", "--disktype",
                    "preallocated")
    assert (result.exit_code, result.stderr) == (
        2, f"Error: refusing to upload {flat}: {REFUSED_RAW}\n")
    assert all_images(images) == []

    # the profile says it does not, wrongly: Glance refuses, explained, the image deleted
    wrong = profile_with_cloud(lab, tmp_path / "wrong.yaml", lab.cloud, image_format_match=False)
    result = vmwctl("--config", str(wrong), "image", "upload", str(flat), "--name", "flat",
                    "--disktype", "preallocated")
    assert result.exit_code == 1
    assert "Glance refused the data" in result.stderr
    assert "Image disk_format vmdk does not match stream data raw" in result.stderr
    assert "require_image_format_match" in result.stderr
    assert "was deleted" in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == \
        result.stderr.splitlines()[-1:]
    assert all_images(images) == []

    config = profile_with_cloud(lab, tmp_path / "flat.yaml", lab.cloud_flat,
                                image_format_match=False)
    result = vmwctl("--config", str(config), "image", "upload", str(flat), "--name", "flat",
                    "-o", "json")
    assert result.exit_code == 0, result.stderr
    image = glance(lab.cloud_flat).get(f"/images/{result.json()['image']['id']}").json()
    assert (image["vmware_disktype"], image["vmware_adaptertype"]) == ("preallocated",
                                                                       "busLogic")
    assert image["size"] == flat.stat().st_size
    assert result.json()["file"] == result.json()["source"] == str(flat)


def thin_pair(vmwctl, directory: Path) -> Path:
    """``image convert --disktype thin`` of random data and holes, checked by ``inspect``."""
    raw = directory / "source.raw"
    with open(raw, "wb") as handle:
        handle.truncate(16 << 20)
        handle.write(os.urandom(1 << 20))
    descriptor = directory / "converted.vmdk"
    result = vmwctl("image", "convert", str(raw), str(descriptor), "--disktype", "thin",
                    "--adapter-type", "ide", "-o", "json")
    assert result.exit_code == 0, result.stderr
    flat = directory / "converted-flat.vmdk"
    assert result.json()["plan"]["outputs"] == [str(descriptor), str(flat)]
    subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", str(raw),
                    str(descriptor)], check=True, capture_output=True)
    report = vmwctl("image", "inspect", str(descriptor), "-o", "json")
    assert report.exit_code == 1  # a flat pair is raw data to Glance
    pair = report.json()
    assert (pair["create_type"], pair["vmware_disktype"], pair["vmware_adaptertype"]) == (
        "monolithicFlat", "thin", "ide")
    assert pair["extents"] == [{"access": "RW", "sectors": 32768, "type": "FLAT",
                                "filename": "converted-flat.vmdk", "present": True,
                                "size": 16 << 20}]
    extent = vmwctl("image", "inspect", str(flat), "-o", "json").json()
    assert (extent["format"], extent["safe"], extent["vmware_disktype"]) == ("raw", True, "thin")
    return descriptor


@pytest.mark.parametrize("disktype", ["preallocated", "thin"])
def test_flat_pair_uploaded_from_its_descriptor_to_the_flat_glance(
        vmwctl, images, lab, tmp_path: Path, disktype: str) -> None:
    """The guide's converted.vmdk + converted-flat.vmdk: the -flat file is sent, with the
    descriptor's properties, to a Glance whose format-match check is off."""
    if disktype == "thin":
        descriptor, adapter = thin_pair(vmwctl, tmp_path), "ide"
    else:
        descriptor, adapter = make_vmdk(tmp_path, "monolithicFlat", "buslogic",
                                        name="converted.vmdk"), "busLogic"
    flat = tmp_path / "converted-flat.vmdk"
    config = profile_with_cloud(lab, tmp_path / "flat.yaml", lab.cloud_flat,
                                image_format_match=False)
    result = vmwctl("--config", str(config), "image", "upload", str(descriptor), "--name",
                    "pair", "--ostype", "ubuntu64Guest", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert (document["source"], document["file"]) == (str(descriptor), str(flat))
    assert document["verified"] == "size and sha512"
    image = glance(lab.cloud_flat).get(f"/images/{document['image']['id']}").json()
    assert (image["status"], image["disk_format"], image["container_format"]) == (
        "active", "vmdk", "bare")
    assert (image["vmware_disktype"], image["vmware_adaptertype"]) == (disktype, adapter)
    assert image["size"] == flat.stat().st_size == 16 << 20 == document["bytes_sent"]
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == sha512(flat) == document["sha512"]

    table = vmwctl("--config", str(config), "image", "upload", str(descriptor), "--name",
                   "pair-2", "--ostype", "ubuntu64Guest", env={"COLUMNS": "400"})
    assert table.exit_code == 0, table.stderr
    [sent] = [line for line in table.stdout.splitlines() if line.startswith("Sent ")]
    assert sent.split(None, 1)[1] == f"{flat} (the flat extent of {descriptor})"
    assert sorted(i["name"] for i in all_images(glance(lab.cloud_flat))) == ["pair", "pair-2"]


def test_flat_pair_refused_before_any_byte_then_converted(vmwctl, images, lab,
                                                          tmp_path: Path) -> None:
    """The default profile: this Glance matches formats. Refused before Glance is reached,
    nothing created; the --convert it offers sends the pair as streamOptimized."""
    descriptor = make_vmdk(tmp_path, "monolithicFlat", "buslogic", name="converted.vmdk")
    flat = tmp_path / "converted-flat.vmdk"
    refusal = f"Error: refusing to upload {flat} (the flat extent of {descriptor}): {REFUSED_RAW}\n"
    for extra in ([], ["--dry-run"]):
        result = vmwctl("image", "upload", str(descriptor), "--name", "pair", *extra)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", refusal)
    assert all_images(images) == []

    port = int(lab.glance_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:  # the same Glance, its traffic counted
        url = f"http://127.0.0.1:{proxy.port}"
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(json.dumps({"clouds": {"counted": {
            "auth_type": "none", "auth": {"endpoint": url}, "image_endpoint_override": url}}}))
        config = profile_with_cloud(lab, tmp_path / "counted.yaml", "counted")
        result = vmwctl("--config", str(config), "image", "upload", str(descriptor), "--name",
                        "pair", env={"OS_CLIENT_CONFIG_FILE": str(clouds)})
        assert (result.exit_code, result.stderr) == (2, refusal)
        assert (proxy.accepted, proxy.carried) == (0, 0)

    result = vmwctl("image", "upload", str(descriptor), "--name", "pair", "--convert", "-o",
                    "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert (document["source"], document["file"]) == (str(descriptor), str(flat))
    [image] = all_images(images)
    assert (image["vmware_disktype"], image["vmware_adaptertype"]) == ("streamOptimized",
                                                                       "busLogic")
    downloaded = tmp_path / "back.vmdk"
    downloaded.write_bytes(images.get(f"/images/{image['id']}/file").content)
    subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", str(flat),
                    str(downloaded)], check=True, capture_output=True)
    assert not list(tmp_path.glob(".vmwctl-upload-*"))  # no raw copy: the extent is raw


def test_raw_data_needs_a_flat_disktype(vmwctl, images, tmp_path: Path) -> None:
    raw = tmp_path / "plain.raw"
    raw.write_bytes(os.urandom(1 << 20))
    result = vmwctl("image", "upload", str(raw), "--name", "raw")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {raw} is raw data, not a VMDK: add --convert\n"
    result = vmwctl("image", "upload", str(raw), "--name", "raw", "--disktype", "sparse")
    assert result.exit_code == 2
    assert "contradicts the file, which is raw (flat) data" in result.stderr
    assert all_images(images) == []


@pytest.mark.parametrize(("subformat", "adapter", "flags", "message"), [
    ("streamOptimized", "lsilogic", ["--disktype", "sparse"],
     "--disktype sparse contradicts the file, which is a streamOptimized VMDK"),
    ("monolithicSparse", "lsilogic", ["--disktype", "streamOptimized"],
     "--disktype streamOptimized contradicts the file, which is a sparse VMDK"),
    ("streamOptimized", "ide", ["--adapter-type", "lsiLogic"],
     "--adapter-type lsiLogic contradicts the file, whose descriptor says 'ide'"),
    ("streamOptimized", "lsilogic", ["--adapter-type", "ide"],
     "--adapter-type ide contradicts the file, whose descriptor says 'lsilogic'"),
    ("streamOptimized", "buslogic", ["--adapter-type", "lsiLogic"],
     "--adapter-type lsiLogic contradicts the file, whose descriptor says 'buslogic'"),
    ("streamOptimized", "lsilogic", ["--property", "vmware_disktype=sparse"],
     "set vmware_disktype with --disktype, not --property"),
    ("streamOptimized", "lsilogic", ["--property", "hw_disk_type=sparse"],
     "vmware_disktype=streamOptimized is contradicted by hw_disk_type=sparse"),
    ("streamOptimized", "lsilogic", ["--property", "hw_scsi_model=buslogic"],
     "vmware_adaptertype=lsiLogic is contradicted by hw_scsi_model=buslogic"),
    ("streamOptimized", "lsilogic", ["--property", "hw_vif_model=virtio"],
     "hw_vif_model 'virtio' is not a NIC model the VMware driver supports"),
    ("streamOptimized", "lsilogic", ["--ostype", "ubunt64Guest"],
     "'ubunt64Guest' is not a valid vmware_ostype (did you mean 'ubuntu64Guest'?)"),
    ("streamOptimized", "lsilogic", ["--property", "name=x"],
     "name is an image attribute, not a property"),
])
def test_contradictions_are_refused(vmwctl, images, tmp_path: Path, subformat: str,
                                    adapter: str, flags: list[str], message: str) -> None:
    disk = make_vmdk(tmp_path, subformat, adapter, size=2 << 20)
    result = vmwctl("image", "upload", str(disk), "--name", "x", *flags)
    assert result.exit_code == 2
    assert message in result.stderr
    assert all_images(images) == []


def test_force_and_adapters_a_descriptor_cannot_say(vmwctl, images, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, size=2 << 20)
    result = vmwctl("image", "upload", str(disk), "--name", "pv", "--adapter-type",
                    "paravirtual", "--property", "hw_scsi_model=vmpvscsi", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["image"]["vmware_adaptertype"] == "paraVirtual"
    result = vmwctl("image", "upload", str(disk), "--name", "forced", "--disktype", "sparse",
                    "--force", "-o", "json")
    assert result.exit_code == 0
    assert result.json()["image"]["vmware_disktype"] == "sparse"


def test_unsafe_file_is_never_uploaded(vmwctl, images, tmp_path: Path) -> None:
    evil = tmp_path / "evil.vmdk"
    evil.write_bytes(vf.sparse_with_descriptor(
        vf.descriptor("monolithicSparse", extent='"/etc/passwd"')))
    for flags in ([], ["--force"], ["--convert"]):
        result = vmwctl("image", "upload", str(evil), "--name", "evil", *flags)
        assert result.exit_code == 2, result.stderr
        assert "unsafe" in result.stderr or "CVE-2022-47951" in result.stderr
    assert all_images(images) == []


@pytest.mark.parametrize("engine", ["native", "qemu"])
def test_convert_on_the_way(vmwctl, images, tmp_path: Path, engine: str) -> None:
    """native: the writer's output streamed into Glance (format-match on); qemu: a file first."""
    raw = tmp_path / "src.raw"
    with open(raw, "wb") as handle:
        handle.truncate(8 << 20)
        handle.write(os.urandom(1 << 20))
    qcow2 = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
                   check=True)
    result = vmwctl("image", "upload", str(qcow2), "--name", "from-qcow2")
    assert result.exit_code == 2
    assert "a qcow2 image, not a VMDK" in result.stderr and "--convert" in result.stderr
    result = vmwctl("image", "upload", str(qcow2), "--name", "from-qcow2", "--convert",
                    "--adapter-type", "ide", "--engine", engine, "-o", "json")
    assert result.exit_code == 0, result.stderr
    image = result.json()["image"]
    assert (image["vmware_disktype"], image["vmware_adaptertype"]) == ("streamOptimized",
                                                                       "ide")
    downloaded = tmp_path / "back.vmdk"
    downloaded.write_bytes(images.get(f"/images/{image['id']}/file").content)
    subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "vmdk", str(qcow2),
                    str(downloaded)], check=True, capture_output=True)
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("vmwctl-upload-*")
                if p.stat().st_mtime > raw.stat().st_mtime]
    assert not list(tmp_path.glob(".vmwctl-upload-*"))  # the raw copy beside the source


def test_dry_run_creates_nothing(vmwctl, images, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, size=2 << 20)
    result = vmwctl("image", "upload", str(disk), "--name", "dry", "--ostype", "rhel7_64Guest",
                    "--dry-run", "-o", "json")
    assert result.exit_code == 0
    plan = result.json()
    assert plan["properties"] == {"vmware_disktype": "streamOptimized",
                                  "vmware_adaptertype": "lsiLogic",
                                  "vmware_ostype": "rhel7_64Guest", "hypervisor_type": "vmware"}
    assert all_images(images) == []


def test_failure_mid_stream_deletes_the_image(vmwctl, images, lab, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, size=32 << 20)
    port = int(lab.glance_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        clouds = {"clouds": {"faulty": {"auth_type": "none", "auth": {"endpoint": url},
                                        "image_endpoint_override": url}}}
        clouds_file = tmp_path / "clouds.yaml"
        clouds_file.write_text(json.dumps(clouds))
        config = profile_with_cloud(lab, tmp_path / "faulty.yaml", "faulty")
        proxy.cut_after(4 << 20)
        result = vmwctl("--config", str(config), "image", "upload", str(disk), "--name", "cut",
                        env={"OS_CLIENT_CONFIG_FILE": str(clouds_file)})
        assert proxy.cuts == 1
    assert result.exit_code == 1
    assert "broke off after" in result.stderr
    assert "was deleted" in result.stderr
    assert all_images(images) == []


def test_unreachable_image_service_exits_3(vmwctl, images, lab, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, size=2 << 20)
    clouds = {"clouds": {"gone": {"auth_type": "none", "auth": {"endpoint": "http://127.0.0.1:9"},
                                  "image_endpoint_override": "http://127.0.0.1:9"}}}
    (tmp_path / "clouds.yaml").write_text(json.dumps(clouds))
    config = profile_with_cloud(lab, tmp_path / "gone.yaml", "gone")
    result = vmwctl("--config", str(config), "image", "upload", str(disk), "--name", "x",
                    "-o", "json", env={"OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml")})
    assert result.exit_code == 3
    assert "cannot reach the image service of cloud 'gone'" in result.json()["error"]["message"]


# ------------------------------------------------------------------ tag

def create(proxy, name: str, **properties: str) -> dict:
    body = {"name": name, "disk_format": "vmdk", "container_format": "bare", **properties}
    return proxy.post("/images", json=body).json()


def test_tag_sets_validates_and_is_idempotent(vmwctl, images) -> None:
    image = create(images, "tagme", vmware_disktype="sparse")
    args = ("image", "tag", "tagme", "--ostype", "WINDOWS9SERVER64GUEST", "--adapter-type",
            "lsilogicsas", "--no-linked-clone")
    result = vmwctl(*args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["changed"] is True
    after = images.get(f"/images/{image['id']}").json()
    assert after["vmware_ostype"] == "windows9Server64Guest"
    assert after["vmware_adaptertype"] == "lsiLogicsas"
    assert after["img_linked_clone"] == "false"
    again = vmwctl(*args)
    assert again.exit_code == 0
    assert "nothing to change" in again.stdout
    assert images.get(f"/images/{image['id']}").json()["updated_at"] == after["updated_at"]

    result = vmwctl("image", "tag", image["id"], "--unset", "vmware_ostype", "--dry-run",
                    "-o", "json")
    assert result.json()["removed"] == ["vmware_ostype"]
    assert "vmware_ostype" in images.get(f"/images/{image['id']}").json()
    assert vmwctl("image", "tag", image["id"], "--unset", "vmware_ostype").exit_code == 0
    assert "vmware_ostype" not in images.get(f"/images/{image['id']}").json()


def test_tag_keeps_the_newer_names_in_agreement(vmwctl, images) -> None:
    image = create(images, "both-names", vmware_disktype="sparse", hw_disk_type="sparse",
                   hw_disk_bus="scsi", hw_scsi_model="lsilogic", os_distro="ubuntu64Guest")
    result = vmwctl("image", "tag", "both-names", "--disktype", "streamOptimized",
                    "--adapter-type", "ide", "--ostype", "debian10_64Guest", "-o", "json")
    assert result.exit_code == 0, result.stderr
    after = images.get(f"/images/{image['id']}").json()
    assert after["vmware_disktype"] == after["hw_disk_type"] == "streamOptimized"
    assert after["vmware_adaptertype"] == "ide" and after["hw_disk_bus"] == "ide"
    assert "hw_scsi_model" not in after
    assert after["vmware_ostype"] == after["os_distro"] == "debian10_64Guest"
    assert set(result.json()["also_set"]) == {"hw_disk_type", "hw_disk_bus", "os_distro"}


@pytest.mark.parametrize(("args", "code", "message"), [
    (["tagme", "--disktype", "thinner"], 2, "'thinner' is not a valid disk type"),
    (["tagme", "--unset", "checksum"], 2, "--unset checksum: vmwctl manages only"),
    (["tagme"], 2, "nothing to change"),
    (["no-such-image", "--disktype", "thin"], 1, "no image 'no-such-image'"),
    (["twin", "--disktype", "thin"], 1, "2 images are named 'twin'"),
])
def test_tag_errors(vmwctl, images, args: list[str], code: int, message: str) -> None:
    create(images, "tagme")
    create(images, "twin")
    create(images, "twin")
    result = vmwctl("image", "tag", *args)
    assert result.exit_code == code
    assert message in result.stderr


# ------------------------------------------------------------------ list

def test_list_flags_what_would_break_a_boot(vmwctl, images) -> None:
    good = create(images, "good", vmware_disktype="streamOptimized",
                  vmware_adaptertype="lsiLogic", hypervisor_type="vmware",
                  vmware_ostype="ubuntu64Guest")
    bogus = create(images, "bogus-type", vmware_disktype="qcow2", hypervisor_type="vmware")
    contradicted = create(images, "contradicted", vmware_disktype="sparse",
                          vmware_adaptertype="ide", hw_disk_bus="scsi",
                          hw_scsi_model="lsilogic", hypervisor_type="vmware")
    no_model = create(images, "scsi-no-model", vmware_disktype="sparse", hw_disk_bus="scsi",
                      hypervisor_type="vmware")
    result = vmwctl("image", "list", "-o", "json")
    assert result.exit_code == 1
    listing = result.json()
    assert listing["mixed_cloud"] is False
    entries = {e["id"]: e for e in listing["images"]}
    assert entries[good["id"]]["problems"] == [] and entries[good["id"]]["warnings"] == []
    assert "'qcow2' is not a disk type Nova boots" in entries[bogus["id"]]["problems"][0]
    entry = entries[contradicted["id"]]
    assert entry["adapter_type"] == "lsiLogic"  # the newer names win, as in Nova
    assert any("vmware_adaptertype=ide is contradicted by hw_disk_bus=scsi" in w
               for w in entry["warnings"])
    assert entries[no_model["id"]]["adapter_type"] is None
    assert "no adapter type at all" in entries[no_model["id"]]["problems"][0]

    images.post("/images", json={"name": "kvm", "disk_format": "qcow2",
                                 "container_format": "bare"})
    missing = create(images, "no-hv", vmware_disktype="sparse", vmware_adaptertype="ide")
    listing = vmwctl("image", "list", "-o", "json").json()
    assert listing["mixed_cloud"] is True
    entry = {e["id"]: e for e in listing["images"]}[missing["id"]]
    assert "no hypervisor_type in a mixed cloud" in entry["problems"][0]
    table = vmwctl("image", "list").stdout
    assert "good" in table and "FAIL" in table


def test_list_verify_reads_the_data_back(vmwctl, images, tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, "streamOptimized", "ide", size=4 << 20)
    result = vmwctl("image", "upload", str(disk), "--name", "ide-disk", "-o", "json")
    image_id = result.json()["image"]["id"]
    listing = vmwctl("image", "list", "--verify", "-o", "json")
    assert listing.exit_code == 0, listing.stdout
    [entry] = listing.json()["images"]
    assert entry["file"]["create_type"] == "streamOptimized"
    assert entry["file"]["descriptor_adapter_type"] == "ide"
    images.patch(f"/images/{image_id}", json=[
        {"op": "replace", "path": "/vmware_adaptertype", "value": "lsiLogic"},
        {"op": "replace", "path": "/vmware_disktype", "value": "sparse"}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    listing = vmwctl("image", "list", "--verify", "-o", "json")
    assert listing.exit_code == 1
    problems = listing.json()["images"][0]["problems"]
    assert "the data is streamOptimized but Nova will treat it as sparse" in problems
    assert any("the descriptor says 'ide' but Nova will attach the disk to lsiLogic" in p
               for p in problems)
    assert vmwctl("image", "list").exit_code == 0  # without --verify nothing contradicts
