"""``check nova-conf`` (and ``check prereqs --nova-conf``): every ``nova-conf.*`` id's edges,
on a parsed nova.conf and an inventory built in memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from inventory import (
    VC_URL,
    firewall_data,
    make_cluster,
    make_context,
    make_datastore,
    make_host,
    make_inventory,
    make_profile,
    make_ruleset,
)

from vmwctl.checks.model import CheckResult, Context, FirewallData, Status
from vmwctl.checks.nova_conf import check_nova_conf, gather_nova_conf, judge_nova_conf
from vmwctl.profile.nova_conf import parse_ini
from vmwctl.profile.schema import Profile

GOOD = """\
[DEFAULT]
compute_driver = vmwareapi.VMwareVCDriver
reserved_host_memory_mb = 0
[vmware]
host_ip = vc.example.test
host_username = svc-nova@vsphere.local
host_password = secret
cluster_name = C0
"""
ONLINE = ("nova-conf.cluster", "nova-conf.datastores", "nova-conf.vnc-ports")


def conf(text: str = GOOD, **edits: str):
    """GOOD with options replaced or added: edits like vmware__insecure="True"; "" removes."""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            current[key] = value
    for key, value in edits.items():
        section, name = key.split("__")
        options = sections.setdefault("DEFAULT" if section == "DEFAULT" else section, {})
        if value == "":
            options.pop(name, None)
        else:
            options[name] = value
    body = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items())
                   for name, options in sections.items())
    return parse_ini(body, Path("nova.conf"))


def profile() -> Profile:
    return make_profile(vmware={"host_ip": "vc.example.test"})


def results(nova_conf, ctx: Context | None = None, data: FirewallData | None = None,
            prof: Profile | None = None) -> dict[str, CheckResult]:
    if ctx is not None and data is None:
        data = firewall_data(ctx.connected_hosts)
    found = judge_nova_conf(nova_conf, prof or profile(), ctx, data or FirewallData())
    assert len(found) == 9
    return {r.id: r for r in found}


def one(check_id: str, nova_conf, ctx: Context | None = None, **kwargs) -> CheckResult:
    return results(nova_conf, ctx, **kwargs)[f"nova-conf.{check_id}"]


def test_a_good_nova_conf_passes_offline_and_online() -> None:
    offline = results(conf())
    assert {k: r.status for k, r in offline.items() if k not in ONLINE} == {
        "nova-conf.driver": Status.PASS, "nova-conf.required": Status.PASS,
        "nova-conf.reserved-memory": Status.PASS, "nova-conf.tls": Status.PASS,
        "nova-conf.obsolete": Status.PASS, "nova-conf.datastore-regex": Status.PASS}
    assert [(offline[k].status, offline[k].detail) for k in ONLINE] == [
        (Status.SKIP, "offline")] * 3
    online = results(conf(vmware__vnc_port_total="206"), make_context())
    assert {r.status for r in online.values()} == {Status.PASS}


# ------------------------------------------------------------------ offline checks

def test_driver() -> None:
    assert one("driver", conf()).detail == "compute_driver = vmwareapi.VMwareVCDriver"
    result = one("driver", conf(DEFAULT__compute_driver="libvirt.LibvirtDriver"))
    assert result.status == Status.FAIL
    assert result.detail == "nova.conf:2: compute_driver is libvirt.LibvirtDriver"
    assert result.remedy == "set [DEFAULT] compute_driver = vmwareapi.VMwareVCDriver"
    result = one("driver", conf(DEFAULT__compute_driver=""))
    assert (result.status, result.detail) == (Status.FAIL, "nova.conf: compute_driver is not set")


def test_required() -> None:
    assert one("required", conf()).detail == ("[vmware] host_ip, host_username, host_password "
                                              "and cluster_name are set")
    result = one("required", conf(vmware__host_password="", vmware__cluster_name=""))
    assert result.status == Status.FAIL
    assert result.detail == "[vmware] lacks host_password, cluster_name"
    assert result.objects == ["host_password", "cluster_name"]


@pytest.mark.parametrize(("value", "status", "detail"), [
    ("0", Status.PASS, "reserved_host_memory_mb = 0"),
    ("511", Status.PASS, "reserved_host_memory_mb = 511"),
    ("513", Status.PASS, "reserved_host_memory_mb = 513"),
    ("512", Status.WARN, "reserved_host_memory_mb is 512 (nova.conf:3); the guide recommends 0, "
                         "as the driver reports the memory VMs can use"),
    ("", Status.WARN, "reserved_host_memory_mb is 512 (the default); the guide recommends 0, "
                      "as the driver reports the memory VMs can use"),
    ("lots", Status.FAIL, "reserved_host_memory_mb 'lots' is not a number"),
])
def test_reserved_memory(value: str, status: Status, detail: str) -> None:
    result = one("reserved-memory", conf(DEFAULT__reserved_host_memory_mb=value))
    assert (result.status, result.detail) == (status, detail)
    if status == Status.WARN:
        assert result.remedy == "set [DEFAULT] reserved_host_memory_mb = 0"


@pytest.mark.parametrize(("insecure", "ca_file", "status"), [
    ("", "", Status.PASS), ("False", "", Status.PASS), ("True", "/etc/vc.pem", Status.PASS),
    ("True", "", Status.WARN), ("yes", "", Status.WARN), ("1", "", Status.WARN),
    ("ON", "", Status.WARN)])
def test_tls(insecure: str, ca_file: str, status: Status) -> None:
    result = one("tls", conf(vmware__insecure=insecure, vmware__ca_file=ca_file))
    assert result.status == status
    if status == Status.WARN:
        assert result.detail == ("nova.conf:9: insecure = True without ca_file: nova-compute "
                                 "does not verify the vCenter's certificate")
    else:
        assert result.detail == "the vCenter certificate is verified"


def test_obsolete() -> None:
    assert one("obsolete", conf()).detail == "no removed or deprecated options"
    result = one("obsolete", conf(vmware__wsdl_location="file:///wsdl",
                                  DEFAULT__image_cache_subdirectory_name="_cache"))
    assert result.status == Status.WARN
    assert result.detail == (
        "nova.conf:10: [vmware] wsdl_location (removed in Nova 16.0.0 (Pike)); nova.conf:4: "
        "[DEFAULT] image_cache_subdirectory_name (deprecated: [image_cache] subdirectory_name)")
    assert result.remedy == "remove removed options; move deprecated ones to [image_cache]"


def test_datastore_regex() -> None:
    assert one("datastore-regex", conf()).detail == ("no datastore_regex: every valid datastore "
                                                     "of the cluster may be used")
    result = one("datastore-regex", conf(vmware__datastore_regex="nfs-.*"))
    assert (result.status, result.detail) == (Status.PASS, "datastore_regex 'nfs-.*' compiles")
    result = one("datastore-regex", conf(vmware__datastore_regex="nfs-("))
    assert result.status == Status.FAIL
    assert result.detail.startswith("nova.conf:9: datastore_regex 'nfs-(' is invalid (")
    assert result.detail.endswith("): nova-compute refuses to start")


# ------------------------------------------------------------------ online checks

def test_another_vcenter_skips_the_online_checks_and_reads_nothing() -> None:
    other = conf(vmware__host_ip="vc2.example.test")
    ctx = make_context()
    assert gather_nova_conf(None, other, profile(), ctx) == FirewallData()  # vc=None: no read
    found = results(other, ctx)
    reason = ("nova.conf names vCenter vc2.example.test, the profile connects to "
              "vc.example.test: use a profile for that vCenter")
    assert [(found[k].status, found[k].detail) for k in ONLINE] == [(Status.SKIP, reason)] * 3
    # without host_ip the profile's vCenter is assumed
    assert one("cluster", conf(vmware__host_ip=""), ctx).status == Status.PASS


def test_offline_reads_nothing() -> None:
    assert gather_nova_conf(None, conf(), profile(), None) == FirewallData()
    found = {r.id: r for r in check_nova_conf(conf(), None, None)}
    assert [found[k].status for k in ONLINE] == [Status.SKIP] * 3


def test_cluster() -> None:
    result = one("cluster", conf(), make_context())
    assert (result.status, result.detail, result.objects) == (
        Status.PASS, "cluster C0 exists (/DC0/host/C0)", ["/DC0/host/C0"])
    result = one("cluster", conf(vmware__cluster_name="Nope"), make_context())
    assert result.status == Status.FAIL
    assert result.detail == f"nova.conf:8: no cluster named 'Nope' in {VC_URL}"
    result = one("cluster", conf(vmware__cluster_name=""), make_context())
    assert (result.status, result.detail) == (
        Status.SKIP, "no cluster_name (see nova-conf.required)")


def test_cluster_named_twice() -> None:
    inventory = make_inventory(
        make_cluster(datacenter="DC0", moid="domain-c1", hosts=[make_host("a")]),
        make_cluster(datacenter="DC1", moid="domain-c2", hosts=[make_host("b")]),
        datacenters=("DC0", "DC1"))
    found = results(conf(), make_context(inventory))
    result = found["nova-conf.cluster"]
    assert (result.status, result.detail) == (Status.FAIL, "2 clusters are named 'C0'")
    assert result.objects == ["/DC0/host/C0", "/DC1/host/C0"]
    assert found["nova-conf.datastores"].detail == "no cluster to look in"
    assert found["nova-conf.vnc-ports"].detail == "no cluster to look in"


def datastores_context() -> Context:
    return make_context(make_inventory(make_cluster(datastores=[
        make_datastore("nfs-os-2"), make_datastore("nfs-os-1"), make_datastore("local"),
        make_datastore("nfs-off", accessible=False)])))


def test_datastores() -> None:
    result = one("datastores", conf(vmware__datastore_regex="nfs"), datastores_context())
    assert (result.status, result.detail, result.objects) == (
        Status.PASS, "selects nfs-os-1, nfs-os-2", ["nfs-os-1", "nfs-os-2"])
    result = one("datastores", conf(), datastores_context())
    assert result.objects == ["local", "nfs-os-1", "nfs-os-2"]
    result = one("datastores", conf(vmware__datastore_regex="os"), datastores_context())
    assert result.status == Status.FAIL
    assert result.detail == "datastore_regex 'os' selects no valid datastore of the cluster"
    result = one("datastores", conf(vmware__datastore_regex="("), datastores_context())
    assert (result.status, result.detail) == (Status.SKIP, "datastore_regex is invalid")


def vnc_context(*hosts) -> Context:
    return make_context(make_inventory(make_cluster(hosts=list(hosts) or None)))


@pytest.mark.parametrize(("port", "total", "status", "detail"), [
    ("5900", "206", Status.PASS, "VNC ports 5900-6105 open on all 3 hosts (rulesets vnc)"),
    ("", "206", Status.PASS, "VNC ports 5900-6105 open on all 3 hosts (rulesets vnc)"),
    ("5900", "207", Status.FAIL, "VNC ports 5900-6106 are not all open: C0_H0 leaves 6106 "
                                 "closed; C0_H1 leaves 6106 closed; C0_H2 leaves 6106 closed"),
    ("5899", "1", Status.FAIL, "VNC ports 5899 are not all open: C0_H0 leaves 5899 closed; "
                               "C0_H1 leaves 5899 closed; C0_H2 leaves 5899 closed"),
    ("6105", "0", Status.PASS, "VNC ports 6105 open on all 3 hosts (rulesets vnc)"),
    ("", "", Status.FAIL, "VNC ports 5900-15899 are not all open: C0_H0 leaves 6106-15899 "
                          "closed; C0_H1 leaves 6106-15899 closed; C0_H2 leaves 6106-15899 "
                          "closed"),
])
def test_vnc_ports_range_edges(port: str, total: str, status: Status, detail: str) -> None:
    result = one("vnc-ports", conf(vmware__vnc_port=port, vmware__vnc_port_total=total),
                 vnc_context())
    assert (result.status, result.detail) == (status, detail)
    if status == Status.FAIL:
        assert result.objects == ["C0_H0", "C0_H1", "C0_H2"]


def test_vnc_ports_esxi_7_and_hosts_not_read() -> None:
    ctx = vnc_context(make_host("a", version="7.0.3", firewall=[]), make_host("b"))
    result = one("vnc-ports", conf(vmware__vnc_port_total="206"), ctx)
    assert (result.status, result.objects) == (Status.WARN, ["a"])
    ctx = vnc_context(make_host("a"), make_host("b"))
    result = one("vnc-ports", conf(vmware__vnc_port_total="206"), ctx,
                 data=firewall_data(ctx.connected_hosts[:1]))
    assert (result.status, result.objects) == (Status.FAIL, ["b"])


def test_vnc_ports_skips_and_fails_without_reading() -> None:
    cases = [
        (conf(vnc__enabled="False"), vnc_context(), Status.SKIP, "[vnc] enabled is false"),
        (conf(vmware__vnc_port="59O0"), vnc_context(), Status.FAIL,
         "vnc_port or vnc_port_total is not a number"),
        (conf(vmware__cluster_name="Nope"), vnc_context(), Status.SKIP, "no cluster to look in"),
        (conf(), vnc_context(make_host("h", connection_state="disconnected")), Status.SKIP,
         "no connected host to check"),
    ]
    for nova_conf, ctx, status, detail in cases:
        assert gather_nova_conf(None, nova_conf, profile(), ctx) == FirewallData()
        result = one("vnc-ports", nova_conf, ctx)
        assert (result.status, result.detail) == (status, detail)
    # [vnc] enabled is on unless it says otherwise
    nova_conf = conf(vnc__enabled="true", vmware__vnc_port_total="206")
    assert one("vnc-ports", nova_conf, vnc_context()).status == Status.PASS


def test_vnc_ports_judge_a_ruleset_of_another_range() -> None:
    ctx = vnc_context(make_host("h", firewall=[make_ruleset("custom", (6000, 6099))]))
    result = one("vnc-ports", conf(vmware__vnc_port="6000", vmware__vnc_port_total="100"), ctx)
    assert (result.status, result.objects) == (Status.PASS, ["custom"])
