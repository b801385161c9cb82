"""Nova's port-group lookup (``network_util.get_network_with_the_name``) and the guide's
networking models.

Nova walks the cluster's ``network`` property in vCenter's order and takes
the first match: a distributed port group whose name, with an NSX-V wrapper
``vxw-dvs-N-virtualwire-N-sid-N-<name>`` removed, *contains* the name; any
other network whose name *equals* it.
"""

from __future__ import annotations

import re

from vmwctl.profile.nova_options import removed_option_named
from vmwctl.vsphere.model import Network

DV_PORTGROUP = "DistributedVirtualPortgroup"
OPAQUE_NETWORK = "OpaqueNetwork"
# nova/virt/vmwareapi/network_util.py VWIRE_REGEX (re.match: anchored at the start)
NSXV_WRAPPED = re.compile(r"vxw-dvs-(\d+)-virtualwire-(\d+)-sid-(\d+)-(.*)")

# The guide's names when nova.conf sets none.
GUIDE_INTEGRATION_BRIDGE = "br-int"
# when nova-network left Nova, from the option table
NOVA_NETWORK_GONE = (f"nova-network was removed in "
                     f"{removed_option_named('DEFAULT', 'network_manager').removed_in}: this "
                     "model serves only clouds that still run an older Nova")
# Port bindings a DV port group may have (DistributedVirtualPortgroup.config.type)
EPHEMERAL = "ephemeral"


def unwrapped_name(name: str) -> str:
    """A DV port group's name as Nova compares it: NSX-V's wrapper removed."""
    wrapped = NSXV_WRAPPED.match(name)
    return wrapped.group(4) if wrapped else name


def matches(network: Network, name: str) -> bool:
    """Whether Nova's lookup of ``name`` takes this network."""
    if network.kind == DV_PORTGROUP:
        return name in unwrapped_name(network.name)
    return network.name == name


def find_network(name: str, networks: list[Network]) -> Network | None:
    """The network Nova's lookup takes among ``networks`` (in vCenter's order), or None."""
    return next((n for n in networks if matches(n, name)), None)


def describe(network: Network) -> str:
    """``DV port group 'x'``, ``port group 'x'``, ``opaque network 'x'``."""
    kind = {DV_PORTGROUP: "DV port group", OPAQUE_NETWORK: "opaque network"}.get(
        network.kind, "port group")
    return f"{kind} {network.name!r}"
