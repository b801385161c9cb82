"""The ``console`` check: can Nova give a console on every host of the cluster?

Nova's VNC console needs a VNC server on the host: ESXi 7.0 and later have
none. Its MKS console (``[mks] enabled``) works on any host through the MKS
proxy, which browsers reach at ``mksproxy_base_url``, with a ticket vCenter
hands out (``AcquireTicket("mks")``). The settings are the ``--nova-conf``
file's when one is given (Nova reads it), else the profile's. Where VNC can
work, the VNC firewall is vnc-firewall's to judge; where it cannot, this check
gives the MKS advice, and the VNC verdicts of the same run leave those hosts to
it. Only with ``--probe-console`` does it ask vCenter for an MKS ticket: one
call per connected host, concurrently, on a powered-on VM of that host
(Nova's first; never a VM of vSphere Cluster Services or another solution).
The ticket, a one-time secret, is never kept.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vmwctl.checks.model import CheckResult, Context, Status, failed, passed, skipped, warned
from vmwctl.checks.nova_conf import read_settings
from vmwctl.common.words import every
from vmwctl.errors import OperationFailed
from vmwctl.firewall.vnc import MKS_REMEDY
from vmwctl.nova.owners import vm_owner
from vmwctl.nova.rules import NO_VNC_SERVER_FROM, version_tuple
from vmwctl.vsphere.faults import one_line
from vmwctl.vsphere.model import Host, VirtualMachine
from vmwctl.vsphere.tickets import ConsoleTicket, acquire_ticket

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

CHECK_ID = "console"
PROBE_WORKERS = 8
# Whose VM a probe may ask a ticket for, preferred first: never vSphere's own
# (vCLS) nor another solution's.
PROBE_OWNERS = ("nova", "vmwctl", "other")
URL_REMEDY = "set [mks] mksproxy_base_url to the URL browsers reach the MKS proxy at"


@dataclass
class ConsoleSettings:
    """The console options Nova runs with, and where they come from."""

    vnc: bool
    mks: bool
    mks_url: str | None  # set explicitly; None: Nova's default, the proxy's loopback
    source: str


def console_settings(ctx: Context) -> ConsoleSettings:
    """The --nova-conf file's [vnc] and [mks] options when given, else the profile's."""
    if ctx.nova_conf is not None:
        view = read_settings(ctx.nova_conf)
        url = view.get("mks", "mksproxy_base_url")
        return ConsoleSettings(bool(view.value("vnc", "enabled")),
                               bool(view.value("mks", "enabled")),
                               url.value if url is not None and url.error is None and url.value
                               else None, ctx.nova_conf.path.name)
    profile = ctx.profile
    url = (profile.mks.mksproxy_base_url if "mks.mksproxy_base_url" in profile.origins
           else None)
    return ConsoleSettings(profile.vnc.enabled, profile.mks.enabled, url,
                           f"profile {profile.name}")


@dataclass
class Probe:
    """One host's MKS ticket probe: the VM asked for, what came back or the refusal."""

    host: str
    vm: str | None = None  # None: no powered-on VM to ask for
    ticket: ConsoleTicket | None = None
    error: str | None = None


@dataclass
class ConsoleData:
    """The probes by host name (none without --probe-console)."""

    probes: dict[str, Probe] = field(default_factory=dict)


def probe_vm(ctx: Context, host: Host) -> VirtualMachine | None:
    """A powered-on VM of the host to ask a ticket for: Nova's first, then vmwctl's, then
    the operator's, by name; never vSphere's own or another solution's."""
    rank = {owner: i for i, owner in enumerate(PROBE_OWNERS)}
    found = [vm for vm in ctx.inventory.vms.values()
             if vm.host == host.moid and vm.power_state == "poweredOn" and not vm.template
             and vm_owner(vm) in rank]
    return min(found, key=lambda vm: (rank[vm_owner(vm)], vm.name), default=None)


def _nothing_to_judge(ctx: Context, settings: ConsoleSettings) -> CheckResult | None:
    if not ctx.connected_hosts:
        return skipped(CHECK_ID, "no connected host to check")
    if not settings.vnc and not settings.mks:
        return skipped(CHECK_ID, f"[vnc] enabled and [mks] enabled are false "
                       f"({settings.source}): Nova offers no console")
    return None


