"""Secrets and TLS: the vCenter password shows nowhere, files that may hold it are private,
and the vCenter's certificate is verified unless the operator says otherwise.

Every command runs with ``-vv -o json`` on four paths: a password the vCenter rejects, a
port nobody listens on, a fault the simulator injects after login, and the right password
with an image that Glance does not have. The password is then looked for in stdout,
stderr (tracebacks included), the files the runs left behind (vmwctl has no log file of
its own: its log goes to stderr), the environment, and the command line of every child
process (a PATH shim for qemu-img, the password command's own record, and an audit hook
that sees every exec and spawn, also in forked children).

A short password (``pass``, a dictionary word) is hidden only where it stands alone, so
that the words around it survive, and draws one warning per run; the rule itself is
table-tested in tests/unit/test_redact.py.

What tests/unit/test_profiles.py already covers is not repeated here: profile show
redacts a plain password, a readable config file with a plain password warns, the
password command gets only its own arguments. tests/lab_tests/test_vcenter.py checks TLS
for ``about``; here every command that reaches the vCenter is checked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from helpers import (
    Result,
    delete_images,
    leaf_commands,
    run_process,
    run_vmwctl,
    write_clouds,
    write_config,
    write_profile,
)

pytestmark = pytest.mark.lab

SECRET = "Zq9-s3cret-PW"
MISSING_IMAGE = "secrets-no-such-image"
GLANCE_CLOUD = "secrets-glance"
PYTHON_WARNING = re.compile(r"^.*:\d+: \w+Warning: .*$", re.MULTILINE)
SPAWN_EVENTS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system")


# ------------------------------------------------------------------ every command

def command_table(files: dict[str, Path], image: str) -> dict[str, list[str]]:
    """One invocation per command; ``image`` is the Glance image the image commands take."""
    vib, conf, raw, out = files["vib"], files["nova_conf"], files["raw"], files["out"]
    return {
        "about": ["about"],
        "audit clean": ["audit", "clean", "--dry-run"],
        "cache evict": ["cache", "evict", image, "--dry-run"],
        "cache list": ["cache", "list"],
        "cache purge": ["cache", "purge", "--dry-run"],
        "cache seed": ["cache", "seed", image, "--dry-run"],
        "check fleet": ["check", "fleet", "--nova-conf", str(conf), "--timeout", "5"],
        "check nova-conf": ["check", "nova-conf", str(conf)],
        "check prereqs": ["check", "prereqs"],
        "check privileges": ["check", "privileges"],
        "cluster fit": ["cluster", "fit", "m1.small:1:512:1"],
        "cluster inspect": ["cluster", "inspect"],
        "cluster list": ["cluster", "list"],
        "completion": ["completion", "bash"],
        "firewall disable": ["firewall", "disable", "--ruleset", "gdbserver", "--dry-run"],
        "firewall enable": ["firewall", "enable", "--ruleset", "gdbserver", "--dry-run"],
        "firewall status": ["firewall", "status"],
        "firewall vib build": ["firewall", "vib", "build", str(out / "built.vib"),
                               "--from-profile"],
        "firewall vib inspect": ["firewall", "vib", "inspect", str(vib)],
        "firewall vib install": ["firewall", "vib", "install", str(vib), "--dry-run"],
        "image export": ["image", "export", "DC0_C0_RP0_VM0", "--name", "secrets-export",
                         "--allow-running", "--dry-run"],
        "image convert": ["image", "convert", "--engine", "qemu", "--force", str(raw),
                          str(out / "converted.vmdk")],
        "image inspect": ["image", "inspect", str(raw)],
        "image list": ["image", "list"],
        "image ostypes": ["image", "ostypes", "rhel"],
        "image tag": ["image", "tag", image, "--ostype", "otherGuest", "--dry-run"],
        "image upload": ["image", "upload", str(raw), "--name", "secrets-dry", "--convert",
                         "--engine", "qemu", "--dry-run"],
        "profile import-nova-conf": ["profile", "import-nova-conf", str(conf), "--name",
                                     "imported", "--dry-run"],
        "profile list": ["profile", "list"],
        "profile show": ["profile", "show"],
        "profile validate": ["profile", "validate"],
        "role create": ["role", "create", "--dry-run"],
        "vm delete": ["vm", "delete", "secrets-nope", "--dry-run"],
        "vm list": ["vm", "list"],
        "vm spawn": ["vm", "spawn", image, "--no-power-on"],
    }


# commands that need the vCenter before anything else can fail
VCENTER_FIRST = {"about", "audit clean", "cache list", "cache purge", "check nova-conf",
                 "check prereqs", "check privileges", "cluster fit", "cluster inspect",
                 "cluster list",
                 "firewall disable", "image export",
                 "firewall enable", "firewall status", "firewall vib install", "role create",
                 "vm delete", "vm list"}
# commands that look the image up in Glance first, then go to the vCenter
GLANCE_THEN_VCENTER = {"cache evict", "cache seed", "vm spawn"}


def test_the_table_has_every_command(tmp_path: Path) -> None:
    files = {name: tmp_path for name in ("vib", "nova_conf", "raw", "out")}
    assert set(command_table(files, "x")) == set(leaf_commands())


def test_an_in_process_run_knows_no_secret_of_an_earlier_one(simulator, lab_env,
                                                             tmp_path: Path) -> None:
    """Each vmwctl process starts knowing no secret; so must each run in the tests, or a
    password one run registered would hide a leak from every later one."""
    sim = simulator()
    config = write_profile(sim, tmp_path / "c.yaml", host_password_file=None,
                           host_password=SECRET)
    assert run_vmwctl("--config", str(config), "about").exit_code == 3  # SECRET registered
    missing = tmp_path / f"{SECRET}.raw"  # nothing secret about it for this run
    expected = f"Error: {missing}: no such file\n"
    assert run_process("image", "inspect", str(missing)).stderr == expected
    assert run_vmwctl("image", "inspect", str(missing)).stderr == expected


# ------------------------------------------------------------------ spies

_audit = {"log": None}


def _audit_hook(event: str, args: tuple) -> None:
    """Record the command line of every process started (also from a forked child)."""
    path = _audit["log"]
    if path is None or event not in SPAWN_EVENTS:
        return
    try:
        if event == "subprocess.Popen":
            argv, env = args[1], args[3]
        elif event == "os.system":
            argv, env = args[0], None
        elif event == "os.spawn":
            argv, env = args[2], args[3]
        else:  # os.exec, os.posix_spawn: (path, argv, env)
            argv, env = args[1], args[2]
        argv = [argv] if isinstance(argv, str | bytes) else argv
        line = json.dumps({"event": event, "argv": [os.fsdecode(a) for a in argv],
                           "env": sorted(f"{k}={v}" for k, v in dict(env or {}).items())})
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace") + b"\n")
        finally:
            os.close(fd)
    except Exception:  # a spy must never break the process it watches
        pass


sys.addaudithook(_audit_hook)


class Spy:
    """PATH shims for the children vmwctl runs, and the audit log of every spawn."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        real_qemu = shutil.which("qemu-img")
        assert real_qemu, "qemu-img is needed"
        self.bin = root / "shims"  # the password command prints the password: skip the dir
        self.bin.mkdir(parents=True)
        self.qemu_log = root / "qemu-img.log"
        self.command_log = root / "password-command.log"
        self.audit_log = root / "spawns.log"
        qemu = self.bin / "qemu-img"
        qemu.write_text(f'#!/bin/sh\nprintf "ARGV %s\\n" "$0 $*" >> {self.qemu_log}\n'
                        f'env | sed "s/^/ENV /" >> {self.qemu_log}\n'
                        f'exec {real_qemu} "$@"\n')
        qemu.chmod(0o700)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        self._monkeypatch = monkeypatch

    def watch(self) -> None:
        """Record spawns from now on (after the test's simulators have started: the lab
        gives vcsim its password on the command line, which is no concern of vmwctl's)."""
        self._monkeypatch.setitem(_audit, "log", str(self.audit_log))

    def password_command(self, password: str) -> list[str]:
        """A host_password_command that records how it was called and prints ``password``."""
        script = self.bin / f"vc-pass-{len(list(self.bin.iterdir()))}"
        script.write_text(f'#!/bin/sh\nprintf "ARGV %s\\n" "$0 $*" >> {self.command_log}\n'
                          f"cat <<'EOF'\n{password}\nEOF\n")
        script.chmod(0o700)
        return [str(script), "--vcenter", "vc1"]

    def command_lines(self) -> list[str]:
        """Every child's command line that any spy saw."""
        lines = []
        for log in (self.qemu_log, self.command_log):
            if log.exists():
                lines += [line for line in log.read_text().splitlines()
                          if line.startswith("ARGV ")]
        if self.audit_log.exists():
            lines += [" ".join(json.loads(line)["argv"])
                      for line in self.audit_log.read_text().splitlines()]
        return lines

    def child_environments(self) -> str:
        text = self.qemu_log.read_text() if self.qemu_log.exists() else ""
        if self.audit_log.exists():
            text += "\n".join(" ".join(json.loads(line)["env"])
                              for line in self.audit_log.read_text().splitlines())
        return text


