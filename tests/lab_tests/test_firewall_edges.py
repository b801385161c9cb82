"""``firewall vib install`` over a VIB of the same id with other ports, against the
simulator (tests/lab/vcsim/software.go)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyVmomi import vim

pytestmark = pytest.mark.lab

HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
VIB_ID = "vmwctl_bootbank_vmwctl-vnc-firewall_1.0.0-1"


def vnc_rules(vc) -> dict[str, list[tuple[int, int]]]:
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder, [vim.HostSystem],
                                                      True)
    try:
        return {h.name: [(rule.port, rule.endPort or rule.port) for r in h.config.firewall.ruleset
                         if r.key == "vnc" for rule in r.rule]
                for h in view.view if h.name in HOSTS}
    finally:
        view.Destroy()


def build(sim, dest: Path, *args: str) -> Path:
    result = sim.run("firewall", "vib", "build", str(dest), "-o", "json", *args)
    assert result.exit_code == 0, result.stderr
    return Path(result.json()["path"])


def test_same_id_and_version_with_other_ports_is_named_not_passed_as_installed(
        simulator, tmp_path: Path) -> None:
    sim = simulator(scenario="fresh")
    first = build(sim, tmp_path / "first")
    assert sim.run("firewall", "vib", "install", str(first), "--yes").exit_code == 0
    assert vnc_rules(sim.connect()) == {name: [(5900, 6105)] for name in HOSTS}
    other = build(sim, tmp_path / "other", "--ports", "5900-6000")  # same id, other ports
    reason = (f"it has {VIB_ID} installed, with ruleset vnc opening inbound TCP 5900-6105, not "
              "ruleset vnc opening inbound TCP 5900-6000 as this VIB: ESXi skips a VIB whose "
              "name and version it has; rebuild with a higher --version")

    for extra in (["--dry-run"], []):
        result = sim.run("firewall", "vib", "install", str(other), *extra, "-o", "json")
        assert result.exit_code == 1, result.stderr
        assert [(h["host"], h["install"], h["reason"]) for h in result.json()["hosts"]] == [
            (name, "conflict", reason) for name in HOSTS]
        assert result.stderr.splitlines() == [f"Error: {name}: {reason}" for name in HOSTS]
    assert vnc_rules(sim.connect()) == {name: [(5900, 6105)] for name in HOSTS}

    table = sim.run("firewall", "vib", "install", str(other))
    assert table.exit_code == 1
    assert "conflict" in table.stdout

    same = sim.run("firewall", "vib", "install", str(first), "-o", "json")
    assert same.exit_code == 0, same.stderr
    assert {(h["install"], h["reason"]) for h in same.json()["hosts"]} == {
        ("already installed", "")}
