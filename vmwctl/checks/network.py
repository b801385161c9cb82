"""The ``network`` check: the guide's networking model, judged on the cluster's hosts.

``neutron`` (the NSX-T and DVS plugins make their port groups): a DV switch
or an opaque network on every host. ``nsx-mh``: the integration bridge (an
opaque network, or a port group) on every host. ``nova-network-flat``: the
``flat_network_bridge`` port group on every host, ephemeral when
distributed. ``nova-network-vlan``: the ``vlan_interface`` physical NIC, with
a link, on every host. Port groups are found by Nova's own lookup
(:mod:`vmwctl.nova.network`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vmwctl.checks.model import CheckResult, Context, failed, passed, skipped, warned
from vmwctl.common.words import every, verb
from vmwctl.nova.network import (
    EPHEMERAL,
    GUIDE_INTEGRATION_BRIDGE,
    NOVA_NETWORK_GONE,
    OPAQUE_NETWORK,
    describe,
    find_network,
)
from vmwctl.vsphere.model import Host, Network, PhysicalNic
from vmwctl.vsphere.snapshot import read_physical_nics

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

CHECK_ID = "network"


@dataclass
class NetworkData:
    """What the nova-network-vlan model reads beyond the snapshot: each host's physical NICs."""

    nics: dict[str, list[PhysicalNic]] = field(default_factory=dict)


def network_model(ctx: Context) -> str:
    """--network-model, else the profile's (see Profile.effective_network_model)."""
    return ctx.network_model or ctx.profile.effective_network_model


def gather_network(vc: VCenter, ctx: Context) -> NetworkData:
    """The hosts' physical NICs, for nova-network-vlan only (one paged read)."""
    if network_model(ctx) != "nova-network-vlan" or not ctx.connected_hosts:
        return NetworkData()

    return NetworkData(read_physical_nics(vc, ctx.inventory, ctx.connected_hosts))


def judge_network(ctx: Context, data: NetworkData) -> CheckResult:
    """The chosen model's verdict on the cluster's connected hosts."""
    hosts = ctx.connected_hosts
    if not hosts:
        return skipped(CHECK_ID, "no connected host to check")
    return MODELS[network_model(ctx)](ctx, hosts, data)


def _host_names(hosts: list[Host]) -> list[str]:
    return sorted(h.name for h in hosts)


def _lookup(ctx: Context, name: str) -> Network | None:
    assert ctx.cluster is not None
    return find_network(name, ctx.inventory.cluster_networks(ctx.cluster))


def _without(hosts: list[Host], network: Network) -> list[Host]:
    return [h for h in hosts if network.moid not in h.networks]


def _portgroup(ctx: Context, hosts: list[Host], name: str, remedy: str
               ) -> tuple[Network | None, CheckResult | None]:
    """Nova's lookup of ``name`` among the cluster's networks, and a failure unless what it
    takes is on every host."""
    assert ctx.cluster is not None
    network = _lookup(ctx, name)
    if network is None:
        known = sorted({n.name for n in ctx.inventory.cluster_networks(ctx.cluster)})
        return None, failed(CHECK_ID, f"no network of cluster {ctx.cluster.name!r} matches "
                            f"{name!r} by Nova's lookup (its networks: "
                            f"{', '.join(known) or 'none'})", [name], remedy)
    missing = _without(hosts, network)
    if missing:
        return network, failed(CHECK_ID, f"Nova's lookup of {name!r} takes {describe(network)}, "
                               f"which {', '.join(_host_names(missing))} "
                               f"{verb(len(missing), 'lacks', 'lack')}",
                               _host_names(missing), remedy)
    return network, None


def _neutron(ctx: Context, hosts: list[Host], data: NetworkData) -> CheckResult:
    inventory = ctx.inventory
    reach: dict[str, set[str]] = {}  # what each host offers Neutron: switches, opaque networks
    for host in hosts:
        offered = {f"DV switch {s.name!r}" for s in inventory.switches.values()
                   if host.moid in s.hosts}
        for network in inventory.host_networks(host):
            if network.switch in inventory.switches:
                offered.add(f"DV switch {inventory.switches[network.switch].name!r}")
            elif network.kind == OPAQUE_NETWORK:
                offered.add(describe(network))
        reach[host.name] = offered
    found = sorted(set().union(*reach.values()))
    bare = sorted(name for name, offered in reach.items() if not offered)
    remedy = ("add the hosts to the distributed switch (or the NSX transport zone) that "
              "Neutron's plugin uses")
    if not found:
        return failed(CHECK_ID, f"no DV switch or opaque network on "
                      f"{every(len(hosts), 'connected host')}: "
                      "Neutron's NSX-T and DVS plugins make their port groups on one",
                      _host_names(hosts), remedy)
    if ctx.portgroup:
        network, failure = _portgroup(ctx, hosts, ctx.portgroup,
                                      f"create the port group {ctx.portgroup!r} on a "
                                      "distributed switch all the cluster's hosts join")
        if failure:
            return failure
        assert network is not None
        lookup = f"Nova's lookup of {ctx.portgroup!r} takes {describe(network)}; "
    else:
        lookup = ""
    if bare:
        return warned(CHECK_ID, f"{lookup}{', '.join(bare)} {verb(len(bare), 'has', 'have')} no DV "
                      f"switch or opaque network: Neutron's port groups cannot reach them "
                      f"(the others have {', '.join(found)})", bare, remedy)
    where = "" if lookup else ", where Neutron's plugin makes its port groups"
    return passed(CHECK_ID, f"{lookup}{', '.join(found)} on "
                  f"{every(len(hosts), 'connected host')}{where}", found)


