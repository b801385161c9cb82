"""``check prereqs``: a pass and a non-pass for every check id, on simulators shaped per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_profile
from pyVmomi import vim

from vmwctl.privileges.guide import GUIDE_IDS
from vmwctl.vsphere.inventory import collect
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab


def checks(sim, *args: str) -> tuple[int, dict]:
    result = sim.run("check", "prereqs", "-o", "json", *args)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, {c["id"]: c for c in result.json()["checks"]}


def one(sim, check_id: str, *args: str) -> dict:
    _, found = checks(sim, "--only", check_id, *args)
    return found[check_id]


def find(vc, kind, name: str):
    return next(r.ref for r in collect(vc, {kind: ["name"]}) if r.get("name") == name)


# ------------------------------------------------------------------ healthy and fresh

def test_healthy_cluster_passes(simulator) -> None:
    sim = simulator()
    code, found = checks(sim, "--portgroup", "br-int")
    assert code == 0
    assert {c: found[c]["status"] for c in found} == {
        "vcenter": "pass", "cluster": "pass", "drs": "pass", "shared-storage": "pass",
        "datastores": "pass", "dedicated": "pass", "network": "pass", "vnc-firewall": "pass",
        "privileges": "pass", "hosts": "pass", "image-cache": "pass", "capacity": "pass",
        "cpu-uniformity": "pass", "console": "pass", "sessions": "pass", "certificate": "pass",
        "certificate.openstack": "skip"}  # the profile's cloud: no clouds.yaml here
    assert found["cluster"]["objects"] == ["/DC0/host/DC0_C0"]
    assert "vnc" in found["vnc-firewall"]["objects"]


def test_fresh_cluster_shows_what_the_guide_still_lacks(simulator) -> None:
    sim = simulator(scenario="fresh")
    code, found = checks(sim, "--portgroup", "br-int")
    assert code == 1
    status = {c: found[c]["status"] for c in found}
    assert status["drs"] == "fail"
    assert status["shared-storage"] == "fail"
    assert found["shared-storage"]["detail"] == \
        "nfs-partial is not mounted on DC0_C0_H1, DC0_C0_H2"
    assert status["datastores"] == "warn"
    assert "no datastore_regex and 2 datastores qualify" in found["datastores"]["detail"]
    assert status["dedicated"] == "warn"
    assert status["network"] == "fail"
    assert status["vnc-firewall"] == "fail"
    assert "leaves 5900-5987, 5990-6105 closed" in found["vnc-firewall"]["detail"]
    assert "vmwctl firewall vib" in found["vnc-firewall"]["remedy"]
    table = sim.run("check", "prereqs").stdout
    assert "FAIL" in table and "drs" in table


def test_strict_and_only_and_skip(simulator) -> None:
    sim = simulator(scenario="fresh")
    _, found = checks(sim, "--only", "vcenter,hosts")
    assert list(found) == ["vcenter", "hosts"]
    _, found = checks(sim, "--skip", "drs,shared-storage,network,vnc-firewall,datastores")
    assert "drs" not in found
    assert sim.run("check", "prereqs", "--only", "dedicated").exit_code == 0  # a warning
    assert sim.run("check", "prereqs", "--only", "dedicated", "--strict").exit_code == 1
    result = sim.run("check", "prereqs", "--only", "drsx")
    assert result.exit_code == 2
    assert "unknown check id 'drsx'" in result.stderr


# ------------------------------------------------------------------ check by check

@pytest.mark.parametrize(("flags", "status", "text"), [
    ((), "pass", "VirtualCenter"),
    (("-about-version", "5.0.0"), "fail", "older than 5.1.0"),
    (("-about-version", "5.1.0"), "warn", "older than 5.5.0"),
    (("-api-type", "HostAgent"), "fail", "not a vCenter"),
])
def test_vcenter(simulator, flags, status: str, text: str) -> None:
    check = one(simulator(*flags), "vcenter")
    assert check["status"] == status
    assert text in check["detail"]


def test_cluster(simulator) -> None:
    sim = simulator("-dc", "2")
    assert one(sim, "cluster")["status"] == "pass"
    # a --cluster that does not exist is a usage error, as on every command ...
    result = sim.run("check", "prereqs", "--only", "cluster", "--cluster", "Nope", "-o", "json")
    assert result.exit_code == 2
    assert result.json()["error"]["message"] == \
        "no cluster named 'Nope' (clusters: DC0_C0, DC1_C0)"
    # ... the profile's cluster, Nova's, is a failed check: Nova would not start
    write_profile(sim, sim.config, cluster_name="Nope")
    check = one(sim, "cluster")
    assert check["status"] == "fail"
    assert "no cluster named 'Nope' (clusters: DC0_C0, DC1_C0)" in check["detail"]
    # with two datacenters and no cluster, the whole report still comes out
    code, found = checks(sim)
    assert code == 1
    assert found["cluster"]["status"] == "fail"
    assert found["privileges"]["status"] == "skip"
    write_profile(sim, sim.config, cluster_name="DC0_C0")
    vc = sim.connect()
    wait_for_task(vc, find(vc, vim.ClusterComputeResource, "DC1_C0").Rename_Task("DC0_C0"),
                  what="renaming")
    check = one(sim, "cluster")
    assert check["status"] == "fail"
    assert check["objects"] == ["/DC0/host/DC0_C0", "/DC1/host/DC0_C0"]
    assert one(sim, "drs")["status"] == "skip"
    result = sim.run("check", "prereqs", "--cluster", "DC0_C0")
    assert result.exit_code == 2
    assert result.stderr == \
        "Error: 2 clusters are named 'DC0_C0': /DC0/host/DC0_C0, /DC1/host/DC0_C0\n"


def test_drs_follows_reconfigure(simulator) -> None:
    sim = simulator(scenario="fresh")
    check = one(sim, "drs")
    assert check["status"] == "fail" and "DRS is disabled" in check["detail"]
    vc = sim.connect()
    cluster = find(vc, vim.ClusterComputeResource, "DC0_C0")

    def reconfigure(behavior: str) -> None:
        spec = vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(
            enabled=True, defaultVmBehavior=behavior))
        wait_for_task(vc, cluster.ReconfigureComputeResource_Task(spec, True), what="drs")

    reconfigure("partiallyAutomated")
    check = one(sim, "drs")
    assert check["status"] == "fail"
    assert "partiallyAutomated, not fully automated" in check["detail"]
    reconfigure("fullyAutomated")
    assert one(sim, "drs")["status"] == "pass"
    assert one(simulator("-host", "1"), "drs")["status"] == "pass"


def test_datastores(simulator) -> None:
    healthy = simulator()
    assert one(healthy, "datastores")["status"] == "pass"
    sim = simulator("-ds", "2", datastore_regex="LocalDS_0")
    check = one(sim, "datastores")
    assert check["status"] == "warn"
    assert check["objects"] == ["LocalDS_1"]
    assert "name does not match datastore_regex" in check["detail"]
    sim = simulator(datastore_regex="nfs-os.*")
    check = one(sim, "datastores")
    assert check["status"] == "fail"
    assert check["objects"] == ["LocalDS_0"]
    sim = simulator("-maintenance-datastore", "LocalDS_0")
    check = one(sim, "datastores")
    assert check["status"] == "fail" and "in maintenance" in check["detail"]
    assert one(sim, "shared-storage")["status"] == "skip"
    sim = simulator("-datastore-type", "LocalDS_0=OTHER")
    assert "type OTHER" in one(sim, "datastores")["detail"]
    sim = simulator("-datastore-type", "LocalDS_0=NFS41")
    assert one(sim, "datastores")["status"] == "pass"


def test_shared_storage(simulator) -> None:
    assert one(simulator(), "shared-storage")["status"] == "pass"
    sim = simulator("-add-datastore", "nfs-two=NFS:DC0_C0_H0,DC0_C0_H1",
                    datastore_regex="nfs")
    check = one(sim, "shared-storage")
    assert check["status"] == "fail"
    assert check["detail"] == "nfs-two is not mounted on DC0_C0_H2"
    # a disconnected host needs no mount
    sim = simulator("-add-datastore", "nfs-two=NFS:DC0_C0_H0,DC0_C0_H1",
                    "-disconnect-host", "DC0_C0_H2", datastore_regex="nfs")
    assert one(sim, "shared-storage")["status"] == "pass"


def test_dedicated_names_foreign_vms_and_spawn_leftovers(simulator) -> None:
    sim = simulator()
    assert one(sim, "dedicated")["status"] == "pass"
    vc = sim.connect()
    folder = find(vc, vim.Datacenter, "DC0").vmFolder
    pool = find(vc, vim.ClusterComputeResource, "DC0_C0").resourcePool
    for name, key in (("stranger", None), ("vmwctl-smoke-1", "vmwctl.spawned")):
        extra = [vim.option.OptionValue(key=key, value="2026-11-25")] if key else []
        spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest", extraConfig=extra,
                                 files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"))
        wait_for_task(vc, folder.CreateVM_Task(config=spec, pool=pool), what="create")
    check = one(sim, "dedicated")
    assert check["status"] == "warn"
    assert "1 VM Nova did not create (stranger)" in check["detail"]
    assert "1 VM left by 'vmwctl vm spawn' (vmwctl-smoke-1)" in check["detail"]
    assert "vmwctl vm delete" in check["remedy"]


def test_network(simulator) -> None:
    assert one(simulator(), "network", "--portgroup", "br-int")["status"] == "pass"
    check = one(simulator(scenario="fresh"), "network", "--portgroup", "br-int")
    assert check["status"] == "fail"
    assert check["objects"] == ["br-int"]
    assert check["detail"] == ("no network of cluster 'DC0_C0' matches 'br-int' by Nova's "
                               "lookup (its networks: DC0_DVPG0, DVS0-DVUplinks-9, VM Network)")
    # integration_bridge set: the nsx-mh model, satisfied by the DV port group br-int
    check = one(simulator(integration_bridge="br-int"), "network")
    assert (check["status"], check["objects"]) == ("pass", ["DV port group 'br-int'"])
    # the default model, neutron: the hosts are on DVS0
    check = one(simulator(), "network")
    assert (check["status"], check["objects"]) == ("pass", ["DV switch 'DVS0'"])


def test_vnc_firewall_sees_rulesets_enabled_through_the_api(simulator) -> None:
    sim = simulator(scenario="fresh")
    assert one(sim, "vnc-firewall")["status"] == "fail"
    vc = sim.connect()
    hosts = [r.ref for r in collect(vc, {vim.HostSystem: ["name"]})]
    hosts[0].configManager.firewallSystem.EnableRuleset("gdbserver")
    check = one(sim, "vnc-firewall")
    assert check["status"] == "fail"
    assert check["objects"] == ["DC0_C0_H1", "DC0_C0_H2"]  # only the other hosts lack it
    for host in hosts[1:]:
        host.configManager.firewallSystem.EnableRuleset("gdbserver")
    check = one(sim, "vnc-firewall")
    assert check["status"] == "pass" and "gdbserver" in check["objects"]


def test_vnc_firewall_range_and_esxi7(simulator) -> None:
    sim = simulator(vnc_port=5900, vnc_port_total=10000)
    check = one(sim, "vnc-firewall")
    assert check["status"] == "warn" and "part of VNC ports 5900-15899 is open" in check["detail"]
    assert "leaves 6106-7999, 8001-8299, 8301-9079, 9081-15899 closed" in check["detail"]
    assert "206 more consoles fit before Nova hands out port 6106" in check["detail"]
    check = one(simulator("-host-version", "7.0.3"), "vnc-firewall")
    assert check["status"] == "warn" and "no VNC server" in check["detail"]


def test_privileges_from_the_permissions_set(simulator, lab) -> None:
    sim = simulator()
    assert one(sim, "privileges")["status"] == "pass"
    vc = sim.connect()
    auth = vc.content.authorizationManager
    datacenter = find(vc, vim.Datacenter, "DC0")
    partial = [p for p in GUIDE_IDS if p != "Datastore.Browse"]
    role = auth.AddAuthorizationRole(name="partial", privIds=partial)
    auth.SetEntityPermissions(entity=datacenter, permission=[vim.AuthorizationManager.Permission(
        entity=datacenter, principal=lab.username, group=False, roleId=role, propagate=True)])
    check = one(sim, "privileges")
    assert check["status"] == "fail"
    assert "lacks 1 of the guide's 44 privileges on /DC0: Datastore > Browse datastore" in \
        check["detail"]
    assert check["objects"] == ["Datastore.Browse"]


def test_privileges_that_do_not_propagate(simulator, lab) -> None:
    sim = simulator()
    vc = sim.connect()
    auth = vc.content.authorizationManager
    datacenter = find(vc, vim.Datacenter, "DC0")
    auth.SetEntityPermissions(entity=datacenter, permission=[vim.AuthorizationManager.Permission(
        entity=datacenter, principal=lab.username, group=False, roleId=-1, propagate=False)])
    auth.RemoveEntityPermission(entity=vc.content.rootFolder, user=lab.username, isGroup=False)
    check = one(sim, "privileges")
    assert check["status"] == "fail"
    assert "does not propagate" in check["detail"]


def test_hosts(simulator) -> None:
    assert one(simulator(), "hosts")["status"] == "pass"
    sim = simulator("-maintenance-host", "DC0_C0_H1", "-disconnect-host", "DC0_C0_H2")
    check = one(sim, "hosts")
    assert check["status"] == "warn"
    assert check["detail"] == ("2 of 3 hosts give Nova nothing: DC0_C0_H1 (maintenance), "
                               "DC0_C0_H2 (disconnected)")
    sim = simulator("-host", "1", "-maintenance-host", "DC0_C0_H0")
    assert one(sim, "hosts")["status"] == "fail"


def test_image_cache_leftovers(simulator) -> None:
    sim = simulator()
    assert one(sim, "image-cache")["status"] == "pass"
    vc = sim.connect()
    datacenter = find(vc, vim.Datacenter, "DC0")
    # Nova leaves the vmware_temp folder itself after every spawn: not a leftover.
    vc.content.fileManager.MakeDirectory("[LocalDS_0] vmware_temp", datacenter, True)
    assert one(sim, "image-cache")["status"] == "pass"
    for path in ("vmware_temp/0f3a", "vmware_temp/71bc", "OSTACK_IMG_1234", "keep-me"):
        vc.content.fileManager.MakeDirectory(f"[LocalDS_0] {path}", datacenter, True)
    check = one(sim, "image-cache")
    assert check["status"] == "warn"
    assert check["objects"] == ["[LocalDS_0] OSTACK_IMG_1234", "[LocalDS_0] vmware_temp/0f3a",
                                "[LocalDS_0] vmware_temp/71bc"]
    assert "vmwctl cache purge --include-temp" in check["remedy"]
    assert Path(sim.datastores["LocalDS_0"], "keep-me").is_dir()


def test_nova_conf_inside_prereqs(simulator, tmp_path: Path) -> None:
    sim = simulator()
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n"
                    "reserved_host_memory_mb = 0\n[vmware]\nhost_ip = 127.0.0.1\n"
                    "host_username = u\nhost_password = p\ncluster_name = DC0_C0\n"
                    "vnc_port_total = 206\n")
    code, found = checks(sim, "--nova-conf", str(conf))
    nova = {k: v["status"] for k, v in found.items() if k.startswith("nova-conf.")}
    assert set(nova.values()) == {"pass"}, found
    assert code == 0
    conf.write_text("[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n")
    code, found = checks(sim, "--nova-conf", str(conf))
    assert code == 1
    assert found["nova-conf.driver"]["status"] == "fail"


NOVA_CONF = """\
[DEFAULT]
compute_driver = vmwareapi.VMwareVCDriver
[vmware]
host_ip = 127.0.0.1
host_username = u
host_password = p
cluster_name = DC0_C0
vnc_port_total = 206
"""


def test_nova_conf_reserved_memory_in_the_clusters_figures(simulator, tmp_path: Path) -> None:
    """The memory reserved_host_memory_mb hides, out of what Nova reports for the cluster:
    three hosts of 4,294,430,720 bytes, 4,095 MB each as Nova floors them."""
    sim = simulator()
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_CONF)
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert result.exit_code == 0, result.stderr
    found = {c["id"]: c for c in result.json()["checks"]}
    assert found["nova-conf.reserved-memory"] == {
        "id": "nova-conf.reserved-memory", "status": "warn",
        "detail": "reserved_host_memory_mb is not set, and Nova's default 512 hides 512 MB of "
                  "the cluster's 12,285 MB (4.2%) from the scheduler; the guide recommends 0",
        "objects": ["[DEFAULT] reserved_host_memory_mb"],
        "remedy": "set [DEFAULT] reserved_host_memory_mb = 0"}
    assert sim.run("cluster", "inspect", "DC0_C0", "-o", "json").json()["nova"][
        "memory_mb"] == 12285
    # the same inside check prereqs
    _, found = checks(sim, "--only", "nova-conf", "--nova-conf", str(conf))
    assert "of the cluster's 12,285 MB (4.2%)" in found["nova-conf.reserved-memory"]["detail"]

    # a host in maintenance leaves Nova 8,190 MB; reserving them all leaves the scheduler none
    vc = sim.connect()
    host = find(vc, vim.HostSystem, "DC0_C0_H2")
    wait_for_task(vc, host.EnterMaintenanceMode_Task(timeout=0), what="entering maintenance")
    conf.write_text(NOVA_CONF.replace("[vmware]", "reserved_host_memory_mb = 8190\n[vmware]"))
    result = sim.run("check", "nova-conf", str(conf), "-o", "json")
    assert result.exit_code == 1
    found = {c["id"]: c for c in result.json()["checks"]}
    assert (found["nova-conf.reserved-memory"]["status"],
            found["nova-conf.reserved-memory"]["detail"]) == (
        "fail", "nova.conf:3: reserved_host_memory_mb = 8190 hides all of the cluster's 8,190 "
                "MB from the scheduler: no instance fits")
    conf.write_text(NOVA_CONF.replace("[vmware]", "reserved_host_memory_mb = 0\n[vmware]"))
    found = {c["id"]: c for c in sim.run("check", "nova-conf", str(conf), "-o",
                                         "json").json()["checks"]}
    assert found["nova-conf.reserved-memory"]["status"] == "pass"
    # offline: no cluster to put the figure in
    conf.write_text(NOVA_CONF)
    result = sim.run("check", "nova-conf", str(conf), "--offline", "-o", "json")
    found = {c["id"]: c for c in result.json()["checks"]}
    assert found["nova-conf.reserved-memory"]["detail"] == (
        "reserved_host_memory_mb is not set, and Nova's default 512 hides 512 MB from the "
        "scheduler; the driver already reports the cluster's effective memory, so the guide "
        "recommends 0")


def test_requests_do_not_grow_with_the_inventory(simulator, lab) -> None:
    """A few PropertyCollector requests, whatever the number of hosts, VMs and clusters:
    login (2), the read scoped to the cluster (the tree's view, read and destroy, then the
    cluster's: 6), every VM's VNC port (3), the firewalls, the sessions, the privileges,
    the datastore search and its wait (5), and one Fetch."""
    from vmwctl.checks.prereqs import run_prereqs
    from vmwctl.profile.load import load_profile

    counts = []
    for flags in ((), ("-cluster", "3", "-host", "8", "-vm", "12", "-pg", "3")):
        sim = simulator(*flags)
        vc = sim.connect()
        profile = load_profile(str(sim.config), None, {})
        report = run_prereqs(vc, profile, cluster_name="DC0_C0", portgroup="br-int")
        assert report.summary["fail"] == 0, report.checks
        counts.append(report.vsphere_requests)
    assert counts[0] == counts[1], counts
    assert counts[0] == 17
