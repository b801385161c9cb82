"""Disk images at ``http://`` and ``https://`` URLs, read once, as a stream.

- TLS is verified against the system's CA store (``ssl.get_default_verify_paths``,
  which honours ``SSL_CERT_FILE``; published images are on the internet), or
  ``--ca-file``; proxies come from the environment (``HTTPS_PROXY``,
  ``NO_PROXY``, as requests reads them).
- Redirects are followed (at most 10) within the URL's scheme only: an
  https URL that redirects to http (or back) is refused. Credentials in the
  URL (``https://user:pw@host/``) go to that host and port only, and the
  password is registered for redaction before any request.
- Timeouts: 15 s to connect, 60 s without a byte.
- The bytes are the body as sent (``Accept-Encoding: identity``, never
  decoded), counted against Content-Length, which a server cannot shorten
  by closing early: that is a broken transfer.

Exit codes: a URL the server refuses or does not have (4xx), or a redirect to
another scheme, is bad input (2, as a missing local file); a server that
cannot be reached, answers 5xx or fails TLS is 3; a transfer that breaks off
is 1.
"""

from __future__ import annotations

import os
import re
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vmwctl.common import redact
from vmwctl.errors import ConnectError, MissingExtra, OperationFailed, UsageError

SCHEMES = ("http", "https")
CHUNK = 1 << 20
TIMEOUTS = (15, 60)  # connect, read (seconds without a byte)
MAX_REDIRECTS = 10
TEXT_LIMIT = 1 << 20  # a checksums file


def is_url(text: str) -> bool:
    return text.split("://", 1)[0].lower() in SCHEMES and "://" in text


# Query parameters that carry a credential in signed URLs: S3 (X-Amz-Signature,
# X-Amz-Credential, X-Amz-Security-Token), GCS (X-Goog-Signature), Swift temp URLs
# (temp_url_sig), Azure SAS (sig), and tokens, keys and passwords by any name.
_SECRET_PARAMETER = re.compile(r"sig|token|key|password|passwd|secret|credential|auth",
                               re.IGNORECASE)
_PARAMETER = re.compile(r"(^|[&;])([^&;=]*)=([^&;]*)")


def secret_values(url: str) -> list[str]:
    """The values of the URL's secret query parameters (as written and unquoted) long enough
    to be hidden wherever they appear: signatures and tokens are; a short value such as
    X-Amz-SignedHeaders=host would hide a common word from every message."""
    values = []
    for _, name, value in _PARAMETER.findall(urllib.parse.urlsplit(url).query):
        if _SECRET_PARAMETER.search(urllib.parse.unquote(name)):
            values += [v for v in (value, urllib.parse.unquote_plus(value))
                       if redact.coverage(v) == "anywhere"]
    return values


def shown(url: str) -> str:
    """The URL as messages show it: a password in its userinfo and the values of a signed
    URL's secret query parameters replaced by ********."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username}:{redact.REDACTED}@{host}")
    if parts.query:
        parts = parts._replace(query=_PARAMETER.sub(
            lambda m: m.group(0) if not m.group(3) or not _SECRET_PARAMETER.search(
                urllib.parse.unquote(m.group(2)))
            else f"{m.group(1)}{m.group(2)}={redact.REDACTED}", parts.query))
    return urllib.parse.urlunsplit(parts)


def file_name(url: str) -> str:
    """The URL's last path component, unquoted ("" for a URL ending in /)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2])


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int | None]:
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _system_ca() -> str | bool:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    for candidate in (paths.capath, paths.openssl_capath):
        if candidate and os.path.isdir(candidate):
            return candidate
    return True  # requests' own bundle


@dataclass
class HttpSource:
    """An open response: its size (Content-Length, None when not sent) and its body."""

    url: str  # as shown: the URL given, password hidden
    final_url: str  # after redirects, password hidden
    name: str  # the given URL's last path component
    size: int | None
    response: Any = field(repr=False)
    received: int = 0
    _buffer: bytes = b""

    def __post_init__(self) -> None:
        self._stream = self._raw()

    def peek(self, length: int) -> bytes:
        """The first ``length`` bytes (fewer at the end of the body), kept for chunks()."""
        while len(self._buffer) < length:
            piece = next(self._stream, None)
            if piece is None:
                break
            self._buffer += piece
        return self._buffer[:length]

    def _raw(self) -> Iterator[bytes]:
        import requests
        import urllib3

        reader = self.response.raw.stream(CHUNK, decode_content=False)
        got = 0
        try:
            for piece in reader:
                got += len(piece)
                yield piece
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise OperationFailed(self._broken(got, exc)) from None
        if self.size is not None and got != self.size:
            raise OperationFailed(self._broken(got, None))

    def _broken(self, got: int, exc: BaseException | None) -> str:
        if self.size is not None:
            text = (f"the download of {self.url} broke off after {got} of the {self.size} "
                    "bytes its Content-Length announced")
        else:
            text = f"the download of {self.url} broke off after {got} bytes"
        return f"{text}: {_reason(exc)}" if exc is not None else text

    def chunks(self) -> Iterator[bytes]:
        """The whole body once, in pieces; OperationFailed when it breaks off or ends short
        of Content-Length."""
        if self._buffer:
            buffered, self._buffer = self._buffer, b""
            self.received += len(buffered)
            yield buffered
        for piece in self._stream:
            self.received += len(piece)
            yield piece

    def close(self) -> None:
        self.response.close()


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = str(exc).strip()
    for inner in (getattr(exc, "reason", None), *(getattr(exc, "args", ()) or ())):
        if isinstance(inner, BaseException):
            text = str(inner).strip() or text
    return redact.redact(text.splitlines()[0] if text else type(exc).__name__)


