"""Which enabled inbound TCP rulesets open a port range on a host, and what stays closed.

The one implementation behind the ``vnc-firewall`` prerequisite check and
``vmwctl firewall status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmwctl.firewall.ports import Range, subtract
from vmwctl.nova.rules import NO_VNC_SERVER_FROM, version_tuple
from vmwctl.vsphere.model import FirewallRuleset, Host


@dataclass
class Coverage:
    """How a host's firewall covers the wanted port ranges."""

    host: str
    version: str | None
    wanted: list[Range]
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


def coverage(host: Host, wanted: Iterable[Range]) -> Coverage:
    """Which rulesets open the wanted ranges on the host, and the gaps none opens."""
    ranges = sorted(wanted)
    report = Coverage(host=host.name, version=host.version, wanted=ranges,
                      no_vnc_server=version_tuple(host.version) >= NO_VNC_SERVER_FROM)
    gaps = list(ranges)
    for ruleset in host.firewall or []:
        parts = []
        for begin, end in _opening(ruleset):
            for first, last in ranges:
                overlap = (max(begin, first), min(end, last))
                if overlap[0] <= overlap[1]:
                    parts.append(overlap)
                    gaps = subtract(gaps, overlap)
        if parts:
            report.rulesets[ruleset.key] = sorted(parts)
            if not ruleset.all_ip:
                report.restricted.append(ruleset.key)
    report.gaps = gaps
    return report
