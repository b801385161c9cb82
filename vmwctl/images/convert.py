"""``image convert``: any format qemu-img reads, to the VMDK subformat Nova needs.

Two engines. ``native`` (the default for streamOptimized) is vmwctl's own
writer (:mod:`vmwctl.images.stream`): sparse reads, grains compressed in
parallel, no seeking, several times qemu-img's speed. It reads raw data
itself, and every other format through qemu-nbd (:mod:`vmwctl.images.qemu_nbd`),
which stays the one reader of qcow2, vhd, vdi and foreign VMDKs: no raw copy.
``image upload --convert`` streams the same output (:func:`native_stream`)
into Glance. ``qemu`` runs qemu-img for the whole conversion; it is the only
engine for sparse and flat (preallocated, thin) output.

Both write into a temporary directory beside the destination; the result is
renamed into place only when complete, so a failure or an interrupt never
leaves a partial destination behind. qemu-img runs with the fast, correct
settings: the default ``unsafe`` output cache (qemu flushes after every
grain-table update otherwise, 2.5x slower) and no ``-S 0`` (which would
compress zero grains too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vmwctl.common.files import work_directory
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.images import qemu, qemu_nbd
from vmwctl.images.inspector import ImageReport, inspect_file
from vmwctl.images.ova import OvaReport, inspect_ova
from vmwctl.images.ova_write import DEFAULT_OVA_OSTYPE, pack_ova
from vmwctl.images.stream import (
    GRAIN,
    StreamStats,
    pick_compressor,
    stream_vmdk,
    stream_vmdk_runs,
)

# vmware_disktype -> qemu-img's vmdk subformat. thin and preallocated are the same flat pair
# to qemu-img (whose -flat extent is sparse either way: it skips zeros); a thin pair's
# descriptor also says ddb.thinProvisioned = "1", as ESXi marks its thin disks, which is
# how the descriptor tells the two apart (and upload sends vmware_disktype=thin).
SUBFORMATS = {"streamOptimized": "streamOptimized", "sparse": "monolithicSparse",
              "preallocated": "monolithicFlat", "thin": "monolithicFlat"}
THIN_MARK = 'ddb.thinProvisioned = "1"'
# vmware_adaptertype -> ddb.adapterType as qemu-img writes it
DESCRIPTOR_VALUES = {"ide": "ide", "lsiLogic": "lsilogic", "busLogic": "buslogic"}
DEFAULT_ADAPTER = "ide"
ENGINES = ("native", "qemu")
_SLACK = 1 << 20  # less room than this left: qemu-img ran out of it


@dataclass
class ConversionPlan:
    """What ``image convert`` will run and produce."""

    source: str
    source_format: str
    destination: str
    disktype: str
    subformat: str
    adapter_type: str
    command: str  # what runs: the qemu-img command, or the native pipeline
    outputs: list[str] = field(default_factory=list)
    upload_file: str = ""  # the file to upload to Glance
    engine: str = "qemu"
    container: str = "bare"  # ova: the disk packed with an OVF and a manifest
    ostype: str | None = None  # an OVA's guest OS (vmw:osType)


@dataclass
class ConversionResult:
    plan: ConversionPlan
    seconds: float
    report: ImageReport | None  # the inspected output (an OVA's disk); None with --dry-run
    dry_run: bool = False
    package: OvaReport | None = None  # an OVA written, as 'image inspect' judges it


def plan_conversion(source: Path, destination: Path, *, disktype: str = "streamOptimized",
                    adapter_type: str | None = None, overwrite: bool = False,
                    source_report: ImageReport | None = None,
                    check_destination: bool = True, engine: str | None = None,
                    ostype: str | None = None) -> ConversionPlan:
    """Check the request and decide the qemu-img command; changes nothing.

    ``check_destination`` is off when the destination is a temporary file that
    does not exist yet (``image upload --convert``). A destination ending in
    .ova gets the streamOptimized disk packed with an OVF naming ``ostype``.
    """
    if disktype not in SUBFORMATS:
        raise UsageError(f"--disktype {disktype} cannot be written by qemu-img; use one of "
                         f"{', '.join(SUBFORMATS)}")
    container = "ova" if destination.suffix.lower() == ".ova" else "bare"
    if container == "ova" and disktype != "streamOptimized":
        raise UsageError(f"an OVA holds a streamOptimized disk (Nova imports it through "
                         f"ImportVApp): drop --disktype {disktype}, or write a .vmdk")
    if container == "bare" and destination.suffix != ".vmdk":
        raise UsageError(f"destination {destination} must end in .vmdk (qemu-img names the "
                         "flat extent after it), or .ova for a package")
    if ostype is not None and container != "ova":
        raise UsageError("--ostype names the guest OS in an OVA's descriptor: give a "
                         "destination ending in .ova, or pass --ostype to 'vmwctl image upload'")
    report = source_report or inspect_file(source)
    fmt = _source_format(report)
    if adapter_type is None:
        adapter_type = report.vmware_adaptertype or DEFAULT_ADAPTER
    if adapter_type not in DESCRIPTOR_VALUES:
        raise UsageError(f"a VMDK descriptor cannot say {adapter_type} (it knows ide, lsilogic "
                         "and buslogic): convert with --adapter-type lsiLogic and pass "
                         f"--adapter-type {adapter_type} to 'vmwctl image upload'")
    subformat = SUBFORMATS[disktype]
    outputs = [destination]
    upload_file = destination
    if subformat == "monolithicFlat":
        upload_file = destination.with_name(destination.stem + "-flat.vmdk")
        outputs.append(upload_file)
    if check_destination:
        if not destination.parent.is_dir():
            raise UsageError(f"{destination.parent} is not a directory")
        existing = [path for path in outputs if path.exists()]
        if existing and not overwrite:
            raise UsageError(f"{existing[0]} exists; pass --force to replace it")
        if destination.resolve() == source.resolve():
            raise UsageError("the destination is the source; choose another name")
    engine = engine or ("native" if disktype == "streamOptimized" else "qemu")
    if engine == "native" and disktype != "streamOptimized":
        raise UsageError(f"--engine native writes streamOptimized only; use --engine qemu for "
                         f"{disktype}")
    if engine == "native":
        command = _native_command(str(source), fmt, adapter_type, str(destination))
    else:
        command = qemu.command_line(_arguments(str(source), fmt, subformat, adapter_type,
                                               str(destination), progress=False))
        if disktype == "thin":
            command += f" -> {THIN_MARK} added to {destination}"
    if container == "ova":
        command += (f" -> packed with an OVF (guest OS {ostype or DEFAULT_OVA_OSTYPE}) and a "
                    f"SHA256 manifest into {destination}")
    return ConversionPlan(source=str(source), source_format=fmt, destination=str(destination),
                          disktype=disktype, subformat=subformat, adapter_type=adapter_type,
                          command=command, outputs=[str(p) for p in outputs],
                          upload_file=str(upload_file), engine=engine, container=container,
                          ostype=(ostype or DEFAULT_OVA_OSTYPE) if container == "ova" else None)


def _native_command(source: str, fmt: str, adapter: str, destination: str) -> str:
    writer = (f"vmwctl's streamOptimized writer ({pick_compressor().name}, "
              f"{os.cpu_count() or 1} threads, adapter {adapter}) -> {destination}")
    if fmt == "raw":
        return f"{source} -> {writer}"
    return (f"{qemu_nbd.command_line(source, fmt)} (read-only, in a private directory; "
            f"its allocated extents read over {qemu_nbd.CONNECTIONS} NBD connections) "
            f"-> {writer}")


@contextlib.contextmanager
def native_stream(plan: ConversionPlan, *, extent_name: str,
                  progress: Callable[[int], None] | None = None,
                  stats: StreamStats | None = None) -> Iterator[Iterator[bytes]]:
    """The native writer's streamOptimized VMDK of the plan's source, in pieces.

    A raw source is read with SEEK_DATA/SEEK_HOLE; any other format through
    qemu-nbd (after ``qemu-img check``), only where its allocation map says
    data: no raw copy, no room needed but the output's. qemu-nbd is gone when
    the block is left.
    """
    if plan.source_format == "raw":
        yield stream_vmdk(Path(plan.source), adapter_type=plan.adapter_type,
                          extent_name=extent_name, progress=progress, stats=stats)
        return
    refuse_damaged(plan)
    with qemu_nbd.exported(plan.source, plan.source_format) as image:
        runs = qemu_nbd.grain_runs(image.data_extents(), image.size, GRAIN)
        chunks = stream_vmdk_runs(image.read(runs), image.size,
                                  sum(length for _, length in runs),
                                  adapter_type=plan.adapter_type, extent_name=extent_name,
                                  progress=progress, stats=stats)
        with contextlib.closing(chunks):  # its reads end before qemu-nbd does
            yield chunks


def refuse_damaged(plan: ConversionPlan) -> None:
    """UsageError when qemu-img check finds the source's tables damaged: qemu-img would
    convert it, reading what is missing as zeros."""
    if plan.source_format == "raw":
        return
    problem = qemu.damage(_file(plan.source), plan.source_format)
    if problem is not None:
        raise UsageError(f"refusing to convert {plan.source}: {problem}; fetch the image "
                         "again and compare it with its published checksum")


def _source_format(report: ImageReport) -> str:
    """qemu-img's name of the source's format; UsageError for a file it must not read."""
    if report.refusal is not None:
        raise UsageError(f"refusing to convert {report.path}: {report.refusal.line()}")
    if report.format not in qemu.QEMU_FORMATS:  # inspect_file refuses what is no disk image
        raise UsageError(f"refusing to convert {report.path}: a {report.format} file; "
                         f"{report.remedy or 'give a disk image'}")
    return qemu.QEMU_FORMATS[report.format]


def _arguments(source: str, fmt: str, subformat: str, adapter: str, destination: str, *,
               progress: bool) -> list[str]:
    options = f"subformat={subformat},adapter_type={DESCRIPTOR_VALUES[adapter]}"
    return ["convert", *(["-p"] if progress else []), "-f", fmt, "-O", "vmdk", "-o", options,
            _file(source), _file(destination)]


def _file(path: str) -> str:
    """The path as a file to qemu-img: a name like 'json:{...}' or 'nbd:host:10809' is a
    protocol to it (another file, or the network, than the one inspected), '-U...' options:
    './' keeps it a file."""
    return f"./{path}" if path.startswith("-") or ":" in path.split("/", 1)[0] else path


def convert(plan: ConversionPlan, *, destination: Path | None = None,
            progress: Callable[[float], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> ConversionResult:
    """Run qemu-img into a temporary directory beside the destination, then rename.

    ``destination`` overrides the plan's (the same name rules apply).
    """
    if destination is not None:
        upload = destination.with_name(destination.stem + "-flat.vmdk") \
            if plan.subformat == "monolithicFlat" else destination
        plan = dataclasses.replace(
            plan, destination=str(destination), upload_file=str(upload),
            outputs=[str(destination)] + ([str(upload)] if upload != destination else []))
    destination = Path(plan.destination)
    started = clock()
    try:
        with work_directory(".vmwctl-convert-", destination.parent) as workdir:
            try:
                package = _convert_in(plan, destination, workdir, progress)
            except OperationFailed as exc:  # qemu-img's: a full disk may read "Invalid argument"
                room = out_of_room(workdir, exc.message)
                if room is None:
                    raise
                raise OperationFailed(f"cannot write {destination}: {room} "
                                      f"({exc.message})") from None
    except OSError as exc:
        raise OperationFailed(f"cannot write {destination}: {write_error(exc)}") from None
    seconds = clock() - started
    if package is not None:
        return ConversionResult(plan=plan, seconds=seconds, report=package.disk_report,
                                package=package)
    return ConversionResult(plan=plan, seconds=seconds, report=inspect_file(Path(plan.upload_file)))


def _convert_in(plan: ConversionPlan, destination: Path, workdir: Path,
                progress: Callable[[float], None] | None) -> OvaReport | None:
    """The conversion staged in ``workdir``, then renamed into place; the OVA's report."""
    package = None
    staged = workdir / (f"{destination.stem}-disk1.vmdk" if plan.container == "ova"
                        else destination.name)
    if plan.engine == "native":
        _write_native(plan, staged, progress)
    else:
        refuse_damaged(plan)
        qemu.run(_arguments(plan.source, plan.source_format, plan.subformat,
                            plan.adapter_type, str(staged), progress=progress is not None),
                 progress=progress)
        if plan.disktype == "thin":
            mark_thin(staged)
    if plan.container == "ova":
        disk = inspect_file(staged)
        packed = workdir / destination.name
        pack_ova(staged, disk.virtual_size or 0, packed, name=destination.stem,
                 adapter_type=plan.adapter_type, ostype=plan.ostype or DEFAULT_OVA_OSTYPE)
        package = inspect_ova(packed)
        if not package.acceptable:
            raise OperationFailed(f"the OVA written for {destination} does not pass "
                                  f"'image inspect': {package.line()}")
    # Extents first, the descriptor last: a destination that exists is complete.
    for output in reversed(plan.outputs):
        os.replace(workdir / Path(output).name, output)
    return package


