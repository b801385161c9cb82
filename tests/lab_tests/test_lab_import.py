"""The Keystone-protected Glance's import API and stores (docs/lab.md, "Import and
stores"), with plain keystoneauth1 and requests as the operator (not vmwctl): the info
endpoints, glance-direct, web-download from a loopback server of the test, copy-image,
a direct upload into a named store, the import-only Glance's policy, and what an import
that fails leaves in the image record."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import labctl
import pytest
import requests
import vmdkfiles
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

pytestmark = pytest.mark.lab

VMDK_IMAGE = {"disk_format": "vmdk", "container_format": "bare"}
OCTETS = {"Content-Type": "application/octet-stream"}
# A valid streamOptimized VMDK of 1 MiB with data in every grain.
DISK = vmdkfiles.stream_optimized(bytes(range(256)) * 4096)
# How long an import may take before a test gives up waiting (a bound, not an assertion).
IMPORT_BOUND = 120


@pytest.fixture(autouse=True)
def keystone_runs(lab: labctl.LabState) -> None:
    assert lab.keystone_url, f"the lab in {lab.dir} runs no Keystone (started --no-keystone)"


def token(lab: labctl.LabState, user: str, project: str) -> str:
    auth = v3.Password(auth_url=f"{lab.keystone_url}/v3", username=user,
                       password=lab.keystone_password(user), project_name=project,
                       user_domain_name="Default", project_domain_name="Default")
    return ksa_session.Session(auth=auth).get_token()


@pytest.fixture(scope="module")
def tokens(lab: labctl.LabState) -> dict[str, str]:
    return {"operator": token(lab, "operator", "operators"),
            "admin": token(lab, "admin", "admin")}


class Glance:
    """The v2 API of one Keystone-protected Glance as one user, and the images a test made
    there (deleted as admin at its end)."""

    def __init__(self, url: str, tokens: dict[str, str], user: str = "operator") -> None:
        self.url = url
        self.tokens = tokens
        self.user = user
        self.made: list[str] = []

    def call(self, method: str, path: str, *, user: str | None = None,
             headers: dict[str, str] | None = None, **kwargs: object) -> requests.Response:
        headers = {"X-Auth-Token": self.tokens[user or self.user], **(headers or {})}
        return requests.request(method, f"{self.url}/v2{path}", headers=headers, timeout=120,
                                **kwargs)

    def create(self, **fields: object) -> str:
        answer = self.call("POST", "/images", json={
            "name": f"import-lab-{uuid.uuid4().hex[:8]}", **VMDK_IMAGE, **fields})
        assert answer.status_code == 201, answer.text
        self.made.append(answer.json()["id"])
        return self.made[-1]

    def image(self, image_id: str) -> dict:
        answer = self.call("GET", f"/images/{image_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stage(self, image_id: str, data: bytes) -> None:
        answer = self.call("PUT", f"/images/{image_id}/stage", data=data, headers=OCTETS)
        assert answer.status_code == 204, answer.text

    def start_import(self, image_id: str, method: dict, **request: object) -> None:
        answer = self.call("POST", f"/images/{image_id}/import",
                           json={"method": method, **request})
        assert answer.status_code == 202, answer.text

    def finished(self, image_id: str) -> dict:
        """The image once its import ended: Glance drops the import's lock
        (os_glance_import_task), whatever the outcome. Right after the 202 the image may
        still be queued: the import's thread has not marked it importing yet."""
        deadline = time.monotonic() + IMPORT_BOUND
        while True:
            image = self.image(image_id)
            if "os_glance_import_task" not in image:
                return image
            assert time.monotonic() < deadline, f"the import of {image_id} did not end"
            time.sleep(0.1)

    def tasks(self, image_id: str) -> list[dict]:
        answer = self.call("GET", f"/images/{image_id}/tasks")
        assert answer.status_code == 200, answer.text
        return answer.json()["tasks"]

    def data(self, image_id: str) -> bytes:
        answer = self.call("GET", f"/images/{image_id}/file")
        assert answer.status_code == 200, answer.text
        return answer.content

    def delete_made(self) -> None:
        for image_id in self.made:
            answer = self.call("DELETE", f"/images/{image_id}", user="admin")
            assert answer.status_code in (204, 404), answer.text
        for image_id in self.made:
            assert self.call("GET", f"/images/{image_id}", user="admin").status_code == 404


