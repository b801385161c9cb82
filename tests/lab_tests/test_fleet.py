"""``check fleet``: two simulators (two "vCenters" on two loopback ports), several services."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import write_fleet_nova_conf

pytestmark = pytest.mark.lab


@pytest.fixture
def vcenters(simulator):
    """Two vCenters: A with two clusters sharing its datastore, B with one."""
    return simulator("-cluster", "2"), simulator()


def profile(sim, *, cluster: str = "DC0_C0", zone: str | None = None, my_ip: str | None = None,
            cache_prefix: str | None = None, port: int | None = None) -> dict:
    base = copy.deepcopy(yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"])
    base["vmware"]["cluster_name"] = cluster
    if port is not None:
        base["vmware"]["host_port"] = port
    if cache_prefix:
        base["vmware"]["cache_prefix"] = cache_prefix
    base["DEFAULT"] = {"my_ip": my_ip} if my_ip else {}
    if zone:
        base["availability_zone"] = zone
    return base


def fleet(sim, tmp_path: Path, profiles: dict, *args: str):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    path.chmod(0o600)
    result = sim.run("--config", str(path), "check", "fleet", "-o", "json", *args)
    document = result.json() if result.stdout.startswith("{") else {}
    checks = {c["id"]: c for c in document.get("checks", [])}
    return result, checks


def sound_fleet(a: Any, b: Any, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Two services of one zone on vCenter a (two clusters), one of another zone on b."""
    return fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
        "a2": profile(a, cluster="DC0_C1", zone="az-a", my_ip="10.0.0.2"),
        "b1": profile(b, zone="az-b", my_ip="10.0.0.3")})


def test_a_sound_fleet_passes(vcenters, tmp_path: Path) -> None:
    a, b = vcenters
    result, checks = sound_fleet(a, b, tmp_path)
    assert result.exit_code == 0, result.stdout
    assert {k: c["status"] for k, c in checks.items()} == {
        "fleet-reachability": "pass", "fleet-az": "pass", "fleet-cluster-owner": "pass",
        "fleet-cache": "pass"}
    assert "1 shared datastores" in checks["fleet-cache"]["detail"]
    assert result.json()["vcenter"] == "2 vCenters"


def test_each_service_costs_one_connection_and_six_calls(vcenters, tmp_path: Path) -> None:
    """Per service: one connection (the version probe's carries the session), the login,
    one view and one page of the whole vCenter, the logout."""
    a, b = vcenters
    result, checks = sound_fleet(a, b, tmp_path)
    assert result.exit_code == 0, result.stdout
    assert "DC0_C1" in " ".join(checks["fleet-cluster-owner"]["objects"])
    one = {"RetrieveServiceContent": 1, "Login": 1, "CreateContainerView": 1,
           "RetrievePropertiesEx": 1, "DestroyView": 1, "Logout": 1}
    assert b.calls()["answered"] == one and b.connections() == 1
    assert a.calls()["answered"] == {method: 2 for method in one} and a.connections() == 2


def test_zones(vcenters, tmp_path: Path) -> None:
    a, b = vcenters
    _, checks = fleet(a, tmp_path, {"a1": profile(a, zone="az-1", my_ip="10.0.0.1"),
                                    "b1": profile(b, zone="az-1", my_ip="10.0.0.2")})
    assert checks["fleet-az"]["status"] == "fail"
    assert "zone 'az-1' holds 2 vCenters" in checks["fleet-az"]["detail"]
    result, checks = fleet(a, tmp_path, {"a1": profile(a, my_ip="10.0.0.1"),
                                         "b1": profile(b, my_ip="10.0.0.2")})
    assert result.exit_code == 1 and "zone 'nova'" in checks["fleet-az"]["detail"]
    _, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-1", my_ip="10.0.0.1"),
        "a2": profile(a, cluster="DC0_C1", zone="az-2", my_ip="10.0.0.2")})
    assert checks["fleet-az"]["status"] == "warn"
    assert checks["fleet-az"]["objects"] == ["a1", "a2"]


