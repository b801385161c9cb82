"""The audit's findings, judged from plain data: the inventory snapshot, the datastores'
folder trees, which VM uses which folder, and the lists of servers and images.

Nothing here talks to vCenter or OpenStack (``vmwctl.audit.run`` reads them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vmwctl.audit import KINDS
from vmwctl.cache.layout import DatastoreCache, Entry, is_image_id
from vmwctl.cache.leftovers import IMAGE_VM_PREFIX
from vmwctl.nova.owners import NOVA_EXTENSION, vm_owner
from vmwctl.vsphere.model import Cluster, Datastore, Inventory, VirtualMachine

# A server whose VM may rightly be missing: being built, or shelved and offloaded.
WITHOUT_VM = {"BUILD", "SHELVED_OFFLOADED"}
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Nova names a VM <uuid> while it spawns, then "<display name[:41]> (<uuid>)".
_NOVA_NAME = re.compile(rf"(?:.{{0,41}} \(({_UUID})\)|({_UUID}))", re.IGNORECASE)


@dataclass
class Server:
    """An instance as the compute API (or an exported list) gives it."""

    id: str
    name: str
    status: str | None = None
    node: str | None = None  # its compute node, when known


@dataclass
class Finding:
    kind: str
    subject: str  # the VM's name, the folder's path, the instance's id
    detail: str
    remedy: str
    objects: list[str] = field(default_factory=list)
    instance: str | None = None  # the instance UUID concerned
    datastore: str | None = None
    size: int | None = None  # bytes
    since: dt.datetime | None = None  # in that state since (a folder's newest change)
    age_seconds: int | None = None
    vm: str | None = None  # the VM's moid


@dataclass
class AuditReport:
    vcenter: str
    cluster: str
    node: str
    servers_from: str
    images_from: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per kind, every kind named
    bytes: dict[str, int] = field(default_factory=dict)  # per kind: the findings' sizes

    def add(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.counts = {kind: sum(1 for f in findings if f.kind == kind) for kind in KINDS}
        self.bytes = {kind: sum(f.size or 0 for f in findings if f.kind == kind)
                      for kind in KINDS}


def instance_of(vm: VirtualMachine) -> str | None:
    """The instance UUID a VM claims: ``nvp.vm-uuid``, else the UUID in Nova's name for it."""
    if vm.nova_uuid:
        return vm.nova_uuid.lower()
    match = _NOVA_NAME.fullmatch(vm.name or "")
    return (match.group(1) or match.group(2)).lower() if match else None


def is_novas(vm: VirtualMachine) -> bool:
    """Nova's by its marks (nvp.vm-uuid, managedBy) or by the name Nova gives."""
    return vm_owner(vm) == "nova" or (vm.managed_by in (None, NOVA_EXTENSION)
                                      and vm.vmwctl_marker is None
                                      and _NOVA_NAME.fullmatch(vm.name or "") is not None)


def orphan_mark(vm: VirtualMachine) -> dict[str, Any] | None:
    """The mark ``audit clean`` left on an orphaned VM ({"since", "power"}), if valid."""
    if not vm.orphan_mark:
        return None
    try:
        mark = json.loads(vm.orphan_mark)
        since = dt.datetime.fromisoformat(mark["since"])
    except (ValueError, KeyError, TypeError):
        return None
    return {**mark, "since": since if since.tzinfo else since.replace(tzinfo=dt.UTC)}


def is_shadow(vm: VirtualMachine) -> bool:
    return (vm.name or "").startswith(IMAGE_VM_PREFIX)


def node_name(cluster: Cluster, inventory: Inventory) -> str:
    """Nova's VMware driver's compute node: ``<cluster moid>.<vCenter instanceUuid>``."""
    return f"{cluster.moid}.{inventory.endpoint.instance_uuid}"


def cluster_vms(inventory: Inventory, cluster: Cluster,
                datastores: Iterable[Datastore]) -> list[VirtualMachine]:
    """The VMs on the cluster's hosts or on the datastores Nova uses (templates apart)."""
    hosts = set(cluster.hosts)
    stores = {ds.moid for ds in datastores}
    return [vm for vm in inventory.vms.values()
            if not vm.template and (vm.host in hosts or stores.intersection(vm.datastores))]


def _age(now: dt.datetime, since: dt.datetime | None) -> int | None:
    return int((now - since).total_seconds()) if since is not None else None


def _tree_size(tree: Mapping[str, list[Entry]], folder: str) -> tuple[int, dt.datetime | None]:
    """The bytes in a folder and its subfolders, and the newest change among them."""
    size, newest = 0, None
    for path, entries in tree.items():
        if path != folder and not path.startswith(folder + "/"):
            continue
        for entry in entries:
            if not entry.folder:
                size += entry.size
            if entry.modified is not None and (newest is None or entry.modified > newest):
                newest = entry.modified
    return size, newest


