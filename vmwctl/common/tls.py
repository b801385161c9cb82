"""A server's TLS certificate, read from a handshake whether or not it verifies.

:func:`probe` makes two handshakes: one without verification, which reads the
certificate whatever it is, and one that verifies the chain against a CA file
(or the system's store), the hostname left out: :func:`host_matches` tells
that one from the certificate's subject alternative names, with the rules of
Python's (and OpenSSL's) hostname check, so that a mismatch and an unknown CA
are told apart. No HTTP request is sent.

The certificate is parsed with ``cryptography``, imported on first use.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 15.0
# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID and X509_V_ERR_CERT_HAS_EXPIRED: the chain may be
# sound; the dates, which the certificate's own figures tell, are what is wrong.
DATE_ERRORS = (9, 10)


@dataclass
class Certificate:
    """What a leaf certificate says of itself (no verification)."""

    subject: str
    issuer: str
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    not_before: datetime.datetime | None = None  # aware, UTC
    not_after: datetime.datetime | None = None

    @property
    def sans(self) -> list[str]:
        """The subject alternative names as OpenSSL prints them: ``IP:...``, ``DNS:...``."""
        return [f"IP:{a}" for a in self.ip_addresses] + [f"DNS:{n}" for n in self.dns_names]


@dataclass
class Handshake:
    """What the two handshakes with ``host``:``port`` found.

    ``error``: no certificate (no connection, or not TLS). ``verified``: the chain verifies
    against the trust given (the hostname aside); None when the trust was not checked.
    ``verify_error`` and ``verify_code``: OpenSSL's reason when it does not.
    """

    host: str
    port: int
    checked_at: datetime.datetime
    certificate: Certificate | None = None
    error: str | None = None
    verified: bool | None = None
    verify_error: str | None = None
    verify_code: int | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def date_error(self) -> bool:
        """The chain failed on the certificate's dates alone."""
        return self.verified is False and self.verify_code in DATE_ERRORS


def _name(value: object) -> str:
    """An X.509 name as RFC 4514 text (``CN=vcenter.example,O=Example``)."""
    return value.rfc4514_string() or "(empty)"  # type: ignore[attr-defined]


def parse_certificate(der: bytes) -> Certificate:
    """The subject, issuer, SANs and dates of a DER certificate."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    dns: list[str] = []
    ips: list[str] = []
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        dns = [str(name) for name in sans.get_values_for_type(x509.DNSName)]
        ips = [str(address) for address in sans.get_values_for_type(x509.IPAddress)]
    return Certificate(subject=_name(cert.subject), issuer=_name(cert.issuer),
                       dns_names=dns, ip_addresses=ips, not_before=cert.not_valid_before_utc,
                       not_after=cert.not_valid_after_utc)


def is_address(host: str) -> bool:
    """``host`` is an IP address (IPv6 with or without brackets), not a name."""
    return _address(host) is not None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _dns_matches(pattern: str, host: str) -> bool:
    """RFC 6125 as Python's check applies it: a wildcard only as the whole leftmost label,
    matching exactly one label (``*.example.com``: ``a.example.com``, not ``example.com``
    nor ``a.b.example.com``); no partial wildcards (``f*.example.com`` matches nothing)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if "*" not in pattern:
        return pattern == host
    first, _, rest = pattern.partition(".")
    if first != "*" or not rest or "*" in rest:
        return False
    label, _, host_rest = host.partition(".")
    return bool(label) and host_rest == rest


def host_matches(certificate: Certificate, host: str) -> bool:
    """Whether ``host`` is one of the certificate's SANs: an address against the IP SANs,
    a name against the DNS SANs. The subject's CN does not count (urllib3 2, which Nova's
    and openstacksdk's requests use, dropped that fallback)."""
    address = _address(host)
    if address is not None:
        return any(_address(ip) == address for ip in certificate.ip_addresses)
    return any(_dns_matches(name, host) for name in certificate.dns_names)


def trust_context(ca_file: str | None) -> ssl.SSLContext:
    """A context that verifies the chain against ``ca_file`` (several joined with
    ``os.pathsep``; None: the system's store) and leaves the hostname to the caller.
    Raises OSError or ssl.SSLError when a CA file cannot be loaded."""
    if ca_file:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for path in ca_file.split(os.pathsep):
            context.load_verify_locations(cafile=os.path.expanduser(path))
    else:
        context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _reading_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _handshake(host: str, port: int, context: ssl.SSLContext, timeout: float) -> bytes:
    """The server's leaf certificate (DER) after a handshake under ``context``."""
    server_hostname = None if _address(host) else host  # SNI: names only
    with socket.create_connection((host.strip("[]"), port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=server_hostname) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the name ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def probe(host: str, port: int, *, ca_file: str | None = None, verify: bool = True,
          timeout: float = DEFAULT_TIMEOUT) -> Handshake:
    """Read the certificate of ``host``:``port``, then (``verify``) verify its chain
    against ``ca_file`` or the system's store. Never raises for the server's sake."""
    found = Handshake(host=host, port=port, checked_at=datetime.datetime.now(datetime.UTC))
    try:
        der = _handshake(host, port, _reading_context(), timeout)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        found.error = _reason(exc)
        return found
    try:
        found.certificate = parse_certificate(der)
    except ValueError as exc:
        found.error = f"the certificate cannot be read ({exc})"
        return found
    if not verify:
        return found
    try:
        context = trust_context(ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        found.verified, found.verify_error = False, f"cannot load {ca_file}: {reason.lower()}"
        return found
    try:
        _handshake(host, port, context, timeout)
    except ssl.SSLCertVerificationError as exc:
        found.verified, found.verify_error = False, exc.verify_message or str(exc)
        found.verify_code = exc.verify_code
    except (OSError, ValueError) as exc:
        found.verified, found.verify_error = False, _reason(exc)
    else:
        found.verified = True
    return found
