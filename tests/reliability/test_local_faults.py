"""Local faults under vmwctl: qemu-img killed, the disk full, SIGINT and SIGTERM.

vmwctl runs as a real process (``python -m vmwctl``), as a user or a cron job
starts it; the fault comes from outside: qemu-img, its child, is SIGKILLed
mid-conversion; the destination's file system is full (a small tmpfs: where
this machine cannot mount one, those cases skip and say why) or a file-size
limit (RLIMIT_FSIZE) ends the write; SIGINT or SIGTERM arrives during a long
operation, at a moment the test observes (a call the simulator holds with
-method-delay, Glance receiving the data, bytes on their way). Expect: exit 1
with one line that says what happened (130 on SIGINT, 143 on SIGTERM), no
partial output, no temporary file left (beside the destination, in TMPDIR, on
the datastore), no image left in Glance, no VM left in vCenter, and no
qemu-img left running.

Complements tests/unit/test_convert.py::test_sigint_during_conversion_leaves_nothing,
tests/lab_tests/test_cache_seed.py::test_seed_interrupted_by_ctrl_c_leaves_nothing,
tests/lab_tests/test_vm.py::test_ctrl_c_during_a_step_cleans_up and
tests/lab_tests/test_lab_and_signals.py::test_signals_during_a_call.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import glance_profile, images_named, wait_until
from test_vcenter_faults import put_aged_images

CACHE = "192.0.2.10_base"  # the lab profile's cache folder (my_ip 192.0.2.10)
DS = "LocalDS_0"
SIGNALS = [pytest.param(signal.SIGINT, 130, "Error: interrupted", id="SIGINT"),
           pytest.param(signal.SIGTERM, 143, "Error: terminated", id="SIGTERM")]
ROOM = 8 << 20  # the small file system, or the file-size limit


# ------------------------------------------------------------------ helpers

def start(*args: str, env: dict[str, str] | None = None,
          preexec: Callable[[], None] | None = None,
          new_session: bool = False) -> subprocess.Popen[str]:
    """vmwctl as its own process, as a shell starts it."""
    return subprocess.Popen([sys.executable, "-m", "vmwctl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env if env is not None else os.environ.copy(),
                            preexec_fn=preexec, start_new_session=new_session)


def finish(process: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def descendants(pid: int, name: str) -> list[int]:
    """The processes called ``name`` below ``pid`` (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        return _proc_descendants(pid, name)
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)
                if child.name() == name]
    except psutil.Error:
        return []