def _opaque_on(ctx: Context, host: Host, name: str) -> Network | None:
    return next((n for n in ctx.inventory.host_networks(host) if n.kind == OPAQUE_NETWORK
                 and name in (n.opaque_id, n.name)), None)


def _nsx_mh(ctx: Context, hosts: list[Host], data: NetworkData) -> CheckResult:
    configured = ctx.profile.vmware.integration_bridge
    name = ctx.portgroup or configured or GUIDE_INTEGRATION_BRIDGE
    remedy = (f"create the NSX integration bridge {name!r} (an opaque network, or a port group "
              "of that name) on every host of the cluster")
    portgroup = _lookup(ctx, name)
    found, missing = set(), []
    for host in hosts:
        network = _opaque_on(ctx, host, name) or (
            portgroup if portgroup and portgroup.moid in host.networks else None)
        if network is None:
            missing.append(host)
        else:
            found.add(describe(network))
    if missing:
        return failed(CHECK_ID, f"integration bridge {name!r} (an opaque network or a port "
                      f"group) is missing on {', '.join(_host_names(missing))}",
                      _host_names(missing), remedy)
    detail = (f"integration bridge {name!r} on {every(len(hosts), 'connected host')} "
              f"({', '.join(sorted(found))})")
    if not (ctx.portgroup or configured):
        return warned(CHECK_ID, f"{detail}; vmware.integration_bridge is not set, so the "
                      "guide's br-int was looked for, but Nova without it backs NICs as for "
                      "NSX-T", sorted(found),
                      f"set [vmware] integration_bridge = {name} in nova.conf and the profile")
    return passed(CHECK_ID, detail, sorted(found))


def _flat(ctx: Context, hosts: list[Host], data: NetworkData) -> CheckResult:
    name = ctx.portgroup or ctx.profile.default.flat_network_bridge
    remedy = (f"create a port group named {name!r} (flat_network_bridge) on every host, with "
              "ephemeral port binding when distributed")
    network, failure = _portgroup(ctx, hosts, name, remedy)
    if failure:
        return failure
    assert network is not None
    if network.switch is not None and network.binding != EPHEMERAL:
        return failed(CHECK_ID, f"{describe(network)} has port binding "
                      f"{network.binding or 'unknown'}: the guide requires ephemeral for "
                      "nova-network's flat port group", [network.name],
                      f"set the port binding of {network.name!r} to ephemeral in vCenter")
    binding = " (ephemeral binding)" if network.switch is not None else ""
    return warned(CHECK_ID, f"Nova's lookup of {name!r} takes {describe(network)}{binding}, on "
                  f"{every(len(hosts), 'connected host')}; {NOVA_NETWORK_GONE}", [network.name],
                  "move to Neutron (network_model: neutron) when Nova is upgraded")


def _vlan(ctx: Context, hosts: list[Host], data: NetworkData) -> CheckResult:
    device = ctx.profile.default.vlan_interface
    absent, down, speeds = [], [], set()
    for host in hosts:
        nic = next((n for n in data.nics.get(host.moid, []) if n.device == device), None)
        if nic is None:
            absent.append(host.name)
        elif nic.link_speed_mb is None:
            down.append(host.name)
        else:
            speeds.add(nic.link_speed_mb)
    if absent or down:
        parts = ([f"{', '.join(sorted(absent))} {verb(len(absent), 'has', 'have')} no "
                  f"physical NIC {device!r}"] if absent
                 else []) + ([f"{device} has no link on {', '.join(sorted(down))}"] if down
                             else [])
        return failed(CHECK_ID, "; ".join(parts), sorted(absent + down),
                      f"set vlan_interface to the NIC that carries the VLAN-tagged VM traffic "
                      f"on every host, and connect it (now {device!r})")
    rates = ", ".join(f"{s} Mb/s" for s in sorted(speeds))
    return warned(CHECK_ID, f"physical NIC {device!r} has a link on "
                  f"{every(len(hosts), 'connected host')} ({rates}); Nova makes the VLAN port "
                  f"groups on it; {NOVA_NETWORK_GONE}",
                  [device], "move to Neutron (network_model: neutron) when Nova is upgraded")


MODELS: dict[str, Callable[[Context, list[Host], NetworkData], CheckResult]] = {
    "neutron": _neutron,
    "nsx-mh": _nsx_mh,
    "nova-network-flat": _flat,
    "nova-network-vlan": _vlan,
}
