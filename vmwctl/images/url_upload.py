"""``image upload URL``: an image at an http(s) URL into Glance, streamed when it can be.

The format is decided from the first MiB of the response:

- a streamOptimized VMDK is sent as it is, and raw data with ``--convert``
  through the native writer (read once, in order), straight from the
  response into the upload: no local copy;
- anything else (qcow2, a monolithicSparse VMDK, an ISO, an OVA, a body of
  unknown length, ``--engine qemu``) is downloaded to a temporary file first
  and uploaded as local files are; the file is removed afterwards.

A published checksum (``--checksum``, ``--checksums``) covers the source's
bytes as read from the URL. While streaming, the last piece of the upload is
held back until the source has ended, its length matched Content-Length, the
checksum matched and (for a VMDK sent as it is) the whole file was judged
again from its head and footer: a failure breaks the upload off before Glance
has the whole image, which then never goes active and is deleted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vmwctl.common.streams import coalesced, prefetched
from vmwctl.errors import OperationFailed, UsageError
from vmwctl.images import vmdk
from vmwctl.images.digests import Expected
from vmwctl.images.glance import GlanceError, ImageService
from vmwctl.images.inspector import ImageReport, inspect_source
from vmwctl.images.remote import HttpSource
from vmwctl.images.stream import stream_vmdk_sequential
from vmwctl.images.upload import (
    UploadPlan,
    UploadRequest,
    UploadResult,
    delete_quietly,
    follow_import,
    plan_disk,
    refuse_unusable,
    send_image,
    stores_of,
)

HEAD = 1 << 20  # the inspector's head and an embedded descriptor of up to 1 MiB
TAIL = vmdk.FOOTER_REGION


@dataclass
class UrlPlan:
    """How the URL is uploaded: ``plan`` when streamed, None when downloaded first."""

    plan: UploadPlan | None
    report: ImageReport = field(metadata={"internal": True})
    why_download: str | None = None


def _footer_only(problems: list[str]) -> bool:
    """Problems a head without the file's end shows: the footer is judged at the end."""
    return all("footer" in problem for problem in problems)


def plan_url(request: UploadRequest, source: HttpSource) -> UrlPlan:
    """Judge the response from its head: streamed (a plan) or downloaded first (None)."""
    head = source.peek(HEAD)
    if source.size is None:
        report = ImageReport(path=source.url, format="unknown")
        return UrlPlan(None, report, "the server sends no Content-Length")
    reader = _HeadTail(source.size, head, b"")
    report = inspect_source(source.url, source.size, reader.read)
    if report.not_a_disk is not None and report.format == "tar":
        return UrlPlan(None, report, "a tar archive (an OVA?) is read whole first")
    if report.not_a_disk is not None:
        raise UsageError(f"{source.url} is not a disk image: {report.not_a_disk.line()}")
    if report.format == "vmdk" and report.create_type == "streamOptimized" \
            and _footer_only(report.problems):
        report.problems, report.refusal = [], None
        report.safe = report.glance_accepts = True
        return UrlPlan(plan_disk(request, report), report)
    if report.format == "raw" and report.refusal is None:
        if request.disktype == "auto" and not request.convert:
            raise UsageError(f"{source.url} is raw data, not a VMDK: add --convert")
        if request.convert and request.engine in (None, "native"):
            return UrlPlan(plan_disk(request, report, staged_name=f"{request.path.stem}.vmdk"),
                           report)
    if report.refusal is not None:
        raise UsageError(f"refusing to upload {source.url}: {report.refusal.line()}")
    if report.format not in ("iso", "raw") and not request.convert:
        refuse_unusable(request, report)
    what = f"a {report.create_type} VMDK" if report.format == "vmdk" and report.create_type \
        else f"{report.format} data"
    return UrlPlan(None, report, f"{what} is not streamed")