def _proc_descendants(pid: int, name: str) -> list[int]:
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm_end = stat.rindex(")")
        names[int(entry.name)] = stat[stat.index("(") + 1:comm_end]
        parents[int(entry.name)] = int(stat[comm_end + 2:].split()[1])
    found, frontier = [], {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        found += [child for child in children if names.get(child) == name]
        frontier = children
    return found


def converting(pid: int) -> list[int]:
    """The ``qemu-img convert`` below ``pid`` (not a ``qemu-img info`` that inspects)."""
    found = []
    for child in descendants(pid, "qemu-img"):
        try:
            if b"convert" in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0"):
                found.append(child)
        except OSError:
            continue
    return found


def written(*directories: Path, size: int = 1 << 20) -> bool:
    """Whether a file of ``size`` or more is being written in one of the temporary
    directories below ``directories``."""
    for directory in directories:
        for path in directory.rglob("*"):
            try:
                if ("vmwctl-" in str(path.relative_to(directory)) and path.is_file()
                        and path.stat().st_size >= size):
                    return True
            except OSError:
                continue
    return False


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def temporaries(*directories: Path) -> list[str]:
    """What vmwctl's temporary directories leave behind, in each directory given."""
    return sorted(str(p) for d in directories if d.exists() for p in d.iterdir()
                  if p.name.startswith((".vmwctl-", "vmwctl-")))


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A TMPDIR of the test's own (so that anything left in it is vmwctl's) and the env."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp, {**os.environ, "TMPDIR": str(tmp)}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sources, made once: random data (slow to compress) as raw; a qcow2 of it; a small
    compressed qcow2 whose raw copy is 32 MiB of data (for the disk-full cases of upload's
    raw copy); 32 MiB of random data as raw and qcow2 (the output does not fit either)."""
    root = tmp_path_factory.mktemp("sources")
    big = root / "big.raw"
    with big.open("wb") as handle:
        for _ in range(64):
            handle.write(os.urandom(4 << 20))  # 256 MiB
    small = root / "small.raw"
    small.write_bytes(os.urandom(32 << 20))
    patterned = root / "patterned.raw"
    patterned.write_bytes((bytes(range(1, 256)) * 4112)[:1 << 20] * 32)
    for raw, out, extra in ((big, "big.qcow2", []), (patterned, "patterned.qcow2", ["-c"]),
                            (small, "small.qcow2", [])):
        subprocess.run(["qemu-img", "convert", "-q", *extra, "-f", "raw", "-O", "qcow2",
                        str(raw), str(root / out)], check=True)
    patterned.unlink()
    return {"big.raw": big, "big.qcow2": root / "big.qcow2", "small.raw": small,
            "patterned.qcow2": root / "patterned.qcow2", "small.qcow2": root / "small.qcow2"}


# ------------------------------------------------------------------ no room

@dataclass
class Room:
    """Where writing runs out of room, and how: 'tmpfs' or 'rlimit'."""

    dir: Path
    mechanism: str

    def preexec(self) -> Callable[[], None] | None:
        if self.mechanism != "rlimit":
            return None

        def limit() -> None:  # in the child: writes fail with EFBIG, no SIGXFSZ kills it
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (ROOM, ROOM))
        return limit

    def says_so(self, message: str) -> bool:
        if self.mechanism == "tmpfs":
            return "No space left on device: the file system is full" in message
        return "File too large: the file-size limit (ulimit -f) of 8.0 MiB was reached" \
            in message


def _mount_tmpfs(directory: Path) -> str | None:
    """Mount the small tmpfs on ``directory``; why it cannot be done, or None."""
    if os.geteuid() != 0:
        return "mounting needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={ROOM},mode=0700", "tmpfs",
                           str(directory)], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    return done.stderr.strip() or f"mount exited with {done.returncode}"


@pytest.fixture(params=["tmpfs", "rlimit"])
def room(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Room]:
    """An 8 MiB tmpfs, or the 8 MiB file-size limit. Where this machine cannot mount a
    tmpfs, the tmpfs cases skip and say why (the rlimit cases still run)."""
    directory = tmp_path / "room"
    directory.mkdir()
    if request.param == "tmpfs":
        refused = _mount_tmpfs(directory)
        if refused is not None:
            pytest.skip(f"no full file system to test with: cannot mount a tmpfs here "
                        f"({refused}); the file-size-limit case covers the failed write")
    try:
        yield Room(directory, request.param)
    finally:
        if request.param == "tmpfs" and subprocess.run(["umount", str(directory)],
                                                       check=False).returncode:
            subprocess.run(["umount", "-l", str(directory)], check=False)


# ------------------------------------------------------------------ image convert

CONVERSIONS = [pytest.param("big.raw", "qemu", id="qemu"),
               pytest.param("big.qcow2", "native", id="native-through-qemu-nbd")]


@pytest.mark.parametrize("source, engine", CONVERSIONS[:1])
def test_qemu_img_killed_mid_conversion(sources, tmp_path: Path, tmpdir_env,
                                        source: str, engine: str) -> None:
    tmp, env = tmpdir_env
    dest = tmp_path / "out" / "o.vmdk"
    dest.parent.mkdir()
    process = start("image", "convert", str(sources[source]), str(dest), "--engine", engine,
                    env=env)
    [qemu_img] = wait_until(lambda: converting(process.pid), process, "qemu-img")
    wait_until(lambda: written(dest.parent),
               process, "qemu-img's output", poll=0.002)
    os.kill(qemu_img, signal.SIGKILL)
    code, stdout, stderr = finish(process)
    assert code == 1, stderr
    assert one_line(stderr) == "Error: qemu-img was killed by SIGKILL"
    assert stdout == ""
    assert not dest.exists()
    assert temporaries(dest.parent, tmp) == [] and list(tmp.iterdir()) == []


def serving(pid: int) -> list[int]:
    """The qemu-nbd below ``pid``."""
    return descendants(pid, "qemu-nbd")


def nbd_directories(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("vmwctl-nbd-"))


def test_qemu_nbd_killed_mid_conversion(sources, tmp_path: Path, tmpdir_env) -> None:
    tmp, env = tmpdir_env
    dest = tmp_path / "out" / "o.vmdk"
    dest.parent.mkdir()
    process = start("image", "convert", str(sources["big.qcow2"]), str(dest), env=env)
    [server] = wait_until(lambda: serving(process.pid), process, "qemu-nbd")
    wait_until(lambda: written(dest.parent), process, "the writer's output", poll=0.002)
    os.kill(server, signal.SIGKILL)
    code, stdout, stderr = finish(process)
    assert code == 1, stderr
    assert one_line(stderr) == "Error: qemu-nbd was killed by SIGKILL"
    assert stdout == ""
    assert not dest.exists()
    assert temporaries(dest.parent, tmp) == [] and list(tmp.iterdir()) == []


def test_sigkill_of_vmwctl_ends_qemu_nbd(sources, tmp_path: Path, tmpdir_env) -> None:
    """vmwctl cannot clean up after a SIGKILL: qemu-nbd ends by itself (PR_SET_PDEATHSIG,
    and its clients gone), its socket directory was removed once connected."""
    tmp, env = tmpdir_env
    dest = tmp_path / "out" / "o.vmdk"
    dest.parent.mkdir()
    process = start("image", "convert", str(sources["big.qcow2"]), str(dest), env=env)
    [server] = wait_until(lambda: serving(process.pid), process, "qemu-nbd")
    wait_until(lambda: written(dest.parent), process, "the writer's output", poll=0.002)
    assert nbd_directories(tmp) == []  # removed while qemu-nbd serves
    process.kill()
    finish(process)
    wait_until(lambda: not alive(server), None, "qemu-nbd's end")
    assert nbd_directories(tmp) == [] and list(tmp.iterdir()) == []


@pytest.mark.parametrize("source, engine", [
    pytest.param("small.raw", "qemu", id="qemu"),
    pytest.param("small.raw", "native", id="native"),
    pytest.param("small.qcow2", "native", id="native-through-qemu-nbd"),
])
def test_convert_with_no_room_leaves_nothing(sources, room: Room, tmpdir_env, source: str,
                                             engine: str) -> None:
    tmp, env = tmpdir_env
    dest = room.dir / "o.vmdk"
    process = start("image", "convert", str(sources[source]), str(dest), "--engine", engine,
                    env=env, preexec=room.preexec())
    code, _, stderr = finish(process)
    assert code == 1, stderr
    line = one_line(stderr)
    assert line.startswith(f"Error: cannot write {dest}: ") and room.says_so(line), line
    assert not dest.exists()
    assert list(room.dir.iterdir()) == [] and list(tmp.iterdir()) == []


@pytest.mark.parametrize("signum, code, message", SIGNALS)
@pytest.mark.parametrize("source, engine", [
    *CONVERSIONS, pytest.param("big.raw", "native", id="native")])
def test_signal_during_conversion_leaves_nothing(sources, tmp_path: Path, tmpdir_env,
                                                 source: str, engine: str, signum: int,
                                                 code: int, message: str) -> None:
    """qemu-img dies with vmwctl (it went on writing into a deleted directory before)."""
    tmp, env = tmpdir_env
    dest = tmp_path / "out" / "o.vmdk"
    dest.parent.mkdir()
    process = start("image", "convert", str(sources[source]), str(dest), "--engine", engine,
                    env=env)
    wait_until(lambda: written(dest.parent),
               process, "output in the temporary directory", poll=0.002)
    children = converting(process.pid)
    servers = serving(process.pid)
    process.send_signal(signum)
    returncode, _, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert not dest.exists()
    assert temporaries(dest.parent, tmp) == [] and list(tmp.iterdir()) == []
    assert children or engine == "native"
    assert bool(servers) == source.endswith(".qcow2")
    assert not [pid for pid in children + servers if alive(pid)]


def test_ctrl_c_at_a_terminal_reaches_qemu_img_too(sources, tmp_path: Path, tmpdir_env) -> None:
    """A terminal's Ctrl-C signals the whole process group: still 130, not 'qemu-img failed'."""
    tmp, env = tmpdir_env
    dest = tmp_path / "o.vmdk"
    process = start("image", "convert", str(sources["big.raw"]), str(dest), "--engine", "qemu",
                    env=env, new_session=True)
    wait_until(lambda: converting(process.pid), process, "qemu-img")
    wait_until(lambda: written(tmp_path),
               process, "qemu-img's output", poll=0.002)
    os.killpg(process.pid, signal.SIGINT)
    returncode, _, stderr = finish(process)
    assert returncode == 130, stderr
    assert one_line(stderr) == "Error: interrupted"
    assert not dest.exists() and temporaries(tmp_path, tmp) == []


