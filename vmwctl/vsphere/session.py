"""One logged-in vCenter session: TLS, timeouts, re-login, bounded retries, logout.

Every vSphere request goes through :class:`_SessionStub`, which counts
requests (tests guard round trips with that count), logs in again when the
session has expired, retries transient faults with back-off, and raises a
fault the vCenter answers with as its :mod:`vmwctl.vsphere.faults` class.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyVmomi import SoapStubAdapter, VmomiSupport, vim, vmodl

from vmwctl.common.interrupts import held_signals
from vmwctl.errors import AuthError, ConfigError, ConnectError, VmwctlError
from vmwctl.vsphere import faults

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 300.0
LOGOUT_TIMEOUT = 5.0
BACKOFF_START = 0.5
BACKOFF_MAX = 8.0
FALLBACK_VERSION = "vim.version.version9"

# Methods that only read, or whose repetition is harmless: they may be sent
# again after a connection broke mid-request. Anything else is retried only
# when the request certainly never reached the server.
_REPEATABLE_PREFIXES = ("Retrieve", "ContinueRetrieve", "CancelRetrieve", "Fetch", "Find",
                        "Query", "Has", "Current", "Wait", "Check", "Browse", "Search",
                        "SessionIsActive", "Login", "CreateContainerView", "CreateFilter")
_RETRY_HTTP_STATUS = ("502", "503", "504")
# OpenSSL's verify codes: certificate not yet valid, expired; the host not named by it
_DATE_ERRORS = (9, 10)
_NAME_MISMATCH = (62, 64)  # a host name, an IP address


@dataclass
class ConnectionSettings:
    """What a session needs; the password is fetched only when logging in."""

    host: str
    port: int
    username: str
    password: Callable[[], str]
    ca_file: str | None = None
    ca_file_source: str = "vmware.ca_file"  # where the user set it, for the hint
    insecure: bool = False
    api_retry_count: int = 10
    task_poll_interval: float = 0.5
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}/sdk"


_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def make_ssl_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext:
    """Verification on unless told otherwise; a CA file replaces the system store.

    One context per CA file (as it is on disk: a changed file makes a new one) and mode,
    shared by every connection of the process: making one costs about a millisecond of
    CPU (the system store more), and ``check fleet`` connects to many vCenters at once."""
    key = (ca_file, insecure, _stamp(ca_file))
    with _contexts_lock:
        context = _contexts.get(key)
    if context is None:
        context = _new_ssl_context(ca_file, insecure)
        with _contexts_lock:
            context = _contexts.setdefault(key, context)
    return context


def _stamp(ca_file: str | None) -> tuple[Any, ...]:
    """What tells a CA file changed (None for one that cannot be read: loading it says why)."""
    stamps: list[Any] = []
    for path in (ca_file or "").split(os.pathsep) if ca_file else []:
        try:
            st = os.stat(os.path.expanduser(path))
            stamps.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def _new_ssl_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext:
    if ca_file:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for path in ca_file.split(os.pathsep):
            try:
                context.load_verify_locations(cafile=os.path.expanduser(path))
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise ConfigError(f"cannot load vmware.ca_file {path}: {reason}; give a PEM "
                                  "file with the CA certificate(s) of the vCenter") from None
        return context
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _SessionStub(SoapStubAdapter):
    """SoapStubAdapter with request counting, timeouts, re-login and retries."""

    def __init__(self, settings: ConnectionSettings, context: ssl.SSLContext, version: str):
        super().__init__(host=settings.host, port=settings.port, version=version,
                         sslContext=context, httpConnectionTimeout=settings.connect_timeout,
                         connectionPoolTimeout=-1)
        self.settings = settings
        self.request_count = 0
        self.relogin: Callable[[], None] | None = None
        self._count_lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._naming = threading.local()

    def GetConnection(self) -> Any:  # noqa: N802 (pyVmomi's name)
        conn = super().GetConnection()
        # The connection was made with the connect timeout; reads may take longer.
        conn.timeout = self.settings.read_timeout
        if conn.sock is not None:
            conn.sock.settimeout(self.settings.read_timeout)
        return conn

    def InvokeMethod(self, mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:  # noqa: N802,N803
        attempt = 0
        logged_in_again = False
        while True:
            with self._count_lock:
                self.request_count += 1
                cookie = self.cookie
            try:
                return super().InvokeMethod(mo, info, args, outerStub)
            except vim.fault.NotAuthenticated as fault:
                if self.relogin is None or logged_in_again or info.wsdlName in ("Login", "Logout"):
                    raise self.translate(fault, method=info.wsdlName) from None
                logged_in_again = True
                with self._login_lock:
                    # Threads share the session: only the first one to notice logs in again.
                    if self.cookie == cookie:
                        log.info("vCenter session expired during %s; logging in again",
                                 info.wsdlName)
                        self.relogin()
            except vmodl.MethodFault as fault:
                raise self.translate(fault, method=info.wsdlName) from None
            except (OSError, http.client.HTTPException) as exc:
                if attempt >= self.settings.api_retry_count or not _may_retry(info.wsdlName, exc):
                    raise connect_error(exc, self.settings, during=info.wsdlName,
                                        retries=attempt) from exc
                delay = min(BACKOFF_MAX, BACKOFF_START * 2 ** attempt)
                attempt += 1
                log.warning("vCenter request %s failed (%s); retry %d of %d in %.1f s",
                            info.wsdlName, _describe_os_error(exc), attempt,
                            self.settings.api_retry_count, delay)
                time.sleep(delay)


    def translate(self, fault: Any, *, method: str | None = None,
                  what: str | None = None) -> faults.VSphereFault:
        """The fault as its :mod:`~vmwctl.vsphere.faults` class, told in this session's terms."""
        return faults.translate(fault, method=method, what=what, user=self.settings.username,
                                name_of=self._name_of)

    def _name_of(self, ref: Any) -> str | None:
        """The name of the object a fault names: one property read, on the error path only.
        None when it cannot be read (a refusal while reading it is not explained again)."""
        if not isinstance(ref, vim.ManagedEntity) or getattr(self._naming, "busy", False):
            return None
        self._naming.busy = True
        try:
            return str(ref.name)
        except Exception:  # the name is a courtesy; the fault is what gets reported
            return None
        finally:
            self._naming.busy = False


