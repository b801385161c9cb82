"""``check prereqs``, check by check, on inventories built in memory: every status and edge.

The checks that read more than the inventory (vnc-firewall, privileges,
image-cache) are tested through their judge step on gathered data; their
gather steps are shown to read nothing when the check has nothing to gather.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from inventory import (
    VC_URL,
    firewall_data,
    make_cluster,
    make_context,
    make_datastore,
    make_endpoint,
    make_host,
    make_inventory,
    make_profile,
    make_ruleset,
    make_vm,
)

from vmwctl.cache.leftovers import Leftover, leftovers_at
from vmwctl.checks.model import CheckResult, Context, FirewallData, Status
from vmwctl.checks.prereqs import (
    CHECK_IDS,
    PURE,
    REMOTE,
    ImageCacheData,
    PrivilegesData,
    gather_image_cache,
    gather_privileges,
    gather_vnc_firewall,
    judge_image_cache,
    judge_privileges,
    judge_vnc_firewall,
    privileges_datacenter,
    remote_check,
    selected_ids,
)
from vmwctl.errors import UsageError
from vmwctl.privileges.guide import GUIDE_IDS, GUIDE_PRIVILEGES
from vmwctl.privileges.held import PrivilegeReport
from vmwctl.vsphere.model import Datastore, Host, Inventory, VirtualMachine

NEEDS_CLUSTER = ("drs", "shared-storage", "datastores", "dedicated", "network", "hosts",
                 "vnc-firewall", "image-cache")


def check(check_id: str, ctx: Context) -> CheckResult:
    """A pure check as run_prereqs runs it (skipped without a cluster where it needs one)."""
    result = PURE[check_id](ctx)
    assert result.id == check_id
    return result


def hosts(count: int, *more: Host) -> list[Host]:
    """Healthy hosts C0_H0.., then ``more``."""
    return [*(make_host(f"C0_H{i}") for i in range(count)), *more]


def test_every_id_is_a_pure_or_a_remote_check() -> None:
    assert set(PURE) | set(REMOTE) | {"nova-conf"} == set(CHECK_IDS)
    assert not set(PURE) & set(REMOTE)


def test_selected_ids_keep_the_fixed_order_and_refuse_unknown_ids() -> None:
    assert selected_ids([], []) == list(CHECK_IDS)
    assert selected_ids(["hosts", "vcenter"], []) == ["vcenter", "hosts"]
    assert selected_ids([], ["drs", "nova-conf"]) == [
        c for c in CHECK_IDS if c not in ("drs", "nova-conf")]
    with pytest.raises(UsageError, match="unknown check id 'drsx'; ids: vcenter, cluster"):
        selected_ids([], ["drsx"])


@pytest.mark.parametrize("check_id", NEEDS_CLUSTER)
def test_checks_that_need_a_cluster_skip_without_one(check_id: str) -> None:
    ctx = make_context(cluster_name="Nope")
    # vc=None: a remote check that tried to gather would raise here
    result = PURE[check_id](ctx) if check_id in PURE else remote_check(check_id, None)(ctx)
    assert (result.id, result.status) == (check_id, Status.SKIP)
    assert result.detail == "no cluster to check (see the cluster check)"


# ------------------------------------------------------------------ vcenter

@pytest.mark.parametrize(("version", "status", "text"), [
    ("4.1.0", Status.FAIL, "vCenter 4.1.0 is older than 5.1.0: nova-compute refuses to start"),
    ("5.0.9", Status.FAIL, "vCenter 5.0.9 is older than 5.1.0"),
    ("5.1.0", Status.WARN, "vCenter 5.1.0 is older than 5.5.0, Nova's next minimum"),
    ("5.4.99", Status.WARN, "vCenter 5.4.99 is older than 5.5.0"),
    ("5.5.0", Status.PASS, "VMware vCenter Server 8.0.2 build-22385739 (VirtualCenter)"),
    ("8.0.2", Status.PASS, "(VirtualCenter)"),
])
def test_vcenter_version_edges(version: str, status: Status, text: str) -> None:
    ctx = make_context(make_inventory(endpoint=make_endpoint(version=version)))
    result = check("vcenter", ctx)
    assert result.status == status
    assert text in result.detail
    assert result.objects == [VC_URL]
    assert result.remedy == (None if status == Status.PASS else
                             "upgrade vCenter to 5.5.0 or later")


def test_vcenter_must_be_a_vcenter_not_a_host() -> None:
    endpoint = make_endpoint(api_type="HostAgent", product="VMware ESXi 8.0.2")
    result = check("vcenter", make_context(make_inventory(endpoint=endpoint)))
    assert result.status == Status.FAIL
    assert result.detail == (f"{VC_URL} is VMware ESXi 8.0.2 (HostAgent), not a vCenter: the "
                             "VMware driver needs vCenter")
    assert result.remedy == "point vmware.host_ip at the vCenter that manages the hosts"


# ------------------------------------------------------------------ cluster

def test_cluster_without_hosts_or_without_a_host_nova_counts_fails() -> None:
    result = check("cluster", make_context(make_inventory(make_cluster(hosts=[]))))
    assert (result.status, result.objects) == (Status.FAIL, ["/DC0/host/C0"])
    assert result.detail == ("/DC0/host/C0 has no hosts: Nova reports no resources for it and "
                             "can place no instance")
    cluster = make_cluster(hosts=[make_host("a", connection_state="notResponding")])
    result = check("cluster", make_context(make_inventory(cluster)))
    assert result.status == Status.FAIL
    assert result.detail == ("/DC0/host/C0 has 1 host, none connected and out of maintenance: "
                             "Nova counts no resources for it")
    cluster = make_cluster(hosts=[make_host("a"), make_host("b", in_maintenance=True)])
    result = check("cluster", make_context(make_inventory(cluster)))
    assert (result.status, result.detail) == (
        Status.PASS, "/DC0/host/C0 with 2 hosts, 1 of them counted by Nova")


def test_cluster_found_once() -> None:
    result = check("cluster", make_context())
    assert (result.status, result.detail, result.objects) == (
        Status.PASS, "/DC0/host/C0 with 3 hosts", ["/DC0/host/C0"])


def test_cluster_not_named() -> None:
    result = check("cluster", make_context(cluster_name=None))
    assert result.status == Status.FAIL
    assert result.detail == "no cluster named: the driver needs vmware.cluster_name"
    assert result.remedy == "set vmware.cluster_name in the profile, or pass --cluster NAME"


def test_cluster_not_found_lists_the_clusters() -> None:
    inventory = make_inventory(make_cluster("B"), make_cluster("A"))
    result = check("cluster", make_context(inventory, cluster_name="C0"))
    assert result.status == Status.FAIL
    assert result.detail == "no cluster named 'C0' (clusters: A, B)"
    assert result.objects == []
    inventory.clusters.clear()
    result = check("cluster", make_context(inventory, cluster_name="C0"))
    assert result.detail == "no cluster named 'C0' (clusters: none)"


def test_cluster_named_twice_cannot_be_told_apart() -> None:
    inventory = make_inventory(
        make_cluster("C0", datacenter="DC1", moid="domain-c1",
                     hosts=[make_host("a")], datastores=[]),
        make_cluster("C0", datacenter="DC0", moid="domain-c2",
                     hosts=[make_host("b")], datastores=[]),
        datacenters=("DC0", "DC1"))
    ctx = make_context(inventory)
    assert ctx.cluster is None
    result = check("cluster", ctx)
    assert result.status == Status.FAIL
    assert result.detail == "2 clusters are named 'C0': the driver cannot tell them apart"
    assert result.objects == ["/DC0/host/C0", "/DC1/host/C0"]


# ------------------------------------------------------------------ drs

def test_drs_is_not_needed_with_one_host_and_not_judged_without_hosts() -> None:
    cluster = make_cluster(hosts=hosts(1), drs_enabled=False, drs_behavior=None)
    result = check("drs", make_context(make_inventory(cluster)))
    assert (result.status, result.detail) == (Status.PASS, "C0 has 1 host: DRS is not needed")
    cluster = make_cluster(hosts=[], drs_enabled=False, drs_behavior=None)
    result = check("drs", make_context(make_inventory(cluster)))
    assert (result.status, result.detail) == (
        Status.SKIP, "C0 has no hosts (see the cluster check)")


def test_drs_disabled_with_two_hosts_fails() -> None:
    cluster = make_cluster(hosts=hosts(2), drs_enabled=False)
    result = check("drs", make_context(make_inventory(cluster)))
    assert result.status == Status.FAIL
    assert result.detail == ("DRS is disabled on C0, which has 2 hosts: vCenter will not place "
                             "Nova's VMs")
    assert result.objects == ["C0"]
    assert result.remedy == "enable DRS with fully automated placement on the cluster"


@pytest.mark.parametrize(("behavior", "shown"), [
    ("partiallyAutomated", "partiallyAutomated"), ("manual", "manual"), (None, "unset")])
def test_drs_must_be_fully_automated(behavior: str | None, shown: str) -> None:
    cluster = make_cluster(hosts=hosts(2), drs_behavior=behavior)
    result = check("drs", make_context(make_inventory(cluster)))
    assert result.status == Status.FAIL
    assert result.detail == f"DRS on C0 is {shown}, not fully automated"
    assert result.remedy == "set the DRS automation level of the cluster to fully automated"


def test_drs_fully_automated_passes() -> None:
    result = check("drs", make_context())
    assert (result.status, result.detail) == (
        Status.PASS, "DRS enabled and fully automated on C0 (3 hosts)")


# ------------------------------------------------------------------ datastores

def datastore_context(*stores, regex: str | None = None) -> Context:
    profile = make_profile(vmware={"datastore_regex": regex} if regex else {})
    return make_context(make_inventory(make_cluster(datastores=list(stores))), profile=profile)


def test_datastores_one_valid_passes() -> None:
    result = check("datastores", datastore_context(make_datastore("ds1")))
    assert (result.status, result.detail, result.objects) == (
        Status.PASS, "Nova uses ds1", ["ds1"])


@pytest.mark.parametrize("kind", ["VMFS", "NFS", "NFS41", "vsan"])
def test_datastores_nova_accepts_its_four_types(kind: str) -> None:
    assert check("datastores", datastore_context(make_datastore("d", type=kind))).status == \
        Status.PASS


def test_datastores_none_valid_fails_with_each_reason() -> None:
    result = check("datastores", datastore_context(
        make_datastore("off", accessible=False),
        make_datastore("maint", maintenance_mode="inMaintenance"),
        make_datastore("vvol", type="VVOL"),
        make_datastore("local-1"), regex="nfs"))
    assert result.status == Status.FAIL
    assert result.detail == (
        "no datastore of the cluster passes Nova's filter (accessible, not in maintenance, "
        "VMFS/NFS/NFS41/vsan and datastore_regex 'nfs'): "
        "local-1: name does not match datastore_regex 'nfs'; "
        "maint: in maintenance (inMaintenance); off: not accessible; "
        "vvol: type VVOL (Nova uses VMFS, NFS, NFS41, vsan)")
    assert result.objects == ["local-1", "maint", "off", "vvol"]
    assert result.remedy.startswith("attach a shared VMFS or NFS datastore")


def test_datastores_a_cluster_without_datastores_fails() -> None:
    result = check("datastores", datastore_context())
    assert result.status == Status.FAIL
    assert result.detail == ("no datastore of the cluster passes Nova's filter (accessible, "
                             "not in maintenance, VMFS/NFS/NFS41/vsan)")
    assert result.objects == []


def test_datastores_the_regex_matches_from_the_start_of_the_name() -> None:
    result = check("datastores", datastore_context(
        make_datastore("nfs-os-1"), make_datastore("old-nfs-os"), regex="nfs-os"))
    assert result.status == Status.WARN
    assert result.detail == ("Nova uses nfs-os-1; the cluster also has datastores it does not "
                             "use (old-nfs-os: name does not match datastore_regex 'nfs-os')")
    assert result.objects == ["old-nfs-os"]
    assert "remove the datastores not meant for OpenStack" in result.remedy


def test_datastores_without_regex_several_qualify_is_a_warning() -> None:
    result = check("datastores", datastore_context(make_datastore("b"), make_datastore("a")))
    assert result.status == Status.WARN
    assert result.detail == ("no datastore_regex and 2 datastores qualify (a, b): Nova uses any "
                             "of them, the one with the most free space first")
    assert result.objects == ["a", "b"]
    assert result.remedy.startswith("set vmware.datastore_regex")


def test_datastores_a_regex_that_selects_several_passes() -> None:
    result = check("datastores", datastore_context(
        make_datastore("os-b"), make_datastore("os-a"), regex="os-"))
    assert (result.status, result.objects) == (Status.PASS, ["os-a", "os-b"])


def test_datastores_maintenance_mode_none_or_normal_is_usable() -> None:
    result = check("datastores", datastore_context(make_datastore("d", maintenance_mode=None)))
    assert result.status == Status.PASS


DATASTORE = st.fixed_dictionaries({
    "name": st.sampled_from(["nfs-os", "nfs-b", "local", "os-nfs"]),
    "type": st.sampled_from(["VMFS", "NFS", "NFS41", "vsan", "VVOL", None]),
    "accessible": st.booleans(),
    "maintenance_mode": st.sampled_from([None, "normal", "inMaintenance", "enteringMaintenance"]),
})


@given(st.lists(DATASTORE, max_size=5, unique_by=lambda d: d["name"]),
       st.sampled_from([None, "nfs"]))
def test_datastores_status_follows_nova_filter(specs: list[dict], regex: str | None) -> None:
    stores = [make_datastore(d["name"], type=d["type"], accessible=d["accessible"],
                             maintenance_mode=d["maintenance_mode"]) for d in specs]
    valid = sorted(d["name"] for d in specs
                   if d["accessible"] and d["maintenance_mode"] in (None, "normal")
                   and d["type"] in ("VMFS", "NFS", "NFS41", "vsan")
                   and (regex is None or d["name"].startswith(regex)))
    rejected = sorted(set(d["name"] for d in specs) - set(valid))
    result = check("datastores", datastore_context(*stores, regex=regex))
    if not valid:
        assert (result.status, result.objects) == (Status.FAIL, rejected)
    elif rejected:
        assert (result.status, result.objects) == (Status.WARN, rejected)
        assert result.detail.startswith(f"Nova uses {', '.join(valid)}; ")
    elif regex is None and len(valid) > 1:
        assert (result.status, result.objects) == (Status.WARN, valid)
    else:
        assert (result.status, result.objects) == (Status.PASS, valid)


# ------------------------------------------------------------------ shared-storage

def storage_context(cluster_hosts: list, *stores, regex: str | None = None) -> Context:
    profile = make_profile(vmware={"datastore_regex": regex} if regex else {})
    cluster = make_cluster(hosts=cluster_hosts, datastores=list(stores))
    return make_context(make_inventory(cluster), profile=profile)


def test_shared_storage_mounted_everywhere_passes() -> None:
    result = check("shared-storage", make_context())
    assert result.status == Status.PASS
    assert result.detail == "1 datastore mounted and accessible on all 3 connected hosts"
    assert result.objects == ["shared"]


def test_shared_storage_mounted_on_all_but_one_host_fails() -> None:
    h = hosts(3)
    result = check("shared-storage", storage_context(
        h, make_datastore("nfs", mounted_on=h[:2])))
    assert result.status == Status.FAIL
    assert result.detail == "nfs is not mounted on C0_H2"
    assert result.objects == ["C0_H2", "nfs"]
    assert "only shared storage is supported" in result.remedy


def test_shared_storage_names_each_datastore_and_the_hosts_it_lacks() -> None:
    h = hosts(3)
    result = check("shared-storage", storage_context(
        h, make_datastore("a", mounted_on=h[:1]), make_datastore("b", mounted_on=h[1:])))
    assert result.detail == "a is not mounted on C0_H1, C0_H2; b is not mounted on C0_H0"
    assert result.objects == ["C0_H0", "C0_H1", "C0_H2", "a", "b"]


def test_shared_storage_a_mount_that_is_not_accessible_counts_as_missing() -> None:
    h = hosts(2)
    result = check("shared-storage", storage_context(
        h, make_datastore("nfs", mounted_on=h[:1], inaccessible_on=h[1:])))
    assert (result.status, result.detail) == (Status.FAIL, "nfs is not mounted on C0_H1")


def test_shared_storage_a_disconnected_host_needs_no_mount() -> None:
    h = hosts(2, make_host("C0_H2", connection_state="disconnected"))
    result = check("shared-storage", storage_context(h, make_datastore("nfs", mounted_on=h[:2])))
    assert result.status == Status.PASS
    assert result.detail == "1 datastore mounted and accessible on all 2 connected hosts"


def test_shared_storage_a_host_in_maintenance_still_needs_the_mount() -> None:
    h = hosts(1, make_host("C0_H1", in_maintenance=True))
    result = check("shared-storage", storage_context(h, make_datastore("nfs", mounted_on=h[:1])))
    assert (result.status, result.detail) == (Status.FAIL, "nfs is not mounted on C0_H1")


def test_shared_storage_only_the_datastores_nova_uses() -> None:
    h = hosts(2)
    result = check("shared-storage", storage_context(
        h, make_datastore("nfs-os"), make_datastore("local", mounted_on=h[:1]), regex="nfs"))
    assert (result.status, result.objects) == (Status.PASS, ["nfs-os"])


MOUNT = st.sampled_from(["mounted", "inaccessible", "none"])


@given(st.lists(st.tuples(st.sampled_from(["connected", "disconnected"]), MOUNT, MOUNT),
                min_size=1, max_size=5))
def test_shared_storage_fails_exactly_for_connected_hosts_without_a_mount(specs) -> None:
    h = [make_host(f"h{i}", connection_state=state) for i, (state, _, _) in enumerate(specs)]
    stores = [make_datastore(name, mounted_on=[x for x, s in zip(h, specs, strict=True)
                                               if s[column] == "mounted"],
                             inaccessible_on=[x for x, s in zip(h, specs, strict=True)
                                              if s[column] == "inaccessible"])
              for column, name in ((1, "a"), (2, "b"))]
    result = check("shared-storage", storage_context(h, *stores, regex=None))
    lacking = {name: [f"h{i}" for i, s in enumerate(specs)
                      if s[0] == "connected" and s[column] != "mounted"]
               for column, name in ((1, "a"), (2, "b"))}
    if any(lacking.values()):
        assert result.status == Status.FAIL
        assert result.objects == sorted({n for name, hs in lacking.items() if hs
                                         for n in [name, *hs]})
    elif all(s[0] == "disconnected" for s in specs):
        assert (result.status, result.detail) == (
            Status.SKIP, "no connected host to check (see the hosts check)")
    else:
        assert result.status == Status.PASS


def test_shared_storage_skips_when_nova_uses_no_datastore() -> None:
    result = check("shared-storage", storage_context(
        hosts(2), make_datastore("d", accessible=False)))
    assert result.status == Status.SKIP
    assert result.detail == "no datastore passes Nova's filter (see datastores)"


# ------------------------------------------------------------------ dedicated

def dedicated_context() -> tuple[Inventory, list[Host], dict[str, Datastore]]:
    """Cluster C0 (hosts C0_H0, C0_H1; datastores nfs-os and local) and cluster other (host
    O_H0, datastore other-ds); the caller places the VMs."""
    h = hosts(2)
    stores = {"nfs-os": make_datastore("nfs-os"), "local": make_datastore("local"),
              "other-ds": make_datastore("other-ds")}
    other_host = make_host("O_H0")
    inventory = make_inventory(
        make_cluster(hosts=h, datastores=[stores["nfs-os"], stores["local"]]),
        make_cluster("other", hosts=[other_host], datastores=[stores["other-ds"]]))
    return inventory, [*h, other_host], stores


def run_dedicated(inventory: Inventory, vms: list[VirtualMachine],
                  regex: str | None = None) -> CheckResult:
    for vm in vms:
        inventory.vms[vm.moid] = vm
    profile = make_profile(vmware={"datastore_regex": regex} if regex else {})
    return check("dedicated", make_context(inventory, profile=profile))


def test_dedicated_nova_vms_only_pass() -> None:
    inventory, h, stores = dedicated_context()
    result = run_dedicated(inventory, [
        make_vm("instance-1", host=h[0], datastores=[stores["nfs-os"]], nova_uuid="u1")])
    assert (result.status, result.detail) == (
        Status.PASS, "every VM in the cluster and on its datastores is Nova's")


def test_dedicated_a_foreign_vm_on_a_cluster_host_warns() -> None:
    inventory, h, stores = dedicated_context()
    result = run_dedicated(inventory, [make_vm("stranger", host=h[1],
                                               datastores=[stores["other-ds"]])])
    assert result.status == Status.WARN
    assert result.detail == ("1 VM Nova did not create (stranger): OpenStack reports wrong "
                             "usage")
    assert result.objects == ["stranger"]
    assert result.remedy == "move other VMs off the cluster and its datastores, as the guide says"


def test_dedicated_a_foreign_vm_on_a_datastore_nova_uses_warns_from_another_cluster() -> None:
    inventory, h, stores = dedicated_context()
    result = run_dedicated(inventory, [make_vm("guest", host=h[2],
                                               datastores=[stores["nfs-os"]])])
    assert (result.status, result.objects) == (Status.WARN, ["guest"])


def test_dedicated_ignores_vms_outside_the_cluster_and_its_used_datastores() -> None:
    inventory, h, stores = dedicated_context()
    # local is rejected by the regex: a VM on it, on another cluster's host, is not Nova's concern
    result = run_dedicated(inventory, [
        make_vm("elsewhere", host=h[2], datastores=[stores["other-ds"]]),
        make_vm("on-local", host=h[2], datastores=[stores["local"]])], regex="nfs")
    assert result.status == Status.PASS


def test_dedicated_names_five_foreign_vms_then_an_ellipsis() -> None:
    inventory, h, _ = dedicated_context()
    result = run_dedicated(inventory, [make_vm(f"vm{i}", host=h[0]) for i in (6, 2, 4, 1, 5, 3)])
    assert result.detail == ("6 VMs Nova did not create (vm1, vm2, vm3, vm4, vm5, ...): "
                             "OpenStack reports wrong usage")
    assert result.objects == ["vm1", "vm2", "vm3", "vm4", "vm5", "vm6"]
    inventory, h, _ = dedicated_context()
    result = run_dedicated(inventory, [make_vm(f"vm{i}", host=h[0]) for i in range(1, 6)])
    assert "(vm1, vm2, vm3, vm4, vm5): OpenStack" in result.detail


def test_dedicated_names_spawn_leftovers_apart() -> None:
    inventory, h, _ = dedicated_context()
    result = run_dedicated(inventory, [
        make_vm("vmwctl-smoke-1", host=h[0], vmwctl_marker="2026-11-25"),
        # the spawn marker wins over Nova's: a spawn test VM carries both
        make_vm("vmwctl-smoke-0", host=h[1], vmwctl_marker="2026-11-25", nova_uuid="u"),
        make_vm("stranger", host=h[0])])
    assert result.status == Status.WARN
    assert result.detail == ("1 VM Nova did not create (stranger): OpenStack reports wrong "
                             "usage; 2 VMs left by 'vmwctl vm spawn' (vmwctl-smoke-0, "
                             "vmwctl-smoke-1)")
    assert result.objects == ["stranger", "vmwctl-smoke-0", "vmwctl-smoke-1"]
    assert result.remedy.endswith("; delete spawn leftovers with 'vmwctl vm delete'")


EAM = "com.vmware.vim.eam"


@pytest.mark.parametrize("names", [["vCLS (1)", "vCLS (2)", "vCLS (3)"],
                                   ["vCLS-4c1f3b0e-8a2d-4d6e-9b7a-0f1e2d3c4b5a"], ["vCLS"]])
def test_dedicated_does_not_count_vsphere_cluster_services_vms(names: list[str]) -> None:
    inventory, h, stores = dedicated_context()
    result = run_dedicated(inventory, [
        make_vm(name, host=h[0], datastores=[stores["nfs-os"]], managed_by=EAM)
        for name in names] + [make_vm("instance-1", host=h[1], nova_uuid="u1")])
    assert result.status == Status.PASS
    assert result.detail == (
        "every VM in the cluster and on its datastores is Nova's; "
        f"{len(names)} system VM{'s' if len(names) > 1 else ''} of vSphere Cluster Services "
        f"not counted ({', '.join(sorted(names))})")
    assert result.objects == []


def test_dedicated_lists_vms_of_other_solutions_apart_and_novas_managed_by_as_novas() -> None:
    inventory, h, _ = dedicated_context()
    result = run_dedicated(inventory, [
        make_vm("nsx-edge-01", host=h[0], managed_by="com.vmware.nsx.management.nsxt"),
        make_vm("agent-7", host=h[0], managed_by=EAM),  # EAM, but not a vCLS VM
        make_vm("vCLS (1)", host=h[1]),  # the name alone does not make a system VM
        make_vm("instance-2", host=h[1], managed_by="org.openstack.compute"),
        make_vm("vCLS (2)", host=h[1], managed_by=EAM)])
    assert result.status == Status.WARN
    assert result.detail == (
        "1 VM Nova did not create (vCLS (1)): OpenStack reports wrong usage; 2 VMs managed by "
        "other solutions (agent-7 (com.vmware.vim.eam), nsx-edge-01 "
        "(com.vmware.nsx.management.nsxt)); 1 system VM of vSphere Cluster Services not "
        "counted (vCLS (2))")
    assert result.objects == ["vCLS (1)", "agent-7", "nsx-edge-01"]
    assert "the solution that manages a VM moves or removes it" in result.remedy


# ------------------------------------------------------------------ vnc-firewall

def judge_firewall(cluster_hosts: list, vms: Iterable[VirtualMachine] = (),
                   **vmware) -> CheckResult:
    """The vnc-firewall verdict; the range is the guide's 5900-6105 unless ``vmware`` says."""
    profile = make_profile(vmware={"vnc_port_total": 206, **vmware})
    inventory = make_inventory(make_cluster(hosts=cluster_hosts))
    for vm in vms:
        inventory.vms[vm.moid] = vm
    ctx = make_context(inventory, profile=profile)
    return judge_vnc_firewall(ctx, firewall_data(ctx.connected_hosts))


