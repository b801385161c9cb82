"""``image tag`` and ``image list``: the VMware properties of images already in Glance."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vmwctl.errors import OperationFailed, UsageError, VmwctlError
from vmwctl.images import properties as props
from vmwctl.images.glance import ImageService, properties_of
from vmwctl.images.inspector import HEAD_BYTES, inspect_source
from vmwctl.images.ova import descriptor_first
from vmwctl.images.tarstream import BLOCK

VERIFY_WORKERS = 4


# ------------------------------------------------------------------ tag

@dataclass
class TagChange:
    """``image tag``: what changed (or would change) on one image."""

    image_id: str
    name: str
    set: dict[str, str]
    removed: list[str]
    also_set: dict[str, str]  # newer-name properties changed so that no pair disagrees
    changed: bool  # the image was changed (never with --dry-run)
    properties: dict[str, Any] = field(default_factory=dict)  # the VMware properties after
    dry_run: bool = False

    @property
    def pending(self) -> bool:
        """Something to set or remove (what a --dry-run would change)."""
        return bool(self.set or self.removed)


def plan_tag(image: Mapping[str, Any], updates: Mapping[str, str],
             unset: list[str]) -> TagChange:
    """Validate the change against Nova's reading of the result; change nothing."""
    current = properties_of(image)
    for key in unset:
        if key not in props.VMWARE_PROPERTIES:
            raise UsageError(f"--unset {key}: vmwctl manages only "
                             f"{', '.join(props.VMWARE_PROPERTIES)}")
    extra = props.agreeing_updates(current, updates)
    to_set = {k: v for k, v in {**updates, **extra}.items()
              if v is not None and str(current.get(k)) != v}
    to_remove = sorted({k for k in unset if k in current} |
                       {k for k, v in extra.items() if v is None and k in current})
    after = {k: v for k, v in current.items() if k not in to_remove}
    after.update(to_set)
    before_view = props.nova_view(current, disk_format=image.get("disk_format"),
                                  container_format=image.get("container_format"))
    after_view = props.nova_view(after, disk_format=image.get("disk_format"),
                                 container_format=image.get("container_format"))
    new_problems = [p for p in after_view.problems if p not in before_view.problems]
    if new_problems:
        raise UsageError(f"refusing: after this change {new_problems[0]}")
    return TagChange(image_id=image["id"], name=image.get("name") or "", set=to_set,
                     removed=to_remove, also_set={k: v for k, v in extra.items()
                                                  if v is not None and k in to_set},
                     changed=False,
                     properties={k: after[k] for k in props.VMWARE_PROPERTIES if k in after})


def apply_tag(service: ImageService, image: Mapping[str, Any], change: TagChange) -> TagChange:
    if change.pending:
        record = service.update(change.image_id, change.set, change.removed,
                                properties_of(image))
        after = properties_of(record)
        change.properties = {k: after[k] for k in props.VMWARE_PROPERTIES if k in after}
        change.changed = True
    return change


# ------------------------------------------------------------------ list

@dataclass
class ImageEntry:
    id: str
    name: str
    status: str
    disk_format: str | None
    container_format: str | None
    size: int | None
    properties: dict[str, Any]
    disk_type: str
    adapter_type: str | None
    os_type: str
    linked_clone: bool | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    file: dict[str, Any] | None = None  # with --verify: what the data itself is
    owner: str | None = None  # the project id that owns the image
    visibility: str | None = None
    stores: list[str] = field(default_factory=list)  # where a multi-store Glance keeps it


@dataclass
class ImageListing:
    cloud: str
    mixed_cloud: bool
    verified: bool
    images: list[ImageEntry]
    project: str | None = None  # the caller's project (name, else id); None without Keystone
    project_id: str | None = None
    all_projects: bool = False

    @property
    def foreign(self) -> bool:
        """Some image belongs to another project than the caller's."""
        return self.project_id is not None and any(
            image.owner not in (None, self.project_id) for image in self.images)

    @property
    def multi_store(self) -> bool:
        """Some image names its stores (Glance with enabled_backends)."""
        return any(image.stores for image in self.images)

    @property
    def broken(self) -> int:
        return sum(1 for image in self.images if image.problems)


def list_vmware_images(service: ImageService, *, verify: bool = False,
                       all_projects: bool = False) -> ImageListing:
    """Images with disk_format=vmdk or hypervisor_type=vmware, judged as Nova would: those
    the caller's project sees, or with ``all_projects`` (an admin's) every project's."""
    scope = service.scope()
    if all_projects:
        if scope is not None and "admin" not in scope.roles:
            raise OperationFailed(
                f"your role in project {scope.project} ({', '.join(scope.roles) or 'none'}) "
                "cannot list other projects' images: --all-projects needs the admin role")
        everything = service.list(visibility="all")
    else:
        everything = service.list()
    mixed = any(image.get("disk_format") not in (None, "vmdk", "iso")
                or image.get("hypervisor_type") not in (None, "vmware")
                for image in everything)
    selected = [image for image in everything
                if image.get("disk_format") == "vmdk" or image.get("hypervisor_type") == "vmware"]
    entries = [_entry(image, mixed) for image in selected]
    if verify:
        by_id = {image["id"]: image for image in selected}
        candidates = [e for e in entries if e.status == "active"
                      and e.disk_format in ("vmdk", "iso") and e.size]
        with ThreadPoolExecutor(max_workers=VERIFY_WORKERS) as pool:
            for entry, result in zip(candidates, pool.map(
                    lambda e: _read_back(service, by_id[e.id]), candidates), strict=True):
                _compare(entry, result)
    entries.sort(key=lambda e: (e.name.lower(), e.id))
    return ImageListing(cloud=service.cloud, mixed_cloud=mixed, verified=verify, images=entries,
                        project=scope.project if scope else None,
                        project_id=scope.project_id if scope else None,
                        all_projects=all_projects)


