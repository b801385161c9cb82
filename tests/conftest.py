"""Shared fixtures: an isolated environment per test, the lab per session, a CLI runner."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "lab"))

import labctl
from helpers import run_vmwctl

ISOLATED_PREFIXES = ("VMWCTL_", "GOVC_", "OS_")
LAB_PASSWORD_ENV = "VMWCTL_TEST_VC_PASSWORD"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config, profile or GOVC_* from the developer's shell; cwd and XDG dir are empty."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES) or name in ("NO_COLOR", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def vmwctl() -> Any:
    return run_vmwctl


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labctl.LabState]:
    """The lab (vcsim + Glance + a Glance with format-match off), once per test session.

    Set VMWCTL_TEST_LAB_DIR to reuse a lab started with 'tests/lab/lab --dir DIR up
    --flat-glance' while iterating; otherwise a private one is started and stopped.
    """
    reuse = os.environ.get("VMWCTL_TEST_LAB_DIR")
    if reuse:
        state = labctl.load_state(Path(reuse).resolve())
        if state is None:
            pytest.exit(f"VMWCTL_TEST_LAB_DIR={reuse} holds no running lab", returncode=2)
        yield state
        return
    state_dir = tmp_path_factory.mktemp("lab")
    state = labctl.up(state_dir, flat_glance=True, tie_to_parent=True)
    try:
        yield state
    finally:
        labctl.down(state_dir)


@pytest.fixture
def lab_env(lab: labctl.LabState, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point vmwctl at the lab through its profile (VMWCTL_CONFIG) and clouds.yaml."""
    env = {"VMWCTL_CONFIG": lab.config_file, "OS_CLIENT_CONFIG_FILE": lab.clouds_file}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
