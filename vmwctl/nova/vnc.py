"""Nova's VNC ports (vm_util.get_vnc_port): the range it hands out, the ports VMs hold,
and where its lowest-free-port allocation runs into a closed port.

Nova reads ``RemoteDisplay.vnc.port`` of every VM of the vCenter (not just the
cluster's) and gives a new instance the lowest port of
``vnc_port .. vnc_port + vnc_port_total - 1`` that none of them holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import VirtualMachine

Range = tuple[int, int]


def vnc_range(profile: Profile) -> Range:
    """The ports Nova hands out: vnc_port .. vnc_port + vnc_port_total - 1."""
    v = profile.vmware
    return v.vnc_port, v.vnc_port + max(v.vnc_port_total, 1) - 1


def held_port(value: str | None) -> int | None:
    """The port a ``RemoteDisplay.vnc.port`` value holds, or None (unset, not a number)."""
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


def held_ports(vms: Iterable[VirtualMachine]) -> list[int]:
    """The VNC port each VM holds (one entry per VM that holds one)."""
    return [port for vm in vms if (port := held_port(vm.vnc_port)) is not None]


def lowest_free_port(held: Iterable[int], first: int, last: int) -> int | None:
    """get_vnc_port: the lowest port of [first, last] no VM holds; None when all are held."""
    taken = set(held)
    return next((port for port in range(first, last + 1) if port not in taken), None)


@dataclass
class Allocation:
    """How Nova's allocation runs through ``ranges`` when the ports in ``closed`` do not work."""

    size: int  # ports in the ranges
    held: int  # VMs holding a port of the ranges
    free: int  # ports of the ranges no VM holds
    fit: int  # consoles Nova hands out before it reaches a closed port (all free ones if never)
    next_closed: int | None  # the first closed port Nova would hand out


def allocation(ranges: Iterable[Range], held: Iterable[int],
               closed: Iterable[Range] = ()) -> Allocation:
    """Walk Nova's lowest-free-port order: how many consoles fit before a closed port."""
    ranges = sorted(ranges)
    held_list = [p for p in held if any(a <= p <= b for a, b in ranges)]
    taken = set(held_list)
    size = sum(b - a + 1 for a, b in ranges)
    free = size - len(taken)
    next_closed = None
    for begin, end in sorted(closed):
        port = begin
        while port <= end and port in taken:
            port += 1
        if port <= end:
            next_closed = port
            break
    if next_closed is None:
        fit = free
    else:
        before = sum(min(b, next_closed - 1) - a + 1 for a, b in ranges if a < next_closed)
        fit = before - len({p for p in taken if p < next_closed})
    return Allocation(size, len(held_list), free, fit, next_closed)
