"""Helpers for tests: running vmwctl and writing config files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import labctl
import pytest
import yaml
from click.testing import CliRunner
from sessionwatch import no_leaked_sessions

from vmwctl.cli.root import cli
from vmwctl.common import redact


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_vmwctl(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run vmwctl in-process through click's CliRunner, as a user would from a shell: like a
    new process, the run knows no secret that an earlier one registered for redaction. The
    test fails if the run leaves a vCenter session logged in (tests/sessionwatch.py)."""
    redact.forget_all()
    with no_leaked_sessions(args):
        result = CliRunner().invoke(cli, list(args), env=env, input=input,
                                    catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str, env: dict[str, str] | None = None,
                input: str | None = None) -> Result:
    """Run ``python -m vmwctl`` as its own process: what in-process runs cannot show (a
    third-party logger's warning, a Python warning, the state of a fresh interpreter)
    shows here. ``env`` is added to the test's environment. The test fails if the run
    leaves a vCenter session logged in (tests/sessionwatch.py)."""
    with no_leaked_sessions(args):
        done = subprocess.run([sys.executable, "-m", "vmwctl", *args], capture_output=True,
                              text=True, input=input, env={**os.environ, **(env or {})},
                              timeout=300, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def leaf_commands() -> dict[str, click.Command]:
    """Every leaf command of the CLI by its path ("cache purge"), walking the lazy groups."""
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))
            elif command is not None:
                found[" ".join((*prefix, name))] = command

    walk(cli, ())
    return found


def cluster_commands() -> dict[str, click.Command]:
    """The commands that take a cluster (the resolver's --cluster or NAME)."""
    from vmwctl.cli.options import ClusterArgument, ClusterOption

    return {path: command for path, command in leaf_commands().items()
            if any(isinstance(p, ClusterOption | ClusterArgument) for p in command.params)}


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def write_profile(sim, path: Path, *, cloud: str | None = None, port: int | None = None,
                  name: str | None = None, **vmware: object) -> Path:
    """The simulator's profile, changed; under ``name`` (the default profile) if given."""
    config = yaml.safe_load(Path(sim.config).read_text())
    profile = config["profiles"]["sim"]
    if name:
        config.update(default_profile=name, profiles={name: profile})
    if cloud:
        profile["openstack"]["cloud"] = cloud
    if port:
        profile["vmware"]["host_port"] = port
    profile["vmware"].update(vmware)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def write_fleet_nova_conf(path: Path, port: int, lab: Any) -> Path:
    """The nova.conf of a compute service on the lab simulator at ``port`` (zone az-b)."""
    path.write_text(
        "[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\nmy_ip = 10.0.0.7\n"
        "default_availability_zone = az-b\n[vmware]\nhost_ip = 127.0.0.1\n"
        f"host_port = {port}\nhost_username = {lab.username}\n"
        f"host_password = {lab.password}\ncluster_name = DC0_C0\nca_file = {lab.ca_file}\n")
    path.chmod(0o600)
    return path


def glance_profile(lab: Any, path: Path, cloud: str | None = None) -> Path:
    """A profile 'sim' of the lab's for its Glance, through cloud ``cloud`` (default the
    lab's own): for commands that need only the image service."""
    profile = yaml.safe_load(Path(lab.config_file).read_text())["profiles"]["lab"]
    profile["openstack"]["cloud"] = cloud or lab.cloud
    path.write_text(yaml.safe_dump({"profiles": {"sim": profile}}))
    path.chmod(0o600)
    return path


def images_named(config: Path, name: str) -> list[dict]:
    """The images called ``name`` in the Glance of the profile 'sim' of ``config``."""
    from vmwctl.images.glance import open_image_service
    from vmwctl.profile.load import load_profile

    service = open_image_service(load_profile(str(config), "sim", os.environ), os.environ)
    return service.list(name=name)


