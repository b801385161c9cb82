"""The lab: real services on loopback for vmwctl's tests, demo and benchmarks.

* vCenter: govmomi's simulator built from Debian's govmomi 0.24.2 source with
  the lab's own ``main`` (tests/lab/vcsim), over HTTPS with a lab CA.
* Image service: a real Glance under gunicorn, SQLite, file store, no Keystone.
  Optionally a second Glance with ``require_image_format_match = False`` for
  preallocated (flat) images.
* qemu-img from Debian's qemu-utils.

Standard library only, so that it runs before anything is installed:

    tests/lab/lab install            apt packages, simulator binary, Glance and Nova venvs
    tests/lab/lab up [--scenario S]  start everything, write profile + clouds.yaml
    tests/lab/lab status | env | down
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

LAB_SRC = Path(__file__).resolve().parent
REPO = LAB_SRC.parents[1]
VCSIM_SRC = LAB_SRC / "vcsim"
GLANCE_REQUIREMENTS = LAB_SRC / "glance-requirements.txt"
NOVA_REQUIREMENTS = LAB_SRC / "nova-requirements.txt"
# zsh and fish: the tests source the committed completion scripts in them.
APT_PACKAGES = ["golang-go", "golang-github-vmware-govmomi-dev", "qemu-utils", "binutils",
                "openssl", "curl", "zsh", "fish"]
GOPATH = "/usr/share/gocode"
LAB_USER = "administrator@vsphere.local"
# The unprepared scenario logs in as Nova's service account, which holds no role yet.
SERVICE_ACCOUNT = "svc-nova@vsphere.local"


def lab_user(scenario: str) -> str:
    """The one user name a simulator in this scenario accepts."""
    return SERVICE_ACCOUNT if scenario == "unprepared" else LAB_USER
LAB_CLOUD = "vmwctl-lab"
LAB_CLOUD_FLAT = "vmwctl-lab-flat"
LAB_MY_IP = "192.0.2.10"
SCENARIOS = ("healthy", "fresh", "unprepared")
PR_SET_PDEATHSIG = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vmwctl-lab"


def default_state_dir() -> Path:
    return Path(os.environ.get("VMWCTL_LAB_DIR") or REPO / ".lab")


def log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ install

def _missing_packages() -> list[str]:
    missing = []
    for package in APT_PACKAGES:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                              capture_output=True, text=True, check=False)
        if "install ok installed" not in done.stdout:
            missing.append(package)
    return missing


def install_packages() -> None:
    missing = _missing_packages()
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"installing {' '.join(missing)} with apt-get")
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def vcsim_binary() -> Path:
    """The simulator binary for the current source, built once per machine."""
    digest = hashlib.sha256()
    for path in sorted(VCSIM_SRC.glob("*.go")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    go_version = subprocess.run(["go", "version"], capture_output=True, text=True,
                                check=True).stdout
    digest.update(go_version.encode())
    return cache_dir() / f"vcsim-{digest.hexdigest()[:16]}"


def build_vcsim() -> Path:
    binary = vcsim_binary()
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    log("building the simulator (about 30 s, once per machine)")
    env = {**os.environ, "GOPATH": GOPATH, "GO111MODULE": "off",
           "GOCACHE": str(cache_dir() / "go-build"), "GOFLAGS": ""}
    tmp = binary.with_suffix(".tmp")
    subprocess.run(["go", "build", "-o", str(tmp), "."], cwd=VCSIM_SRC, env=env, check=True)
    tmp.rename(binary)
    return binary


def _venv_for(name: str, requirements: Path) -> Path:
    """The cached virtualenv of ``requirements``, keyed by their hash."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"{name}-{digest}"


