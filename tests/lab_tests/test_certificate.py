"""``check prereqs`` id ``certificate``: the vCenter's certificate and the cloud's HTTPS
endpoints, on simulators started with certificates of the test's choosing (signed by the
lab's CA, see labctl.issue_certificate) and the lab's TLS Keystone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import labctl
import pytest
import yaml
from cryptography import x509
from helpers import write_profile

pytestmark = pytest.mark.lab

VCENTER_RENEW = ("renew the vCenter's certificate (vSphere Client: Administration > "
                 "Certificates > Certificate Management)")
LAB_CA = "CN=vmwctl lab CA"


def prereqs(sim, *args: str, only: str = "certificate", env: dict[str, str] | None = None):
    result = sim.run(*args, "check", "prereqs", "--only", only, "-o", "json", env=env)
    assert result.exit_code in (0, 1), result.stderr
    return result


def certificates(sim, *args: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    return {c["id"]: c for c in prereqs(sim, *args, env=env).json()["checks"]}


def issue(lab: labctl.LabState, tmp_path: Path, name: str, **options) -> tuple[Path, Path]:
    return labctl.issue_certificate(Path(lab.dir), tmp_path / "certs", name, **options)


def expiry(pem: Path | str) -> str:
    cert = x509.load_pem_x509_certificate(Path(pem).read_bytes())
    return f"{cert.not_valid_after_utc:%Y-%m-%d}"


def test_the_lab_certificate_passes_and_costs_no_vsphere_request(simulator, lab) -> None:
    sim = simulator()
    result = prereqs(sim, env={"OS_CLIENT_CONFIG_FILE": lab.clouds_file})
    assert result.exit_code == 0, result.stdout
    found = {c["id"]: c for c in result.json()["checks"]}
    assert list(found) == ["certificate", "certificate.openstack"]
    check = found["certificate"]
    assert check["status"] == "pass"
    assert check["objects"] == [f"127.0.0.1:{sim.port}"]
    head, _, tail = check["detail"].partition(f"; expires {expiry(Path(lab.dir) / 'server.pem')}")
    assert head == (f"vCenter 127.0.0.1:{sim.port}: CN=127.0.0.1 issued by {LAB_CA}; "
                    "SANs IP:127.0.0.1, DNS:localhost")
    assert tail.startswith(" (in 36") and tail.endswith(" days); verified with vmware.ca_file")
    # the profile's cloud is the lab's Glance without Keystone, over plain HTTP
    assert found["certificate.openstack"] == {
        "id": "certificate.openstack", "status": "skip", "objects": [], "remedy": None,
        "detail": f"cloud '{lab.cloud}' has no HTTPS endpoint to check (image service "
                  f"{lab.glance_url}); the service catalog's endpoints need a token and are "
                  "not checked"}
    # handshakes only: as many SOAP requests as the vcenter check alone (the login and the
    # inventory read)
    alone = prereqs(sim, only="vcenter").json()["vsphere_requests"]
    assert result.json()["vsphere_requests"] == alone


def test_a_certificate_that_expires_in_10_days_warns(simulator, lab, tmp_path: Path) -> None:
    cert = issue(lab, tmp_path, "soon", days=10)
    sim = simulator(cert=cert)
    check = certificates(sim)["certificate"]
    assert check["status"] == "warn"
    assert check["detail"] == (
        f"vCenter 127.0.0.1:{sim.port}: CN=127.0.0.1 issued by {LAB_CA}; SANs IP:127.0.0.1, "
        f"DNS:localhost; expires {expiry(cert[0])}, in 10 days; verified with vmware.ca_file")
    assert check["remedy"] == f"{VCENTER_RENEW} before it expires"
    assert sim.run("check", "prereqs", "--only", "certificate").exit_code == 0
    assert sim.run("check", "prereqs", "--only", "certificate", "--strict").exit_code == 1


def test_an_expired_certificate_fails(simulator, lab, tmp_path: Path) -> None:
    cert = issue(lab, tmp_path, "expired", not_before=-30, days=-2)
    sim = simulator(cert=cert)
    # vmwctl cannot connect either; the error says what is wrong and where to look
    refused = sim.run("check", "prereqs")
    assert refused.exit_code == 3
    assert refused.stderr == (
        f"Error: cannot verify the TLS certificate of vCenter 127.0.0.1:{sim.port} "
        "(certificate has expired): renew the vCenter's certificate, or pass --insecure to "
        "skip verification (not recommended; 'vmwctl --insecure check prereqs --only "
        "certificate' tells what is wrong with the certificate)\n")
    result = prereqs(sim, "--insecure")
    assert result.exit_code == 1
    check = {c["id"]: c for c in result.json()["checks"]}["certificate"]
    assert check["status"] == "fail"
    assert check["detail"] == (
        f"vCenter 127.0.0.1:{sim.port}: CN=127.0.0.1 issued by {LAB_CA}; SANs IP:127.0.0.1, "
        f"DNS:localhost; expired {expiry(cert[0])} (2 days ago)")
    assert check["remedy"] == VCENTER_RENEW


def test_a_certificate_that_does_not_name_host_ip_fails(simulator, lab, tmp_path: Path) -> None:
    """With a ca_file, nova-compute verifies the hostname too: it cannot connect."""
    cert = issue(lab, tmp_path, "names", sans=("DNS:vcenter.lab.example", "DNS:*.example"),
                 common_name="vcenter.lab.example")
    sim = simulator(cert=cert)
    refused = sim.run("about")
    assert refused.exit_code == 3
    assert "the certificate does not name 127.0.0.1: set vmware.host_ip to a name it holds" \
        in refused.stderr
    check = certificates(sim, "--insecure")["certificate"]
    assert check["status"] == "fail"
    assert check["detail"] == (
        f"vCenter 127.0.0.1:{sim.port}: CN=vcenter.lab.example issued by {LAB_CA}; SANs "
        "DNS:vcenter.lab.example, DNS:*.example; no IP SAN names 127.0.0.1: hostname "
        f"verification fails; expires {expiry(cert[0])} (in 3650 days); verified with "
        "vmware.ca_file")
    assert check["remedy"] == ("issue a certificate with 127.0.0.1 among its SANs, or set "
                               "vmware.host_ip to a name the certificate holds")
    # a profile that turns verification off: Nova connects, and is warned twice
    insecure = write_profile(sim, tmp_path / "insecure.yaml", ca_file=None, insecure=True)
    check = certificates(sim, "--config", str(insecure))["certificate"]
    assert check["status"] == "warn"
    assert "no IP SAN names 127.0.0.1 (verification would fail without vmware.insecure)" \
        in check["detail"]


def test_insecure_warns_and_names_ca_file(simulator, lab, tmp_path: Path) -> None:
    """vmware.insecure without ca_file: Nova does not verify the vCenter either."""
    sim = simulator(ca_file=None, insecure=True)
    result = prereqs(sim)
    assert result.exit_code == 0
    assert "TLS certificate verification of 127.0.0.1 is off (vmware.insecure)" in result.stderr
    check = {c["id"]: c for c in result.json()["checks"]}["certificate"]
    assert check["status"] == "warn"
    assert check["detail"].startswith(
        f"vCenter 127.0.0.1:{sim.port}: CN=127.0.0.1 issued by {LAB_CA}; SANs IP:127.0.0.1, "
        "DNS:localhost; not verified: vmware.insecure turns verification off, and the system's "
        "CA store would not verify it: unable to get local issuer certificate; expires "
        f"{expiry(Path(lab.dir) / 'server.pem')} (in ")
    assert check["remedy"] == "set vmware.ca_file to the CA bundle that signed it"
    # ca_file wins over insecure, in Nova as in vmwctl: verified, a pass
    both = write_profile(sim, tmp_path / "both.yaml", ca_file=lab.ca_file)
    assert certificates(sim, "--config", str(both))["certificate"]["status"] == "pass"


def test_without_ca_file_the_system_store_decides(simulator) -> None:
    sim = simulator(ca_file=None)
    check = certificates(sim, "--insecure")["certificate"]
    assert check["status"] == "fail"
    assert "; not trusted by the system's CA store (unable to get local issuer certificate)" \
        in check["detail"]
    assert check["remedy"] == f"set vmware.ca_file to the CA bundle that signed it ({LAB_CA})"


# ------------------------------------------------------------------ the cloud's endpoints

def tls_clouds(lab: labctl.LabState, path: Path, keystone: str, image: str) -> Path:
    """Clouds on the TLS Keystone: with the lab's CA, without it, with verify: false."""
    password = lab.keystone_password("operator")
    cloud = {"auth_type": "password", "identity_api_version": 3, "auth": {
        "auth_url": f"{keystone}/v3", "username": "operator", "password": password,
        "project_name": "operators", "user_domain_name": "Default",
        "project_domain_name": "Default"}}
    path.write_text(yaml.safe_dump({"clouds": {
        "ks-tls": {**cloud, "cacert": lab.ca_file, "image_endpoint_override": image},
        "ks-tls-no-ca": cloud, "ks-tls-unverified": {**cloud, "verify": False}}}))
    return path


