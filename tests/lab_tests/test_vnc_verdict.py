"""One VNC verdict: check prereqs, check nova-conf and firewall status agree on the same lab.

The range is the one Nova hands out (vnc_port .. vnc_port + vnc_port_total - 1,
5900-6105 here in the profile and in the nova.conf alike); the ports VMs hold
are set as Nova sets them (extraConfig RemoteDisplay.vnc.port).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyVmomi import vim

from vmwctl.vsphere.inventory import collect
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

NOVA_CONF = """\
[DEFAULT]
compute_driver = vmwareapi.VMwareVCDriver
reserved_host_memory_mb = 0
[vmware]
host_ip = 127.0.0.1
host_username = u
host_password = p
cluster_name = DC0_C0
vnc_port = 5900
vnc_port_total = 206
"""


def hold_ports(sim, *ports: int) -> None:
    """Give the simulator's VMs VNC ports, one each, as Nova's spawn does."""
    vc = sim.connect()
    vms = sorted((r for r in collect(vc, {vim.VirtualMachine: ["name"]})),
                 key=lambda r: r.get("name"))
    assert len(vms) >= len(ports)
    for record, port in zip(vms, ports, strict=False):
        spec = vim.vm.ConfigSpec(extraConfig=[
            vim.option.OptionValue(key="RemoteDisplay.vnc.enabled", value="true"),
            vim.option.OptionValue(key="RemoteDisplay.vnc.port", value=str(port))])
        wait_for_task(vc, record.ref.ReconfigVM_Task(spec=spec), what="reconfigure")


def verdicts(sim, tmp_path: Path) -> dict[str, tuple[int, dict]]:
    """What each of the three commands says, with its exit status."""
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_CONF)
    prereqs = sim.run("check", "prereqs", "--only", "vnc-firewall", "-o", "json")
    nova = sim.run("check", "nova-conf", str(conf), "-o", "json")
    firewall = sim.run("firewall", "status", "-o", "json")
    for result in (prereqs, nova, firewall):
        assert result.exit_code in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
    by_id = {c["id"]: c for c in prereqs.json()["checks"] + nova.json()["checks"]}
    return {"prereqs": (prereqs.exit_code, by_id["vnc-firewall"]),
            "nova-conf": (nova.exit_code, by_id["nova-conf.vnc-ports"]),
            "firewall": (firewall.exit_code, firewall.json()["verdict"])}


def assert_one_verdict(found: dict[str, tuple[int, dict]], status: str) -> dict:
    """The three say ``status`` with the same detail and remedy; firewall status exits 1
    exactly on fail. Returns the firewall verdict (it has the figures)."""
    for _, verdict in found.values():
        assert verdict["status"] == status, found
    details = {(v["detail"], v["remedy"]) for _, v in found.values()}
    assert len(details) == 1, details
    for command in ("prereqs", "firewall"):  # check nova-conf has other checks besides
        assert found[command][0] == (1 if status == "fail" else 0)
    return found["firewall"][1]


def test_the_guides_vib_range_passes_everywhere(simulator, tmp_path: Path) -> None:
    sim = simulator()  # the healthy scenario: a vnc ruleset opening 5900-6105
    hold_ports(sim, 5900, 7000)
    verdict = assert_one_verdict(verdicts(sim, tmp_path), "pass")
    assert (verdict["held"], verdict["fit"], verdict["closed"]) == (1, 205, [])
    assert verdict["detail"] == ("VNC ports 5900-6105 open on all 3 hosts (rulesets "
                                 "CIMHttpServer, CIMHttpsServer, vnc); 1 VM of the vCenter "
                                 "holds a port, 205 free")
    table = sim.run("firewall", "status")
    assert "PASS: VNC ports 5900-6105 open on all 3 hosts" in table.stdout


def test_a_partly_open_range_warns_with_the_consoles_that_fit(simulator,
                                                             tmp_path: Path) -> None:
    # a real host's partial ruleset; ESXi's CIM servers open 5988 and 5989 besides
    sim = simulator("-firewall-ruleset", "vnc=5900-6000", scenario="fresh")
    hold_ports(sim, 5900, 5950)
    verdict = assert_one_verdict(verdicts(sim, tmp_path), "warn")
    assert (verdict["held"], verdict["fit"], verdict["next_closed"]) == (2, 99, 6001)
    assert verdict["closed"] == [[6001, 6105]]
    assert verdict["detail"] == (
        "only part of VNC ports 5900-6105 is open (DC0_C0_H0 leaves 6001-6105 closed; DC0_C0_H1 "
        "leaves 6001-6105 closed; DC0_C0_H2 leaves 6001-6105 closed): 99 more consoles fit "
        "before Nova hands out port 6001, which is closed (2 VMs of the vCenter hold a port of "
        "the range)")
    assert verdict["remedy"].startswith(
        "set [vmware] vnc_port_total = 101 in nova.conf and the profile, so that Nova hands out "
        "only the open ports, or install the VNC firewall VIB on every host ('vmwctl firewall "
        "vib build --ports 5900-6105'")
    table = sim.run("firewall", "status")
    assert table.exit_code == 0
    assert "WARN: only part of VNC ports 5900-6105 is open" in table.stdout
    assert "every checked host" not in table.stdout


def test_a_used_up_open_part_fails(simulator, tmp_path: Path) -> None:
    sim = simulator("-firewall-ruleset", "vnc=5900-5901", scenario="fresh")
    hold_ports(sim, 5900, 5901)
    verdict = assert_one_verdict(verdicts(sim, tmp_path), "fail")
    assert (verdict["held"], verdict["fit"], verdict["next_closed"]) == (2, 0, 5902)
    assert verdict["detail"].startswith(
        "the next VNC port Nova hands out, 5902, is closed: the open ports before it are used "
        "up (2 VMs of the vCenter hold a port of the range); DC0_C0_H0 leaves 5902-5987, "
        "5990-6105 closed")
    assert "vnc_port_total" not in verdict["remedy"]
    assert sim.run("firewall", "status").exit_code == 1


def test_esxi_7_hosts_point_to_the_mks_console(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3")
    verdict = assert_one_verdict(verdicts(sim, tmp_path), "warn")
    assert verdict["no_vnc_server"] == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
    assert verdict["detail"] == ("no VNC server on 3 hosts (DC0_C0_H0, DC0_C0_H1, DC0_C0_H2): "
                                 "ESXi 7.0 and later have none, Nova's VNC consoles cannot "
                                 "connect")
    assert "MKS console" in verdict["remedy"]


def test_the_held_ports_cost_no_request_of_their_own(simulator) -> None:
    """Nova reads every VM's port vCenter-wide; vmwctl has them from the snapshot's page."""
    from vmwctl.firewall.hosts import firewall_status
    from vmwctl.vsphere.snapshot import read_firewalls, read_inventory

    sim = simulator("-vm", "6")
    hold_ports(sim, 5900, 5901, 5902)
    vc = sim.connect()
    read_inventory(vc)  # logs in
    sent = vc.request_count
    inventory = read_inventory(vc)
    snapshot = vc.request_count - sent
    cluster = inventory.cluster_named("DC0_C0")
    sent = vc.request_count
    read_firewalls(vc, inventory, inventory.cluster_hosts(cluster))
    firewalls = vc.request_count - sent
    sent = vc.request_count
    status = firewall_status(vc, read_inventory(vc), cluster, [(5900, 6105)])
    assert vc.request_count - sent == snapshot + firewalls == 3 + 1
    assert status.verdict is not None and status.verdict.held == 3