@contextlib.contextmanager
def _cache_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file in the cache: concurrent sessions (other worktrees) wait
    instead of building the same thing into the same directory at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _install_venv(venv: Path, requirements: Path, what: str, took: str) -> Path:
    """Install ``requirements`` into ``venv`` once, under the cache's lock."""
    with _cache_lock(venv):
        if (venv / ".complete").exists():
            return venv
        log(f"installing {what} into its own virtualenv ({took}, once per machine)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r",
                               str(requirements)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise RuntimeError(f"installing {what} failed")
        (venv / ".complete").touch()
    return venv


def glance_venv() -> Path:
    return _venv_for("glance", GLANCE_REQUIREMENTS)


def install_glance() -> Path:
    return _install_venv(glance_venv(), GLANCE_REQUIREMENTS, "Glance", "about 30 s")


def nova_venv() -> Path:
    """Nova's own virtualenv: the tests read its option definitions (nothing runs Nova)."""
    return _venv_for("nova", NOVA_REQUIREMENTS)


def install_nova() -> Path:
    return _install_venv(nova_venv(), NOVA_REQUIREMENTS, "Nova", "about a minute")


def install() -> None:
    install_packages()
    build_vcsim()
    install_glance()
    install_nova()


# ------------------------------------------------------------------ state

@dataclass
class Service:
    name: str
    pid: int
    url: str
    log: str


@dataclass
class LabState:
    dir: str
    scenario: str
    vcenter_url: str
    vcenter_host: str
    vcenter_port: int
    username: str
    password_file: str
    ca_file: str
    config_file: str
    clouds_file: str
    cloud: str
    glance_url: str
    datastores: dict[str, str]
    cluster: str = "DC0_C0"
    datacenter: str = "DC0"
    glance_flat_url: str | None = None
    cloud_flat: str | None = None
    fresh_port: int | None = None  # a second simulator in the fresh scenario (profile "fresh")
    services: list[Service] = field(default_factory=list)

    @property
    def password(self) -> str:
        return Path(self.password_file).read_text().strip()

    def env(self) -> dict[str, str]:
        """Environment that points vmwctl, openstacksdk and govc at this lab."""
        return {
            "VMWCTL_CONFIG": self.config_file,
            "OS_CLIENT_CONFIG_FILE": self.clouds_file,
            "OS_CLOUD": self.cloud,
            "GOVC_URL": self.vcenter_url,
            "GOVC_USERNAME": self.username,
            "GOVC_PASSWORD": self.password_file,
            "GOVC_TLS_CA_CERTS": self.ca_file,
        }


def _state_file(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load_state(state_dir: Path) -> LabState | None:
    path = _state_file(state_dir)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    raw["services"] = [Service(**s) for s in raw.get("services", [])]
    return LabState(**raw)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------ up

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_certificates(state_dir: Path) -> tuple[Path, Path, Path]:
    ca_key, ca_pem = state_dir / "ca.key", state_dir / "ca.pem"
    key, csr, pem = state_dir / "server.key", state_dir / "server.csr", state_dir / "server.pem"
    ext = state_dir / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n")
    quiet = {"check": True, "capture_output": True}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca_pem,
                    "-days", "3650", "-subj", "/CN=vmwctl lab CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], **quiet)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"], **quiet)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", pem, "-days", "3650", "-extfile", ext], **quiet)
    return ca_pem, pem, key


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(argv: list[str], log_path: Path, *, env: dict[str, str] | None = None,
           stdout_path: Path | None = None, tie_to_parent: bool = False) -> subprocess.Popen:
    log_file = open(log_path, "ab")  # noqa: SIM115 (handed to the child)
    out = open(stdout_path, "wb") if stdout_path else log_file  # noqa: SIM115
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=log_file,
                                env=env, start_new_session=True,
                                preexec_fn=_die_with_parent if tie_to_parent else None)
    finally:
        log_file.close()
        if stdout_path:
            out.close()


