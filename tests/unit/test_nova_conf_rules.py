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
    make_opaque_network,
    make_portgroup,
    make_profile,
    make_ruleset,
    make_switch,
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
IDS = ("driver", "required", "values", "unknown", "obsolete", "reserved-memory", "tls",
       "connection", "image-cache", "console", "pbm", "network", "datastore-regex", "cluster",
       "datastores", "vnc-ports")
NO_SPBM = ("vmwctl does not check that a storage policy exists: it does not talk to the SPBM "
           "endpoint")


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
            prof: Profile | None = None,
            files: dict[str, bool] | None = None) -> dict[str, CheckResult]:
    if ctx is not None and data is None:
        data = firewall_data(ctx.connected_hosts)
    found = judge_nova_conf(nova_conf, prof or profile(), ctx, data or FirewallData(), files)
    assert [r.id for r in found] == [f"nova-conf.{name}" for name in IDS]
    return {r.id: r for r in found}


def on_a_switch(cluster_hosts: list | None = None, **networks) -> Context:
    """The default cluster, its hosts' br-int a DV port group of DVS0 (Neutron's model)."""
    inventory = make_inventory(make_cluster(hosts=cluster_hosts),
                               networks=networks.get("networks", (make_portgroup("br-int"),)),
                               switches=(make_switch(),))
    return make_context(inventory)


def one(check_id: str, nova_conf, ctx: Context | None = None, **kwargs) -> CheckResult:
    return results(nova_conf, ctx, **kwargs)[f"nova-conf.{check_id}"]


def test_a_good_nova_conf_passes_offline_and_online() -> None:
    offline = results(conf())
    assert {k: r.status for k, r in offline.items() if k not in ONLINE} == {
        f"nova-conf.{name}": Status.PASS for name in IDS if f"nova-conf.{name}" not in ONLINE}
    assert [(offline[k].status, offline[k].detail) for k in ONLINE] == [
        (Status.SKIP, "offline")] * 3
    online = results(conf(vmware__vnc_port_total="206"), on_a_switch())
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


# ------------------------------------------------------------------ values, as oslo.config

def test_values_pass() -> None:
    assert one("values", conf()).detail == "6 Nova options set, all valid"
    assert one("values", conf(vmware__use_linked_clone="No")).detail == (
        "7 Nova options set, all valid")


def test_use_linked_clone_maybe_fails_with_its_line() -> None:
    result = one("values", conf(vmware__use_linked_clone="maybe"))
    assert (result.status, result.detail, result.objects) == (
        Status.FAIL, "nova.conf:9: [vmware] use_linked_clone = 'maybe': not a boolean "
                     "(true/false, yes/no, on/off, 1/0)", ["[vmware] use_linked_clone"])
    assert result.remedy == ("fix the values: oslo.config refuses them, and nova-compute fails "
                             "where it reads one")