def holding(*ports: int) -> list[VirtualMachine]:
    """VMs (anywhere in the vCenter) that hold these VNC ports."""
    return [make_vm(f"holder-{i}", vnc_port=port) for i, port in enumerate(ports)]


def test_vnc_firewall_the_range_open_everywhere_passes() -> None:
    result = judge_firewall(hosts(3), holding(5900, 5901, 7000))
    assert result.status == Status.PASS
    assert result.detail == ("VNC ports 5900-6105 open on all 3 hosts (rulesets vnc); 2 VMs of "
                             "the vCenter hold a port, 204 free")
    assert result.objects == ["vnc"]
    assert judge_firewall(hosts(1)).detail == ("VNC ports 5900-6105 open on the 1 host "
                                               "(rulesets vnc); 0 VMs of the vCenter hold a "
                                               "port, 206 free")


@pytest.mark.parametrize(("ranges", "closed", "status", "fit"), [
    (((5900, 6104),), "6105", Status.WARN, 205),
    (((5900, 6000), (6002, 6105)), "6001", Status.WARN, 101),
    (((5901, 6105),), "5900", Status.FAIL, 0),
])
def test_vnc_firewall_one_port_short_warns_until_nova_reaches_it(
        ranges, closed: str, status: Status, fit: int) -> None:
    h = hosts(1, make_host("C0_H1", firewall=[make_ruleset("partial", *ranges)]))
    result = judge_firewall(h)
    assert result.status == status
    assert result.objects == ["C0_H1"]
    whole = ("install the VNC firewall VIB on every host ('vmwctl firewall vib build --ports "
             "5900-6105' then 'vmwctl firewall vib install')")
    if status == Status.WARN:
        assert result.detail == (
            f"only part of VNC ports 5900-6105 is open (C0_H1 leaves {closed} closed): {fit} "
            f"more consoles fit before Nova hands out port {closed}, which is closed (0 VMs of "
            "the vCenter hold a port of the range)")
        assert result.remedy.startswith(f"set [vmware] vnc_port_total = {fit} in nova.conf and "
                                        "the profile, so that Nova hands out only the open "
                                        f"ports, or {whole}")
    else:
        assert result.detail == ("the first VNC port Nova hands out, 5900, is closed; C0_H1 "
                                 "leaves 5900 closed")
        assert result.remedy.startswith(whole)