@pytest.fixture
def glance(lab: labctl.LabState, tokens: dict[str, str]) -> Iterator[Glance]:
    """glance-keystone as the operator."""
    client = Glance(lab.glance_keystone_url, tokens)
    yield client
    client.delete_made()
    assert not [name for name in Path(lab.glance_keystone_staging).iterdir()
                if name.name in client.made]


@pytest.fixture
def import_only(import_only_lab: labctl.LabState, tokens: dict[str, str]) -> Iterator[Glance]:
    """The import-only Glance as the operator (same Keystone, so the same tokens)."""
    client = Glance(import_only_lab.glance_import_only_url, tokens)
    yield client
    client.delete_made()


def in_stores(stores: dict[str, str], image_id: str) -> list[str]:
    """The stores whose directory holds ``image_id``'s data."""
    return [name for name, directory in stores.items() if (Path(directory) / image_id).exists()]


class Server:
    """A loopback HTTP server of the test serving ``DISK`` at /disk.vmdk (404 elsewhere).
    With ``hold``, it sends the first 4 KiB and waits for release() before the rest, so
    that a test reads the image while Glance's import is under way."""

    def __init__(self, hold: bool) -> None:
        self.asked = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/disk.vmdk":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(DISK)))
                self.end_headers()
                self.wfile.write(DISK[:4096])
                self.wfile.flush()
                server.asked.set()
                server.released.wait(IMPORT_BOUND)
                self.wfile.write(DISK[4096:])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    servers: list[Server] = []

    def start(*, hold: bool = False) -> Server:
        servers.append(Server(hold))
        return servers[-1]

    yield start
    for started in servers:
        started.close()


def test_info_lists_the_three_methods_and_two_stores(lab: labctl.LabState,
                                                     glance: Glance) -> None:
    methods = glance.call("GET", "/info/import").json()["import-methods"]["value"]
    assert methods == ["glance-direct", "web-download", "copy-image"]
    stores = glance.call("GET", "/info/stores").json()["stores"]
    assert [(store["id"], store.get("default")) for store in stores] == \
        [("fast", "true"), ("slow", None)]
    assert all(store["description"] for store in stores)
    assert list(lab.glance_keystone_stores) == ["fast", "slow"]
    assert all(Path(directory).is_dir() for directory in lab.glance_keystone_stores.values())
    assert Path(lab.glance_keystone_staging).is_dir()
    assert lab.direct_upload is True


def test_the_keystone_less_glance_keeps_one_store_and_no_import(lab: labctl.LabState) -> None:
    methods = requests.get(f"{lab.glance_url}/v2/info/import", timeout=60).json()
    assert methods["import-methods"]["value"] == []
    stores = requests.get(f"{lab.glance_url}/v2/info/stores", timeout=60).json()["stores"]
    assert stores == [{"id": "file", "default": "true"}]


def test_glance_direct_imports_into_the_default_store(lab: labctl.LabState,
                                                      glance: Glance) -> None:
    image_id = glance.create()
    glance.stage(image_id, DISK)
    staged = glance.image(image_id)
    assert (staged["status"], staged["size"]) == ("uploading", len(DISK))
    assert (Path(lab.glance_keystone_staging) / image_id).read_bytes() == DISK
    glance.start_import(image_id, {"name": "glance-direct"})
    image = glance.finished(image_id)
    assert (image["status"], image["stores"], image["os_glance_importing_to_stores"],
            image["os_glance_failed_import"]) == ("active", "fast", "", "")
    assert glance.data(image_id) == DISK
    assert in_stores(lab.glance_keystone_stores, image_id) == ["fast"]
    assert not (Path(lab.glance_keystone_staging) / image_id).exists()
    [task] = glance.tasks(image_id)
    assert (task["type"], task["status"], task["input"]["backend"]) == \
        ("api_image_import", "success", ["fast"])


@pytest.mark.parametrize(("request_fields", "stores"), [
    ({"stores": ["slow"]}, ["slow"]),
    ({"all_stores": True}, ["fast", "slow"]),
])
def test_glance_direct_imports_into_the_stores_asked(lab: labctl.LabState, glance: Glance,
                                                     request_fields: dict,
                                                     stores: list[str]) -> None:
    image_id = glance.create()
    glance.stage(image_id, DISK)
    glance.start_import(image_id, {"name": "glance-direct"}, **request_fields)
    image = glance.finished(image_id)
    assert (image["status"], image["stores"]) == ("active", ",".join(stores))
    assert in_stores(lab.glance_keystone_stores, image_id) == stores
    assert glance.data(image_id) == DISK


