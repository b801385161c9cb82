"""The lab simulator's hosts install VIBs through the vSphere API, as ESXi does.

Each host has its own HostImageConfigManager (acceptance level, installed VIBs)
and HostPatchManager (InstallHostPatchV2_Task), and its HostFirewallSystem
answers RefreshFirewall. The VIBs are built here with the standard library (an
ar archive holding descriptor.xml, sig.pkcs7 and a gzipped tar payload with a
firewall file), placed in a datastore directory and installed by host path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pyVmomi import vim, vmodl

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.faults import VSphereFault
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab

DS = "LocalDS_0"
RULESET = "vmwctl-vnc"

VNC_XML = f"""<?xml version="1.0"?>
<ConfigRoot>
  <service id='0000'>
    <id>{RULESET}</id>
    <rule id='0000'>
      <direction>inbound</direction>
      <protocol>tcp</protocol>
      <porttype>dst</porttype>
      <port>
        <begin>5900</begin>
        <end>6105</end>
      </port>
    </rule>
    <rule id='0001'>
      <direction>inbound</direction>
      <protocol>udp</protocol>
      <porttype>dst</porttype>
      <port>2377</port>
    </rule>
    <enabled>true</enabled>
    <required>false</required>
  </service>
  <service id='0001'>
    <id>vmwctl-spare</id>
    <rule id='0000'>
      <direction>outbound</direction>
      <protocol>tcp</protocol>
      <porttype>dst</porttype>
      <port>7000</port>
    </rule>
    <enabled>false</enabled>
    <required>false</required>
  </service>
</ConfigRoot>
"""


# ------------------------------------------------------------------ building VIBs

def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """A Unix ar archive as vibauthor writes one (GNU names ending in '/')."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = (f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n").encode()
        assert len(header) == 60
        out += header + data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def tgz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def build_vib(*, name: str = "vmwctl-firewall", version: str = "1.0.0-1",
              vendor: str = "VMW", acceptance: str = "community", live_install: bool = True,
              maintenance_mode: bool = False, firewall: str | None = VNC_XML,
              firewall_file: str = f"etc/vmware/firewall/{RULESET}.xml",
              corrupt: str | None = None) -> bytes:
    """A VIB; ``corrupt`` spoils one thing: sha256, gunzip-sha256, gunzip-sha1, size, payload."""
    files = {firewall_file: firewall.encode()} if firewall is not None else {}
    payload = tgz(files)
    unpacked = gzip.decompress(payload)
    sums = {"sha256": hashlib.sha256(payload).hexdigest(),
            "gunzip-sha256": hashlib.sha256(unpacked).hexdigest(),
            "gunzip-sha1": hashlib.sha1(unpacked).hexdigest()}
    if corrupt in sums:
        sums[corrupt] = "0" * len(sums[corrupt])
    size = len(payload) + (1 if corrupt == "size" else 0)
    descriptor = f"""<vib version="5.0">
  <type>bootbank</type>
  <name>{name}</name>
  <version>{version}</version>
  <vendor>{vendor}</vendor>
  <summary>Firewall rulesets for vmwctl</summary>
  <description>Opens the VNC ports Nova's consoles use</description>
  <release-date>2024-01-01T00:00:00</release-date>
  <urls/>
  <relationships><depends/><conflicts/><replaces/><provides/><compatibleWith/></relationships>
  <software-tags/>
  <system-requires>
    <maintenance-mode>{str(maintenance_mode).lower()}</maintenance-mode>
  </system-requires>
  <file-list><file>{firewall_file}</file></file-list>
  <acceptance-level>{acceptance}</acceptance-level>
  <live-install-allowed>{str(live_install).lower()}</live-install-allowed>
  <live-remove-allowed>true</live-remove-allowed>
  <cimom-restart>false</cimom-restart>
  <stateless-ready>true</stateless-ready>
  <overlay>false</overlay>
  <payloads>
    <payload name="fwrules" type="tgz" size="{size}">
      <checksum checksum-type="sha-256">{sums["sha256"]}</checksum>
      <checksum checksum-type="sha-256" verify-process="gunzip">{sums["gunzip-sha256"]}</checksum>
      <checksum checksum-type="sha-1" verify-process="gunzip">{sums["gunzip-sha1"]}</checksum>
    </payload>
  </payloads>
</vib>
"""
    members = [("descriptor.xml", descriptor.encode()), ("sig.pkcs7", b"")]
    if corrupt != "payload":
        members.append(("fwrules", payload))
    return ar_archive(members)