def judge(inventory: Inventory, cluster: Cluster, datastores: list[Datastore], *,
          trees: Mapping[str, Mapping[str, list[Entry]]], caches: list[DatastoreCache],
          users: Mapping[str, list[str]], servers: list[Server] | None,
          servers_by_node: bool, deleted_images: set[str] | None,
          now: dt.datetime) -> list[Finding]:
    """Every finding on the cluster and the datastores Nova uses.

    ``servers``: the instances OpenStack knows (None: not read, no VM judged
    against them); Nova's VMs are judged on the cluster's hosts only (as Nova
    lists its instances: a datastore may be shared with other nodes);
    ``servers_by_node``: they are this node's only, so one without a VM is lost.
    ``deleted_images``: the cached image ids Glance no longer has (None: not
    judged).
    """
    findings: list[Finding] = []
    vms = cluster_vms(inventory, cluster, datastores)
    known = {server.id.lower(): server for server in servers or []}
    claims: dict[str, list[VirtualMachine]] = {}
    hosts = set(cluster.hosts)
    for vm in vms:
        if is_shadow(vm):
            continue
        if is_novas(vm):
            if vm.host not in hosts:
                continue  # another node's instance on a shared datastore
            instance = instance_of(vm)
            if instance is not None:
                claims.setdefault(instance, []).append(vm)
            if servers is not None and (instance is None or instance not in known):
                mark = orphan_mark(vm)
                since = mark["since"] if mark else None
                findings.append(Finding(
                    "orphan-vm", vm.name, f"VM {vm.name!r} is Nova's (instance "
                    f"{instance or 'unknown'}), and the compute API knows no such instance",
                    "'vmwctl audit clean orphan-vm' powers it off, then deletes it on a later "
                    "run", objects=[vm.name], instance=instance, vm=vm.moid, since=since,
                    age_seconds=_age(now, since)))
        elif vm_owner(vm) in ("other", "vmwctl"):
            spawned = vm_owner(vm) == "vmwctl"
            findings.append(Finding(
                "foreign-vm", vm.name, f"VM {vm.name!r} "
                f"{'was left by vmwctl vm spawn' if spawned else 'was not created by Nova'}: "
                "OpenStack counts the capacity it uses as free",
                "delete it with 'vmwctl vm delete'" if spawned else
                "move it off the cluster and its datastores, as the guide says",
                objects=[vm.name], vm=vm.moid))
    for instance, claimants in sorted(claims.items()):
        if len(claimants) > 1:
            names = sorted(vm.name for vm in claimants)
            findings.append(Finding(
                "duplicate-vm", instance, f"{len(names)} VMs claim instance {instance}: "
                f"{', '.join(names)}", "keep the VM whose disks the instance uses; remove "
                "the others by hand after checking them", objects=names, instance=instance))
    if servers is not None and servers_by_node:
        for server in sorted(known.values(), key=lambda s: s.id):
            if server.id.lower() not in claims and (server.status or "").upper() \
                    not in WITHOUT_VM:
                findings.append(Finding(
                    "lost-instance", server.id, f"instance {server.id} ({server.name!r}, "
                    f"{server.status or 'status unknown'}) has no VM in the cluster",
                    "rebuild or delete the instance in OpenStack", objects=[server.id],
                    instance=server.id.lower()))
    shadow_folders = {}
    for ds in datastores:
        tree = trees.get(ds.name, {})
        for entry in tree.get("", []):
            if not entry.folder:
                continue
            path = f"[{ds.name}] {entry.name}"
            if entry.name.startswith(IMAGE_VM_PREFIX):
                shadow_folders[entry.name] = (ds, path, *_tree_size(tree, entry.name))
                continue
            if not is_image_id(entry.name) or users.get(path):
                continue
            if entry.name.lower() in known:
                continue  # the folder of a known instance: its finding is lost-instance
            size, newest = _tree_size(tree, entry.name)
            newest = newest or entry.modified
            findings.append(Finding(
                "orphan-folder", path, f"{path} is named like an instance and no registered "
                "VM has a file in it (disks left by a failed delete?)",
                "'vmwctl audit clean orphan-folder' deletes it", objects=[path],
                instance=entry.name.lower(), datastore=ds.name, size=size, since=newest,
                age_seconds=_age(now, newest)))
    for vm in vms:
        if not is_shadow(vm):
            continue
        folder = shadow_folders.get(vm.name)
        ds, path, size, newest = folder if folder else (None, None, None, None)
        findings.append(Finding(
            "shadow-vm", vm.name, f"the shadow VM {vm.name!r} of an image import is still "
            "registered: Nova unregisters it once the image is cached, so the import failed",
            "'vmwctl audit clean shadow-vm' unregisters it and deletes its folder",
            objects=[vm.name, *([path] if path else [])], datastore=ds.name if ds else None,
            size=size, since=newest, age_seconds=_age(now, newest), vm=vm.moid))
    if deleted_images is not None:
        for cache in caches:
            for folder in cache.folders:
                for image in folder.images:
                    if image.image_id not in deleted_images:
                        continue
                    findings.append(Finding(
                        "deleted-image", image.path, f"image {image.image_id} is cached in "
                        f"{folder.path} and the image service no longer has it",
                        "'vmwctl audit clean deleted-image' deletes it (or 'vmwctl cache "
                        "evict')", objects=[image.path], datastore=cache.datastore,
                        size=image.size, since=image.modified,
                        age_seconds=_age(now, image.modified)))
    order = {kind: index for index, kind in enumerate(KINDS)}
    findings.sort(key=lambda f: (order[f.kind], f.subject))
    return findings
