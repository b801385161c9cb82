"""Fixtures of the reliability suite: services behind fault-injecting proxies."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultproxy import FaultProxy
from helpers import write_clouds
from httpfaults import HttpFaultProxy

FIGURES: list[tuple[str, str]] = []


@pytest.fixture
def record_figure():
    """Record a figure (what, value) to print at the end of the session."""
    return lambda what, value: FIGURES.append((what, value))


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for what, value in FIGURES:
            terminalreporter.line(f"{what}: {value}")


@pytest.fixture
def glance_http(lab, lab_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The lab's Glance behind an HTTP proxy that answers chosen requests with errors;
    cloud 'faulty' reaches it (OS_CLIENT_CONFIG_FILE is set for the test)."""
    port = int(lab.glance_url.rsplit(":", 1)[1])
    with HttpFaultProxy("127.0.0.1", port) as proxy:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds(tmp_path, "faulty",
                                                                     proxy.url)))
        yield proxy


@pytest.fixture
def glance_tcp(lab, lab_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The lab's Glance behind a TCP proxy that cuts connections; cloud 'faulty'."""
    port = int(lab.glance_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds(
            tmp_path, "faulty", f"http://127.0.0.1:{proxy.port}")))
        yield proxy