def plan_download(request: UploadRequest, source: HttpSource, decided: UrlPlan) -> UploadPlan:
    """The dry run's plan for a URL that a real run downloads first, from its head alone.

    Nothing more is read: a disk image (qcow2, a VMDK to convert, raw data for
    qemu-img) is planned from the head's report as a real run plans the
    downloaded file; an ISO, an OVA or a body of unknown length gets the formats
    the head shows and a warning that the properties are read from the
    downloaded file. ``download`` says where the copy would go and why.
    """
    report = decided.report
    where = (f"a temporary file under {tempfile.gettempdir()} ({decided.why_download}; "
             f"{_size(source.size)})")
    if report.format not in ("iso", "tar", "unknown"):
        plan = plan_disk(request, report, staged_name=f"{request.path.stem}.vmdk")
    else:
        disk_format, container_format = {"iso": ("iso", "bare"), "tar": ("vmdk", "ova")}.get(
            report.format, ("?", "?"))
        plan = UploadPlan(source=source.url, file=source.url, name=request.name,
                          disk_format=disk_format, container_format=container_format,
                          properties={}, report=report,
                          warnings=["the properties are read from the downloaded file: a "
                                    "dry run does not download it"])
    plan.source = plan.file = source.url
    plan.download = where
    return plan


def _size(size: int | None) -> str:
    return f"{size} bytes" if size is not None else "size unknown"


class _HeadTail:
    """The inspector's reads answered from the head and the last bytes of the body."""

    def __init__(self, size: int, head: bytes, tail: bytes) -> None:
        self.size, self.head, self.tail = size, head, tail

    def read(self, offset: int, length: int) -> bytes:
        tail_start = self.size - len(self.tail)
        if self.tail and offset >= tail_start:
            return self.tail[offset - tail_start:offset - tail_start + length]
        return self.head[offset:offset + length]


def _checked(source: HttpSource, expected: Expected | None,
             tail: list[bytes] | None) -> Iterator[bytes]:
    """The body, hashed; at its end the published checksum is compared (OperationFailed)."""
    hasher = expected.hasher() if expected else None
    last = b""
    for chunk in source.chunks():
        if hasher is not None:
            hasher.update(chunk)
        if tail is not None:
            last = (last + chunk[-TAIL:])[-TAIL:]
        yield chunk
    if tail is not None:
        tail.append(last)
    if expected is not None and hasher is not None:
        mismatch(expected, hasher.hexdigest(), source.url)


def mismatch(expected: Expected, found: str, url: str) -> None:
    if found != expected.hex:
        origin = "--checksum" if expected.origin == "--checksum" else \
            f"the checksums file {expected.origin}"
        raise OperationFailed(f"the {expected.algorithm} of the bytes read from {url} is "
                              f"{found}, {origin} says {expected.hex}: not the published "
                              "image")