def start_vcsim(state_dir: Path, scenario: str, *, extra_args: list[str] | None = None,
                tie_to_parent: bool = False, name: str = "vcsim") -> tuple[Service, dict]:
    """Start one simulator; return its service record and its ready line."""
    binary = build_vcsim()
    pem, key = state_dir / "server.pem", state_dir / "server.key"
    password_file = state_dir / "vc-password"
    datastore_root = state_dir / f"{name}-datastores"
    datastore_root.mkdir(exist_ok=True)
    ready_path = state_dir / f"{name}.ready"
    ready_path.unlink(missing_ok=True)
    argv = [str(binary), "-listen", "127.0.0.1:0", "-tlscert", str(pem), "-tlskey", str(key),
            "-username", lab_user(scenario), "-password", password_file.read_text().strip(),
            "-scenario", scenario, *(extra_args or [])]
    proc = _spawn(argv, state_dir / f"{name}.log", stdout_path=ready_path,
                  env={**os.environ, "TMPDIR": str(datastore_root)}, tie_to_parent=tie_to_parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = ready_path.read_text() if ready_path.exists() else ""
        if text.endswith("\n"):
            ready = json.loads(text.splitlines()[0])
            return Service(name, proc.pid, ready["url"], str(state_dir / f"{name}.log")), ready
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with status {proc.returncode}; see "
                               f"{state_dir / f'{name}.log'}")
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("the simulator did not start within 60 s")


_GLANCE_CONF = """\
[DEFAULT]
enabled_backends = file:file
hashing_algorithm = {hashing_algorithm}
worker_self_reference_url = {url}
log_file = {dir}/glance-api.log
enabled_import_methods = []
debug = False

[database]
connection = sqlite:///{dir}/glance.sqlite

[paste_deploy]
flavor =
config_file = {dir}/etc/glance-api-paste.ini

[glance_store]
default_backend = file

[file]
filesystem_store_datadir = {dir}/images

[os_glance_staging_store]
filesystem_store_datadir = {dir}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {dir}/tasks

[image_format]
require_image_format_match = {format_match}

[oslo_policy]
policy_file = {dir}/etc/policy.yaml
"""


