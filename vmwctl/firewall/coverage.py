"""Which enabled inbound TCP rulesets open a port range on a host, and what stays closed.

The one implementation behind the ``vnc-firewall`` prerequisite check and
``vmwctl firewall status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmwctl.nova_rules import NO_VNC_SERVER_FROM, version_tuple
from vmwctl.vsphere.model import FirewallRuleset, Host


@dataclass
class Coverage:
    """How a host's firewall covers the range [first, last]."""

    host: str
    version: str | None
    first: int
    last: int
    rulesets: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # key -> parts
    gaps: list[tuple[int, int]] = field(default_factory=list)
    restricted: list[str] = field(default_factory=list)  # covering rulesets limited to some IPs
    no_vnc_server: bool = False  # ESXi 7.0 and later

    @property
    def open(self) -> bool:
        return not self.gaps


def _opening(ruleset: FirewallRuleset) -> list[tuple[int, int]]:
    """The ranges an enabled ruleset opens to inbound TCP connections."""
    if not ruleset.enabled:
        return []
    ranges = []
    for rule in ruleset.rules:
        if rule.direction != "inbound" or rule.protocol != "tcp" or rule.port_type == "src":
            continue
        ranges.append((rule.port, rule.end_port or rule.port))
    return ranges


def _subtract(ranges: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    result = []
    for first, last in ranges:
        if cut[1] < first or cut[0] > last:
            result.append((first, last))
            continue
        if first < cut[0]:
            result.append((first, cut[0] - 1))
        if last > cut[1]:
            result.append((cut[1] + 1, last))
    return result


def coverage(host: Host, first: int, last: int) -> Coverage:
    """Which rulesets open [first, last] on the host, and the gaps none opens."""
    report = Coverage(host=host.name, version=host.version, first=first, last=last,
                      no_vnc_server=version_tuple(host.version) >= NO_VNC_SERVER_FROM)
    gaps = [(first, last)]
    for ruleset in host.firewall or []:
        parts = []
        for begin, end in _opening(ruleset):
            overlap = (max(begin, first), min(end, last))
            if overlap[0] <= overlap[1]:
                parts.append(overlap)
                gaps = _subtract(gaps, overlap)
        if parts:
            report.rulesets[ruleset.key] = parts
            if not ruleset.all_ip:
                report.restricted.append(ruleset.key)
    report.gaps = gaps
    return report


def describe_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)
