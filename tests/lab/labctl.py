"""The lab: real services on loopback for vmwctl's tests, demo and benchmarks.

* vCenter: govmomi's simulator built from Debian's govmomi 0.24.2 source with
  the lab's own ``main`` (tests/lab/vcsim), over HTTPS with a lab CA.
* Image service: a real Glance under gunicorn, SQLite, file store, no Keystone.
  Optionally a second Glance with ``require_image_format_match = False`` for
  preallocated (flat) images.
* Identity: a real Keystone under gunicorn (SQLite, fernet tokens) and a second
  Glance behind it (keystonemiddleware, Glance's default policies, the import API
  and two stores fast and slow; --no-direct-upload leaves PUT /file to admins),
  with users in three projects and an image of another project (on by default).
* Compute: Nova's nova-api behind that Keystone (SQLite API/cell0/cell1 databases, no
  conductor or compute service; nova_records.py writes instance records), on by default.
* qemu-img from Debian's qemu-utils.

Standard library only, so that it runs before anything is installed:

    tests/lab/lab install            apt packages, simulator binary, Glance, Keystone and
                                     Nova venvs, Keystone's bootstrapped template, Nova's
                                     databases
    tests/lab/lab up [--scenario S]  start everything, write profile + clouds.yaml
    tests/lab/lab status | env | down
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import fcntl
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from email.message import Message
from pathlib import Path

LAB_SRC = Path(__file__).resolve().parent
REPO = LAB_SRC.parents[1]
VCSIM_SRC = LAB_SRC / "vcsim"
GLANCE_REQUIREMENTS = LAB_SRC / "glance-requirements.txt"
NOVA_REQUIREMENTS = LAB_SRC / "nova-requirements.txt"
KEYSTONE_REQUIREMENTS = LAB_SRC / "keystone-requirements.txt"
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
    """Nova's own virtualenv (and gunicorn): the tests read its option definitions, and the
    lab runs nova-api from it."""
    return _venv_for("nova", NOVA_REQUIREMENTS)


def install_nova() -> Path:
    return _install_venv(nova_venv(), NOVA_REQUIREMENTS, "Nova", "about a minute")


def keystone_venv() -> Path:
    return _venv_for("keystone", KEYSTONE_REQUIREMENTS)


def install_keystone() -> Path:
    return _install_venv(keystone_venv(), KEYSTONE_REQUIREMENTS, "Keystone", "about 30 s")


def install() -> None:
    install_packages()
    build_vcsim()
    install_glance()
    install_nova()
    build_keystone_template()
    build_nova_template()


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
    # Keystone (up(keystone=True)): its URL, the Glance behind it, and the clouds.yaml
    # entries of its users (passwords and the application credential's secret in
    # secure_file, which openstacksdk reads through OS_CLIENT_SECURE_FILE).
    keystone_url: str | None = None
    glance_keystone_url: str | None = None
    secure_file: str | None = None
    cloud_admin: str | None = None
    cloud_operator: str | None = None
    cloud_auditor: str | None = None
    cloud_outsider: str | None = None
    cloud_app_credential: str | None = None
    others_image: str | None = None  # the id of outsider's image in project others
    # glance-keystone's import API (docs/lab.md, "Import and stores"): its stores' directories
    # by name (the default first), its staging directory, and whether project members may
    # upload directly (PUT /file; False: lab up --no-direct-upload, upload_image admin-only).
    glance_keystone_stores: dict[str, str] | None = None
    glance_keystone_staging: str | None = None
    direct_upload: bool = True
    # A second Keystone-protected Glance whose policy forbids the direct upload
    # (start_import_only_glance; None in the lab itself) and its clouds (operator's and
    # admin's, the image endpoint overridden to it).
    glance_import_only_url: str | None = None
    glance_import_only_stores: dict[str, str] | None = None
    cloud_import_only: str | None = None
    cloud_import_only_admin: str | None = None
    profile_cloud: str | None = None  # the cloud the profile and OS_CLOUD name (else cloud)
    # nova-api behind Keystone (up(nova=True)): its URL (the catalog's compute endpoints are
    # nova_url + "/v2.1"), and the compute node name Nova's VMware driver gives each cluster
    # of the simulator, by cluster name ("domain-c7(DC0_C0)"; no record exists until
    # create_nova_instances makes one), and the nova-compute host of each cluster.
    nova_url: str | None = None
    nova_nodes: dict[str, str] | None = None
    nova_hosts: dict[str, str] | None = None
    # The instance records up() made for the simulator's Nova VMs (nvp.vm-uuid, in a
    # cluster), operator's in project operators: uuid -> name (= the VM's name).
    nova_instances: dict[str, str] | None = None
    services: list[Service] = field(default_factory=list)

    @property
    def password(self) -> str:
        return Path(self.password_file).read_text().strip()

    def keystone_password(self, user: str) -> str:
        """The Keystone password of ``user`` (admin, glance, operator, auditor, outsider)."""
        return _read_secret(Path(self.dir) / "keystone" / f"{user}.password")

    def app_credential(self) -> tuple[str, str]:
        """The id and secret of operator's application credential."""
        credential = json.loads(_read_secret(Path(self.dir) / "keystone" / APP_CREDENTIAL_FILE))
        return credential["id"], credential["secret"]

    def env(self) -> dict[str, str]:
        """Environment that points vmwctl, openstacksdk and govc at this lab."""
        env = {
            "VMWCTL_CONFIG": self.config_file,
            "OS_CLIENT_CONFIG_FILE": self.clouds_file,
            "OS_CLOUD": self.profile_cloud or self.cloud,
            "GOVC_URL": self.vcenter_url,
            "GOVC_USERNAME": self.username,
            "GOVC_PASSWORD": self.password_file,
            "GOVC_TLS_CA_CERTS": self.ca_file,
        }
        if self.secure_file:
            env["OS_CLIENT_SECURE_FILE"] = self.secure_file
        return env


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
    """The lab's CA (ca.pem, ca.key) and the server certificate of its services."""
    ca_key, ca_pem = state_dir / "ca.key", state_dir / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca_pem,
                    "-days", "3650", "-subj", "/CN=vmwctl lab CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    pem, key = issue_certificate(state_dir, state_dir, "server")
    return ca_pem, pem, key