def _wait_until_answers(proc: subprocess.Popen, url: str, name: str, log_path: Path, *,
                        timeout: float = 90, context: ssl.SSLContext | None = None) -> None:
    """Wait until ``url`` answers 200; stop the process if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(url, timeout=2, context=context) as response:
            if response.status == 200:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode}; see {log_path}")
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s")


@dataclass
class Starting:
    """A service whose process runs but may not answer yet: up() launches several and then
    waits for them, so that their start-ups overlap."""
    service: Service
    proc: subprocess.Popen
    ready_url: str
    context: ssl.SSLContext | None = None

    def wait(self) -> Service:
        _wait_until_answers(self.proc, self.ready_url, self.service.name,
                            Path(self.service.log), context=self.context)
        return self.service


def launch_glance(state_dir: Path, name: str, *, format_match: bool,
                  tie_to_parent: bool = False, hashing_algorithm: str = "sha512") -> Starting:
    """Launch a Glance in ``state_dir/name``; start_glance also waits until it answers."""
    venv = install_glance()
    root = state_dir / name
    for sub in ("etc", "images", "staging", "tasks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(venv / "etc" / "glance" / "glance-api-paste.ini", root / "etc")
    # No Keystone: every request runs in an unauthenticated context, which the
    # policy must treat as admin.
    (root / "etc" / "policy.yaml").write_text('"context_is_admin": "@"\n')
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (root / "etc" / "glance-api.conf").write_text(_GLANCE_CONF.format(
        url=url, dir=root, format_match=str(format_match),
        hashing_algorithm=hashing_algorithm))
    env = {**os.environ, "OS_GLANCE_CONFIG_DIR": str(root / "etc")}
    subprocess.run([str(venv / "bin" / "glance-manage"), "--config-dir", str(root / "etc"),
                    "db_sync"], env=env, check=True, capture_output=True)
    log_path = root / "gunicorn.log"
    proc = _spawn([str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                   "--workers", "1", "--threads", "8", "--timeout", "3600",
                   "glance.wsgi.api:application"], log_path, env=env,
                  tie_to_parent=tie_to_parent)
    return Starting(Service(name, proc.pid, url, str(log_path)), proc, f"{url}/healthcheck")


def start_glance(state_dir: Path, name: str, *, format_match: bool,
                 tie_to_parent: bool = False, hashing_algorithm: str = "sha512") -> Service:
    """Start a Glance (launch_glance) and wait until it answers."""
    return launch_glance(state_dir, name, format_match=format_match,
                         tie_to_parent=tie_to_parent,
                         hashing_algorithm=hashing_algorithm).wait()

def _profile(state: LabState, name: str, port: int, comment: str) -> str:
    return textwrap.indent(textwrap.dedent(f"""\
        # {comment}
        {name}:
          vmware:
            host_ip: {state.vcenter_host}
            host_port: {port}
            host_username: {state.username}
            host_password_file: {state.password_file}
            ca_file: {state.ca_file}
            cluster_name: {state.cluster}
            vnc_port_total: 206  # the ports the guide's VNC VIB opens, 5900-6105
          DEFAULT:
            my_ip: {LAB_MY_IP}
            reserved_host_memory_mb: 0
          availability_zone: az1
          openstack:
            cloud: {state.cloud}
        """), "  ")


def _write_profiles(state: LabState) -> None:
    profile = ("# The lab's profiles, written by tests/lab/lab up.\ndefault_profile: lab\n"
               "profiles:\n" + _profile(state, "lab", state.vcenter_port, "The lab's vCenter."))
    if state.fresh_port:
        profile += _profile(state, "fresh", state.fresh_port, "The fresh scenario: a cluster "
                            "that still lacks what the guide asks for.")
    config = Path(state.config_file)
    config.write_text(profile)
    config.chmod(0o600)
    clouds = {"clouds": {state.cloud: glance_cloud(state.glance_url)}}
    if state.glance_flat_url and state.cloud_flat:
        clouds["clouds"][state.cloud_flat] = glance_cloud(state.glance_flat_url)
    Path(state.clouds_file).write_text(json.dumps(clouds, indent=2) + "\n")


def glance_cloud(url: str) -> dict:
    """A clouds.yaml entry for a lab Glance: no Keystone, the image endpoint given."""
    return {"auth_type": "none", "auth": {"endpoint": url}, "image_endpoint_override": url}


def up(state_dir: Path | None = None, *, scenario: str = "healthy", flat_glance: bool = False,
       vcsim_args: list[str] | None = None, tie_to_parent: bool = False,
       fresh: bool = False) -> LabState:
    """Install what is missing, start the services, write the lab's profile."""
    state_dir = (state_dir or default_state_dir()).resolve()
    existing = load_state(state_dir)
    if existing and any(_alive(s.pid) for s in existing.services):
        raise RuntimeError(f"a lab is already running in {state_dir}; run 'lab down' first")
    if scenario not in SCENARIOS:
        raise RuntimeError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    install()
    _reset_state_dir(state_dir)
    _make_certificates(state_dir)
    password_file = state_dir / "vc-password"
    password_file.write_text(secrets.token_urlsafe(18) + "\n")
    password_file.chmod(0o600)
    services: list[Service] = []
    try:
        vcsim, ready = start_vcsim(state_dir, scenario, extra_args=vcsim_args,
                                   tie_to_parent=tie_to_parent)
        services.append(vcsim)
        # Every gunicorn is launched first and waited for after: their start-ups overlap.
        starting: dict[str, Starting] = {}
        glances = {"glance": True}  # name: require_image_format_match
        if flat_glance:
            glances["glance-flat"] = False
        for name, format_match in glances.items():
            starting[name] = launch_glance(state_dir, name, format_match=format_match,
                                           tie_to_parent=tie_to_parent)
            services.append(starting[name].service)
        for launched in starting.values():
            launched.wait()
        fresh_port = None
        if fresh:
            second, fresh_ready = start_vcsim(state_dir, "fresh", tie_to_parent=tie_to_parent,
                                              name="vcsim-fresh")
            if lab_user("fresh") != lab_user(scenario):
                raise RuntimeError(f"--fresh cannot go with the {scenario} scenario (another "
                                   "user name)")
            services.append(second)
            fresh_port = int(fresh_ready["url"].split("//", 1)[1].split("/", 1)[0]
                             .rsplit(":", 1)[1])
    except BaseException:
        stop_processes([service.pid for service in services])
        raise
    host_port = ready["url"].split("//", 1)[1].split("/", 1)[0]
    flat = starting.get("glance-flat")
    state = LabState(
        dir=str(state_dir), scenario=scenario, vcenter_url=ready["url"],
        vcenter_host=host_port.rsplit(":", 1)[0], vcenter_port=int(host_port.rsplit(":", 1)[1]),
        username=lab_user(scenario), password_file=str(password_file),
        ca_file=str(state_dir / "ca.pem"),
        config_file=str(state_dir / "vmwctl.yaml"), clouds_file=str(state_dir / "clouds.yaml"),
        cloud=LAB_CLOUD, glance_url=starting["glance"].service.url,
        datastores=ready["datastores"], glance_flat_url=flat.service.url if flat else None,
        cloud_flat=LAB_CLOUD_FLAT if flat else None, fresh_port=fresh_port, services=services)
    _write_profiles(state)
    _state_file(state_dir).write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state


