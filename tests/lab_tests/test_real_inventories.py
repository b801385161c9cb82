"""What real vCenters hold, judged right: vCLS and agent VMs, clusters Nova gets nothing from."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def checks(sim, *args: str) -> dict[str, dict]:
    result = sim.run("check", "prereqs", "-o", "json", *args)
    assert result.exit_code in (0, 1), result.stderr
    return {c["id"]: c for c in result.json()["checks"]}


def test_vcls_vms_are_system_vms_and_an_nsx_edge_is_listed_apart(simulator) -> None:
    sim = simulator("-agent-vms", "numbered")  # healthy: every other VM is Nova's
    dedicated = checks(sim, "--only", "dedicated")["dedicated"]
    assert dedicated["status"] == "warn"
    assert dedicated["detail"] == (
        "1 VM managed by other solutions (nsx-edge-01 (com.vmware.nsx.management.nsxt)); "
        "3 system VMs of vSphere Cluster Services not counted (vCLS (1), vCLS (2), vCLS (3))")
    assert dedicated["objects"] == ["nsx-edge-01"]
    listed = sim.run("vm", "list", "--all", "-o", "json")
    assert listed.exit_code == 0, (listed.stdout, listed.stderr)
    owners = {vm["name"]: (vm["owner"], vm["managed_by"])
              for vm in sim.run("vm", "list", "--all", "-o", "json").json()["vms"]}
    assert owners["vCLS (1)"] == ("system", "com.vmware.vim.eam")
    assert owners["nsx-edge-01"] == ("extension", "com.vmware.nsx.management.nsxt")
    assert owners["DC0_C0_RP0_VM0"] == ("nova", "org.openstack.compute")
    vms = sim.run("cluster", "inspect", "DC0_C0", "-o", "json").json()["vms"]
    assert vms == {"nova": 2, "vmwctl": 0, "system": 3, "extension": 1, "other": 0}
    # vm delete refuses a system VM as it refuses Nova's
    refused = sim.run("vm", "delete", "vCLS (1)")
    assert refused.exit_code == 2
    assert "is a vSphere Cluster Services VM" in refused.stderr


def test_vcls_vms_named_by_uuid_are_system_vms_too(simulator) -> None:
    sim = simulator("-agent-vms", "uuid", "-host", "2")
    system = [vm["name"] for vm in sim.run("vm", "list", "--all", "-o", "json").json()["vms"]
              if vm["owner"] == "system"]
    assert len(system) == 2 and all(name.startswith("vCLS-") for name in system)
    dedicated = checks(sim, "--only", "dedicated")["dedicated"]
    assert "2 system VMs of vSphere Cluster Services not counted" in dedicated["detail"]
    assert not set(system) & set(dedicated["objects"])


def test_a_hundred_foreign_vms_are_counted_and_named_in_part(simulator) -> None:
    dedicated = checks(simulator("-foreign-vms", "100"), "--only", "dedicated")["dedicated"]
    assert dedicated["status"] == "warn"
    assert dedicated["detail"].startswith(
        "100 VMs Nova did not create (app-001, app-002, app-003, app-004, app-005, ...)")
    assert len(dedicated["objects"]) == 100


def test_a_cluster_without_hosts_fails_the_cluster_check(simulator) -> None:
    sim = simulator("-empty-cluster", "C-empty")
    found = checks(sim, "--cluster", "C-empty")
    assert found["cluster"]["status"] == "fail"
    assert found["cluster"]["detail"] == ("/DC0/host/C-empty has no hosts: Nova reports no "
                                          "resources for it and can place no instance")
    assert {found[i]["status"] for i in ("drs", "hosts", "shared-storage", "vnc-firewall")} == {
        "skip"}
    status = sim.run("firewall", "status", "--cluster", "C-empty", "-o", "json")
    assert (status.exit_code, status.json()["verdict"]) == (0, None)
    table = sim.run("firewall", "status", "--cluster", "C-empty")
    assert "SKIP: no connected host to check" in table.stdout


def test_a_cluster_whose_hosts_do_not_respond_fails_the_cluster_check(simulator) -> None:
    sim = simulator("-host", "1", "-not-responding-host", "DC0_C0_H0")
    found = checks(sim)
    assert found["cluster"]["status"] == "fail"
    assert found["cluster"]["detail"] == ("/DC0/host/DC0_C0 has 1 host, none connected and out "
                                          "of maintenance: Nova counts no resources for it")
    assert found["hosts"]["detail"] == "no host Nova can use: DC0_C0_H0 (notResponding)"
    sim = simulator("-not-responding-host", "DC0_C0_H1")
    found = checks(sim)
    assert found["cluster"] == {**found["cluster"], "status": "pass",
                                "detail": "/DC0/host/DC0_C0 with 3 hosts, 2 of them counted "
                                          "by Nova"}
    assert found["hosts"]["detail"] == ("1 of 3 hosts gives Nova nothing: DC0_C0_H1 "
                                        "(notResponding)")
