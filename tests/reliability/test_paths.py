"""Path traversal and injection: names that never escape their folder, never reach a shell.

Covered elsewhere and not repeated: VMDK descriptor extents with '/', '\\', '..'
(tests/unit/test_inspect_fuzz.py::test_extents_outside_their_directory_are_never_safe),
ar members named 'etc/passwd' or '..' and tgz payload entries '../../etc/passwd' or
absolute (tests/unit/test_vib.py), YAML alias bombs (tests/unit/test_profiles.py),
--ruleset-id '../x' (tests/unit/test_vib.py::test_cli_build_and_inspect).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import run_vmwctl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from vibfiles import vmtar

from vmwctl.cache.layout import is_plain_name
from vmwctl.firewall.rules import firewall_xml
from vmwctl.firewall.vib import inspect_vib

SOURCE = Path(__file__).resolve().parents[2] / "vmwctl"
SHELLY = ["a;touch pwned", "$(touch pwned)", "`touch pwned`", "a|touch pwned",
          "a&&touch pwned", "a\ntouch pwned", "a'b\"c", "a b*", "-U", "--help",
          'json:{"file":{"driver":"file","filename":"other"}}', "nbd:127.0.0.1:9"]


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def nothing_pwned(*places: Path) -> None:
    for place in places:
        assert not [p for p in place.rglob("*") if p.name.startswith("pwned")], place


# ---------------------------------------------------------------- YAML is loaded safely


def test_the_source_loads_yaml_only_safely() -> None:
    unsafe = re.compile(r"yaml\.(load|load_all|full_load|full_load_all|unsafe_load\w*)\(|"
                        r"Loader\s*=|\b(Unsafe|Full)?Loader\)|yaml\.Loader\b|UnsafeLoader|"
                        r"FullLoader")
    found = [f"{path.relative_to(SOURCE.parent)}:{number}: {line.strip()}"
             for path in sorted(SOURCE.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if unsafe.search(line) and "SafeLoader" not in line]
    assert found == []


@pytest.mark.parametrize("tag", [
    "!!python/object:os.system {}",
    "!!python/object/apply:os.system ['touch pwned']",
    "!!python/object/new:subprocess.Popen [[touch, pwned]]",
    "!!python/name:os.system ''",
    "!!python/module:os ''",
    "!!python/tuple [a, b]",
])
@pytest.mark.parametrize("command", ["show", "validate", "list"])
def test_python_tags_in_a_profile_are_refused(isolated_environment: Path, tag: str,
                                              command: str) -> None:
    config = isolated_environment / "vmwctl.yaml"
    config.write_text(f"profiles:\n  p:\n    vmware:\n      host_ip: {tag}\n")
    config.chmod(0o600)
    line = one_error_line(run_vmwctl("profile", command))
    assert "YAML syntax error: could not determine a constructor for the tag" in line
    nothing_pwned(isolated_environment)


# ---------------------------------------------------------------- qemu-img gets file names only


def qcow2(path: Path) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "--", f"./{path.name}", "1M"],
                   cwd=path.parent, check=True)
    return path


@pytest.mark.parametrize("name", SHELLY)
@pytest.mark.parametrize("engine", ["native", "qemu"])
def test_convert_takes_names_literally(isolated_environment: Path, name: str,
                                       engine: str) -> None:
    """Shell metacharacters, option-like names ('-U') and qemu-img's pseudo-protocols
    ('json:', 'nbd:'): qemu-img reads the very file that was inspected, nothing else runs."""
    cwd = isolated_environment
    (cwd / "other").write_bytes(b"\xff" * (3 << 20))  # what 'json:' would have read
    source = qcow2(cwd / f"{name}.qcow2")
    dest = f"{name} out.vmdk"
    options = ["--engine", "qemu", "--disktype", "sparse"] if engine == "qemu" else []
    result = run_vmwctl("image", "convert", f"./{source.name}", f"./{dest}", *options,
                        "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["report"]["virtual_size"] == 1 << 20  # the qcow2's, not 'other'
    assert (cwd / dest).is_file()
    nothing_pwned(cwd)


def test_dry_run_shows_names_qemu_img_reads_as_files(isolated_environment: Path) -> None:
    source = qcow2(isolated_environment / "nbd:127.0.0.1:9")
    result = run_vmwctl("image", "convert", str(source.name), "out.vmdk", "--engine", "qemu",
                        "--disktype", "sparse", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert " ./nbd:127.0.0.1:9 out.vmdk" in result.stdout


# ---------------------------------------------------------------- VIBs


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=30), st.sampled_from([
    "5900;touch pwned", "$(touch pwned)", "5900\n6000", "5900-", "-5900", "1-99999", "0x1000",
    "5900,,", "٥٩٠٠", "5900-6000-7000", "1e3", " ", "5900 - 6000", "\x00"])))
@example("5900-6000")
def test_vib_build_ports_junk(isolated_environment: Path, ports: str) -> None:
    out = isolated_environment / "out"
    out.mkdir(exist_ok=True)
    for stale in out.iterdir():
        stale.unlink()
    result = run_vmwctl("firewall", "vib", "build", str(out), "--ports", ports)
    if result.exit_code == 0:
        assert [p.suffix for p in out.iterdir()] == [".vib"]
    else:
        one_error_line(result)
        assert list(out.iterdir()) == []
    nothing_pwned(isolated_environment)


@pytest.mark.parametrize("option", ["--name", "--vendor", "--version", "--ruleset-id"])
@pytest.mark.parametrize("value", ["../../x", "/etc/x", "a/b", "x\0y", "x\ny", "x;touch pwned",
                                   "..", "$(touch pwned)"])
def test_vib_build_names_never_leave_the_folder(isolated_environment: Path, option: str,
                                                value: str) -> None:
    out = isolated_environment / "out"
    out.mkdir()
    around = tree_of(isolated_environment.parent)
    result = run_vmwctl("firewall", "vib", "build", str(out), option, value)
    one_error_line(result)
    assert tree_of(isolated_environment.parent) == around


def vgz_vib(entry: str) -> bytes:
    payload = gzip.compress(vmtar((entry, firewall_xml("vnc", [(5900, 6000)]))), mtime=0)
    tar = gzip.decompress(payload)
    desc = (f'<vib><type>bootbank</type><name>t</name><version>1.0-1</version><vendor>v</vendor>'
            f'<acceptance-level>community</acceptance-level><payloads><payload name="vnc" '
            f'type="vgz" size="{len(payload)}"><checksum checksum-type="sha-256">'
            f'{hashlib.sha256(payload).hexdigest()}</checksum><checksum checksum-type="sha-1" '
            f'verify-process="gunzip">{hashlib.sha1(tar).hexdigest()}</checksum></payload>'
            f'</payloads></vib>').encode()
    out = b"!<arch>\n"
    for name, data in ((b"descriptor.xml", desc), (b"sig.pkcs7", b""), (b"vnc", payload)):
        out += (name.ljust(16) + b"0".ljust(32) + str(len(data)).encode().ljust(10) + b"`\n"
                + data + (b"\n" if len(data) % 2 else b""))
    return out


@pytest.mark.parametrize("entry", ["../../etc/vmware/firewall/vnc.xml", "/etc/shadow",
                                   "etc/vmware/firewall/../../../../x", "..", "../", "/",
                                   "//", ""])
def test_vmtar_entries_outside_the_root_are_refused(isolated_environment: Path,
                                                    entry: str) -> None:
    path = isolated_environment / "v.vib"
    path.write_bytes(vgz_vib(entry))
    report = inspect_vib(path)
    assert any("outside the host's root" in p for p in report.problems), report.problems
    result = run_vmwctl("firewall", "vib", "inspect", str(path))
    assert result.exit_code == 1 and "INVALID" in result.stdout
    assert "Traceback" not in result.stderr
    assert tree_of(isolated_environment) == ["v.vib"]
    good = isolated_environment / "good.vib"
    good.write_bytes(vgz_vib("etc/vmware/firewall/vnc.xml"))
    assert inspect_vib(good).valid


def test_image_inspect_refuses_an_extent_outside_its_folder(isolated_environment: Path) -> None:
    import vmdkfiles as vf

    path = isolated_environment / "d.vmdk"
    path.write_bytes(vf.sparse_with_descriptor(vf.descriptor("monolithicSparse",
                                                             extent='"../../etc/shadow"')))
    result = run_vmwctl("image", "inspect", str(path), "-o", "json")
    assert result.exit_code == 1 and result.json()["safe"] is False
    assert any("extent" in p for p in result.json()["problems"])


# ---------------------------------------------------------------- the image cache (lab)

DS = "LocalDS_0"
CACHE = "192.0.2.10_base"
BAD_IDS = ["../x", "..", "/", "a/b", "x\0y", "x\ny", "../" + str(uuid.uuid4()),
           str(uuid.uuid4()) + "/..", str(uuid.uuid4()) + "\n", "$(touch pwned)", "*"]


def tree_of(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.lab
@pytest.mark.parametrize("image", BAD_IDS)
def test_evict_with_a_hostile_image_reference_changes_nothing(simulator, lab_env,
                                                              isolated_environment: Path,
                                                              image: str) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    kept = root / CACHE / str(uuid.uuid4())
    kept.mkdir(parents=True)
    (kept / f"{kept.name}.vmdk").write_text("x")
    before = tree_of(root)
    result = sim.run("cache", "evict", image, "--yes")
    assert result.exit_code in (1, 2), (result.exit_code, result.stdout, result.stderr)
    one_error_line(result, result.exit_code)
    assert tree_of(root) == before
    nothing_pwned(root, isolated_environment)


@pytest.mark.lab
@pytest.mark.parametrize("image", BAD_IDS)
@pytest.mark.parametrize("command", [("cache", "seed"), ("image", "tag")])
def test_other_commands_with_a_hostile_image_reference(simulator, lab_env,
                                                       isolated_environment: Path, image: str,
                                                       command: tuple[str, ...]) -> None:
    sim = simulator()
    root = Path(sim.datastores[DS])
    before = tree_of(root)
    option = ["--dry-run"] if command[1] == "seed" else ["--ostype", "otherGuest"]
    result = sim.run(*command, image, *option)
    assert result.exit_code in (1, 2), (result.exit_code, result.stdout, result.stderr)
    assert "no image" in one_error_line(result, result.exit_code)
    assert tree_of(root) == before
    nothing_pwned(root, isolated_environment)


HOSTILE_FOLDERS = ["x;touch pwned", "$(touch pwned)", "`touch pwned`", "a\nb", "..x", "x..",
                   "%2e%2e", "a\\..\\b", " ", "-rf", "ts-2024-02-30-00-00-00", "\x1b[2J"]


@pytest.mark.lab
def test_cache_commands_with_hostile_folder_names(simulator, lab_env,
                                                  isolated_environment: Path) -> None:
    """Folders named to inject or traverse, aged for deletion: list shows them inside the
    cache folder, purge removes nothing outside it and runs nothing."""
    sim = simulator()
    root = Path(sim.datastores[DS])
    cache = root / CACHE
    for name in HOSTILE_FOLDERS:
        (cache / name).mkdir(parents=True)
        (cache / name / "f.vmdk").write_text("x")
    (root / "keep").mkdir()
    (root / "keep" / "canary").write_text("x")
    (root / f"{CACHE}-sibling").mkdir()
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).timestamp()
    for path in root.rglob("*"):
        os.utime(path, (stamp, stamp))

    listed = sim.run("cache", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    for row in listed.json()["images"]:
        assert row["path"].startswith(f"[{DS}] {CACHE}/"), row["path"]
        assert is_plain_name(row["path"].removeprefix(f"[{DS}] {CACHE}/"))  # vcsim: ESC -> U+FFFD

    purged = sim.run("cache", "purge", "--yes", "-o", "json")
    assert purged.exit_code in (0, 1), purged.stderr
    assert "Traceback" not in purged.stderr and "internal error" not in purged.stderr
    assert (root / "keep" / "canary").is_file() and (root / f"{CACHE}-sibling").is_dir()
    assert cache.is_dir()
    nothing_pwned(root, isolated_environment)


# ---------------------------------------------------------------- terminal injection

TITLE_ESCAPE = "\x1b]0;pwned\x07"  # would set the terminal's title
CLEAR_SCREEN = "\x9b2J"  # the 8-bit CSI: XML, hence vSphere names, cannot carry an ESC


def test_a_nova_conf_value_cannot_drive_the_terminal(vmwctl, isolated_environment: Path) -> None:
    conf = isolated_environment / "nova.conf"
    conf.write_text(f"[DEFAULT]\ncompute_driver = vmwareapi.{TITLE_ESCAPE}VMwareVCDriver\n"
                    "[vmware]\nhost_ip = 1.2.3.4\nhost_username = u\nhost_password = p\n"
                    "cluster_name = C\n")
    result = vmwctl("check", "nova-conf", "--offline", str(conf))
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
    assert "\\x1b]0;pwned\\x07" in result.stdout


@pytest.mark.lab
def test_vcenter_names_cannot_drive_the_terminal(simulator) -> None:
    """A cluster named with a control sequence, shown in a table and in a group of tables."""
    from pyVmomi import vim

    from vmwctl.vsphere.tasks import wait_for_task

    sim = simulator()
    vc = sim.connect()
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder,
                                                      [vim.ClusterComputeResource], True)
    cluster = view.view[0]
    wait_for_task(vc, cluster.Rename_Task(newName=f"C{CLEAR_SCREEN}"), what="renaming")
    for command in (["cluster", "list"], ["cluster", "inspect", f"C{CLEAR_SCREEN}"]):
        result = sim.run(*command)
        assert "\x9b" not in result.stdout + result.stderr, command
        assert "C\\x9b2J" in result.stdout, command