def vib_id(name: str = "vmwctl-firewall", version: str = "1.0.0-1", vendor: str = "VMW") -> str:
    return f"{vendor}_bootbank_{name}_{version}"


# ------------------------------------------------------------------ helpers

def hosts(vc) -> list:
    view = vc.content.viewManager.CreateContainerView(vc.content.rootFolder, [vim.HostSystem],
                                                      True)
    try:
        return sorted(view.view, key=lambda host: host.name)
    finally:
        view.Destroy()


def place(ds_dir: Path, data: bytes, name: str = "fw.vib") -> str:
    (ds_dir / name).write_bytes(data)
    return f"/vmfs/volumes/{DS}/{name}"


def install(vc, host, *urls: str):
    task = host.configManager.patchManager.InstallHostPatchV2_Task(vibUrls=list(urls))
    return wait_for_task(vc, task, what=f"installing on {host.name}")


def outcome(result) -> dict[str, object]:
    root = ET.fromstring(result.xmlResult)
    assert root.tag == "esxupdate-response"
    vib_result = root.find("vib-install-result")
    return {
        "reboot": vib_result.findtext("reboot-required"),
        "message": vib_result.findtext("message"),
        **{tag: [v.text for v in vib_result.find(tag)]
           for tag in ("vibs-installed", "vibs-removed", "vibs-skipped")},
    }


def acceptance(host) -> str:
    return host.configManager.imageConfigManager.HostImageConfigGetAcceptance()


def set_acceptance(host, level: str) -> None:
    host.configManager.imageConfigManager.UpdateHostImageAcceptanceLevel(newAcceptanceLevel=level)


def rulesets(host) -> dict[str, object]:
    return {r.key: r for r in host.config.firewall.ruleset}


def packages(host) -> dict[str, object]:
    return {p.name: p for p in host.configManager.imageConfigManager.FetchSoftwarePackages()}


# ------------------------------------------------------------------ managers and acceptance

def test_every_host_has_its_own_image_and_patch_managers(vc) -> None:
    all_hosts = hosts(vc)
    assert len(all_hosts) == 3
    images = [h.configManager.imageConfigManager for h in all_hosts]
    patches = [h.configManager.patchManager for h in all_hosts]
    assert len({m._moId for m in images}) == 3 and len({m._moId for m in patches}) == 3
    assert all(isinstance(m, vim.host.ImageConfigManager) for m in images)
    assert all(isinstance(m, vim.host.PatchManager) for m in patches)
    assert images[0]._moId == f"imageConfigManager-{all_hosts[0]._moId}"

    assert [acceptance(h) for h in all_hosts] == ["partner"] * 3
    set_acceptance(all_hosts[1], "community")
    assert [acceptance(h) for h in all_hosts] == ["partner", "community", "partner"]
    set_acceptance(all_hosts[1], "vmware_accepted")
    assert acceptance(all_hosts[1]) == "vmware_accepted"

    base = packages(all_hosts[0])["esx-base"]
    assert base.acceptanceLevel == "vmware_certified" and base.vendor == "VMware"
    profile = all_hosts[0].configManager.imageConfigManager.HostImageConfigGetProfile()
    assert profile.name.startswith("ESXi-") and profile.name.endswith("-standard")
    assert all_hosts[0].configManager.imageConfigManager.installDate() is not None


@pytest.mark.parametrize("level", ["PartnerSupported", "", "certified"])
def test_a_bad_acceptance_level_is_an_invalid_argument(vc, level) -> None:
    host = hosts(vc)[0]
    with pytest.raises(VSphereFault) as raised:
        set_acceptance(host, level)
    fault = raised.value.fault
    assert isinstance(fault, vmodl.fault.InvalidArgument)
    assert fault.invalidProperty == "newAcceptanceLevel"
    assert "Invalid acceptance level" in fault.msg
    assert acceptance(host) == "partner"


