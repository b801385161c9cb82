"""vmwctl against the lab's Keystone-protected Glance: every way to authenticate, the errors of
bad credentials and of a catalog without Glance, a token too short for an upload, and
Glance's default policies as a member, a reader and another project see them.

Every image made here is deleted; the last test lists both projects' images as admin and
finds none left queued or saving.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import labctl
import pytest
import yaml
from labimages import delete_protected_image, protected_images, public_protected_image

pytestmark = pytest.mark.lab

PREFIX = "vmwctl-ks-test-"


@pytest.fixture(scope="module")
def small_vmdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 MiB disk with 1 MiB of data, as a streamOptimized VMDK (a few hundred KB)."""
    directory = tmp_path_factory.mktemp("ks-images")
    raw = directory / "disk.raw"
    with open(raw, "wb") as handle:
        handle.write(os.urandom(1 << 20))
        handle.truncate(4 << 20)
    vmdk = directory / "disk.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized,adapter_type=lsilogic", str(raw), str(vmdk)],
                   check=True)
    return vmdk


@pytest.fixture(scope="module")
def profile_without_cloud(lab: labctl.LabState, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab's profile with no openstack.cloud: OS_CLOUD (or OS_* variables) decide."""
    document = yaml.safe_load(Path(lab.config_file).read_text())
    for profile in document["profiles"].values():
        profile.pop("openstack", None)
    path = tmp_path_factory.mktemp("ks-profile") / "vmwctl.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(vmwctl, config: Path, cloud: str | None, *args: str,
        env: dict[str, str] | None = None, clouds: str | None = None) -> Any:
    """vmwctl with ``config``, OS_CLOUD=cloud and the lab's clouds.yaml and secure.yaml (or
    ``clouds``)."""
    environment = {"VMWCTL_CONFIG": str(config), "OS_CLOUD": cloud or "",
                   **({"OS_CLIENT_CONFIG_FILE": clouds} if clouds else {}), **(env or {})}
    return vmwctl(*args, env=environment)


