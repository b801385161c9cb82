"""Shell completion: the committed scripts, real bash driving them, profile names, and
``vmwctl completion``."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"
BASH_SCRIPT = COMPLETIONS / "vmwctl.bash"
VENV_BIN = Path(sys.executable).parent
HEAVY_MODULES = ("pyVmomi", "pyVim", "openstack", "keystoneauth1")

TWO_PROFILES = ("default_profile: prod\nprofiles:\n"
                "  prod:\n    vmware: {host_ip: vc1.example.com}\n"
                "  staging:\n    vmware: {host_ip: vc2.example.com}\n")


def _generate_module():
    spec = importlib.util.spec_from_file_location("completions_generate",
                                                  COMPLETIONS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ committed files

def test_committed_scripts_are_up_to_date() -> None:
    stale = _generate_module().stale_files()
    assert not stale, (f"stale completion scripts {[p.name for p in stale]}: run "
                       ".venv/bin/python completions/generate.py and commit them")


def test_generate_check_exits_0_when_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(COMPLETIONS / "generate.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_generate_check_lists_stale_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    generate = _generate_module()
    monkeypatch.setattr(generate, "HERE", tmp_path / "completions")
    (tmp_path / "completions").mkdir()
    (tmp_path / "completions" / "vmwctl.bash").write_text("# old\n")
    assert generate.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"stale: completions/{name} (run .venv/bin/python completions/generate.py)"
        for name in ("vmwctl.bash", "_vmwctl", "vmwctl.fish")]
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0


# ------------------------------------------------------------------ real bash

def bash_complete(line: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """COMPREPLY for ``line`` (the cursor at its end), from real bash with the committed
    script sourced and the installed vmwctl first on PATH; and bash's stderr."""
    if not (VENV_BIN / "vmwctl").exists():
        pytest.skip(f"no vmwctl entry point in {VENV_BIN}")
    words = line.split(" ")  # a trailing space makes an empty current word
    script = "\n".join([
        f"source {shlex.quote(str(BASH_SCRIPT))}",
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
        f"COMP_CWORD={len(words) - 1}",
        f"COMP_LINE={shlex.quote(line)}",
        "COMP_POINT=${#COMP_LINE}",
        'cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '_vmwctl_completion vmwctl "$cur" "$prev" || exit 9',
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ])
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
                **(env or {})}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=full_env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w], done.stderr


def test_bash_completes_a_command_name() -> None:
    assert bash_complete("vmwctl ca")[0] == ["cache"]


def test_bash_completes_a_lazy_groups_subcommands() -> None:
    assert bash_complete("vmwctl image ")[0] == ["convert", "export", "inspect", "list",
                                                  "ostypes", "tag", "upload"]


def test_bash_completes_a_nested_lazy_group() -> None:
    assert bash_complete("vmwctl firewall vib ")[0] == ["build", "inspect", "install"]
    assert bash_complete("vmwctl -o json firewall vib i")[0] == ["inspect", "install"]


def test_bash_completes_the_new_command_and_its_shells() -> None:
    assert "completion" in bash_complete("vmwctl ")[0]
    assert bash_complete("vmwctl completion ")[0] == ["bash", "zsh", "fish"]


def test_bash_completes_an_ostype_in_any_case() -> None:
    assert "ubuntu64Guest" in bash_complete("vmwctl image upload x --ostype ubuntu6")[0]
    assert "ubuntu64Guest" in bash_complete("vmwctl image tag x --ostype UBUNTU6")[0]


def test_bash_completes_the_choices_of_convert() -> None:
    assert bash_complete("vmwctl image convert a b --adapter-type ")[0] == [
        "ide", "lsiLogic", "busLogic"]
    assert bash_complete("vmwctl image convert a b --disktype s")[0] == [
        "streamOptimized", "sparse"]


def test_bash_completes_options() -> None:
    words = bash_complete("vmwctl image upload x --os")[0]
    assert words == ["--ostype"]