def test_the_acceptance_flag_sets_every_host(simulator) -> None:
    vc = simulator("-acceptance", "community").connect()
    assert [acceptance(h) for h in hosts(vc)] == ["community"] * 3


# ------------------------------------------------------------------ install

def test_community_vib_needs_community_then_installs_and_opens_the_firewall(vc, ds_dir) -> None:
    h0, h1, h2 = hosts(vc)
    url = place(ds_dir, build_vib())
    message = (f"VIB {vib_id()}'s acceptance level is community, which is not compliant with "
               "the ImageProfile acceptance level partner")
    with pytest.raises(OperationFailed, match=rf"PlatformConfigFault: {message}"):
        install(vc, h0, url)
    assert vib_id() not in [p.name for p in packages(h0).values()]
    assert RULESET not in rulesets(h0)

    set_acceptance(h0, "community")
    result = install(vc, h0, url)
    assert isinstance(result, vim.host.PatchManager.Result)
    assert outcome(result) == {"reboot": "false", "message": "Operation finished successfully.",
                               "vibs-installed": [vib_id()], "vibs-removed": [],
                               "vibs-skipped": []}

    # The live install loaded the VIB's rulesets into this host's firewall only.
    found = rulesets(h0)
    vnc = found[RULESET]
    assert vnc.enabled is True and vnc.required is False and vnc.label == RULESET
    assert vnc.allowedHosts.allIp is True
    assert [(r.port, r.endPort, r.direction, r.portType, r.protocol) for r in vnc.rule] == [
        (5900, 6105, "inbound", "dst", "tcp"), (2377, None, "inbound", "dst", "udp")]
    assert found["vmwctl-spare"].enabled is False
    assert found["vmwctl-spare"].rule[0].direction == "outbound"
    assert RULESET in {r.key for r in h0.configManager.firewallSystem.firewallInfo.ruleset}
    for other in (h1, h2):
        assert RULESET not in rulesets(other)
        assert vib_id() not in packages(other)

    pkg = packages(h0)["vmwctl-firewall"]
    assert (pkg.version, pkg.vendor, pkg.type, pkg.acceptanceLevel) == (
        "1.0.0-1", "VMW", "bootbank", "community")
    assert pkg.summary == "Firewall rulesets for vmwctl"
    assert pkg.creationDate is not None and pkg.maintenanceModeRequired is False
    assert pkg.capability.liveInstallAllowed is True
    assert h0.configManager.imageConfigManager.HostImageConfigGetProfile().name.startswith(
        "(Updated) ESXi-")

    # Reinstalling the same version changes nothing.
    assert outcome(install(vc, h0, url)) == {
        "reboot": "false", "message": "Host is not changed.", "vibs-installed": [],
        "vibs-removed": [], "vibs-skipped": [vib_id()]}
    assert list(rulesets(h0)).count(RULESET) == 1

    # The host cannot go back to partner while a community VIB is installed.
    with pytest.raises(VSphereFault) as raised:
        set_acceptance(h0, "partner")
    assert isinstance(raised.value.fault, vim.fault.PlatformConfigFault)
    assert f"due to installed VIBs {vib_id()} having a lower acceptance level" in \
        raised.value.fault.msg
    assert acceptance(h0) == "community"


def test_a_partner_vib_installs_at_partner(vc, ds_dir) -> None:
    host = hosts(vc)[2]
    result = install(vc, host, place(ds_dir, build_vib(acceptance="partner")))
    assert outcome(result)["vibs-installed"] == [vib_id()]
    assert packages(host)["vmwctl-firewall"].acceptanceLevel == "partner"


