"""What Nova's cluster-wide figures hide: room per host, HA's reserve, flavors that fit,
CPU uniformity (cluster inspect, cluster list, cluster fit, checks capacity and
cpu-uniformity), on simulators shaped with the lab's -ha, -host-memory, -host-cpu and
-evc-mode."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

# Every lab host has 4,095 MiB (Nova's floor of 4,294,430,720 bytes) and 2 threads.
HOSTS = ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2")
XEON = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz@intel-cascadelake"


def used(**hosts: int) -> list[str]:
    """-host-memory flags: the MB each host uses now."""
    return [flag for name, mb in hosts.items() for flag in ("-host-memory", f"{name}={mb}")]


def fit(sim: Any, *args: str) -> tuple[int, dict[str, dict]]:
    done = sim.run("-o", "json", "cluster", "fit", *args)
    assert done.exit_code in (0, 1), done.stderr
    return done.exit_code, {f["flavor"]["name"]: f for f in done.json()["flavors"]}


def checks(sim: Any, *args: str) -> tuple[int, dict[str, dict]]:
    done = sim.run("-o", "json", "check", "prereqs", "--only", "capacity,cpu-uniformity",
                   *args)
    assert done.exit_code in (0, 1), done.stderr
    return done.exit_code, {c["id"]: c for c in done.json()["checks"]}


def test_inspect_shows_room_per_host_and_the_largest_fit(simulator) -> None:
    sim = simulator(*used(DC0_C0_H0=3000, DC0_C0_H1=1000, DC0_C0_H2=4000))
    report = sim.run("-o", "json", "cluster", "inspect").json()
    free = {h["name"]: h["memory_free_mb"] for h in report["hosts"]}
    assert free == {"DC0_C0_H0": 1095, "DC0_C0_H1": 3095, "DC0_C0_H2": 95}
    room = report["headroom"]
    assert room["free_mb"] == 1095 + 3095 + 95 == report["nova"]["memory_mb_free"]
    assert room["largest_now"] == {"host": "DC0_C0_H1", "memory_mb": 3095, "vcpus": 2}
    assert room["largest_after_ha"] == room["largest_now"]  # no HA: nothing held back
    assert report["ha"]["reserve"]["enabled"] is False
    assert report["cpu"]["uniform"] is True and report["cpu"]["evc_mode"] is None
    listing = sim.run("-o", "json", "cluster", "list").json()["clusters"]
    [c0] = [c for c in listing if c["name"] == "DC0_C0"]
    assert (c0["largest_free_mb"], c0["largest_free_mb_after_ha"]) == (3095, 3095)
    table = sim.run("cluster", "inspect", env={"COLUMNS": "200"})
    assert "3,095 MB, 2 vCPUs (on DC0_C0_H1)" in table.stdout


def test_a_flavor_nova_accepts_that_no_host_holds(simulator, tmp_path: Path) -> None:
    """Free memory below the flavor on every host, total above it: Nova says yes."""
    sim = simulator(*used(DC0_C0_H0=3000, DC0_C0_H1=3000, DC0_C0_H2=3000))
    code, found = fit(sim, "m1.medium:2:2048:20", "m1.small:1:1024:10", "m1.huge:1:3500:10")
    assert code == 1
    medium = found["m1.medium"]
    assert medium["accepted"] is True and medium["refused"] == []
    assert (medium["hosts"], medium["fit_now"], medium["verdict"]) == ([], 0, "drs-moves")
    assert "DRS will have to move VMs" in medium["detail"]
    small = found["m1.small"]
    assert (small["verdict"], small["fit_now"], small["hosts"]) == ("fits", 3, list(HOSTS))
    huge = found["m1.huge"]  # more than the node's 3,285 MB free less Nova's 512 reserved
    assert (huge["accepted"], huge["verdict"]) == (False, "refused")
    assert huge["refused"] == ["3,500 MB > the node's free 2,773"]
    # only flavors that fit: exit 0
    assert fit(sim, "m1.small:1:1024:10")[0] == 0
    # the same from the openstack client's output
    listing = tmp_path / "flavors.json"
    listing.write_text(json.dumps([
        {"ID": "1", "Name": "m1.medium", "RAM": 2048, "Disk": 20, "Ephemeral": 0, "VCPUs": 2,
         "Is Public": True, "Swap": "", "RXTX Factor": 1.0, "Properties": ""},
        {"ID": "2", "Name": "m1.small", "RAM": 1024, "Disk": 8, "Ephemeral": 1, "VCPUs": 1,
         "Is Public": True, "Swap": 1536, "RXTX Factor": 1.0, "Properties": ""}]))
    code, found = fit(sim, "--flavors-file", str(listing))
    assert code == 1 and set(found) == {"m1.medium", "m1.small"}
    assert found["m1.small"]["flavor"]["disk_gb"] == 8 + 1 + 2  # root + ephemeral + swap
    code, found = fit(sim, "m1.small", "--flavors-file", str(listing))
    assert code == 0 and list(found) == ["m1.small"]
    code, found = checks(sim, "--flavors-file", str(listing))
    assert found["capacity"]["status"] == "warn"
    assert found["capacity"]["objects"] == ["m1.medium"]
    assert "m1.medium (2,048 MB)" in found["capacity"]["detail"]


def test_failover_hosts_take_no_instance(simulator) -> None:
    sim = simulator("-ha", "DC0_C0=failover:DC0_C0_H2",
                    *used(DC0_C0_H0=3500, DC0_C0_H1=3500))
    report = sim.run("-o", "json", "cluster", "inspect").json()
    reserve = report["ha"]["reserve"]
    assert (reserve["enabled"], reserve["policy"], reserve["failover_hosts"],
            reserve["memory_mb"]) == (True, "failover-hosts", ["DC0_C0_H2"], 4095)
    assert [h["failover"] for h in report["hosts"]] == [False, False, True]
    assert report["headroom"]["largest_now"]["host"] == "DC0_C0_H2"
    assert report["headroom"]["largest_after_ha"] == {"host": "DC0_C0_H0", "memory_mb": 595,
                                                      "vcpus": 2}
    assert report["headroom"]["free_mb_after_ha"] == 595 * 2
    code, found = fit(sim, "m1.medium:1:2048:10", "m1.tiny:1:512:1")
    assert code == 1
    medium = found["m1.medium"]  # Nova counts H2's free memory; HA keeps H2 empty
    assert (medium["accepted"], medium["hosts"], medium["fit_now"]) == (True, ["DC0_C0_H2"], 1)
    assert (medium["hosts_after_ha"], medium["fit_after_ha"], medium["verdict"]) == \
        ([], 0, "overcommit")
    tiny = found["m1.tiny"]
    assert (tiny["verdict"], tiny["fit_now"], tiny["fit_after_ha"]) == ("fits", 7, 2)
    assert tiny["hosts_after_ha"] == ["DC0_C0_H0", "DC0_C0_H1"]


def test_a_percentage_reserve_refuses_power_on(simulator) -> None:
    sim = simulator("-ha", "DC0_C0=percentage:25,25",
                    *used(DC0_C0_H0=1000, DC0_C0_H1=4000, DC0_C0_H2=4000))
    report = sim.run("-o", "json", "cluster", "inspect").json()
    reserve = report["ha"]["reserve"]
    assert (reserve["policy"], reserve["memory_mb"], reserve["cpu_percent"]) == \
        ("percentage", 3072, 25)  # a quarter of 12,285 MB, rounded up
    assert report["headroom"]["free_mb_after_ha"] == 3095 + 95 + 95 - 3072
    code, found = fit(sim, "m1.medium:1:2048:10", "m1.nano:1:64:1")
    assert code == 1
    medium = found["m1.medium"]
    assert (medium["hosts"], medium["fit_now"], medium["fit_after_ha"], medium["verdict"]) == \
        (["DC0_C0_H0"], 1, 0, "ha-refuses")
    assert "admission control refuses to power it on" in medium["detail"]
    assert (found["m1.nano"]["fit_now"], found["m1.nano"]["fit_after_ha"]) == \
        (48 + 1 + 1, 213 // 64)


def test_capacity_warns_when_ha_holds_more_than_a_host(simulator) -> None:
    held = simulator("-ha", "DC0_C0=slots:2")
    code, found = checks(held)
    assert (code, found["capacity"]["status"]) == (0, "warn")
    assert "HA holds back 8,190 MB" in found["capacity"]["detail"]
    assert "more than the largest host (4,095 MB)" in found["capacity"]["detail"]
    one = simulator("-ha", "DC0_C0=slots:1@500,1024")
    code, found = checks(one)
    assert code == 0
    assert found["capacity"]["status"] == "pass"
    assert "HA holds back 4,095 MB" in found["capacity"]["detail"]
    off = simulator("-ha", "DC0_C0=disabled:slots:2")  # the policy kept, not enforced
    assert checks(off)[1]["capacity"]["status"] == "pass"
    report = off.run("-o", "json", "cluster", "inspect").json()
    assert report["ha"]["reserve"]["detail"] == "admission control is off"


def test_cpu_uniformity(simulator) -> None:
    mixed = simulator("-host-cpu", f"DC0_C0_H2={XEON}")
    code, found = checks(mixed)
    cpu = found["cpu-uniformity"]
    assert (code, cpu["status"], cpu["objects"]) == (0, "warn", ["DC0_C0_H2"])
    assert "DRS and vMotion refuse to move VMs between them" in cpu["detail"]
    assert cpu["remedy"] == ("enable EVC on DC0_C0 at intel-ivybridge, the feature level of "
                             "its oldest hosts")
    strict = mixed.run("check", "prereqs", "--only", "cpu-uniformity", "--strict")
    assert strict.exit_code == 1
    report = mixed.run("-o", "json", "cluster", "inspect").json()
    assert report["cpu"]["uniform"] is False
    assert report["cpu"]["feature_levels"] == {"intel-ivybridge": ["DC0_C0_H0", "DC0_C0_H1"],
                                               "intel-cascadelake": ["DC0_C0_H2"]}
    assert [h["max_evc_mode"] for h in report["hosts"]] == \
        ["intel-ivybridge", "intel-ivybridge", "intel-cascadelake"]
    masked = simulator("-host-cpu", f"DC0_C0_H2={XEON}", "-evc-mode", "DC0_C0=intel-ivybridge")
    cpu = checks(masked)[1]["cpu-uniformity"]
    assert cpu["status"] == "pass"
    assert cpu["detail"].startswith("EVC mode intel-ivybridge: every VM sees the same CPU")
    amd = simulator("-host-cpu", "DC0_C0_H1=AMD EPYC 7302@amd-zen2")
    cpu = checks(amd)[1]["cpu-uniformity"]
    assert cpu["status"] == "warn"
    assert "share no EVC mode" in cpu["remedy"]


def test_no_extra_request_for_the_figures(simulator) -> None:
    """The headroom comes from the inventory read: as many requests with HA's policy, CPUs
    and memory shaped as without."""
    def made(sim: Any) -> dict[str, int]:
        before = sim.calls()["answered"]
        assert sim.run("cluster", "inspect").exit_code == 0
        after = sim.calls()["answered"]
        return {m: after[m] - before.get(m, 0) for m in after if after[m] != before.get(m, 0)}

    plain = made(simulator())
    shaped = made(simulator("-ha", "DC0_C0=failover:DC0_C0_H2", "-host-cpu",
                            f"DC0_C0_H1={XEON}", *used(DC0_C0_H0=3000)))
    assert shaped == plain
    assert "RetrieveProperties" not in plain, plain  # no per-object read


@pytest.fixture
def flavor_api(admin_cloud: str) -> Any:
    """Flavors made in the lab's nova-api for one test, removed after it."""
    import openstack

    admin = openstack.connect(cloud=admin_cloud)
    made: list[str] = []

    def create(name: str, vcpus: int, ram: int, disk: int, **more: Any) -> str:
        answer = admin.compute.request("/flavors", "POST", json={"flavor": {
            "name": name, "vcpus": vcpus, "ram": ram, "disk": disk, **more}})
        made.append(answer.json()["flavor"]["id"])
        return name

    yield create
    for flavor_id in made:
        admin.compute.request(f"/flavors/{flavor_id}", "DELETE", raise_exc=False)
    admin.close()