def test_web_download_from_a_loopback_server(lab: labctl.LabState, glance: Glance,
                                             server) -> None:
    source = server(hold=True)
    image_id = glance.create()
    glance.start_import(image_id, {"name": "web-download", "uri": f"{source.url}/disk.vmdk"},
                        all_stores=True)
    assert source.asked.wait(IMPORT_BOUND), "Glance never asked the test's server"
    running = glance.image(image_id)  # the server holds the rest of the data
    assert (running["status"], running["os_glance_importing_to_stores"],
            running["os_glance_failed_import"]) == ("importing", "fast,slow", "")
    assert "stores" not in running
    assert running["os_glance_import_task"]
    [task] = glance.tasks(image_id)
    assert (task["id"], task["status"]) == (running["os_glance_import_task"], "processing")
    source.released.set()
    image = glance.finished(image_id)
    assert (image["status"], image["stores"], image["os_glance_importing_to_stores"],
            image["os_glance_failed_import"]) == ("active", "fast,slow", "", "")
    assert glance.data(image_id) == DISK
    assert in_stores(lab.glance_keystone_stores, image_id) == ["fast", "slow"]
    [task] = glance.tasks(image_id)
    assert task["status"] == "success"


def test_web_download_of_a_missing_file_fails_and_requeues(lab: labctl.LabState,
                                                          glance: Glance, server) -> None:
    source = server()
    image_id = glance.create()
    glance.start_import(image_id, {"name": "web-download", "uri": f"{source.url}/missing"})
    image = glance.finished(image_id)
    assert (image["status"], image["os_glance_importing_to_stores"],
            image["os_glance_failed_import"]) == ("queued", "", "fast")
    assert "stores" not in image
    [task] = glance.tasks(image_id)
    assert (task["status"], task["message"]) == ("failure", "Task failed due to Internal Error")
    assert in_stores(lab.glance_keystone_stores, image_id) == []


@pytest.mark.parametrize("uri", ["http://192.0.2.1:8080/disk.vmdk",  # not loopback
                                 "ftp://127.0.0.1/disk.vmdk"])
def test_web_download_refuses_what_the_lab_does_not_allow(glance: Glance, uri: str) -> None:
    image_id = glance.create()
    answer = glance.call("POST", f"/images/{image_id}/import",
                         json={"method": {"name": "web-download", "uri": uri}})
    assert answer.status_code == 400
    assert f"URI for web-download does not pass filtering: {uri}" in answer.text
    image = glance.image(image_id)
    assert image["status"] == "queued"
    assert "os_glance_import_task" not in image


def test_direct_upload_into_a_named_store(lab: labctl.LabState, glance: Glance) -> None:
    image_id = glance.create()
    answer = glance.call("PUT", f"/images/{image_id}/file", data=DISK,
                         headers={**OCTETS, "X-Image-Meta-Store": "slow"})
    assert answer.status_code == 204, answer.text
    image = glance.image(image_id)
    assert (image["status"], image["stores"]) == ("active", "slow")
    assert in_stores(lab.glance_keystone_stores, image_id) == ["slow"]
    assert glance.data(image_id) == DISK


def test_direct_upload_into_an_unknown_store_is_refused(lab: labctl.LabState,
                                                        glance: Glance) -> None:
    image_id = glance.create()
    answer = glance.call("PUT", f"/images/{image_id}/file", data=DISK,
                         headers={**OCTETS, "X-Image-Meta-Store": "nowhere"})
    assert answer.status_code == 400
    assert "Store for identifier nowhere not found" in answer.text
    assert glance.image(image_id)["status"] == "queued"


def test_copy_image_is_for_admins(lab: labctl.LabState, glance: Glance) -> None:
    image_id = glance.create()
    glance.stage(image_id, DISK)
    glance.start_import(image_id, {"name": "glance-direct"})
    assert glance.finished(image_id)["stores"] == "fast"
    copy = {"method": {"name": "copy-image"}, "stores": ["slow"]}
    refused = glance.call("POST", f"/images/{image_id}/import", json=copy)
    assert refused.status_code == 403, refused.text
    answer = glance.call("POST", f"/images/{image_id}/import", json=copy, user="admin")
    assert answer.status_code == 202, answer.text
    image = glance.finished(image_id)
    assert (image["status"], image["stores"]) == ("active", "fast,slow")
    assert in_stores(lab.glance_keystone_stores, image_id) == ["fast", "slow"]