@pytest.mark.parametrize(("edits", "detail"), [
    ({"vmware__host_port": "70000"},
     "nova.conf:9: [vmware] host_port = '70000': above the maximum 65535"),
    ({"vmware__host_port": ""}, None),  # removed: the default
    ({"vmware__vnc_port_total": "-1"},
     "nova.conf:9: [vmware] vnc_port_total = '-1': below the minimum 0"),
    ({"vmware__connection_pool_size": "5"},
     "nova.conf:9: [vmware] connection_pool_size = '5': below the minimum 10"),
    ({"vmware__task_poll_interval": "fast"},
     "nova.conf:9: [vmware] task_poll_interval = 'fast': not a number"),
    ({"vmware__host_ip": "vc_1.example"},
     "nova.conf:5: [vmware] host_ip = 'vc_1.example': not an IP address or a host name"),
    ({"vmware__serial_port_proxy_uri": "http://vspc:13370"},
     "nova.conf:9: [vmware] serial_port_proxy_uri = 'http://vspc:13370': the scheme must be "
     "telnet or telnets"),
    ({"vmware__serial_port_proxy_uri": "http://op:pw@vspc"},
     "nova.conf:9: [vmware] serial_port_proxy_uri = (not shown: it may hold a secret): the "
     "scheme must be telnet or telnets"),
    ({"mks__mksproxy_base_url": "mks.example:6090"},
     "nova.conf:10: [mks] mksproxy_base_url = 'mks.example:6090': not a URI with a scheme and "
     "a host"),
    ({"vnc__auth_schemes": "none,tls"},
     "nova.conf:10: [vnc] auth_schemes = 'none,tls': 'tls' is not one of none, vencrypt"),
    ({"DEFAULT__vnc_enabled": "maybe"},
     "nova.conf:4: [DEFAULT] vnc_enabled = 'maybe': not a boolean (true/false, yes/no, on/off, "
     "1/0)"),
    ({"DEFAULT__reserved_host_memory_mb": "lots", "vmware__insecure": "sometimes"},
     "nova.conf:3: [DEFAULT] reserved_host_memory_mb = 'lots': not an integer; nova.conf:9: "
     "[vmware] insecure = 'sometimes': not a boolean (true/false, yes/no, on/off, 1/0)"),
    ({"image_cache__manager_interval": "-2"},
     "nova.conf:10: [image_cache] manager_interval = '-2': below the minimum -1"),
    ({"vmware__datastore_regex": "x" * 50 + "|"}, None),  # any string is a string
])
def test_values_fail_with_file_and_line(edits: dict[str, str], detail: str | None) -> None:
    result = one("values", conf(**edits))
    if detail is None:
        assert result.status == Status.PASS
        return
    assert (result.status, result.detail) == (Status.FAIL, detail)


def test_an_empty_number_is_not_the_default() -> None:
    text = GOOD + "vnc_port =\nconsole_delay_seconds =\n"
    result = one("values", parse_ini(text, Path("nova.conf")))
    assert (result.status, result.detail) == (
        Status.FAIL, "nova.conf:9: [vmware] vnc_port = '': empty: oslo.config reads None, not "
                     "Nova's default 5900")


def test_unknown() -> None:
    result = one("unknown", conf(DEFAULT__debug="True", vmware__wsdl_location="x"))
    assert (result.status, result.detail) == (
        Status.PASS, "every option of [vmware], [image_cache], [vnc] and [mks] is one Nova "
                     "34.0.0 has")
    result = one("unknown", conf(vmware__use_linked_clones="true", vnc__enable="false",
                                 mks__enbled="true", vmware__host_password_file="/x"))
    assert result.status == Status.WARN
    assert result.detail == (
        "nova.conf:9: [vmware] use_linked_clones is not a Nova option (did you mean "
        "'use_linked_clone'?); nova.conf:10: [vmware] host_password_file is not a Nova option "
        "(did you mean 'host_password'?); nova.conf:12: [vnc] enable is not a Nova option (did "
        "you mean 'enabled'?); nova.conf:14: [mks] enbled is not a Nova option (did you mean "
        "'enabled'?)")
    assert result.objects == ["[vmware] use_linked_clones", "[vmware] host_password_file",
                              "[vnc] enable", "[mks] enbled"]
    assert result.remedy == ("fix or remove them: oslo.config ignores what it does not know, "
                             "and Nova runs with the default")


def test_a_section_spelt_in_another_case_is_unknown() -> None:
    text = GOOD + "[VMware]\nuse_linked_clone = false\n[Default]\ndebug = true\n"
    result = one("unknown", parse_ini(text, Path("nova.conf")))
    assert result.detail == ("nova.conf:9: [VMware] is not [vmware]: Nova reads section names "
                             "as written; nova.conf:11: [Default] is not [DEFAULT]: Nova reads "
                             "section names as written")
    assert result.objects == ["[VMware]", "[Default]"]