@pytest.fixture
def spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(tmp_path / "spy", monkeypatch)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def files(tmp_path: Path, lab) -> dict[str, Path]:
    """Inputs of the commands; the nova.conf (it holds SECRET) sits apart in ``secrets``."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    raw = inputs / "disk.raw"
    raw.write_bytes(os.urandom(64 << 10) + bytes(1 << 20))
    nova_conf = secrets / "nova.conf"
    nova_conf.write_text(
        "[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n"
        f"[vmware]\nhost_ip = 127.0.0.1\nhost_port = {closed_port()}\n"
        f"host_username = {lab.username}\nhost_password = {SECRET}\n"
        f"cluster_name = DC0_C0\nca_file = {lab.ca_file}\n")
    nova_conf.chmod(0o600)
    vib = inputs / "vnc.vib"
    assert run_vmwctl("firewall", "vib", "build", str(vib)).exit_code == 0
    return {"secrets": secrets, "inputs": inputs, "out": out, "raw": raw,
            "nova_conf": nova_conf, "vib": vib}


@pytest.fixture
def glance_image(simulator, lab_env, files, private_glance: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A small streamOptimized image in the private Glance (cloud GLANCE_CLOUD); afterwards
    the private Glance is emptied of it and of what the test uploaded there."""
    from labimages import upload, vmdk

    clouds = write_clouds(tmp_path, GLANCE_CLOUD, private_glance)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    sim = simulator()
    uploader = write_profile(sim, files["secrets"] / "uploader.yaml", cloud=GLANCE_CLOUD)
    stream = vmdk(files["raw"], "streamOptimized")
    image_id = upload(uploader, stream, "secrets-seed", vmware_disktype="streamOptimized")
    stream.unlink()
    yield image_id
    delete_images(clouds, GLANCE_CLOUD)