def test_vnc_firewall_counts_the_consoles_that_fit_and_fails_once_they_are_used_up() -> None:
    partial = [make_host("h", firewall=[make_ruleset("vnc", (5900, 6000))])]  # a real host's
    result = judge_firewall(partial, holding(*range(5900, 5950), 7000))
    assert result.status == Status.WARN
    assert "51 more consoles fit before Nova hands out port 6001" in result.detail
    assert "(50 VMs of the vCenter hold a port of the range)" in result.detail
    assert "vnc_port_total = 101" in result.remedy
    result = judge_firewall(partial, holding(*range(5900, 6000)))
    assert (result.status, "1 more console fit" in result.detail) == (Status.WARN, True)
    result = judge_firewall(partial, holding(*range(5900, 6001)))
    assert result.status == Status.FAIL
    assert result.detail == ("the next VNC port Nova hands out, 6001, is closed: the open "
                             "ports before it are used up (101 VMs of the vCenter hold a port "
                             "of the range); h leaves 6001-6105 closed")
    assert "vnc_port_total" not in result.remedy  # fewer ports would not help


def test_vnc_firewall_novas_default_range_with_the_guides_vib_warns() -> None:
    profile = make_profile()  # vnc_port_total unset: Nova's 10000 ports
    ctx = make_context(make_inventory(make_cluster()), profile=profile)
    result = judge_vnc_firewall(ctx, firewall_data(ctx.connected_hosts))
    assert result.status == Status.WARN
    assert result.detail.startswith("only part of VNC ports 5900-15899 is open (C0_H0 leaves "
                                    "6106-15899 closed; C0_H1 leaves")
    assert "206 more consoles fit before Nova hands out port 6106" in result.detail
    assert "vnc_port_total = 206" in result.remedy
    assert "--ports 5900-15899" in result.remedy