def test_cluster_owners(vcenters, tmp_path: Path) -> None:
    a, b = vcenters
    result, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
        "a1-again": profile(a, zone="az-a", my_ip="10.0.0.2"),
        "b1": profile(b, zone="az-b", my_ip="10.0.0.3")})
    assert result.exit_code == 1
    owner = checks["fleet-cluster-owner"]
    assert owner["status"] == "fail" and owner["objects"] == ["a1", "a1-again"]
    assert "claimed by a1, a1-again" in owner["detail"]
    # B's cluster has the same name and moref as A's, but B is another vCenter
    _, checks = fleet(a, tmp_path, {"a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
                                    "b1": profile(b, zone="az-b", my_ip="10.0.0.3"),
                                    "lost": profile(b, cluster="nope", zone="az-b",
                                                    my_ip="10.0.0.4")})
    assert checks["fleet-cluster-owner"]["status"] == "fail"
    assert checks["fleet-cluster-owner"]["objects"] == ["lost"]


def test_cache_folders(vcenters, tmp_path: Path) -> None:
    a, _ = vcenters
    _, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
        "a2": profile(a, cluster="DC0_C1", zone="az-a", my_ip="10.0.0.1")})
    assert checks["fleet-cache"]["status"] == "fail"
    assert "[LocalDS_0] 10.0.0.1_base used by a1, a2" in checks["fleet-cache"]["detail"]
    _, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", cache_prefix="shared"),
        "a2": profile(a, cluster="DC0_C1", zone="az-a", cache_prefix="shared")})
    assert checks["fleet-cache"]["status"] == "warn"
    assert "shared_base shared by a1, a2 (cache_prefix)" in checks["fleet-cache"]["detail"]
    _, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", cache_prefix="one"),
        "a2": profile(a, cluster="DC0_C1", zone="az-a", cache_prefix="two")})
    assert checks["fleet-cache"]["status"] == "pass"


def test_an_unreachable_vcenter_is_a_failed_check_not_exit_3(vcenters, tmp_path: Path) -> None:
    a, b = vcenters
    result, checks = fleet(a, tmp_path, {
        "a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
        "gone": profile(b, zone="az-c", my_ip="10.0.0.9", port=9)}, "--timeout", "2")
    assert result.exit_code == 1
    reach = checks["fleet-reachability"]
    assert reach["status"] == "fail" and reach["objects"] == ["gone"]
    assert "127.0.0.1:9" in reach["detail"] and "connection refused" in reach["detail"]
    assert checks["fleet-az"]["status"] == "pass"  # gone is its own vCenter, by address


def test_profiles_and_nova_conf_files(vcenters, lab, tmp_path: Path) -> None:
    a, b = vcenters
    nova_conf = write_fleet_nova_conf(tmp_path / "nova-b.conf", b.port, lab)
    result, checks = fleet(a, tmp_path, {"a1": profile(a, zone="az-a", my_ip="10.0.0.1"),
                                         "ignored": profile(a, zone="az-a", my_ip="10.0.0.1")},
                           "--profiles", "a1", "--nova-conf", str(nova_conf))
    assert result.exit_code == 0, result.stdout
    assert checks["fleet-reachability"]["objects"] == ["a1", str(nova_conf)]
    assert lab.password not in result.stdout + result.stderr
    unknown, _ = fleet(a, tmp_path, {"a1": profile(a)}, "--profiles", "a1,zz")
    assert unknown.exit_code == 2 and "no profile 'zz'" in unknown.json()["error"]["message"]


def test_a_warning_shared_by_profiles_is_said_once(vcenters, tmp_path: Path) -> None:
    a, _ = vcenters
    insecure = {**profile(a, zone="az-a", my_ip="10.0.0.1")}
    insecure["vmware"] = {**insecure["vmware"], "insecure": True, "ca_file": None}
    twin = copy.deepcopy(insecure)
    twin["vmware"]["cluster_name"] = "DC0_C1"
    twin["DEFAULT"] = {"my_ip": "10.0.0.2"}
    result, _ = fleet(a, tmp_path, {"a1": insecure, "a2": twin})
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == ["Warning: TLS certificate verification of 127.0.0.1 is off "
                        "(vmware.insecure)"], result.stderr