# ------------------------------------------------------------------ the search

def assert_nowhere(secret: str, result: Result, what: str) -> None:
    """``secret`` (and SECRET, which the nova.conf holds in every mode) shows nowhere."""
    for password in {secret, SECRET}:
        assert password not in result.stdout, f"{what}: password on stdout"
        assert password not in result.stderr, f"{what}: password on stderr"
        assert all(password not in value for value in os.environ.values()), \
            f"{what}: password put into the environment"


def assert_no_python_warning(result: Result, what: str) -> None:
    """No Python warning (``file:line: SomeWarning: ...``) among what a run printed: vmwctl
    says what it warns about in its own words, and a third party's may quote anything."""
    found = PYTHON_WARNING.search(result.stderr)
    assert found is None, f"{what}: {found and found.group(0)}"


def assert_json_contract(result: Result, what: str) -> None:
    """-o json: a failure is the error document, with the exit code the process returns."""
    if result.exit_code in (0, 1) and result.stdout.strip().startswith("{") \
            and "error" not in result.json():
        return
    if result.exit_code != 0:
        document = result.json()
        assert set(document) == {"error"}, f"{what}: {result.stdout}"
        assert document["error"]["exit_code"] == result.exit_code, what
        assert document["error"]["message"], what


def assert_no_file_holds(secret: str, roots: list[Path], skip: list[Path]) -> list[Path]:
    scanned = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not set(skip) & set(path.parents):
                scanned.append(path)
                assert secret.encode() not in path.read_bytes(), f"password written to {path}"
    return scanned


def run_matrix(sim_config: Path, table: dict[str, list[str]], secret: str,
               mode: str, run: Callable[..., Result] = run_vmwctl) -> dict[str, Result]:
    """Each command with -vv -o json (the tracebacks of -v, and the debug log); on failure
    again without -v: the error in one line, no traceback."""
    results = {}
    for name, args in table.items():
        what = f"{mode}: vmwctl {name}"
        result = run("--config", str(sim_config), "-vv", "-o", "json", *args)
        assert_nowhere(secret, result, what)
        assert_no_python_warning(result, what)
        assert_json_contract(result, what)
        results[name] = result
        if result.exit_code != 0:
            plain = run("--config", str(sim_config), *args)
            assert_nowhere(secret, plain, what + " (no -v)")
            assert plain.exit_code == result.exit_code, what
            assert "Traceback" not in plain.stderr, f"{what}: traceback without -v"
            assert "internal error" not in plain.stderr, f"{what}: {plain.stderr}"
            if "error" in result.json():  # not a check report (those fail with exit 1)
                message = result.json()["error"]["message"]
                assert f"Error: {message}\n" in plain.stderr, f"{what}: {plain.stderr}"
    return results


MODES = ("wrong-password", "closed-port", "fault-after-login", "missing-image")
# In-process runs share the test's logging and warnings: pytest's handlers take what a
# third-party logger (urllib3, keystoneauth, openstacksdk) or a Python warning would print
# on a real stderr. These modes run again as real processes, where it shows.
IN_A_PROCESS = ("wrong-password", "missing-image")


@pytest.mark.parametrize("mode, run", [
    *[pytest.param(mode, run_vmwctl, id=mode) for mode in MODES],
    *[pytest.param(mode, run_process, id=f"{mode}-process") for mode in IN_A_PROCESS]])