def write_clouds(tmp_path: Path, name: str, url: str) -> Path:
    """A clouds.yaml with the lab's clouds and one more, ``name``, at ``url``."""
    clouds = json.loads(Path(os.environ["OS_CLIENT_CONFIG_FILE"]).read_text())
    clouds["clouds"][name] = labctl.glance_cloud(url)
    path = tmp_path / "clouds.yaml"
    path.write_text(json.dumps(clouds))
    return path


def vm_names(vc: Any) -> set[str]:
    """The names of every VM in the vCenter, read through a ContainerView."""
    from pyVmomi import vim

    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.VirtualMachine], True)
    try:
        return {vm.name for vm in view.view}
    finally:
        view.Destroy()


def glance_clouds(path: Path, name: str, url: str) -> Path:
    """A clouds.yaml with one cloud, ``name``, at ``url`` (a lab Glance, no Keystone)."""
    path.write_text(json.dumps({"clouds": {name: labctl.glance_cloud(url)}}))
    return path


def delete_images(clouds_file: Path | str, cloud: str) -> None:
    """Remove every image of a Glance (a private one: see the private_glance fixture)."""
    import openstack
    from openstack.config import OpenStackConfig

    region = OpenStackConfig(config_files=[str(clouds_file)]).get_one(cloud)
    proxy = openstack.connection.Connection(config=region).image
    for image in proxy.get("/images?limit=1000").json()["images"]:
        proxy.delete(f"/images/{image['id']}")


def not_disk_files(directory: Path) -> dict[str, Path]:
    """Files that are no disk image, by kind: 12 bytes of text, an empty file, a gzip."""
    import gzip

    files = {"text": directory / "notes.txt", "empty": directory / "empty.img",
             "gzip": directory / "disk.raw.gz"}
    files["text"].write_text("hello world\n")
    files["empty"].write_bytes(b"")
    files["gzip"].write_bytes(gzip.compress(bytes(1 << 20)))
    return files


def wait_until(condition: Callable[[], object], process: subprocess.Popen | None = None,
               what: str = "the moment", timeout: float = 60.0, poll: float = 0.01) -> object:
    """Poll ``condition`` until it holds and return its value; fail if ``process`` (vmwctl,
    when given) ended first or the time ran out (not a timing assertion: a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"vmwctl ended ({process.returncode}) before {what}: {stderr}{stdout}")
        time.sleep(poll)
    output = ""
    if process is not None:
        process.kill()
        output = "".join(reversed(process.communicate()))
    pytest.fail(f"no {what} within {timeout} s: {output}")


def refused_simulator_error(lab: Any, tmp_path: Path, flags: list[str]) -> str:
    """Start the lab's simulator with ``flags`` it must refuse: it exits without ever being
    ready, with one line on stderr, which is returned."""
    import labctl

    lab_dir = Path(lab.dir)
    done = subprocess.run(
        [str(labctl.build_vcsim()), "-listen", "127.0.0.1:0",
         "-tlscert", str(lab_dir / "server.pem"), "-tlskey", str(lab_dir / "server.key"),
         "-username", labctl.LAB_USER, "-password", lab.password, *flags],
        capture_output=True, text=True, timeout=120, env={"TMPDIR": str(tmp_path)}, check=False)
    assert done.returncode != 0
    assert done.stdout == ""  # never ready
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def command_lines() -> list[str]:
    """Every process's command line as ps shows it (arguments joined by spaces), for tests
    that no secret of the lab's is on one; processes gone meanwhile are left out."""
    lines = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            lines.append((proc / "cmdline").read_bytes().decode(errors="replace")
                         .replace("\0", " "))
        except OSError:
            continue
    return lines


def child_processes(name: str) -> list[int]:
    """The processes named ``name`` whose parent is this test process (e.g. qemu-nbd, none
    once vmwctl returns)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        end = stat.rindex(")")
        if stat[stat.index("(") + 1:end] == name and int(stat[end + 2:].split()[1]) \
                == os.getpid():
            found.append(int(entry.name))
    return found