def issue_certificate(state_dir: Path, directory: Path, name: str, *,
                      sans: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost"),
                      days: float = 3650, not_before: float = -1,
                      common_name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A server certificate signed by the lab's CA (ca.pem, ca.key in ``state_dir``), with
    the subject alternative names ``sans`` (OpenSSL's form: ``IP:...``, ``DNS:...``), valid
    from ``not_before`` to ``days`` days from now (negative: in the past, an expired or not
    yet valid one); its certificate and key, ``name``.pem and ``name``.key in
    ``directory``. For the simulator fixture's ``cert``."""
    directory.mkdir(parents=True, exist_ok=True)
    key, csr, pem = (directory / f"{name}{suffix}" for suffix in (".key", ".csr", ".pem"))
    database = directory / f"{name}.ca"
    database.mkdir(exist_ok=True)
    (database / "index.txt").write_text("")
    (database / "serial").write_text(secrets.token_hex(16) + "\n")
    config = directory / f"{name}.cnf"
    config.write_text(f"[ca]\ndefault_ca = lab\n[lab]\ndatabase = {database}/index.txt\n"
                      f"new_certs_dir = {database}\nserial = {database}/serial\n"
                      "default_md = sha256\npolicy = any\nunique_subject = no\n"
                      "[any]\ncommonName = supplied\n")
    ext = directory / f"{name}.ext"
    ext.write_text((f"subjectAltName={','.join(sans)}\n" if sans else "")
                   + "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                   "keyUsage=digitalSignature\n")
    now = datetime.datetime.now(datetime.UTC)

    def stamp(offset_days: float) -> str:
        return (now + datetime.timedelta(days=offset_days)).strftime("%Y%m%d%H%M%SZ")

    quiet = {"check": True, "capture_output": True}
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={common_name}"],
                   **quiet)
    subprocess.run(["openssl", "ca", "-batch", "-notext", "-config", config,
                    "-cert", state_dir / "ca.pem", "-keyfile", state_dir / "ca.key",
                    "-in", csr, "-out", pem, "-extfile", ext,
                    "-startdate", stamp(not_before), "-enddate", stamp(days)], **quiet)
    return pem, key


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
                tie_to_parent: bool = False, name: str = "vcsim",
                cert: tuple[Path, Path] | None = None) -> tuple[Service, dict]:
    """Start one simulator; return its service record and its ready line. ``cert``: its
    certificate and key (issue_certificate), instead of the lab's server.pem."""
    binary = build_vcsim()
    pem, key = cert or (state_dir / "server.pem", state_dir / "server.key")
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
enabled_backends = {backends}
hashing_algorithm = {hashing_algorithm}
worker_self_reference_url = {url}
log_file = {dir}/glance-api.log
enabled_import_methods = [{import_methods}]
{staging_uri}debug = False

[database]
connection = sqlite:///{dir}/glance.sqlite

[paste_deploy]
flavor = {flavor}
config_file = {dir}/etc/glance-api-paste.ini

[glance_store]
default_backend = {default_backend}

{stores}[os_glance_staging_store]
filesystem_store_datadir = {dir}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {dir}/tasks

[image_format]
require_image_format_match = {format_match}

{auth}{import_filtering}"""


@dataclass(frozen=True)
class GlanceStore:
    """One file store of a lab Glance: its name in enabled_backends, its directory (under
    the Glance's own), and the description /v2/info/stores shows (None: no description)."""
    name: str
    directory: str
    description: str | None = None


# The Keystone-less Glances: one store, no import methods.
PLAIN_STORES = (GlanceStore("file", "images"),)
# The Keystone-protected Glance: two stores (the first is the default) and the import API.
IMPORT_STORES = (GlanceStore("fast", "fast", "the lab's default store (a directory)"),
                 GlanceStore("slow", "slow", "the lab's second store (another directory)"))
IMPORT_METHODS = ("glance-direct", "web-download", "copy-image")
# web-download refuses loopback unless its host is listed (glance.common.utils
# resolve_pinned_address), and by default ports other than 80 and 443: the lab's Glances
# fetch from the tests' own servers on 127.0.0.1, on any port. A listed host makes every
# other one refused; the lab has no other network anyway. Never for a real cloud.
_IMPORT_FILTERING = """
[import_filtering_opts]
allowed_schemes = [http, https]
allowed_hosts = [127.0.0.1, ::1]
allowed_ports = []
"""
# What an import-only cloud's policy says (Glance's default: admin or project member).
UPLOAD_IMAGE_RULE = "role:admin"

# No Keystone: every request runs in an unauthenticated context, which the policy must
# treat as admin.
_GLANCE_NO_AUTH = """\
[oslo_policy]
policy_file = {dir}/etc/policy.yaml
"""

# Behind Keystone: keystonemiddleware checks every token as a service user (glance, nova),
# and the service's default policies apply (for Glance: no policy file).
_KEYSTONE_AUTHTOKEN = """\
[keystone_authtoken]
www_authenticate_uri = {keystone_url}/v3
auth_url = {keystone_url}/v3
auth_type = password
username = {username}
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
"""


@dataclass(frozen=True)
class ServiceUser:
    """The Keystone and the service user a Glance checks tokens with."""
    keystone_url: str
    password: str


def _glance_auth(root: Path, keystone: ServiceUser | None, *,
                 direct_upload: bool = True) -> tuple[str, str]:
    """The paste flavor and the auth sections of a Glance's configuration; behind Keystone
    without ``direct_upload``, a policy file that limits upload_image (the direct PUT) to
    admins, Glance's other default policies staying."""
    if keystone is None:
        if not direct_upload:
            raise ValueError("only a Glance behind Keystone can forbid the direct upload")
        (root / "etc" / "policy.yaml").write_text('"context_is_admin": "@"\n')
        return "", _GLANCE_NO_AUTH.format(dir=root)
    auth = _KEYSTONE_AUTHTOKEN.format(keystone_url=keystone.keystone_url, username="glance",
                                      password=keystone.password)
    if not direct_upload:
        (root / "etc" / "policy.yaml").write_text(f'"upload_image": "{UPLOAD_IMAGE_RULE}"\n')
        auth += "\n" + _GLANCE_NO_AUTH.format(dir=root)
    return "keystone", auth


def _glance_conf(root: Path, url: str, *, format_match: bool, flavor: str, auth: str,
                 hashing_algorithm: str, imports: bool) -> str:
    """A Glance's glance-api.conf: with ``imports``, the import API (staging in
    ``root/staging``), the two IMPORT_STORES and web-download's lab filters; else one
    store and no import method."""
    stores = IMPORT_STORES if imports else PLAIN_STORES
    sections = ""
    for store in stores:
        sections += f"[{store.name}]\nfilesystem_store_datadir = {root / store.directory}\n"
        if store.description:
            sections += f"store_description = {store.description}\n"
        sections += "\n"
    return _GLANCE_CONF.format(
        url=url, dir=root, format_match=str(format_match), flavor=flavor, auth=auth,
        hashing_algorithm=hashing_algorithm,
        backends=", ".join(f"{store.name}:file" for store in stores),
        default_backend=stores[0].name, stores=sections,
        import_methods=", ".join(IMPORT_METHODS) if imports else "",
        # Glance 33 stages into [os_glance_staging_store] once enabled_backends is set;
        # node_staging_uri (default file:///tmp/staging/) names the same directory so that
        # nothing of a lab lands in /tmp.
        staging_uri=f"node_staging_uri = file://{root}/staging\n" if imports else "",
        import_filtering=_IMPORT_FILTERING if imports else "")


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
                  tie_to_parent: bool = False, hashing_algorithm: str = "sha512",
                  keystone: ServiceUser | None = None, imports: bool = False,
                  direct_upload: bool = True) -> Starting:
    """Launch a Glance in ``state_dir/name``: without Keystone, or behind ``keystone``
    (which need not answer yet: keystonemiddleware calls it at the first request).
    ``imports``: the import API and two stores (_glance_conf); ``direct_upload`` False: a
    policy that leaves the direct upload (PUT /file) to admins (behind Keystone only)."""
    venv = install_glance()
    root = state_dir / name
    stores = IMPORT_STORES if imports else PLAIN_STORES
    for sub in ("etc", "staging", "tasks", *(store.directory for store in stores)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(venv / "etc" / "glance" / "glance-api-paste.ini", root / "etc")
    flavor, auth = _glance_auth(root, keystone, direct_upload=direct_upload)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    conf = root / "etc" / "glance-api.conf"
    conf.write_text(_glance_conf(root, url, format_match=format_match, flavor=flavor,
                                 auth=auth, hashing_algorithm=hashing_algorithm,
                                 imports=imports))
    conf.chmod(0o600)  # the service user's password, behind Keystone
    env = {**os.environ, "OS_GLANCE_CONFIG_DIR": str(root / "etc")}
    subprocess.run([str(venv / "bin" / "glance-manage"), "--config-dir", str(root / "etc"),
                    "db_sync"], env=env, check=True, capture_output=True)
    # Write-ahead logging: a request reading the database no longer blocks one that writes,
    # and concurrent uploads stop failing with "database is locked" (SQLite only; real
    # clouds run MySQL). The mode is kept in the file.
    with contextlib.closing(sqlite3.connect(root / "glance.sqlite")) as database:
        database.execute("PRAGMA journal_mode=WAL")
    log_path = root / "gunicorn.log"
    # The import API runs its taskflow in a thread of this process (Glance's native
    # thread pool under WSGI): no other worker is needed.
    proc = _spawn([str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                   "--workers", "1", "--threads", "8", "--timeout", "3600",
                   "glance.wsgi.api:application"], log_path, env=env,
                  tie_to_parent=tie_to_parent)
    return Starting(Service(name, proc.pid, url, str(log_path)), proc, f"{url}/healthcheck")


def start_glance(state_dir: Path, name: str, *, format_match: bool,
                 tie_to_parent: bool = False, hashing_algorithm: str = "sha512",
                 keystone: ServiceUser | None = None, imports: bool = False,
                 direct_upload: bool = True) -> Service:
    """Start a Glance (launch_glance) and wait until it answers."""
    return launch_glance(state_dir, name, format_match=format_match,
                         tie_to_parent=tie_to_parent, hashing_algorithm=hashing_algorithm,
                         keystone=keystone, imports=imports,
                         direct_upload=direct_upload).wait()


def glance_stores(glance_dir: Path) -> dict[str, str]:
    """The directory of each store of a Glance started with ``imports`` in
    ``glance_dir``, by store name, the default first."""
    return {store.name: str(glance_dir / store.directory) for store in IMPORT_STORES}

# ------------------------------------------------------------------ keystone

# The template (database, key repositories, passwords) is built once per machine and
# keyed by the requirements and this recipe version: bump it when the recipe changes.
KEYSTONE_RECIPE = 2  # 2: the nova user and the compute service
KEYSTONE_REGION = "RegionOne"
# The template's catalog names this address until a lab points it at its own services.
KEYSTONE_PLACEHOLDER_URL = "http://127.0.0.1:9"
KEYSTONE_TOKEN_EXPIRATION = 3600
# Made by keystone-manage bootstrap, with roles admin, manager, member, reader, service.
KEYSTONE_ADMIN = "admin"
APP_CREDENTIAL = "vmwctl-lab"  # operator's, in project operators
APP_CREDENTIAL_FILE = "app-credential.json"
OTHERS_IMAGE = "outsider-image"  # outsider's, in project others: another project's image
OTHERS_VMDK = "outsider-image.vmdk"
OPERATOR_CLOUD = "vmwctl-lab-operator"  # the profile's cloud for make lab and make demo


@dataclass(frozen=True)
class KeystoneUser:
    """A user of the lab's Keystone: its project (domain Default), its roles there, and its
    clouds.yaml entry (None: not a user a client logs in as)."""
    name: str
    project: str
    roles: tuple[str, ...]
    cloud: str | None


KEYSTONE_USERS = (
    KeystoneUser(KEYSTONE_ADMIN, "admin", ("admin",), "vmwctl-lab-admin"),
    # keystonemiddleware checks tokens as this user; Glance's default policies want both.
    KeystoneUser("glance", "service", ("service", "admin"), None),
    # nova-api's keystonemiddleware checks tokens as this one.
    KeystoneUser("nova", "service", ("service", "admin"), None),
    KeystoneUser("operator", "operators", ("member",), OPERATOR_CLOUD),
    KeystoneUser("auditor", "operators", ("reader",), "vmwctl-lab-auditor"),
    KeystoneUser("outsider", "others", ("member",), "vmwctl-lab-outsider"),
)
APP_CREDENTIAL_CLOUD = "vmwctl-lab-app-credential"

_KEYSTONE_CONF = """\
[DEFAULT]
log_file = {dir}/keystone.log
debug = False

[database]
connection = sqlite:///{dir}/keystone.sqlite

[token]
provider = fernet
expiration = {expiration}

[fernet_tokens]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[identity]
# The fewest bcrypt rounds: every password check costs about 1 ms instead of 250.
password_hash_rounds = 4
# bcrypt's own limit: a longer one makes Keystone warn at every password check.
max_password_length = 72
"""


def _keystone_user(name: str) -> KeystoneUser:
    return next(user for user in KEYSTONE_USERS if user.name == name)


def _read_secret(path: Path) -> str:
    return path.read_text().strip()


def _write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (created so, never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


def _write_keystone_conf(root: Path, expiration: int) -> None:
    (root / "keystone.conf").write_text(_KEYSTONE_CONF.format(dir=root, expiration=expiration))


def _http_json(method: str, url: str, *, token: str | None = None, body: object = None,
               data: bytes | None = None, context: ssl.SSLContext | None = None,
               ) -> tuple[dict, Message]:
    """One call to an OpenStack REST API: its JSON answer (empty for none) and headers.

    ``body`` is sent as JSON, ``data`` as an octet stream; an error answer raises a
    RuntimeError naming the call and the status."""
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        headers["Content-Type"] = "application/octet-stream"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            raw = response.read()
            return (json.loads(raw) if raw else {}), response.headers
    except urllib.error.HTTPError as exc:
        answer = exc.read().decode(errors="replace")[:300]
        raise RuntimeError(f"{method} {url} answered {exc.code}: {answer}") from None


def keystone_token(url: str, user: str, password: str, project: str, *,
                   context: ssl.SSLContext | None = None) -> str:
    """A token of ``user`` scoped to ``project`` (both in domain Default)."""
    domain = {"id": "default"}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": domain, "password": password}}},
        "scope": {"project": {"name": project, "domain": domain}}}}
    _, headers = _http_json("POST", f"{url}/v3/auth/tokens", body=body, context=context)
    return headers["X-Subject-Token"]


class _KeystoneAdmin:
    """The calls the lab makes to Keystone's v3 API as admin."""

    def __init__(self, url: str, admin_password: str,
                 context: ssl.SSLContext | None = None) -> None:
        self.url = url
        self.context = context
        self.token = keystone_token(url, KEYSTONE_ADMIN, admin_password, "admin",
                                    context=context)

    def call(self, method: str, path: str, body: object = None) -> dict:
        return _http_json(method, f"{self.url}/v3{path}", token=self.token, body=body,
                          context=self.context)[0]

    def create(self, kind: str, **fields: object) -> str:
        """Create a ``kind`` (project, user, service, endpoint); return its id."""
        return self.call("POST", f"/{kind}s", {kind: fields})[kind]["id"]

    def ids(self, kind: str) -> dict[str, str]:
        """The ids of every ``kind`` by name (projects, roles, users)."""
        return {item["name"]: item["id"] for item in self.call("GET", f"/{kind}")[kind]}


def _keystone_manage(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """Run keystone-manage on ``root``'s configuration; its output only if it fails."""
    argv = [str(keystone_venv() / "bin" / "keystone-manage"), "--config-file",
            str(root / "keystone.conf"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env=env or os.environ.copy())
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"keystone-manage {args[0]} failed (status {done.returncode})")


def _bootstrap_keystone(root: Path, admin_password: str) -> None:
    """A new database and key repositories in ``root``; domain Default, project and user
    admin, the roles, region RegionOne, and Keystone's own service in the catalog."""
    _write_keystone_conf(root, KEYSTONE_TOKEN_EXPIRATION)
    owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
             "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
    _keystone_manage(root, "db_sync")
    _keystone_manage(root, "fernet_setup", *owner)
    _keystone_manage(root, "credential_setup", *owner)
    placeholder = f"{KEYSTONE_PLACEHOLDER_URL}/v3"
    # The password reaches keystone-manage through its environment, never its argv.
    _keystone_manage(root, "bootstrap", "--bootstrap-username", KEYSTONE_ADMIN,
                     "--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin",
                     "--bootstrap-service-name", "keystone",
                     "--bootstrap-region-id", KEYSTONE_REGION,
                     "--bootstrap-public-url", placeholder,
                     "--bootstrap-internal-url", placeholder,
                     "--bootstrap-admin-url", placeholder,
                     env={**os.environ, "OS_BOOTSTRAP_PASSWORD": admin_password})


def _populate_keystone(url: str, passwords: dict[str, str]) -> dict[str, str]:
    """Through the API of a Keystone serving a bootstrapped database: the projects, users
    and roles of KEYSTONE_USERS, Glance's and Nova's services with placeholder endpoints, and
    operator's application credential, whose id and secret are returned."""
    admin = _KeystoneAdmin(url, passwords[KEYSTONE_ADMIN])
    projects = admin.ids("projects")
    roles = admin.ids("roles")
    for user in KEYSTONE_USERS:
        if user.project not in projects:
            projects[user.project] = admin.create("project", name=user.project,
                                                  domain_id="default")
    for user in KEYSTONE_USERS:
        if user.name == KEYSTONE_ADMIN:
            continue
        user_id = admin.create("user", name=user.name, password=passwords[user.name],
                               domain_id="default", default_project_id=projects[user.project])
        for role in user.roles:
            admin.call("PUT", f"/projects/{projects[user.project]}/users/{user_id}/roles/"
                              f"{roles[role]}")
    for kind, name in (("image", "glance"), ("compute", "nova")):
        service = admin.create("service", type=kind, name=name)
        for interface in ("public", "internal", "admin"):
            admin.create("endpoint", service_id=service, interface=interface,
                         region_id=KEYSTONE_REGION, url=KEYSTONE_PLACEHOLDER_URL)
    operator = _keystone_user("operator")
    token = keystone_token(url, operator.name, passwords[operator.name], operator.project)
    operator_id = admin.ids("users")[operator.name]
    secret = secrets.token_urlsafe(24)
    created = _http_json("POST", f"{url}/v3/users/{operator_id}/application_credentials",
                         token=token, body={"application_credential": {
                             "name": APP_CREDENTIAL, "secret": secret,
                             "description": "vmwctl's lab"}})[0]
    return {"name": APP_CREDENTIAL, "id": created["application_credential"]["id"],
            "secret": secret}


def _make_others_vmdk(path: Path) -> None:
    """A small valid streamOptimized VMDK (1 MiB, some data) for outsider's image."""
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as out:
        out.write(b"\0" * (256 << 10) + b"vmwctl lab: outsider's image\n".ljust(64 << 10, b".")
                  + b"\0" * ((1 << 20) - (320 << 10)))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized", str(raw), str(path)],
                   check=True, capture_output=True)
    raw.unlink()


def keystone_template() -> Path:
    """The bootstrapped template's directory for the current requirements and recipe."""
    digest = hashlib.sha256(KEYSTONE_REQUIREMENTS.read_bytes()
                            + f"\0recipe {KEYSTONE_RECIPE}".encode())
    return cache_dir() / f"keystone-template-{digest.hexdigest()[:12]}"


def _build_template(template: Path, what: str, fill: Callable[[Path], None]) -> Path:
    """``template``, built once per machine under the cache's lock: ``fill`` fills a work
    directory (mode 0700) that becomes the template once complete."""
    with _cache_lock(template):
        if (template / ".complete").exists():
            return template
        log(what)
        work = template.with_name(template.name + ".tmp")
        for leftover in (work, template):
            shutil.rmtree(leftover, ignore_errors=True)
        work.mkdir(mode=0o700)
        fill(work)
        work.rename(template)
        (template / ".complete").touch()
    return template


def build_keystone_template() -> Path:
    """The template every lab copies, built once per machine under the cache's lock: the
    database with KEYSTONE_USERS and the catalog, the fernet and credential key
    repositories, one ``USER.password`` per user and the application credential (mode
    0600), and outsider's VMDK."""
    install_keystone()
    return _build_template(keystone_template(), "bootstrapping Keystone's template (about "
                           "20 s, once per machine)", _fill_keystone_template)


def _fill_keystone_template(work: Path) -> None:
    passwords = {user.name: secrets.token_urlsafe(18) for user in KEYSTONE_USERS}
    _bootstrap_keystone(work, passwords[KEYSTONE_ADMIN])
    service = start_keystone(work, name="keystone-template", tie_to_parent=True)
    try:
        credential = _populate_keystone(service.url, passwords)
    finally:
        stop_process(service.pid)
    for name, password in passwords.items():
        _write_secret(work / f"{name}.password", password)
    _write_secret(work / APP_CREDENTIAL_FILE, json.dumps(credential))
    _make_others_vmdk(work / OTHERS_VMDK)
    (work / "keystone.sqlite").chmod(0o600)  # password hashes, the credential's
    for leftover in ("keystone.conf", "keystone.log", "gunicorn.log"):
        (work / leftover).unlink(missing_ok=True)


def prepare_keystone(root: Path, *, expiration: int = KEYSTONE_TOKEN_EXPIRATION) -> Path:
    """A copy of the template in ``root`` (modes kept) with a configuration of its own."""
    template = build_keystone_template()
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root, ignore=shutil.ignore_patterns(".complete"))
    root.chmod(0o700)
    _write_keystone_conf(root, expiration)
    return root