def test_obsolete() -> None:
    assert one("obsolete", conf()).detail == "no removed or deprecated options"
    result = one("obsolete", conf(vmware__wsdl_location="file:///wsdl",
                                  DEFAULT__image_cache_subdirectory_name="_cache",
                                  DEFAULT__network_manager="nova.network.manager.FlatManager",
                                  vnc__keymap="de"))
    assert result.status == Status.WARN
    assert result.detail == (
        "nova.conf:4: [DEFAULT] image_cache_subdirectory_name is deprecated: Nova reads "
        "[image_cache] subdirectory_name; nova.conf:5: [DEFAULT] network_manager was removed "
        "in Nova 21.0.0 (Ussuri), with nova-network; nova.conf:11: [vmware] wsdl_location was "
        "removed in Nova 16.0.0 (Pike), unused since vCenter 5.1 became the minimum; "
        "nova.conf:13: [vnc] keymap was removed in Nova 22.0.0 (Victoria); use [vmware] "
        "vnc_keymap instead")
    assert result.objects == ["[DEFAULT] image_cache_subdirectory_name",
                              "[DEFAULT] network_manager", "[vmware] wsdl_location",
                              "[vnc] keymap"]
    assert result.remedy == ("delete the removed options; rename the deprecated ones to the "
                             "names Nova reads")


def test_obsolete_says_which_name_wins() -> None:
    result = one("obsolete", conf(DEFAULT__vnc_enabled="false", vnc__enabled="true"))
    assert result.detail == ("nova.conf:4: [DEFAULT] vnc_enabled is deprecated: Nova reads "
                             "[vnc] enabled, which is set too (nova.conf:11) and wins")
    # and the one that wins is the one the other checks read
    assert one("console", conf(DEFAULT__vnc_enabled="false", vnc__enabled="true")).detail == (
        "VNC on ports 5900-15899, keymap en-us; MKS off")
    assert one("console", conf(DEFAULT__vnc_enabled="false")).detail == "VNC off; MKS off"


# ------------------------------------------------------------------ reserved memory

@pytest.mark.parametrize(("value", "status", "detail"), [
    ("0", Status.PASS, "nova.conf:3: reserved_host_memory_mb = 0: the scheduler sees all the "
                       "memory the driver reports"),
    ("512", Status.WARN, "nova.conf:3: reserved_host_memory_mb = 512 hides 512 MB from the "
                         "scheduler; the driver already reports the cluster's effective "
                         "memory, so the guide recommends 0"),
    ("1", Status.WARN, "nova.conf:3: reserved_host_memory_mb = 1 hides 1 MB from the "
                       "scheduler; the driver already reports the cluster's effective memory, "
                       "so the guide recommends 0"),
    ("4096", Status.WARN, "nova.conf:3: reserved_host_memory_mb = 4096 hides 4,096 MB from the "
                          "scheduler; the driver already reports the cluster's effective "
                          "memory, so the guide recommends 0"),
    ("", Status.WARN, "reserved_host_memory_mb is not set, and Nova's default 512 hides 512 MB "
                      "from the scheduler; the driver already reports the cluster's effective "
                      "memory, so the guide recommends 0"),
    ("lots", Status.SKIP, "reserved_host_memory_mb is invalid (see nova-conf.values)"),
])
def test_reserved_memory(value: str, status: Status, detail: str) -> None:
    result = one("reserved-memory", conf(DEFAULT__reserved_host_memory_mb=value))
    assert (result.status, result.detail) == (status, detail)
    if status == Status.WARN:
        assert result.remedy == "set [DEFAULT] reserved_host_memory_mb = 0"
        assert result.objects == ["[DEFAULT] reserved_host_memory_mb"]


def test_reserved_memory_online_in_the_clusters_figures() -> None:
    # three hosts of 65,536 MB: Nova reports 196,608 MB
    result = one("reserved-memory", conf(DEFAULT__reserved_host_memory_mb=""), make_context())
    assert (result.status, result.detail) == (
        Status.WARN, "reserved_host_memory_mb is not set, and Nova's default 512 hides 512 MB "
                     "of the cluster's 196,608 MB (0.3%) from the scheduler; the guide "
                     "recommends 0")
    # Nova's total: hosts in maintenance or disconnected do not count
    ctx = make_context(make_inventory(make_cluster(hosts=[
        make_host("a", memory_mb=4096), make_host("b", memory_mb=8192),
        make_host("c", memory_mb=65536, in_maintenance=True)])))
    result = one("reserved-memory", conf(DEFAULT__reserved_host_memory_mb="2048"), ctx)
    assert result.detail == ("nova.conf:3: reserved_host_memory_mb = 2048 hides 2,048 MB of the "
                             "cluster's 12,288 MB (16.7%) from the scheduler; the guide "
                             "recommends 0")
    result = one("reserved-memory", conf(DEFAULT__reserved_host_memory_mb="12288"), ctx)
    assert (result.status, result.detail) == (
        Status.FAIL, "nova.conf:3: reserved_host_memory_mb = 12288 hides all of the cluster's "
                     "12,288 MB from the scheduler: no instance fits")
    assert one("reserved-memory", conf(), ctx).status == Status.PASS
    # another vCenter, or no such cluster: the offline figure
    assert "of the cluster's" not in one(
        "reserved-memory", conf(DEFAULT__reserved_host_memory_mb="", vmware__cluster_name="X"),
        make_context()).detail


