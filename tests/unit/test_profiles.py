"""Profiles through the command line: discovery, validation messages, secrets, GOVC_*."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from helpers import write_config

PROFILE = """\
default_profile: prod
profiles:
  prod:
    vmware:
      host_ip: vc1.example.com
      host_username: svc-nova@vsphere.local
      host_password_env: VC1_PASSWORD
      cluster_name: Cluster1
      datastore_regex: "nfs-os.*"
    DEFAULT:
      my_ip: 10.0.0.5
  dev:
    vmware:
      host_ip: vc2.example.com
      host_username: dev@vsphere.local
"""


def one_profile(**vmware: object) -> str:
    lines = ["profiles:", "  only:", "    vmware:"]
    lines += [f"      {key}: {value}" for key, value in vmware.items()]
    return "\n".join(lines) + "\n"


def shown(vmwctl, *args: str, env=None) -> dict:
    result = vmwctl("-o", "json", "profile", "show", *args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.json()


# ------------------------------------------------------------------ discovery order

def test_discovery_order(vmwctl, isolated_environment: Path, tmp_path: Path) -> None:
    xdg = write_config(Path(os.environ["XDG_CONFIG_HOME"]) / "vmwctl" / "config.yaml",
                       one_profile(host_ip="xdg.example.com", host_username="u"))
    assert shown(vmwctl)["source"] == str(xdg)

    local = write_config(isolated_environment / "vmwctl.yaml",
                         one_profile(host_ip="cwd.example.com", host_username="u"))
    assert shown(vmwctl)["source"] == str(local)

    from_env = write_config(tmp_path / "env.yaml",
                            one_profile(host_ip="env.example.com", host_username="u"))
    view = shown(vmwctl, env={"VMWCTL_CONFIG": str(from_env)})
    assert view["source"] == str(from_env)
    assert view["profile"]["vmware"]["host_ip"] == "env.example.com"

    flag = write_config(tmp_path / "flag.yaml",
                        one_profile(host_ip="flag.example.com", host_username="u"))
    result = vmwctl("--config", str(flag), "-o", "json", "profile", "show",
                    env={"VMWCTL_CONFIG": str(from_env)})
    assert result.json()["profile"]["vmware"]["host_ip"] == "flag.example.com"


def test_missing_explicit_config_is_an_error(vmwctl, tmp_path: Path) -> None:
    result = vmwctl("--config", str(tmp_path / "nope.yaml"), "profile", "show")
    assert result.exit_code == 2
    assert f"config file {tmp_path / 'nope.yaml'} (from --config) does not exist" in result.stderr

    result = vmwctl("profile", "show", env={"VMWCTL_CONFIG": str(tmp_path / "gone.yaml")})
    assert result.exit_code == 2
    assert "(from VMWCTL_CONFIG) does not exist" in result.stderr


def test_no_config_anywhere(vmwctl) -> None:
    result = vmwctl("profile", "show")
    assert result.exit_code == 2
    assert "no config file found" in result.stderr
    assert "GOVC_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_profile_selection(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILE)
    assert shown(vmwctl)["name"] == "prod"  # default_profile
    assert shown(vmwctl, "dev")["name"] == "dev"
    result = vmwctl("-p", "dev", "-o", "json", "profile", "show")
    assert result.json()["name"] == "dev"
    assert shown(vmwctl, env={"VMWCTL_PROFILE": "dev"})["name"] == "dev"
    # --profile beats VMWCTL_PROFILE
    result = vmwctl("--profile", "prod", "-o", "json", "profile", "show",
                    env={"VMWCTL_PROFILE": "dev"})
    assert result.json()["name"] == "prod"


def test_unknown_profile_lists_the_ones_that_exist(vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml", PROFILE)
    result = vmwctl("-p", "prdo", "profile", "show")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: profile 'prdo' not found in {path}; profiles there: "
                                     "dev, prod (did you mean 'prod'?)")


def test_several_profiles_without_default(vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml",
                        PROFILE.replace("default_profile: prod\n", ""))
    result = vmwctl("profile", "show")
    assert result.exit_code == 2
    assert f"{path} has 2 profiles and no default_profile: choose one with --profile NAME " \
           "(dev, prod)" in result.stderr


# ------------------------------------------------------------------ validation errors

@pytest.mark.parametrize(("text", "message"), [
    (one_profile(hots_ip="x", host_username="u"),
     "vmwctl.yaml:4: profiles.only.vmware.hots_ip: unknown option 'hots_ip' "
     "(did you mean 'host_ip'?)"),
    (one_profile(host_ip="x", host_username="u", host_port="'443x'"),
     "vmwctl.yaml:6: profiles.only.vmware.host_port: expected an integer, got '443x'"),
    (one_profile(host_ip="x", host_username="u", host_port=70000),
     "vmwctl.yaml:6: profiles.only.vmware.host_port: expected a port number (1-65535), "
     "got 70000"),
    (one_profile(host_ip="x", host_username="u", insecure="'yes please'"),
     "vmwctl.yaml:6: profiles.only.vmware.insecure: expected true or false, got 'yes please'"),
    (one_profile(host_ip="x", host_username="u", datastore_regex="'nfs-['"),
     "vmwctl.yaml:6: profiles.only.vmware.datastore_regex: invalid regular expression 'nfs-[': "
     "unterminated character set at position 4"),
    (one_profile(host_ip="x", host_username="u", api_retry_count=-1),
     "vmwctl.yaml:6: profiles.only.vmware.api_retry_count: must be at least 0, got -1"),
    (one_profile(host_ip="x", host_username="u", host_password_command="'pass show vc'"),
     "vmwctl.yaml:6: profiles.only.vmware.host_password_command: expected a non-empty list of "
     "strings (an argument list, not a shell command), got 'pass show vc'"),
    (one_profile(host_ip="x", host_username="u", host_password="012345"),  # YAML: octal 5349
     "vmwctl.yaml:6: profiles.only.vmware.host_password: expected a string, got an integer (not "
     "shown: it is a secret); put the value in quotes"),
    (one_profile(host_ip="x", host_username="u", host_password='"s3cr\\0t"'),
     "vmwctl.yaml:6: profiles.only.vmware.host_password: a value cannot hold a NUL character "
     "(not shown: it is a secret)"),
    (one_profile(host_ip="x", host_username="u", host_password="a", host_password_env="B"),
     "vmwctl.yaml:3: profiles.only.vmware: set only one of host_password, host_password_env"),
    ("profiles:\n  only:\n    vmwre: {}\n",
     "vmwctl.yaml:3: profiles.only.vmwre: unknown key 'vmwre' (did you mean 'vmware'?)"),
    ("profile:\n  only: {}\n",
     "vmwctl.yaml:1: profile: unknown key 'profile' (did you mean 'profiles'?)"),
    ("profiles:\n  only:\n    image_cache:\n      remove_unused_base_images: 1\n",
     "vmwctl.yaml:4: profiles.only.image_cache.remove_unused_base_images: expected true or "
     "false, got 1"),
    ("profiles:\n  only:\n    DEFAULT: [1, 2]\n",
     "vmwctl.yaml:3: profiles.only.DEFAULT: expected a mapping of options, not a list"),
    ("default_profile: nope\nprofiles:\n  only: {}\n",
     "vmwctl.yaml:1: default_profile: default_profile 'nope' is not a profile in this file "
     "(only)"),
    ("- just\n- a list\n",
     "vmwctl.yaml:1: the config file must be a mapping with a 'profiles' key, not a list"),
])
def test_validation_errors(vmwctl, isolated_environment: Path, text: str, message: str) -> None:
    write_config(isolated_environment / "vmwctl.yaml", text)
    for command in (["profile", "show"], ["about"]):
        result = vmwctl(*command)
        assert result.exit_code == 2, result.stdout
        line = result.stderr.strip()
        assert line == f"Error: {isolated_environment}/{message}"
        assert "\n" not in line
    result = vmwctl("-o", "json", "profile", "show")
    assert result.json() == {"error": {"message": f"{isolated_environment}/{message}",
                                       "exit_code": 2}}


def test_yaml_syntax_error_names_file_and_line(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml",
                 "profiles:\n  prod:\n    vmware:\n      host_ip: [unclosed\n")
    result = vmwctl("profile", "show")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {isolated_environment}/vmwctl.yaml:5:1: YAML syntax "
                                    "error: ")


def test_yaml_alias_bomb_is_refused(vmwctl, isolated_environment: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghijklmn":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    write_config(isolated_environment / "vmwctl.yaml", bomb)
    result = vmwctl("profile", "show")
    assert result.exit_code == 2
    assert "more than 100 YAML aliases" in result.stderr


@pytest.mark.parametrize("text", [
    'profiles: &a\n  "":\n    DEFAULT:\n      my_ip: *a\n',
    "profiles: {}\nx: &a [1, *a]\n",
    "profiles:\n  p: &p\n    vmware: {host_ip: h}\n    again: *p\n",
])
def test_yaml_alias_inside_its_own_anchor_is_refused(vmwctl, isolated_environment: Path,
                                                     text: str) -> None:
    write_config(isolated_environment / "vmwctl.yaml", text)
    for args in (("profile", "list"), ("profile", "show"), ("about",)):
        result = vmwctl(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "YAML alias inside its own anchor" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_yaml_alias_reused_elsewhere_is_fine(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml",
                 "profiles:\n  a: &v\n    vmware: {host_ip: h, host_username: u}\n  b: *v\n")
    result = vmwctl("profile", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert [p["name"] for p in result.json()["profiles"]] == ["a", "b"]


def test_missing_host_and_user(vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml", one_profile(cluster_name="C1"))
    result = vmwctl("about")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: profile 'only' in {path} has no vmware.host_ip and vmware.host_username: set "
        "them in the profile, or set GOVC_URL and GOVC_USERNAME")
    result = vmwctl("profile", "validate")
    assert result.exit_code == 2
    assert "only: INVALID" in result.stdout


def test_validate_reports_every_problem(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", """\
profiles:
  good:
    vmware: {host_ip: a, host_username: u, host_password_env: A_PW}
  bad:
    vmware: {host_ip: a, host_username: u, host_port: zero, vnc_port: 0, clustername: x}
