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
from collections.abc import Mapping
from dataclasses import dataclass, field

from vmwctl.common.words import plural
from vmwctl.firewall.coverage import coverage
from vmwctl.firewall.ports import Range
from vmwctl.firewall.vnc import vnc_verdict as judge_vnc
from vmwctl.nova.headroom import Flavor
from vmwctl.nova.rules import valid_datastores
from vmwctl.nova.vnc import held_ports
from vmwctl.profile.nova_conf import NovaConf
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Datastore, FirewallRuleset, Host, Inventory

DEFAULT_MAX_SESSIONS = 50  # check prereqs --max-sessions


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
    flavors: list[Flavor] = field(default_factory=list)  # --flavors-*: for capacity
    nova_conf: NovaConf | None = None  # --nova-conf, read: its [vnc] and [mks] count
    probe_console: bool = False  # --probe-console: the console check asks for MKS tickets
    console_check: bool = False  # the console check runs too: the VNC verdicts defer to it
    # the environment (OS_CLOUD, OS_CACERT, ...): the certificate check's cloud
    env: Mapping[str, str] = field(default_factory=dict)
    max_sessions: int = DEFAULT_MAX_SESSIONS  # --max-sessions: the sessions check warns above

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


def empty_cluster(inventory: Inventory, cluster: Cluster) -> tuple[str, str] | None:
    """Why Nova gets nothing from the cluster (no hosts, or none it counts), and the remedy;
    None when some host counts."""
    hosts = inventory.cluster_hosts(cluster)
    if not hosts:
        return (f"{cluster.path} has no hosts: Nova reports no resources for it and can place "
                "no instance", "add ESXi hosts to the cluster, or name another one")
    if not any(h.usable for h in hosts):
        return (f"{cluster.path} has {plural(len(hosts), 'host')}, none connected and out of "
                "maintenance: Nova counts no resources for it",
                "reconnect the hosts or take them out of maintenance mode")
    return None


@dataclass
class FirewallData:
    """What the VNC checks gather: the firewall rulesets read from each host, by host moid."""

    rulesets: dict[str, list[FirewallRuleset]] = field(default_factory=dict)


def vnc_verdict(check_id: str, hosts: list[Host], data: FirewallData, wanted: list[Range],
                inventory: Inventory, ctx: Context | None = None) -> CheckResult:
    """The one VNC verdict (vmwctl.firewall.vnc) as a check result.

    A host whose firewall was not read counts as opening nothing; the ports
    held are those of every VM of the vCenter, from the snapshot. When the
    console check of ``ctx`` runs too, the hosts without a VNC server that it
    judges are left to it.
    """
    reports = [coverage(dataclasses.replace(h, firewall=data.rulesets.get(h.moid)), wanted)
               for h in hosts]
    deferred = [h.name for h in ctx.connected_hosts] if ctx and ctx.console_check else []
    verdict = judge_vnc(reports, wanted, held_ports(inventory.vnc_vms()), deferred=deferred)
    return CheckResult(check_id, Status(verdict.status), verdict.detail, verdict.objects,
                       verdict.remedy)