# ------------------------------------------------------------------ TLS

@pytest.mark.parametrize(("insecure", "ca_file", "status", "detail"), [
    ("", "", Status.PASS, "the vCenter certificate is verified against the system's CA "
                          "certificates"),
    ("False", "", Status.PASS, "the vCenter certificate is verified against the system's CA "
                               "certificates"),
    ("", "/etc/vc.pem", Status.PASS, "the vCenter certificate is verified against ca_file "
                                     "/etc/vc.pem"),
    ("True", "", Status.WARN, "nova.conf:9: insecure = True without ca_file: nova-compute does "
                              "not verify the vCenter's certificate"),
    ("yes", "", Status.WARN, "nova.conf:9: insecure = True without ca_file: nova-compute does "
                             "not verify the vCenter's certificate"),
    ("ON", "", Status.WARN, "nova.conf:9: insecure = True without ca_file: nova-compute does "
                            "not verify the vCenter's certificate"),
    ("True", "/etc/vc.pem", Status.WARN, "nova.conf:9: insecure = True is ignored: ca_file is "
                                         "set (nova.conf:10), and Nova verifies the vCenter's "
                                         "certificate against it"),
])
def test_tls(insecure: str, ca_file: str, status: Status, detail: str) -> None:
    result = one("tls", conf(vmware__insecure=insecure, vmware__ca_file=ca_file))
    assert (result.status, result.detail) == (status, detail)
    if status == Status.WARN:
        assert result.objects == ["[vmware] insecure"]


def test_tls_notes_a_ca_file_missing_here(tmp_path: Path) -> None:
    nova_conf = conf(vmware__ca_file="/etc/vc.pem")
    result = one("tls", nova_conf, files={"/etc/vc.pem": False})
    assert (result.status, result.detail) == (
        Status.PASS, "the vCenter certificate is verified against ca_file /etc/vc.pem "
                     "(/etc/vc.pem is not on this machine: make sure it is on the compute node)")
    found = {r.id: r for r in check_nova_conf(nova_conf, None, None)}  # gathers the files
    assert found["nova-conf.tls"].detail == result.detail
    bundle = tmp_path / "vc.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    found = {r.id: r for r in check_nova_conf(conf(vmware__ca_file=str(bundle)), None, None)}
    assert found["nova-conf.tls"].detail == (f"the vCenter certificate is verified against "
                                             f"ca_file {bundle}")
    for odd in ("/etc/\0vc.pem", "/" + "x" * 5000):  # no such file, and no crash
        found = {r.id: r for r in check_nova_conf(conf(vmware__ca_file=odd), None, None)}
        assert found["nova-conf.tls"].detail.endswith("is not on this machine: make sure it is "
                                                      "on the compute node)")


# ------------------------------------------------------------------ connection

def test_connection_pass() -> None:
    result = one("connection", conf())
    assert (result.status, result.detail) == (
        Status.PASS, "host_port 443, api_retry_count 10, task_poll_interval 0.5 s, "
                     "connection_pool_size 10")
    result = one("connection", conf(vmware__host_port="8443", vmware__api_retry_count="3",
                                    vmware__task_poll_interval="5",
                                    vmware__connection_pool_size="20"))
    assert (result.status, result.detail) == (
        Status.PASS, "host_port 8443, api_retry_count 3, task_poll_interval 5.0 s, "
                     "connection_pool_size 20")
    result = one("connection", conf(vmware__host_port="https"))
    assert (result.status, result.detail) == (
        Status.PASS, "host_port invalid (see nova-conf.values), api_retry_count 10, "
                     "task_poll_interval 0.5 s, connection_pool_size 10")


