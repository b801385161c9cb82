"""Edges of the checks and profiles against the lab: a selection that checks nothing, an
empty cluster name, an explicit profile beside a broken default, root options after the
command."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

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
