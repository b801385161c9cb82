"""Which heavy modules each command that talks to the image service imports at start-up.

Each command runs in a fresh interpreter against the lab (its simulator and
Glance) and lists the modules it imported by its end. The table this makes is
docs/architecture.md's (kept in sync: the test prints the table it found);
beside it, the rule it shows: the image service needs openstacksdk's config
loader and keystoneauth only, and the rest of the SDK (``openstack.connection``
and a proxy for every OpenStack service) is imported by the commands that call
the compute API alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_profile
from labimages import raw_disk, upload, vmdk

from vmwctl.images.glance import open_image_service
from vmwctl.profile.load import load_profile

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- start-up imports: written by tests/lab_tests/test_startup_imports.py -->"
END = "<!-- end of start-up imports -->"
# module -> its column: vCenter's client, keystoneauth, the SDK's config loader, the rest of
# the SDK, the table renderer
MODULES = {"pyVmomi": "pyVmomi", "keystoneauth1": "keystoneauth1",
           "openstack.config": "openstack.config",
           "openstack.connection": "openstack.connection (the whole SDK)", "rich": "rich"}
IMAGE = "startup-imports"
# the commands, in the table's order; {image}, {disk}, {flavor} filled in; "admin": run with
# the lab's admin cloud (its catalog has the compute API)
COMMANDS: list[tuple[str, tuple[str, ...], bool]] = [
    ("image upload", ("image", "upload", "{disk}", "--name", IMAGE, "--ostype", "otherGuest"),
     False),
    ("image list", ("image", "list"), False),
    ("image tag", ("image", "tag", "{image}", "--ostype", "otherGuest"), False),
    ("cache seed", ("cache", "seed", "{image}"), False),
    ("cache list", ("cache", "list"), False),
    ("cache purge", ("cache", "purge", "--dry-run"), False),
    ("cache evict", ("cache", "evict", f"{IMAGE}-seeded", "--dry-run"), False),  # by name
    ("vm spawn", ("vm", "spawn", "{image}", "--name", "imports", "--no-network",
                  "--no-power-on"), False),
    ("vm list", ("vm", "list"), False),
    ("image export", ("image", "export", "vmwctl-imports", "--name", f"{IMAGE}-export",
                      "--dry-run"), False),
    ("check prereqs", ("check", "prereqs"), False),
    ("cluster fit --flavors-from api", ("cluster", "fit", "startup-imports-none",
                                        "--flavors-from", "api"), True),
]
WRAPPER = ("import json, sys\n"
           "from vmwctl.cli.root import main\n"
           "out = sys.argv.pop(1)\n"
           "sys.argv[0] = 'vmwctl'\n"
           "try:\n"
           "    main()\n"
           "except SystemExit as exc:\n"
           "    code = exc.code\n"
           "with open(out, 'w') as handle:\n"
           "    json.dump(sorted(sys.modules), handle)\n"
           "sys.exit(code)\n")


def imported(argv: list[str], env: dict[str, str], dump: Path) -> tuple[int, set[str], str]:
    """Run ``vmwctl argv`` in a fresh interpreter: its exit status, the modules it imported
    by its end, its stderr."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(dump), *argv], env=env,
                          capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    return done.returncode, set(json.loads(dump.read_text())), done.stderr


def table(found: dict[str, set[str]]) -> str:
    header = ["command", *MODULES.values()]
    rows = [[f"`vmwctl {name}`", *("yes" if module in modules else "-" for module in MODULES)]
            for name, modules in found.items()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def documented() -> str:
    text = ARCHITECTURE.read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.DOTALL)
    assert match, f"docs/architecture.md has no block between {BEGIN!r} and {END!r}"
    return match.group(1).strip()


def test_each_glance_command_imports_the_sdk_s_config_loader_only(
        simulator, lab, admin_cloud: str, tmp_path: Path) -> None:
    sim = simulator()
    disk = vmdk(raw_disk(tmp_path, 1 << 20), "streamOptimized")
    image_id = upload(sim.config, disk, f"{IMAGE}-seeded", vmware_disktype="streamOptimized",
                      vmware_adaptertype="lsiLogic")
    admin = write_profile(sim, tmp_path / "admin.yaml", cloud=admin_cloud)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VMWCTL_"))}
    base |= {"VMWCTL_CONFIG": str(sim.config), "OS_CLIENT_CONFIG_FILE": lab.clouds_file,
             "OS_CLIENT_SECURE_FILE": lab.secure_file, "COLUMNS": "200"}
    found: dict[str, set[str]] = {}
    try:
        for name, args, needs_admin in COMMANDS:
            argv = [a.format(image=image_id, disk=disk) for a in args]
            env = base | ({"VMWCTL_CONFIG": str(admin)} if needs_admin else {})
            code, modules, stderr = imported(argv, env, tmp_path / "modules.json")
            expected = (2,) if needs_admin else (0, 1) if name == "check prereqs" else (0,)
            assert code in expected, (name, code, stderr)
            found[name] = modules
    finally:
        service = open_image_service(load_profile(str(sim.config), "sim", os.environ),
                                     os.environ)
        for image in [*service.list(name=IMAGE), {"id": image_id}]:
            service.delete(image["id"])
        service.close()
    for name, modules in found.items():
        whole = "openstack.connection" in modules
        assert whole == name.endswith("--flavors-from api"), (name, sorted(
            m for m in modules if m.startswith("openstack.") and m.count(".") == 1))
        # no service proxy of the SDK: Glance is reached through a keystoneauth adapter
        assert ("openstack.image" in modules) == whole, name
        if "openstack.config" in modules:
            assert "keystoneauth1" in modules, name
    for name in ("image upload", "image list", "cache seed", "cache evict", "vm spawn"):
        assert "openstack.config" in found[name], name  # each looked an image up in Glance
    assert "pyVmomi" not in found["image list"] and "pyVmomi" in found["vm spawn"]
    measured = table(found)
    assert measured == documented(), f"docs/architecture.md should read:\n{measured}"
