"""A Keystone whose tokens live 30 s, for tests of transfers that outlive a token.

It is a second Keystone from a fresh copy of the lab's template: the same fernet keys,
users and application credential as the lab's Keystone, so that the lab's
glance-keystone (whose keystonemiddleware validates tokens against the lab's Keystone)
accepts its tokens, and refuses them once their embedded expiry has passed. Its catalog
names itself for identity and, for the image service, whatever a test puts in front of
glance-keystone (a proxy that slows or buffers the transfer).
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import labctl

SHORT_EXPIRATION = 30  # seconds
OPERATOR = "short-operator"  # the clouds.yaml entries of the short-token Keystone
APP_CREDENTIAL = "short-app-credential"


@dataclass
class ShortTokens:
    """The short-token Keystone, its clouds.yaml and secure.yaml (for OS_CLIENT_CONFIG_FILE
    and OS_CLIENT_SECURE_FILE), and the lab it shares its users with."""
    lab: labctl.LabState
    service: labctl.Service
    root: Path
    clouds_file: Path
    secure_file: Path
    expiration: int

    @property
    def url(self) -> str:
        return self.service.url

    def point_image(self, url: str) -> None:
        """The catalog's image endpoints: ``url`` (a proxy in front of glance-keystone)."""
        labctl.point_catalog(self.url, labctl._read_secret(
            self.root / f"{labctl.KEYSTONE_ADMIN}.password"), url)

    def token(self, user: str = "operator", project: str = "operators") -> str:
        """A token of ``user`` from this Keystone (it lives ``expiration`` seconds)."""
        return labctl.keystone_token(self.url, user, self.lab.keystone_password(user), project)

    def env(self) -> dict[str, str]:
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_file),
                "OS_CLIENT_SECURE_FILE": str(self.secure_file)}

    def close(self) -> None:
        labctl.stop_process(self.service.pid)


def start_short_keystone(lab: labctl.LabState, directory: Path, *,
                         expiration: int = SHORT_EXPIRATION,
                         tie_to_parent: bool = True) -> ShortTokens:
    """Start the short-token Keystone in ``directory`` (its catalog's image endpoints still
    at glance-keystone itself: point_image changes them) and write its clouds: the
    operator's password (OPERATOR) and application credential (APP_CREDENTIAL)."""
    root = labctl.prepare_keystone(directory / "keystone-short", expiration=expiration)
    service = labctl.start_keystone(root, name="keystone-short", tie_to_parent=tie_to_parent)
    try:
        labctl.point_catalog(service.url, labctl._read_secret(
            root / f"{labctl.KEYSTONE_ADMIN}.password"), lab.glance_keystone_url)
        # keystone_clouds writes the lab's entries; here they name this Keystone's auth_url
        clouds, secure = labctl.keystone_clouds(dataclasses.replace(lab,
                                                                    keystone_url=service.url))
        chosen = {OPERATOR: labctl.OPERATOR_CLOUD,
                  APP_CREDENTIAL: labctl.APP_CREDENTIAL_CLOUD}
        clouds_file = directory / "clouds.yaml"
        clouds_file.write_text(json.dumps(
            {"clouds": {name: clouds[lab_name] for name, lab_name in chosen.items()}},
            indent=2) + "\n")
        secure_file = directory / "secure.yaml"
        labctl._write_secret(secure_file, json.dumps(
            {"clouds": {name: secure[lab_name] for name, lab_name in chosen.items()}}))
    except BaseException:
        labctl.stop_process(service.pid)
        raise
    return ShortTokens(lab, service, root, clouds_file, secure_file, expiration)


# ------------------------------------------------------------------ Glance as the operator

def operator_token(lab: labctl.LabState) -> str:
    """A token of the operator from the lab's own Keystone (an hour's life)."""
    return labctl.keystone_token(lab.keystone_url, "operator",
                                 lab.keystone_password("operator"), "operators")


def glance_status(glance_url: str, token: str, path: str = "/v2/images?limit=1") -> int:
    """The status Glance answers a GET of ``path`` with ``token``."""
    request = urllib.request.Request(f"{glance_url}{path}", headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def glance_call(lab: labctl.LabState, token: str, method: str, path: str,
                body: Any = None, data: bytes | None = None) -> Any:
    """A call to glance-keystone (directly, no proxy) with ``token``: its JSON answer."""
    return labctl._http_json(method, f"{lab.glance_keystone_url}/v2{path}", token=token,
                             body=body, data=data)[0]


def project_images(lab: labctl.LabState, token: str) -> list[dict[str, Any]]:
    """Every image the operator's project owns, whatever its status (pages followed)."""
    project_id = token_project(lab, token)
    found: list[dict[str, Any]] = []
    path: str | None = f"/images?owner={project_id}&limit=200"
    while path:
        page = glance_call(lab, token, "GET", path)
        found += page["images"]
        following = page.get("next")
        path = following.removeprefix("/v2") if following else None
    return found


def token_project(lab: labctl.LabState, token: str) -> str:
    """The id of the project ``token`` is scoped to (Keystone's GET /v3/auth/tokens)."""
    request = urllib.request.Request(f"{lab.keystone_url}/v3/auth/tokens", headers={
        "X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]["project"]["id"]


def upload_image(lab: labctl.LabState, token: str, name: str, data: bytes,
                 **properties: str) -> str:
    """An active private VMDK image of ``data`` (directly to glance-keystone); its id."""
    image = glance_call(lab, token, "POST", "/images", {
        "name": name, "disk_format": "vmdk", "container_format": "bare",
        "visibility": "private", **properties})
    glance_call(lab, token, "PUT", f"/images/{image['id']}/file", data=data)
    return image["id"]


def download(lab: labctl.LabState, token: str, image_id: str) -> bytes:
    request = urllib.request.Request(f"{lab.glance_keystone_url}/v2/images/{image_id}/file",
                                     headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()