def open_url(url: str, *, ca_file: str | None = None, what: str = "the image") -> HttpSource:
    """GET ``url`` (following same-scheme redirects); the response's body is not read yet."""
    try:
        import requests
    except ImportError:  # pragma: no cover - openstacksdk brings it
        raise MissingExtra("reading a URL needs requests, which comes with openstacksdk: pip "
                           "install 'vmwctl[glance]'") from None
    given = urllib.parse.urlsplit(url)
    if given.scheme.lower() not in SCHEMES or not given.hostname:
        raise UsageError(f"{shown(url)}: not an http:// or https:// URL")
    redact.register(given.password)
    redact.register(urllib.parse.unquote(given.password or "") or None)
    for value in secret_values(url):
        redact.register(value)
    auth = (urllib.parse.unquote(given.username or ""),
            urllib.parse.unquote(given.password or "")) if given.username else None
    display = shown(url)
    if ca_file is not None and not os.path.isfile(ca_file):
        raise UsageError(f"--ca-file {ca_file}: no such file")
    verify = ca_file or _system_ca()
    session = requests.Session()
    current = given
    for _hop in range(MAX_REDIRECTS + 1):
        target = urllib.parse.urlunsplit(current._replace(netloc=current.netloc.rpartition("@")[2]))
        same_origin = _origin(current) == _origin(given)
        try:
            response = session.get(target, stream=True, allow_redirects=False, timeout=TIMEOUTS,
                                   verify=verify, auth=auth if same_origin else None,
                                   headers={"Accept-Encoding": "identity"})
        except requests.exceptions.SSLError as exc:
            raise ConnectError(f"cannot read {what} at {display}: TLS verification failed "
                               f"({_reason(exc)}); give the server's CA with --ca-file") from None
        except requests.RequestException as exc:
            raise ConnectError(f"cannot reach {display}: {_reason(exc)}") from None
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            following = urllib.parse.urlsplit(urllib.parse.urljoin(target, location))
            if following.scheme.lower() != given.scheme.lower():
                raise UsageError(f"{display} redirects to {shown(following.geturl())}, another "
                                 f"scheme ({given.scheme} to {following.scheme}): refused; give "
                                 "the URL you mean to trust")
            current = following
            continue
        break
    else:
        response.close()
        raise OperationFailed(f"{display}: more than {MAX_REDIRECTS} redirects")
    final = shown(response.url)
    if response.status_code != 200:
        status = response.status_code
        reason = response.reason or ""
        response.close()
        where = f"{display}" + (f" (redirected to {final})" if final != display else "")
        if 400 <= status < 500:
            hint = {401: "it needs credentials: https://USER:PASSWORD@host/...",
                    403: "the server refuses it", 404: "no such file on the server",
                    410: "no such file on the server"}.get(status, "check the URL")
            raise UsageError(f"cannot read {what} at {where}: HTTP {status} {reason}; {hint}")
        raise ConnectError(f"cannot read {what} at {where}: HTTP {status} {reason}; try again "
                           "later")
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    return HttpSource(url=display, final_url=final, name=file_name(url), size=size,
                      response=response)


def read_text(url: str, *, ca_file: str | None = None, what: str) -> str:
    """A small text file (a checksums list), at most 1 MiB."""
    source = open_url(url, ca_file=ca_file, what=what)
    try:
        data = bytearray()
        for chunk in source.chunks():
            data += chunk
            if len(data) > TEXT_LIMIT:
                raise UsageError(f"{what} at {source.url} is over {TEXT_LIMIT >> 20} MiB: not "
                                 "a checksums file")
    finally:
        source.close()
    return data.decode("utf-8", errors="replace")