def test_the_password_shows_nowhere(mode: str, run: Callable[..., Result], simulator, lab,
                                    lab_env, spy: Spy, files: dict[str, Path],
                                    glance_image: str, tmp_path: Path) -> None:
    if mode == "fault-after-login":
        sim = simulator("-fail-method", "RetrievePropertiesEx")
    else:
        sim = simulator()
    secrets = files["secrets"]
    config = secrets / "profile.yaml"
    if mode == "wrong-password":  # the password command prints a password vCenter rejects
        secret = SECRET
        write_profile(sim, config, cloud=GLANCE_CLOUD, host_password_file=None,
                      host_password_command=spy.password_command(SECRET))
    elif mode == "closed-port":  # a plain password in the profile, nobody on the port
        secret = SECRET
        write_profile(sim, config, cloud=GLANCE_CLOUD, port=closed_port(),
                      host_password_file=None,
                      host_password=SECRET)
    else:  # the lab's own password: it works, so it is really sent and really in memory
        secret = lab.password
        write_profile(sim, config, cloud=GLANCE_CLOUD, host_password_file=None,
                      host_password_command=spy.password_command(lab.password))
    image = MISSING_IMAGE if mode == "missing-image" else glance_image
    table = command_table(files, image)
    spy.watch()
    results = run_matrix(config, table, secret, mode, run)

    if mode == "wrong-password":
        for name in VCENTER_FIRST | GLANCE_THEN_VCENTER:
            assert results[name].exit_code == 3, name
            assert "rejected the login of" in results[name].json()["error"]["message"], name
        assert spy.command_lines(), "the password command never ran"
    elif mode == "closed-port":
        for name in VCENTER_FIRST | GLANCE_THEN_VCENTER:
            assert results[name].exit_code == 3, name
            assert "connection refused" in results[name].json()["error"]["message"], name
    elif mode == "fault-after-login":
        for name in VCENTER_FIRST | GLANCE_THEN_VCENTER:  # one line, not pyVmomi's dump
            assert results[name].exit_code == 1, name
            assert results[name].json()["error"]["message"] == (
                "the vCenter answered with a fault: SystemError: injected by the lab "
                "(-fail-method RetrievePropertiesEx)"), name
    else:
        for name in ("image tag", "cache evict", "cache seed", "vm spawn"):
            assert results[name].exit_code == 1, name
            assert MISSING_IMAGE in results[name].json()["error"]["message"], name
        succeeded = [name for name, result in results.items() if result.exit_code == 0]
        assert {"about", "cluster list", "vm list", "check privileges"} <= set(succeeded)
        # and an image that exists, for real: files on the datastore, a VM, then gone again
        for args in (["cache", "seed", glance_image], ["vm", "spawn", glance_image, "--name",
                                                        "secrets", "--no-power-on"],
                     ["vm", "delete", "vmwctl-secrets", "--yes"]):
            result = run("--config", str(config), "-vv", "-o", "json", *args)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
            assert_nowhere(secret, result, " ".join(args))
        # an OVA: packed, uploaded, then seeded as Nova fetches one (the tar read from Glance)
        ova = files["out"] / "secrets.ova"
        packed = None
        for args in (["image", "convert", str(files["raw"]), str(ova), "--force"],
                     ["image", "upload", str(ova), "--name", "secrets-ova"], ["cache", "seed"]):
            if packed is not None:
                args = [*args, packed]
            result = run("--config", str(config), "-vv", "-o", "json", *args)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
            assert_nowhere(secret, result, " ".join(args))
            if args[:2] == ["image", "upload"]:
                packed = result.json()["image"]["id"]
        # an ISO 9660 image: uploaded as disk_format=iso
        from isofiles import iso_image

        iso = files["out"] / "secrets.iso"
        iso.write_bytes(iso_image())
        result = run("--config", str(config), "-vv", "-o", "json", "image", "upload", str(iso),
                     "--name", "secrets-iso")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert result.json()["image"]["disk_format"] == "iso"
        assert_nowhere(secret, result, "image upload secrets.iso")
    # check fleet reports an unreachable service (the nova.conf's port is closed)
    fleet = results["check fleet"].json()
    assert fleet["checks"][0]["status"] == "fail"

    command_lines = spy.command_lines()
    assert any("qemu-img" in line and "convert" in line for line in command_lines)
    for line in command_lines:
        assert secret not in line, f"password on a child's command line: {line}"
        assert SECRET not in line
    assert secret not in spy.child_environments()
    scanned = assert_no_file_holds(secret, [tmp_path, Path(sim.datastores["LocalDS_0"]),
                                            Path(os.environ["XDG_CONFIG_HOME"])],
                                   [secrets, spy.bin.parent])
    assert any(path.suffix == ".vmdk" for path in scanned)


def test_every_password_source_stays_hidden(simulator, lab, lab_env, spy: Spy,
                                            tmp_path: Path, monkeypatch) -> None:
    """host_password, _env, _file, _command and GOVC_PASSWORD, rejected and accepted, -vv."""
    sim = simulator()
    spy.watch()
    secret_file = tmp_path / "secrets" / "pw"
    secret_file.parent.mkdir()
    runs = 0
    for password, expected in ((SECRET, 3), (lab.password, 0)):
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        monkeypatch.setenv("VC_SECRET", password)
        sources = {
            "host_password": {"host_password": password},
            "host_password_env": {"host_password_env": "VC_SECRET"},
            "host_password_file": {"host_password_file": str(secret_file)},
            "host_password_command": {"host_password_command": spy.password_command(password)},
            "GOVC_PASSWORD": {},
            "GOVC_URL": {},
        }
        for source, options in sources.items():
            config = tmp_path / "secrets" / f"{source}.yaml"
            write_profile(sim, config, **{"host_password_file": None, **options})
            env = {"GOVC_PASSWORD": password} if source == "GOVC_PASSWORD" else \
                {"GOVC_URL": f"https://{lab.username}:{password}@127.0.0.1:{sim.port}/sdk"} \
                if source == "GOVC_URL" else None
            for args in (["-vv", "about"], ["-vv", "-o", "json", "cluster", "list"],
                         ["-o", "yaml", "profile", "show"], ["profile", "validate"]):
                result = sim.run("--config", str(config), *args, env=env)
                runs += 1
                what = f"{source} {args}"
                assert secret_file.read_text().strip() not in result.stdout + result.stderr, what
                if args[-1] in ("about", "list"):
                    assert result.exit_code == expected, (what, result.stderr)
    assert runs == 48
    for line in spy.command_lines():
        assert SECRET not in line and lab.password not in line