def test_a_staged_file_that_is_no_vmdk_fails_its_import(lab: labctl.LabState,
                                                        glance: Glance) -> None:
    """Glance 33 writes the data into the store while its format inspector reads it, then
    refuses it (safety checks). The image stays importing, the store is named failed, the
    staged data stays until the image is deleted, and the store keeps the refused data
    (no location points at it): the test removes it."""
    image_id = glance.create()
    corrupted = b"KDMV" + bytes(range(256)) * 256  # a sparse extent's magic, then garbage
    glance.stage(image_id, corrupted)
    glance.start_import(image_id, {"name": "glance-direct"})
    image = glance.finished(image_id)
    assert (image["status"], image["os_glance_importing_to_stores"],
            image["os_glance_failed_import"], image["size"]) == \
        ("importing", "", "fast", len(corrupted))
    assert "stores" not in image
    [task] = glance.tasks(image_id)
    assert (task["status"], task["message"], task["result"]) == \
        ("failure", "Task failed due to Internal Error", None)
    assert glance.call("GET", f"/images/{image_id}/file").status_code == 204  # no data
    assert (Path(lab.glance_keystone_staging) / image_id).exists()
    orphan = Path(lab.glance_keystone_stores["fast"]) / image_id
    try:
        assert orphan.read_bytes() == corrupted
        answer = glance.call("DELETE", f"/images/{image_id}")
        assert answer.status_code == 204, answer.text
        assert not (Path(lab.glance_keystone_staging) / image_id).exists()
        assert orphan.exists()  # Glance leaves it behind
    finally:
        orphan.unlink(missing_ok=True)


def test_import_only_glance_refuses_the_direct_upload(import_only_lab: labctl.LabState,
                                                      import_only: Glance) -> None:
    image_id = import_only.create()
    answer = import_only.call("PUT", f"/images/{image_id}/file", data=DISK, headers=OCTETS)
    assert answer.status_code == 403
    assert "You are not authorized to complete upload_image action." in answer.text
    as_json = import_only.call("PUT", f"/images/{image_id}/file", data=DISK,
                               headers={**OCTETS, "Accept": "application/json"})
    assert as_json.status_code == 403
    body = as_json.json()
    assert (body["code"], body["title"]) == ("403 Forbidden", "Forbidden")
    assert body["message"].startswith("You are not authorized to complete upload_image action.")
    image = import_only.image(image_id)
    assert image["status"] == "queued"
    assert in_stores(import_only_lab.glance_import_only_stores, image_id) == []


def test_import_only_glance_stages_and_imports(import_only_lab: labctl.LabState,
                                               import_only: Glance) -> None:
    image_id = import_only.create()
    import_only.stage(image_id, DISK)
    import_only.start_import(image_id, {"name": "glance-direct"}, stores=["slow"])
    image = import_only.finished(image_id)
    assert (image["status"], image["stores"]) == ("active", "slow")
    assert import_only.data(image_id) == DISK
    assert in_stores(import_only_lab.glance_import_only_stores, image_id) == ["slow"]


def test_import_only_glance_lets_admins_upload(import_only: Glance) -> None:
    image_id = import_only.create()
    answer = import_only.call("PUT", f"/images/{image_id}/file", data=DISK, headers=OCTETS,
                              user="admin")
    assert answer.status_code == 204, answer.text
    assert import_only.image(image_id)["status"] == "active"


def test_import_only_clouds_name_that_glance(import_only_lab: labctl.LabState) -> None:
    from openstack import config as os_config

    loader = os_config.OpenStackConfig(config_files=[import_only_lab.clouds_file],
                                       secure_files=[import_only_lab.secure_file])
    for cloud, user in ((import_only_lab.cloud_import_only, "operator"),
                        (import_only_lab.cloud_import_only_admin, "admin")):
        config = loader.get_one(cloud)
        assert config.get_endpoint("image") == import_only_lab.glance_import_only_url
        session = config.get_session()
        assert session.auth.get_access(session).username == user
    lab_clouds = json.loads(Path(import_only_lab.clouds_file).read_text())["clouds"]
    assert import_only_lab.cloud_operator in lab_clouds  # the lab's clouds are kept
    assert import_only_lab.env()["OS_CLIENT_CONFIG_FILE"] == import_only_lab.clouds_file


def test_nothing_is_left_queued_or_importing(lab: labctl.LabState,
                                             tokens: dict[str, str]) -> None:
    """Runs last in this file: every image the tests made is gone."""
    answer = requests.get(f"{lab.glance_keystone_url}/v2/images?visibility=all&limit=1000",
                          headers={"X-Auth-Token": tokens["admin"]}, timeout=60)
    left = [(image["name"], image["status"]) for image in answer.json()["images"]
            if image["name"].startswith("import-lab-")]
    assert left == []
