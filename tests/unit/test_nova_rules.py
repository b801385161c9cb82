"""Nova's rules as pure functions: datastore filter, VNC range, cache folder, coverage."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmwctl.checks.model import CheckReport, CheckResult, Status
from vmwctl.firewall.coverage import coverage
from vmwctl.firewall.ports import describe_ranges
from vmwctl.nova.rules import (
    best_datastore,
    cache_folder,
    datastore_rejection,
    valid_datastores,
    version_tuple,
)
from vmwctl.nova.vnc import allocation, lowest_free_port, vnc_range
from vmwctl.privileges.guide import same_principal
from vmwctl.privileges.held import effective_privileges
from vmwctl.profile.load import build_profile
from vmwctl.vsphere.model import Datastore, FirewallRule, FirewallRuleset, Host


def ds(name: str, **kwargs) -> Datastore:
    values = {"type": "VMFS", "capacity": 100, "free_space": 50, "accessible": True,
              "maintenance_mode": "normal", "url": None}
    values.update(kwargs)
    return Datastore(moid=name, name=name, **values)


def test_datastore_filter_follows_nova() -> None:
    assert datastore_rejection(ds("a"), None) is None
    assert datastore_rejection(ds("a", accessible=False), None) == "not accessible"
    assert datastore_rejection(ds("a", maintenance_mode="inMaintenance"), None) == \
        "in maintenance (inMaintenance)"
    assert datastore_rejection(ds("a", maintenance_mode=None), None) is None
    assert datastore_rejection(ds("a", type="OTHER"), None).startswith("type OTHER")
    for kind in ("VMFS", "NFS", "NFS41", "vsan"):
        assert datastore_rejection(ds("a", type=kind), None) is None
    # re.match: anchored at the start only
    assert datastore_rejection(ds("nfs-os-1"), re.compile("nfs")) is None
    assert datastore_rejection(ds("old-nfs"), re.compile("nfs")) is not None
    assert datastore_rejection(ds("nfs-os-1"), re.compile("os")) is not None


def test_best_datastore_has_the_most_free_space() -> None:
    stores = [ds("a", free_space=10), ds("b", free_space=30), ds("c", free_space=99,
                                                                type="OTHER")]
    assert best_datastore(stores, None).name == "b"
    assert [d.name for d in valid_datastores(stores, None)] == ["a", "b"]
    assert best_datastore(stores, re.compile("x")) is None
    # vSAN only for streamOptimized images at spawn time
    assert best_datastore([ds("v", type="vsan")], None, ("VMFS", "NFS", "NFS41")) is None


def test_vnc_range_is_the_ports_nova_hands_out() -> None:
    assert vnc_range(build_profile("p", {})) == (5900, 15899)  # Nova's defaults
    assert vnc_range(build_profile("p", {"vmware": {"vnc_port_total": 206}})) == (5900, 6105)
    assert vnc_range(build_profile("p", {"vmware": {"vnc_port": 6000}})) == (6000, 15999)


def test_lowest_free_port_is_novas_get_vnc_port() -> None:
    assert lowest_free_port([], 5900, 5902) == 5900
    assert lowest_free_port([5900, 5901, 7000], 5900, 5902) == 5902
    assert lowest_free_port([5900, 5901, 5902], 5900, 5902) is None


@pytest.mark.parametrize(("held", "closed", "expected"), [
    # (size, held, free, fit, next_closed) over 5900-5909
    ([], [], (10, 0, 10, 10, None)),
    ([5900, 5905, 7000], [], (10, 2, 8, 8, None)),
    ([], [(5905, 5909)], (10, 0, 10, 5, 5905)),
    ([5901, 5903], [(5905, 5909)], (10, 2, 8, 3, 5905)),
    ([5900, 5901, 5902, 5903, 5904], [(5905, 5909)], (10, 5, 5, 0, 5905)),
    ([5905, 5906], [(5905, 5906), (5908, 5908)], (10, 2, 8, 6, 5908)),
    ([5905, 5906], [(5905, 5906)], (10, 2, 8, 8, None)),
    ([], [(5900, 5900)], (10, 0, 10, 0, 5900)),
    ([5900, 5900], [], (10, 2, 9, 9, None)),  # two VMs on one port: both count as holding
])
def test_allocation_walks_novas_lowest_free_port_order(held, closed, expected) -> None:
    found = allocation([(5900, 5909)], held, closed)
    assert (found.size, found.held, found.free, found.fit, found.next_closed) == expected


@given(st.sets(st.integers(5895, 5915)), st.lists(st.integers(5900, 5909), max_size=3))
def test_allocation_fit_is_what_handing_out_ports_one_by_one_gives(held, closed_ports) -> None:
    closed = [(p, p) for p in sorted(set(closed_ports))]
    taken, fit = set(held), 0
    while (port := lowest_free_port(taken, 5900, 5909)) is not None:
        if any(a <= port <= b for a, b in closed):
            break
        taken.add(port)
        fit += 1
    assert allocation([(5900, 5909)], held, closed).fit == fit


@pytest.mark.parametrize(("options", "expected"), [
    ({"DEFAULT": {"my_ip": "10.0.0.5"}}, "10.0.0.5_base"),
    ({}, None),
    ({"vmware": {"cache_prefix": "shared"}}, "shared_base"),
    ({"image_cache": {"remove_unused_base_images": False}}, "_base"),
    ({"image_cache": {"subdirectory_name": "_cache"}, "DEFAULT": {"my_ip": "10.0.0.5"}},
     "10.0.0.5_cache"),
    ({"vmware": {"cache_prefix": "p"}, "image_cache": {"remove_unused_base_images": False}},
     "p_base"),
])
def test_cache_folder_name(options: dict, expected: str | None) -> None:
    assert cache_folder(build_profile("p", options)) == expected


def test_version_tuple() -> None:
    assert version_tuple("6.7.0") == (6, 7, 0)
    assert version_tuple("5.1.0") < (5, 5, 0) <= version_tuple("5.5.0")
    assert version_tuple(None) == (0,)
    assert version_tuple("7.0.3a") == (7, 0, 3)


def host(*rulesets: FirewallRuleset, version: str = "6.5.0") -> Host:
    return Host(moid="h", name="h", parent=None, connection_state="connected",
                in_maintenance=False, version=version, build=None, product=None, cpu_threads=0,
                memory_bytes=0, memory_usage_mb=0, firewall=list(rulesets))


def ruleset(key: str, *ranges: tuple[int, int], enabled: bool = True, direction: str = "inbound",
            protocol: str = "tcp") -> FirewallRuleset:
    return FirewallRuleset(key, enabled, [FirewallRule(a, b if b != a else None, direction,
                                                       protocol, "dst") for a, b in ranges])


def test_coverage_of_a_range() -> None:
    report = coverage(host(ruleset("vnc", (5900, 6000)), ruleset("x", (6101, 6102)),
                           ruleset("off", (6000, 6200), enabled=False),
                           ruleset("udp", (6000, 6200), protocol="udp"),
                           ruleset("out", (6000, 6200), direction="outbound")), [(5900, 6105)])
    assert report.rulesets == {"vnc": [(5900, 6000)], "x": [(6101, 6102)]}
    assert report.gaps == [(6001, 6100), (6103, 6105)]
    assert describe_ranges(report.gaps) == "6001-6100, 6103-6105"
    assert coverage(host(ruleset("all", (1, 65535))), [(5900, 6105)]).open
    assert coverage(host(version="7.0.3"), [(5900, 6105)]).no_vnc_server


@given(st.lists(st.tuples(st.integers(5800, 6300), st.integers(0, 200)), max_size=6))
def test_coverage_gaps_are_exactly_the_ports_no_ruleset_opens(spans) -> None:
    rulesets = [ruleset(f"r{i}", (a, a + n)) for i, (a, n) in enumerate(spans)]
    report = coverage(host(*rulesets), [(5900, 6105)])
    opened = {p for a, n in spans for p in range(a, a + n + 1)}
    closed = {p for a, b in report.gaps for p in range(a, b + 1)}
    assert closed == set(range(5900, 6106)) - opened


def perm(principal: str, role: int, propagate: bool = True, group: bool = False):
    return SimpleNamespace(principal=principal, roleId=role, propagate=propagate, group=group)


def test_effective_privileges_nearest_level_wins() -> None:
    roles = {1: ["A", "B"], 2: ["A"]}
    levels = [[perm("svc@vsphere.local", 2)], [perm("VSPHERE.LOCAL\\svc", 1)]]
    assert effective_privileges(levels, roles, "svc@vsphere.local") >= {"A"}
    assert "B" not in effective_privileges(levels, roles, "svc@vsphere.local")
    # an ancestor's permission counts only when it propagates
    levels = [[], [perm("svc@vsphere.local", 1, propagate=False)]]
    assert effective_privileges(levels, roles, "svc@vsphere.local") == set()
    levels = [[], [perm("svc@vsphere.local", 1)]]
    assert {"A", "B", "System.Read"} <= effective_privileges(levels, roles, "SVC@VSPHERE.LOCAL")
    # group permissions are not evaluated
    assert effective_privileges([[perm("svc", 1, group=True)]], roles, "svc") == set()
    assert same_principal("DOMAIN\\User", "user@domain")


def test_report_exit_codes() -> None:
    report = CheckReport("u", "c", [CheckResult("a", Status.PASS, ""),
                                    CheckResult("b", Status.WARN, "")])
    assert report.summary == {"pass": 1, "warn": 1, "fail": 0, "skip": 0}
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1
    report.checks.append(CheckResult("c", Status.FAIL, ""))
    assert report.exit_code() == 1
