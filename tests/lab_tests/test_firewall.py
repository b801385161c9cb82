"""``firewall status | enable | disable | vib install`` against the simulator.

The fresh scenario's hosts have no ruleset opening the VNC ports; the lab's
simulator implements HostImageConfigManager, HostPatchManager and
RefreshFirewall (tests/lab/vcsim/software.go), so the install sequence runs
through the vSphere API as it would against ESXi, and each host's firewall is
read back afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyVmomi import vim

pytestmark = pytest.mark.lab

HOSTS = ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]


def hosts(vc) -> dict[str, vim.HostSystem]:
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder, [vim.HostSystem],
                                                      True)
    try:
        return {h.name: h for h in view.view if h.name in HOSTS}
    finally:
        view.Destroy()


def rulesets(host) -> dict[str, tuple[bool, list[tuple[int, int]]]]:
    return {r.key: (r.enabled, [(rule.port, rule.endPort or rule.port) for rule in r.rule])
            for r in host.config.firewall.ruleset}


def status(sim, *args: str) -> tuple[int, dict]:
    result = sim.run("firewall", "status", "-o", "json", *args)
    return result.exit_code, result.json()


def build(sim, tmp_path: Path, *args: str) -> Path:
    result = sim.run("firewall", "vib", "build", str(tmp_path), "-o", "json", *args)
    assert result.exit_code == 0, result.stderr
    return Path(result.json()["path"])


def test_status_finds_the_gap_on_every_host_of_a_fresh_cluster(simulator) -> None:
    sim = simulator(scenario="fresh")
    code, report = status(sim)
    assert code == 1
    assert report["ports"] == [[5900, 6105]]
    # ESXi's CIM servers open 5988 and 5989, inside the range
    assert [(h["host"], h["open"], h["gaps"]) for h in report["hosts"]] == [
        (name, False, [[5900, 5987], [5990, 6105]]) for name in HOSTS]
    assert set(report["hosts"][0]["rulesets"]) == {"CIMHttpServer", "CIMHttpsServer"}
    table = sim.run("firewall", "status")
    assert "GAPS" in table.stdout
    assert "FAIL: the first VNC port Nova hands out, 5900, is closed" in table.stdout
    assert report["verdict"]["status"] == "fail" and report["verdict"]["fit"] == 0

    healthy = simulator()
    code, report = status(healthy)
    assert code == 0
    assert all(h["open"] and "vnc" in h["rulesets"] for h in report["hosts"])


def test_status_options_and_esxi_7(simulator) -> None:
    sim = simulator("-firewall-ruleset", "part=5900-6000", scenario="fresh")
    code, report = status(sim, "--ports", "5900-6000,6101,6102,6105")
    assert code == 0  # a gap that Nova reaches only after 101 consoles: a warning
    assert report["hosts"][0]["gaps"] == [[6101, 6101], [6102, 6102], [6105, 6105]]
    assert report["hosts"][0]["rulesets"]["part"] == [[5900, 6000]]
    assert (report["verdict"]["status"], report["verdict"]["fit"]) == ("warn", 101)
    code, report = status(sim, "--ports", "5900-6000")
    assert (code, report["verdict"]["status"]) == (0, "pass")
    code, report = status(sim, "--ports", "5899-6000")
    assert (code, report["verdict"]["status"], report["verdict"]["next_closed"]) == (
        1, "fail", 5899)
    bad = sim.run("firewall", "status", "--ports", "6000-5900")
    assert bad.exit_code == 2 and "begins after it ends" in bad.stderr

    seven = simulator("-host-version", "7.0.3", scenario="fresh")
    code, report = status(seven)
    assert code == 0
    assert all(h["no_vnc_server"] for h in report["hosts"])
    assert "no VNC server (ESXi 7.0+)" in seven.run("firewall", "status").stdout


def test_enable_and_disable_a_ruleset_that_covers_the_range(simulator) -> None:
    sim = simulator(scenario="fresh")
    vc = sim.connect()
    # gdbserver (inbound TCP 1000-9999 and 50000-50999) is on every ESXi host, disabled
    assert all(rulesets(h)["gdbserver"][0] is False for h in hosts(vc).values())

    dry = sim.run("firewall", "enable", "--ruleset", "gdbserver", "--dry-run", "-o", "json")
    assert dry.exit_code == 0
    assert {h["outcome"] for h in dry.json()["hosts"]} == {"planned"}
    assert all(rulesets(h)["gdbserver"][0] is False for h in hosts(vc).values())

    done = sim.run("firewall", "enable", "--ruleset", "gdbserver", "-o", "json")
    assert done.exit_code == 0, done.stderr
    assert [(h["host"], h["before"], h["outcome"]) for h in done.json()["hosts"]] == [
        (name, "disabled", "changed") for name in HOSTS]
    assert all(rulesets(h)["gdbserver"][0] is True for h in hosts(vc).values())
    code, report = status(sim)
    assert code == 0 and all("gdbserver" in h["rulesets"] for h in report["hosts"])

    again = sim.run("firewall", "enable", "--ruleset", "gdbserver", "-o", "json")
    assert {h["outcome"] for h in again.json()["hosts"]} == {"unchanged"}

    off = sim.run("firewall", "disable", "--ruleset", "gdbserver")
    assert off.exit_code == 0 and "DC0_C0_H1: disabled" in off.stdout
    assert status(sim)[0] == 1

    unknown = sim.run("firewall", "enable", "--ruleset", "vncx")
    assert unknown.exit_code == 2
    assert "no host of cluster 'DC0_C0' has a ruleset 'vncx'" in unknown.stderr
    assert "sshServer" in unknown.stderr


def test_vib_install_opens_the_ports_on_every_host(simulator, tmp_path: Path) -> None:
    sim = simulator(scenario="fresh")
    vc = sim.connect()
    vib = build(sim, tmp_path)
    root = Path(sim.datastores["LocalDS_0"])
    before = sorted(p.name for p in root.iterdir())

    dry = sim.run("firewall", "vib", "install", str(vib), "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    plan = dry.json()
    assert [(h["host"], h["acceptance_before"], h["acceptance_after"], h["install"])
            for h in plan["hosts"]] == [(name, "partner", "community", "planned")
                                        for name in HOSTS]
    assert all("vnc" not in rulesets(h) for h in hosts(vc).values())

    refused = sim.run("firewall", "vib", "install", str(vib))  # no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    managers = [h.configManager.imageConfigManager for h in hosts(vc).values()]
    assert {m.HostImageConfigGetAcceptance() for m in managers} == {"partner"}

    result = sim.run("firewall", "vib", "install", str(vib), "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["host_path"].startswith("/vmfs/volumes/")
    assert [(h["host"], h["install"], h["rulesets_enabled"]) for h in report["hosts"]] == [
        (name, "installed", ["vnc"]) for name in HOSTS]
    assert not report["status"]["hosts"] or all(h["open"] for h in report["status"]["hosts"])
    for host in hosts(vc).values():
        assert rulesets(host)["vnc"] == (True, [(5900, 6105)])
        assert host.configManager.imageConfigManager.HostImageConfigGetAcceptance() == \
            "community"
        packages = host.configManager.imageConfigManager.FetchSoftwarePackages()
        assert ("vmwctl-vnc-firewall", "1.0.0-1") in {(p.name, p.version) for p in packages}
    assert status(sim)[0] == 0
    assert sorted(p.name for p in root.iterdir()) == before  # the uploaded copy is gone

    again = sim.run("firewall", "vib", "install", str(vib), "-o", "json")
    assert again.exit_code == 0, again.stderr  # nothing to lower: no question
    assert {h["install"] for h in again.json()["hosts"]} == {"already installed"}


def test_one_host_failing_does_not_stop_the_others(simulator, tmp_path: Path) -> None:
    sim = simulator("-secure-boot-host", "DC0_C0_H1", "-disconnect-host", "DC0_C0_H2",
                    scenario="fresh")
    vib = build(sim, tmp_path)
    result = sim.run("firewall", "vib", "install", str(vib), "--yes", "-o", "json")
    assert result.exit_code == 1
    rows = {h["host"]: h for h in result.json()["hosts"]}
    assert rows["DC0_C0_H0"]["install"] == "installed"
    assert rows["DC0_C0_H1"]["install"] == "failed"
    assert "Secure Boot" in rows["DC0_C0_H1"]["reason"]
    assert rows["DC0_C0_H2"]["install"] == "skipped"
    assert "DC0_C0_H1: " in result.stderr
    status_rows = {h["host"]: h for h in result.json()["status"]["hosts"]}
    assert status_rows["DC0_C0_H0"]["open"] and not status_rows["DC0_C0_H1"]["open"]


def test_vib_install_refuses_an_invalid_vib(simulator, tmp_path: Path) -> None:
    sim = simulator(scenario="fresh")
    vib = build(sim, tmp_path)
    data = bytearray(vib.read_bytes())
    data[-10] ^= 0xFF  # inside the payload
    broken = tmp_path / "broken.vib"
    broken.write_bytes(bytes(data))
    result = sim.run("firewall", "vib", "install", str(broken), "--yes")
    assert result.exit_code == 2 and "is not a valid VIB" in result.stderr
    assert all("vnc" not in rulesets(h) for h in hosts(sim.connect()).values())
