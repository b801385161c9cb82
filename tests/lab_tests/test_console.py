"""The console check (check prereqs), --probe-console, and the lab's AcquireTicket.

ESXi 7.0 and later have no VNC server: Nova's consoles there need MKS
([mks] enabled with mksproxy_base_url). The check reads the profile's [vnc]
and [mks], or the --nova-conf file's; --probe-console asks vCenter for an MKS
ticket on a powered-on VM of each host.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest
import yaml
from pyVmomi import vim, vmodl

from vmwctl.nova.owners import vm_owner
from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.snapshot import read_inventory
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

PROXY = "https://mks.example:6090/"


def with_mks(sim, path: Path, **mks: object) -> Path:
    """The simulator's profile with an [mks] section."""
    config = yaml.safe_load(Path(sim.config).read_text())
    config["profiles"]["sim"]["mks"] = mks
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def console(sim, *args: str, config: Path | None = None) -> tuple[int, dict]:
    """The console check's result, and the exit status."""
    found = sim.run(*(("--config", str(config)) if config else ()), "check", "prereqs",
                    "--only", "console", *args, "-o", "json")
    assert found.exit_code in (0, 1), found.stderr
    assert "Traceback" not in found.stderr
    (check,) = found.json()["checks"]
    assert check["id"] == "console"
    return found.exit_code, check


def tickets(sim) -> int:
    return sim.calls()["begun"].get("AcquireTicket", 0)


def probed_hosts(sim) -> list[str]:
    """The cluster's hosts that run a powered-on VM a probe may use (not vSphere's own)."""
    inventory = read_inventory(sim.connect())
    hosts = {h.moid: h.name for h in inventory.hosts.values()}
    return sorted({hosts[vm.host] for vm in inventory.vms.values()
                   if vm.host in hosts and vm.power_state == "poweredOn"
                   and vm_owner(vm) in ("nova", "vmwctl", "other")})


def power_off_on(sim, host: str) -> None:
    """Power off every VM of the host."""
    vc = sim.connect()
    inventory = read_inventory(vc)
    (moid,) = [h.moid for h in inventory.hosts.values() if h.name == host]
    for vm in inventory.vms.values():
        if vm.host == moid and vm.power_state == "poweredOn":
            wait_for_task(vc, inventory.refs[vm.moid].PowerOffVM_Task(), what="power off")


def test_esxi_6_7_hosts_with_vnc_pass(simulator) -> None:
    sim = simulator("-host-version", "6.7.0")
    code, check = console(sim)
    assert (code, check["status"]) == (0, "pass")
    assert check["detail"] == "VNC on all 3 hosts (its firewall: see vnc-firewall)"
    assert tickets(sim) == 0  # no probe without --probe-console


def test_esxi_7_hosts_without_mks_warn_with_the_mks_advice(simulator) -> None:
    sim = simulator("-host-version", "6.7.0", "-host-version-of", "DC0_C0_H2=7.0.3")
    code, check = console(sim)
    assert (code, check["status"]) == (0, "warn")
    assert check["detail"] == (
        "no console on DC0_C0_H2: ESXi 7.0 and later have no VNC server and [mks] enabled is "
        "false (profile sim); VNC on DC0_C0_H0, DC0_C0_H1 (its firewall: see vnc-firewall)")
    assert check["objects"] == ["DC0_C0_H2"]
    assert check["remedy"].startswith("ESXi 7.0 and later have no VNC server: use the MKS "
                                      "console ([mks] enabled = true")