# ------------------------------------------------------------------ a short password

SHORT = "pass"  # the simulator's default, and many a test lab's
SHORT_WARNING = ("Warning: the vCenter password has fewer than 8 characters, too short to "
                 "redact reliably: messages and logs hide it only where it stands alone, not "
                 "inside longer words; give the vCenter service account a password of 8 "
                 "characters or more\n")


def as_token(secret: str) -> re.Pattern[str]:
    """``secret`` standing alone: no letter, digit or underscore on either side."""
    return re.compile(rf"(?<!\w){re.escape(secret)}(?!\w)")


def test_a_short_dictionary_word_password(simulator, lab_env, spy: Spy, tmp_path: Path) -> None:
    """A vCenter that accepts ``pass``: one warning per run, the password hidden where it
    stands alone, and the words that merely contain it ("passes") intact, in messages, the
    debug log and the tracebacks of -v."""
    sim = simulator("-password", SHORT)  # the last -password wins
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    config = write_profile(sim, secrets / "short.yaml", host_password_file=None,
                           host_password=SHORT, datastore_regex="no-such-datastore-.*")
    token = as_token(SHORT)
    spy.watch()

    result = sim.run("--config", str(config), "about")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == SHORT_WARNING  # once, and the password is not in it
    assert sim.run("--config", str(config), "-q", "about").stderr == ""

    # an error whose words contain the password: intact; its one token 'pass': hidden
    refused = ("no datastore of cluster 'DC0_C0' passes Nova's datastore filter; ******** "
               "--datastore NAME ('vmwctl cluster inspect' shows why each is refused)")
    for args in (["cache", "list"], ["-vv", "cache", "list"], ["-vv", "-o", "json", "cache",
                                                                "list"]):
        result = sim.run("--config", str(config), *args)
        what = " ".join(args)
        assert result.exit_code == 2, (what, result.stderr)
        assert result.stderr.count(SHORT_WARNING) == 1, what
        assert f"Error: {refused}\n" in result.stderr, what
        if "json" in args:
            assert result.json()["error"]["message"] == refused
        if "-vv" in args:  # the debug log and the traceback, by the same rule
            assert "Traceback (most recent call last)" in result.stderr, what
            assert f"vmwctl.errors.UsageError: {refused}\n" in result.stderr, what
            assert "INFO vmwctl.vsphere.session: logged in to" in result.stderr, what
        assert not token.search(result.stdout), (what, result.stdout)
        assert not token.search(result.stderr), (what, result.stderr)

    # a real process (third-party loggers, Python warnings), and check fleet: two services
    # logging in at once from threads, one warning
    result = run_process("--config", str(config), "-vv", "about")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count(SHORT_WARNING) == 1
    assert not token.search(result.stdout + result.stderr), result.stderr
    data = yaml.safe_load(config.read_text())
    data["profiles"]["twin"] = data["profiles"]["sim"]
    fleet = write_config(secrets / "fleet.yaml", yaml.safe_dump(data))
    result = sim.run("--config", str(fleet), "-vv", "-o", "json", "check", "fleet")
    assert result.exit_code in (0, 1), result.stderr
    report = result.json()
    assert report["services"] == 2
    assert report["checks"][0]["status"] == "pass", report["checks"][0]  # both logged in
    assert result.stderr.count(SHORT_WARNING) == 1
    assert not token.search(result.stderr)
    # a check's status "pass" and the summary's key are vmwctl's word, not the password
    texts = [text for check in report["checks"]
             for text in (check["detail"], check["remedy"] or "", *check["objects"])]
    assert texts and not [text for text in texts if token.search(text)], texts

    # a short password vCenter rejects is still used (and warned about)
    wrong = write_profile(sim, secrets / "wrong.yaml", host_password_file=None,
                          host_password="word")
    result = sim.run("--config", str(wrong), "-vv", "about")
    assert result.exit_code == 3
    assert result.stderr.count(SHORT_WARNING) == 1
    assert "rejected the login of" in result.stderr
    assert not as_token("word").search(result.stdout + result.stderr)

    for line in spy.command_lines():
        assert not token.search(line), line
    for path in tmp_path.rglob("*"):  # vmwctl has no log file: what did the runs leave?
        if path.is_file() and not {secrets, spy.bin.parent} & set(path.parents):
            assert not token.search(path.read_text(errors="replace")), path


def test_a_login_answered_with_a_fault(simulator, lab, lab_env, spy: Spy) -> None:
    sim = simulator("-fail-method", "Login")
    spy.watch()
    for args in (["-vv", "-o", "json", "about"], ["-v", "cluster", "list"]):
        result = sim.run(*args)
        assert result.exit_code == 3
        assert f"vCenter 127.0.0.1:{sim.port} refused the login of {lab.username}: " \
               "SystemError: injected by the lab (-fail-method Login)" in result.stderr
        assert lab.password not in result.stdout + result.stderr
    assert not spy.command_lines()


