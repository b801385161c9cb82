"""The latency floor of bench/check_prereqs.py: the longest chain of calls of a request log
each begun after the one before it was answered (bench/benchlib.py critical_path)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import benchlib  # a script's module beside the benchmarks


def call(begun: float, answered: float, method: str = "M") -> dict[str, Any]:
    return {"method": method, "begun": begun, "answered": answered}


def test_calls_in_turn_are_all_on_the_path_calls_at_once_count_once() -> None:
    in_turn = [call(0, 5, "Login"), call(5, 10, "A"), call(12, 17, "B")]
    assert [c["method"] for c in benchlib.critical_path(in_turn)] == ["Login", "A", "B"]
    at_once = [call(0, 5), call(1, 6), call(2, 7), call(3, 8)]
    assert len(benchlib.critical_path(at_once)) == 1
    # two threads of three calls each, half a call apart: three rounds, not six
    threads = [call(t + 5 * i, t + 5 * i + 5) for t in (0, 2.5) for i in range(3)]
    assert len(benchlib.critical_path(threads)) == 3
    assert benchlib.critical_path([]) == []


def test_a_long_call_does_not_hide_the_short_ones_beside_it() -> None:
    """A slow read beside four quick calls in turn: the four are the path (the earliest
    answer first, not the earliest start)."""
    calls = [call(0, 40, "RetrievePropertiesEx")] + [call(1 + 6 * i, 6 + 6 * i) for i in range(4)]
    assert len(benchlib.critical_path(calls)) == 4


def test_calls_of_a_run_are_those_within_its_span() -> None:
    run = benchlib.Run(1.0, 2, benchlib.Tally(), began=10.0, ended=11.0)
    log = [call(9.9, 10.01, "before"), call(10.0, 10.5, "Login"), call(10.5, 11.0, "Read"),
           call(10.9, 11.1, "Logout")]
    assert [c["method"] for c in benchlib.calls_of(run, log)] == ["Login", "Read"]


def _longest_by_brute_force(calls: list[dict[str, Any]]) -> int:
    def chained(chain: tuple[dict[str, Any], ...]) -> bool:
        ordered = sorted(chain, key=lambda c: c["begun"])
        return all(b["begun"] >= a["answered"] for a, b in itertools.pairwise(ordered))

    return max(size for size in range(len(calls) + 1)
               for chain in itertools.combinations(calls, size) if chained(chain))


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20)), max_size=8))
def test_the_path_is_the_longest_chain(spans: list[tuple[int, int]]) -> None:
    calls = [call(start, start + length) for start, length in spans]
    path = benchlib.critical_path(calls)
    assert all(b["begun"] >= a["answered"] for a, b in itertools.pairwise(path))
    assert len(path) == _longest_by_brute_force(calls)
