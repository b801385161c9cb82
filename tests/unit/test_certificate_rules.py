"""The ``certificate`` check's rules: SAN matching as Python's TLS check does it, the
certificate's figures, and the verdict on a handshake, without a server (but for a closed
port and a certificate built here)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from inventory import make_context, make_profile

from vmwctl.checks.certificate import (
    CHECK_ID,
    CertificateData,
    Endpoint,
    Trust,
    cloud_endpoints,
    gather_certificate,
    judge_certificate,
    judge_endpoint,
    vcenter_endpoint,
)
from vmwctl.checks.model import Status
from vmwctl.common.tls import Certificate, Handshake, host_matches, parse_certificate, probe
from vmwctl.images.glance import CloudTls

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
CA = "CN=Example CA"


def cert(*, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ("192.0.2.10",),
         not_before: dt.datetime = NOW - dt.timedelta(days=100),
         not_after: dt.datetime = NOW + dt.timedelta(days=365)) -> Certificate:
    return Certificate(subject="CN=vc", issuer=CA, dns_names=list(dns), ip_addresses=list(ips),
                       not_before=not_before, not_after=not_after)


def endpoint(host: str = "192.0.2.10", trust: Trust | None = None) -> Endpoint:
    return Endpoint(CHECK_ID, f"vCenter {host}:443", host, 443,
                    trust or Trust("/etc/ca.pem", "vmware.ca_file"), "vmware.host_ip",
                    "renew it", "set vmware.ca_file to the CA bundle that signed it")


def shake(certificate: Certificate | None, *, verified: bool | None = True,
          error: str | None = None, code: int | None = None) -> Handshake:
    return Handshake(host="192.0.2.10", port=443, checked_at=NOW, certificate=certificate,
                     verified=verified, verify_error=error, verify_code=code)


@pytest.mark.parametrize(("sans", "host", "matches"), [
    ({"ips": ("192.0.2.10",)}, "192.0.2.10", True),
    ({"ips": ("2001:db8::1",)}, "2001:db8:0::1", True),  # compared as addresses
    ({"ips": ("2001:db8::1",)}, "[2001:db8::1]", True),
    ({"ips": (), "dns": ("192.0.2.10",)}, "192.0.2.10", False),  # an address needs an IP SAN
    ({"ips": ("192.0.2.10",)}, "vc.example", False),  # a name needs a DNS SAN
    ({"dns": ("VC.Example.",)}, "vc.example", True),  # case and a final dot do not count
    ({"dns": ("*.example",)}, "vc.example", True),
    ({"dns": ("*.example",)}, "example", False),
    ({"dns": ("*.example",)}, "a.vc.example", False),  # one label only
    ({"dns": ("v*.example",)}, "vc.example", False),  # no partial wildcards
    ({"dns": ("vc.*.example",)}, "vc.lab.example", False),  # leftmost label only
    ({"dns": ("*",)}, "vc", False),
    ({"ips": ()}, "192.0.2.10", False),  # no SAN: the CN does not count
])
def test_host_matches_like_pythons_tls_check(sans: dict, host: str, matches: bool) -> None:
    assert host_matches(cert(**sans), host) is matches


def test_parse_certificate_reads_names_and_dates() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vc.example"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")])
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
             .public_key(key.public_key()).serial_number(7)
             .not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=10))
             .add_extension(x509.SubjectAlternativeName([
                 x509.DNSName("vc.example"), x509.IPAddress(ipaddress.ip_address("192.0.2.10"))]),
                 critical=False)
             .sign(key, hashes.SHA256()))
    parsed = parse_certificate(built.public_bytes(serialization.Encoding.DER))
    assert parsed == Certificate(subject="O=Example,CN=vc.example", issuer=CA,
                                 dns_names=["vc.example"], ip_addresses=["192.0.2.10"],
                                 not_before=NOW, not_after=NOW + dt.timedelta(days=10))
    assert parsed.sans == ["IP:192.0.2.10", "DNS:vc.example"]


def test_a_sound_certificate_passes() -> None:
    result = judge_endpoint(endpoint(), shake(cert()))
    assert (result.status, result.objects) == (Status.PASS, ["192.0.2.10:443"])
    assert result.detail == ("vCenter 192.0.2.10:443: CN=vc issued by CN=Example CA; SANs "
                             "IP:192.0.2.10; expires 2027-06-01 (in 365 days); verified with "
                             "vmware.ca_file")


@pytest.mark.parametrize(("not_before", "not_after", "status", "text"), [
    (NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=29, hours=23), Status.WARN,
     "expires 2026-07-01, in 30 days"),
    (NOW - dt.timedelta(days=1), NOW + dt.timedelta(hours=3), Status.WARN,
     "expires 2026-06-01, in less than a day"),
    (NOW - dt.timedelta(days=9), NOW - dt.timedelta(days=1), Status.FAIL,
     "expired 2026-05-31 (1 day ago)"),
    (NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=400), Status.FAIL,
     "not valid before 2026-06-03 12:00 UTC"),
])
def test_dates(not_before, not_after, status: Status, text: str) -> None:
    date_error = status is Status.FAIL  # OpenSSL's chain check fails on the dates too
    result = judge_endpoint(endpoint(), shake(
        cert(not_before=not_before, not_after=not_after), verified=not date_error,
        error="certificate has expired" if date_error else None, code=10 if date_error else None))
    assert result.status is status
    assert text in result.detail
    assert "not trusted" not in result.detail  # the dates, not the chain
    assert result.remedy is not None and result.remedy.startswith("renew it")


def test_a_host_the_sans_do_not_name_fails_unless_verification_is_off() -> None:
    result = judge_endpoint(endpoint("vc.example"), shake(cert(dns=("other.example",))))
    assert result.status is Status.FAIL
    assert "no DNS SAN names vc.example: hostname verification fails" in result.detail
    assert result.remedy == ("issue a certificate with vc.example among its SANs, or set "
                             "vmware.host_ip to a name the certificate holds")
    off = Trust(None, "the system's CA store", off="vmware.insecure")
    result = judge_endpoint(endpoint("vc.example", off), shake(cert(), verified=True))
    assert result.status is Status.WARN
    assert "no DNS SAN names vc.example (verification would fail without vmware.insecure)" \
        in result.detail
    assert "turns verification off, though the system's CA store verifies it" in result.detail


def test_an_unknown_ca_fails_and_a_handshake_failure_too() -> None:
    result = judge_endpoint(endpoint(), shake(cert(), verified=False, code=20,
                                              error="unable to get local issuer certificate"))
    assert result.status is Status.FAIL
    assert "not trusted by vmware.ca_file (unable to get local issuer certificate)" \
        in result.detail
    assert result.remedy == f"set vmware.ca_file to the CA bundle that signed it ({CA})"
    refused = Handshake(host="192.0.2.10", port=443, checked_at=NOW, error="connection refused")
    result = judge_endpoint(endpoint(), refused)
    assert (result.status, result.detail) == (
        Status.FAIL, "vCenter 192.0.2.10:443: no certificate read: connection refused")


def test_the_vcenter_trust_follows_nova() -> None:
    """ca_file wins over insecure; insecure alone turns verification off."""
    def trust(**vmware: object) -> Trust:
        found = vcenter_endpoint(make_context(profile=make_profile(vmware={
            "host_ip": "vc.example", **vmware})))
        assert found is not None
        return found.trust

    assert trust(ca_file="/ca.pem", insecure=True) == Trust("/ca.pem", "vmware.ca_file")
    assert trust(insecure=True) == Trust(None, "the system's CA store", off="vmware.insecure")
    assert trust() == Trust(None, "the system's CA store")
    assert vcenter_endpoint(make_context(profile=make_profile())) is None


def test_cloud_endpoints() -> None:
    tls = CloudTls(cloud="c", identity="https://user:pw@keystone.example/v3",
                   image="http://glance.example:9292", ca_file="/ca.pem", trust="cacert")
    found, note = cloud_endpoints(tls)
    assert note is None
    [identity] = found
    assert (identity.check_id, identity.label, identity.host, identity.port) == (
        "certificate.identity", "identity https://keystone.example/v3", "keystone.example", 443)
    found, note = cloud_endpoints(CloudTls(cloud="c", image="http://glance.example:9292"))
    assert found == []
    assert note == ("cloud 'c' has no HTTPS endpoint to check (image service "
                    "http://glance.example:9292); the service catalog's endpoints need a token "
                    "and are not checked")


def test_judge_without_a_vcenter_host_and_a_cloud_note() -> None:
    results = judge_certificate(make_context(), CertificateData(openstack_note="no sdk"))
    assert [(r.id, r.status) for r in results] == [
        ("certificate", Status.SKIP), ("certificate.openstack", Status.SKIP)]


def test_a_closed_port_is_a_failure_not_an_exception() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    found = probe("127.0.0.1", port, timeout=5)
    assert (found.certificate, found.error) == (None, "connection refused")
    ctx = make_context(profile=make_profile(vmware={"host_ip": "127.0.0.1", "host_port": port}))
    data = gather_certificate(None, ctx)
    [result] = judge_certificate(ctx, data)
    assert result.status is Status.FAIL
    assert result.detail == f"vCenter 127.0.0.1:{port}: no certificate read: connection refused"
