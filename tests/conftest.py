"""Shared fixtures: an isolated environment per test, the lab per session, a CLI runner."""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent / "lab"))

import labctl
import sessionwatch
from helpers import run_vmwctl

ISOLATED_PREFIXES = ("VMWCTL_", "GOVC_", "OS_")
LAB_PASSWORD_ENV = "VMWCTL_TEST_VC_PASSWORD"

# 'make unit' (--hypothesis-profile=unit): fewer examples where a test does not set its own,
# and no deadline, so that a busy shared machine does not fail a test; 'make test' keeps
# Hypothesis's default profile.
settings.register_profile("unit", max_examples=25, deadline=None)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config, profile or GOVC_* from the developer's shell; cwd and XDG dir are empty."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES) or name in ("NO_COLOR", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def vmwctl() -> Any:
    return run_vmwctl


@pytest.fixture(autouse=True)
def watched_sessions(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hold every vmwctl run of the test to logging out (tests/sessionwatch.py): the
    simulators of the test's ``simulator`` and ``module_simulator`` fixtures and the lab's,
    when the test uses them (a test without them compares nothing, at no cost)."""
    providers = []
    if "lab" in request.fixturenames:
        lab_state = request.getfixturevalue("lab")
        providers.append(lambda: lab_sources(lab_state))
    for name in ("module_simulator", "simulator"):
        if name in request.fixturenames:
            start = request.getfixturevalue(name)
            providers.append(lambda start=start: [sim.session_source() for sim in start.started])
    sessionwatch.watch(providers)
    yield
    sessionwatch.watch([])


def lab_sources(state: labctl.LabState) -> list[sessionwatch.SessionSource]:
    """The lab's simulators (its own, and the fresh scenario's if started)."""
    ports = {"the lab's simulator": state.vcenter_port, "the lab's fresh simulator":
             state.fresh_port}
    return [sessionwatch.SessionSource(name, port, state.ca_file)
            for name, port in ports.items() if port]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labctl.LabState]:
    """The lab (vcsim + Glance + a Glance with format-match off + Keystone and a Glance
    behind it), once per test session; its profile names the Keystone-less Glance.

    Set VMWCTL_TEST_LAB_DIR to reuse a lab started with 'tests/lab/lab --dir DIR up
    --flat-glance --profile-cloud vmwctl-lab' while iterating; otherwise a private one is
    started and stopped.
    """
    reuse = os.environ.get("VMWCTL_TEST_LAB_DIR")
    if reuse:
        state = labctl.load_state(Path(reuse).resolve())
        if state is None:
            pytest.exit(f"VMWCTL_TEST_LAB_DIR={reuse} holds no running lab", returncode=2)
        if state.profile_cloud not in (None, state.cloud):
            pytest.exit(f"VMWCTL_TEST_LAB_DIR={reuse}: its profile names cloud "
                        f"{state.profile_cloud}; the tests want {state.cloud} (start it with "
                        f"'up --flat-glance --profile-cloud {state.cloud}')", returncode=2)
        if not state.direct_upload:
            pytest.exit(f"VMWCTL_TEST_LAB_DIR={reuse}: started --no-direct-upload; the tests "
                        "want the direct upload allowed (the import_only_lab fixture gives "
                        "a Glance without it)", returncode=2)
        yield state
        return
    state_dir = tmp_path_factory.mktemp("lab")
    state = labctl.up(state_dir, flat_glance=True, tie_to_parent=True)
    try:
        yield state
    finally:
        labctl.down(state_dir)


@pytest.fixture(scope="session")
def nova_python() -> Path:
    """The python of the lab's Nova virtualenv (tests/lab/nova-requirements.txt, installed
    once per machine by 'lab install'): for tests that read Nova's own definitions."""
    return labctl.install_nova() / "bin" / "python"


@pytest.fixture(scope="session")
def prometheus() -> Any:
    """promtool and node_exporter from Debian 12's packages (tests/lab/prometheus.py),
    unpacked once per machine on first use: ``promtool`` checks, ``node_exporter(dir,
    logs)`` starts one on loopback with the textfile collector alone."""
    import prometheus as tools

    return tools.Tools(tools.install())