def lab_ssl_context(ca_file: str | Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def launch_keystone(root: Path, *, name: str = "keystone", tie_to_parent: bool = False,
                    tls: tuple[Path, Path, Path] | None = None) -> Starting:
    """Launch the Keystone of ``root`` (keystone.conf) under gunicorn on a free loopback
    port; over HTTPS with ``tls`` (certificate, key, the CA that signed them)."""
    venv = install_keystone()
    port = _free_port()
    argv = [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--threads", "4", "--no-control-socket", "--pythonpath", str(LAB_SRC)]
    context = None
    if tls:
        certificate, key, ca = tls
        argv += ["--certfile", str(certificate), "--keyfile", str(key)]
        context = lab_ssl_context(ca)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    log_path = root / "gunicorn.log"
    proc = _spawn([*argv, "oslo_wsgi:keystone()"], log_path,
                  env={**os.environ, "OS_KEYSTONE_CONFIG_DIR": str(root)},
                  tie_to_parent=tie_to_parent)
    return Starting(Service(name, proc.pid, url, str(log_path)), proc, f"{url}/v3", context)


def start_keystone(root: Path, *, name: str = "keystone", tie_to_parent: bool = False,
                   tls: tuple[Path, Path, Path] | None = None) -> Service:
    """Start a Keystone (launch_keystone) and wait until it answers."""
    return launch_keystone(root, name=name, tie_to_parent=tie_to_parent, tls=tls).wait()


def point_catalog(keystone_url: str, admin_password: str, image_url: str | None, *,
                  compute_url: str | None = None,
                  context: ssl.SSLContext | None = None) -> None:
    """Set the catalog's identity endpoints to this Keystone, the image ones to
    ``image_url`` and the compute ones to ``compute_url`` (None: left as they are)."""
    admin = _KeystoneAdmin(keystone_url, admin_password, context)
    services = {service["type"]: service["id"]
                for service in admin.call("GET", "/services")["services"]}
    targets = {services["identity"]: f"{keystone_url}/v3"}
    if image_url:
        targets[services["image"]] = image_url
    if compute_url:
        targets[services["compute"]] = compute_url
    for endpoint in admin.call("GET", "/endpoints")["endpoints"]:
        target = targets.get(endpoint["service_id"])
        if target and endpoint["url"] != target:
            admin.call("PATCH", f"/endpoints/{endpoint['id']}", {"endpoint": {"url": target}})


def upload_others_image(keystone_url: str, glance_url: str, password: str,
                        vmdk: Path, *, direct_upload: bool = True) -> str:
    """As outsider, a private image in project others (another project's, to the
    operator); return its id. Sent by the direct upload, or (``direct_upload`` False, the
    policy forbids it) staged and imported with glance-direct."""
    outsider = _keystone_user("outsider")
    token = keystone_token(keystone_url, outsider.name, password, outsider.project)
    image = _http_json("POST", f"{glance_url}/v2/images", token=token, body={
        "name": OTHERS_IMAGE, "disk_format": "vmdk", "container_format": "bare",
        "visibility": "private", "vmware_disktype": "streamOptimized",
        "vmware_adaptertype": "lsiLogic"})[0]
    path = f"{glance_url}/v2/images/{image['id']}"
    if direct_upload:
        _http_json("PUT", f"{path}/file", token=token, data=vmdk.read_bytes())
        return image["id"]
    _http_json("PUT", f"{path}/stage", token=token, data=vmdk.read_bytes())
    _http_json("POST", f"{path}/import", token=token,
               body={"method": {"name": "glance-direct"}})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = _http_json("GET", path, token=token)[0]["status"]
        if status == "active":
            return image["id"]
        if status not in ("uploading", "importing"):
            break
        time.sleep(0.1)
    raise RuntimeError(f"importing {OTHERS_IMAGE} into {glance_url} ended {status}")


def start_keystone_tls(state: LabState, directory: Path, *,
                       tie_to_parent: bool = False) -> Service:
    """A second Keystone of the lab's users, over HTTPS with the lab's certificate (CA
    state.ca_file), from a fresh copy of the template in ``directory``: for a test that
    checks clients verify it."""
    root = prepare_keystone(directory / "keystone-tls")
    state_dir = Path(state.dir)
    service = start_keystone(root, name="keystone-tls", tie_to_parent=tie_to_parent,
                             tls=(state_dir / "server.pem", state_dir / "server.key",
                                  Path(state.ca_file)))
    try:
        point_catalog(service.url, _read_secret(root / f"{KEYSTONE_ADMIN}.password"), None,
                      context=lab_ssl_context(state.ca_file))
    except BaseException:
        stop_process(service.pid)
        raise
    return service


def launch_keystone_lab(state_dir: Path, *, expiration: int = KEYSTONE_TOKEN_EXPIRATION,
                        tie_to_parent: bool = False, direct_upload: bool = True,
                        nova: bool = False) -> tuple[Starting, ...]:
    """Keystone from a copy of the template and the Glance behind it (glance-keystone: the
    import API, two stores; ``direct_upload`` False: upload_image admin-only), and with
    ``nova`` nova-api behind it (prepare_nova in ``state_dir/nova``), launched;
    finish_keystone_lab completes them once they answer."""
    root = prepare_keystone(state_dir / "keystone", expiration=expiration)
    keystone = launch_keystone(root, tie_to_parent=tie_to_parent)
    launched = [keystone]
    try:
        launched.append(launch_glance(state_dir, "glance-keystone", format_match=True,
                                      tie_to_parent=tie_to_parent, keystone=ServiceUser(
                                          keystone.service.url,
                                          _read_secret(root / "glance.password")),
                                      imports=True, direct_upload=direct_upload))
        if nova:
            nova_root = prepare_nova(state_dir / "nova", ServiceUser(
                keystone.service.url, _read_secret(root / "nova.password")))
            launched.append(launch_nova_api(nova_root, tie_to_parent=tie_to_parent))
    except BaseException:
        stop_processes([started.service.pid for started in launched])
        raise
    return tuple(launched)


def finish_keystone_lab(state_dir: Path, keystone_url: str, glance_url: str, *,
                        direct_upload: bool = True, nova_url: str | None = None) -> str:
    """Point the catalog at this lab's Keystone, Glance and nova-api (``nova_url``; its
    endpoints ``nova_url/v2.1``), and upload outsider's image in project others; return
    its id."""
    root = state_dir / "keystone"
    point_catalog(keystone_url, _read_secret(root / f"{KEYSTONE_ADMIN}.password"), glance_url,
                  compute_url=f"{nova_url}/v2.1" if nova_url else None)
    return upload_others_image(keystone_url, glance_url,
                               _read_secret(root / "outsider.password"), root / OTHERS_VMDK,
                               direct_upload=direct_upload)


IMPORT_ONLY_GLANCE = "glance-keystone-import-only"
# user -> the clouds.yaml entry whose image endpoint is the import-only Glance
IMPORT_ONLY_CLOUDS = {"operator": "vmwctl-lab-import-only",
                      KEYSTONE_ADMIN: "vmwctl-lab-import-only-admin"}


def start_import_only_glance(state: LabState, directory: Path, *,
                             tie_to_parent: bool = False) -> tuple[Service, LabState]:
    """A second Glance behind the lab's Keystone (IMPORT_ONLY_GLANCE, in ``directory``) as
    glance-keystone is, except that its policy leaves the direct upload to admins, as some
    clouds do; and a copy of ``state`` that knows it: its URL and stores, and a clouds.yaml
    and secure.yaml in ``directory`` with the lab's clouds and IMPORT_ONLY_CLOUDS (the
    operator's and admin's, image_endpoint_override this Glance: the catalog names
    glance-keystone). The lab's own files are left as they are; the caller stops the
    service."""
    if not (state.keystone_url and state.secure_file):
        raise RuntimeError(f"the lab in {state.dir} runs no Keystone")
    service = start_glance(directory, IMPORT_ONLY_GLANCE, format_match=True,
                           tie_to_parent=tie_to_parent, imports=True, direct_upload=False,
                           keystone=ServiceUser(state.keystone_url,
                                                state.keystone_password("glance")))
    try:
        copy = replace(state, glance_import_only_url=service.url,
                       glance_import_only_stores=glance_stores(directory / IMPORT_ONLY_GLANCE),
                       cloud_import_only=IMPORT_ONLY_CLOUDS["operator"],
                       cloud_import_only_admin=IMPORT_ONLY_CLOUDS[KEYSTONE_ADMIN],
                       clouds_file=str(directory / "clouds.yaml"),
                       secure_file=str(directory / "secure.yaml"))
        _write_clouds(copy)
    except BaseException:
        stop_process(service.pid)
        raise
    return service, copy


def keystone_clouds(state: LabState) -> tuple[dict, dict]:
    """clouds.yaml entries for the Keystone's users and the application credential, and
    their secrets for secure.yaml (openstacksdk merges the two)."""
    auth_url = f"{state.keystone_url}/v3"
    common = {"identity_api_version": 3, "region_name": KEYSTONE_REGION,
              "interface": "public"}
    clouds, secure = {}, {}
    for user in KEYSTONE_USERS:
        if user.cloud is None:
            continue
        clouds[user.cloud] = {**common, "auth_type": "password", "auth": {
            "auth_url": auth_url, "username": user.name, "project_name": user.project,
            "user_domain_name": "Default", "project_domain_name": "Default"}}
        secure[user.cloud] = {"auth": {"password": state.keystone_password(user.name)}}
    credential_id, secret = state.app_credential()
    clouds[APP_CREDENTIAL_CLOUD] = {**common, "auth_type": "v3applicationcredential",
                                    "auth": {"auth_url": auth_url,
                                             "application_credential_id": credential_id}}
    secure[APP_CREDENTIAL_CLOUD] = {"auth": {"application_credential_secret": secret}}
    if state.glance_import_only_url:
        users = {user.name: user.cloud for user in KEYSTONE_USERS}
        for user, cloud in IMPORT_ONLY_CLOUDS.items():
            clouds[cloud] = {**clouds[users[user]],
                             "image_endpoint_override": state.glance_import_only_url}
            secure[cloud] = secure[users[user]]
    return clouds, secure


# ------------------------------------------------------------------ nova

# The databases (API, cell0, cell1, synced and mapped) are built once per machine and
# keyed by the requirements and this recipe version: bump it when the recipe changes.
NOVA_RECIPE = 1
NOVA_RECORDS = LAB_SRC / "nova_records.py"
# The message queue of cell1 and of nova-api: a closed loopback port (discard). Nothing
# reads it; the plain server list never sends anything there.
NOVA_TRANSPORT_URL = "rabbit://127.0.0.1:9/"
NOVA_DATABASES = ("nova_api", "nova_cell0", "nova")  # nova: cell1's
NOVA_API_HOST = "lab-nova-api"
# Native threading, as nova.wsgi.osapi_compute starts nova-api; nova-manage and the
# records script would otherwise apply eventlet (deprecated) and warn.
NOVA_ENV = {"OS_NOVA_DISABLE_EVENTLET_PATCHING": "1"}

_NOVA_CONF = """\
[DEFAULT]
host = {host}
state_path = {dir}
log_file = {dir}/nova-api.log
debug = False
transport_url = {transport_url}

[api]
auth_strategy = keystone

[wsgi]
api_paste_config = {dir}/api-paste.ini

# No fsync at each commit (oslo.db's synchronous=OFF): a lab's records are disposable,
# and each one would otherwise cost a commit's fsync or more.
[api_database]
connection = sqlite:///{dir}/nova_api.sqlite
sqlite_synchronous = False

[database]
connection = sqlite:///{dir}/nova.sqlite
sqlite_synchronous = False

[oslo_concurrency]
lock_path = {dir}/locks

[oslo_messaging_notifications]
driver = noop

{auth}"""

def nova_node_name(moref: str, vcenter_uuid: str) -> str:
    """The compute node name Nova's VMware driver gives a cluster (``_create_nodename``):
    ``<moref>.<vCenter about.instanceUuid>``, e.g. ``domain-26.9d51f082-58a4-...``."""
    return f"{moref}.{vcenter_uuid}"


def nova_compute_host(cluster: str) -> str:
    """The lab's name for the nova-compute service (CONF.host) that drives ``cluster``."""
    return f"lab-compute-{cluster}"


def _write_nova_conf(root: Path, keystone: ServiceUser | None) -> Path:
    auth = "" if keystone is None else _KEYSTONE_AUTHTOKEN.format(
        keystone_url=keystone.keystone_url, username="nova", password=keystone.password)
    conf = root / "nova.conf"
    _write_secret(conf, _NOVA_CONF.format(host=NOVA_API_HOST, dir=root, auth=auth,
                                          transport_url=NOVA_TRANSPORT_URL).rstrip())
    return conf


def _nova_manage(root: Path, *args: str) -> None:
    """Run nova-manage on ``root``'s configuration; its output only if it fails."""
    argv = [str(nova_venv() / "bin" / "nova-manage"), "--config-file", str(root / "nova.conf"),
            *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, **NOVA_ENV})
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"nova-manage {' '.join(args[:2])} failed (status "
                           f"{done.returncode})")


