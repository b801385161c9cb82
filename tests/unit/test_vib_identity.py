"""``firewall vib build``: one VIB id and version, one content.

ESXi skips a VIB whose name and version it lists already, so a second build
of the same id with other ports would never reach a host that has the
first. Such a build is refused unless --version moves it (or --force).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers import run_vmwctl

VIB = "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1.vib"


def build(dest: Path, *args: str):
    return run_vmwctl("firewall", "vib", "build", str(dest), *args, "-o", "json")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_other_ports_under_the_same_id_and_version_are_refused(tmp_path: Path) -> None:
    vibs = tmp_path / "vibs"
    assert build(vibs).exit_code == 0
    first = digest(vibs / VIB)

    refused = run_vmwctl("firewall", "vib", "build", str(vibs), "--ports", "5900-6000")
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"Error: {vibs / VIB} holds vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1 with ruleset "
        "vnc opening inbound TCP 5900-6105, not ruleset vnc opening inbound TCP 5900-6000: a "
        "host that has it installed "
        "would never take this one; raise --version (e.g. --version 1.0.0-2), or pass "
        "--force to replace the file anyway\n")
    assert digest(vibs / VIB) == first
    assert sorted(p.name for p in vibs.iterdir()) == [VIB]  # nothing half-written

    moved = build(vibs, "--ports", "5900-6000", "--version", "1.0.0-2")
    assert moved.exit_code == 0, moved.stderr
    assert Path(moved.json()["path"]).name == "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-2.vib"
    assert digest(vibs / VIB) == first

    forced = build(vibs, "--ports", "5900-6000", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert forced.json()["sha256"] == digest(vibs / VIB) != first


def test_an_identical_rebuild_stays_allowed_and_byte_identical(tmp_path: Path) -> None:
    assert build(tmp_path, "--ports", "5900-5999").exit_code == 0
    first = digest(tmp_path / VIB)
    again = build(tmp_path, "--ports", "5900-5999")
    assert again.exit_code == 0, again.stderr
    assert again.json()["sha256"] == digest(tmp_path / VIB) == first


def test_the_same_id_under_another_file_name_is_found(tmp_path: Path) -> None:
    """DEST may name the file: a VIB of the same id beside it counts too."""
    assert build(tmp_path / "vnc.vib").exit_code == 0
    refused = run_vmwctl("firewall", "vib", "build", str(tmp_path / "narrow.vib"),
                         "--ruleset-id", "vnc2")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: {tmp_path / 'vnc.vib'} holds "
                                     "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1 with ruleset "
                                     "vnc opening inbound TCP 5900-6105, not ruleset vnc2 "
                                     "opening inbound TCP 5900-6105")
    assert not (tmp_path / "narrow.vib").exists()
    other = build(tmp_path / "other.vib", "--name", "other-firewall", "--ports", "6000")
    assert other.exit_code == 0, other.stderr  # another id: no conflict


def test_a_file_that_is_not_a_vib_is_replaced_as_before(tmp_path: Path) -> None:
    (tmp_path / VIB).write_bytes(b"not a vib")
    (tmp_path / "junk.vib").write_bytes(b"!<arch>\nbroken")
    result = build(tmp_path)
    assert result.exit_code == 0, result.stderr
    assert digest(tmp_path / VIB) == result.json()["sha256"]