@pytest.mark.parametrize(("edits", "status", "detail"), [
    ({"vmware__host_port": "0"}, Status.FAIL,
     "nova.conf:9: [vmware] host_port = 0: no vCenter answers on port 0"),
    ({"vmware__api_retry_count": "0"}, Status.WARN,
     "nova.conf:9: [vmware] api_retry_count = 0: Nova does not retry a vCenter call after a "
     "connection failure, so one dropped connection fails the operation"),
    ({"vmware__task_poll_interval": "0"}, Status.FAIL,
     "nova.conf:9: [vmware] task_poll_interval = 0: Nova polls the vCenter's tasks without "
     "pause, a load on vCenter and nova-compute"),
    ({"vmware__task_poll_interval": "-0.5"}, Status.FAIL,
     "nova.conf:9: [vmware] task_poll_interval = -0.5: Nova polls the vCenter's tasks without "
     "pause, a load on vCenter and nova-compute"),
    ({"vmware__task_poll_interval": "nan"}, Status.FAIL,
     "nova.conf:9: [vmware] task_poll_interval = nan: not a finite number of seconds"),
    ({"vmware__task_poll_interval": "5.5"}, Status.WARN,
     "nova.conf:9: [vmware] task_poll_interval = 5.5: every vCenter task Nova waits on (a "
     "spawn waits on CreateVM_Task, ReconfigVM_Task, Rename_Task, PowerOnVM_Task and more) "
     "ends up to 5.5 s late; above 5 s, ten times Nova's default, spawns, snapshots and "
     "deletes slow down visibly"),
])
def test_connection_findings(edits: dict[str, str], status: Status, detail: str) -> None:
    result = one("connection", conf(**edits))
    assert (result.status, result.detail) == (status, detail)
    name = next(iter(edits)).split("__")[1]
    assert result.objects == [f"[vmware] {name}"]


def test_connection_worst_finding_wins() -> None:
    result = one("connection", conf(vmware__api_retry_count="0", vmware__host_port="0"))
    assert result.status == Status.FAIL
    assert result.objects == ["[vmware] host_port", "[vmware] api_retry_count"]


# ------------------------------------------------------------------ image cache

@pytest.mark.parametrize(("edits", "detail"), [
    ({}, "cache folder '<my_ip>_base' on each datastore (my_ip is not set: Nova uses the "
         "compute node's IPv4 address); every 2400 s Nova removes the images unused for 86400 s"),
    ({"DEFAULT__my_ip": "10.0.0.5"}, "cache folder '10.0.0.5_base' on each datastore; every "
                                     "2400 s Nova removes the images unused for 86400 s"),
    ({"vmware__cache_prefix": "shared"}, "cache folder 'shared_base' on each datastore; every "
                                         "2400 s Nova removes the images unused for 86400 s"),
    ({"vmware__cache_prefix": "", "DEFAULT__my_ip": "10.0.0.5"},
     "cache folder '10.0.0.5_base' on each datastore; every 2400 s Nova removes the images "
     "unused for 86400 s"),
    ({"image_cache__remove_unused_base_images": "false"},
     "cache folder '_base' on each datastore; Nova does not age it (remove_unused_base_images "
     "is false)"),
    ({"DEFAULT__remove_unused_base_images": "false", "DEFAULT__image_cache_subdirectory_name":
      "cache"}, "cache folder 'cache' on each datastore; Nova does not age it "
                "(remove_unused_base_images is false)"),
    ({"image_cache__manager_interval": "-1", "DEFAULT__my_ip": "10.0.0.5"},
     "cache folder '10.0.0.5_base' on each datastore; Nova does not age it "
     "(manager_interval = -1)"),
    ({"image_cache__manager_interval": "0", "DEFAULT__my_ip": "10.0.0.5",
      "image_cache__remove_unused_original_minimum_age_seconds": "0"},
     "cache folder '10.0.0.5_base' on each datastore; every 60 s Nova removes the images "
     "unused for 0 s"),
])
def test_image_cache_pass_names_the_folder_nova_uses(edits: dict[str, str],
                                                     detail: str) -> None:
    result = one("image-cache", conf(**edits))
    assert (result.status, result.detail) == (Status.PASS, detail)