def test_vnc_firewall_a_fully_open_range_fails_when_every_port_is_held() -> None:
    result = judge_firewall(hosts(1), holding(5900, 5901), vnc_port_total=2)
    assert result.status == Status.FAIL
    assert result.detail == ("VNC ports 5900-5901 are open, but 2 VMs of the vCenter hold all 2 "
                             "of them: the next spawn fails (ConsolePortRangeExhausted)")


def test_vnc_firewall_rulesets_combine_and_ignore_what_does_not_open_inbound_tcp() -> None:
    firewall = [make_ruleset("low", (5900, 6000)), make_ruleset("high", (6001, 6105)),
                make_ruleset("off", (5800, 6200), enabled=False),
                make_ruleset("udp", (5800, 6200), protocol="udp"),
                make_ruleset("out", (5800, 6200), direction="outbound")]
    result = judge_firewall([make_host("h", firewall=firewall)])
    assert (result.status, result.objects) == (Status.PASS, ["high", "low"])
    result = judge_firewall([make_host("h", firewall=firewall[2:])])
    assert result.detail == ("the first VNC port Nova hands out, 5900, is closed; h leaves "
                             "5900-6105 closed")


def test_vnc_firewall_judges_the_profiles_range() -> None:
    result = judge_firewall(hosts(1), vnc_port_total=207)
    assert result.status == Status.WARN
    assert "(C0_H0 leaves 6106 closed): 206 more consoles fit" in result.detail
    result = judge_firewall(hosts(1), vnc_port=6000, vnc_port_total=10000)
    assert result.detail.startswith("only part of VNC ports 6000-15999 is open (C0_H0 leaves "
                                     "6106-15999 closed): 106 more consoles fit")