@pytest.fixture(autouse=True)
def lab_clouds(lab: labctl.LabState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", lab.clouds_file)
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", lab.secure_file)


def mine(lab: labctl.LabState) -> list[dict[str, Any]]:
    return [image for image in protected_images(lab) if image["name"].startswith(PREFIX)]


@pytest.fixture
def clean(lab: labctl.LabState):
    """Delete what a test leaves (as admin), after asserting on it in the test itself."""
    yield
    for image in mine(lab):
        delete_protected_image(lab, image["id"])


def token_clouds(lab: labctl.LabState, directory: Path, token: str) -> str:
    """A clouds.yaml with a v3token cloud for ``token`` (and the secure.yaml of the lab)."""
    clouds = {"clouds": {"ks-token": {
        "auth_type": "v3token", "auth": {"auth_url": f"{lab.keystone_url}/v3", "token": token,
                                         "project_name": "operators",
                                         "project_domain_name": "Default"},
        "identity_api_version": 3}}}
    path = directory / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    return str(path)


# ------------------------------------------------------------------ every auth method

@pytest.mark.parametrize("who", ["operator", "app_credential"])
def test_password_and_application_credential_upload_and_list(
        vmwctl, lab, profile_without_cloud, small_vmdk, clean, who: str) -> None:
    cloud = {"operator": lab.cloud_operator, "app_credential": lab.cloud_app_credential}[who]
    name = f"{PREFIX}{who}"
    done = run(vmwctl, profile_without_cloud, cloud, "-o", "json", "image", "upload",
               str(small_vmdk), "--name", name, "--visibility", "private")
    assert done.exit_code == 0, done.stderr
    record = done.json()["image"]
    assert (record["status"], record["visibility"]) == ("active", "private")
    listed = run(vmwctl, profile_without_cloud, cloud, "-o", "json", "image", "list")
    assert listed.exit_code in (0, 1), listed.stderr
    document = listed.json()
    assert document["project"] == "operators"
    entry = next(image for image in document["images"] if image["name"] == name)
    assert (entry["owner"], entry["visibility"]) == (document["project_id"], "private")
    assert lab.others_image not in {image["id"] for image in document["images"]}


def test_a_token_and_the_profile_cloud_before_os_cloud(
        vmwctl, lab, profile_without_cloud, small_vmdk, clean, tmp_path: Path) -> None:
    token = labctl.keystone_token(lab.keystone_url, "operator",
                                  lab.keystone_password("operator"), "operators")
    clouds = token_clouds(lab, tmp_path, token)
    done = run(vmwctl, profile_without_cloud, "ks-token", "-o", "json", "image", "upload",
               str(small_vmdk), "--name", f"{PREFIX}token", clouds=clouds)
    assert done.exit_code == 0, done.stderr
    assert token not in done.stdout + done.stderr
    # openstack.cloud of the profile wins over OS_CLOUD: the auditor's OS_CLOUD is ignored
    document = yaml.safe_load(profile_without_cloud.read_text())
    for profile in document["profiles"].values():
        profile["openstack"] = {"cloud": lab.cloud_operator}
    config = tmp_path / "with-cloud.yaml"
    config.write_text(yaml.safe_dump(document))
    listed = run(vmwctl, config, lab.cloud_auditor, "-o", "json", "image", "list")
    assert listed.json()["cloud"] == lab.cloud_operator


def test_os_variables_without_a_cloud(vmwctl, lab, profile_without_cloud, tmp_path) -> None:
    empty = tmp_path / "clouds.yaml"
    empty.write_text("clouds: {}\n")
    env = {"OS_AUTH_URL": f"{lab.keystone_url}/v3", "OS_USERNAME": "auditor",
           "OS_PASSWORD": lab.keystone_password("auditor"), "OS_PROJECT_NAME": "operators",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
           "OS_IDENTITY_API_VERSION": "3"}
    listed = run(vmwctl, profile_without_cloud, None, "-o", "json", "image", "list",
                 clouds=str(empty), env=env)
    assert listed.exit_code in (0, 1), listed.stderr
    assert listed.json()["cloud"] == "envvars"


def test_secure_yaml_holds_the_secrets(lab) -> None:
    clouds = Path(lab.clouds_file).read_text()
    for user in ("operator", "auditor", "outsider", "admin"):
        assert lab.keystone_password(user) not in clouds
    secure = yaml.safe_load(Path(lab.secure_file).read_text())
    assert secure["clouds"][lab.cloud_operator]["auth"]["password"] == \
        lab.keystone_password("operator")


# ------------------------------------------------------------------ errors

def test_bad_credentials_exit_3_naming_cloud_and_auth_url(vmwctl, lab, profile_without_cloud,
                                                          tmp_path: Path) -> None:
    wrong = "Not-The-Password-42"
    clouds = {"clouds": {"ks-wrong": {
        "auth_type": "password", "identity_api_version": 3,
        "auth": {"auth_url": f"{lab.keystone_url}/v3", "username": "operator",
                 "password": wrong, "project_name": "operators",
                 "user_domain_name": "Default", "project_domain_name": "Default"}}}}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    refused = run(vmwctl, profile_without_cloud, "ks-wrong", "image", "list", "-v",
                  clouds=str(path))
    assert refused.exit_code == 3
    last = refused.stderr.splitlines()[-1]
    assert last.startswith(f"Error: Keystone at {lab.keystone_url}/v3 refused the credentials "
                           "of cloud 'ks-wrong': ")
    assert wrong not in refused.stdout + refused.stderr  # -v: the traceback included
    plain = run(vmwctl, profile_without_cloud, "ks-wrong", "image", "list", clouds=str(path))
    assert plain.exit_code == 3
    assert plain.stderr.startswith(last.split("(Request-ID")[0])
    assert plain.stderr.count("\n") == 1  # one line, no traceback without -v


def test_a_catalog_without_glance_for_the_region(vmwctl, lab, profile_without_cloud,
                                                 tmp_path: Path) -> None:
    secure = yaml.safe_load(Path(lab.secure_file).read_text())
    clouds = yaml.safe_load(Path(lab.clouds_file).read_text())
    entry = clouds["clouds"][lab.cloud_operator]
    entry["auth"] = {**entry.get("auth", {}),
                     **secure["clouds"][lab.cloud_operator]["auth"]}
    entry["region_name"] = "Nowhere"
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"ks-nowhere": entry}}))
    refused = run(vmwctl, profile_without_cloud, "ks-nowhere", "image", "list",
                  clouds=str(path))
    assert refused.exit_code == 3, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        f"Error: the service catalog of cloud 'ks-nowhere' (from {lab.keystone_url}/v3) has no "
        "image service for region Nowhere, interface public: set region_name or interface in "
        "clouds.yaml, or ask for the catalog to list Glance")


