"""Edges a new user meets without a vCenter: explicitly empty names, a selection that
leaves nothing to check, root options after the command, typos of a command, a broken
default_profile, an unknown clouds.yaml entry."""

from __future__ import annotations

import json
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
     "image-cache, capacity, cpu-uniformity, console, sessions, certificate, nova-conf"),
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


# ------------------------------------------------------------------ item 5: default_profile

BROKEN_DEFAULT = """\
default_profile: nope
profiles:
  prod:
    vmware: {host_ip: vc1.example.com, host_username: u, host_password_env: PW}
  dev:
    vmware: {host_ip: vc2.example.com, host_username: u, host_prot: 443}
"""


def test_validate_reports_the_default_profile_and_every_profile_in_one_run(
        vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml", BROKEN_DEFAULT)
    result = vmwctl("-o", "json", "profile", "validate", env={"PW": "x"})
    assert result.exit_code == 2
    report = result.json()
    assert report["problems"] == [f"{path}:1: default_profile: default_profile 'nope' is not "
                                  "a profile in this file (dev, prod)"]
    assert report["valid"] is False
    by_name = {p["name"]: p for p in report["profiles"]}
    assert by_name["prod"]["valid"] is True
    assert by_name["dev"]["problems"] == [
        f"{path}:6: profiles.dev.vmware.host_prot: unknown option 'host_prot' (did you mean "
        "'host_port'?)"]
    table = vmwctl("profile", "validate", env={"PW": "x"})
    assert table.exit_code == 2
    assert table.stdout.splitlines()[:4] == [
        f"{path}: INVALID",
        f"  error: {path}:1: default_profile: default_profile 'nope' is not a profile in this "
        "file (dev, prod)",
        "prod: ok",
        "dev: INVALID"]


def test_validate_names_every_problem_of_the_file_itself(vmwctl,
                                                          isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml",
                        "default_profile: 3\nprofile: {}\nprofiles:\n  a:\n    vmware: "
                        "{host_ip: h, host_username: u}\n")
    result = vmwctl("-o", "json", "profile", "validate")
    assert result.exit_code == 2
    assert result.json()["problems"] == [
        f"{path}:2: profile: unknown key 'profile' (did you mean 'profiles'?)",
        f"{path}:1: default_profile: default_profile must be a profile name, not an integer"]
    assert [p["name"] for p in result.json()["profiles"]] == ["a"]


def test_a_valid_file_validates_with_no_problems_of_its_own(vmwctl,
                                                             isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", BROKEN_DEFAULT.replace("nope", "prod"))
    result = vmwctl("-o", "json", "profile", "validate", "prod", env={"PW": "x"})
    assert result.exit_code == 0, result.stdout
    assert result.json()["problems"] == []
    assert result.json()["valid"] is True


def test_an_explicit_profile_is_used_whatever_default_profile_says(
        vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml", BROKEN_DEFAULT)
    result = vmwctl("-p", "prod", "-o", "json", "profile", "show")
    assert result.exit_code == 0, result.stderr
    assert result.json()["name"] == "prod"
    shown = vmwctl("-o", "json", "profile", "show", "prod", env={"VMWCTL_PROFILE": ""})
    assert (shown.exit_code, shown.json()["name"]) == (0, "prod")
    by_env = vmwctl("-o", "json", "profile", "show", env={"VMWCTL_PROFILE": "prod"})
    assert (by_env.exit_code, by_env.json()["name"]) == (0, "prod")
    # the default itself is still refused, with the line to fix
    default = vmwctl("profile", "show")
    assert default.exit_code == 2
    assert one_line_error(default) == (
        f"Error: {path}:1: default_profile: default_profile 'nope' is not a profile in this "
        "file (dev, prod)")


def test_profile_list_lists_the_profiles_of_a_file_with_a_broken_default(
        vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", BROKEN_DEFAULT)
    result = vmwctl("-o", "json", "profile", "list")
    assert result.exit_code == 0, result.stderr
    rows = {p["name"]: p for p in result.json()["profiles"]}
    assert rows["prod"]["valid"] is True and rows["prod"]["default"] is False
    assert rows["dev"]["valid"] is False
    assert "default_profile 'nope' is not a profile" in result.stderr  # a warning


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


def test_an_unknown_cloud_names_where_clouds_yaml_is_and_its_clouds(
        vmwctl, isolated_environment: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(json.dumps({"clouds": {
        "lab": {"auth_type": "none", "image_endpoint_override": "http://127.0.0.1:9/"},
        "prod-east": {"auth_type": "none", "image_endpoint_override": "http://127.0.0.1:9/"}}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    write_config(isolated_environment / "vmwctl.yaml",
                 PROFILES.replace("  dev:\n", "    openstack: {cloud: prod-west}\n  dev:\n"))
    result = vmwctl("image", "list")
    assert result.exit_code == 2
    assert one_line_error(result) == (
        f"Error: no cloud 'prod-west' (the openstack.cloud of profile 'prod') in {clouds}; "
        "clouds there: lab, prod-east (did you mean 'prod-east'?)")
    result = vmwctl("-p", "dev", "image", "list", env={"OS_CLOUD": "nope"})
    assert one_line_error(result) == (
        f"Error: no cloud 'nope' ($OS_CLOUD) in {clouds}; clouds there: lab, prod-east")


def test_an_unknown_cloud_without_any_clouds_yaml_says_where_it_looked(
        vmwctl, isolated_environment: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "none" / "clouds.yaml"
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(missing))
    from openstack.config.loader import CONFIG_FILES

    assert not [p for p in CONFIG_FILES if Path(p).exists()]  # the premise of this test
    write_config(isolated_environment / "vmwctl.yaml", PROFILES)
    result = vmwctl("-p", "dev", "image", "list", env={"OS_CLOUD": "lab"})
    assert result.exit_code == 2
    line = one_line_error(result)
    assert line.startswith(f"Error: no cloud 'lab' ($OS_CLOUD): no clouds.yaml found (searched "
                           f"{missing}, ")
    assert "/etc/openstack/clouds.yaml" in line
    assert line.endswith("): create one, or point OS_CLIENT_CONFIG_FILE at it")