@pytest.mark.parametrize(("version", "status"), [
    ("6.7.0", Status.FAIL), ("6.9.9", Status.FAIL), ("7.0", Status.WARN), ("7.0.0", Status.WARN),
    ("8.0.2", Status.WARN)])
def test_vnc_firewall_esxi_7_has_no_vnc_server(version: str, status: Status) -> None:
    h = [make_host("old", firewall=[make_ruleset()]),
         make_host("new", version=version, firewall=[])]
    result = judge_firewall(h)
    assert result.status == status
    if status == Status.WARN:
        assert result.detail == ("VNC ports 5900-6105 open on the 1 host (rulesets vnc); 0 VMs "
                                 "of the vCenter hold a port, 206 free; no VNC server on new "
                                 "(ESXi 7.0 and later)")
        assert result.objects == ["new"]
        assert "use the MKS console ([mks] enabled = true" in result.remedy


def test_vnc_firewall_only_esxi_7_hosts_points_to_mks() -> None:
    result = judge_firewall([make_host("a", version="7.0.3", firewall=[]),
                             make_host("b", version="8.0.2", firewall=[])])
    assert result.status == Status.WARN
    assert result.detail == ("no VNC server on 2 hosts (a, b): ESXi 7.0 and later have none, "
                             "Nova's VNC consoles cannot connect")
    assert result.remedy.startswith("ESXi 7.0 and later have no VNC server: use the MKS console")