def test_a_token_that_cannot_outlive_the_upload(vmwctl, lab, profile_without_cloud,
                                                tmp_path: Path) -> None:
    token = labctl.keystone_token(lab.keystone_url, "operator",
                                  lab.keystone_password("operator"), "operators")
    clouds = token_clouds(lab, tmp_path, token)
    big = tmp_path / "big.raw"  # 200 GB apparent, nothing allocated: 8000 s at 25 MB/s
    with open(big, "wb") as handle:
        handle.truncate(200 * 10**9)
    refused = run(vmwctl, profile_without_cloud, "ks-token", "image", "upload", str(big),
                  "--name", f"{PREFIX}big", "--convert", clouds=clouds)
    assert refused.exit_code == 3, refused.stderr
    last = refused.stderr.splitlines()[-1]
    assert last.startswith("Error: the token of cloud 'ks-token' expires in ")
    assert "get a fresh token, or authenticate with a password or an application " \
           "credential" in last
    assert token not in refused.stdout + refused.stderr
    assert mine(lab) == []


# ------------------------------------------------------------------ projects and policy

def test_a_member_cannot_publish(vmwctl, lab, profile_without_cloud, small_vmdk, clean) -> None:
    refused = run(vmwctl, profile_without_cloud, lab.cloud_operator, "image", "upload",
                  str(small_vmdk), "--name", f"{PREFIX}public", "--visibility", "public")
    assert refused.exit_code == 1, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        f"Error: creating image '{PREFIX}public': your role in project operators cannot "
        "publish images (Glance policy publicize_image): upload it with --visibility private "
        "or shared, or ask an admin to publish it; nothing created")
    assert mine(lab) == []


def test_a_reader_lists_but_cannot_upload(vmwctl, lab, profile_without_cloud,
                                          small_vmdk) -> None:
    listed = run(vmwctl, profile_without_cloud, lab.cloud_auditor, "-o", "json", "image",
                 "list")
    assert listed.exit_code in (0, 1), listed.stderr
    assert listed.json()["project"] == "operators"
    verified = run(vmwctl, profile_without_cloud, lab.cloud_auditor, "-o", "json", "image",
                   "list", "--verify")
    assert verified.exit_code in (0, 1), verified.stderr
    assert verified.json()["verified"] is True
    refused = run(vmwctl, profile_without_cloud, lab.cloud_auditor, "image", "upload",
                  str(small_vmdk), "--name", f"{PREFIX}reader")
    assert refused.exit_code == 1, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        f"Error: creating image '{PREFIX}reader': your role in project operators cannot create "
        "images (Glance policy add_image): a reader lists and inspects; uploading needs the "
        "member role; nothing created")
    assert mine(lab) == []


def test_another_project_s_image(vmwctl, lab, profile_without_cloud) -> None:
    hidden = run(vmwctl, profile_without_cloud, lab.cloud_operator, "image", "tag",
                 lab.others_image, "--ostype", "ubuntu64Guest")
    assert hidden.exit_code == 1, hidden.stderr
    assert hidden.stderr.splitlines()[-1] == (
        f"Error: no image '{lab.others_image}' visible to project operators in cloud "
        f"'{lab.cloud_operator}' (another project's private image is not)")
    seen = run(vmwctl, profile_without_cloud, lab.cloud_outsider, "-o", "json", "image",
               "list")
    assert lab.others_image in {image["id"] for image in seen.json()["images"]}


def test_another_project_s_public_image_is_listed_but_not_changed(
        vmwctl, lab, profile_without_cloud, small_vmdk, clean) -> None:
    image_id = public_protected_image(lab, f"{PREFIX}admins-public", small_vmdk)
    human = run(vmwctl, profile_without_cloud, lab.cloud_operator, "image", "list")
    row = next(line for line in human.stdout.splitlines() if image_id[:8] in line)
    assert "public" in row and "OWNER" in human.stdout
    refused = run(vmwctl, profile_without_cloud, lab.cloud_operator, "image", "tag", image_id,
                  "--ostype", "ubuntu64Guest")
    assert refused.exit_code == 1, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        f"Error: updating image {image_id}: your role in project operators cannot change this "
        "image (Glance policy modify_image): it belongs to another project; nothing changed")
    record = next(image for image in protected_images(lab) if image["id"] == image_id)
    assert "vmware_ostype" not in record