def test_vib_build_at_the_file_size_limit_leaves_nothing(tmp_path: Path) -> None:
    """The VIB is 2 KiB: only a 1 KiB file-size limit (no tmpfs that small) makes it fail."""
    dest = tmp_path / "out" / "firewall.vib"
    dest.parent.mkdir()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    process = start("firewall", "vib", "build", str(dest), preexec=limit)
    code, _, stderr = finish(process)
    assert code == 1, stderr
    assert f"cannot write {dest}: File too large: the file-size limit (ulimit -f) of" \
        in one_line(stderr)
    assert list(dest.parent.iterdir()) == []  # neither the VIB nor its temporary file


# ------------------------------------------------------------------ lab: Glance and vCenter

def glance_config(lab, tmp_path: Path, cloud: str | None = None) -> Path:
    return glance_profile(lab, tmp_path / f"glance-{cloud or 'lab'}.yaml", cloud)


def datastore_leftovers(root: Path) -> list[str]:
    found = [p.name for p in root.iterdir() if p.name.startswith(("OSTACK_IMG_", "vmwctl-"))]
    temp = root / "vmware_temp"
    if temp.exists():
        found += [f"vmware_temp/{p.name}" for p in temp.iterdir()]
    return found


def vm_names(sim, *, everything: bool = False) -> list[str]:
    """The VMs ``vmwctl vm list`` shows (--all: every VM in the vCenter)."""
    listed = sim.run("vm", "list", "-o", "json", *(["--all"] if everything else []))
    assert listed.exit_code == 0, listed.stderr
    return sorted(vm["name"] for vm in listed.json()["vms"])