def test_esxi_7_hosts_with_mks_and_its_proxy_pass(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3")
    config = with_mks(sim, tmp_path / "mks.yaml", enabled=True, mksproxy_base_url=PROXY)
    code, check = console(sim, config=config)
    assert (code, check["status"]) == (0, "pass")
    assert check["detail"] == f"MKS on all 3 hosts, proxy {PROXY}"


def test_mks_without_its_proxy_url_fails(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3")
    code, check = console(sim, config=with_mks(sim, tmp_path / "mks.yaml", enabled=True))
    assert (code, check["status"]) == (1, "fail")
    assert check["detail"].startswith(
        "[mks] enabled without mksproxy_base_url (profile sim): Nova's default "
        "http://127.0.0.1:6090/ only works in a browser on the MKS proxy's own machine")
    assert check["remedy"] == ("set [mks] mksproxy_base_url to the URL browsers reach the MKS "
                               "proxy at")


def test_the_nova_confs_mks_counts_over_the_profiles(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3")
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n[vmware]\n"
                    "host_ip = 127.0.0.1\ncluster_name = DC0_C0\n"
                    f"[mks]\nenabled = true\nmksproxy_base_url = {PROXY}\n")
    code, check = console(sim, "--nova-conf", str(conf))
    assert (code, check["status"]) == (0, "pass")
    assert check["detail"] == f"MKS on all 3 hosts, proxy {PROXY}"


def test_vnc_firewall_leaves_the_hosts_without_vnc_to_the_console_check(simulator) -> None:
    sim = simulator("-host-version-of", "DC0_C0_H2=8.0.2")
    both = sim.run("check", "prereqs", "--only", "vnc-firewall,console", "-o", "json")
    by_id = {c["id"]: c for c in both.json()["checks"]}
    firewall = by_id["vnc-firewall"]
    assert firewall["status"] == "pass"
    assert firewall["detail"].endswith("; no VNC server on DC0_C0_H2 (ESXi 7.0 and later): see "
                                       "the console check")
    assert firewall["remedy"] is None
    assert by_id["console"]["status"] == "warn"
    assert "MKS console" in by_id["console"]["remedy"]
    alone = sim.run("check", "prereqs", "--only", "vnc-firewall", "-o", "json")
    (firewall,) = alone.json()["checks"]  # without the console check: the MKS advice
    assert (firewall["status"], firewall["objects"]) == ("warn", ["DC0_C0_H2"])
    assert "MKS console" in firewall["remedy"]


def test_every_host_without_vnc_skips_the_vnc_firewall(simulator) -> None:
    sim = simulator("-host-version", "7.0.3")
    found = sim.run("check", "prereqs", "--only", "vnc-firewall,console", "-o", "json")
    firewall = found.json()["checks"][0]
    assert (firewall["id"], firewall["status"]) == ("vnc-firewall", "skip")
    assert firewall["detail"] == ("no VNC server on 3 hosts (DC0_C0_H0, DC0_C0_H1, DC0_C0_H2): "
                                  "ESXi 7.0 and later have none, no VNC port to open; see the "
                                  "console check")


# ------------------------------------------------------------------ --probe-console

def test_probe_asks_one_ticket_per_host(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3", "-vm", "4")
    config = with_mks(sim, tmp_path / "mks.yaml", enabled=True, mksproxy_base_url=PROXY)
    hosts = probed_hosts(sim)
    assert hosts
    code, check = console(sim, "--probe-console", config=config)
    assert (code, check["status"]) == (0, "pass"), check
    assert f"vCenter hands out MKS tickets on {', '.join(hosts)}" in check["detail"]
    assert tickets(sim) == len(hosts)


def test_a_host_with_only_powered_off_vms_has_no_vm_to_probe(simulator,
                                                              tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3", "-vm", "4")
    config = with_mks(sim, tmp_path / "mks.yaml", enabled=True, mksproxy_base_url=PROXY)
    first = probed_hosts(sim)[0]
    power_off_on(sim, first)
    left = probed_hosts(sim)
    assert first not in left
    code, check = console(sim, "--probe-console", config=config)
    assert (code, check["status"]) == (0, "pass"), check
    assert f"no powered-on VM to probe on {first}" in check["detail"]
    assert tickets(sim) == len(left)


def test_a_refused_ticket_fails(simulator, tmp_path: Path) -> None:
    sim = simulator("-host-version", "7.0.3", "-vm", "4", "-fail-method", "AcquireTicket")
    config = with_mks(sim, tmp_path / "mks.yaml", enabled=True, mksproxy_base_url=PROXY)
    hosts = probed_hosts(sim)
    code, check = console(sim, "--probe-console", config=config)
    assert (code, check["status"]) == (1, "fail")
    assert check["objects"] == hosts
    assert "vCenter refuses an MKS ticket for" in check["detail"]
    assert "ConsoleInteract" in check["remedy"]
    assert tickets(sim) == len(hosts)


def test_no_probe_when_nova_offers_no_console(simulator, tmp_path: Path) -> None:
    sim = simulator()
    config = tmp_path / "off.yaml"
    data = yaml.safe_load(Path(sim.config).read_text())
    data["profiles"]["sim"]["vnc"] = {"enabled": False}
    config.write_text(yaml.safe_dump(data))
    config.chmod(0o600)
    code, check = console(sim, "--probe-console", config=config)
    assert (code, check["status"]) == (0, "skip")
    assert tickets(sim) == 0


# ------------------------------------------------------------------ the lab's AcquireTicket

def test_the_labs_acquire_ticket(simulator) -> None:
    sim = simulator("-vm", "4")
    vc = sim.connect()
    inventory = read_inventory(vc)
    vms = sorted((vm for vm in inventory.vms.values() if vm.power_state == "poweredOn"),
                 key=lambda vm: vm.name)
    vm, other = vms[0], vms[1]
    ref = inventory.refs[vm.moid]
    ticket = ref.AcquireTicket(ticketType="mks")
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", sim.port)))
    digest = hashlib.sha1(der).hexdigest().upper()  # vSphere thumbprints are SHA-1
    assert ticket.sslThumbprint == ":".join(digest[i:i + 2] for i in range(0, 40, 2))
    assert (ticket.port, ticket.host) == (902, inventory.hosts[vm.host].name)
    datastore, relative = vm.path.removeprefix("[").split("] ")
    assert ticket.cfgFile == f"/vmfs/volumes/{datastore}/{relative}"
    again = ref.AcquireTicket(ticketType="mks")
    assert again.ticket and again.ticket != ticket.ticket  # one-time tickets
    assert ref.AcquireTicket(ticketType="webmks").port == 443
    with pytest.raises(VSphereFault) as refused:
        ref.AcquireTicket(ticketType="nonsense")
    assert isinstance(refused.value.fault, vmodl.fault.InvalidArgument)
    wait_for_task(vc, inventory.refs[other.moid].PowerOffVM_Task(), what="power off")
    with pytest.raises(VSphereFault) as refused:
        inventory.refs[other.moid].AcquireTicket(ticketType="mks")
    assert isinstance(refused.value.fault, vim.fault.InvalidState)
    assert not isinstance(refused.value.fault, vim.fault.InvalidPowerState)


def test_host_version_of_sets_one_hosts_version(simulator) -> None:
    sim = simulator("-host-version", "6.7.0", "-host-version-of", "DC0_C0_H1=8.0.2")
    versions = {h.name: h.version for h in read_inventory(sim.connect()).hosts.values()}
    assert versions["DC0_C0_H1"] == "8.0.2"
    assert versions["DC0_C0_H0"] == versions["DC0_C0_H2"] == "6.7.0"