def _entry(image: Mapping[str, Any], mixed: bool) -> ImageEntry:
    properties = properties_of(image)
    view = props.nova_view(properties, disk_format=image.get("disk_format"),
                           container_format=image.get("container_format"))
    entry = ImageEntry(id=image["id"], name=image.get("name") or "", status=image.get("status"),
                       disk_format=image.get("disk_format"),
                       container_format=image.get("container_format"), size=image.get("size"),
                       properties={k: properties[k] for k in props.VMWARE_PROPERTIES
                                   if k in properties},
                       disk_type=view.disk_type, adapter_type=view.adapter_type,
                       os_type=view.os_type, linked_clone=view.linked_clone,
                       problems=list(view.problems), warnings=list(view.warnings),
                       owner=image.get("owner"), visibility=image.get("visibility"),
                       stores=[name for name in str(image.get("stores") or "").split(",")
                               if name])
    if entry.disk_format == "iso":
        _iso_findings(entry, view)
    else:
        if view.source["disk_type"] == "default":
            entry.warnings.append("no vmware_disktype: Nova assumes preallocated (flat) data, "
                                  "and a sparse or streamOptimized file will not boot")
        if view.source["adapter_type"] == "default":
            entry.warnings.append("no vmware_adaptertype: Nova uses lsiLogic, and an IDE disk "
                                  "will not boot on it")
    if view.hypervisor_type is None and mixed:
        entry.problems.append("no hypervisor_type in a mixed cloud: the scheduler may place it "
                              "on a non-VMware host; set hypervisor_type=vmware")
    elif view.hypervisor_type not in (None, "vmware"):
        entry.problems.append(f"hypervisor_type={view.hypervisor_type}: the scheduler keeps it "
                              "away from the VMware driver")
    return entry


def _iso_findings(entry: ImageEntry, view: props.NovaView) -> None:
    """An ISO boots from a CD-ROM: its disk and adapter types only shape the blank root disk,
    and a default is no finding; two disk types break its fetch or that disk."""
    problem = props.iso_disk_type_problem(view)
    if problem:
        entry.problems.append(problem)


@dataclass
class _OvaHead:
    """The first header of an OVA read back: the descriptor's name, or what is wrong."""

    descriptor: str | None
    problem: str | None


def _compare_ova(entry: ImageEntry, head: _OvaHead) -> None:
    """An OVA's first member must be its descriptor; the disk inside is not read back."""
    entry.file = {"format": "ova", "descriptor": head.descriptor}
    if head.problem:
        entry.problems.append(f"the data is not an OVA: {head.problem}")


def _read_back(service: ImageService, image: Mapping[str, Any]) -> Any:
    """Inspect the head and tail of the stored data with ranged reads (not a download)."""
    if image.get("container_format") == "ova":
        try:
            return _OvaHead(*descriptor_first(service.read_range(image["id"], 0, BLOCK)))
        except VmwctlError as exc:
            return exc
    size = int(image["size"])
    cache: dict[tuple[int, int], bytes] = {}

    def read(offset: int, length: int) -> bytes:
        key = (offset, length)
        if key not in cache:
            cache[key] = service.read_range(image["id"], offset, length)
        return cache[key]

    try:
        read(0, min(size, HEAD_BYTES))
        return inspect_source(f"glance:{image['id']}", size, read)
    except VmwctlError as exc:
        return exc


def _compare(entry: ImageEntry, result: Any) -> None:
    if isinstance(result, VmwctlError):
        entry.warnings.append(f"could not read the data back: {result.message}")
        return
    if isinstance(result, _OvaHead):
        _compare_ova(entry, result)
        return
    entry.file = {"format": result.format, "create_type": result.create_type,
                  "vmware_disktype": result.vmware_disktype,
                  "descriptor_adapter_type": result.descriptor_adapter_type,
                  "safe": result.safe}
    if result.not_a_disk is not None:
        entry.problems.append(f"the data is not a disk image: {result.not_a_disk.reason}")
        return
    if result.format == "iso" or entry.disk_format == "iso":
        _compare_iso(entry, result)
        return
    if result.format == "vmdk" and not result.safe:
        entry.problems.append(f"the data is not a safe VMDK: {result.problems[0]}")
        return
    if not props.disktype_matches_file(result.format, result.vmware_disktype, entry.disk_type):
        what = "raw (flat) data" if result.format == "raw" else \
            f"{result.create_type or result.format}"
        entry.problems.append(f"the data is {what} but Nova will treat it as {entry.disk_type}")
    if not props.adapter_matches_descriptor(result.descriptor_adapter_type, entry.adapter_type):
        entry.problems.append(f"the descriptor says {result.descriptor_adapter_type!r} but Nova "
                              f"will attach the disk to {entry.adapter_type}: an IDE disk "
                              "cannot boot on SCSI, nor a SCSI disk on IDE")


def _compare_iso(entry: ImageEntry, result: Any) -> None:
    """disk_format=iso holds an ISO 9660 image, and an ISO 9660 image has disk_format=iso."""
    if entry.disk_format != "iso":
        entry.problems.append(f"the data is an ISO 9660 image but disk_format is "
                              f"{entry.disk_format}: Nova would attach it as a disk, not a "
                              "CD-ROM; upload it again with disk_format=iso")
    elif result.format != "iso":
        what = "raw data" if result.format == "raw" else f"a {result.format} image"
        entry.problems.append(f"disk_format is iso but the data is {what}, not an ISO 9660 "
                              "image (no volume descriptor at sector 16)")
    elif not result.acceptable:
        entry.problems.append(f"the data is not a readable ISO 9660 image: {result.problems[0]}")