def power_states(vc) -> dict[str, str]:
    """Every VM's power state by name, read in the session ``vc``."""
    from pyVmomi import vim

    from vmwctl.vsphere.inventory import collect

    return {r.get("name"): str(r.get("runtime.powerState"))
            for r in collect(vc, {vim.VirtualMachine: ["name", "runtime.powerState"]})}


def upload_args(config: Path, source: Path, name: str, *args: str) -> list[str]:
    return ["--config", str(config), "image", "upload", str(source), "--name", name,
            "--ostype", "otherGuest", *args]


@pytest.mark.lab
def test_qemu_img_killed_during_upload_convert(lab, lab_env, sources, tmp_path: Path,
                                               tmpdir_env) -> None:
    """--engine qemu: qemu-img converts into a temporary VMDK in TMPDIR first."""
    tmp, env = tmpdir_env
    config = glance_config(lab, tmp_path)
    name = f"killed-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src" / "big.raw"
    src.parent.mkdir()
    src.symlink_to(sources["big.raw"])
    process = start(*upload_args(config, src, name, "--convert", "--engine", "qemu"), env=env)
    [qemu_img] = wait_until(lambda: converting(process.pid), process, "qemu-img")
    wait_until(lambda: written(tmp), process, "qemu-img's output", poll=0.002)
    os.kill(qemu_img, signal.SIGKILL)
    code, _, stderr = finish(process)
    assert code == 1, stderr
    assert one_line(stderr) == "Error: qemu-img was killed by SIGKILL"
    assert images_named(config, name) == []
    assert list(tmp.iterdir()) == [] and temporaries(src.parent) == []


def slowed_upload(lab, glance_tcp, sources, tmp_path: Path, tmpdir_env, name: str,
                  source: str = "big.qcow2") -> tuple[subprocess.Popen[str], Path, int]:
    """``image upload --convert`` of a qcow2 into the Glance behind the slowed proxy, once
    Glance receives the data (256 MiB of random data, far more than is read ahead): vmwctl, the
    profile that reaches Glance directly, and its qemu-nbd."""
    _, env = tmpdir_env
    env["OS_CLIENT_CONFIG_FILE"] = os.environ["OS_CLIENT_CONFIG_FILE"]  # cloud 'faulty'
    config = glance_config(lab, tmp_path, cloud="faulty")
    direct = glance_config(lab, tmp_path)
    src = tmp_path / "src" / sources[source].name
    src.parent.mkdir()
    src.symlink_to(sources[source])
    glance_tcp.slow_down(0.05)
    process = start(*upload_args(config, src, name, "--convert"), env=env)
    [server] = wait_until(lambda: serving(process.pid), process, "qemu-nbd")
    wait_until(lambda: [i for i in images_named(direct, name) if i["status"] == "saving"],
               process, "Glance receiving the data", poll=0.05)
    return process, direct, server