def mark_thin(descriptor: Path) -> None:
    """Add ddb.thinProvisioned = "1" to the descriptor qemu-img wrote (qemu-img ignores it
    when it reads the pair, and keeps it when it rewrites the CID)."""
    text = descriptor.read_bytes().split(b"\0", 1)[0].decode("ascii")
    descriptor.write_text(text.rstrip("\n") + f"\n{THIN_MARK}\n", encoding="ascii")


def write_error(exc: OSError) -> str:
    """An OSError from writing a disk, in words that say what to do about it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror}: the file system is full; free space or write elsewhere"
    if exc.errno == errno.EFBIG:
        return f"{exc.strerror}: {_file_size_limit()}"
    return str(exc.strerror or exc)


def out_of_room(workdir: Path, message: str) -> str | None:
    """Whether qemu-img failed for want of room in ``workdir``: the file system full, or a
    file at the file-size limit (RLIMIT_FSIZE). Its message may not tell ("Invalid
    argument" from the vmdk driver), so the room left is looked at too."""
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        if os.strerror(code) in message:
            return write_error(OSError(code, os.strerror(code)))
    try:
        stats = os.statvfs(workdir)
        if stats.f_bavail * stats.f_frsize < _SLACK:
            return write_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and any(
                path.stat().st_size + _SLACK >= limit for path in workdir.iterdir()):
            return write_error(OSError(errno.EFBIG, os.strerror(errno.EFBIG)))
    except OSError:
        return None
    return None


def _file_size_limit() -> str:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY:
        return "the file system's largest file was reached"
    return f"the file-size limit (ulimit -f) of {limit / (1 << 20):.1f} MiB was reached"


def _write_native(plan: ConversionPlan, staged: Path,
                  progress: Callable[[float], None] | None) -> None:
    """The native writer's output into ``staged``."""
    stats = StreamStats()

    def advance(_amount: int) -> None:
        if progress is not None and stats.to_read:
            progress(100 * stats.read / stats.to_read)

    with staged.open("wb") as out, native_stream(plan, extent_name=staged.name,
                                                 progress=advance, stats=stats) as chunks:
        for chunk in chunks:
            out.write(chunk)