def test_all_projects_needs_the_admin_role(vmwctl, lab, profile_without_cloud) -> None:
    refused = run(vmwctl, profile_without_cloud, lab.cloud_operator, "image", "list",
                  "--all-projects")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[-1] == (
        "Error: your role in project operators (member, reader) cannot list other projects' "
        "images: "
        "--all-projects needs the admin role")
    listed = run(vmwctl, profile_without_cloud, lab.cloud_admin, "-o", "json", "image", "list",
                 "--all-projects")
    assert listed.exit_code in (0, 1), listed.stderr
    assert lab.others_image in {image["id"] for image in listed.json()["images"]}
    human = run(vmwctl, profile_without_cloud, lab.cloud_admin, "image", "list",
                "--all-projects")
    assert "OWNER" in human.stdout and "(all projects)" in human.stdout


def test_zz_nothing_left_queued_or_saving(lab) -> None:
    """Run last in this module: no image of either project is left half-made."""
    stuck = [(image["name"], image["status"]) for image in protected_images(lab)
             if image["status"] in ("queued", "saving", "importing")]
    assert stuck == []


def test_a_tls_keystone_is_verified(vmwctl, lab, profile_without_cloud, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """cacert in clouds.yaml, or OS_CACERT, verifies a TLS Keystone; without either, the
    system's CA store does not know the lab's CA and the command exits 3."""
    service = labctl.start_keystone_tls(lab, tmp_path, tie_to_parent=True)
    try:
        labctl.point_catalog(service.url, lab.keystone_password("admin"),
                             lab.glance_keystone_url,
                             context=labctl.lab_ssl_context(lab.ca_file))
        auth = {"auth_url": f"{service.url}/v3", "username": "operator",
                "password": lab.keystone_password("operator"), "project_name": "operators",
                "user_domain_name": "Default", "project_domain_name": "Default"}
        cloud = {"auth_type": "password", "identity_api_version": 3, "auth": auth}
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(yaml.safe_dump({"clouds": {
            "ks-tls": {**cloud, "cacert": lab.ca_file}, "ks-tls-no-ca": cloud}}))
        monkeypatch.delenv("OS_CLIENT_SECURE_FILE")
        listed = run(vmwctl, profile_without_cloud, "ks-tls", "-o", "json", "image", "list",
                     clouds=str(clouds))
        assert listed.exit_code in (0, 1), listed.stderr
        assert listed.json()["project"] == "operators"
        refused = run(vmwctl, profile_without_cloud, "ks-tls-no-ca", "image", "list",
                      clouds=str(clouds))
        assert refused.exit_code == 3, refused.stderr
        assert refused.stderr == (
            f"Error: cannot verify the TLS certificate of cloud 'ks-tls-no-ca' ({service.url}"
            "/v3): certificate verify failed: unable to get local issuer certificate; give its "
            "CA with cacert in clouds.yaml or OS_CACERT\n")
        assert lab.keystone_password("operator") not in refused.stderr
        with_env = run(vmwctl, profile_without_cloud, "ks-tls-no-ca", "-o", "json", "image",
                       "list", clouds=str(clouds), env={"OS_CACERT": lab.ca_file})
        assert with_env.exit_code in (0, 1), with_env.stderr
    finally:
        labctl.stop_process(service.pid)


def test_a_cloud_without_its_password_exits_2(vmwctl, lab, profile_without_cloud, tmp_path,
                                              monkeypatch) -> None:
    """clouds.yaml without the password and no secure.yaml that holds it: keystoneauth raises
    a bare Exception, which vmwctl tells as bad configuration."""
    empty = tmp_path / "secure.yaml"
    empty.write_text("clouds: {}\n")
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", str(empty))
    listed = run(vmwctl, profile_without_cloud, lab.cloud_operator, "-o", "json", "image",
                 "list")
    assert listed.exit_code == 2, listed.stdout
    assert listed.json()["error"]["message"] == (
        f"cloud '{lab.cloud_operator}' has no password: set auth.password in its entry of "
        "clouds.yaml or secure.yaml (OS_CLIENT_SECURE_FILE names the secure.yaml to read)")
    assert "Traceback" not in listed.stderr