def test_the_image_service_password_stays_hidden(tmp_path: Path, monkeypatch) -> None:
    """clouds.yaml's password (keystone nobody answers for): not in any output either."""
    clouds = tmp_path / "secrets" / "clouds.yaml"
    clouds.parent.mkdir()
    clouds.write_text(yaml.safe_dump({"clouds": {"ks": {"auth_type": "password", "auth": {
        "auth_url": f"http://127.0.0.1:{closed_port()}/v3", "username": "glance-user",
        "password": SECRET, "project_name": "p", "user_domain_name": "Default",
        "project_domain_name": "Default"}}}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    config = tmp_path / "secrets" / "vmwctl.yaml"
    config.write_text(yaml.safe_dump({"profiles": {"ks": {
        "vmware": {"host_ip": "127.0.0.1", "host_username": "u"},
        "DEFAULT": {"my_ip": "192.0.2.10"}, "openstack": {"cloud": "ks"}}}}))
    config.chmod(0o600)
    for args in (["image", "list"], ["image", "tag", "x", "--ostype", "otherGuest"],
                 ["cache", "seed", "x"], ["vm", "spawn", "x"]):
        result = run_vmwctl("--config", str(config), "-vv", "-o", "json", *args)
        assert result.exit_code == 3, (args, result.stderr)
        assert "cannot reach the image service of cloud 'ks'" in result.json()["error"]["message"]
        assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["2024-13-45", f"!!float {SECRET}"])
def test_a_password_yaml_cannot_read_is_not_quoted(value: str, tmp_path: Path) -> None:
    """A date-like password that is no date (or a wrong tag) fails to load: say where, not
    what (a value of another option is still quoted: tests/reliability/test_fuzz_parsers.py)."""
    config = tmp_path / "c.yaml"
    config.write_text(f"profiles:\n  p:\n    vmware:\n      host_ip: h\n      host_username: u\n"
                      f"      host_password: {value}\n")
    config.chmod(0o600)
    shown = value.split()[-1]
    for args in (["profile", "show"], ["-o", "json", "profile", "validate"], ["-v", "about"]):
        result = run_vmwctl("--config", str(config), *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert shown not in result.stdout + result.stderr, args
        assert f"{config}:6:22: YAML syntax error: the value cannot be read (not shown: it may " \
               "be a secret)" in result.stdout + result.stderr


# ------------------------------------------------------------------ nova.conf mistakes

@pytest.mark.parametrize("text", [
    f"host_password = {SECRET}\n[vmware]\nhost_ip = vc\n",  # the [vmware] header forgotten
    f"[vmware]\nhost_ip = vc\nhost_password {SECRET}\n",  # the '=' forgotten
])
def test_a_malformed_nova_conf_line_does_not_show_the_password(text: str, tmp_path: Path,
                                                               lab, lab_env) -> None:
    nova_conf = tmp_path / "nova.conf"
    nova_conf.write_text(text)
    for args in (["check", "nova-conf", "--offline", str(nova_conf)],
                 ["check", "fleet", "--nova-conf", str(nova_conf)],
                 ["profile", "import-nova-conf", str(nova_conf), "--name", "x"]):
        for output in ("table", "json"):
            result = run_vmwctl("-v", "-o", output, *args)
            assert result.exit_code == 2, (args, result.stderr)
            assert SECRET not in result.stdout + result.stderr, args
            assert f"{nova_conf}:" in result.stderr  # still says where
    # a line without a secret is still quoted, to show what is wrong
    nova_conf.write_text("[vmware]\njust words\n")
    result = run_vmwctl("check", "nova-conf", "--offline", str(nova_conf))
    assert "got 'just words'" in result.stderr


# ------------------------------------------------------------------ file modes

def test_imported_profiles_are_private_whatever_the_umask(vmwctl, tmp_path: Path) -> None:
    nova_conf = tmp_path / "nova.conf"
    nova_conf.write_text(f"[vmware]\nhost_ip = vc1\nhost_username = u\n"
                         f"host_password = {SECRET}\ncluster_name = c\n")
    xdg = Path(os.environ["XDG_CONFIG_HOME"])
    old = os.umask(0o022)
    try:
        for n, extra in enumerate(([], ["--include-password"], ["--password-env", "VC_PW"])):
            target = xdg / f"config-{n}" / "vmwctl.yaml"
            result = vmwctl("--config", str(target), "profile", "import-nova-conf",
                            str(nova_conf), "--name", "vc1", *extra)
            assert result.exit_code == 0, result.stderr
            assert stat.S_IMODE(target.stat().st_mode) == 0o600, extra
            assert (SECRET in target.read_text()) == (extra == ["--include-password"])
            assert SECRET not in result.stdout + result.stderr
            assert not [p for p in target.parent.iterdir() if p != target]  # no temp left
        # the default place: the XDG directory is created for the owner only
        result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "vc1",
                        "--include-password")
        assert result.exit_code == 0
        target = xdg / "vmwctl" / "config.yaml"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_copying_the_password_into_a_readable_config_file_warns(vmwctl, tmp_path: Path,
                                                               isolated_environment) -> None:
    """An existing file keeps its mode (tests/unit/test_novaconf.py); with a plain
    password in it, a group- or world-readable file draws the usual warning at once."""
    nova_conf = tmp_path / "nova.conf"
    nova_conf.write_text(f"[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n"
                         f"[vmware]\nhost_ip = vc1\nhost_username = u\n"
                         f"host_password = {SECRET}\n")
    local = isolated_environment / "vmwctl.yaml"
    local.write_text("profiles:\n  old:\n    vmware: {host_ip: o, host_username: u}\n")
    local.chmod(0o644)
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "nopw")
    assert result.exit_code == 0
    assert "readable" not in result.stderr  # no password copied: nothing to warn about
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "pw",
                    "--include-password")
    assert result.exit_code == 0
    assert stat.S_IMODE(local.stat().st_mode) == 0o644
    warnings = [line for line in result.stderr.splitlines() if "readable" in line]
    assert warnings == [f"Warning: {local} holds a plain host_password and is readable by "
                        f"group or others: chmod 600 {local}, or use host_password_env, "
                        "host_password_file or host_password_command"]
    assert SECRET not in result.stdout + result.stderr
    assert vmwctl("-q", "profile", "import-nova-conf", str(nova_conf), "--name", "pw2",
                  "--include-password").stderr == ""
    local.chmod(0o600)
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "pw3",
                    "--include-password")
    assert result.exit_code == 0 and "readable" not in result.stderr


