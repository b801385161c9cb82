"""Edges of the checks and profiles against the lab: a selection that checks nothing, an
empty cluster name, the fleet's default, an explicit profile beside a broken default, root
options after the command, and the remedy of check privileges."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers import write_fleet_nova_conf

pytestmark = pytest.mark.lab


def sim_profile(sim, **vmware: object) -> dict:
    profile = copy.deepcopy(yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"])
    profile["vmware"].update(vmware)
    return profile


def config(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


def test_only_nova_conf_without_the_file_is_a_usage_error_not_a_pass(sim) -> None:
    result = sim.run("check", "prereqs", "--only", "nova-conf")
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr == ("Error: --only nova-conf leaves no check to run: the nova-conf "
                             "checks need --nova-conf FILE\n")
    result = sim.run("check", "prereqs", "--skip", "network", "--only", "network", "-o", "json")
    assert result.exit_code == 2
    assert "leaves no check to run" in result.json()["error"]["message"]


def test_only_nova_conf_with_the_file_runs_its_checks(sim, tmp_path: Path) -> None:
    nova_conf = tmp_path / "nova.conf"
    nova_conf.write_text("[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n[vmware]\n"
                         "host_ip = 127.0.0.1\nhost_username = u\nhost_password = p\n"
                         "cluster_name = DC0_C0\n")
    result = sim.run("check", "prereqs", "--only", "nova-conf", "--nova-conf", str(nova_conf),
                     "-o", "json")
    ids = [c["id"] for c in result.json()["checks"]]
    assert ids and all(i.startswith("nova-conf.") for i in ids), ids


def test_an_empty_cluster_name_is_a_usage_error_not_the_profiles_cluster(sim) -> None:
    result = sim.run("check", "prereqs", "--cluster", "", "-o", "json")
    assert result.exit_code == 2
    assert result.json() == {"error": {
        "message": "--cluster is empty: name a cluster, or leave the option out for the "
                   "profile's vmware.cluster_name (see 'vmwctl check prereqs --help')",
        "exit_code": 2}}
    result = sim.run("cluster", "inspect", "")
    assert result.exit_code == 2
    assert result.stderr == ("Error: NAME is empty: name a cluster, or leave it out for the "
                             "profile's vmware.cluster_name (see 'vmwctl cluster inspect "
                             "--help')\n")


def test_fleet_checks_every_profile_and_the_nova_conf_files(simulator, lab,
                                                           tmp_path: Path) -> None:
    a, b = simulator("-cluster", "2"), simulator()
    path = config(tmp_path / "fleet.yaml", {"profiles": {
        "a1": {**sim_profile(a), "availability_zone": "az-a", "DEFAULT": {"my_ip": "10.0.0.1"}},
        "a2": {**sim_profile(a, cluster_name="DC0_C1"), "availability_zone": "az-a",
               "DEFAULT": {"my_ip": "10.0.0.2"}}}})
    nova_conf = write_fleet_nova_conf(tmp_path / "nova-b.conf", b.port, lab)
    result = a.run("--config", str(path), "check", "fleet", "--nova-conf", str(nova_conf),
                   "-o", "json")
    assert result.exit_code == 0, result.stdout
    document = result.json()
    reach = {c["id"]: c for c in document["checks"]}["fleet-reachability"]
    assert reach["objects"] == ["a1", "a2", str(nova_conf)]
    assert (document["services"], document["vcenters"]) == (3, 2)
    table = a.run("--config", str(path), "check", "fleet", "--nova-conf", str(nova_conf))
    assert table.stdout.splitlines()[0].rstrip() == "3 nova-compute services on 2 vCenters"
    one = a.run("--config", str(path), "check", "fleet", "--profiles", "a1")
    assert one.stdout.splitlines()[0].rstrip() == "1 nova-compute service on 1 vCenter"
    assert lab.password not in result.stdout + table.stdout


def test_an_explicit_profile_works_beside_a_broken_default(sim, tmp_path: Path) -> None:
    path = config(tmp_path / "vmwctl.yaml", {"default_profile": "gone", "profiles": {
        "prod": sim_profile(sim)}})
    result = sim.run("--config", str(path), "-p", "prod", "-o", "json", "about")
    assert result.exit_code == 0, result.stderr
    assert result.json()["api_type"] == "VirtualCenter"
    # the root options after the command, as a user types them
    after = sim.run("about", "--config", str(path), "-p", "prod", "-o", "json")
    assert after.exit_code == 0, after.stderr
    assert after.json()["instance_uuid"] == result.json()["instance_uuid"]
    broken = sim.run("--config", str(path), "about")
    assert broken.exit_code == 2
    assert "default_profile 'gone' is not a profile in this file (prod)" in broken.stderr


def test_a_principal_without_privileges_is_told_the_remedy(sim) -> None:
    result = sim.run("check", "privileges", "--principal", "nobody", "-o", "json")
    assert result.exit_code == 1
    document = result.json()
    assert len(document["missing"]) == 44
    assert document["remedy"] == ("grant the role with the guide's privileges on the "
                                  "Datacenter, propagated: 'vmwctl role create --grant nobody'")
    table = sim.run("check", "privileges", "--principal", "nobody", "--datacenter", "DC0")
    assert table.exit_code == 1
    assert table.stdout.splitlines()[-1].rstrip() == (
        "remedy: grant the role with the guide's privileges on the Datacenter, propagated: "
        "'vmwctl role create --grant nobody --datacenter DC0'")
    ok = sim.run("check", "privileges", "-o", "json")
    assert (ok.exit_code, ok.json()["remedy"]) == (0, None)


def test_a_role_that_lacks_privileges_is_told_the_remedy(sim) -> None:
    vc = sim.connect()
    vc.content.authorizationManager.AddAuthorizationRole(name="partial",
                                                         privIds=["Datastore.Browse"])
    result = sim.run("check", "privileges", "--role", "partial", "-o", "json")
    assert result.exit_code == 1
    assert len(result.json()["missing"]) == 43
    assert result.json()["remedy"] == ("give the role exactly the guide's privileges: "
                                       "'vmwctl role create --name partial'")
