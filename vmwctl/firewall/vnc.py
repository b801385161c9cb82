"""The one VNC verdict: do the hosts' firewalls open the ports Nova will hand out?

Served by ``check prereqs`` (vnc-firewall), ``check nova-conf`` (vnc-ports) and
``firewall status``, so that the three say the same for the same hosts and
range. Nova gives each new console the lowest port of its range that no VM of
the vCenter holds, on whichever host DRS picks: a port counts as open only
when every host with a VNC server opens it. When only part of the range is
open, the verdict counts the consoles that fit before Nova hands out a closed
port: it warns while some do, and fails once none does.

Hosts on ESXi 7.0 and later have no VNC server: the verdict points to the MKS
console for them, unless ``check prereqs``'s console check judges them (the
hosts ``deferred``), which then decides between VNC and MKS there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmwctl.common.words import plural
from vmwctl.firewall.coverage import Coverage
from vmwctl.firewall.ports import Range, describe_ranges
from vmwctl.nova.vnc import allocation

FIREWALL_REMEDY = ("install the VNC firewall VIB on every host ('vmwctl firewall vib build "
                   "--ports {ports}' then 'vmwctl firewall vib install'), or enable a ruleset "
                   "that covers the range ('vmwctl firewall enable --ruleset ID')")
MKS_REMEDY = ("ESXi 7.0 and later have no VNC server: use the MKS console ([mks] enabled = "
              "true with mksproxy_base_url) for instances on these hosts")


@dataclass
class VncVerdict:
    """JSON keys documented in docs/firewall.md (``verdict``)."""

    status: str  # pass | warn | fail; skip when every host is left to the console check
    detail: str
    objects: list[str] = field(default_factory=list)
    remedy: str | None = None
    ports: list[Range] = field(default_factory=list)  # the range Nova hands out
    closed: list[Range] = field(default_factory=list)  # closed on a host with a VNC server
    held: int = 0  # VMs of the vCenter holding a port of the range
    fit: int | None = None  # consoles Nova can still hand out before a closed (or no) port
    next_closed: int | None = None  # the first closed port Nova would hand out
    no_vnc_server: list[str] = field(default_factory=list)  # hosts on ESXi 7.0 and later


def _merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    return merged


def _open_run(ranges: list[Range], closed: list[Range]) -> int:
    """How many ports from the range's first port on are open, without a gap."""
    first = ranges[0][0]
    run = 0
    for begin, end in ranges:
        if begin != first + run:
            break
        stop = min([b for b, e in closed if e >= begin and b <= end] or [end + 1])
        run += stop - begin
        if stop <= end:
            break
    return run


def vnc_verdict(reports: list[Coverage], wanted: list[Range], held: Iterable[int], *,
                deferred: Iterable[str] = ()) -> VncVerdict:
    """The verdict on the connected hosts' coverage of ``wanted``, given the VNC ports the
    VMs of the vCenter hold (``reports`` must not be empty); ``deferred``: the hosts the
    console check judges, whose lack of a VNC server it reports instead."""
    ports = _merge(wanted)
    span = describe_ranges(ports)
    leave = set(deferred)
    without = sorted(r.host for r in reports if r.no_vnc_server)
    mks = [host for host in without if host not in leave]
    left = [host for host in without if host in leave]
    aside = (f"; no VNC server on {', '.join(left)} (ESXi 7.0 and later): see the console "
             "check" if left else "")
    vnc = [r for r in reports if not r.no_vnc_server]
    if not vnc and not mks:
        return VncVerdict("skip", f"no VNC server on {plural(len(left), 'host')} "
                          f"({', '.join(left)}): ESXi 7.0 and later have none, no VNC port "
                          "to open; see the console check", [], None, ports,
                          no_vnc_server=without)
    if not vnc:
        return VncVerdict("warn", f"no VNC server on {plural(len(mks), 'host')} "
                          f"({', '.join(mks)}): ESXi 7.0 and later have none, Nova's VNC "
                          f"consoles cannot connect{aside}", mks, MKS_REMEDY, ports,
                          no_vnc_server=without)
    closed = _merge(gap for r in vnc for gap in r.gaps)
    alloc = allocation(ports, held, closed)
    verdict = VncVerdict("pass", "", [], None, ports, closed, alloc.held, alloc.fit,
                         alloc.next_closed, without)
    holding = f"{plural(alloc.held, 'VM')} of the vCenter {'holds' if alloc.held == 1 else 'hold'}"
    if not closed:
        rulesets = sorted({key for r in vnc for key in r.rulesets})
        verdict.objects = rulesets
        if alloc.free == 0:
            verdict.status = "fail"
            verdict.detail = (f"VNC ports {span} are open, but {holding} all "
                              f"{alloc.size} of them: the next spawn fails "
                              "(ConsolePortRangeExhausted)")
            verdict.remedy = ("raise vnc_port_total and open the added ports, or delete the "
                              "VMs that hold ports")
        else:
            verdict.detail = (f"VNC ports {span} open on {_all(len(vnc))} (rulesets "
                              f"{', '.join(rulesets) or '-'}); {holding} a port, "
                              f"{alloc.free} free")
    else:
        closing = [r for r in vnc if r.gaps]
        gaps = "; ".join(f"{r.host} leaves {describe_ranges(r.gaps)} closed" for r in closing)
        verdict.objects = sorted(r.host for r in closing)
        whole = FIREWALL_REMEDY.format(ports=span)
        if alloc.fit > 0:
            verdict.status = "warn"
            if alloc.next_closed is None:
                more = plural(alloc.fit, "more console")
                after = (f"VMs already hold every closed port, so {more} fit ({holding} a "
                         "port of the range)")
            else:
                after = (f"{plural(alloc.fit, 'more console')} fit before Nova hands out port "
                         f"{alloc.next_closed}, which is closed ({holding} a port of the range)")
            verdict.detail = f"only part of VNC ports {span} is open ({gaps}): {after}"
            run = _open_run(ports, closed)
            verdict.remedy = (f"set [vmware] vnc_port_total = {run} in nova.conf and the "
                              f"profile, so that Nova hands out only the open ports, or {whole}"
                              if run else whole)
        else:
            verdict.status = "fail"
            if alloc.next_closed is None:
                reason = f"{holding} every port of the range (ConsolePortRangeExhausted)"
            elif alloc.held:
                reason = (f"the next VNC port Nova hands out, {alloc.next_closed}, is closed: "
                          f"the open ports before it are used up ({holding} a port of the "
                          "range)")
            else:
                reason = f"the first VNC port Nova hands out, {alloc.next_closed}, is closed"
            verdict.detail = f"{reason}; {gaps}"
            verdict.remedy = whole
    if mks:
        verdict.detail += f"; no VNC server on {', '.join(mks)} (ESXi 7.0 and later)"
        if verdict.status == "pass":
            verdict.status, verdict.objects, verdict.remedy = "warn", mks, MKS_REMEDY
        else:
            verdict.objects = sorted(set(verdict.objects) | set(mks))
            verdict.remedy = f"{verdict.remedy}; {MKS_REMEDY}"
    verdict.detail += aside
    return verdict


def _all(count: int) -> str:
    return "the 1 host" if count == 1 else f"all {count} hosts"