@pytest.mark.lab
def test_qemu_nbd_killed_during_upload_convert(lab, glance_tcp, sources, tmp_path: Path,
                                               tmpdir_env) -> None:
    """The native engine reads a qcow2 through qemu-nbd while the upload runs: its death
    is said, the image deleted, nothing left anywhere."""
    tmp, _ = tmpdir_env
    name = f"nbd-killed-{uuid.uuid4().hex[:8]}"
    process, direct, server = slowed_upload(lab, glance_tcp, sources, tmp_path, tmpdir_env,
                                            name)
    os.kill(server, signal.SIGKILL)
    glance_tcp.slow_down(0)
    code, _, stderr = finish(process)
    assert code == 1, stderr
    line = one_line(stderr)
    assert line.startswith("Error: qemu-nbd was killed by SIGKILL (the image record ")
    assert line.endswith(" was deleted)")
    assert images_named(direct, name) == []
    assert list(tmp.iterdir()) == [] and temporaries(tmp_path / "src") == []


@pytest.mark.lab
def test_sigkill_of_vmwctl_during_upload_ends_qemu_nbd(lab, glance_tcp, sources,
                                                       tmp_path: Path, tmpdir_env) -> None:
    """vmwctl cannot clean up after a SIGKILL (the image stays, as any client's would):
    qemu-nbd still ends by itself, and leaves nothing in TMPDIR."""
    tmp, _ = tmpdir_env
    name = f"vmwctl-killed-{uuid.uuid4().hex[:8]}"
    process, _, server = slowed_upload(lab, glance_tcp, sources, tmp_path, tmpdir_env, name)
    assert nbd_directories(tmp) == []
    process.kill()
    glance_tcp.slow_down(0)
    finish(process)
    wait_until(lambda: not alive(server), None, "qemu-nbd's end")
    assert list(tmp.iterdir()) == [] and temporaries(tmp_path / "src") == []


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_upload_conversion(lab, lab_env, sources, tmp_path: Path, tmpdir_env,
                                         signum: int, code: int, message: str) -> None:
    """--engine qemu: the signal comes while qemu-img converts, before Glance is asked for
    anything."""
    tmp, env = tmpdir_env
    config = glance_config(lab, tmp_path)
    name = f"converting-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src" / "big.raw"
    src.parent.mkdir()
    src.symlink_to(sources["big.raw"])
    process = start(*upload_args(config, src, name, "--convert", "--engine", "qemu"), env=env)
    wait_until(lambda: written(tmp), process, "qemu-img's output", poll=0.002)
    children = converting(process.pid)
    process.send_signal(signum)
    returncode, _, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert images_named(config, name) == []
    assert list(tmp.iterdir()) == [] and temporaries(src.parent) == []
    assert children and not [pid for pid in children if alive(pid)]


@pytest.mark.lab
@pytest.mark.parametrize("source, engine", [
    pytest.param("small.raw", "qemu", id="qemu-temporary-vmdk-in-TMPDIR"),
    pytest.param("patterned.qcow2", "native", id="native-needs-no-room"),
])
def test_upload_convert_with_no_room(lab, lab_env, sources, room: Room, tmp_path: Path,
                                     source: str, engine: str) -> None:
    """TMPDIR (and for the native engine the source's directory) on 8 MiB: the qemu
    engine's temporary VMDK does not fit; the native engine writes nothing (qemu-nbd reads
    the qcow2, whose data is 32 MiB, the output goes straight into Glance)."""
    config = glance_config(lab, tmp_path)
    name = f"no-room-{uuid.uuid4().hex[:8]}"
    src = sources[source]
    if engine == "native":  # beside the source, where the raw copy used to go
        src = room.dir / src.name
        src.write_bytes(sources[source].read_bytes())
    before = sorted(p.name for p in room.dir.iterdir())
    env = {**os.environ, "TMPDIR": str(room.dir)}
    process = start(*upload_args(config, src, name, "--convert", "--engine", engine, "-o",
                                 "json"), env=env, preexec=room.preexec())
    code, stdout, stderr = finish(process)
    if engine == "qemu":
        assert code == 1, stderr
        line = one_line(stderr)
        assert line.startswith("Error: cannot write ") and room.says_so(line), line
        assert images_named(config, name) == []
    else:
        assert code == 0, stderr
        [image] = images_named(config, name)
        assert image["status"] == "active" and image["size"] == json.loads(stdout)["bytes_sent"]
    assert sorted(p.name for p in room.dir.iterdir()) == before


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
@pytest.mark.parametrize("what", ["vmdk", "convert-streamed", "convert-qemu",
                                  "convert-streamed-qcow2"])