def nova_template() -> Path:
    """The template's directory (Nova's databases) for the current requirements and
    recipe."""
    digest = hashlib.sha256(NOVA_REQUIREMENTS.read_bytes() + f"\0recipe {NOVA_RECIPE}".encode())
    return cache_dir() / f"nova-template-{digest.hexdigest()[:12]}"


def build_nova_template() -> Path:
    """The databases every lab copies, built once per machine under the cache's lock:
    the API database synced, cell0 mapped and synced, cell1 created (its queue
    NOVA_TRANSPORT_URL) and synced, all in WAL mode."""
    install_nova()
    return _build_template(nova_template(), "building Nova's databases (about 15 s, once "
                           "per machine)", _fill_nova_template)


def _fill_nova_template(work: Path) -> None:
    _write_nova_conf(work, None)
    _nova_manage(work, "api_db", "sync")
    _nova_manage(work, "cell_v2", "map_cell0", "--database_connection",
                 f"sqlite:///{work}/nova_cell0.sqlite")
    _nova_manage(work, "cell_v2", "create_cell", "--name", "cell1")
    _nova_manage(work, "db", "sync")
    for name in NOVA_DATABASES:
        with contextlib.closing(sqlite3.connect(work / f"{name}.sqlite")) as database:
            database.execute("PRAGMA journal_mode=WAL")
    for leftover in ("nova.conf", "nova-api.log"):
        (work / leftover).unlink(missing_ok=True)
    shutil.rmtree(work / "locks", ignore_errors=True)
    _set_cell_paths(work, str(work), "@TEMPLATE@")