@pytest.mark.parametrize(("edits", "status", "detail"), [
    ({"image_cache__subdirectory_name": "cache/base"}, Status.FAIL,
     "nova.conf:10: [image_cache] subdirectory_name = 'cache/base' cannot be part of a "
     "datastore folder name: it holds '/'"),
    ({"DEFAULT__image_cache_subdirectory_name": "[base]"}, Status.FAIL,
     "nova.conf:4: [DEFAULT] image_cache_subdirectory_name = '[base]' cannot be part of a "
     "datastore folder name: it holds '[' ']'"),
    ({"image_cache__subdirectory_name": ".."}, Status.FAIL,
     "nova.conf:10: [image_cache] subdirectory_name = '..' cannot be part of a datastore "
     "folder name: '..' is not a folder name"),
    ({"vmware__cache_prefix": "a\\b"}, Status.FAIL,
     "nova.conf:9: [vmware] cache_prefix = 'a\\\\b' cannot be part of a datastore folder "
     "name: it holds '\\\\'"),
    ({"vmware__cache_prefix": "'shared '"}, Status.FAIL,
     "nova.conf:9: [vmware] cache_prefix = 'shared ' cannot be part of a datastore folder "
     "name: it starts or ends with white space"),
    ({"image_cache__remove_unused_original_minimum_age_seconds": "-1"}, Status.WARN,
     "nova.conf:10: [image_cache] remove_unused_original_minimum_age_seconds = -1 is "
     "negative: it acts as 0, and Nova deletes an unused image at the aging pass after the one "
     "that marks it"),
])
def test_image_cache_findings(edits: dict[str, str], status: Status, detail: str) -> None:
    result = one("image-cache", conf(**edits))
    assert (result.status, result.detail) == (status, detail)
    section, name = next(iter(edits)).split("__")
    assert result.objects == [f"[{section}] {name}"]


def test_an_empty_subdirectory_name_fails() -> None:
    text = GOOD + "[image_cache]\nsubdirectory_name =\n"
    result = one("image-cache", parse_ini(text, Path("nova.conf")))
    assert result.detail == ("nova.conf:10: [image_cache] subdirectory_name = '' cannot be part "
                             "of a datastore folder name: it is empty")


# ------------------------------------------------------------------ consoles

@pytest.mark.parametrize(("edits", "detail"), [
    ({}, "VNC on ports 5900-15899, keymap en-us; MKS off"),
    ({"vmware__vnc_port": "6000", "vmware__vnc_port_total": "100", "vmware__vnc_keymap": "de"},
     "VNC on ports 6000-6099, keymap de; MKS off"),
    ({"vmware__vnc_port": "55536"}, "VNC on ports 55536-65535, keymap en-us; MKS off"),
    ({"vnc__enabled": "false", "vmware__vnc_port_total": "0"}, "VNC off; MKS off"),
    ({"mks__enabled": "true", "mks__mksproxy_base_url": "https://mks.example/"},
     "VNC on ports 5900-15899, keymap en-us; MKS on, proxy https://mks.example/"),
])
def test_console_pass(edits: dict[str, str], detail: str) -> None:
    result = one("console", conf(**edits))
    assert (result.status, result.detail) == (Status.PASS, detail)