def _reset_state_dir(state_dir: Path) -> None:
    """Every lab starts from a known state: no images, datastores or logs of a previous
    one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    for leftover in ("glance", "glance-flat", "vcsim-datastores", "vcsim-slow-datastores",
                     "vcsim-fresh-datastores"):
        shutil.rmtree(state_dir / leftover, ignore_errors=True)
    for log_file in state_dir.glob("*.log"):
        log_file.unlink()


# ------------------------------------------------------------------ down

def stop_process(pid: int, timeout: float = 15) -> None:
    stop_processes([pid], timeout)


def stop_processes(pids: list[int], timeout: float = 15) -> None:
    """SIGTERM to each process group at once, then wait for all of them (so that their
    shutdowns overlap); SIGKILL to those still there after ``timeout``."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = list(pids)
    while waiting and time.monotonic() < deadline:
        for pid in waiting:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        waiting = [pid for pid in waiting if _alive(pid)]
        if waiting:
            time.sleep(0.05)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def down(state_dir: Path | None = None) -> bool:
    """Stop the lab's services; return whether anything was running."""
    state_dir = (state_dir or default_state_dir()).resolve()
    state = load_state(state_dir)
    if state is None:
        return False
    alive = [service.pid for service in state.services if _alive(service.pid)]
    stop_processes(alive)
    _state_file(state_dir).unlink(missing_ok=True)
    return bool(alive)


def status(state_dir: Path | None = None) -> dict:
    state_dir = (state_dir or default_state_dir()).resolve()
    state = load_state(state_dir)
    if state is None:
        return {"running": False, "dir": str(state_dir)}
    return {"running": all(_alive(s.pid) for s in state.services), "dir": str(state_dir),
            "scenario": state.scenario,
            "services": {s.name: {"url": s.url, "pid": s.pid, "alive": _alive(s.pid)}
                         for s in state.services}}


# ------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="state directory (default: $VMWCTL_LAB_DIR or .lab in the repo)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install packages, build the simulator, install Glance "
                   "and Nova")
    start = sub.add_parser("up", help="start the lab")
    start.add_argument("--scenario", choices=SCENARIOS, default="healthy")
    start.add_argument("--flat-glance", action="store_true",
                       help="also start a Glance that accepts raw (flat) data as vmdk")
    start.add_argument("--vcsim-arg", action="append", default=[], metavar="ARG",
                       help="extra simulator flag, e.g. --vcsim-arg=-host=32 (repeatable)")
    start.add_argument("--fresh", action="store_true",
                       help="also start a simulator in the fresh scenario (profile 'fresh')")
    sub.add_parser("down", help="stop the lab")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("env", help="print shell exports that point vmwctl at the lab")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install()
        elif args.command == "up":
            state = up(args.dir, scenario=args.scenario, flat_glance=args.flat_glance,
                       vcsim_args=args.vcsim_arg, fresh=args.fresh)
            log(f"vCenter {state.vcenter_url} ({state.scenario}), Glance {state.glance_url}")
            log(f"profile {state.config_file}; use: eval \"$(tests/lab/lab env)\"")
        elif args.command == "down":
            log("stopped" if down(args.dir) else "nothing was running")
        elif args.command == "status":
            print(json.dumps(status(args.dir), indent=2))
        elif args.command == "env":
            state = load_state((args.dir or default_state_dir()).resolve())
            if state is None:
                log("no lab is running; run 'tests/lab/lab up'")
                return 1
            for key, value in state.env().items():
                print(f"export {key}={value}")
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