def _set_cell_paths(root: Path, old: str, new: str) -> None:
    """The cell mappings name their databases by absolute path: move them from ``old``
    to ``new``."""
    with contextlib.closing(sqlite3.connect(root / "nova_api.sqlite")) as database, \
            database:
        database.execute("UPDATE cell_mappings SET database_connection = "
                         "replace(database_connection, ?, ?)", (old, new))


def prepare_nova(root: Path, keystone: ServiceUser) -> Path:
    """A copy of the template's databases in ``root``, their cell mappings naming them
    there, Nova's api-paste.ini and a nova.conf (mode 0600) whose [keystone_authtoken] is
    ``keystone``'s nova user."""
    template = build_nova_template()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700, parents=True)
    for name in NOVA_DATABASES:
        shutil.copy(template / f"{name}.sqlite", root)
    _set_cell_paths(root, "@TEMPLATE@", str(root))
    shutil.copy(nova_venv() / "etc" / "nova" / "api-paste.ini", root)
    _write_nova_conf(root, keystone)
    return root


def launch_nova_api(root: Path, *, name: str = "nova-api",
                    tie_to_parent: bool = False) -> Starting:
    """Launch nova-api (the compute API) of ``root`` (prepare_nova) under gunicorn on a
    free loopback port, through oslo_wsgi:nova_api(); it answers its version document
    without Keystone, and asks Keystone at the first request that carries a token."""
    venv = install_nova()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "gunicorn.log"
    proc = _spawn([str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                   "--workers", "1", "--threads", "4", "--no-control-socket",
                   "--pythonpath", str(LAB_SRC), "oslo_wsgi:nova_api()"], log_path,
                  env={**os.environ, **NOVA_ENV, "OS_NOVA_CONFIG_DIR": str(root)},
                  tie_to_parent=tie_to_parent)
    return Starting(Service(name, proc.pid, url, str(log_path)), proc, f"{url}/")


