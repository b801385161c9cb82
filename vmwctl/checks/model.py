"""Check results (a stable id, a status, one line of detail, the objects, a remedy), the
context every check of a vCenter reads, and the VNC verdict several checks share.

All of it is pure: the checks that need more than the inventory snapshot
gather what they read into a dataclass first (``gather_*``), and judge it here
and in the check modules (``judge_*``) without a vCenter.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections import Counter
from dataclasses import dataclass, field

from vmwctl.firewall.coverage import coverage
from vmwctl.firewall.ports import Range, describe_ranges
from vmwctl.nova.rules import valid_datastores
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Datastore, FirewallRuleset, Host, Inventory


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class CheckResult:
    id: str
    status: Status
    detail: str
    objects: list[str] = field(default_factory=list)
    remedy: str | None = None


def passed(check_id: str, detail: str, objects: list[str] | None = None) -> CheckResult:
    return CheckResult(check_id, Status.PASS, detail, objects or [])


def warned(check_id: str, detail: str, objects: list[str] | None = None,
           remedy: str | None = None) -> CheckResult:
    return CheckResult(check_id, Status.WARN, detail, objects or [], remedy)


def failed(check_id: str, detail: str, objects: list[str] | None = None,
           remedy: str | None = None) -> CheckResult:
    return CheckResult(check_id, Status.FAIL, detail, objects or [], remedy)


def skipped(check_id: str, detail: str) -> CheckResult:
    return CheckResult(check_id, Status.SKIP, detail)


@dataclass
class CheckReport:
    """What a check command found; JSON keys documented in docs/checks.md."""

    vcenter: str | None
    cluster: str | None
    checks: list[CheckResult]
    summary: dict[str, int] = field(default_factory=dict)
    vsphere_requests: int | None = None

    def __post_init__(self) -> None:
        self.summarize()

    def summarize(self) -> None:
        counts = Counter(result.status.value for result in self.checks)
        self.summary = {status.value: counts.get(status.value, 0) for status in Status}

    def exit_code(self, *, strict: bool = False) -> int:
        bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return 1 if any(result.status in bad for result in self.checks) else 0


@dataclass
class Context:
    """What every check of one vCenter reads: the inventory snapshot and the settings."""

    inventory: Inventory
    profile: Profile
    cluster_name: str | None
    cluster: Cluster | None
    regex: re.Pattern[str] | None
    portgroup: str | None
    network_model: str | None = None  # --network-model; else the profile's

    @property
    def hosts(self) -> list[Host]:
        return self.inventory.cluster_hosts(self.cluster) if self.cluster else []

    @property
    def connected_hosts(self) -> list[Host]:
        return [h for h in self.hosts if h.connection_state == "connected"]

    @property
    def datastores(self) -> list[Datastore]:
        return self.inventory.cluster_datastores(self.cluster) if self.cluster else []

    @property
    def used_datastores(self) -> list[Datastore]:
        return valid_datastores(self.datastores, self.regex)


FIREWALL_REMEDY = ("install the VNC firewall VIB on every host ('vmwctl firewall vib build' "
                   "then 'vmwctl firewall vib install'), or enable a ruleset that covers the "
                   "range ('vmwctl firewall enable --ruleset ID')")


@dataclass
class FirewallData:
    """What the VNC checks gather: the firewall rulesets read from each host, by host moid."""

    rulesets: dict[str, list[FirewallRuleset]] = field(default_factory=dict)


def vnc_verdict(check_id: str, hosts: list[Host], data: FirewallData,
                wanted: list[Range]) -> CheckResult:
    """One verdict from the hosts' coverage of the VNC ports (shared with check nova-conf).

    A host whose firewall was not read counts as opening nothing.
    """
    span = describe_ranges(wanted)
    reports = [coverage(dataclasses.replace(h, firewall=data.rulesets.get(h.moid)), wanted)
               for h in hosts]
    gaps = [r for r in reports if r.gaps and not r.no_vnc_server]
    without_vnc = [r.host for r in reports if r.no_vnc_server]
    if gaps:
        detail = "; ".join(f"{r.host} leaves {describe_ranges(r.gaps)} closed" for r in gaps)
        return failed(check_id, f"VNC ports {span} are not all open: {detail}",
                      sorted(r.host for r in gaps), FIREWALL_REMEDY)
    if without_vnc:
        return warned(check_id, f"ESXi 7.0 and later have no VNC server: "
                      f"{', '.join(sorted(without_vnc))}", sorted(without_vnc),
                      "use the MKS console ([mks] enabled) for these hosts")
    rulesets = sorted({key for r in reports for key in r.rulesets})
    return passed(check_id, f"VNC ports {span} open on all {len(reports)} hosts (rulesets "
                  f"{', '.join(rulesets)})", rulesets)