def test_vnc_firewall_closed_ports_fail_before_esxi_7_warns() -> None:
    h = [make_host("old", firewall=[]), make_host("new", version="7.0.3", firewall=[])]
    result = judge_firewall(h)
    assert (result.status, result.objects) == (Status.FAIL, ["new", "old"])


def test_vnc_firewall_a_host_whose_firewall_was_not_read_opens_nothing() -> None:
    ctx = make_context()
    result = judge_vnc_firewall(ctx, firewall_data(ctx.connected_hosts[:2]))
    assert result.status == Status.FAIL  # Nova's 10000 ports, and none open on C0_H2
    assert "C0_H2 leaves 5900-15899 closed" in result.detail
    ctx = make_context(profile=make_profile(vmware={"vnc_port_total": 206}))
    result = judge_vnc_firewall(ctx, firewall_data(ctx.connected_hosts[:2]))
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H2"])


def test_vnc_firewall_judges_connected_hosts_only() -> None:
    h = hosts(1, make_host("gone", connection_state="disconnected", firewall=[]),
              make_host("maint", in_maintenance=True, firewall=[]))
    result = judge_firewall(h)
    assert result.status == Status.FAIL
    assert result.objects == ["maint"]  # in maintenance but connected: still judged


def test_vnc_firewall_skips_and_gathers_nothing() -> None:
    ctx = make_context(profile=make_profile(vnc={"enabled": False}))
    assert gather_vnc_firewall(None, ctx) == FirewallData()  # vc=None: no read
    result = judge_vnc_firewall(ctx, FirewallData())
    assert (result.status, result.detail) == (
        Status.SKIP, "[vnc] enabled is false: Nova configures no VNC console")
    ctx = make_context(make_inventory(make_cluster(
        hosts=[make_host("h", connection_state="disconnected")])))
    assert gather_vnc_firewall(None, ctx) == FirewallData()
    result = judge_vnc_firewall(ctx, FirewallData())
    assert (result.status, result.detail) == (Status.SKIP, "no connected host to check")