def _held_back(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Each piece once the next has been read: the last goes out only after the source
    ended well (its checks raise first)."""
    previous = None
    for chunk in chunks:
        if previous is not None:
            yield previous
        previous = chunk
    if previous is not None:
        yield previous


def _counted(chunks: Iterable[bytes], progress: Callable[[int], None] | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress(len(chunk))
        yield chunk


def upload_streamed(service: ImageService, plan: UploadPlan, source: HttpSource,
                    expected: Expected | None, *,
                    progress: Callable[[int], None] | None = None,
                    clock: Callable[[], float] = time.monotonic) -> UploadResult:
    """Create the image and send the response's body into it (as it is, or converted)."""
    assert source.size is not None
    head = source.peek(HEAD)
    tail: list[bytes] = []
    body = _counted(prefetched(_checked(source, expected, tail if plan.conversion is None
                                        else None)), progress)
    if plan.conversion is None:
        def judged() -> Iterator[bytes]:
            yield from body
            final = inspect_source(source.url, source.size or 0,
                                   _HeadTail(source.size or 0, head, tail[0]).read)
            if not final.acceptable:
                raise OperationFailed(f"{source.url} is not a VMDK Glance accepts after all: "
                                      f"{final.problems[0] if final.problems else '?'}")

        data: Iterator[bytes] = _held_back(judged())
    else:
        data = coalesced(stream_vmdk_sequential(
            body, source.size, adapter_type=plan.conversion.adapter_type,
            extent_name=f"{Path(source.name).stem or 'disk'}.vmdk"))
    result = send_image(service, plan, data, source.url, None, clock)
    result.file = source.url
    return result


def download(source: HttpSource, expected: Expected | None,
             progress: Callable[[int], None] | None = None) -> Path:
    """The body in a file of a new temporary directory (under $TMPDIR), named after the
    URL; checked against the checksum. The caller removes ``path.parent``."""
    workdir = Path(tempfile.mkdtemp(prefix="vmwctl-url-"))
    path = workdir / (source.name or "image")
    try:
        with path.open("wb") as handle:
            for chunk in _counted(_checked(source, expected, None), progress):
                handle.write(chunk)
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise OperationFailed(f"cannot write the temporary copy of {source.url} in "
                              f"{workdir.parent}: {exc.strerror or exc} (set TMPDIR to a "
                              "directory with room)") from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return path


def plan_web_download(request: UploadRequest, source: HttpSource,
                      decided: UrlPlan) -> UploadPlan:
    """The plan of a URL Glance fetches itself (web-download): judged from the head vmwctl
    read, as it is: Glance converts nothing, so only a streamOptimized VMDK qualifies."""
    plan = decided.plan
    if source.final_url != source.url:
        raise UsageError(f"--method web-download: {source.url} redirects to "
                         f"{source.final_url}; give Glance the final URL")
    if urllib.parse.urlsplit(source.url).password is not None or "@" in \
            urllib.parse.urlsplit(source.url).netloc:
        raise UsageError("--method web-download: Glance keeps the URL in its import task, "
                         "where a user name and password do not belong; drop --method "
                         "web-download (vmwctl then reads the URL itself)")
    if plan is None or plan.conversion is not None or decided.report.format != "vmdk":
        what = decided.why_download or "it needs converting"
        raise UsageError(f"--method web-download: Glance takes {source.url} as it is, and it "
                         f"is not a streamOptimized VMDK ({what}); drop --method web-download "
                         "(vmwctl then converts it on the way)")
    plan.source = plan.file = source.url
    return plan


def upload_web_download(service: ImageService, plan: UploadPlan, url: str, size: int | None,
                        expected: Expected | None, *,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> UploadResult:
    """Create the image and have Glance fetch ``url`` into it (the web-download import);
    verify the size (Content-Length) and a published checksum; delete it on any failure."""
    image = service.create(plan.name, plan.properties, disk_format=plan.disk_format,
                           container_format=plan.container_format)
    delivery = plan.delivery
    started = clock()
    try:
        try:
            service.start_import(image["id"], {"name": "web-download", "uri": url},
                                 stores=delivery.import_stores,
                                 all_stores=delivery.all_stores)
        except GlanceError as exc:
            if exc.status == 400 and "filtering" in exc.body:
                raise OperationFailed(f"Glance refuses to fetch {plan.source}: its "
                                      "[import_filtering_opts] do not allow that scheme, "
                                      "host or port; drop --method web-download (vmwctl "
                                      "then reads the URL itself)") from None
            raise OperationFailed(exc.message) from None
        record = follow_import(service, image["id"], size or 0, clock=clock, sleep=sleep)
        seconds = clock() - started
        verified = _verify_fetched(service, record, size, expected, plan.source)
    except BaseException as exc:
        delete_quietly(service, image["id"], exc)
        raise
    got = int(record.get("size") or 0)
    return UploadResult(image=record, source=plan.source, file=plan.source, bytes_sent=got,
                        seconds=seconds, bytes_per_second=got / seconds if seconds > 0 else 0.0,
                        sha512=str(record.get("os_hash_value") or ""), verified=verified,
                        warnings=list(plan.warnings), method="web-download",
                        stores=stores_of(record))


def _verify_fetched(service: ImageService, record: dict, size: int | None,
                    expected: Expected | None, url: str) -> str:
    """What Glance fetched against the URL's Content-Length and the published checksum (by
    Glance's own hash when it is the same algorithm, else read back from Glance)."""
    if size is not None and record.get("size") != size:
        raise OperationFailed(f"Glance fetched {record.get('size')} bytes from {url}, which "
                              f"announced {size}")
    verified = "size" if size is not None else "nothing (no Content-Length)"
    if expected is None:
        return verified
    if record.get("os_hash_algo") == expected.algorithm:
        found = str(record.get("os_hash_value"))
    else:
        hasher = expected.hasher()
        for chunk in service.download(record["id"]):
            hasher.update(chunk)
        found = hasher.hexdigest()
    mismatch(expected, found, url)
    return f"{verified} and {expected.algorithm}"
