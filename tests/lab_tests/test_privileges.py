"""``check privileges``, ``role create`` and ``check nova-conf`` against the lab's simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyVmomi import vim

from vmwctl.privileges.guide import GUIDE_IDS, GUIDE_PRIVILEGES

pytestmark = pytest.mark.lab


def role_named(vc, name: str):
    return next((r for r in vc.content.authorizationManager.roleList if r.name == name), None)


def test_guide_table_has_44_privileges_the_simulator_accepts(simulator) -> None:
    assert len(GUIDE_PRIVILEGES) == len(set(GUIDE_IDS)) == 44
    vc = simulator().connect()
    vc.content.authorizationManager.AddAuthorizationRole(name="all-44", privIds=GUIDE_IDS)
    assert set(GUIDE_IDS) <= set(role_named(vc, "all-44").privilege)


def test_role_create_then_check_then_break_one_privilege(simulator) -> None:
    sim = simulator()
    vc = sim.connect()
    result = sim.run("role", "create", "--dry-run", "-o", "json")
    assert result.json()["role_action"] == "created"
    assert role_named(vc, "openstack-nova") is None

    result = sim.run("role", "create", "-o", "json")
    assert result.exit_code == 0
    assert result.json()["role_action"] == "created"
    role = role_named(vc, "openstack-nova")
    assert set(GUIDE_IDS) <= set(role.privilege)
    again = sim.run("role", "create")
    assert "nothing changed" in again.stdout
    assert sim.run("role", "create", "-o", "json").json()["role_action"] == "unchanged"

    assert sim.run("check", "privileges", "--role", "openstack-nova").exit_code == 0
    vc.content.authorizationManager.UpdateAuthorizationRole(
        roleId=role.roleId, newName="openstack-nova",
        privIds=[p for p in GUIDE_IDS if p != "VirtualMachine.Config.SwapPlacement"])
    result = sim.run("check", "privileges", "--role", "openstack-nova", "-o", "json")
    assert result.exit_code == 1
    missing = result.json()["missing"]
    assert missing == [{"group": "Virtual Machine > Configuration",
                        "label": "Swapfile placement",
                        "id": "VirtualMachine.Config.SwapPlacement"}]
    table = sim.run("check", "privileges", "--role", "openstack-nova").stdout
    assert "Swapfile placement" in table

    result = sim.run("role", "create", "-o", "json")
    assert result.json()["role_action"] == "updated"
    assert result.json()["added"] == ["VirtualMachine.Config.SwapPlacement"]
    assert sim.run("check", "privileges", "--role", "openstack-nova").exit_code == 0
    result = sim.run("check", "privileges", "--role", "no-such-role")
    assert result.exit_code == 2 and "no role 'no-such-role'" in result.stderr


def test_grant_and_principal_mode(simulator) -> None:
    sim = simulator()
    vc = sim.connect()
    result = sim.run("check", "privileges", "--principal", "svc-nova@vsphere.local", "-o", "json")
    assert result.exit_code == 1
    assert len(result.json()["missing"]) == 44

    result = sim.run("role", "create", "--grant", "VSPHERE.LOCAL\\svc-nova", "-o", "json")
    assert result.json()["grant_action"] == "granted"
    assert result.json()["datacenter"] == "/DC0"
    datacenter = vc.content.rootFolder.childEntity[0]
    [permission] = [p for p in vc.content.authorizationManager.RetrieveEntityPermissions(
        entity=datacenter, inherited=False) if "svc-nova" in p.principal.lower()]
    assert permission.propagate is True
    assert permission.roleId == role_named(vc, "openstack-nova").roleId

    assert sim.run("check", "privileges", "--principal",
                   "svc-nova@vsphere.local").exit_code == 0
    result = sim.run("role", "create", "--grant", "svc-nova@vsphere.local", "-o", "json")
    assert result.json()["grant_action"] == "unchanged"
    assert result.json()["role_action"] == "unchanged"

    # the nearest permission wins: a weaker role on the datacenter itself
    auth = vc.content.authorizationManager
    weak = auth.AddAuthorizationRole(name="weak", privIds=["Datastore.Browse"])
    auth.SetEntityPermissions(entity=datacenter, permission=[vim.AuthorizationManager.Permission(
        entity=datacenter, principal="svc-nova@vsphere.local", group=False, roleId=weak,
        propagate=True)])
    result = sim.run("check", "privileges", "--principal", "svc-nova@vsphere.local", "-o", "json")
    assert len(result.json()["missing"]) == 43


def test_session_privileges(simulator, lab) -> None:
    sim = simulator()
    result = sim.run("check", "privileges", "-o", "json")
    assert result.exit_code == 0
    report = result.json()
    assert (report["mode"], report["subject"], report["entity"]) == ("session", lab.username,
                                                                     "/DC0")
    vc = sim.connect()
    auth = vc.content.authorizationManager
    datacenter = vc.content.rootFolder.childEntity[0]
    role = auth.AddAuthorizationRole(name="no-vapp",
                                     privIds=[p for p in GUIDE_IDS if not p.startswith("VApp")])
    auth.SetEntityPermissions(entity=datacenter, permission=[vim.AuthorizationManager.Permission(
        entity=datacenter, principal=lab.username, group=False, roleId=role, propagate=True)])
    result = sim.run("check", "privileges", "-o", "json")
    assert result.exit_code == 1
    assert [p["label"] for p in result.json()["missing"]] == ["Export", "Import"]


def test_option_errors(simulator) -> None:
    sim = simulator()
    result = sim.run("check", "privileges", "--role", "x", "--principal", "y")
    assert result.exit_code == 2
    result = sim.run("check", "privileges", "--datacenter", "Nope")
    assert result.exit_code == 2 and "no datacenter 'Nope'" in result.stderr


NOVA_CONF = """\
[DEFAULT]
compute_driver = vmwareapi.VMwareVCDriver
reserved_host_memory_mb = 0
[vmware]
host_ip = 127.0.0.1
host_username = svc
host_password = secret
cluster_name = DC0_C0
datastore_regex = Local.*
vnc_port = 5900
vnc_port_total = 206
"""


def statuses(result) -> dict[str, str]:
    return {c["id"]: c["status"] for c in result.json()["checks"]}


def test_check_nova_conf_online(simulator, tmp_path: Path) -> None:
    sim = simulator()
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_CONF)
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert set(statuses(result).values()) == {"pass"}

    conf.write_text(NOVA_CONF.replace("vnc_port_total = 206\n", "")
                    .replace("cluster_name = DC0_C0", "cluster_name = Gone")
                    .replace("Local.*", "nfs.*"))
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert result.exit_code == 1
    found = statuses(result)
    assert found["nova-conf.cluster"] == "fail"
    assert found["nova-conf.datastores"] == "skip"

    conf.write_text(NOVA_CONF.replace("vnc_port_total = 206\n", "")
                    .replace("Local.*", "nfs.*"))
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    found = {c["id"]: c for c in result.json()["checks"]}
    assert found["nova-conf.datastores"]["status"] == "fail"
    assert found["nova-conf.vnc-ports"]["status"] == "warn"  # Nova's 10000 ports, 206 open
    assert "5900-15899" in found["nova-conf.vnc-ports"]["detail"]
    assert "206 more consoles fit" in found["nova-conf.vnc-ports"]["detail"]

    conf.write_text(NOVA_CONF.replace("127.0.0.1", "vc9.example.com"))
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert statuses(result)["nova-conf.cluster"] == "skip"
    assert "nova.conf names vCenter vc9.example.com" in result.stdout