# ------------------------------------------------------------------ privileges

def privilege_report(*, missing=(), not_propagated=()) -> PrivilegeReport:
    by_id = {p.id: p for p in GUIDE_PRIVILEGES}
    return PrivilegeReport("session", "svc-nova@vsphere.local", "/DC0", len(GUIDE_IDS),
                           missing=[by_id[i] for i in missing],
                           not_propagated=[by_id[i] for i in not_propagated])


def test_privileges_all_held_and_propagated_pass() -> None:
    result = judge_privileges(make_context(), PrivilegesData(privilege_report()))
    assert result.status == Status.PASS
    assert result.detail == ("svc-nova@vsphere.local holds all 44 privileges of the guide on "
                             "/DC0, propagated")
    assert result.objects == ["/DC0"]


def test_privileges_missing_ones_are_named_by_the_guides_labels() -> None:
    report = privilege_report(missing=["Datastore.Browse", "Folder.Create"])
    result = judge_privileges(make_context(), PrivilegesData(report))
    assert result.status == Status.FAIL
    assert result.detail == ("svc-nova@vsphere.local lacks 2 of the guide's 44 privileges on "
                             "/DC0: Datastore > Browse datastore, Folder > Create folder")
    assert result.objects == ["Datastore.Browse", "Folder.Create"]
    assert result.remedy == ("grant the role with the guide's privileges on the Datacenter, "
                             "propagated: 'vmwctl role create --grant svc-nova@vsphere.local'")


def test_privileges_not_propagated_to_the_cluster_fails() -> None:
    report = privilege_report(not_propagated=GUIDE_IDS)
    result = judge_privileges(make_context(), PrivilegesData(report))
    assert result.status == Status.FAIL
    assert result.detail == ("svc-nova@vsphere.local holds the privileges on /DC0 but not on "
                             "the cluster below it: the permission does not propagate")
    assert result.objects == GUIDE_IDS
    # what is missing on the datacenter itself is said first
    report = privilege_report(missing=["Folder.Create"], not_propagated=GUIDE_IDS)
    assert judge_privileges(make_context(), PrivilegesData(report)).objects == ["Folder.Create"]