""")
    result = vmwctl("-o", "json", "profile", "validate", env={"A_PW": "secret"})
    assert result.exit_code == 2
    report = {p["name"]: p for p in result.json()["profiles"]}
    assert report["good"]["valid"] is True
    assert report["bad"]["valid"] is False
    assert len(report["bad"]["problems"]) == 3
    assert any("did you mean 'cluster_name'" in p for p in report["bad"]["problems"])
    result = vmwctl("profile", "validate", "good", env={"A_PW": "secret"})
    assert result.exit_code == 0
    assert result.stdout.strip() == "good: ok"


def test_defaults_are_novas(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", one_profile(host_ip="h", host_username="u"))
    profile = shown(vmwctl)["profile"]
    assert profile["vmware"]["host_port"] == 443
    assert profile["vmware"]["use_linked_clone"] is True
    assert profile["vmware"]["vnc_port"] == 5900
    assert profile["vmware"]["vnc_port_total"] == 10000
    assert profile["vmware"]["task_poll_interval"] == 0.5
    assert profile["vmware"]["api_retry_count"] == 10
    assert profile["vmware"]["insecure"] is False
    assert profile["image_cache"] == {"subdirectory_name": "_base",
                                      "remove_unused_base_images": True,
                                      "remove_unused_original_minimum_age_seconds": 86400,
                                      "manager_interval": 2400}
    assert profile["DEFAULT"]["my_ip"] is None
    assert profile["DEFAULT"]["reserved_host_memory_mb"] == 512
    assert profile["vnc"]["enabled"] is True
    assert profile["mks"] == {"enabled": False, "mksproxy_base_url": "http://127.0.0.1:6090/"}


# ------------------------------------------------------------------ secrets

def test_show_never_prints_a_plain_password(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml",
                 one_profile(host_ip="h", host_username="u", host_password="'S3cr3t-pw'"))
    for fmt in ("table", "json", "yaml"):
        result = vmwctl("-o", fmt, "profile", "show")
        assert result.exit_code == 0
        assert "S3cr3t-pw" not in result.stdout + result.stderr
        assert "<redacted>" in result.stdout


def test_plain_password_in_readable_file_warns(vmwctl, isolated_environment: Path) -> None:
    path = write_config(isolated_environment / "vmwctl.yaml",
                        one_profile(host_ip="h", host_username="u", host_password="pw123"),
                        mode=0o644)
    result = vmwctl("profile", "show")
    assert result.exit_code == 0
    assert f"Warning: {path} holds a plain host_password and is readable by group or others" \
        in result.stderr
    path.chmod(0o600)
    assert "Warning" not in vmwctl("profile", "show").stderr
    path.chmod(0o644)
    assert vmwctl("-q", "profile", "show").stderr == ""


def _resolve(tmp_path: Path, env: dict[str, str], **vmware: object) -> str:
    from vmwctl.profile.load import build_profile
    from vmwctl.profile.passwords import resolve_password

    raw = {"vmware": {"host_ip": "h", "host_username": "u", **vmware}}
    return resolve_password(build_profile("p", raw, source=tmp_path / "x.yaml"), env)


def test_secret_sources(tmp_path: Path) -> None:
    from vmwctl.errors import ConfigError

    assert _resolve(tmp_path, {}, host_password="plain") == "plain"
    assert _resolve(tmp_path, {"VC_PW": "from-env"}, host_password_env="VC_PW") == "from-env"
    with pytest.raises(ConfigError, match="host_password_env names VC_PW, which is not set"):
        _resolve(tmp_path, {"VC_PW": ""}, host_password_env="VC_PW")

    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    assert _resolve(tmp_path, {}, host_password_file=str(secret_file)) == "from-file"
    with pytest.raises(ConfigError, match=r"cannot read vmware\.host_password_file"):
        _resolve(tmp_path, {}, host_password_file=str(tmp_path / "missing"))

    script = tmp_path / "pw.sh"
    script.write_text("#!/bin/sh\necho \"from-$1\"\necho second line\n")
    script.chmod(0o700)
    assert _resolve(tmp_path, {}, host_password_command=[str(script), "command"]) == \
        "from-command"
    with pytest.raises(ConfigError, match="exited with status 3"):
        _resolve(tmp_path, {}, host_password_command=[sys.executable, "-c", "exit(3)"])
    with pytest.raises(ConfigError, match="not found; give the full path"):
        _resolve(tmp_path, {}, host_password_command=["/nonexistent/pass"])

    assert _resolve(tmp_path, {"GOVC_PASSWORD": "govc-pw"}) == "govc-pw"
    with pytest.raises(ConfigError, match="no password for u"):
        _resolve(tmp_path, {})


def test_password_command_gets_no_secret_on_its_command_line(tmp_path: Path) -> None:
    """The command's argv is the profile's list, verbatim; stdin is closed."""
    record = tmp_path / "argv"
    script = tmp_path / "pw.sh"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {record}\ncat >> {record}\necho pw-value\n")
    script.chmod(0o700)
    assert _resolve(tmp_path, {}, host_password_command=[str(script), "vc1"]) == "pw-value"
    assert record.read_text() == "vc1\n"


def test_prompt_only_when_given_a_prompter(tmp_path: Path) -> None:
    from vmwctl.profile.load import build_profile
    from vmwctl.profile.passwords import resolve_password

    profile = build_profile("p", {"vmware": {"host_ip": "h", "host_username": "u"}})
    asked = []
    assert resolve_password(profile, {}, prompt=lambda q: asked.append(q) or "typed") == "typed"
    assert asked == ["Password for u@h: "]


# ------------------------------------------------------------------ GOVC_* fallbacks

def test_govc_environment_alone(vmwctl) -> None:
    env = {"GOVC_URL": "https://user1:p%40ss@vc.example.com:8443/sdk", "GOVC_INSECURE": "1"}
    view = shown(vmwctl, env=env)
    assert view["source"] == "(environment)"
    vmware = view["profile"]["vmware"]
    assert (vmware["host_ip"], vmware["host_port"], vmware["host_username"]) == \
        ("vc.example.com", 8443, "user1")
    assert vmware["insecure"] is True
    assert view["password_source"] == "the password in GOVC_URL"
    assert view["origins"]["vmware.host_ip"] == "GOVC_URL"


def test_govc_fills_only_what_the_profile_lacks(vmwctl, isolated_environment: Path,
                                                tmp_path: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", one_profile(host_ip="vc.from.profile"))
    user_file = tmp_path / "user"
    user_file.write_text("file-user\n")
    env = {"GOVC_URL": "other.example.com", "GOVC_USERNAME": str(user_file),
           "GOVC_PASSWORD": "pw", "GOVC_INSECURE": ""}
    view = shown(vmwctl, env=env)
    vmware = view["profile"]["vmware"]
    assert vmware["host_ip"] == "vc.from.profile"
    assert vmware["host_username"] == "file-user"  # govc reads a file named by GOVC_USERNAME
    assert vmware["insecure"] is False  # empty means unset
    assert view["password_source"] == "environment variable GOVC_PASSWORD"


def test_govc_url_must_be_https(vmwctl) -> None:
    result = vmwctl("about", env={"GOVC_URL": "http://vc.example.com/sdk"})
    assert result.exit_code == 2
    assert "GOVC_URL uses http://" in result.stderr


def test_empty_environment_variables_count_as_unset(vmwctl) -> None:
    result = vmwctl("profile", "show", env={"GOVC_URL": "", "VMWCTL_CONFIG": "",
                                            "VMWCTL_PROFILE": ""})
    assert result.exit_code == 2
    assert "no config file found" in result.stderr


# ------------------------------------------------------------------ list

def test_profile_list(vmwctl, isolated_environment: Path) -> None:
    write_config(isolated_environment / "vmwctl.yaml", PROFILE + "  broken:\n    vmware: 3\n")
    result = vmwctl("-o", "json", "profile", "list")
    assert result.exit_code == 0
    rows = {p["name"]: p for p in result.json()["profiles"]}
    assert rows["prod"]["default"] and rows["prod"]["selected"]
    assert rows["dev"]["host"] == "vc2.example.com"
    assert rows["broken"]["valid"] is False
    assert "expected a mapping of options" in rows["broken"]["problem"]
    table = vmwctl("profile", "list").stdout
    assert "prod" in table and "vc1.example.com:443" in table


def test_config_is_private_mode_is_reported_for_password_file(tmp_path: Path) -> None:
    from vmwctl.profile.load import build_profile
    from vmwctl.profile.passwords import profile_warnings

    secret = tmp_path / "pw"
    secret.write_text("x")
    secret.chmod(0o644)
    profile = build_profile("p", {"vmware": {"host_password_file": str(secret)}})
    assert any("readable by group or others" in w for w in profile_warnings(profile))
    secret.chmod(stat.S_IRUSR)
    assert profile_warnings(profile) == []