def gather_console(vc: VCenter, ctx: Context) -> ConsoleData:
    """With --probe-console, one AcquireTicket("mks") per connected host, concurrently, on a
    VM of that host; nothing otherwise."""
    if not ctx.probe_console or _nothing_to_judge(ctx, console_settings(ctx)) is not None:
        return ConsoleData()
    probes = {h.name: Probe(h.name) for h in ctx.connected_hosts}
    asked = []
    for host in ctx.connected_hosts:
        vm = probe_vm(ctx, host)
        if vm is not None:
            probes[host.name].vm = vm.name
            asked.append((probes[host.name], vm))

    def ask(item: tuple[Probe, VirtualMachine]) -> None:
        probe, vm = item
        try:
            probe.ticket = acquire_ticket(ctx.inventory, vm)
        except OperationFailed as exc:  # a refusal is this host's finding
            probe.error = one_line(exc)

    if asked:
        with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(asked))) as pool:
            list(pool.map(ask, asked))
    return ConsoleData(probes)


def _names(names: list[str]) -> str:
    return ", ".join(sorted(names))


def judge_console(ctx: Context, data: ConsoleData) -> CheckResult:
    """A console on every connected host, by the console types Nova is configured with."""
    settings = console_settings(ctx)
    if (nothing := _nothing_to_judge(ctx, settings)) is not None:
        return nothing
    hosts = ctx.connected_hosts
    old = {h.name for h in hosts if version_tuple(h.version) < NO_VNC_SERVER_FROM}
    vnc = sorted(old) if settings.vnc else []
    without = sorted(h.name for h in hosts if h.name not in vnc)
    problems: list[tuple[Status, str, list[str]]] = []
    remedies: list[str] = []
    parts: list[str] = []
    if vnc:
        on = every(len(vnc), "host") if len(vnc) == len(hosts) else _names(vnc)
        parts.append(f"VNC on {on} (its firewall: see vnc-firewall)")
    if settings.mks:
        if settings.mks_url is None:
            problems.append((Status.FAIL, f"[mks] enabled without mksproxy_base_url "
                             f"({settings.source}): Nova's default http://127.0.0.1:6090/ only "
                             "works in a browser on the MKS proxy's own machine",
                             ["[mks] mksproxy_base_url"]))
            remedies.append(URL_REMEDY)
        else:
            parts.append(f"MKS on {every(len(hosts), 'host')}, proxy {settings.mks_url}")
    elif without:
        why = ("[vnc] enabled is false" if not settings.vnc else
               "ESXi 7.0 and later have no VNC server")
        problems.append((Status.WARN, f"no console on {_names(without)}: {why} and [mks] "
                         f"enabled is false ({settings.source})", without))
        remedies.append(MKS_REMEDY)
    if ctx.probe_console:
        _judge_probes(settings, data, problems, parts, remedies)
    if not problems:
        return passed(CHECK_ID, "; ".join(parts))
    worst = Status.FAIL if any(p[0] == Status.FAIL for p in problems) else Status.WARN
    maker = failed if worst == Status.FAIL else warned
    objects = list(dict.fromkeys(name for p in problems for name in p[2]))
    return maker(CHECK_ID, "; ".join([*(p[1] for p in problems), *parts]), objects,
                 "; ".join(dict.fromkeys(remedies)))


def _judge_probes(settings: ConsoleSettings, data: ConsoleData,
                  problems: list[tuple[Status, str, list[str]]], parts: list[str],
                  remedies: list[str]) -> None:
    """The --probe-console findings: a refused or unusable ticket fails where Nova offers
    MKS consoles, and warns where it does not (yet)."""
    status = Status.FAIL if settings.mks else Status.WARN
    probes = sorted(data.probes.values(), key=lambda p: p.host)
    for probe in probes:
        if probe.error is not None:
            problems.append((status, f"vCenter refuses an MKS ticket for {probe.vm} on "
                             f"{probe.host}: {probe.error}", [probe.host]))
        elif probe.ticket is not None and probe.ticket.missing:
            problems.append((status, f"the MKS ticket for {probe.vm} on {probe.host} lacks "
                             f"{', '.join(probe.ticket.missing)}: Nova's MKS console cannot "
                             "use it", [probe.host]))
    if any(p.error is not None or (p.ticket is not None and p.ticket.missing)
           for p in probes):
        remedies.append("AcquireTicket needs VirtualMachine.Interact.ConsoleInteract on the VM "
                        "and a connected host: see the refusal")
    good = [p.host for p in probes if p.ticket is not None and not p.ticket.missing]
    idle = [p.host for p in probes if p.vm is None]
    if good:
        parts.append(f"vCenter hands out MKS tickets on {_names(good)}")
    if idle:
        parts.append(f"no powered-on VM to probe on {_names(idle)}")
    if not probes:
        parts.append("no host probed")
