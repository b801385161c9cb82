"""``profile import-nova-conf`` and the guide's networking models: the model derived from
nova.conf, nova-network's option names kept, and a line for what was taken and ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

BASE = """\
[DEFAULT]
compute_driver = vmwareapi.VMwareVCDriver
{default}
[vmware]
host_ip = vc.example.org
host_username = nova
host_password = S3cret-pw
cluster_name = C1
{vmware}
"""

# A compute node of the guide's era: nova-network with FlatDHCPManager.
NOVA_NETWORK_ERA = BASE.format(default="""\
network_manager = nova.network.manager.FlatDHCPManager
flat_network_bridge = br-flat
flat_interface = eth1
public_interface = eth0
vlan_interface = eth2
""", vmware="vlan_interface = vmnic3")


def imported(vmwctl, tmp_path: Path, text: str) -> tuple[dict, dict]:
    """The JSON report and the profile written."""
    conf = tmp_path / "nova.conf"
    conf.write_text(text)
    result = vmwctl("-o", "json", "profile", "import-nova-conf", str(conf), "--name", "n")
    assert result.exit_code == 0, result.stderr
    target = Path(os.environ["XDG_CONFIG_HOME"]) / "vmwctl" / "config.yaml"
    return result.json(), yaml.safe_load(target.read_text())["profiles"]["n"]


def test_a_nova_network_era_nova_conf_keeps_the_model_and_its_names(vmwctl,
                                                                    tmp_path: Path) -> None:
    report, profile = imported(vmwctl, tmp_path, NOVA_NETWORK_ERA)
    assert profile["network_model"] == "nova-network-flat"
    # [vmware] vlan_interface is the one the VMware driver read
    assert profile["DEFAULT"] == {"flat_network_bridge": "br-flat", "vlan_interface": "vmnic3"}
    assert report["network"] == [
        "network_model: nova-network-flat (from [DEFAULT] network_manager = "
        "nova.network.manager.FlatDHCPManager (nova.conf:3))",
        "took [DEFAULT] flat_network_bridge = br-flat (nova.conf:4)",
        "took [vmware] vlan_interface = vmnic3 (nova.conf:14)",
        "ignored [DEFAULT] vlan_interface (nova.conf:7): the VMware driver read [vmware] "
        "vlan_interface",
        "ignored [DEFAULT] flat_interface (nova.conf:5): nova-network's, no vmwctl check reads it",
        "ignored [DEFAULT] public_interface (nova.conf:6): nova-network's, no vmwctl check "
        "reads it",
    ]
    # no longer the "removed, not imported" warning of before
    assert not any("vlan_interface" in w for w in report["warnings"])
    view = vmwctl("-o", "json", "profile", "show").json()
    assert view["profile"]["network_model"] == "nova-network-flat"
    assert view["profile"]["DEFAULT"]["vlan_interface"] == "vmnic3"


def test_the_human_report_lists_the_network_lines(vmwctl, tmp_path: Path) -> None:
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_NETWORK_ERA)
    result = vmwctl("profile", "import-nova-conf", str(conf), "--name", "n", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "network: network_model: nova-network-flat (from [DEFAULT] network_manager" in \
        result.stdout
    assert "network: ignored [DEFAULT] flat_interface (nova.conf:5)" in result.stdout
    assert "network_model: nova-network-flat\n" in result.stdout  # in the YAML shown


@pytest.mark.parametrize(("default", "vmware", "model", "first_line"), [
    # today's Nova: Neutron unless told
    ("", "", "neutron", "network_model: neutron (Neutron, without [vmware] integration_bridge)"),
    ("", "integration_bridge = br-int", "nsx-mh",
     "network_model: nsx-mh ([vmware] integration_bridge is set (nova.conf:9))"),
    ("network_manager = nova.network.manager.VlanManager", "", "nova-network-vlan",
     "network_model: nova-network-vlan (from [DEFAULT] network_manager = "
     "nova.network.manager.VlanManager (nova.conf:3))"),
    ("network_manager = FlatManager", "", "nova-network-flat",
     "network_model: nova-network-flat (from [DEFAULT] network_manager = FlatManager "
     "(nova.conf:3))"),
    # nova-network without a manager named ran its default, VlanManager
    ("use_neutron = False", "", "nova-network-vlan",
     "network_model: nova-network-vlan (from nova-network's default VlanManager)"),
    ("network_api_class = nova.network.api.API", "", "nova-network-vlan",
     "network_model: nova-network-vlan (from nova-network's default VlanManager)"),
    ("network_api_class = nova.network.neutronv2.api.API", "", "neutron",
     "network_model: neutron (Neutron, without [vmware] integration_bridge)"),
])
def test_the_model_is_derived_as_nova_chose_its_network_api(vmwctl, tmp_path: Path, default: str,
                                                            vmware: str, model: str,
                                                            first_line: str) -> None:
    report, profile = imported(vmwctl, tmp_path, BASE.format(default=default, vmware=vmware))
    assert profile["network_model"] == model
    assert report["network"][0] == first_line


def test_use_neutron_wins_over_a_leftover_network_manager(vmwctl, tmp_path: Path) -> None:
    text = BASE.format(default="use_neutron = True\nnetwork_manager = "
                               "nova.network.manager.FlatDHCPManager", vmware="")
    report, profile = imported(vmwctl, tmp_path, text)
    assert profile["network_model"] == "neutron"
    assert report["network"][1] == ("ignored [DEFAULT] network_manager (nova.conf:4): Neutron "
                                    "is used")


def test_an_unknown_network_manager_is_ignored_and_sets_no_model(vmwctl, tmp_path: Path) -> None:
    text = BASE.format(default="network_manager = my.custom.Manager", vmware="")
    report, profile = imported(vmwctl, tmp_path, text)
    assert "network_model" not in profile
    assert report["network"] == [
        "ignored [DEFAULT] network_manager = my.custom.Manager (nova.conf:3): not one of "
        "nova-network's FlatManager, FlatDHCPManager, VlanManager"]