def test_profile_names_come_from_vmwctl_config(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(TWO_PROFILES)
    env = {"VMWCTL_CONFIG": str(config)}
    assert bash_complete("vmwctl -p ", env)[0] == ["prod", "staging"]
    assert bash_complete("vmwctl --profile s", env)[0] == ["staging"]
    assert bash_complete("vmwctl profile show ", env)[0] == ["prod", "staging"]
    assert bash_complete("vmwctl -p prod profile validate ", env)[0] == ["prod", "staging"]


def test_profile_names_from_the_current_directory_file(isolated_environment: Path) -> None:
    (isolated_environment / "vmwctl.yaml").write_text(TWO_PROFILES)
    assert bash_complete("vmwctl -p ")[0] == ["prod", "staging"]


def test_config_given_earlier_on_the_line_wins(tmp_path: Path) -> None:
    env_config = tmp_path / "env.yaml"
    env_config.write_text(TWO_PROFILES)
    other = tmp_path / "other.yaml"
    other.write_text("profiles:\n  lab-a: {}\n  lab-b: {}\n")
    env = {"VMWCTL_CONFIG": str(env_config)}
    assert bash_complete(f"vmwctl --config {other} -p ", env)[0] == ["lab-a", "lab-b"]
    assert bash_complete(f"vmwctl --config {other} -o json --profile lab-", env)[0] == [
        "lab-a", "lab-b"]
    assert bash_complete(f"vmwctl --config {tmp_path}/missing.yaml -p ", env) == ([], "")


@pytest.mark.parametrize("text", ["profiles: [\n", "- a list\n", "profiles:\n  a: {}\nbad: 1\n",
                                  "\0\xff"])
def test_a_bad_config_gives_no_candidates_and_no_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    assert bash_complete("vmwctl -p ", {"VMWCTL_CONFIG": str(config)}) == ([], "")


def test_no_config_gives_no_candidates() -> None:
    assert bash_complete("vmwctl -p ") == ([], "")
    assert bash_complete("vmwctl -p ", {"VMWCTL_CONFIG": "/nonexistent/x.yaml"}) == ([], "")


def test_fleet_profiles_completes_the_last_item(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(TWO_PROFILES + "  edge:\n    vmware: {host_ip: vc3.example.com}\n")
    env = {"VMWCTL_CONFIG": str(config)}
    assert bash_complete("vmwctl check fleet --profiles ", env)[0] == ["prod", "staging",
                                                                       "edge"]
    assert bash_complete("vmwctl check fleet --profiles a,", env)[0] == [
        "a,prod", "a,staging", "a,edge"]
    assert bash_complete("vmwctl check fleet --profiles prod,s", env)[0] == ["prod,staging"]
    # a profile already in the list is not offered again
    assert bash_complete("vmwctl check fleet --profiles prod,edge,", env)[0] == [
        "prod,edge,staging"]


# ------------------------------------------------------------------ in the process

def test_completion_imports_no_client_library(tmp_path: Path) -> None:
    """A TAB neither connects nor loads pyVmomi or openstacksdk, even after a profile."""
    config = tmp_path / "profiles.yaml"
    config.write_text(TWO_PROFILES)
    code = ("import json, sys\nfrom vmwctl.cli.root import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
            "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "_VMWCTL_COMPLETE": "bash_complete", "VMWCTL_CONFIG": str(config),
           "COMP_WORDS": "vmwctl -p prod image upload x --ostype ubuntu", "COMP_CWORD": "7"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "plain,ubuntu64Guest" in done.stdout.splitlines()
    modules = set(json.loads(done.stderr))
    assert not modules & set(HEAVY_MODULES), modules & set(HEAVY_MODULES)


def test_config_asks_the_shell_for_file_names() -> None:
    # bash's script turns the answer "file" into its own file-name completion (compopt -o
    # default), which only runs inside a real completion; the answer itself is checked here.
    env = {**os.environ, "_VMWCTL_COMPLETE": "bash_complete",
           "COMP_WORDS": "vmwctl --config la", "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-m", "vmwctl"], env=env, capture_output=True,
                          text=True, check=False)
    assert (done.returncode, done.stdout.splitlines(), done.stderr) == (0, ["file,la"], "")


# ------------------------------------------------------------------ the command

@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_committed_script(vmwctl, shell: str) -> None:
    from vmwctl.cli.completion import SCRIPT_FILES

    result = vmwctl("completion", shell)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (COMPLETIONS / SCRIPT_FILES[shell]).read_text()


def test_a_missing_shell_is_one_line(vmwctl) -> None:
    result = vmwctl("completion")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: Missing argument 'SHELL'. Choose from: bash, zsh, "
                                     "fish (see 'vmwctl completion --help')")


def test_an_unknown_shell_is_a_usage_error(vmwctl) -> None:
    result = vmwctl("completion", "tcsh")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def test_help_says_how_to_install(vmwctl) -> None:
    result = vmwctl("completion", "--help")
    assert result.exit_code == 0
    for text in ("~/.local/share/bash-completion/completions/vmwctl", "$fpath", "_vmwctl",
                 "~/.config/fish/completions/vmwctl.fish", "completions/"):
        assert text in result.stdout, text


# ------------------------------------------------------------------ zsh and fish

@pytest.mark.parametrize(("shell", "name"), [("zsh", "_vmwctl"), ("fish", "vmwctl.fish"),
                                             ("bash", "vmwctl.bash")])
def test_scripts_parse_in_their_shell(shell: str, name: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    done = subprocess.run([shell, "-n", str(COMPLETIONS / name)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_fish_completes_through_the_committed_script(tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    config = tmp_path / "profiles.yaml"
    config.write_text(TWO_PROFILES)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
           "VMWCTL_CONFIG": str(config)}

    def fish(line: str) -> list[str]:
        script = f"source {COMPLETIONS / 'vmwctl.fish'}; complete -C {shlex.quote(line)}"
        done = subprocess.run(["fish", "--no-config", "-c", script], env=env,
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert fish("vmwctl ca") == ["cache"]
    assert fish("vmwctl -p ") == ["prod", "staging"]
    assert "ubuntu64Guest" in fish("vmwctl image upload x --ostype ubuntu6")
