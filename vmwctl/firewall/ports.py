"""Port ranges for firewall rules: parsed, validated, described."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from vmwctl.errors import UsageError

Range = tuple[int, int]


def parse_ports(text: str, what: str = "--ports") -> list[Range]:
    """'5900-6000,6101,6102,6105' -> [(5900, 6000), (6101, 6101), ...], sorted.

    Ports are 1-65535, a range's begin is at most its end, and ranges may
    neither overlap nor repeat.
    """
    ranges: list[Range] = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            raise UsageError(f"{what} {text!r}: an empty entry; give ranges like 5900-6105 or "
                             "single ports, separated by commas")
        begin_text, dash, end_text = item.partition("-")
        try:
            begin = int(begin_text)
            end = int(end_text) if dash else begin
        except ValueError:
            raise UsageError(f"{what}: {item!r} is not a port or a range BEGIN-END") from None
        for port in (begin, end):
            if not 1 <= port <= 65535:
                raise UsageError(f"{what}: port {port} is outside 1-65535")
        if begin > end:
            raise UsageError(f"{what}: {item!r} begins after it ends; write {end}-{begin}")
        ranges.append((begin, end))
    ranges.sort()
    for (a_begin, a_end), (b_begin, b_end) in itertools.pairwise(ranges):
        if b_begin <= a_end:
            raise UsageError(f"{what}: {describe_ranges([(a_begin, a_end)])} and "
                             f"{describe_ranges([(b_begin, b_end)])} overlap; give each port "
                             "once")
    return ranges


def describe_ranges(ranges: Iterable[Range]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def subtract(ranges: list[Range], cut: Range) -> list[Range]:
    """``ranges`` without the ports of ``cut``."""
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