@dataclass(frozen=True)
class NovaInstance:
    """An instance record for the lab's Nova (create_nova_instances): ``node`` is a
    compute node name (nova_node_name), ``host`` its nova-compute host."""
    uuid: str
    name: str
    project_id: str
    user_id: str
    node: str
    host: str
    vm_state: str = "active"


class _NovaRecords:
    """A run of nova_records.py on the Nova of ``nova_dir``, started at once (Nova's imports
    take seconds) and awaited by answer(). The request is read from a file (its stdin), so
    that a large one never blocks the caller on a pipe."""

    def __init__(self, nova_dir: Path, command: str, request: dict) -> None:
        self.command = command
        with tempfile.TemporaryFile("w+", dir=nova_dir) as stdin:
            json.dump(request, stdin)
            stdin.seek(0)
            self.proc = subprocess.Popen(
                [str(nova_venv() / "bin" / "python"), str(NOVA_RECORDS),
                 str(nova_dir / "nova.conf"), command], stdin=stdin,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, **NOVA_ENV})

    def answer(self) -> dict:
        stdout, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            sys.stderr.write(stdout + stderr)
            raise RuntimeError(f"nova_records.py {self.command} failed (status "
                               f"{self.proc.returncode})")
        return json.loads(stdout.splitlines()[-1])

    def cancel(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()


def _nova_records(state: LabState, command: str, request: dict) -> dict:
    if not state.nova_url:
        raise RuntimeError(f"the lab in {state.dir} runs no nova-api")
    return _NovaRecords(Path(state.dir) / "nova", command, request).answer()


def nova_vm_instances(state_dir: Path, ready: dict) -> list[NovaInstance]:
    """The instance records that match a simulator's Nova VMs (``ready``: its ready line,
    whose ``nova_vms`` are marked with nvp.vm-uuid and run in a cluster): same UUID and
    name, operator's in project operators, on their cluster's node. For the lab of
    ``state_dir``, whose Keystone's database gives the ids (keystone_ids asks its API);
    create_nova_instances makes them."""
    operator = _keystone_user("operator")
    uri = f"file:{state_dir / 'keystone' / 'keystone.sqlite'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as database:
        project = database.execute("SELECT id FROM project WHERE name = ? AND domain_id = ?",
                                   (operator.project, "default")).fetchone()[0]
        user = database.execute("SELECT user_id FROM local_user WHERE name = ? AND "
                                "domain_id = ?", (operator.name, "default")).fetchone()[0]
    return [NovaInstance(uuid=vm["uuid"], name=vm["name"], project_id=project, user_id=user,
                         node=nova_node_name(ready["clusters"][vm["cluster"]],
                                             ready["instance_uuid"]),
                         host=nova_compute_host(vm["cluster"]))
            for vm in ready.get("nova_vms") or []]


def create_nova_instances(state: LabState, instances: list[NovaInstance]) -> list[dict]:
    """Instance records in the lab's Nova through Nova's objects (tests/lab/nova_records.py):
    the compute node of each (host, node) when missing, each instance in cell1 with its
    ``compute_id`` and an empty info cache, and its instance mapping. Returns
    ``[{"uuid", "compute_id", "node"}]``."""
    return _nova_records(state, "create", {"instances": [asdict(i) for i in instances]})[
        "created"]


def delete_nova_instance(state: LabState, uuid: str, *, hard: bool = False) -> None:
    """Delete an instance as Nova's API does (its row soft-deleted, its mapping queued for
    delete); ``hard``: its rows and mapping removed as well. Either way the API no longer
    lists it."""
    _nova_records(state, "delete", {"uuid": uuid, "hard": hard})


def keystone_ids(state: LabState, kind: str) -> dict[str, str]:
    """The ids of the lab Keystone's ``kind`` (projects, users) by name, asked as admin:
    the project and user ids of instance records."""
    if not state.keystone_url:
        raise RuntimeError(f"the lab in {state.dir} runs no Keystone")
    return _KeystoneAdmin(state.keystone_url, state.keystone_password(KEYSTONE_ADMIN)).ids(kind)



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
            cloud: {state.profile_cloud or state.cloud}
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
    _write_clouds(state)


def _write_clouds(state: LabState) -> None:
    """clouds.yaml, and secure.yaml with a Keystone."""
    clouds = {"clouds": {state.cloud: glance_cloud(state.glance_url)}}
    if state.glance_flat_url and state.cloud_flat:
        clouds["clouds"][state.cloud_flat] = glance_cloud(state.glance_flat_url)
    if state.keystone_url and state.secure_file:
        keystone, secure = keystone_clouds(state)
        clouds["clouds"].update(keystone)
        _write_secret(Path(state.secure_file), json.dumps({"clouds": secure}, indent=2))
    Path(state.clouds_file).write_text(json.dumps(clouds, indent=2) + "\n")


def glance_cloud(url: str) -> dict:
    """A clouds.yaml entry for a lab Glance: no Keystone, the image endpoint given."""
    return {"auth_type": "none", "auth": {"endpoint": url}, "image_endpoint_override": url}


def up(state_dir: Path | None = None, *, scenario: str = "healthy", flat_glance: bool = False,
       vcsim_args: list[str] | None = None, tie_to_parent: bool = False,
       fresh: bool = False, keystone: bool = True, profile_cloud: str | None = None,
       token_expiration: int = KEYSTONE_TOKEN_EXPIRATION,
       direct_upload: bool = True, nova: bool = True) -> LabState:
    """Install what is missing, start the services, write the lab's profile.

    ``keystone``: also Keystone and the Glance behind it (``direct_upload`` False: its
    policy leaves the direct upload to admins), and with ``nova`` nova-api behind it
    (without Keystone, no nova-api). ``profile_cloud``: the cloud the
    lab's profile names; None for the Keystone-less vmwctl-lab (the tests), the operator's
    Keystone cloud for make lab and make demo."""
    state_dir = (state_dir or default_state_dir()).resolve()
    existing = load_state(state_dir)
    if existing and any(_alive(s.pid) for s in existing.services):
        raise RuntimeError(f"a lab is already running in {state_dir}; run 'lab down' first")
    if scenario not in SCENARIOS:
        raise RuntimeError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    nova = nova and keystone
    if not (keystone or direct_upload):
        raise RuntimeError("--no-direct-upload needs the Glance behind Keystone")
    clouds = lab_clouds(flat_glance=flat_glance, keystone=keystone)
    if profile_cloud not in (None, *clouds):
        raise RuntimeError(f"the profile cannot name cloud {profile_cloud!r}: this lab's "
                           f"clouds are {', '.join(clouds)}")
    install()
    _reset_state_dir(state_dir)
    _make_certificates(state_dir)
    password_file = state_dir / "vc-password"
    password_file.write_text(secrets.token_urlsafe(18) + "\n")
    password_file.chmod(0o600)
    services: list[Service] = []
    model_records: _NovaRecords | None = None
    try:
        vcsim, ready = start_vcsim(state_dir, scenario, extra_args=vcsim_args,
                                   tie_to_parent=tie_to_parent)
        services.append(vcsim)
        # Every gunicorn is launched first and waited for after: their start-ups overlap.
        starting: dict[str, Starting] = {}
        if keystone:
            for launched in launch_keystone_lab(state_dir, expiration=token_expiration,
                                                tie_to_parent=tie_to_parent,
                                                direct_upload=direct_upload, nova=nova):
                starting[launched.service.name] = launched
                services.append(launched.service)
        if nova and ready.get("nova_vms"):
            # The records of the simulator's Nova VMs, made while the others start.
            model_instances = nova_vm_instances(state_dir, ready)
            model_records = _NovaRecords(state_dir / "nova", "create", {
                "instances": [asdict(i) for i in model_instances]})
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
        others_image = None
        if keystone:
            others_image = finish_keystone_lab(state_dir, starting["keystone"].service.url,
                                               starting["glance-keystone"].service.url,
                                               direct_upload=direct_upload,
                                               nova_url=starting["nova-api"].service.url
                                               if nova else None)
        nova_instances = None
        if model_records:
            model_records.answer()
            nova_instances = {i.uuid: i.name for i in model_instances}
    except BaseException:
        if model_records:
            model_records.cancel()
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
    if others_image:
        _add_keystone(state, starting["keystone"].service.url,
                      starting["glance-keystone"].service.url, others_image)
        state.direct_upload = direct_upload
    if nova:
        state.nova_url = starting["nova-api"].service.url
        state.nova_nodes = {cluster: nova_node_name(moref, ready["instance_uuid"])
                            for cluster, moref in sorted(ready["clusters"].items())}
        state.nova_hosts = {cluster: nova_compute_host(cluster)
                            for cluster in sorted(ready["clusters"])}
        state.nova_instances = nova_instances or {}
    state.profile_cloud = profile_cloud
    _write_profiles(state)
    _state_file(state_dir).write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state


def _reset_state_dir(state_dir: Path) -> None:
    """Every lab starts from a known state: no images, datastores, logs or secrets of a
    previous one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    for leftover in ("glance", "glance-flat", "glance-keystone", "keystone", "nova",
                     "vcsim-datastores",
                     "vcsim-slow-datastores", "vcsim-fresh-datastores"):
        shutil.rmtree(state_dir / leftover, ignore_errors=True)
    for stale in (*state_dir.glob("*.log"), state_dir / "secure.yaml"):
        stale.unlink(missing_ok=True)


def lab_clouds(*, flat_glance: bool, keystone: bool) -> list[str]:
    """The names of the clouds.yaml entries a lab with these services writes."""
    clouds = [LAB_CLOUD, *([LAB_CLOUD_FLAT] if flat_glance else [])]
    if keystone:
        clouds += [user.cloud for user in KEYSTONE_USERS if user.cloud]
        clouds.append(APP_CREDENTIAL_CLOUD)
    return clouds


def _add_keystone(state: LabState, keystone_url: str, glance_url: str,
                  others_image: str) -> None:
    """Record the Keystone lab's URLs, outsider's image and the clouds in ``state``."""
    state.keystone_url = keystone_url
    state.glance_keystone_url = glance_url
    state.others_image = others_image
    state.secure_file = str(Path(state.dir) / "secure.yaml")
    clouds = {user.name: user.cloud for user in KEYSTONE_USERS}
    state.cloud_admin = clouds[KEYSTONE_ADMIN]
    state.cloud_operator = clouds["operator"]
    state.cloud_auditor = clouds["auditor"]
    state.cloud_outsider = clouds["outsider"]
    state.cloud_app_credential = APP_CREDENTIAL_CLOUD
    glance_dir = Path(state.dir) / "glance-keystone"
    state.glance_keystone_stores = glance_stores(glance_dir)
    state.glance_keystone_staging = str(glance_dir / "staging")


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

def _seconds(text: str) -> int:
    """argparse type: a whole number of seconds, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (1 or more)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="state directory (default: $VMWCTL_LAB_DIR or .lab in the repo)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install packages, build the simulator, install Glance, "
                   "Keystone and Nova, bootstrap Keystone's template and Nova's databases")
    start = sub.add_parser("up", help="start the lab")
    start.add_argument("--scenario", choices=SCENARIOS, default="healthy")
    start.add_argument("--flat-glance", action="store_true",
                       help="also start a Glance that accepts raw (flat) data as vmdk")
    start.add_argument("--vcsim-arg", action="append", default=[], metavar="ARG",
                       help="extra simulator flag, e.g. --vcsim-arg=-host=32 (repeatable)")
    start.add_argument("--fresh", action="store_true",
                       help="also start a simulator in the fresh scenario (profile 'fresh')")
    start.add_argument("--no-keystone", dest="keystone", action="store_false",
                       help="no Keystone and no Glance behind it")
    start.add_argument("--profile-cloud", metavar="CLOUD",
                       help=f"the cloud the lab's profile names (default {OPERATOR_CLOUD}, "
                       f"or {LAB_CLOUD} with --no-keystone; the tests want {LAB_CLOUD})")
    start.add_argument("--no-nova", dest="nova", action="store_false",
                       help="no nova-api (the compute API behind Keystone; --no-keystone "
                       "implies it)")
    start.add_argument("--no-direct-upload", dest="direct_upload", action="store_false",
                       help="the Glance behind Keystone leaves the direct upload (PUT "
                       "/file) to admins: members stage and import")
    start.add_argument("--token-expiration", type=_seconds, default=KEYSTONE_TOKEN_EXPIRATION,
                       metavar="SECONDS", help="Keystone's [token] expiration (default "
                       "%(default)s)")
    sub.add_parser("down", help="stop the lab")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("env", help="print shell exports that point vmwctl at the lab")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install()
        elif args.command == "up":
            state = up(args.dir, scenario=args.scenario, flat_glance=args.flat_glance,
                       vcsim_args=args.vcsim_arg, fresh=args.fresh, keystone=args.keystone,
                       profile_cloud=args.profile_cloud or (OPERATOR_CLOUD if args.keystone
                                                            else None),
                       token_expiration=args.token_expiration,
                       direct_upload=args.direct_upload, nova=args.nova)
            log(f"vCenter {state.vcenter_url} ({state.scenario}), Glance {state.glance_url}")
            if state.keystone_url:
                log(f"Keystone {state.keystone_url}, Glance behind it "
                    f"{state.glance_keystone_url} (stores "
                    f"{', '.join(state.glance_keystone_stores or {})}; direct upload "
                    f"{'allowed' if state.direct_upload else 'admins only'})")
            if state.nova_url:
                log(f"nova-api {state.nova_url} (compute nodes "
                    f"{', '.join((state.nova_nodes or {}).values())})")
            log(f"the profile uses cloud {state.profile_cloud or state.cloud}")
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
