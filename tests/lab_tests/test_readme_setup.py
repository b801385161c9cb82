"""A new user with only the README: its two set-up commands, run as written in a copy
of the repository, end with a check prereqs whose every check passes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from docblocks import ROOT, blocks

pytestmark = pytest.mark.lab


def setup_commands() -> list[str]:
    [block] = [b for b in blocks(ROOT / "README.md") if b.mode == "setup"]
    return [line.split("#", 1)[0].strip() for line in block.text.splitlines()
            if line.strip() and not line.startswith("#")]


def repository_copy(target: Path) -> Path:
    """The files git knows (tracked or new), with their times, and the existing virtualenv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            destination = target / os.fsdecode(name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    # The suite's own virtualenv, which make built from this pyproject.toml: make would
    # reinstall it if the copy's pyproject.toml looked newer.
    (target / ".venv").symlink_to(ROOT / ".venv")
    installed = (ROOT / ".venv" / ".installed").stat().st_mtime_ns - 1_000_000_000
    os.utime(target / "pyproject.toml", ns=(installed, installed))
    return target


def test_readme_two_commands_reach_a_passing_check(tmp_path: Path) -> None:
    commands = setup_commands()
    assert len(commands) == 2, commands
    repo = repository_copy(tmp_path / "vmwctl")
    env = {key: value for key, value in os.environ.items()  # a new user's shell, not make's
           if not key.startswith(("VMWCTL_", "OS_", "GOVC_", "MAKE", "MFLAGS"))}
    env["HOME"] = str(tmp_path / "home")
    try:
        results = [subprocess.run(["/bin/sh", "-ec", command], cwd=repo, env=env,
                                  capture_output=True, text=True, timeout=900,
                                  stdin=subprocess.DEVNULL) for command in commands]
    finally:
        subprocess.run(["tests/lab/lab", "down"], cwd=repo, env=env, capture_output=True)
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    # the README says "all pass": every check, none skipped
    assert results[-1].stdout.splitlines()[-1].strip() == \
        "16 passed, 0 warned, 0 failed, 1 skipped", results[-1].stdout
    assert (repo / ".lab" / "vmwctl.yaml").exists()