@pytest.mark.parametrize(("corrupt", "match"), [
    ("sha256", r"payload fwrules: failed to verify the sha-256 checksum: calculated [0-9a-f]{64}, "
               r"expected 0{64}"),
    ("gunzip-sha256", r"payload fwrules: failed to verify the sha-256 \(gunzip\) checksum"),
    ("gunzip-sha1", r"payload fwrules: failed to verify the sha-1 \(gunzip\) checksum"),
    ("size", r"payload fwrules is \d+ bytes, but descriptor.xml says \d+"),
    ("payload", r"payload fwrules is missing from the VIB"),
])
def test_a_corrupt_vib_fails_and_installs_nothing(vc, ds_dir, corrupt, match) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    with pytest.raises(OperationFailed, match=rf"PlatformConfigFault: VIB {vib_id()}: {match}"):
        install(vc, host, place(ds_dir, build_vib(corrupt=corrupt)))
    assert "vmwctl-firewall" not in packages(host)
    assert RULESET not in rulesets(host)


def test_a_vib_needing_maintenance_mode_is_refused_on_a_live_host(vc, ds_dir) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    for vib in (build_vib(maintenance_mode=True), build_vib(live_install=False)):
        with pytest.raises(OperationFailed, match=(
                rf"PlatformConfigFault: MaintenanceMode is required to remove: \[\], "
                rf"install: \[{vib_id()}\]\. Put the host in maintenance mode")):
            install(vc, host, place(ds_dir, vib))
    assert "vmwctl-firewall" not in packages(host)

    # In maintenance mode it installs, for the next boot: the firewall is unchanged.
    wait_for_task(vc, host.EnterMaintenanceMode_Task(timeout=0), what="entering maintenance")
    result = install(vc, host, place(ds_dir, build_vib(maintenance_mode=True)))
    assert outcome(result)["reboot"] == "true"
    assert outcome(result)["vibs-installed"] == [vib_id()]
    assert "vmwctl-firewall" in packages(host)
    host.configManager.firewallSystem.RefreshFirewall()
    assert RULESET not in rulesets(host)


def test_an_upgrade_replaces_the_vib_and_its_rulesets(vc, ds_dir) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    install(vc, host, place(ds_dir, build_vib(), "v1.vib"))
    fw = host.configManager.firewallSystem
    fw.DisableRuleset(id=RULESET)
    new_xml = VNC_XML.replace("<end>6105</end>", "<end>6200</end>").replace(
        "<id>vmwctl-spare</id>", "<id>vmwctl-other</id>")
    result = install(vc, host, place(ds_dir, build_vib(version="2.0.0-1", firewall=new_xml),
                                     "v2.vib"))
    assert outcome(result) == {"reboot": "false", "message": "Operation finished successfully.",
                               "vibs-installed": [vib_id(version="2.0.0-1")],
                               "vibs-removed": [vib_id()], "vibs-skipped": []}
    found = rulesets(host)
    assert found[RULESET].rule[0].endPort == 6200
    assert found[RULESET].enabled is False  # the administrator's choice is kept
    assert "vmwctl-other" in found and "vmwctl-spare" not in found
    assert packages(host)["vmwctl-firewall"].version == "2.0.0-1"


# ------------------------------------------------------------------ firewall

def test_refresh_firewall_is_idempotent_and_rulesets_can_be_toggled(vc, ds_dir) -> None:
    h0, h1, _ = hosts(vc)
    set_acceptance(h0, "community")
    install(vc, h0, place(ds_dir, build_vib()))
    fw = h0.configManager.firewallSystem
    before = [r.key for r in h0.config.firewall.ruleset]
    fw.RefreshFirewall()
    fw.RefreshFirewall()
    assert [r.key for r in h0.config.firewall.ruleset] == before

    fw.DisableRuleset(id=RULESET)
    assert rulesets(h0)[RULESET].enabled is False
    assert fw.firewallInfo.ruleset[before.index(RULESET)].enabled is False
    fw.RefreshFirewall()
    assert rulesets(h0)[RULESET].enabled is False
    fw.EnableRuleset(id=RULESET)
    assert rulesets(h0)[RULESET].enabled is True
    fw.EnableRuleset(id="vmwctl-spare")
    assert rulesets(h0)["vmwctl-spare"].enabled is True

    # Another host's refresh finds no VIB file; the model's rulesets stay.
    other = [r.key for r in h1.config.firewall.ruleset]
    h1.configManager.firewallSystem.RefreshFirewall()
    assert [r.key for r in h1.config.firewall.ruleset] == other
    assert "vnc" in other and RULESET not in other
    with pytest.raises(VSphereFault) as raised:
        h1.configManager.firewallSystem.EnableRuleset(id=RULESET)
    assert isinstance(raised.value.fault, vim.fault.NotFound)


