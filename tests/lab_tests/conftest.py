"""Fixtures of the lab tests: a simulator of the test's own, a session on it, its datastore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import labctl
import pytest


@pytest.fixture
def sim(simulator):
    """A simulator in the healthy scenario, for this test alone."""
    return simulator()


@pytest.fixture
def vc(sim):
    """vmwctl's vCenter session on ``sim``."""
    return sim.connect()


@pytest.fixture
def ds_dir(sim) -> Path:
    """The local directory behind ``sim``'s datastore LocalDS_0."""
    return Path(sim.datastores["LocalDS_0"])


@pytest.fixture
def private_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lock directory of the test's own for the purge's local lock ($XDG_RUNTIME_DIR)."""
    locks = tmp_path / "run"
    locks.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(locks))
    return locks


@pytest.fixture
def admin_cloud(lab, monkeypatch: pytest.MonkeyPatch) -> str:
    """The lab's admin cloud (clouds.yaml and secure.yaml in the environment), whose
    catalog names the lab's nova-api."""
    if not getattr(lab, "nova_url", None):
        pytest.fail(f"the lab in {lab.dir} runs no nova-api")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", lab.clouds_file)
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", lab.secure_file)
    return lab.cloud_admin


@pytest.fixture(scope="module")
def tls_keystone(lab: labctl.LabState,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Keystone of the lab's users over HTTPS (the lab's certificate and CA), for a
    module's tests; its URL."""
    service = labctl.start_keystone_tls(lab, tmp_path_factory.mktemp("keystone-tls"),
                                        tie_to_parent=True)
    try:
        yield service.url
    finally:
        labctl.stop_process(service.pid)