@pytest.mark.parametrize(("edits", "status", "detail", "objects"), [
    ({"mks__enabled": "true"}, Status.FAIL,
     "nova.conf:10: [mks] enabled = True without mksproxy_base_url: Nova's default "
     "http://127.0.0.1:6090/ only works in a browser on the MKS proxy's own machine",
     ["[mks] mksproxy_base_url"]),
    ({"vmware__vnc_port": "55537"}, Status.FAIL,
     "[vmware] vnc_port_total: the VNC ports 55537-65536 pass 65535", ["[vmware] vnc_port_total"]),
    ({"vmware__vnc_port_total": "60000"}, Status.FAIL,
     "nova.conf:9: [vmware] vnc_port_total: the VNC ports 5900-65899 pass 65535",
     ["[vmware] vnc_port_total"]),
    ({"vmware__vnc_port_total": "0"}, Status.FAIL,
     "nova.conf:9: [vmware] vnc_port_total = 0: no VNC port to give, every spawn fails "
     "(ConsolePortRangeExhausted)", ["[vmware] vnc_port_total"]),
    ({"vmware__vnc_keymap": "''"}, Status.WARN,
     "nova.conf:9: [vmware] vnc_keymap is empty: VNC consoles get no keyboard layout",
     ["[vmware] vnc_keymap"]),
])
def test_console_findings(edits: dict[str, str], status: Status, detail: str,
                          objects: list[str]) -> None:
    result = one("console", conf(**edits))
    assert (result.status, result.detail, result.objects) == (status, detail, objects)


# ------------------------------------------------------------------ storage policies

@pytest.mark.parametrize(("edits", "detail"), [
    ({}, "pbm_enabled is false: Nova places by datastore_regex and free space"),
    ({"vmware__pbm_default_policy": "gold"},
     "pbm_enabled is false: Nova places by datastore_regex and free space (pbm_default_policy "
     "set, and ignored)"),
    ({"vmware__pbm_enabled": "true", "vmware__pbm_default_policy": "gold"},
     "storage policies on, default policy 'gold'"),
    ({"vmware__pbm_enabled": "true", "vmware__pbm_default_policy": "gold",
      "vmware__pbm_wsdl_location": "https://vc.example/pbm/pbmService.wsdl"},
     "storage policies on, default policy 'gold'"),
])
def test_pbm_pass_says_the_policy_is_not_checked(edits: dict[str, str], detail: str) -> None:
    result = one("pbm", conf(**edits))
    assert (result.status, result.detail) == (Status.PASS, f"{detail}; {NO_SPBM}")


@pytest.mark.parametrize(("edits", "status", "detail", "objects"), [
    ({"vmware__pbm_enabled": "true"}, Status.FAIL,
     "nova.conf:9: [vmware] pbm_enabled = True without pbm_default_policy: nova-compute "
     "refuses to start (PbmDefaultPolicyUnspecified)", ["[vmware] pbm_default_policy"]),
    ({"vmware__pbm_wsdl_location": "/opt/SDK/spbm/wsdl/pbmService.wsdl"}, Status.FAIL,
     "nova.conf:9: [vmware] pbm_wsdl_location = '/opt/SDK/spbm/wsdl/pbmService.wsdl' is not a "
     "file:// or https:// URL", ["[vmware] pbm_wsdl_location"]),
    ({"vmware__pbm_wsdl_location": "http://vc.example/pbm.wsdl"}, Status.FAIL,
     "nova.conf:9: [vmware] pbm_wsdl_location = 'http://vc.example/pbm.wsdl' is not a file:// "
     "or https:// URL", ["[vmware] pbm_wsdl_location"]),
    ({"vmware__pbm_enabled": "true", "vmware__pbm_default_policy": "gold",
      "vmware__datastore_regex": "nfs.*"}, Status.WARN,
     "nova.conf:11: [vmware] datastore_regex is ignored: with pbm_enabled Nova places by "
     "storage policy", ["[vmware] datastore_regex"]),
])
def test_pbm_findings(edits: dict[str, str], status: Status, detail: str,
                      objects: list[str]) -> None:
    result = one("pbm", conf(**edits))
    assert (result.status, result.detail, result.objects) == (status, f"{detail}; {NO_SPBM}",
                                                              objects)


def test_pbm_notes_a_wsdl_file_missing_here() -> None:
    nova_conf = conf(vmware__pbm_enabled="true", vmware__pbm_default_policy="gold",
                     vmware__pbm_wsdl_location="file:///opt/SDK/spbm/wsdl/pbmService.wsdl")
    result = one("pbm", nova_conf, files={"/opt/SDK/spbm/wsdl/pbmService.wsdl": False})
    assert (result.status, result.detail) == (
        Status.PASS, "storage policies on, default policy 'gold'; /opt/SDK/spbm/wsdl/"
                     f"pbmService.wsdl is not on this machine: make sure it is on the compute "
                     f"node; {NO_SPBM}")


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