def test_signal_during_upload_leaves_no_image(lab, lab_env, glance_tcp, sources,
                                              tmp_path: Path, tmpdir_env, what: str,
                                              signum: int, code: int, message: str) -> None:
    """Glance slowed down behind a proxy: the signal comes while the data is being sent
    (from a qcow2: while qemu-nbd serves it, which is gone afterwards)."""
    from labimages import vmdk

    tmp, env = tmpdir_env
    env["OS_CLIENT_CONFIG_FILE"] = os.environ["OS_CLIENT_CONFIG_FILE"]  # cloud 'faulty'
    config = glance_config(lab, tmp_path, cloud="faulty")
    direct = glance_config(lab, tmp_path)
    name = f"signal-{what}-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "random.raw"
    source.write_bytes(os.urandom(8 << 20))
    args = ["--convert"] if what.startswith("convert") else []
    if what == "vmdk":
        source = vmdk(source, "streamOptimized")
    if what == "convert-qemu":
        args += ["--engine", "qemu"]
    if what == "convert-streamed-qcow2":
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(source),
                        str(tmp_path / "random.qcow2")], check=True)
        source = tmp_path / "random.qcow2"
    glance_tcp.slow_down(0.05)
    process = start(*upload_args(config, source, name, *args), env=env)
    wait_until(lambda: [i for i in images_named(direct, name) if i["status"] == "saving"],
               process, "Glance receiving the data", poll=0.05)  # 8 MiB take 6 s or more
    servers = serving(process.pid)
    process.send_signal(signum)
    glance_tcp.slow_down(0)
    returncode, _, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert images_named(direct, name) == []
    assert list(tmp.iterdir()) == [] and temporaries(tmp_path) == []
    assert bool(servers) == what.endswith("qcow2")
    assert not [pid for pid in servers if alive(pid)]


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
@pytest.mark.parametrize("subformat, disktype", [("monolithicSparse", "sparse"),
                                                 ("streamOptimized", "streamOptimized")])
def test_signal_during_seed_leaves_nothing(simulator, lab_env, tmp_path: Path, subformat: str,
                                           disktype: str, signum: int, code: int,
                                           message: str) -> None:
    """The vCenter connection slowed down: the signal comes while the disk is being sent."""
    from faultproxy import FaultProxy
    from labimages import profile_for, upload, vmdk

    sim = simulator()
    root = Path(sim.datastores[DS])
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(8 << 20))
    image_id = upload(sim.config, vmdk(raw, subformat), f"seed-{signum}",
                      vmware_disktype=disktype)
    before = vm_names(sim, everything=True)
    with FaultProxy("127.0.0.1", sim.port) as proxy:
        config = profile_for(sim, tmp_path, "slow", port=proxy.port)
        process = start("--config", str(config), "cache", "seed", image_id, "-o", "json")
        wait_until(lambda: any(root.glob("vmware_temp/*")) or any(root.glob("OSTACK_IMG_*")),
                   process, "the seed's temporary folder", poll=0.02)
        proxy.slow_down(0.02)  # 8 MiB take 2.6 s or more
        carried = proxy.carried
        wait_until(lambda: proxy.carried > carried + (1 << 20), process,
                   "the first MiB of the disk on its way", poll=0.02)
        process.send_signal(signum)
        proxy.slow_down(0)
        returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert json.loads(stdout) == {"error": {"message": message.removeprefix("Error: "),
                                            "exit_code": code}}
    assert not (root / CACHE / image_id).exists()
    assert datastore_leftovers(root) == []
    assert vm_names(sim, everything=True) == before  # no shadow VM of the import either


