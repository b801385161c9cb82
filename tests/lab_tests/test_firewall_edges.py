"""``firewall vib install`` over a VIB of the same id with other ports, and what every
``firewall`` --dry-run says, against the simulator (tests/lab/vcsim/software.go)."""

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


def test_vib_install_dry_run_says_would_and_changes_nothing(simulator,
                                                            tmp_path: Path) -> None:
    sim = simulator(scenario="fresh")
    vib = build(sim, tmp_path)
    dry = sim.run("firewall", "vib", "install", str(vib), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    lines = dry.stdout.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    title = " ".join(line.strip() for line in lines[:top])  # wrapped at the table's width
    assert f"{VIB_ID} on cluster DC0_C0" in title and "(dry run: nothing changed)" in title
    for name in HOSTS:
        row = next(line for line in lines if name in line)
        assert "would install" in row and "partner -> community" in row
    assert any(line.startswith("the hosts would read it from /vmfs/volumes/")
               for line in lines)
    document = sim.run("firewall", "vib", "install", str(vib), "--dry-run", "-o", "json").json()
    assert document["dry_run"] is True
    assert {h["install"] for h in document["hosts"]} == {"planned"}
    assert vnc_rules(sim.connect()) == {name: [] for name in HOSTS}


@pytest.mark.parametrize("verb", ["enable", "disable"])
def test_enable_disable_dry_run_says_would(simulator, verb: str) -> None:
    sim = simulator("-firewall-ruleset", "part=5900-6000", scenario="fresh")
    if verb == "disable":
        assert sim.run("firewall", "enable", "--ruleset", "gdbserver").exit_code == 0
    dry = sim.run("firewall", verb, "--ruleset", "gdbserver", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "ruleset gdbserver on cluster DC0_C0 (dry run: nothing changed):",
        *[f"  {name}: would be {verb}d" for name in HOSTS]]
    document = sim.run("firewall", verb, "--ruleset", "gdbserver", "--dry-run", "-o",
                       "json").json()
    assert document["dry_run"] is True
    assert {h["outcome"] for h in document["hosts"]} == {"planned"}
    real = sim.run("firewall", verb, "--ruleset", "gdbserver")
    assert real.stdout.splitlines()[0] == "ruleset gdbserver on cluster DC0_C0:"
