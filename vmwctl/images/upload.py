"""``image upload``: a VMDK into Glance with exactly the properties Nova needs.

The plan (what will be sent, with which properties) is decided from the file
itself and checked before anything is created; the upload streams the file
with constant memory while hashing it, and checks afterwards that Glance holds
the same size and sha512. Whatever goes wrong after the image record exists,
the record is deleted again.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmwctl.common.files import work_directory
from vmwctl.common.hashing import HashBeside
from vmwctl.common.streams import Replayable, coalesced, pieces, prefetched
from vmwctl.errors import AuthError, ConnectError, OperationFailed, UsageError, VmwctlError
from vmwctl.images import properties as props
from vmwctl.images import vmdk
from vmwctl.images.convert import (
    ConversionPlan,
    convert,
    native_stream,
    plan_conversion,
)
from vmwctl.images.glance import GlanceError, ImageService, glance_reason
from vmwctl.images.inspector import (
    GLANCE_FORMAT_MATCH,
    ISO_IS,
    RE_EXPORT,
    ImageReport,
    inspect_file,
    iso_name_mismatch,
)
from vmwctl.images.ova import inspect_ova, is_ova
from vmwctl.images.stream import StreamStats

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# Properties that have their own flag; --property may not set them.
FLAGGED = {"vmware_disktype": "--disktype", "vmware_adaptertype": "--adapter-type",
           "vmware_ostype": "--ostype", "hypervisor_type": "--hypervisor-type",
           "img_linked_clone": "--linked-clone/--no-linked-clone",
           "vmware_linked_clone": "--linked-clone/--no-linked-clone"}
RESERVED = ("name", "id", "disk_format", "container_format", "visibility", "protected",
            "status", "size", "checksum", "owner", "os_hash_algo", "os_hash_value")


METHODS = ("auto", "direct", "import")
URL_METHODS = (*METHODS, "web-download")
# What a direct upload refused by policy may have taken from a stream before Glance's answer
# stopped it: kept to be staged again (sockets' buffers hold a few MiB).
REPLAY_LIMIT = 16 << 20
IMPORT_WAIT = 600.0  # seconds an import may take, plus IMPORT_RATE
IMPORT_RATE = 10_000_000  # bytes per second Glance copies from staging into its stores


@dataclass
class Delivery:
    """How the data reaches Glance: its direct upload, the glance-direct import, or (auto)
    the direct upload and, when a policy refuses it, the import; and into which stores."""

    method: str = "auto"
    store: str | None = None  # one store (the direct upload's X-Image-Meta-Store)
    stores: list[str] = field(default_factory=list)  # several: only the import takes them
    all_stores: bool = False

    @property
    def imports(self) -> bool:
        return self.method in ("import", "web-download") or len(self.stores) > 1 \
            or self.all_stores

    @property
    def import_stores(self) -> list[str] | None:
        return self.stores or ([self.store] if self.store else None)


def check_delivery(service: ImageService, delivery: Delivery) -> None:
    """Refuse (exit 2, nothing created) stores Glance does not have and an import it does not
    offer; reads /v2/info/stores and /v2/info/import once."""
    wanted = list(dict.fromkeys([*([delivery.store] if delivery.store else []),
                                 *delivery.stores]))
    if wanted or delivery.all_stores:
        offered = service.stores()
        if offered is None:
            flag = "--store" if delivery.store else "--stores"
            raise UsageError(f"{flag}: the image service of cloud '{service.cloud}' has a "
                             "single store (no enabled_backends); drop the flag")
        names = [store.get("id") for store in offered]
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise UsageError(f"no store {unknown[0]!r} in the image service of cloud "
                             f"'{service.cloud}'; its stores: {', '.join(map(str, names))}")
    needed = "web-download" if delivery.method == "web-download" else "glance-direct"
    if delivery.imports and needed not in service.import_methods():
        offered_methods = ", ".join(service.import_methods()) or "none"
        why = f"--method {delivery.method}:" if delivery.method != "auto" else \
            "several stores are reached through the import API, and"
        remedy = "drop --method web-download (vmwctl then reads the URL itself)" \
            if needed == "web-download" else "use --method direct or auto" + \
            (" with one --store" if delivery.stores or delivery.all_stores else "")
        raise UsageError(f"{why} the image service of cloud '{service.cloud}' does not offer "
                         f"the {needed} import (its import methods: {offered_methods}); "
                         f"{remedy}")


@dataclass
class UploadRequest:
    path: Path
    name: str
    disktype: str = "auto"
    adapter_type: str = "auto"
    ostype: str | None = None
    linked_clone: bool | None = None
    hypervisor_type: str = "vmware"
    visibility: str | None = None  # Glance's, when None
    extra: dict[str, str] = field(default_factory=dict)
    convert: bool = False
    force: bool = False
    engine: str | None = None  # the conversion's engine (None: native)
    url: str | None = None  # the URL the data comes from (password hidden), path its copy

    @property
    def shown(self) -> str:
        """The source as messages name it: the URL, else the file."""
        return self.url or str(self.path)


@dataclass
class UploadPlan:
    """What will be created: checked in full before Glance is touched."""

    source: str
    file: str  # the file sent: the source, or its conversion
    name: str
    disk_format: str
    container_format: str
    properties: dict[str, str]
    report: ImageReport = field(metadata={"internal": True})
    conversion: ConversionPlan | None = field(default=None, metadata={"internal": True})
    convert_command: str | None = None
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    download: str | None = None  # a URL downloaded first: where to, and why
    delivery: Delivery = field(default_factory=Delivery, metadata={"internal": True})


@dataclass
class UploadResult:
    image: dict[str, Any]
    source: str  # the file given
    file: str  # the file whose bytes were sent: the source, or a pair's flat extent
    bytes_sent: int
    seconds: float
    bytes_per_second: float
    sha512: str
    verified: str
    warnings: list[str]
    checksum: str | None = None  # the published checksum the source's bytes matched
    method: str = "direct"  # how the data went: direct, glance-direct or web-download import
    stores: list[str] = field(default_factory=list)  # where Glance keeps it (multi-store)


def plan_upload(request: UploadRequest) -> UploadPlan:
    """Decide the properties from the file and the flags; refuse what would not boot."""
    if is_ova(request.path):
        return plan_ova_upload(request)
    report = inspect_file(request.path)
    if report.format == "iso" or iso_name_mismatch(report):
        return _plan_iso(request, report)
    return plan_disk(request, report)


def plan_disk(request: UploadRequest, report: ImageReport, *,
              staged_name: str | None = None) -> UploadPlan:
    """The plan for a VMDK or raw data, judged from ``report`` (a file's, or the head of a
    URL's body); the source is named as ``request.shown``."""
    warnings: list[str] = []
    conversion = None
    if report.refusal is not None:
        raise UsageError(f"refusing to upload {request.shown}: {report.refusal.line()}")
    pair = flat_extent(request.path, report) if request.url is None else None
    sent, data = pair if pair is not None else (request.path, report)
    if request.convert and not report.acceptable:
        staged = Path(tempfile.gettempdir()) / (staged_name or f"{request.path.stem}.vmdk")
        # a flat pair's extent is raw already: the writer reads it as it is
        conversion = plan_conversion(sent, staged, disktype="streamOptimized",
                                     adapter_type=_requested_adapter(request, report),
                                     source_report=data, check_destination=False,
                                     engine=request.engine)
        file_disktype, file_adapter = "streamOptimized", conversion.adapter_type
        descriptor_adapter = file_adapter
        kind = "vmdk"
    else:
        if pair is None:
            refuse_unusable(request, report)
        file_disktype, file_adapter = report.vmware_disktype, report.vmware_adaptertype
        descriptor_adapter = report.descriptor_adapter_type
        kind = data.format

    disktype = _disktype(request, kind, file_disktype)
    adapter = _adapter(request, descriptor_adapter, file_adapter, warnings)
    final = {"vmware_disktype": disktype, "vmware_adaptertype": adapter}
    _nova_properties(request, final, warnings, "vmdk")
    return UploadPlan(source=request.shown, file=str(sent), name=request.name,
                      disk_format="vmdk", container_format="bare", properties=final,
                      report=data, conversion=conversion,
                      convert_command=conversion.command if conversion else None,
                      warnings=warnings)


def _nova_properties(request: UploadRequest, final: dict[str, str], warnings: list[str],
                     disk_format: str, *, ostype: str | None = None,
                     container_format: str = "bare") -> props.NovaView:
    """Add the guest OS (--ostype, else ``ostype`` from the file), hypervisor_type,
    img_linked_clone and --property to ``final``; refuse what Nova would not boot or would
    read otherwise than written."""
    if request.ostype or ostype:
        final["vmware_ostype"] = props.os_type(request.ostype or ostype or "")
    else:
        warnings.append("no --ostype: Nova creates the VM with guest OS otherGuest; see "
                        "'vmwctl image ostypes'")
    final["hypervisor_type"] = props.hypervisor_type(request.hypervisor_type)
    if request.linked_clone is not None:
        final["img_linked_clone"] = "true" if request.linked_clone else "false"
    final.update(_extra_properties(request.extra, final))
    if request.visibility is not None:
        final["visibility"] = request.visibility
    view = props.nova_view(final, disk_format=disk_format, container_format=container_format)
    if view.problems:
        raise UsageError(f"these properties would not boot: {view.problems[0]}")
    if view.warnings:
        raise UsageError(f"refusing to write properties that disagree: {view.warnings[0]}")
    return view


def _plan_iso(request: UploadRequest, report: ImageReport) -> UploadPlan:
    """An ISO 9660 image as it is: disk_format=iso, container_format=bare.

    Nova reads no disk or adapter type from the file (it is a CD-ROM); the
    two properties only shape the blank root disk it creates beside the
    CD-ROM (CreateVirtualDisk), so they are written only when given.
    """
    path = request.path
    misnamed = iso_name_mismatch(report)
    if misnamed:
        raise UsageError(f"refusing to upload {path}: {misnamed}; give the ISO image itself")
    if not report.acceptable:
        reason = report.refusal.line() if report.refusal else report.problems[0]
        raise UsageError(f"refusing to upload {path}: {reason}")
    for given, flag, why in ((request.convert, "--convert", "an ISO image is uploaded as it "
                              "is (disk_format=iso)"),
                             (request.linked_clone is not None,
                              "--linked-clone/--no-linked-clone",
                              "Nova ignores img_linked_clone for ISO images (the root disk "
                              "is blank)")):
        if given:
            raise UsageError(f"{flag} does not apply to {path}: {why}; drop the flag")
    final: dict[str, str] = {}
    if request.disktype != "auto":
        final["vmware_disktype"] = props.disk_type(request.disktype)
    if request.adapter_type != "auto":
        final["vmware_adaptertype"] = props.adapter_type(request.adapter_type)
    warnings = [note for note in report.notes if not note.startswith(ISO_IS)]
    problem = props.iso_disk_type_problem(_nova_properties(request, final, warnings, "iso"))
    if problem:
        raise UsageError(f"{problem}; for an ISO the disk type only sets the blank root "
                         "disk's: " + ", ".join(props.FLAT_DISK_TYPES))
    return UploadPlan(source=str(path), file=str(path), name=request.name, disk_format="iso",
                      container_format="bare", properties=final, report=report,
                      warnings=warnings)


def plan_ova_upload(request: UploadRequest) -> UploadPlan:
    """An OVA, sent as it is with container_format=ova: refused before any byte is sent
    unless Nova boots it; the properties come from its OVF and its disk."""
    path = request.path
    if request.convert:
        raise UsageError(f"{path} is an OVA, uploaded as it is (container_format=ova): drop "
                         "--convert")
    report = inspect_ova(path)
    if not report.acceptable:
        raise UsageError(f"refusing to upload {path}: {report.line()}")
    if request.disktype not in ("auto", "streamOptimized"):
        raise UsageError(f"--disktype {request.disktype}: Nova imports the disk of an OVA "
                         "through ImportVApp, as streamOptimized, whatever the property says; "
                         "drop the flag")
    warnings = list(report.warnings)
    found = report.properties.get("vmware_adaptertype")
    if request.adapter_type == "auto":
        if found is None and report.controller:
            raise UsageError(f"the disk of {path} sits on a {report.controller} controller, "
                             "which Nova's VMware driver does not create: pass --adapter-type "
                             "(one the guest has a driver for)")
        adapter = found or _adapter(request, None, None, warnings)
    else:
        adapter = props.adapter_type(request.adapter_type)
        if found and adapter != found and not request.force:
            raise UsageError(f"--adapter-type {adapter} contradicts the OVF, which puts the disk "
                             f"on a {report.controller} controller ({found}); drop the flag "
                             "(the OVF's is used) or pass --force")
    final = {"vmware_disktype": "streamOptimized", "vmware_adaptertype": adapter}
    _nova_properties(request, final, warnings, "vmdk",
                     ostype=report.properties.get("vmware_ostype"), container_format="ova")
    whole = ImageReport(path=str(path), format="ova", file_size=report.file_size, safe=True,
                        vmware_disktype="streamOptimized", vmware_adaptertype=adapter)
    return UploadPlan(source=str(path), file=str(path), name=request.name, disk_format="vmdk",
                      container_format="ova", properties=final, report=whole,
                      warnings=warnings)


def _requested_adapter(request: UploadRequest, report: ImageReport) -> str | None:
    if request.adapter_type != "auto":
        adapter = props.adapter_type(request.adapter_type)
        return "lsiLogic" if adapter in ("lsiLogicsas", "paraVirtual") else adapter
    return report.vmware_adaptertype


def refuse_unusable(request: UploadRequest, report: ImageReport) -> None:
    """Refuse, without --convert, a source Glance would not take as it is (UsageError, exit 2).

    Returns when the report is acceptable, or for raw data that is a flat
    extent (a --disktype or the descriptor says so). Otherwise one line that
    says what the source is and the remedy (--convert). What no command reads
    (report.refusal) must be refused by the caller before; what is left is a
    disk image qemu-img converts. Used for local files and for URLs.
    """
    path = request.shown
    if report.acceptable:
        return
    if report.format == "raw":
        if request.disktype == "auto" and report.vmware_disktype is None:
            raise UsageError(f"{path} is raw data, not a VMDK: add --convert")
        return  # a flat disk; _disktype refuses a contradicting --disktype
    if report.format == "vmdk" and report.extents:
        extents = ", ".join(e.filename or "?" for e in report.extents)
        raise UsageError(f"{path} is a descriptor-only VMDK ({report.create_type}) whose data "
                         f"is in {extents}, not a VMDK Glance accepts: add --convert")
    what = f"a {report.create_type} VMDK" if report.format == "vmdk" else \
        f"a {report.format} image"
    raise UsageError(f"{path} is {what}, not a VMDK: add --convert")


def flat_extent(path: Path, report: ImageReport) -> tuple[Path, ImageReport] | None:
    """The data file of a flat pair given by its descriptor, and its own report.

    Glance stores one file, so a flat image is the raw bytes of the pair's
    ``-flat`` extent, sent with the properties the descriptor gives (the
    guide's "Optimize images"). None when ``report`` is not the descriptor of
    a pair with one whole extent from its first byte (split or offset
    extents: ``--convert``); UsageError for an extent that cannot be sent.
    The inspector has refused extent names outside the descriptor's
    directory, and missing extents, already.
    """
    if report.format != "vmdk" or report.vmware_disktype not in props.FLAT_DISK_TYPES \
            or len(report.extents) != 1:
        return None
    extent = report.extents[0]
    if extent.type not in ("FLAT", "VMFS") or extent.access == "NOACCESS" \
            or not extent.filename or not extent.present \
            or vmdk.unsafe_extent_name(extent.filename) is not None:
        return None
    if extent.offset not in (None, 0):
        return None
    directory = path.parent
    data = directory / extent.filename
    where = f"refusing to upload {path}: its extent {extent.filename}"
    if data.resolve() == path.resolve():
        raise UsageError(f"{where} is the descriptor itself; {RE_EXPORT}")
    if data.resolve().parent != directory.resolve():
        raise UsageError(f"{where} is a link to {data.resolve()}, outside the descriptor's "
                         f"directory; copy that file beside {path.name} under the name "
                         f"{extent.filename}")
    expected = extent.sectors * vmdk.SECTOR
    if extent.size != expected:
        raise UsageError(f"{where} has {extent.size} bytes, the descriptor says {expected} "
                         f"({extent.sectors} sectors): Nova would write a disk of the wrong "
                         f"size; copy the whole extent again from the pair's source")
    found = inspect_file(data)
    if found.format != "raw":
        raise UsageError(f"{where} is {_a_format(found)}, not the raw data of a flat disk; "
                         f"{RE_EXPORT}")
    return data, found


def _a_format(report: ImageReport) -> str:
    return f"a {report.create_type} VMDK" if report.format == "vmdk" and report.create_type \
        else f"a {report.format} image"


def format_match_refusal(plan: UploadPlan, format_match: bool) -> None:
    """Refuse, before Glance is touched, raw data that the image service will refuse.

    Glance 30 and later check that the data is of its disk_format
    (``[image_format] require_image_format_match``, on by default) and refuse
    a flat disk's raw bytes as ``vmdk``; their API does not say whether the
    check is on, so the profile does (``openstack.image_format_match``).
    Off: the data is sent, and a refusal is explained after all (the image
    record is then deleted).
    """
    if not format_match or plan.conversion is not None or plan.report.format != "raw" \
            or (plan.disk_format, plan.container_format) != ("vmdk", "bare"):
        return
    what = plan.file if plan.file == plan.source else \
        f"{plan.file} (the flat extent of {plan.source})"
    raise UsageError(f"refusing to upload {what}: raw data, which this image service refuses "
                     "as disk_format=vmdk (Glance 30 and later do unless [image_format] "
                     "require_image_format_match is off, and the profile's "
                     "openstack.image_format_match says it is on); add --convert to upload it "
                     "as streamOptimized")


def name_in_use(service: ImageService, name: str) -> str | None:
    """A warning when an image of that name exists: Glance accepts another, and a name that
    several images share no longer picks one."""
    # ImageService.list puts filter values into the query as they are: quoted here, so that
    # '&', '#', '+' or a space stay part of the name; "eq:" because Glance reads what comes
    # before a ':' as an operator ("in:a,b"), and "ubuntu:22.04" would be refused
    found = [image["id"] for image in service.list(
        name="eq:" + urllib.parse.quote(name, safe=""))]
    if not found:
        return None
    which = f"an image named {name!r} exists" if len(found) == 1 else \
        f"{len(found)} images named {name!r} exist"
    return (f"{which} already ({', '.join(found)}); this upload adds another, and commands "
            "given the name will then need the id")


def _disktype(request: UploadRequest, kind: str, found: str | None) -> str:
    if request.disktype == "auto":
        if found is None:
            raise UsageError(f"cannot tell the disk type of {request.shown}; pass --disktype")
        return found
    wanted = props.disk_type(request.disktype)
    detail = "raw (flat) data" if kind == "raw" else f"a {found} VMDK"
    if not props.disktype_matches_file(kind, found, wanted) and not request.force:
        raise UsageError(f"--disktype {wanted} contradicts the file, which is {detail}: Nova "
                         f"would handle it as {wanted} and the boot would fail; drop the flag "
                         "(the file's type is used) or pass --force")
    return wanted


def _adapter(request: UploadRequest, descriptor: str | None, found: str | None,
             warnings: list[str]) -> str:
    if request.adapter_type == "auto":
        if found is None:
            warnings.append(f"the file names no adapter type; using Nova's default "
                            f"{props.DEFAULT_ADAPTER_TYPE} (pass --adapter-type ide for an IDE "
                            "boot disk)")
            return props.DEFAULT_ADAPTER_TYPE
        return found
    wanted = props.adapter_type(request.adapter_type)
    if not props.adapter_matches_descriptor(descriptor, wanted) and not request.force:
        raise UsageError(f"--adapter-type {wanted} contradicts the file, whose descriptor says "
                         f"{descriptor!r} (an IDE boot disk cannot sit on a SCSI controller, "
                         "nor a SCSI disk on IDE); drop the flag (the file's type is used) or "
                         "pass --force")
    return wanted


def _extra_properties(extra: dict[str, str], final: dict[str, str]) -> dict[str, str]:
    for key in extra:
        if key in FLAGGED:
            raise UsageError(f"set {key} with {FLAGGED[key]}, not --property")
        if key in RESERVED:
            raise UsageError(f"{key} is an image attribute, not a property")
    return dict(extra)


def parse_property(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--property {text!r}: expected KEY=VALUE")
    return key.strip(), value


def upload(service: ImageService, plan: UploadPlan, *,
           progress: Callable[[int], None] | None = None,
           on_total: Callable[[int], None] | None = None,
           clock: Callable[[], float] = time.monotonic) -> UploadResult:
    """Create the image, stream the data, verify; delete the image on any failure.

    With ``--convert`` and the native engine the writer's output goes straight
    into the upload (no VMDK on disk); ``progress`` then counts the source
    bytes read, and ``on_total`` hears their total once it is known.
    """
    conversion = plan.conversion
    if conversion is None:
        path = Path(plan.file)
        return send_image(service, plan, _file_chunks(path), path.name, progress, clock)
    if conversion.engine == "native":
        return _upload_streamed(service, plan, conversion, progress, on_total, clock)
    with work_directory("vmwctl-upload-") as workdir:
        path = workdir / f"{Path(plan.source).stem}.vmdk"
        convert(conversion, destination=path)
        checked = inspect_file(path)
        if not checked.acceptable:
            raise OperationFailed(f"the conversion of {plan.source} is not acceptable: "
                                  f"{checked.problems[0]}")
        return send_image(service, plan, _file_chunks(path), path.name, progress, clock)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while data := handle.read(CHUNK):
            yield data


def _upload_streamed(service: ImageService, plan: UploadPlan, conversion: ConversionPlan,
                     progress: Callable[[int], None] | None,
                     on_total: Callable[[int], None] | None,
                     clock: Callable[[], float]) -> UploadResult:
    """The native writer's output as the upload body, as ``image convert`` makes it
    (:func:`native_stream`): a raw source read sparsely, any other through qemu-nbd, nothing
    written to disk. qemu-nbd starts (and ``qemu-img check`` refuses a damaged source)
    before Glance is asked for anything, and is gone when the upload has ended, however.

    The writer runs in this thread, without send_image's read-ahead: it reads and
    compresses ahead in its own threads, and its reads and qemu-nbd then end here, in
    order, whatever stops the upload."""
    label = f"{Path(plan.source).stem}.vmdk"
    stats = StreamStats()
    with native_stream(conversion, extent_name=label, progress=progress,
                       stats=stats) as stream:
        def chunks() -> Iterator[bytes]:
            told = False
            for chunk in stream:
                if not told and on_total is not None:
                    on_total(stats.to_read)
                    told = True
                yield chunk

        return send_image(service, plan, coalesced(chunks()), label, None, clock,
                          read_ahead=False)


def send_image(service: ImageService, plan: UploadPlan, data: Iterator[bytes], label: str,
               progress: Callable[[int], None] | None,
               clock: Callable[[], float], *,
               sleep: Callable[[float], None] = time.sleep,
               read_ahead: bool = True) -> UploadResult:
    """Create the image of `plan` in Glance, send `data` into it and verify what arrived.

    The data goes as ``plan.delivery`` says: Glance's direct upload, or staged
    and imported with glance-direct (followed until every store has it), or
    the direct upload first and, when Glance's upload_image policy refuses it
    before reading the data, the import of the same queued image (auto).
    `data` is read in a read-ahead thread (unless ``read_ahead`` is off: a
    source that reads ahead by itself). Every chunk is hashed (sha512, in a
    thread of its own: HashBeside) and counted as it goes out (and passed to
    `progress`); afterwards Glance's size and hash of the image are compared
    with those. `label` names the data
    in the error of a broken transfer; `clock` times the transfer. On any
    failure or interruption, an exception raised by `data` included (the
    caller's way to break an upload off), the image is deleted and the error
    re-raised: a GlanceError's refusal or a ConnectError as OperationFailed.
    Returns the verified UploadResult.
    """
    delivery = plan.delivery
    image = service.create(plan.name, plan.properties, disk_format=plan.disk_format,
                           container_format=plan.container_format)
    hasher = HashBeside(hashlib.sha512())
    sent = told = 0
    notes = list(plan.warnings)
    read = prefetched(data) if read_ahead else iter(data)
    replay = Replayable(_hashed(read, hasher), REPLAY_LIMIT if delivery.method == "auto" else 0)

    def chunks() -> Iterator[bytes | memoryview]:
        nonlocal sent, told
        sent = 0
        for chunk in replay:
            sent += len(chunk)
            if progress is not None and sent > told:
                progress(sent - told)
                told = sent
            yield from pieces(chunk)

    started = clock()
    try:
        try:
            method = _transfer(service, image["id"], delivery, chunks, replay, notes)
        except AuthError:
            raise
        except GlanceError as exc:
            raise OperationFailed(_upload_refusal(exc, service)) from None
        except ConnectError as exc:
            raise OperationFailed(f"the upload of {label} broke off after {sent} bytes: "
                                  f"{exc.message}") from None
        if method == "direct":
            seconds = clock() - started
            record = service.get(image["id"])
        else:
            record = follow_import(service, image["id"], sent, clock=clock, sleep=sleep)
            seconds = clock() - started
        verified = _verify(record, sent, hasher.hexdigest())
    except BaseException as exc:
        delete_quietly(service, image["id"], exc)
        raise
    finally:
        hasher.close()
        if isinstance(read, Generator):
            read.close()  # the read-ahead thread stops with it
    return UploadResult(image=record, source=plan.source, file=plan.file, bytes_sent=sent,
                        seconds=seconds, bytes_per_second=sent / seconds if seconds > 0 else 0.0,
                        sha512=hasher.hexdigest(), verified=verified, warnings=notes,
                        method=method, stores=stores_of(record))


def _transfer(service: ImageService, image_id: str, delivery: Delivery,
              chunks: Callable[[], Iterator[bytes | memoryview]], replay: Replayable,
              notes: list[str]) -> str:
    """Send the data as ``delivery`` says; how it went: direct or glance-direct (a fallback
    is added to ``notes``)."""
    if not delivery.imports:
        try:
            service.upload(image_id, chunks(), store=delivery.store)
            return "direct"
        except GlanceError as exc:
            if delivery.method != "auto" or exc.status != 403 \
                    or "upload_image" not in exc.body:
                raise
            refusal = service.policy_refusal(exc)
            log.debug("Glance refused the direct upload after %d bytes had been taken from the "
                      "source", replay.kept_bytes)
            if "glance-direct" not in service.import_methods():
                raise OperationFailed(f"{refusal}; and the image service offers no "
                                      "glance-direct import to fall back on") from None
            if not replay.rewind():
                raise OperationFailed(f"{refusal}; Glance answered only after more than "
                                      f"{REPLAY_LIMIT >> 20} MiB had gone, which cannot be "
                                      "sent again: rerun with --method import") from None
            notes.append(f"the direct upload is refused: {refusal.split(':')[0]}; the image "
                         "was staged and imported with glance-direct instead")
    service.stage(image_id, chunks())
    service.start_import(image_id, {"name": "glance-direct"}, stores=delivery.import_stores,
                         all_stores=delivery.all_stores)
    return "glance-direct"


def stores_of(record: dict[str, Any]) -> list[str]:
    """The stores Glance keeps an image in (its ``stores`` attribute, multi-store only)."""
    return _names(record.get("stores"))


def _names(value: Any) -> list[str]:
    return [name for name in str(value or "").split(",") if name]


def follow_import(service: ImageService, image_id: str, size: int, *,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Wait until Glance's import of the image has finished in every store it was asked for;
    the image record then. OperationFailed with Glance's reason when a store failed, the
    import task failed or the image fell back to queued, and when it takes longer than
    IMPORT_WAIT plus the time to copy ``size`` bytes at IMPORT_RATE."""
    deadline = clock() + IMPORT_WAIT + size / IMPORT_RATE
    interval = 0.1
    while True:
        record = service.get(image_id)
        status = record.get("status")
        importing = _names(record.get("os_glance_importing_to_stores"))
        failed = _names(record.get("os_glance_failed_import"))
        if status == "active" and not importing and not failed:
            return record
        task = next(iter(service.tasks(image_id)), None)
        task_failed = task is not None and task.get("status") == "failure"
        if failed or task_failed or status in ("killed", "deleted", "deactivated") \
                or (status == "queued" and not importing and task is not None
                    and task.get("status") not in ("pending", "processing")):
            where = f" into store {', '.join(failed)}" if failed else ""
            reason = (task or {}).get("message") or f"the image is {status}"
            raise OperationFailed(f"Glance's import of image {image_id}{where} failed: "
                                  f"{reason}")
        if clock() > deadline:
            raise OperationFailed(f"Glance's import of image {image_id} has not finished "
                                  f"after {IMPORT_WAIT + size / IMPORT_RATE:.0f} s (the image "
                                  f"is {status}, importing to "
                                  f"{', '.join(importing) or 'no store'})")
        sleep(interval)
        interval = min(interval * 1.5, 2.0)


def _hashed(data: Iterable[bytes], hasher: HashBeside) -> Iterator[bytes]:
    for chunk in data:
        hasher.add(chunk)
        yield chunk


def _delete_with_retries(service: ImageService, image_id: str,
                         sleep: Callable[[float], None]) -> None:
    """Right after a broken upload Glance may still be cleaning up the image and answer 409
    or 5xx ("database is locked"), or close the connection the delete went on; an image
    left queued or saving is worse than a short wait, so a few tries, 0.25 s to 2 s apart."""
    for attempt in range(CLEANUP_ATTEMPTS):
        try:
            service.delete(image_id)
            return
        except GlanceError as exc:
            if attempt == CLEANUP_ATTEMPTS - 1 or not (exc.status == 409 or exc.status >= 500):
                raise
        except ConnectError as exc:  # a connection Glance closed after its error answer
            if attempt == CLEANUP_ATTEMPTS - 1 or isinstance(exc, AuthError):
                raise
        sleep(0.25 * 2 ** attempt)


def _upload_refusal(exc: GlanceError, service: ImageService) -> str:
    reason = glance_reason(exc.body) if exc.body else exc.message
    if exc.status == 403:
        return f"{exc.message.split(' failed:')[0]}: {service.policy_refusal(exc)}"
    if exc.status == 415 or "does not match" in reason:
        return (f"Glance refused the data: {reason}. {GLANCE_FORMAT_MATCH}: upload "
                "streamOptimized instead (vmwctl image upload --convert), or use an image "
                "service whose format-match check is off")
    if exc.status == 413:
        return f"Glance refused the size of the image: {reason} (image_size_cap or quota)"
    if exc.status == 400:
        return f"Glance refused the data: {reason}"
    return exc.message


def _verify(record: dict[str, Any], sent: int, sha512: str) -> str:
    problems = []
    if record.get("status") != "active":
        problems.append(f"the image is {record.get('status')}, not active")
    if record.get("size") != sent:
        problems.append(f"Glance holds {record.get('size')} bytes, vmwctl sent {sent}")
    algorithm = record.get("os_hash_algo")
    if algorithm == "sha512" and record.get("os_hash_value") != sha512:
        problems.append("Glance's sha512 differs from the one computed while sending")
    if problems:
        raise OperationFailed("the upload did not arrive intact: " + "; ".join(problems))
    return "size and sha512" if algorithm == "sha512" else f"size only (Glance hashes with " \
        f"{algorithm})"


CLEANUP_ATTEMPTS = 5


def delete_quietly(service: ImageService, image_id: str, cause: BaseException, *,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    try:
        _delete_with_retries(service, image_id, sleep)
        if isinstance(cause, VmwctlError):
            cause.message += f" (the image record {image_id} was deleted)"
    except VmwctlError as exc:
        if isinstance(cause, VmwctlError):
            cause.message += f" (and the image {image_id} could not be deleted: {exc.message})"
    except Exception as exc:
        if isinstance(cause, VmwctlError):
            cause.message += f" (and the image {image_id} could not be deleted: {exc})"
