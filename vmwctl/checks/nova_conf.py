"""``check nova-conf``: a nova.conf read as Nova's VMware driver reads it.

Offline checks need only the file; online ones (the cluster, the datastores
the regex selects, the hosts' firewalls) use the profile's vCenter, and are
skipped when the nova.conf names another one. The hosts' firewalls are the
only reads beyond the inventory snapshot: :func:`gather_nova_conf` makes
them, :func:`judge_nova_conf` is pure.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vmwctl.checks.model import (
    CheckResult,
    Context,
    FirewallData,
    failed,
    passed,
    skipped,
    vnc_verdict,
    warned,
)
from vmwctl.firewall.ports import Range
from vmwctl.nova.rules import valid_datastores
from vmwctl.profile.nova_conf import (
    DEPRECATED_IMAGE_CACHE_ALIASES,
    REMOVED_VMWARE_OPTIONS,
    VC_DRIVER,
    NovaConf,
)
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Host
from vmwctl.vsphere.snapshot import read_firewalls

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

REQUIRED = ("host_ip", "host_username", "host_password", "cluster_name")
DEFAULT_RESERVED_MEMORY_MB = 512
_TRUE = ("true", "yes", "on", "1")


def _value(conf: NovaConf, section: str, name: str) -> str | None:
    item = conf.get(section, name)
    return item.value.strip() if item is not None else None


def _where(conf: NovaConf, section: str, name: str) -> str:
    item = conf.get(section, name)
    return f"{conf.path.name}:{item.line}" if item else conf.path.name


ONLINE = ("cluster", "datastores", "vnc-ports")


def _online_skip(conf: NovaConf, profile: Profile | None, ctx: Context | None) -> str | None:
    """Why the online checks are skipped (offline, or another vCenter), or None."""
    if ctx is None:
        return "offline"
    host = _value(conf, "vmware", "host_ip")
    if profile is not None and host and host != profile.vmware.host_ip:
        return (f"nova.conf names vCenter {host}, the profile connects to "
                f"{profile.vmware.host_ip}: use a profile for that vCenter")
    return None


def _clusters(conf: NovaConf, ctx: Context) -> tuple[str | None, list[Cluster]]:
    """cluster_name and the clusters of that name."""
    name = _value(conf, "vmware", "cluster_name")
    return name, ctx.inventory.clusters_named(name) if name else []


def gather_nova_conf(vc: VCenter, conf: NovaConf, profile: Profile | None,
                     ctx: Context | None) -> FirewallData:
    """The firewalls nova-conf.vnc-ports judges (one paged read; none when it does not)."""
    if _online_skip(conf, profile, ctx) is not None:
        return FirewallData()
    assert ctx is not None
    _, clusters = _clusters(conf, ctx)
    scope = _vnc_scope(conf, clusters[0] if len(clusters) == 1 else None, ctx)
    if isinstance(scope, CheckResult):
        return FirewallData()

    return FirewallData(read_firewalls(vc, ctx.inventory, scope[0]))


def check_nova_conf(conf: NovaConf, profile: Profile | None, ctx: Context | None,
                    vc: VCenter | None = None) -> list[CheckResult]:
    """Every nova.conf check: offline when ``ctx`` is None, else gathered from ``vc``."""
    data = FirewallData()
    if ctx is not None:
        assert vc is not None, "the online checks read the hosts' firewalls"
        data = gather_nova_conf(vc, conf, profile, ctx)
    return judge_nova_conf(conf, profile, ctx, data)


def judge_nova_conf(conf: NovaConf, profile: Profile | None, ctx: Context | None,
                    data: FirewallData) -> list[CheckResult]:
    """Every nova.conf check; ``ctx`` is None offline."""
    results = [_driver(conf), _required(conf), _reserved_memory(conf), _tls(conf),
               _obsolete(conf)]
    regex, regex_result = _regex(conf)
    results.append(regex_result)
    reason = _online_skip(conf, profile, ctx)
    if reason is not None:
        return results + [skipped(f"nova-conf.{name}", reason) for name in ONLINE]
    assert ctx is not None
    cluster_name, clusters = _clusters(conf, ctx)
    results.append(_cluster(conf, cluster_name, clusters, ctx))
    cluster = clusters[0] if len(clusters) == 1 else None
    results.append(_datastores(conf, regex, cluster, ctx))
    results.append(_vnc_ports(conf, cluster, ctx, data))
    return results


def _driver(conf: NovaConf) -> CheckResult:
    driver = _value(conf, "DEFAULT", "compute_driver")
    if driver == VC_DRIVER:
        return passed("nova-conf.driver", f"compute_driver = {VC_DRIVER}")
    where = _where(conf, "DEFAULT", "compute_driver")
    return failed("nova-conf.driver", f"{where}: compute_driver is {driver or 'not set'}",
                  [], f"set [DEFAULT] compute_driver = {VC_DRIVER}")


def _required(conf: NovaConf) -> CheckResult:
    missing = [name for name in REQUIRED if not _value(conf, "vmware", name)]
    if missing:
        return failed("nova-conf.required", f"[vmware] lacks {', '.join(missing)}", missing,
                      "set them in [vmware]; nova-compute does not start without them")
    return passed("nova-conf.required", "[vmware] host_ip, host_username, host_password and "
                  "cluster_name are set")


def _reserved_memory(conf: NovaConf) -> CheckResult:
    raw = _value(conf, "DEFAULT", "reserved_host_memory_mb")
    try:
        value = int(raw) if raw is not None else DEFAULT_RESERVED_MEMORY_MB
    except ValueError:
        return failed("nova-conf.reserved-memory", f"reserved_host_memory_mb {raw!r} is not a "
                      "number", [], "set it to 0")
    if value == DEFAULT_RESERVED_MEMORY_MB:
        origin = "the default" if raw is None else _where(conf, "DEFAULT",
                                                           "reserved_host_memory_mb")
        return warned("nova-conf.reserved-memory", f"reserved_host_memory_mb is 512 ({origin}); "
                      "the guide recommends 0, as the driver reports the memory VMs can use",
                      [], "set [DEFAULT] reserved_host_memory_mb = 0")
    return passed("nova-conf.reserved-memory", f"reserved_host_memory_mb = {value}")


def _tls(conf: NovaConf) -> CheckResult:
    insecure = (_value(conf, "vmware", "insecure") or "false").lower() in _TRUE
    if insecure and not _value(conf, "vmware", "ca_file"):
        return warned("nova-conf.tls", f"{_where(conf, 'vmware', 'insecure')}: insecure = True "
                      "without ca_file: nova-compute does not verify the vCenter's certificate",
                      [], "set [vmware] ca_file to the vCenter's CA bundle and drop insecure")
    return passed("nova-conf.tls", "the vCenter certificate is verified")


def _obsolete(conf: NovaConf) -> CheckResult:
    found = []
    for name, why in REMOVED_VMWARE_OPTIONS.items():
        if conf.get("vmware", name) is not None:
            found.append(f"{_where(conf, 'vmware', name)}: [vmware] {name} ({why})")
    for old, new in DEPRECATED_IMAGE_CACHE_ALIASES.items():
        if conf.get("DEFAULT", old) is not None:
            found.append(f"{_where(conf, 'DEFAULT', old)}: [DEFAULT] {old} (deprecated: "
                         f"[image_cache] {new})")
    if found:
        return warned("nova-conf.obsolete", "; ".join(found), [],
                      "remove removed options; move deprecated ones to [image_cache]")
    return passed("nova-conf.obsolete", "no removed or deprecated options")


def _regex(conf: NovaConf) -> tuple[re.Pattern[str] | None, CheckResult]:
    pattern = _value(conf, "vmware", "datastore_regex")
    if not pattern:
        return None, passed("nova-conf.datastore-regex", "no datastore_regex: every valid "
                            "datastore of the cluster may be used")
    try:
        return re.compile(pattern), passed("nova-conf.datastore-regex",
                                           f"datastore_regex {pattern!r} compiles")
    except (re.error, OverflowError, RecursionError) as exc:
        return None, failed("nova-conf.datastore-regex",
                            f"{_where(conf, 'vmware', 'datastore_regex')}: datastore_regex "
                            f"{pattern!r} is invalid ({exc}): nova-compute refuses to start", [],
                            "fix the regular expression")


def _cluster(conf: NovaConf, name: str | None, clusters: list, ctx: Context) -> CheckResult:
    if not name:
        return skipped("nova-conf.cluster", "no cluster_name (see nova-conf.required)")
    if len(clusters) == 1:
        return passed("nova-conf.cluster", f"cluster {name} exists ({clusters[0].path})",
                      [clusters[0].path])
    if not clusters:
        return failed("nova-conf.cluster", f"{_where(conf, 'vmware', 'cluster_name')}: no "
                      f"cluster named {name!r} in {ctx.inventory.endpoint.url}", [],
                      "set cluster_name to an existing cluster")
    return failed("nova-conf.cluster", f"{len(clusters)} clusters are named {name!r}",
                  sorted(c.path for c in clusters), "rename the clusters")


def _datastores(conf: NovaConf, regex: re.Pattern[str] | None, cluster: Cluster | None,
                ctx: Context) -> CheckResult:
    if cluster is None:
        return skipped("nova-conf.datastores", "no cluster to look in")
    pattern = _value(conf, "vmware", "datastore_regex")
    if pattern and regex is None:
        return skipped("nova-conf.datastores", "datastore_regex is invalid")
    used = valid_datastores(ctx.inventory.cluster_datastores(cluster), regex)
    if not used:
        return failed("nova-conf.datastores", f"datastore_regex {pattern!r} selects no valid "
                      "datastore of the cluster", [], "fix datastore_regex")
    return passed("nova-conf.datastores", f"selects {', '.join(sorted(d.name for d in used))}",
                  sorted(d.name for d in used))


def _vnc_scope(conf: NovaConf, cluster: Cluster | None,
               ctx: Context) -> tuple[list[Host], Range] | CheckResult:
    """The hosts whose firewalls vnc-ports judges and the range, or its verdict without them."""
    enabled = (_value(conf, "vnc", "enabled") or "true").lower() in _TRUE
    if not enabled:
        return skipped("nova-conf.vnc-ports", "[vnc] enabled is false")
    if cluster is None:
        return skipped("nova-conf.vnc-ports", "no cluster to look in")
    try:
        first = int(_value(conf, "vmware", "vnc_port") or 5900)
        total = int(_value(conf, "vmware", "vnc_port_total") or 10000)
    except ValueError:
        return failed("nova-conf.vnc-ports", "vnc_port or vnc_port_total is not a number", [],
                      "fix them")
    hosts = [h for h in ctx.inventory.cluster_hosts(cluster) if h.connection_state == "connected"]
    if not hosts:
        return skipped("nova-conf.vnc-ports", "no connected host to check")
    return hosts, (first, first + max(total, 1) - 1)


def _vnc_ports(conf: NovaConf, cluster: Cluster | None, ctx: Context,
               data: FirewallData) -> CheckResult:
    scope = _vnc_scope(conf, cluster, ctx)
    if isinstance(scope, CheckResult):
        return scope
    hosts, wanted = scope
    return vnc_verdict("nova-conf.vnc-ports", hosts, data, [wanted])
