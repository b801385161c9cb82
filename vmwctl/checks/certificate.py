"""The ``certificate`` check: the TLS certificates of the vCenter and of the cloud's HTTPS
endpoints, judged as their clients verify them.

The vCenter (``certificate``), as nova-compute verifies it: against
``vmware.ca_file`` when it is set (``insecure`` is then ignored), else the
system's store unless ``vmware.insecure`` turns verification off. The cloud the
profile names (``certificate.identity``: auth_url; ``certificate.image``: the
image endpoint clouds.yaml sets; the catalog's would need a token), as
openstacksdk verifies them: the cloud's cacert (or OS_CACERT), else requests'
bundle, unless ``verify: false`` or ``insecure: true``. Plain-HTTP endpoints
carry no certificate. Each handshake is read even when verification fails (see
:mod:`vmwctl.common.tls`); no SOAP request is made.
"""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vmwctl.checks.model import CheckResult, Context, Status, failed, passed, skipped, warned
from vmwctl.common.tls import DEFAULT_TIMEOUT, Handshake, host_matches, is_address, probe
from vmwctl.common.words import plural
from vmwctl.errors import ConfigError, MissingExtra
from vmwctl.images.glance import CloudTls, cloud_tls

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

CHECK_ID = "certificate"
OPENSTACK_ID = "certificate.openstack"
SOON_DAYS = 30  # a certificate that expires sooner warns
VCENTER_RENEW = ("renew the vCenter's certificate (vSphere Client: Administration > "
                 "Certificates > Certificate Management)")


@dataclass
class Trust:
    """How a client verifies an endpoint: the CA file (None: the system's store) and where
    it comes from; ``off``: the setting that turns verification off (the chain is still
    checked against the store, to say whether the setting is needed)."""

    ca_file: str | None
    source: str
    off: str | None = None


@dataclass
class Endpoint:
    """One endpoint to judge: its check id, what to call it, where it is, how it is trusted."""

    check_id: str
    label: str
    host: str
    port: int
    trust: Trust
    setting: str  # the setting that names the host, for the mismatch remedy
    renew: str  # how to renew its certificate
    trust_remedy: str  # how to give its client the CA


@dataclass
class CertificateData:
    """The handshakes with each endpoint (in the order of ``endpoints``), and what the
    cloud's side could not tell: a skip note."""

    endpoints: list[Endpoint] = field(default_factory=list)
    handshakes: list[Handshake] = field(default_factory=list)
    openstack_note: str | None = None


def vcenter_endpoint(ctx: Context) -> Endpoint | None:
    v = ctx.profile.vmware
    if not v.host_ip:
        return None
    if v.ca_file:
        trust = Trust(v.ca_file, "vmware.ca_file")
    elif v.insecure:
        trust = Trust(None, "the system's CA store", off="vmware.insecure")
    else:
        trust = Trust(None, "the system's CA store")
    host = f"[{v.host_ip}]" if ":" in v.host_ip else v.host_ip
    return Endpoint(CHECK_ID, f"vCenter {host}:{v.host_port}", v.host_ip, v.host_port, trust,
                    "vmware.host_ip",
                    VCENTER_RENEW, "set vmware.ca_file to the CA bundle that signed it")


def _url_endpoint(check_id: str, what: str, url: str, tls: CloudTls) -> Endpoint | None:
    """The endpoint of an HTTPS ``url`` (None for plain HTTP, which has no certificate)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # no userinfo
    if tls.unverified_by:
        trust = Trust(None, "the system's CA store",
                      off=f"{tls.unverified_by} in cloud '{tls.cloud}'")
    else:
        trust = Trust(tls.ca_file, tls.trust)
    remedy = f"set cacert in the entry of cloud '{tls.cloud}' in clouds.yaml to the CA " \
             "bundle that signed it"
    return Endpoint(check_id, f"{what} {shown}", parts.hostname, parts.port or 443, trust,
                    f"the {what} URL", f"renew the certificate of {shown}", remedy)


def cloud_endpoints(tls: CloudTls) -> tuple[list[Endpoint], str | None]:
    """The cloud's HTTPS endpoints, and a note when it has none."""
    urls = [("certificate.identity", "identity", tls.identity),
            ("certificate.image", "image service", tls.image)]
    found = [e for check_id, what, url in urls if url
             if (e := _url_endpoint(check_id, what, url, tls)) is not None]
    if found:
        return found, None
    named = ", ".join(f"{what} {urlsplit(url).scheme}://{urlsplit(url).netloc.rpartition('@')[2]}"
                      for _, what, url in urls if url)
    return [], (f"cloud '{tls.cloud}' has no HTTPS endpoint to check"
                + (f" ({named})" if named else "")
                + "; the service catalog's endpoints need a token and are not checked")