ALL_OPEN = "open on all 3 hosts (rulesets vnc); 0 VMs of the vCenter hold a port"
CLOSING = "C0_H0 leaves {0} closed; C0_H1 leaves {0} closed; C0_H2 leaves {0} closed"


@pytest.mark.parametrize(("port", "total", "status", "detail"), [
    ("5900", "206", Status.PASS, f"VNC ports 5900-6105 {ALL_OPEN}, 206 free"),
    ("", "206", Status.PASS, f"VNC ports 5900-6105 {ALL_OPEN}, 206 free"),
    ("5900", "207", Status.WARN, f"only part of VNC ports 5900-6106 is open "
     f"({CLOSING.format(6106)}): 206 more consoles fit before Nova hands out port 6106, which "
     "is closed (0 VMs of the vCenter hold a port of the range)"),
    ("5899", "1", Status.FAIL, f"the first VNC port Nova hands out, 5899, is closed; "
     f"{CLOSING.format(5899)}"),
    ("6105", "0", Status.PASS, f"VNC ports 6105 {ALL_OPEN}, 1 free"),
    ("", "", Status.WARN, f"only part of VNC ports 5900-15899 is open "
     f"({CLOSING.format('6106-15899')}): 206 more consoles fit before Nova hands out port "
     "6106, which is closed (0 VMs of the vCenter hold a port of the range)"),
])
def test_vnc_ports_range_edges(port: str, total: str, status: Status, detail: str) -> None:
    result = one("vnc-ports", conf(vmware__vnc_port=port, vmware__vnc_port_total=total),
                 vnc_context())
    assert (result.status, result.detail) == (status, detail)
    if status != Status.PASS:
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


# ------------------------------------------------------------------ network

def test_network_offline_says_the_model_the_file_implies() -> None:
    result = one("network", conf())
    assert (result.status, result.detail) == (
        Status.PASS, "network_model: neutron (Neutron, without [vmware] integration_bridge); the "
        "hosts are not checked (offline, or no single cluster)")
    result = one("network", conf(vmware__integration_bridge="br-int"))
    assert result.status == Status.PASS
    assert result.detail.startswith(
        "network_model: nsx-mh ([vmware] integration_bridge is set (nova.conf:9)): Nova backs "
        "every NIC with opaque network id 'br-int', for the NSX-MH plugin only; ")


def test_network_nova_network_warns_and_an_unknown_manager_is_said() -> None:
    result = one("network", conf(DEFAULT__network_manager="nova.network.manager.VlanManager"))
    assert result.status == Status.WARN
    assert "nova-network was removed in Nova 21.0.0 (Ussuri)" in result.detail
    result = one("network", conf(DEFAULT__network_manager="my.Manager"))
    assert (result.status, result.detail.split(":")[0]) == (
        Status.WARN, "ignored [DEFAULT] network_manager = my.Manager (nova.conf")


def test_network_online_judges_the_file_s_model_on_the_cluster_s_hosts() -> None:
    result = one("network", conf(), on_a_switch())
    assert (result.status, result.objects) == (Status.PASS, ["DV switch 'DVS0'"])
    # the file's integration bridge is looked for: an opaque network one host lacks
    hosts = [make_host("C0_H0", networks=("nsx",)), make_host("C0_H1", networks=("br-int",))]
    ctx = on_a_switch(hosts, networks=(make_opaque_network("nsx", opaque_id="bridge-1"),
                                       make_portgroup("br-int")))
    result = one("network", conf(vmware__integration_bridge="bridge-1"), ctx)
    assert (result.status, result.objects) == (Status.FAIL, ["C0_H1"])
    assert result.detail.endswith("; integration bridge 'bridge-1' (an opaque network or a port "
                                  "group) is missing on C0_H1")
    # nova-network's flat bridge, from the file
    edits = {"DEFAULT__network_manager": "FlatDHCPManager", "DEFAULT__flat_network_bridge": "br"}
    result = one("network", conf(**edits), on_a_switch())
    assert (result.status, result.objects) == (Status.FAIL, ["br-int"])
    assert "DV port group 'br-int' has port binding earlyBinding" in result.detail
