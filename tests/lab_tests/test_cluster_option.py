"""The one cluster resolver (cli/options.py ClusterFlag), on every command that takes a cluster.

The commands are found by walking the command tree for the resolver's option or
argument, so that a new command with ``--cluster`` is covered here as it is
written. One simulator serves every case: two datacenters, where DC0_C1 names
two clusters (DC1_C1 renamed), and the profile names DC0_C0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from helpers import cluster_commands, write_config, write_profile
from labimages import iso_image, upload
from pyVmomi import vim

from vmwctl.cli.options import ClusterArgument, ClusterOption
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

COMMANDS = cluster_commands()
UNKNOWN = "Error: no cluster named 'Nope' (clusters: DC0_C0, DC0_C1, DC1_C0)\n"
TWICE = "Error: 2 clusters are named 'DC0_C1': /DC0/host/DC0_C1, /DC1/host/DC0_C1\n"


@pytest.fixture(scope="module")
def lab_sim(module_simulator, lab, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The simulator, with what the commands need before they look for the cluster: an image
    in Glance, a valid VIB, a ruleset id (by parameter name)."""
    sim = module_simulator("-dc", "2", "-cluster", "2")
    vc = sim.connect()
    view = vc.content.viewManager.CreateContainerView(
        vc.content.rootFolder, [vim.ClusterComputeResource], True)
    twin = next(c for c in view.view if c.name == "DC1_C1")
    view.Destroy()
    wait_for_task(vc, twin.Rename_Task("DC0_C1"), what="renaming")
    root = tmp_path_factory.mktemp("inputs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OS_CLIENT_CONFIG_FILE", lab.clouds_file)
        image = upload(sim.config, iso_image(root / "cluster.iso"), "cluster-option",
                       disk_format="iso")
    vib = sim.run("firewall", "vib", "build", str(root), "-o", "json")
    assert vib.exit_code == 0, vib.stderr
    return sim, {"image": image, "file": vib.json()["path"], "ruleset_id": "gdbserver",
                 "flavors": "m1.small:1:512:1"}  # cluster fit's FLAVOR..., optional


def invocation(path: str, command: click.Command, cluster: str, values: dict[str, str]
               ) -> list[str]:
    """The command with ``cluster`` and a value for each other required parameter."""
    args = path.split()
    for param in command.params:
        if isinstance(param, ClusterOption | ClusterArgument):
            args += [cluster] if isinstance(param, click.Argument) else ["--cluster", cluster]
        elif param.required or (isinstance(param, click.Argument) and param.name in values):
            if param.name not in values:
                pytest.fail(f"{path}: give lab_sim a value for its parameter {param.name!r}")
            value = values[param.name]
            args += [value] if isinstance(param, click.Argument) else [param.opts[0], value]
    return args


@pytest.mark.parametrize(("cluster", "message"), [("Nope", UNKNOWN), ("DC0_C1", TWICE)],
                         ids=["unknown", "ambiguous"])
@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_an_explicit_cluster_must_exist_once(lab_sim, lab_env, path: str, cluster: str,
                                             message: str) -> None:
    sim, values = lab_sim
    result = sim.run(*invocation(path, COMMANDS[path], cluster, values))
    assert (result.exit_code, result.stderr, result.stdout) == (2, message, "")


def test_the_profiles_cluster_where_it_does_not_exist(lab_sim, lab_env, tmp_path: Path) -> None:
    sim, _ = lab_sim
    config = write_profile(sim, tmp_path / "gone.yaml", cluster_name="Gone")

    def run(*args: str) -> Any:
        return sim.run("--config", str(config), *args)

    # commands that act on the cluster: a usage error naming the profile
    result = run("cluster", "inspect")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: no cluster named 'Gone' (clusters: DC0_C0, DC0_C1, DC1_C0); it is the "
        "vmware.cluster_name of profile 'sim': set it to an existing cluster, or pass NAME\n")
    result = run("firewall", "status")
    assert result.exit_code == 2 and "pass --cluster NAME" in result.stderr
    assert run("cache", "list", "--no-glance").exit_code == 2
    # commands that do without: as before
    listing = run("cluster", "list", "-o", "json")
    assert listing.exit_code == 0
    assert not any(c["selected"] for c in listing.json()["clusters"])
    assert run("cache", "list", "--no-glance", "--datastore", "LocalDS_0").exit_code == 0
    assert run("check", "privileges", "--datacenter", "DC0").exit_code == 0
    # check prereqs: Nova would not start, a failed finding
    result = run("check", "prereqs", "--only", "cluster", "-o", "json")
    assert result.exit_code == 1
    [check] = result.json()["checks"]
    assert (check["id"], check["status"]) == ("cluster", "fail")
    assert "no cluster named 'Gone'" in check["detail"]


def test_the_profiles_cluster_and_no_cluster_at_all(lab_sim, lab_env, tmp_path: Path) -> None:
    sim, _ = lab_sim
    listing = sim.run("cluster", "list", "-o", "json")
    assert [c["path"] for c in listing.json()["clusters"] if c["selected"]] == \
        ["/DC0/host/DC0_C0"]
    assert sim.run("cluster", "inspect", "-o", "json").json()["path"] == "/DC0/host/DC0_C0"
    assert sim.run("cluster", "inspect", "DC1_C0", "-o", "json").json()["path"] == \
        "/DC1/host/DC1_C0"
    data = yaml.safe_load(sim.config.read_text())
    del data["profiles"]["sim"]["vmware"]["cluster_name"]
    config = write_config(tmp_path / "none.yaml", yaml.safe_dump(data))
    result = sim.run("--config", str(config), "firewall", "status")
    assert result.exit_code == 2
    assert result.stderr == "Error: no cluster given: pass --cluster NAME or set " \
                            "vmware.cluster_name in profile 'sim'\n"
    result = sim.run("--config", str(config), "firewall", "status", "--cluster", "DC1_C0",
                     "-o", "json")
    assert result.json()["cluster"] == "DC1_C0"
