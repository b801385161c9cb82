"""Edges a new user meets without a vCenter: explicitly empty names, a selection that
leaves nothing to check, root options after the command, typos of a command."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_config

PROFILES = """\
default_profile: prod
profiles:
  prod:
    vmware: {host_ip: 127.0.0.1, host_port: 9, host_username: u, api_retry_count: 0,
             cluster_name: C1}
  dev:
    vmware: {host_ip: vc2.example.com, host_username: u}
"""


def one_line_error(result) -> str:
    """The one line a usage error prints; nothing on stdout."""
    assert result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


# ------------------------------------------------------------------ item 2: empty names

@pytest.mark.parametrize(("argv", "line"), [
    (["-p", "", "profile", "show"],
     "Error: -p/--profile is empty: name a profile ('vmwctl profile list' shows them), or "
     "leave the option out for the default one (see 'vmwctl --help')"),
    (["--profile=", "profile", "show"],
     "Error: -p/--profile is empty: name a profile ('vmwctl profile list' shows them), or "
     "leave the option out for the default one (see 'vmwctl --help')"),
    (["--config", "", "profile", "show"],
     "Error: --config is empty: name a config file, or leave the option out for "
     "$VMWCTL_CONFIG, ./vmwctl.yaml or ~/.config/vmwctl/config.yaml (see 'vmwctl --help')"),
    (["profile", "show", ""],
     "Error: NAME is empty: name a profile ('vmwctl profile list' shows them), or leave it "
     "out for the selected one (see 'vmwctl profile show --help')"),
    (["profile", "show", "-p", " "],
     "Error: -p/--profile is empty: name a profile ('vmwctl profile list' shows them), or "
     "leave the option out for the default one (see 'vmwctl profile show --help')"),
])
def test_an_explicitly_empty_profile_or_config_is_a_usage_error(
        vmwctl, isolated_environment: Path, argv: list[str], line: str) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl(*argv)
    assert result.exit_code == 2
    assert one_line_error(result) == line


@pytest.mark.parametrize("argv", [
    ["cluster", "inspect", ""],
    ["check", "prereqs", "--cluster", ""],
    ["cache", "list", "--cluster=  "],
])
def test_an_explicitly_empty_cluster_is_a_usage_error_before_any_connection(
        vmwctl, isolated_environment: Path, argv: list[str]) -> None:
    # the profile's vCenter is on a closed port: reaching it would be exit 3
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl(*argv)
    assert result.exit_code == 2, result.stderr
    line = one_line_error(result)
    assert "is empty: name a cluster, or leave" in line
    assert "out for the profile's vmware.cluster_name" in line


def test_an_empty_environment_variable_still_counts_as_unset(
        vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("-o", "json", "profile", "show",
                    env={"VMWCTL_PROFILE": "", "VMWCTL_CONFIG": ""})
    assert result.exit_code == 0, result.stderr
    assert result.json()["name"] == "prod"
    assert result.json()["source"] == str(isolated_environment / "vmwctl.yaml")


def test_check_fleet_with_an_empty_profile_list_is_a_usage_error(
        vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("check", "fleet", "--profiles", " , ")
    assert result.exit_code == 2
    assert one_line_error(result) == (
        "Error: --profiles is empty: name profiles, or leave the option out to check every "
        "profile (see 'vmwctl check fleet --help')")


# ------------------------------------------------------------------ item 1: nothing to check

@pytest.mark.parametrize(("argv", "line"), [
    (["--only", "nova-conf"],
     "Error: --only nova-conf leaves no check to run: the nova-conf checks need "
     "--nova-conf FILE"),
    (["--only", "network", "--skip", "network"],
     "Error: --only network --skip network leaves no check to run; ids: vcenter, cluster, drs, "
     "shared-storage, datastores, dedicated, network, vnc-firewall, privileges, hosts, "
     "image-cache, nova-conf"),
    (["--only", " , "],
     "Error: --only is empty: name the checks to run, or leave the option out to run them "
     "all (see 'vmwctl check prereqs --help')"),
])
def test_a_selection_that_leaves_no_check_is_a_usage_error_before_connecting(
        vmwctl, isolated_environment: Path, argv: list[str], line: str) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)  # unreachable vCenter
    result = vmwctl("check", "prereqs", *argv)
    assert result.exit_code == 2, result.stderr
    assert one_line_error(result) == line


def test_skipping_every_check_is_a_usage_error(vmwctl, isolated_environment: Path) -> None:
    from vmwctl.checks.prereqs import CHECK_IDS

    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("check", "prereqs", "--skip", ",".join(CHECK_IDS), "-o", "json")
    assert result.exit_code == 2
    message = result.json()["error"]["message"]
    assert message.startswith("--skip vcenter,cluster,")
    assert "leaves no check to run" in message


# ------------------------------------------------------------------ item 11: errors that help

@pytest.mark.parametrize(("argv", "line"), [
    (["check", "prereq"],
     "Error: No such command 'prereq' (did you mean 'prereqs'?) (see 'vmwctl check --help')"),
    (["chek", "prereqs"],
     "Error: No such command 'chek' (did you mean 'check'?) (see 'vmwctl --help')"),
    (["check", "zzz"],
     "Error: No such command 'zzz'; commands: fleet, nova-conf, prereqs, privileges "
     "(see 'vmwctl check --help')"),
])
def test_a_mistyped_command_gets_a_did_you_mean(vmwctl, argv: list[str], line: str) -> None:
    result = vmwctl(*argv)
    assert result.exit_code == 2
    assert one_line_error(result) == line


def test_root_options_work_after_the_command(vmwctl, isolated_environment: Path,
                                             tmp_path: Path) -> None:
    other = write_config(tmp_path / "other.yaml", PROFILES.replace("vc2.", "vc3."))
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("profile", "show", "-p", "dev", "--config", str(other), "-o", "json",
                    "--insecure", "--no-color")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert (view["name"], view["source"]) == ("dev", str(other))
    assert view["profile"]["vmware"]["host_ip"] == "vc3.example.com"
    # after the command wins over before it, as for -o
    result = vmwctl("-p", "prod", "profile", "show", "--profile", "dev", "-o", "json")
    assert result.json()["name"] == "dev"


def test_every_command_lists_the_root_options_in_its_help(vmwctl) -> None:
    from helpers import leaf_commands

    for path in leaf_commands():
        result = vmwctl(*path.split(), "--help")
        assert result.exit_code == 0, path
        for option in ("--config FILE", "-p, --profile NAME", "--insecure", "--no-color"):
            assert option in result.stdout, (path, option)
