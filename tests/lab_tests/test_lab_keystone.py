"""The lab's Keystone and the Glance behind it (docs/lab.md, "Keystone"), with plain
keystoneauth1, openstacksdk's clouds.yaml loader and requests (not vmwctl): a token for
every cloud, the catalog, and Glance's default policies as each role meets them."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import labctl
import pytest
import requests
from helpers import command_lines
from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3
from openstack import config as os_config

pytestmark = pytest.mark.lab

# cloud attribute of LabState -> (user, project, a role the token carries)
CLOUDS = {
    "cloud_admin": ("admin", "admin", "admin"),
    "cloud_operator": ("operator", "operators", "member"),
    "cloud_auditor": ("auditor", "operators", "reader"),
    "cloud_outsider": ("outsider", "others", "member"),
    "cloud_app_credential": ("operator", "operators", "member"),
}
VMDK_IMAGE = {"disk_format": "vmdk", "container_format": "bare"}


@pytest.fixture(autouse=True)
def keystone_runs(lab: labctl.LabState) -> None:
    assert lab.keystone_url, f"the lab in {lab.dir} runs no Keystone (started --no-keystone)"


def cloud_session(lab: labctl.LabState, cloud: str) -> ksa_session.Session:
    """A keystoneauth1 session from the lab's clouds.yaml and secure.yaml, as openstacksdk
    merges them."""
    loader = os_config.OpenStackConfig(config_files=[lab.clouds_file],
                                       secure_files=[lab.secure_file])
    return loader.get_one(cloud).get_session()


def password_session(url: str, user: str, project: str, password: str,
                     verify: bool | str = True) -> ksa_session.Session:
    auth = v3.Password(auth_url=f"{url}/v3", username=user, password=password,
                       project_name=project, user_domain_name="Default",
                       project_domain_name="Default")
    return ksa_session.Session(auth=auth, verify=verify)


@pytest.fixture(scope="module")
def tokens(lab: labctl.LabState) -> dict[str, str]:
    """A token of each password user, scoped to its project."""
    users = {"operator": "operators", "auditor": "operators", "outsider": "others",
             "admin": "admin"}
    return {user: password_session(lab.keystone_url, user, project,
                                   lab.keystone_password(user)).get_token()
            for user, project in users.items()}


def glance(lab: labctl.LabState, method: str, path: str, token: str | None, *,
           body: object = None, patch: list[dict] | None = None) -> requests.Response:
    """One call to the Keystone-protected Glance's v2 API: ``body`` as JSON, ``patch`` as
    a JSON patch."""
    headers = {"X-Auth-Token": token} if token else {}
    data = None
    if patch is not None:
        headers["Content-Type"] = "application/openstack-images-v2.1-json-patch"
        data = json.dumps(patch)
    return requests.request(method, f"{lab.glance_keystone_url}/v2{path}", headers=headers,
                            json=body, data=data, timeout=60)


@pytest.fixture
def created(lab: labctl.LabState, tokens: dict[str, str]) -> Iterator[list[str]]:
    """Ids of images a test creates, deleted (as admin) at its end whatever happened."""
    ids: list[str] = []
    yield ids
    for image_id in ids:
        answer = glance(lab, "DELETE", f"/images/{image_id}", tokens["admin"])
        assert answer.status_code in (204, 404)


@pytest.mark.parametrize("attribute", sorted(CLOUDS))
def test_every_cloud_gets_a_token_for_its_project(lab: labctl.LabState,
                                                  attribute: str) -> None:
    user, project, role = CLOUDS[attribute]
    cloud = getattr(lab, attribute)
    session = cloud_session(lab, cloud)
    access = session.auth.get_access(session)
    assert (access.username, access.project_name, access.project_domain_name) == \
        (user, project, "Default")
    assert role in access.role_names
    methods = access._data["token"]["methods"]  # keystoneauth1 has no property for it
    if attribute == "cloud_app_credential":
        assert methods == ["application_credential"]
        assert access.application_credential["name"] == labctl.APP_CREDENTIAL
    else:
        assert methods == ["password"]


def test_glance_user_holds_the_service_roles(lab: labctl.LabState) -> None:
    session = password_session(lab.keystone_url, "glance", "service",
                               lab.keystone_password("glance"))
    roles = session.auth.get_access(session).role_names
    assert {"service", "admin"} <= set(roles)


def test_a_wrong_password_gets_no_token(lab: labctl.LabState) -> None:
    session = password_session(lab.keystone_url, "operator", "operators", "not-the-password")
    with pytest.raises(ksa_exceptions.Unauthorized):
        session.get_token()


def test_tokens_live_as_long_as_the_lab_says(lab: labctl.LabState) -> None:
    session = cloud_session(lab, lab.cloud_operator)
    access = session.auth.get_access(session)
    lifetime = access.expires - access.issued
    assert round(lifetime.total_seconds()) == labctl.KEYSTONE_TOKEN_EXPIRATION


def test_secrets_live_in_secure_yaml_only(lab: labctl.LabState) -> None:
    clouds = Path(lab.clouds_file).read_text()
    secure = json.loads(Path(lab.secure_file).read_text())["clouds"]
    credential_id, credential_secret = lab.app_credential()
    passwords = [lab.keystone_password(user) for user in ("admin", "operator", "auditor",
                                                           "outsider", "glance")]
    for secret in (*passwords, credential_secret):
        assert secret not in clouds
    assert credential_id in clouds
    assert secure[lab.cloud_operator] == {"auth": {"password": passwords[1]}}
    assert secure[lab.cloud_app_credential] == {
        "auth": {"application_credential_secret": credential_secret}}
    keystone_dir = Path(lab.dir) / "keystone"
    for path in (Path(lab.secure_file), *keystone_dir.glob("*.password"),
                 keystone_dir / labctl.APP_CREDENTIAL_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_no_keystone_secret_on_any_command_line(lab: labctl.LabState) -> None:
    """ps shows every process's arguments: no lab process may carry a Keystone secret."""
    secrets = [lab.keystone_password(user) for user in ("admin", "glance", "operator",
                                                         "auditor", "outsider")]
    secrets.append(lab.app_credential()[1])
    lines = command_lines()
    for line in lines:
        assert not any(secret in line for secret in secrets), line
    assert len(lines) > len(lab.services)


