"""Fixtures of the lab tests: a simulator of the test's own, a session on it, its datastore."""

from __future__ import annotations

from pathlib import Path

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