@pytest.fixture(scope="session")
def private_glance(lab: labctl.LabState,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Glance of its own (its URL) for tests that need to know every image in it: the lab's
    is shared, and other tests leave images there. Its users remove what they upload."""
    service = labctl.start_glance(tmp_path_factory.mktemp("glance"), "glance-private",
                                  format_match=True, tie_to_parent=True)
    try:
        yield service.url
    finally:
        labctl.stop_process(service.pid)


@pytest.fixture(scope="session")
def import_only_lab(lab: labctl.LabState,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[labctl.LabState]:
    """The lab, and a second Glance behind its Keystone whose policy leaves the direct upload
    (PUT /file) to admins (labctl.start_import_only_glance): a copy of the lab's state with
    ``glance_import_only_url``, ``glance_import_only_stores``, and ``cloud_import_only``
    (operator) and ``cloud_import_only_admin`` in its own ``clouds_file`` and
    ``secure_file``, which hold the lab's clouds too (``env()`` points at them)."""
    service, state = labctl.start_import_only_glance(
        lab, tmp_path_factory.mktemp("import-only"), tie_to_parent=True)
    try:
        yield state
    finally:
        labctl.stop_process(service.pid)


@pytest.fixture
def lab_env(lab: labctl.LabState, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point vmwctl at the lab through its profile (VMWCTL_CONFIG) and clouds.yaml."""
    env = {"VMWCTL_CONFIG": lab.config_file, "OS_CLIENT_CONFIG_FILE": lab.clouds_file}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


class Simulator:
    """A vcsim of its own for one test, shaped by flags; ``config`` is a profile for it."""

    def __init__(self, lab: labctl.LabState, service: labctl.Service, ready: dict,
                 config: Path, username: str) -> None:
        self.lab = lab
        self.username = username
        self.service = service
        self.url = ready["url"]
        self.port = int(self.url.split(":")[2].split("/")[0])
        self.datastores = ready["datastores"]
        self.config = config
        self._sessions: list[Any] = []
        self._source: sessionwatch.SessionSource | None = None

    def run(self, *args: str, env: dict[str, str] | None = None):
        return run_vmwctl("--config", str(self.config), *args, env=env)

    def calls(self) -> dict[str, dict[str, int]]:
        """The SOAP calls this simulator has ``begun`` and ``answered``, by method, read
        from its GET /lab/calls (docs/lab.md)."""
        context = ssl.create_default_context(cafile=self.lab.ca_file)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/lab/calls",
                                    context=context, timeout=30) as response:
            return json.load(response)

    def call_log(self) -> list[dict[str, Any]]:
        """The SOAP calls this simulator has answered, oldest answer first, each with its
        ``method`` and the Unix times it was ``begun`` and ``answered`` (GET
        /lab/calls/log, docs/lab.md)."""
        context = ssl.create_default_context(cafile=self.lab.ca_file)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/lab/calls/log",
                                    context=context, timeout=30) as response:
            return json.load(response)

    def under_way(self, method: str) -> int:
        """How many calls of ``method`` have reached the simulator and are not answered yet
        (a -method-delay holds them): the moment to cut or signal. 0 again once the
        simulator has carried them out, also for a client that went away meanwhile."""
        calls = self.calls()
        return calls["begun"].get(method, 0) - calls["answered"].get(method, 0)

    def connections(self) -> int:
        """How many connections have carried a client's requests to this simulator (GET
        /lab/connections, docs/lab.md; the lab's own GET /lab/... are not counted)."""
        context = ssl.create_default_context(cafile=self.lab.ca_file)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/lab/connections",
                                    context=context, timeout=30) as response:
            return int(json.load(response)["used"])

    def sessions(self) -> list[dict[str, Any]]:
        """The simulator's live vCenter sessions (GET /lab/sessions, docs/lab.md)."""
        context = ssl.create_default_context(cafile=self.lab.ca_file)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/lab/sessions",
                                    context=context, timeout=30) as response:
            return json.load(response)

    def session_source(self) -> sessionwatch.SessionSource:
        """This simulator for tests/sessionwatch.py; the sessions of connect() are the
        test's own."""
        if self._source is None:
            self._source = sessionwatch.SessionSource(
                f"simulator {self.url}", self.port, self.lab.ca_file,
                own=lambda: filter(None, map(sessionwatch.session_key, self._sessions)))
        return self._source

    def connect(self) -> Any:
        """A vCenter session for shaping the simulator through the vSphere API."""
        from vmwctl.vsphere.session import ConnectionSettings, VCenter

        vc = VCenter(ConnectionSettings(host="127.0.0.1", port=self.port,
                                        username=self.username,
                                        password=lambda: self.lab.password,
                                        ca_file=self.lab.ca_file))
        self._sessions.append(vc)
        return vc

    def close(self) -> None:
        for vc in self._sessions:
            vc.close()
        labctl.stop_process(self.service.pid)


@pytest.fixture
def simulator(lab: labctl.LabState, tmp_path: Path) -> Iterator[Any]:
    """Start simulators of their own: simulator(*flags, scenario=..., cert=...,
    **vmware_options); ``cert``: its certificate and key (labctl.issue_certificate)."""
    yield from _simulators(lab, tmp_path)


@pytest.fixture(scope="module")
def module_simulator(lab: labctl.LabState,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """As ``simulator``, shared by a module's tests (for tests that change nothing on it)."""
    yield from _simulators(lab, tmp_path_factory.mktemp("simulators"))


def _simulators(lab: labctl.LabState, directory: Path) -> Iterator[Any]:
    started: list[Simulator] = []

    def start(*flags: str, scenario: str = "healthy", cert: tuple[Path, Path] | None = None,
              **vmware: Any) -> Simulator:
        import uuid

        import yaml

        name = f"vcsim-{uuid.uuid4().hex[:8]}"
        service, ready = labctl.start_vcsim(Path(lab.dir), scenario, extra_args=list(flags),
                                            tie_to_parent=True, name=name, cert=cert)
        port = int(ready["url"].split(":")[2].split("/")[0])
        username = labctl.lab_user(scenario)
        options = {"host_ip": "127.0.0.1", "host_port": port, "host_username": username,
                   "host_password_file": lab.password_file, "ca_file": lab.ca_file,
                   "cluster_name": "DC0_C0", "vnc_port_total": 206, **vmware}
        config = directory / f"{name}.yaml"
        config.write_text(yaml.safe_dump({"profiles": {"sim": {
            "vmware": options, "DEFAULT": {"my_ip": labctl.LAB_MY_IP},
            "openstack": {"cloud": lab.cloud}}}}))
        config.chmod(0o600)
        sim = Simulator(lab, service, ready, config, username)
        started.append(sim)
        return sim

    start.started = started  # type: ignore[attr-defined]  # read by watched_sessions
    yield start
    for sim in started:
        sim.close()
