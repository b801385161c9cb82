"""What OpenStack knows: servers and images, from its APIs or from exported JSON files.

A file holds what ``openstack server list --all-projects -f json`` (or ``image list``)
prints from a real cloud: a list of objects with at least ``ID`` and ``Name``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vmwctl.audit.findings import Server
from vmwctl.errors import UsageError

# Where a server's compute node may be named in exported JSON (the openstack client's
# long listing, the API's attribute, a plain field).
NODE_FIELDS = ("OS-EXT-SRV-ATTR:hypervisor_hostname", "Hypervisor Hostname", "node", "Node")
GONE = {"deleted", "killed", "pending_delete"}


def _rows(path: str, what: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--{what}-from {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--{what}-from {path}: not JSON ({exc}); give the output of "
                         f"'openstack {what[:-1]} list ... -f json'") from None
    if isinstance(document, dict):  # the API's own shape: {"servers": [...]}
        document = document.get(what, document)
    if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
        raise UsageError(f"--{what}-from {path}: expected a JSON list of objects, as "
                         f"'openstack {what[:-1]} list ... -f json' prints")
    for number, row in enumerate(document, 1):
        if not (row.get("ID") or row.get("id")):
            raise UsageError(f"--{what}-from {path}: entry {number} has no ID")
    return document


def _field(row: dict[str, Any], *names: str) -> Any:
    return next((row[name] for name in names if row.get(name) not in (None, "")), None)


def servers_from_file(path: str, node: str) -> tuple[list[Server], bool]:
    """The servers of the file; the bool: they are this node's only (the file names nodes,
    and those of other nodes were left out)."""
    servers = [Server(id=str(_field(row, "ID", "id")), name=str(_field(row, "Name", "name")
                                                                  or ""),
                      status=_field(row, "Status", "status"), node=_field(row, *NODE_FIELDS))
               for row in _rows(path, "servers")]
    if servers and all(server.node for server in servers):
        return [server for server in servers if server.node == node], True
    return servers, False


def known_images_from_file(path: str) -> tuple[set[str], set[str]]:
    """The image ids of the file, and those of them whose status says they are gone."""
    ids, gone = set(), set()
    for row in _rows(path, "images"):
        image_id = str(_field(row, "ID", "id")).lower()
        ids.add(image_id)
        if str(_field(row, "Status", "status") or "").lower() in GONE:
            gone.add(image_id)
    return ids, gone


def servers_from_api(connection: Any, node: str, cloud: str) -> list[Server]:
    """``GET /servers?all_tenants=1&node=NODE`` (the plain listing: ids and names), every
    page."""
    from vmwctl.nova.compute_api import list_all

    # Nova matches node as an unanchored regular expression: anchored, its dots escaped
    pattern = urllib.parse.quote("^" + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", node) + "$",
                                 safe="")
    rows = list_all(connection, f"/servers?all_tenants=1&node={pattern}", "servers", cloud,
                    instead="--servers-from FILE",
                    admin="to list every project's servers (all_tenants needs the admin role)")
    return [Server(id=row["id"], name=row.get("name") or "", node=node) for row in rows]


def deleted_images_from_api(service: Any, image_ids: Iterable[str]) -> tuple[set[str], list[str]]:
    """Of the cached ``image_ids``, those the image service no longer has (404, or a status
    that says so); notes for what could not be judged."""
    from vmwctl.images.glance import GlanceError

    scope = service.scope()
    admin = scope is None or "admin" in scope.roles  # None: no Keystone, nothing hidden
    deleted, unsure = set(), []
    for image_id in sorted(set(image_ids)):
        try:
            record = service.get(image_id)
        except GlanceError as exc:
            if exc.status != 404:
                raise
            if admin:
                deleted.add(image_id)
            else:
                unsure.append(image_id)
            continue
        if str(record.get("status") or "").lower() in GONE:
            deleted.add(image_id)
    notes = [f"{len(unsure)} cached image(s) are not visible to project {scope.project} "
             f"({', '.join(unsure[:3])}{', ...' if len(unsure) > 3 else ''}): deleted, or "
             "another project's; not judged (an admin's cloud sees every image)"] \
        if unsure and scope else []
    return deleted, notes