def test_privileges_datacenter_is_the_clusters_else_the_only_one() -> None:
    two = ("DC0", "DC1")
    inventory = make_inventory(make_cluster(datacenter="DC1"), datacenters=two)
    assert privileges_datacenter(make_context(inventory)) == "datacenter-DC1"
    assert privileges_datacenter(make_context(cluster_name="Nope")) == "datacenter-DC0"
    assert privileges_datacenter(make_context(inventory, cluster_name="Nope")) is None
    inventory = make_inventory(make_cluster(datacenter=None), datacenters=two)
    assert privileges_datacenter(make_context(inventory)) is None


def test_privileges_skip_without_a_datacenter_and_gather_nothing() -> None:
    inventory = make_inventory(datacenters=("DC0", "DC1"))
    ctx = make_context(inventory, cluster_name="Nope")
    assert gather_privileges(None, ctx) == PrivilegesData()  # vc=None: no request
    result = remote_check("privileges", None)(ctx)
    assert result.status == Status.SKIP
    assert result.detail.startswith("no cluster to tell which datacenter to check")
    assert "'vmwctl check privileges --datacenter NAME'" in result.detail


# ------------------------------------------------------------------ hosts

def hosts_result(cluster_hosts: list) -> CheckResult:
    return check("hosts", make_context(make_inventory(make_cluster(hosts=cluster_hosts))))


def test_hosts_all_usable_pass() -> None:
    result = hosts_result(hosts(3))
    assert (result.status, result.detail) == (
        Status.PASS, "all 3 hosts connected and out of maintenance")


def test_hosts_some_unusable_warn_with_their_state() -> None:
    result = hosts_result(hosts(
        1, make_host("C0_H2", connection_state="disconnected"),
        make_host("C0_H1", in_maintenance=True),
        make_host("C0_H3", connection_state="notResponding")))
    assert result.status == Status.WARN
    assert result.detail == ("3 of 4 hosts give Nova nothing: C0_H1 (maintenance), C0_H2 "
                             "(disconnected), C0_H3 (notResponding)")
    assert result.objects == ["C0_H1", "C0_H2", "C0_H3"]
    assert result.remedy == "reconnect the hosts or take them out of maintenance mode"


def test_hosts_an_unknown_maintenance_state_counts_as_maintenance() -> None:
    result = hosts_result(hosts(2, make_host("C0_H2", in_maintenance=None)))
    assert (result.status, result.objects) == (Status.WARN, ["C0_H2"])
    assert result.detail.startswith("1 of 3 hosts gives Nova nothing: C0_H2 (")


def test_hosts_none_usable_fail() -> None:
    result = hosts_result([make_host("a", in_maintenance=True),
                           make_host("b", connection_state="disconnected")])
    assert result.status == Status.FAIL
    assert result.detail == "no host Nova can use: a (maintenance), b (disconnected)"
    result = hosts_result([make_host("only", in_maintenance=True)])
    assert (result.status, result.objects) == (Status.FAIL, ["only"])


# ------------------------------------------------------------------ image-cache

def leftover(path: str) -> Leftover:
    datastore, name = path[1:].split("] ")
    return Leftover(datastore, name, path, None)


def test_image_cache_leftovers_warn_sorted() -> None:
    data = ImageCacheData([leftover("[shared] vmware_temp/71bc"),
                           leftover("[shared] OSTACK_IMG_1234")])
    result = judge_image_cache(make_context(), data)
    assert result.status == Status.WARN
    assert result.detail == ("2 leftovers of failed spawns: [shared] OSTACK_IMG_1234, "
                             "[shared] vmware_temp/71bc")
    assert result.objects == ["[shared] OSTACK_IMG_1234", "[shared] vmware_temp/71bc"]
    assert result.remedy == "remove them with 'vmwctl cache purge --include-temp'"


def test_image_cache_clean_passes_naming_the_datastores_searched() -> None:
    ctx = make_context(make_inventory(make_cluster(datastores=[
        make_datastore("b"), make_datastore("a"), make_datastore("x", accessible=False)])))
    result = judge_image_cache(ctx, ImageCacheData())
    assert (result.status, result.detail) == (
        Status.PASS, "no vmware_temp or OSTACK_IMG_* leftovers on a, b")


def test_image_cache_skips_without_a_datastore_and_searches_none() -> None:
    ctx = make_context(make_inventory(make_cluster(datastores=[
        make_datastore("d", maintenance_mode="inMaintenance")])))
    assert gather_image_cache(None, ctx) == ImageCacheData()  # vc=None: no search
    result = judge_image_cache(ctx, ImageCacheData())
    assert (result.status, result.detail) == (
        Status.SKIP, "no datastore passes Nova's filter (see datastores)")


def test_leftovers_at_the_root_and_inside_vmware_temp() -> None:
    when = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    found = leftovers_at("ds", [("vmware_temp", when), ("OSTACK_IMG_1234", when),
                                ("keep-me", when), ("10.0.0.5_base", None)],
                         [("0f3a", None), ("71bc", when)])
    assert [(x.path, x.modified) for x in found] == [
        ("[ds] vmware_temp/0f3a", None), ("[ds] vmware_temp/71bc", when),
        ("[ds] OSTACK_IMG_1234", when)]
    # Nova keeps the vmware_temp folder itself after every spawn
    assert leftovers_at("ds", [("vmware_temp", when)], []) == []