@pytest.mark.lab
def test_sigterm_during_a_spawn_step_cleans_up(simulator, lab_env, tmp_path: Path) -> None:
    """SIGTERM (the SIGINT case is tests/lab_tests/test_vm.py): the VM is removed."""
    from labimages import raw_disk, upload, vmdk

    sim = simulator("-method-delay", "PowerOnVM_Task:3000")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "terminated", vmware_disktype="streamOptimized")
    process = start("--config", str(sim.config), "vm", "spawn", image_id, "--name", "term",
                    "--network", "br-int")

    wait_until(lambda: sim.under_way("PowerOnVM_Task"), process,
               "the power-on held by the simulator", poll=0.02)
    process.send_signal(signal.SIGTERM)
    returncode, _, stderr = finish(process)
    assert returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "Error: terminated"  # after the steps done
    assert "Traceback" not in stderr
    assert vm_names(sim) == []
    assert not (root / "vmwctl-term").exists()
    assert datastore_leftovers(root) == []


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_purge_stops_between_folders(simulator, lab_env, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   signum: int, code: int,
                                                   message: str) -> None:
    """Each folder is deleted whole or not at all; the locks are released."""
    from vmwctl.cache.layout import LOCK_FOLDER

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # the purge's local lock
    sim = simulator("-method-delay", "DeleteDatastoreFile_Task:2000")  # the moment to signal
    root = Path(sim.datastores[DS])
    folders = put_aged_images(root, 3)
    process = start("--config", str(sim.config), "cache", "purge", "--yes", "-o", "json")
    wait_until(lambda: sim.under_way("DeleteDatastoreFile_Task"), process,
               "the first folder's deletion held by the simulator", poll=0.02)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    report = json.loads(stdout)
    assert report.get("interrupted") is True, json.dumps(report, indent=1)
    outcomes = {item["path"]: item["outcome"] for item in report["items"]}
    deleted = [path for path, outcome in outcomes.items() if outcome == "deleted"]
    assert sorted(outcomes.values()) == ["deleted", "skipped", "skipped"], outcomes
    for folder in folders:  # the one under way went whole, the others are untouched
        gone = f"[{DS}] {CACHE}/{folder.name}" in deleted
        assert not folder.exists() if gone else len(list(folder.iterdir())) == 3, folder
    assert not (root / CACHE / LOCK_FOLDER).exists()
    again = sim.run("cache", "purge", "--yes", "-o", "json")  # neither lock is held
    assert again.exit_code == 0, again.stderr
    assert not any(folder.exists() for folder in folders)


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_purge_of_profiles_stops_each_between_folders(
        simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, code: int,
        message: str) -> None:
    """cache purge --profiles, two vCenters at once and a third waiting: the signal comes
    while each of the two deletes its first folder; each ends that folder whole and skips
    the rest, the third is not begun; every lock is released, and a second run finishes."""
    import yaml

    from vmwctl.cache.layout import LOCK_FOLDER

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # the purge's local locks
    sims = {name: simulator(*(("-method-delay", "DeleteDatastoreFile_Task:2000")
                              if name != "c" else ())) for name in "abc"}
    folders = {name: put_aged_images(Path(sim.datastores[DS]), 3)
               for name, sim in sims.items()}
    config = tmp_path / "compute.yaml"
    config.write_text(yaml.safe_dump({"profiles": {
        name: yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
        for name, sim in sims.items()}}))
    config.chmod(0o600)
    process = start("--config", str(config), "cache", "purge", "--profiles", "a,b,c",
                    "--parallel", "2", "--yes", "-o", "json")
    wait_until(lambda: sims["a"].under_way("DeleteDatastoreFile_Task")
               and sims["b"].under_way("DeleteDatastoreFile_Task"), process,
               "a folder's deletion held by each of the two simulators", poll=0.02)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    report = json.loads(stdout)
    assert (report["interrupted"], report["exit_code"]) == (True, code)
    entries = {entry["profile"]: entry for entry in report["profiles"]}
    for name in "ab":
        assert entries[name]["exit_code"] == code and entries[name]["report"]["interrupted"]
        outcomes = {item["path"]: item["outcome"] for item in entries[name]["report"]["items"]}
        assert sorted(outcomes.values()) == ["deleted", "skipped", "skipped"], outcomes
        for folder in folders[name]:  # the one under way went whole, the others are untouched
            gone = outcomes[f"[{DS}] {CACHE}/{folder.name}"] == "deleted"
            assert not folder.exists() if gone else len(list(folder.iterdir())) == 3, folder
    assert (entries["c"]["exit_code"], entries["c"]["report"]) == (code, None)
    assert entries["c"]["error"] == "interrupted before it began"
    assert all(len(list(folder.iterdir())) == 3 for folder in folders["c"])
    for sim in sims.values():
        assert not (Path(sim.datastores[DS]) / CACHE / LOCK_FOLDER).exists()
    again = sims["a"].run("--config", str(config), "cache", "purge", "--profiles", "a,b,c",
                          "-o", "json")  # no lock is held
    assert again.exit_code == 0, again.stderr
    assert not any(folder.exists() for paths in folders.values() for folder in paths)


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_vm_delete_stops_between_vms(simulator, lab_env, tmp_path: Path,
                                                    signum: int, code: int,
                                                    message: str) -> None:
    """The VM being destroyed goes whole (folder and all); the next is not touched."""
    from labimages import raw_disk, upload, vmdk

    sim = simulator("-method-delay", "UnregisterVM:1500")
    root = Path(sim.datastores[DS])
    image_id = upload(sim.config, vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized"),
                      "signal-delete", vmware_disktype="streamOptimized")
    for name in ("one", "two"):
        spawned = sim.run("vm", "spawn", image_id, "--name", name)
        assert spawned.exit_code == 0, spawned.stderr
    process = start("--config", str(sim.config), "vm", "delete", "vmwctl-one", "vmwctl-two",
                    "--yes", "-o", "json")
    # read through a session of the test's own: a vmwctl run now would see the session of
    # the vm delete under way as its own, left logged in (tests/sessionwatch.py)
    vc = sim.connect()
    wait_until(lambda: "poweredOff" in power_states(vc).values(), process,
               "the first VM powered off", poll=0.05)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    outcomes = {vm["name"]: vm["outcome"] for vm in json.loads(stdout)["vms"]}
    assert outcomes == {"vmwctl-one": "deleted", "vmwctl-two": "skipped"}
    assert vm_names(sim) == ["vmwctl-two"]
    assert not (root / "vmwctl-one").exists() and (root / "vmwctl-two").exists()


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_vib_install_removes_the_upload(simulator, lab_env, tmp_path: Path,
                                                      signum: int, code: int,
                                                      message: str) -> None:
    """The signal comes while the three hosts install the VIB (in parallel, each held 3 s):
    the installs under way finish, then vmwctl stops and removes the uploaded copy."""
    sim = simulator("-method-delay", "InstallHostPatchV2_Task:3000", scenario="fresh")
    root = Path(sim.datastores[DS])
    vib = sim.run("firewall", "vib", "build", str(tmp_path), "-o", "json").json()["path"]
    process = start("--config", str(sim.config), "firewall", "vib", "install", vib, "--yes",
                    "-o", "json")
    wait_until(lambda: sim.under_way("InstallHostPatchV2_Task") == 3, process,
               "the hosts' installs held by the simulator", poll=0.02)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert [h["install"] for h in json.loads(stdout)["hosts"]] == ["installed"] * 3
    assert not list(root.glob("vmwctl-vib-*"))  # the uploaded copy is gone
    again = sim.run("firewall", "vib", "install", vib, "--yes", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert not list(root.glob("vmwctl-vib-*"))


@pytest.mark.lab
@pytest.mark.parametrize("signum, code, message", SIGNALS)
def test_signal_during_evict_stops_between_datastores(simulator, lab_env, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      signum: int, code: int,
                                                      message: str) -> None:
    from vmwctl.cache.layout import LOCK_FOLDER

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    sim = simulator("-ds", "2", "-method-delay", "DeleteDatastoreFile_Task:1500")
    roots = [Path(sim.datastores[name]) for name in sorted(sim.datastores)][:2]
    image_id = str(uuid.uuid4())
    for root in roots:
        folder = root / CACHE / image_id
        folder.mkdir(parents=True)
        (folder / f"{image_id}.vmdk").write_text(f'RW 8 VMFS "{image_id}-flat.vmdk"\n')
        (folder / f"{image_id}-flat.vmdk").write_bytes(bytes(4096))
    process = start("--config", str(sim.config), "cache", "evict", image_id, "--yes",
                    "-o", "json")
    wait_until(lambda: any((root / CACHE / LOCK_FOLDER).exists() for root in roots), process,
               "the first datastore lock", poll=0.02)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert one_line(stderr) == message
    assert sorted(i["outcome"] for i in json.loads(stdout)["items"]) == ["deleted", "skipped"]
    assert sum((root / CACHE / image_id).exists() for root in roots) == 1
    assert not any((root / CACHE / LOCK_FOLDER).exists() for root in roots)
