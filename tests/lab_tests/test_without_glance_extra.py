"""An installation without the `glance` extra (no openstacksdk): the commands that need
Glance say how to add it (exit 2), the others work, cache list shows ids without names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from labimages import raw_disk, vmdk

pytestmark = pytest.mark.lab

# vmwctl with openstacksdk made unimportable, as in an installation without the extra.
WITHOUT_OPENSTACK = ("import sys; sys.modules['openstack'] = None; sys.argv[0] = 'vmwctl'; "
                     "from vmwctl.cli.root import main; main()")
HINT = "pip install 'vmwctl[glance]'"


def run(sim, lab, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VMWCTL_CONFIG": str(sim.config),
           "OS_CLIENT_CONFIG_FILE": lab.clouds_file}
    return subprocess.run([sys.executable, "-c", WITHOUT_OPENSTACK, *args], env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_glance_commands_name_the_extra(simulator, lab, tmp_path: Path) -> None:
    sim = simulator()
    disk = vmdk(raw_disk(tmp_path), "streamOptimized")
    for args in (("image", "list"),
                 ("image", "upload", str(disk), "--name", "x", "--ostype", "otherGuest"),
                 ("image", "tag", "x", "--ostype", "otherGuest"), ("cache", "seed", "x"),
                 ("vm", "spawn", "x")):
        result = run(sim, lab, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and HINT in result.stderr, (args, result.stderr)
    as_json = run(sim, lab, "image", "list", "-o", "json")
    error = json.loads(as_json.stdout)["error"]
    assert error["exit_code"] == 2 and HINT in error["message"]


def test_other_commands_work_without_it(simulator, lab, tmp_path: Path) -> None:
    sim = simulator()
    datastore = Path(sim.datastores["LocalDS_0"])
    cached = datastore / "192.0.2.10_base" / "0f3a7c1e-6a57-4f6b-9c43-2b1d2f1e9a10"
    cached.mkdir(parents=True)
    (cached / f"{cached.name}.vmdk").write_text("descriptor")
    listing = run(sim, lab, "cache", "list", "-o", "json")
    assert listing.returncode == 0, listing.stderr
    assert HINT in listing.stderr  # the warning: names are not shown
    assert [i["image_id"] for i in json.loads(listing.stdout)["images"]] == [cached.name]
    disk = raw_disk(tmp_path)
    for args in (("check", "prereqs"), ("cluster", "inspect"), ("firewall", "status"),
                 ("image", "convert", str(disk), str(tmp_path / "out.vmdk")),
                 ("image", "inspect", str(tmp_path / "out.vmdk")), ("profile", "show")):
        result = run(sim, lab, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert HINT not in result.stderr