def test_catalog_names_this_labs_keystone_and_its_glance(lab: labctl.LabState) -> None:
    session = cloud_session(lab, lab.cloud_operator)
    catalog = session.auth.get_access(session).service_catalog
    for interface in ("public", "internal", "admin"):
        assert catalog.url_for(service_type="image", interface=interface,
                               region_name="RegionOne") == lab.glance_keystone_url
        assert catalog.url_for(service_type="identity", interface=interface,
                               region_name="RegionOne") == f"{lab.keystone_url}/v3"
    assert session.get_endpoint(service_type="image", interface="public") == \
        lab.glance_keystone_url


def test_glance_wants_a_token(lab: labctl.LabState, tokens: dict[str, str]) -> None:
    anonymous = glance(lab, "GET", "/images", None)
    assert anonymous.status_code == 401
    assert f'uri="{lab.keystone_url}/v3"' in anonymous.headers["WWW-Authenticate"]
    assert glance(lab, "GET", "/images", "not-a-token").status_code == 401
    answer = glance(lab, "GET", "/images", tokens["operator"])
    assert answer.status_code == 200
    assert isinstance(answer.json()["images"], list)


def test_member_creates_private_images_and_cannot_publish(
        lab: labctl.LabState, tokens: dict[str, str], created: list[str]) -> None:
    token = tokens["operator"]
    name = f"keystone-lab-{uuid.uuid4().hex[:8]}"
    answer = glance(lab, "POST", "/images", token,
                    body={"name": name, "visibility": "private", **VMDK_IMAGE})
    assert answer.status_code == 201, answer.text
    image = answer.json()
    created.append(image["id"])
    assert image["visibility"] == "private"
    public = glance(lab, "POST", "/images", token,
                    body={"name": f"{name}-public", "visibility": "public", **VMDK_IMAGE})
    assert public.status_code == 403, public.text
    publish = [{"op": "replace", "path": "/visibility", "value": "public"}]
    answer = glance(lab, "PATCH", f"/images/{image['id']}", token, patch=publish)
    assert answer.status_code == 403, answer.text
    read_back = glance(lab, "GET", f"/images/{image['id']}", token).json()
    assert read_back["visibility"] == "private"
    names = [i["name"] for i in glance(lab, "GET", "/images", token).json()["images"]]
    assert name in names and f"{name}-public" not in names
    assert glance(lab, "DELETE", f"/images/{image['id']}", token).status_code == 204
    assert glance(lab, "GET", f"/images/{image['id']}", token).status_code == 404


def test_reader_can_list_but_not_create(lab: labctl.LabState, tokens: dict[str, str],
                                        created: list[str]) -> None:
    token = tokens["auditor"]
    assert glance(lab, "GET", "/images", token).status_code == 200
    name = f"keystone-lab-{uuid.uuid4().hex[:8]}"
    answer = glance(lab, "POST", "/images", token, body={"name": name, **VMDK_IMAGE})
    if answer.status_code == 201:
        created.append(answer.json()["id"])
    assert answer.status_code == 403, answer.text
    names = [i["name"] for i in glance(lab, "GET", "/images", tokens["admin"]).json()["images"]]
    assert name not in names


def test_another_projects_image_is_hidden_from_the_operator(
        lab: labctl.LabState, tokens: dict[str, str]) -> None:
    path = f"/images/{lab.others_image}"
    assert glance(lab, "GET", path, tokens["operator"]).status_code == 404
    assert glance(lab, "GET", path, tokens["auditor"]).status_code == 404
    listed = glance(lab, "GET", "/images", tokens["operator"]).json()["images"]
    assert lab.others_image not in [image["id"] for image in listed]
    outsider = password_session(lab.keystone_url, "outsider", "others",
                                lab.keystone_password("outsider"))
    others_project = outsider.get_project_id()
    image = glance(lab, "GET", path, tokens["outsider"]).json()
    assert (image["name"], image["owner"], image["visibility"], image["status"]) == \
        (labctl.OTHERS_IMAGE, others_project, "private", "active")
    assert (image["disk_format"], image["vmware_disktype"]) == ("vmdk", "streamOptimized")
    data = glance(lab, "GET", f"{path}/file", tokens["outsider"])
    assert data.status_code == 200
    assert data.content[:4] == b"KDMV"  # a VMDK sparse extent's magic


def test_keystone_over_tls_verifies_with_the_lab_ca(lab: labctl.LabState,
                                                    tls_keystone: str) -> None:
    assert tls_keystone.startswith("https://127.0.0.1:")
    session = password_session(tls_keystone, "operator", "operators",
                               lab.keystone_password("operator"), verify=lab.ca_file)
    access = session.auth.get_access(session)
    assert (access.username, access.project_name) == ("operator", "operators")
    assert access.service_catalog.url_for(service_type="identity", interface="public") == \
        f"{tls_keystone}/v3"


def test_keystone_over_tls_fails_without_the_lab_ca(lab: labctl.LabState,
                                                   tls_keystone: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    session = password_session(tls_keystone, "operator", "operators",
                               lab.keystone_password("operator"), verify=True)
    with pytest.raises(ksa_exceptions.SSLError):
        session.get_token()