def gather_certificate(vc: VCenter | None, ctx: Context) -> CertificateData:
    """Both handshakes with each endpoint, concurrently; no SOAP request."""
    data = CertificateData()
    vcenter = vcenter_endpoint(ctx)
    if vcenter is not None:
        data.endpoints.append(vcenter)
    try:
        tls = cloud_tls(ctx.profile, ctx.env or {})
    except MissingExtra:
        data.openstack_note = ("openstacksdk is not installed (pip install 'vmwctl[glance]'): "
                               "the cloud's endpoints are not checked")
    except ConfigError as exc:
        data.openstack_note = f"the cloud's endpoints are not checked: {exc}"
    else:
        if tls is not None:
            endpoints, data.openstack_note = cloud_endpoints(tls)
            data.endpoints.extend(endpoints)
    timeout = vc.settings.connect_timeout if vc is not None else DEFAULT_TIMEOUT
    if data.endpoints:
        with ThreadPoolExecutor(max_workers=len(data.endpoints)) as pool:
            data.handshakes = list(pool.map(
                lambda e: probe(e.host, e.port, ca_file=e.trust.ca_file, timeout=timeout),
                data.endpoints))
    return data


def _days(delta: datetime.timedelta) -> str:
    """A positive span in whole days, rounded ("10 days" for 9 days and 23 hours)."""
    days = round(delta.total_seconds() / 86400)
    return "less than a day" if days < 1 else plural(days, "day")


def _describe(endpoint: Endpoint, found: Handshake) -> str:
    cert = found.certificate
    assert cert is not None
    sans = ", ".join(cert.sans) or "none"
    return f"{endpoint.label}: {cert.subject} issued by {cert.issuer}; SANs {sans}"


def judge_endpoint(endpoint: Endpoint, found: Handshake) -> CheckResult:
    """One endpoint's verdict: fail where its client cannot connect (expired, not yet
    valid, a host its SANs do not name, a CA it does not trust), warn when it expires
    within 30 days or is trusted only because verification is off."""
    check_id, where = endpoint.check_id, [found.address]
    if found.error or found.certificate is None:
        return failed(check_id, f"{endpoint.label}: no certificate read: "
                      f"{found.error}", where,
                      f"check that {endpoint.setting} and its port name an HTTPS endpoint")
    cert = found.certificate
    now = found.checked_at
    problems: list[tuple[Status, str, str]] = []  # status, what, remedy
    dates = ""
    if cert.not_before and now < cert.not_before:
        problems.append((Status.FAIL, f"not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC",
                         f"{endpoint.renew}, or fix the clock of one side"))
    if cert.not_after:
        left = cert.not_after - now
        if left < datetime.timedelta(0):
            problems.append((Status.FAIL, f"expired {cert.not_after:%Y-%m-%d} "
                             f"({_days(-left)} ago)", endpoint.renew))
        elif left < datetime.timedelta(days=SOON_DAYS):
            problems.append((Status.WARN, f"expires {cert.not_after:%Y-%m-%d}, in "
                             f"{_days(left)}", f"{endpoint.renew} before it expires"))
        else:
            dates = f"; expires {cert.not_after:%Y-%m-%d} (in {_days(left)})"
    trust = endpoint.trust
    if not host_matches(cert, endpoint.host):
        kind = "IP SAN" if is_address(endpoint.host) else "DNS SAN"
        what = f"no {kind} names {endpoint.host}"
        remedy = (f"issue a certificate with {endpoint.host} among its SANs, or set "
                  f"{endpoint.setting} to a name the certificate holds")
        if trust.off:
            problems.append((Status.WARN, f"{what} (verification would fail without "
                             f"{trust.off})", remedy))
        else:
            problems.append((Status.FAIL, f"{what}: hostname verification fails", remedy))
    if trust.off:
        store = ("though the system's CA store verifies it" if found.verified else
                 f"and the system's CA store would not verify it: {found.verify_error}")
        problems.append((Status.WARN, f"not verified: {trust.off} turns verification off, "
                         f"{store}", endpoint.trust_remedy
                         + (f" and drop {trust.off}" if "cloud" in trust.off else "")))
    elif found.verified is False and not found.date_error:
        problems.append((Status.FAIL, f"not trusted by {trust.source} ({found.verify_error})",
                         f"{endpoint.trust_remedy} ({cert.issuer})"))
    elif found.verified:
        dates += f"; verified with {trust.source}"
    detail = _describe(endpoint, found)
    if not problems:
        return passed(check_id, detail + dates, where)
    worst = Status.FAIL if any(p[0] is Status.FAIL for p in problems) else Status.WARN
    text = f"{detail}; " + "; ".join(p[1] for p in problems) + dates
    remedy = "; ".join(dict.fromkeys(p[2] for p in problems))
    return (failed if worst is Status.FAIL else warned)(check_id, text, where, remedy)


def judge_certificate(ctx: Context, data: CertificateData) -> list[CheckResult]:
    """A result per endpoint (the vCenter's first), and the note on the cloud's."""
    results = [judge_endpoint(e, h) for e, h in zip(data.endpoints, data.handshakes,
                                                    strict=True)]
    if not any(e.check_id == CHECK_ID for e in data.endpoints):
        results.insert(0, skipped(CHECK_ID, "no vmware.host_ip in the profile"))
    if data.openstack_note:
        results.append(skipped(OPENSTACK_ID, data.openstack_note))
    return results