def test_flavors_from_the_compute_api(admin_cloud, flavor_api, simulator,
                                      tmp_path: Path) -> None:
    from helpers import write_profile

    suffix = uuid.uuid4().hex[:6]
    medium = flavor_api(f"m1.medium-{suffix}", 2, 2048, 20)
    small = flavor_api(f"m1.small-{suffix}", 1, 512, 5, swap=512,
                       **{"OS-FLV-EXT-DATA:ephemeral": 2})
    sim = simulator(*used(DC0_C0_H0=3000, DC0_C0_H1=3000, DC0_C0_H2=3000))
    config = write_profile(sim, tmp_path / "cloud.yaml", cloud=admin_cloud)
    done = sim.run("--config", str(config), "-o", "json", "cluster", "fit", medium, small,
                   "--flavors-from", "api")
    assert done.exit_code == 1, done.stderr
    found = {f["flavor"]["name"]: f for f in done.json()["flavors"]}
    assert found[medium]["verdict"] == "drs-moves"
    assert found[small]["flavor"] == {"name": small, "vcpus": 1, "ram_mb": 512,
                                      "disk_gb": 5 + 2 + 1}
    assert found[small]["verdict"] == "fits"
    missing = sim.run("--config", str(config), "cluster", "fit", f"nope-{suffix}",
                      "--flavors-from", "api")
    assert missing.exit_code == 2
    assert f"no flavor named 'nope-{suffix}'" in missing.stderr


@pytest.mark.parametrize(("argv", "message"), [
    ([], "name a flavor (name:vcpus:ram_mb:disk_gb"),
    (["m1:2:x:1"], "flavor 'm1:2:x:1' is not name:vcpus:ram_mb:disk_gb"),
    (["m1:0:512:1"], "vCPUs and RAM must be at least 1"),
    (["m1", "--flavors-file", "/nonexistent/flavors.json"], "--flavors-file "),
    (["m1:1:1:1", "--flavors-from", "cloud"], "Invalid value for '--flavors-from'"),
])
def test_bad_flavors_are_usage_errors(sim, argv: list[str], message: str) -> None:
    before = sim.calls()["answered"].get("RetrievePropertiesEx", 0)
    done = sim.run("cluster", "fit", *argv)
    assert done.exit_code == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert sim.calls()["answered"].get("RetrievePropertiesEx", 0) == before  # nothing read