@pytest.mark.parametrize(("firewall", "match"), [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ConfigRoot/>',
     "a DOCTYPE is not allowed"),
    ("<ConfigRoot><service><id>x</id><rule><direction>in</direction><protocol>tcp</protocol>"
     "<porttype>dst</porttype><port>1</port></rule></service></ConfigRoot>",
     'bad direction "in"'),
    ("<ConfigRoot><service><id>x</id><rule><direction>inbound</direction>"
     "<protocol>tcp</protocol><porttype>dst</porttype><port>70000</port></rule>"
     "</service></ConfigRoot>", 'bad port "70000"'),
    ("<ConfigRoot>", "XML syntax error"),
])
def test_an_invalid_firewall_file_fails_the_install(vc, ds_dir, firewall, match) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    with pytest.raises(OperationFailed, match=(
            rf"VIB {vib_id()}: the firewall configuration etc/vmware/firewall/{RULESET}\.xml "
            rf"is not valid: .*{match}")):
        install(vc, host, place(ds_dir, build_vib(firewall=firewall)))
    assert "vmwctl-firewall" not in packages(host)


def test_files_outside_the_firewall_directory_are_not_rulesets(vc, ds_dir) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    install(vc, host, place(ds_dir, build_vib(firewall_file="etc/vmware/other/x.xml")))
    assert "vmwctl-firewall" in packages(host)
    assert RULESET not in rulesets(host)


# ------------------------------------------------------------------ where VIBs come from

@pytest.mark.parametrize(("url", "match"), [
    (f"/vmfs/volumes/{DS}/missing.vib", "No such file or directory"),
    ("/vmfs/volumes/NoSuchDS/fw.vib", "No such file or directory"),
    (f"/vmfs/volumes/{DS}/../fw.vib", "No such file or directory"),
    ("https://example.invalid/fw.vib", "read VIBs from datastores only"),
    ("/tmp/fw.vib", "read VIBs from datastores only"),
])
def test_a_vib_the_host_cannot_read_is_a_fault(vc, ds_dir, url, match) -> None:
    place(ds_dir, build_vib())
    with pytest.raises(OperationFailed, match=rf"PlatformConfigFault: Cannot .*{match}"):
        install(vc, hosts(vc)[0], url)


def test_a_file_url_and_garbage(vc, ds_dir) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    place(ds_dir, build_vib())
    result = install(vc, host, f"file:///vmfs/volumes/{DS}/fw.vib")
    assert outcome(result)["vibs-installed"] == [vib_id()]
    with pytest.raises(OperationFailed, match="is not a valid VIB: not an ar archive"):
        install(vc, host, place(ds_dir, b"garbage", "bad.vib"))
    with pytest.raises(OperationFailed, match="InvalidArgument"):
        install(vc, host)


def test_several_vibs_in_one_call(vc, ds_dir) -> None:
    host = hosts(vc)[0]
    set_acceptance(host, "community")
    one = place(ds_dir, build_vib(), "one.vib")
    other = place(ds_dir, build_vib(name="vmwctl-other", firewall=None), "other.vib")
    result = install(vc, host, one, one, other)
    assert outcome(result)["vibs-installed"] == sorted([vib_id(), vib_id("vmwctl-other")])
    newer = place(ds_dir, build_vib(version="2.0.0-1"), "newer.vib")
    with pytest.raises(OperationFailed, match=r"Two versions of VIB vmwctl-firewall are given"):
        install(vc, host, one, newer)
    # One bad VIB fails the whole call: the good one is not installed either.
    good = place(ds_dir, build_vib(name="vmwctl-third"), "third.vib")
    bad = place(ds_dir, build_vib(name="vmwctl-bad", corrupt="size"), "bad.vib")
    with pytest.raises(OperationFailed, match="vmwctl-bad"):
        install(vc, host, good, bad)
    assert "vmwctl-third" not in packages(host)
    assert packages(host)["vmwctl-firewall"].version == "1.0.0-1"