def test_the_tls_keystone_is_judged(simulator, lab, tls_keystone: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    sim = simulator()
    # an HTTPS image endpoint: the simulator's own, with a certificate expiring soon
    port = tls_keystone.rsplit(":", 1)[1]
    image_sim = simulator(cert=issue(lab, tmp_path, "image", days=10))
    clouds = tls_clouds(lab, tmp_path / "clouds.yaml", tls_keystone,
                        f"https://127.0.0.1:{image_sim.port}/image")
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds)}
    password = lab.keystone_password("operator")

    config = write_profile(sim, tmp_path / "ks.yaml", cloud="ks-tls")
    result = prereqs(sim, "--config", str(config), env=env)
    found = {c["id"]: c for c in result.json()["checks"]}
    assert list(found) == ["certificate", "certificate.identity", "certificate.image"]
    assert found["certificate.identity"]["status"] == "pass"
    assert found["certificate.identity"]["objects"] == [f"127.0.0.1:{port}"]
    head, _, tail = found["certificate.identity"]["detail"].partition("; expires")
    assert head == (f"identity {tls_keystone}/v3: CN=127.0.0.1 issued by {LAB_CA}; SANs "
                    "IP:127.0.0.1, DNS:localhost")
    assert tail.endswith("; verified with the cacert of cloud 'ks-tls'")
    image = found["certificate.image"]
    assert image["status"] == "warn", image
    assert image["detail"].startswith(
        f"image service https://127.0.0.1:{image_sim.port}/image: CN=127.0.0.1 issued by ")
    assert ", in 10 days; verified with the cacert of cloud 'ks-tls'" in image["detail"]
    assert image["remedy"] == (f"renew the certificate of https://127.0.0.1:{image_sim.port}"
                               "/image before it expires")
    outputs = [result.stdout, result.stderr]

    # without cacert, openstacksdk's requests use their own bundle, which lacks the lab's CA
    config = write_profile(sim, tmp_path / "no-ca.yaml", cloud="ks-tls-no-ca")
    result = prereqs(sim, "--config", str(config), env=env)
    assert result.exit_code == 1
    identity = {c["id"]: c for c in result.json()["checks"]}["certificate.identity"]
    assert identity["status"] == "fail"
    assert "; not trusted by requests' CA bundle (unable to get local issuer certificate); " \
        "expires " in identity["detail"]
    assert identity["remedy"] == ("set cacert in the entry of cloud 'ks-tls-no-ca' in "
                                  f"clouds.yaml to the CA bundle that signed it ({LAB_CA})")
    outputs += [result.stdout, result.stderr]

    config = write_profile(sim, tmp_path / "unverified.yaml", cloud="ks-tls-unverified")
    result = prereqs(sim, "--config", str(config), env=env)
    identity = {c["id"]: c for c in result.json()["checks"]}["certificate.identity"]
    assert identity["status"] == "warn"
    assert "; not verified: verify: false in cloud 'ks-tls-unverified' turns verification " \
        "off, and the system's CA store would not verify it: " in identity["detail"]
    assert identity["remedy"] == (
        "set cacert in the entry of cloud 'ks-tls-unverified' in clouds.yaml to the CA bundle "
        "that signed it and drop verify: false in cloud 'ks-tls-unverified'")
    table = sim.run("--config", str(config), "check", "prereqs", "--only", "certificate",
                    env=env)
    assert "certificate.identity" in table.stdout and "WARN" in table.stdout
    outputs += [result.stdout, result.stderr, table.stdout, table.stderr]
    assert not [text for text in outputs if password in text]


def test_without_openstacksdk_the_cloud_is_a_note(simulator, lab) -> None:
    sim = simulator()
    script = ("import sys; sys.modules['openstack'] = None; sys.argv[0] = 'vmwctl'; "
              "from vmwctl.cli.root import main; main()")
    done = subprocess.run([sys.executable, "-c", script, "check", "prereqs", "--only",
                           "certificate", "-o", "json"],
                          env={**os.environ, "VMWCTL_CONFIG": str(sim.config),
                               "OS_CLIENT_CONFIG_FILE": lab.clouds_file},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    found = {c["id"]: c for c in yaml.safe_load(done.stdout)["checks"]}
    assert found["certificate"]["status"] == "pass"
    assert found["certificate.openstack"] == {
        "id": "certificate.openstack", "status": "skip", "objects": [], "remedy": None,
        "detail": "openstacksdk is not installed (pip install 'vmwctl[glance]'): the cloud's "
                  "endpoints are not checked"}
