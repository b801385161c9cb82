"""Fixtures of the reliability suite: services behind fault-injecting proxies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import labctl
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


def _http_proxy(url: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFaultProxy]:
    """An HTTP fault proxy in front of the Glance at ``url``; cloud 'faulty' reaches it
    (OS_CLIENT_CONFIG_FILE is set for the test)."""
    with HttpFaultProxy("127.0.0.1", int(url.rsplit(":", 1)[1])) as proxy:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds(tmp_path, "faulty",
                                                                     proxy.url)))
        yield proxy


@pytest.fixture
def glance_http(lab, lab_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The lab's Glance behind an HTTP proxy that answers chosen requests with errors or
    damages their bodies; cloud 'faulty' reaches it."""
    yield from _http_proxy(lab.glance_url, tmp_path, monkeypatch)


@pytest.fixture
def glance_tcp(lab, lab_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The lab's Glance behind a TCP proxy that cuts connections; cloud 'faulty'."""
    port = int(lab.glance_url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds(
            tmp_path, "faulty", f"http://127.0.0.1:{proxy.port}")))
        yield proxy


@pytest.fixture(scope="session")
def sha256_glance(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Glance of its own (its URL) that hashes images with sha256 (hashing_algorithm), as
    an operator may configure it: vmwctl can then check the size only."""
    service = labctl.start_glance(tmp_path_factory.mktemp("glance"), "glance-sha256",
                                  format_match=True, tie_to_parent=True,
                                  hashing_algorithm="sha256")
    try:
        yield service.url
    finally:
        labctl.stop_process(service.pid)


@pytest.fixture
def sha256_glance_http(sha256_glance: str, lab_env, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpFaultProxy]:
    """The sha256 Glance behind the HTTP fault proxy; cloud 'faulty' reaches it."""
    yield from _http_proxy(sha256_glance, tmp_path, monkeypatch)