def test_every_reader_of_a_readable_config_warns(vmwctl, simulator, lab_env,
                                                tmp_path: Path) -> None:
    """profile show warns (unit test); so must a command that connects, and check fleet,
    which reads every profile of the file (it used to say nothing)."""
    sim = simulator()
    config = write_profile(sim, tmp_path / "readable.yaml", host_password_file=None,
                           host_password=sim.lab.password)
    config.chmod(0o644)
    expected = f"Warning: {config} holds a plain host_password and is readable by group or others"
    for args in (["about"], ["check", "fleet"],
                 ["-o", "json", "check", "fleet"]):
        result = sim.run("--config", str(config), *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert expected in result.stderr, args
        assert sim.lab.password not in result.stdout + result.stderr
    result = sim.run("--config", str(config), "profile", "validate")  # in its report
    assert expected.replace("Warning: ", "  warning: ") in result.stdout
    assert sim.run("--config", str(config), "-q", "check", "fleet").stderr == ""
    config.chmod(0o600)
    assert "Warning" not in sim.run("--config", str(config), "check", "fleet").stderr


# ------------------------------------------------------------------ TLS

def make_ca(path: Path) -> Path:
    """A throwaway CA certificate that signed nothing the lab serves."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


TLS_COMMANDS = [
    ["about"], ["cluster", "list"], ["check", "prereqs"], ["check", "privileges"],
    ["firewall", "status"], ["cache", "list", "--no-glance"], ["vm", "list"],
    ["role", "create", "--dry-run"],
]


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_tls_is_verified_by_default(ca: str, simulator, lab_env, tmp_path: Path) -> None:
    sim = simulator()
    if ca == "none":
        config = write_profile(sim, tmp_path / "c.yaml", ca_file=None)
        hint = "set vmware.ca_file in the profile to the CA bundle that signed it"
    else:
        other = make_ca(tmp_path / "other-ca.pem")
        config = write_profile(sim, tmp_path / "c.yaml", ca_file=str(other))
        hint = f"vmware.ca_file {other} does not hold the CA that signed it"
    for args in TLS_COMMANDS:
        result = sim.run("--config", str(config), "-o", "json", *args)
        assert result.exit_code == 3, (args, result.stderr)
        message = result.json()["error"]["message"]
        assert message.startswith(f"cannot verify the TLS certificate of vCenter "
                                  f"127.0.0.1:{sim.port}"), message
        assert hint in message and "--insecure" in message
        assert result.stderr == f"Error: {message}\n"
    # check fleet reports the same cause for the service (a check failure: exit 1)
    fleet = sim.run("--config", str(config), "-o", "json", "check", "fleet")
    assert fleet.exit_code == 1
    assert hint in fleet.json()["checks"][0]["detail"]


def test_insecure_warns_on_every_run(simulator, lab_env, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    config = write_profile(sim, tmp_path / "c.yaml", ca_file=None, insecure=True)
    expected = "Warning: TLS certificate verification of 127.0.0.1 is off (vmware.insecure)\n"
    for args in (["about"], ["about"], ["-o", "json", "cluster", "list"], ["vm", "list"]):
        result = sim.run("--config", str(config), *args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == expected, args  # one line, once per run
    for args in (["-q", "about"], ["about", "-q"], ["-q", "-o", "json", "cluster", "list"]):
        result = sim.run("--config", str(config), *args)
        assert result.exit_code == 0
        assert result.stderr == "", args
    # a ca_file wins over insecure, as in Nova: verified, no warning
    config = write_profile(sim, tmp_path / "d.yaml", insecure=True)
    assert sim.run("--config", str(config), "about").stderr == ""
    # from the environment the warning names the variable that turned verification off
    config = write_profile(sim, tmp_path / "e.yaml", ca_file=None)
    monkeypatch.setenv("GOVC_INSECURE", "1")
    for _ in range(2):
        result = sim.run("--config", str(config), "about")
        assert result.exit_code == 0
        assert result.stderr == expected.replace("vmware.insecure", "GOVC_INSECURE")
    # check fleet connects once per service and warns for each
    config = write_profile(sim, tmp_path / "f.yaml", ca_file=None, insecure=True)
    monkeypatch.delenv("GOVC_INSECURE")
    result = sim.run("--config", str(config), "check", "fleet")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == expected


# ------------------------------------------------------------------ Keystone's secrets

def keystone_clouds(lab, directory: Path, auth: str, secret: str) -> Path:
    """clouds.yaml (no secret) and secure.yaml (``secret``) of one cloud, ``ks-secrets``, that
    authenticates to the lab's Keystone as the operator by ``auth``."""
    base = {"auth_url": f"{lab.keystone_url}/v3"}
    if auth == "password":
        public = {**base, "username": "operator", "project_name": "operators",
                  "user_domain_name": "Default", "project_domain_name": "Default"}
        hidden = {"password": secret}
        auth_type = "password"
    elif auth == "application-credential":
        secure = yaml.safe_load(Path(lab.secure_file).read_text())
        credential = secure["clouds"][lab.cloud_app_credential]["auth"]
        clouds = yaml.safe_load(Path(lab.clouds_file).read_text())
        public = {**base, **{k: v for k, v in clouds["clouds"][lab.cloud_app_credential]
                             ["auth"].items() if k != "auth_url"}}
        public.setdefault("application_credential_id",
                          credential.get("application_credential_id"))
        hidden = {"application_credential_secret": secret}
        auth_type = "v3applicationcredential"
    else:
        public = {**base, "project_name": "operators", "project_domain_name": "Default"}
        hidden = {"token": secret}
        auth_type = "v3token"
    clouds_file = directory / "clouds.yaml"
    clouds_file.write_text(yaml.safe_dump({"clouds": {"ks-secrets": {
        "auth_type": auth_type, "identity_api_version": 3, "auth": public}}}))
    (directory / "secure.yaml").write_text(yaml.safe_dump({"clouds": {"ks-secrets": {
        "auth": hidden}}}))
    (directory / "secure.yaml").chmod(0o600)
    return clouds_file


def keystone_secret(lab, auth: str) -> str:
    import labctl

    if auth == "password":
        return lab.keystone_password("operator")
    if auth == "application-credential":
        secure = yaml.safe_load(Path(lab.secure_file).read_text())
        return secure["clouds"][lab.cloud_app_credential]["auth"]["application_credential_secret"]
    return labctl.keystone_token(lab.keystone_url, "operator", lab.keystone_password("operator"),
                                 "operators")


@pytest.mark.parametrize("auth", ["password", "application-credential", "token"])
@pytest.mark.parametrize("right", [True, False], ids=["accepted", "refused"])
def test_keystone_secrets_show_nowhere(auth: str, right: bool, simulator, lab, lab_env,
                                       spy: Spy, files: dict[str, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's Keystone password, application credential secret and token: in no
    output, file, environment or child command line, whether Keystone accepts them or not,
    in-process and (for the image list) in a process of its own."""
    secret = keystone_secret(lab, auth)
    if not right:  # a secret of the same kind that Keystone refuses
        secret = "gAAAAAB" + secret[7:][::-1] if auth == "token" else secret[::-1]
    clouds = keystone_clouds(lab, files["secrets"], auth, secret)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", str(clouds.with_name("secure.yaml")))
    sim = simulator()
    config = write_profile(sim, files["secrets"] / "profile.yaml", cloud="ks-secrets")
    stream = files["out"] / "secrets.vmdk"
    assert run_vmwctl("image", "convert", str(files["raw"]), str(stream)).exit_code == 0
    table = {
        "image list": ["image", "list"],
        "image list --verify": ["image", "list", "--verify"],
        "image upload": ["image", "upload", str(stream), "--name", "vmwctl-ks-secrets",
                         "--visibility", "private"],
        "image tag": ["image", "tag", "vmwctl-ks-secrets", "--ostype", "otherGuest"],
        "cache seed": ["cache", "seed", "vmwctl-ks-secrets", "--dry-run"],
    }
    spy.watch()
    results = run_matrix(config, table, secret, f"keystone {auth}")
    process = run_process("--config", str(config), "-vv", "-o", "json", "image", "list")
    assert_nowhere(secret, process, f"keystone {auth}: image list in a process")
    if right:
        assert {name for name, result in results.items() if result.exit_code == 0} == \
            set(table), {name: r.stderr[-300:] for name, r in results.items()}
        deleted = [image for image in
                   run_vmwctl("--config", str(config), "-o", "json", "image",
                              "list").json()["images"] if image["name"] == "vmwctl-ks-secrets"]
        assert len(deleted) == 1
        from labimages import delete_protected_image

        delete_protected_image(lab, deleted[0]["id"])
    else:
        for name, result in results.items():
            assert result.exit_code == 3, (name, result.stderr)
            assert "refused the credentials of cloud 'ks-secrets'" in \
                result.json()["error"]["message"], name
        assert process.exit_code == 3
    for line in spy.command_lines():
        assert secret not in line, f"secret on a child's command line: {line}"
    assert secret not in spy.child_environments()
    assert_no_file_holds(secret, [tmp_path, Path(sim.datastores["LocalDS_0"])],
                         [files["secrets"], spy.bin.parent])