def _may_retry(method: str, exc: BaseException) -> bool:
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, socket.gaierror | ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, http.client.HTTPException) and not isinstance(
            exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return str(exc).startswith(_RETRY_HTTP_STATUS)
    return method.startswith(_REPEATABLE_PREFIXES)


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _offered_version(body: bytes | None, status: int) -> str:
    """The newest vim25 version of pyVmomi's that vimServiceVersions.xml offers."""
    if body is None:
        log.info("no vimServiceVersions.xml (HTTP %s); using %s", status, FALLBACK_VERSION)
        return FALLBACK_VERSION
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return FALLBACK_VERSION
    offered = set()
    for namespace in root.iter("namespace"):
        if namespace.findtext("name") == "urn:vim25":
            offered.add(namespace.findtext("version"))
            offered.update(v.text for v in namespace.iter("version"))
    for version in VmomiSupport.GetServiceVersions("vim25"):
        if VmomiSupport.versionIdMap.get(version) in offered:
            return version
    return FALLBACK_VERSION


class VCenter:
    """A vCenter session opened on demand and closed with :meth:`close`."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._stub: _SessionStub | None = None
        self._content: Any = None
        self._si: Any = None

    @property
    def content(self) -> Any:
        """The ServiceContent, connecting and logging in on first use."""
        if self._content is None:
            self.connect()
        return self._content

    @property
    def si(self) -> Any:
        if self._si is None:
            self.connect()
        return self._si

    @property
    def stub(self) -> _SessionStub:
        if self._stub is None:
            self.connect()
        assert self._stub is not None
        return self._stub

    @property
    def request_count(self) -> int:
        """SOAP requests sent so far (the version probe is an HTTP GET, not counted)."""
        return self._stub.request_count if self._stub else 0

    @property
    def session_cookie(self) -> str:
        """The session cookie, for datastore HTTP transfers."""
        return self.stub.cookie.split(";", 1)[0]

    def connect(self) -> None:
        """Log in; connected already, the session held so far is logged out first (it
        would stay logged in on vCenter otherwise, its cookie replaced)."""
        self.close()
        s = self.settings
        context = make_ssl_context(s.ca_file, s.insecure)
        try:
            version, probe = self._negotiate_version(context)
            stub = _SessionStub(s, context, version)
            if probe is not None:
                # The probe's connection carries the session too: one TLS handshake, not two.
                stub.ReturnConnection(probe)
            si = vim.ServiceInstance("ServiceInstance", stub)
            content = si.RetrieveContent()
        except (OSError, http.client.HTTPException) as exc:
            raise connect_error(exc, s) from None
        password = s.password()

        def relogin() -> None:
            with held_signals():
                self._login(content, password)

        # From the login on, the session is vCenter's: kept where close() finds it before a
        # signal can stop the run (held_signals), or it would stay logged in.
        with held_signals():
            self._login(content, password)
            stub.relogin = relogin
            self._stub, self._si, self._content = stub, si, content
        log.info("logged in to %s as %s (API %s)", s.url, s.username, content.about.apiVersion)

    def _login(self, content: Any, password: str) -> None:
        s = self.settings
        try:
            content.sessionManager.Login(s.username, password, None)
        except faults.InvalidLogin:
            raise AuthError(f"vCenter {s.address} rejected the login of {s.username}: check "
                            "vmware.host_username and the password source") from None
        except faults.VSphereFault as exc:
            raise AuthError(f"vCenter {s.address} refused the login of {s.username}: "
                            f"{exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise connect_error(exc, s) from None

    def _negotiate_version(self, context: ssl.SSLContext
                           ) -> tuple[str, http.client.HTTPSConnection | None]:
        """The newest API version that both pyVmomi and the server speak, and the probe's
        connection when the server keeps it open (None: it closed it)."""
        s = self.settings
        conn = http.client.HTTPSConnection(s.host, s.port, context=context,
                                           timeout=s.connect_timeout)
        try:
            conn.request("GET", "/sdk/vimServiceVersions.xml")
            response = conn.getresponse()
            body = response.read()
            status = response.status
        except BaseException:
            conn.close()
            raise
        if response.will_close or conn.sock is None:
            conn.close()
            kept = None
        else:
            kept = conn
        return _offered_version(body if status == 200 else None, status), kept

    def close(self) -> None:
        """Log out, quickly and quietly; the session is gone either way. A first Ctrl-C or
        SIGTERM meanwhile waits until the logout is done (held_signals): cut short, it
        would leave the session logged in on vCenter until its idle timeout."""
        if self._stub is None:
            return
        stub, content = self._stub, self._content
        self._stub = self._content = self._si = None
        stub.relogin = None
        stub.settings = dataclasses.replace(stub.settings, api_retry_count=0,
                                            connect_timeout=LOGOUT_TIMEOUT,
                                            read_timeout=LOGOUT_TIMEOUT)
        stub.schemeArgs["timeout"] = LOGOUT_TIMEOUT  # a new connection's (pyVmomi's name)
        with held_signals():
            try:
                content.sessionManager.Logout()
            except Exception as exc:  # logging out is best effort
                log.debug("logout failed: %s", exc)
            finally:
                stub.DropConnections()


def connect_error(exc: BaseException, s: ConnectionSettings, *, during: str | None = None,
                  retries: int = 0) -> VmwctlError:
    """Turn a network or TLS failure into a one-line, actionable error (exit 3)."""
    where = f"vCenter {s.address}"
    after = f" (gave up after {retries} retries)" if retries else ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _DATE_ERRORS:
            hint = "renew the vCenter's certificate"
        elif exc.verify_code in _NAME_MISMATCH:
            hint = (f"the certificate does not name {s.host}: set vmware.host_ip to a name "
                    "it holds, or renew it with this one")
        elif s.ca_file:
            hint = f"{s.ca_file_source} {s.ca_file} does not hold the CA that signed it"
        else:
            hint = "set vmware.ca_file in the profile to the CA bundle that signed it"
        return ConnectError(f"cannot verify the TLS certificate of {where} "
                            f"({exc.verify_message}): {hint}, or pass --insecure to skip "
                            "verification (not recommended; 'vmwctl --insecure check prereqs "
                            "--only certificate' tells what is wrong with the certificate)")
    if during and isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectError(f"the connection to {where} broke off during {during} (the TLS "
                            f"stream ended early){after}; check that vCenter is up and "
                            "reachable, then run the command again")
    if isinstance(exc, ssl.SSLError):
        return ConnectError(f"TLS handshake with {where} failed ({exc.reason or exc}); check "
                            "that vmware.host_port is the vCenter's HTTPS port")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"cannot connect to {where}: connection refused{after}; check "
                            "vmware.host_ip and vmware.host_port, and that vCenter is running")
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve the vCenter host name {s.host!r}; check "
                            "vmware.host_ip")
    if isinstance(exc, TimeoutError | socket.timeout):
        limit = s.read_timeout if during else s.connect_timeout
        call = f" to {during}" if during else ""
        return ConnectError(f"{where} did not answer{call} within {limit:g} s{after}; check "
                            "that vCenter is up and the network path")
    if during:
        return ConnectError(f"the connection to {where} failed during {during} "
                            f"({_describe_os_error(exc)}){after}; check that vCenter is up and "
                            "reachable, then run the command again")
    return ConnectError(f"cannot talk to {where}: {_describe_os_error(exc)}")
