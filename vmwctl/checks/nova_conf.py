"""``check nova-conf``: a nova.conf read as Nova's VMware driver reads it.

Every option the file sets is judged against Nova's option table
(vmwctl/profile/nova_options.py) the way oslo.config parses it, and the
driver's own rules. Offline checks need only the file; online ones (the
cluster, the datastores the regex selects, the hosts' firewalls, the memory
reserved_host_memory_mb hides) use the profile's vCenter, and are skipped when
the nova.conf names another one. The snapshot they judge is scoped to the
file's cluster_name (:func:`read_for_conf`). The hosts' firewalls, the VNC
ports of the vCenter's VMs and whether the files the nova.conf names exist on
this machine are the only reads beyond it: :func:`check_nova_conf` gathers
them, :func:`judge_nova_conf` is pure.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from vmwctl.checks.model import (
    CheckResult,
    Context,
    FirewallData,
    Status,
    empty_cluster,
    failed,
    passed,
    skipped,
    vnc_verdict,
    warned,
)
from vmwctl.checks.network import NetworkData, gather_network, judge_network
from vmwctl.common.choices import did_you_mean
from vmwctl.firewall.ports import Range
from vmwctl.nova.cluster import nova_node
from vmwctl.nova.network import NOVA_NETWORK_GONE
from vmwctl.nova.rules import cache_folder, folder_name_problem, valid_datastores
from vmwctl.profile.nova_conf import SECRET_HINT, VC_DRIVER, NovaConf, network_settings
from vmwctl.profile.nova_options import (
    FULL_SECTIONS,
    NOVA_OPTIONS,
    NOVA_VERSION,
    NovaOption,
    deprecated_name_of,
    nova_option_named,
    options_in,
    parse_value,
    removal_note,
    removed_option_named,
)
from vmwctl.profile.schema import SECTIONS, Profile
from vmwctl.vsphere.model import Cluster, Host, Inventory
from vmwctl.vsphere.snapshot import NO_VMS, read_firewalls, read_inventory, read_vnc_holders

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

REQUIRED = ("host_ip", "host_username", "host_password", "cluster_name")
# Above this, every vCenter task Nova waits on ends noticeably late (ten times the default).
MAX_TASK_POLL_INTERVAL = 5.0
NO_SPBM = ("vmwctl does not check that a storage policy exists: it does not talk to the "
           "SPBM endpoint")


def _value(conf: NovaConf, section: str, name: str) -> str | None:
    item = conf.get(section, name)
    return item.value.strip() if item is not None else None


def _where(conf: NovaConf, section: str, name: str) -> str:
    item = conf.get(section, name)
    return f"{conf.path.name}:{item.line}" if item else conf.path.name


def _shown(text: str) -> str:
    """A value for a finding: quoted and short; never one that may hold a secret."""
    if SECRET_HINT.search(text):
        return "(not shown: it may hold a secret)"
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


@dataclass
class Setting:
    """One Nova option as the file sets it: under its name or a deprecated one."""

    option: NovaOption
    section: str  # as written in the file
    name: str
    line: int
    text: str
    value: Any = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"[{self.section}] {self.name}"


@dataclass
class NovaConfView:
    """The options Nova reads from a nova.conf, each parsed as oslo.config parses it."""

    conf: NovaConf
    settings: dict[tuple[str, str], Setting]  # by the option's current (section, name)

    def where(self, setting: Setting) -> str:
        return f"{self.conf.path.name}:{setting.line}"

    def get(self, section: str, name: str) -> Setting | None:
        return self.settings.get((section, name))

    def invalid(self, section: str, name: str) -> bool:
        setting = self.get(section, name)
        return setting is not None and setting.error is not None

    def value(self, section: str, name: str) -> Any:
        """What Nova uses: the file's value, or Nova's default when unset or invalid."""
        setting = self.get(section, name)
        if setting is not None and setting.error is None and setting.value is not None:
            return setting.value
        option = nova_option_named(section, name)
        assert option is not None, (section, name)
        return option.default


def read_settings(conf: NovaConf) -> NovaConfView:
    """Every Nova option the file sets; under a current and a deprecated name, the current
    name wins, as in oslo.config."""
    settings: dict[tuple[str, str], Setting] = {}
    for option in NOVA_OPTIONS:
        for section, name in ((option.section, option.name), *option.deprecated):
            item = conf.get(section, name)
            if item is None:
                continue
            setting = Setting(option, section, name, item.line, item.value)
            try:
                setting.value = parse_value(option, item.value)
            except ValueError as exc:
                setting.error = str(exc)
            if setting.value is None and setting.error is None and option.default is not None:
                setting.error = (f"empty: oslo.config reads None, not Nova's default "
                                 f"{option.default}")
            settings[(option.section, option.name)] = setting
            break
    return NovaConfView(conf, settings)


def local_files(conf: NovaConf) -> dict[str, bool]:
    """Whether the files the nova.conf names (ca_file, a file:// pbm_wsdl_location) exist on
    this machine, which may not be the compute node."""
    found = {}
    for path in _named_files(read_settings(conf)):
        try:
            found[path] = Path(path).exists()
        except (OSError, ValueError):  # a NUL byte, a name too long: not a file here either
            found[path] = False
    return found


def _named_files(view: NovaConfView) -> list[str]:
    paths = []
    ca_file = view.value("vmware", "ca_file")
    if ca_file:
        paths.append(ca_file)
    wsdl = view.value("vmware", "pbm_wsdl_location")
    if wsdl and wsdl.startswith("file://"):
        paths.append(unquote(urlsplit(wsdl).path))
    return paths


ONLINE = ("cluster", "datastores", "vnc-ports")


def _online_skip(conf: NovaConf, profile: Profile | None, ctx: object | None) -> str | None:
    """Why the online checks are skipped (offline: ``ctx`` None, or another vCenter), or
    None."""
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


def read_for_conf(vc: VCenter, conf: NovaConf, profile: Profile,
                  ctx: Context | None = None) -> Inventory:
    """What the online checks judge, read scoped to the file's cluster_name: that cluster's
    hosts, datastores and networks, no VM (the VNC ports of the vCenter's VMs are read
    apart), and the tree, which names every cluster; the tree alone when the file names no
    cluster or another vCenter. ``ctx``: check prereqs' context, whose inventory is taken
    as it is when it was read for that cluster, or is the whole vCenter's."""
    name = _value(conf, "vmware", "cluster_name") \
        if _online_skip(conf, profile, True) is None else None
    if ctx is not None and (not name or name == ctx.cluster_name or (
            ctx.inventory.scope is None and ctx.cluster is not None)):
        return ctx.inventory  # every read holds the tree; an unscoped one with the cluster
        # found is the whole vCenter's
    return read_inventory(vc, cluster=name or None, properties=NO_VMS if name else {})


def gather_nova_conf(vc: VCenter, conf: NovaConf, profile: Profile | None,
                     ctx: Context | None) -> FirewallData:
    """The firewalls nova-conf.vnc-ports judges (one paged read; none when it does not),
    and, after a read scoped to the cluster, the VNC port of every VM of the vCenter."""
    if _online_skip(conf, profile, ctx) is not None:
        return FirewallData()
    assert ctx is not None
    _, clusters = _clusters(conf, ctx)
    scope = _vnc_scope(conf, clusters[0] if len(clusters) == 1 else None, ctx)
    if isinstance(scope, CheckResult):
        return FirewallData()

    read_vnc_holders(vc, ctx.inventory)
    return FirewallData(read_firewalls(vc, ctx.inventory, scope[0]))


def check_nova_conf(conf: NovaConf, profile: Profile | None, ctx: Context | None,
                    vc: VCenter | None = None) -> list[CheckResult]:
    """Every nova.conf check: offline when ``ctx`` is None, else gathered from ``vc``."""
    data, nics = FirewallData(), NetworkData()
    if ctx is not None:
        assert vc is not None, "the online checks read the hosts' firewalls"
        data = gather_nova_conf(vc, conf, profile, ctx)
        if (network_ctx := _network_context(conf, profile, ctx)) is not None:
            nics = gather_network(vc, network_ctx)
    return judge_nova_conf(conf, profile, ctx, data, local_files(conf), nics)


def judge_nova_conf(conf: NovaConf, profile: Profile | None, ctx: Context | None,
                    data: FirewallData, files: Mapping[str, bool] | None = None,
                    nics: NetworkData | None = None) -> list[CheckResult]:
    """Every nova.conf check; ``ctx`` is None offline; ``files``: whether the files the
    nova.conf names exist on this machine (unknown when absent); ``nics``: the hosts'
    physical NICs, for nova-network-vlan."""
    view = read_settings(conf)
    files = files or {}
    reason = _online_skip(conf, profile, ctx)
    cluster_name, clusters = _clusters(conf, ctx) if ctx is not None else (None, [])
    cluster = clusters[0] if reason is None and len(clusters) == 1 else None
    total = None  # the memory Nova reports for the cluster, online
    if ctx is not None and cluster is not None:
        total = nova_node(ctx.inventory, cluster, _conf_profile(view)).memory_mb
    results = [_driver(conf), _required(conf), _values(view), _unknown(conf),
               _obsolete(conf), _reserved_memory(view, total), _tls(view, files),
               _connection(view), _image_cache(view), _console(view), _pbm(view, files),
               _network(conf, _network_context(conf, profile, ctx), nics or NetworkData())]
    regex, regex_result = _regex(conf)
    results.append(regex_result)
    if reason is not None:
        return results + [skipped(f"nova-conf.{name}", reason) for name in ONLINE]
    assert ctx is not None
    results.append(_cluster(conf, cluster_name, clusters, ctx))
    results.append(_datastores(conf, regex, cluster, ctx))
    results.append(_vnc_ports(conf, cluster, ctx, data))
    return results


def _network_context(conf: NovaConf, profile: Profile | None,
                     ctx: Context | None) -> Context | None:
    """The context the network check judges the nova.conf's model in: its cluster, its
    integration_bridge and nova-network names; None offline, or without that one cluster."""
    if ctx is None or _online_skip(conf, profile, ctx) is not None:
        return None
    _, clusters = _clusters(conf, ctx)
    if len(clusters) != 1:
        return None
    network = network_settings(conf)
    settings = _conf_profile(read_settings(conf))
    settings.network_model = network.model
    for name in ("flat_network_bridge", "vlan_interface"):
        if (item := getattr(network, name)) is not None:
            setattr(settings.default, name, item.value.strip())
    return Context(inventory=ctx.inventory, profile=settings, cluster_name=clusters[0].name,
                   cluster=clusters[0], regex=None, portgroup=None)


def _network(conf: NovaConf, ctx: Context | None, nics: NetworkData) -> CheckResult:
    """The networking model the file implies; online, judged on the cluster's hosts as
    check prereqs judges it."""
    network = network_settings(conf)
    how = network.notes[0]
    if network.model is None:
        return warned("nova-conf.network", f"{how}: vmwctl cannot tell the networking model",
                      [], "use Neutron; nova-network was removed from Nova")
    bridge = conf.get("vmware", "integration_bridge")
    what = (f"{how}: Nova backs every NIC with opaque network id {bridge.value.strip()!r}, "
            "for the NSX-MH plugin only" if network.model == "nsx-mh" and bridge else how)
    if ctx is None:
        detail = f"{what}; the hosts are not checked (offline, or no single cluster)"
        if network.model.startswith("nova-network"):
            return warned("nova-conf.network", f"{detail}; {NOVA_NETWORK_GONE}", [],
                          "move to Neutron")
        return passed("nova-conf.network", detail)
    judged = judge_network(ctx, nics)
    return dataclasses.replace(judged, id="nova-conf.network",
                               detail=f"{what}; {judged.detail}")


def _conf_profile(view: NovaConfView) -> Profile:
    """A profile holding the nova.conf's valid values, for Nova's rules that take one."""
    profile = Profile(name=view.conf.path.name, source=view.conf.path)
    for section in ("vmware", "image_cache", "DEFAULT", "vnc", "mks"):
        target = profile.section(section)
        for field in dataclasses.fields(SECTIONS[section]):
            key = field.metadata.get("nova")
            setting = view.settings.get(key) if key else None
            if setting is None or setting.error is not None or setting.value is None:
                continue
            if field.metadata.get("kind") == "regex" and _compiles(setting.value) is None:
                continue
            setattr(target, field.name, setting.value)
    return profile


def _compiles(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return None


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


def _values(view: NovaConfView) -> CheckResult:
    problems = sorted((s for s in view.settings.values() if s.error), key=lambda s: s.line)
    if problems:
        return failed("nova-conf.values", "; ".join(
            f"{view.where(s)}: {s.label} = "
            f"{'(not shown: a secret)' if s.option.secret else _shown(s.text)}: {s.error}"
            for s in problems), [s.label for s in problems],
            "fix the values: oslo.config refuses them, and nova-compute fails where it "
            "reads one")
    count = len(view.settings)
    return passed("nova-conf.values", f"{count} Nova option{'' if count == 1 else 's'} set, "
                  "all valid")


def _unknown(conf: NovaConf) -> CheckResult:
    found: list[tuple[int, str, str]] = []
    for section, options in conf.sections.items():
        proper = next((s for s in (*FULL_SECTIONS, "DEFAULT") if s.lower() == section.lower()),
                      None)
        if proper is not None and proper != section:
            line = conf.headers.get(section, 0)
            found.append((line, f"[{section}]", f"{conf.path.name}:{line}: [{section}] is not "
                          f"[{proper}]: Nova reads section names as written"))
        if section not in FULL_SECTIONS:
            continue
        known = [o.name for o in options_in(section)]
        for name, item in options.items():
            if name in known or deprecated_name_of(section, name) or \
                    removed_option_named(section, name):
                continue
            found.append((item.line, f"[{section}] {name}",
                          f"{conf.path.name}:{item.line}: [{section}] {name} is not a Nova "
                          f"option{did_you_mean(name, known)}"))
    names = [f"[{s}]" for s in FULL_SECTIONS]
    return _findings("nova-conf.unknown", _by_line(found),
                     f"every option of {', '.join(names[:-1])} and {names[-1]} is one Nova "
                     f"{NOVA_VERSION} has",
                     "fix or remove them: oslo.config ignores what it does not know, and Nova "
                     "runs with the default")


def _by_line(found: list[tuple[int, str, str]]) -> list[tuple[Status, str, str]]:
    """Warnings (line, object, text) in the file's order, as _findings takes them."""
    return [(Status.WARN, text, label) for _, label, text in sorted(found)]


def _obsolete(conf: NovaConf) -> CheckResult:
    found: list[tuple[int, str, str]] = []
    for section, options in conf.sections.items():
        for name, item in options.items():
            where = f"{conf.path.name}:{item.line}"
            removed = removed_option_named(section, name)
            if removed is not None:
                found.append((item.line, removed.label,
                              f"{where}: {removed.label} was {removal_note(removed)}"))
            current = deprecated_name_of(section, name)
            if current is None:
                continue
            text = f"{where}: [{section}] {name} is deprecated: Nova reads {current.label}"
            newer = conf.get(current.section, current.name)
            if newer is not None:
                text += (f", which is set too ({conf.path.name}:{newer.line}) and wins")
            found.append((item.line, f"[{section}] {name}", text))
    return _findings("nova-conf.obsolete", _by_line(found), "no removed or deprecated options",
                     "delete the removed options; rename the deprecated ones to the names Nova "
                     "reads")


def _reserved_memory(view: NovaConfView, cluster_mb: int | None) -> CheckResult:
    check_id, label = "nova-conf.reserved-memory", "[DEFAULT] reserved_host_memory_mb"
    setting = view.get("DEFAULT", "reserved_host_memory_mb")
    if view.invalid("DEFAULT", "reserved_host_memory_mb"):
        return skipped(check_id, "reserved_host_memory_mb is invalid (see nova-conf.values)")
    value = view.value("DEFAULT", "reserved_host_memory_mb")
    if setting is None:
        origin = f"reserved_host_memory_mb is not set, and Nova's default {value}"
    else:
        origin = f"{view.where(setting)}: reserved_host_memory_mb = {value}"
    if value == 0:
        return passed(check_id, f"{origin}: the scheduler sees all the memory the driver "
                      "reports")
    remedy = "set [DEFAULT] reserved_host_memory_mb = 0"
    if cluster_mb:
        if value >= cluster_mb:
            return failed(check_id, f"{origin} hides all of the cluster's {cluster_mb:,} MB "
                          "from the scheduler: no instance fits", [label], remedy)
        return warned(check_id, f"{origin} hides {value:,} MB of the cluster's "
                      f"{cluster_mb:,} MB ({100 * value / cluster_mb:.1f}%) from the scheduler; "
                      "the guide recommends 0", [label], remedy)
    return warned(check_id, f"{origin} hides {value:,} MB from the scheduler; the driver "
                  "already reports the cluster's effective memory, so the guide recommends 0",
                  [label], remedy)


def _tls(view: NovaConfView, files: Mapping[str, bool]) -> CheckResult:
    insecure = view.value("vmware", "insecure")
    ca_file = view.value("vmware", "ca_file")
    flag = view.get("vmware", "insecure")
    where = view.where(flag) if flag else view.conf.path.name
    if insecure and not ca_file:
        return warned("nova-conf.tls", f"{where}: insecure = True without ca_file: "
                      "nova-compute does not verify the vCenter's certificate",
                      ["[vmware] insecure"],
                      "set [vmware] ca_file to the vCenter's CA bundle and drop insecure")
    note = ""
    if ca_file and files.get(ca_file) is False:
        note = (f" ({ca_file} is not on this machine: make sure it is on the compute node)")
    if insecure:
        ca_setting = view.get("vmware", "ca_file")
        assert ca_setting is not None
        return warned("nova-conf.tls", f"{where}: insecure = True is ignored: ca_file is set "
                      f"({view.where(ca_setting)}), and Nova verifies the vCenter's "
                      f"certificate against it{note}", ["[vmware] insecure"],
                      "drop insecure = True: it says the opposite of what Nova does")
    if ca_file:
        return passed("nova-conf.tls", f"the vCenter certificate is verified against ca_file "
                      f"{ca_file}{note}")
    return passed("nova-conf.tls", "the vCenter certificate is verified against the system's "
                  "CA certificates")


def _findings(check_id: str, problems: list[tuple[Status, str, str]], summary: str,
              remedy: str) -> CheckResult:
    """One result of several problems (status, text, object): the worst status wins."""
    if not problems:
        return passed(check_id, summary)
    worst = Status.FAIL if any(p[0] == Status.FAIL for p in problems) else Status.WARN
    maker = failed if worst == Status.FAIL else warned
    return maker(check_id, "; ".join(p[1] for p in problems),
                 list(dict.fromkeys(p[2] for p in problems)), remedy)


def _at(view: NovaConfView, section: str, name: str) -> str:
    setting = view.get(section, name)
    return f"{view.where(setting)}: {setting.label}" if setting else f"[{section}] {name}"


def _summary(view: NovaConfView, section: str, names: list[str], unit: str = "") -> str:
    return ", ".join(f"{name} invalid (see nova-conf.values)" if view.invalid(section, name)
                     else f"{name} {view.value(section, name)}{unit if name == names[-1] else ''}"
                     for name in names)


def _connection(view: NovaConfView) -> CheckResult:
    problems: list[tuple[Status, str, str]] = []
    if not view.invalid("vmware", "host_port") and view.value("vmware", "host_port") == 0:
        problems.append((Status.FAIL, f"{_at(view, 'vmware', 'host_port')} = 0: no vCenter "
                         "answers on port 0", "[vmware] host_port"))
    if not view.invalid("vmware", "api_retry_count") and \
            view.value("vmware", "api_retry_count") == 0:
        problems.append((Status.WARN, f"{_at(view, 'vmware', 'api_retry_count')} = 0: Nova "
                         "does not retry a vCenter call after a connection failure, so one "
                         "dropped connection fails the operation", "[vmware] api_retry_count"))
    interval = view.value("vmware", "task_poll_interval")
    at = _at(view, "vmware", "task_poll_interval")
    if view.invalid("vmware", "task_poll_interval"):
        pass
    elif not math.isfinite(interval):
        problems.append((Status.FAIL, f"{at} = {interval}: not a finite number of seconds",
                         "[vmware] task_poll_interval"))
    elif interval <= 0:
        problems.append((Status.FAIL, f"{at} = {interval:g}: Nova polls the vCenter's tasks "
                         "without pause, a load on vCenter and nova-compute",
                         "[vmware] task_poll_interval"))
    elif interval > MAX_TASK_POLL_INTERVAL:
        problems.append((Status.WARN, f"{at} = {interval:g}: every vCenter task Nova waits on "
                         "(a spawn waits on CreateVM_Task, ReconfigVM_Task, Rename_Task, "
                         f"PowerOnVM_Task and more) ends up to {interval:g} s late; above "
                         f"{MAX_TASK_POLL_INTERVAL:g} s, ten times Nova's default, spawns, "
                         "snapshots and deletes slow down visibly", "[vmware] task_poll_interval"))
    summary = (f"{_summary(view, 'vmware', ['host_port', 'api_retry_count'])}, "
               f"{_summary(view, 'vmware', ['task_poll_interval'], ' s')}, "
               f"{_summary(view, 'vmware', ['connection_pool_size'])}")
    return _findings("nova-conf.connection", problems, summary,
                     "connect to the vCenter's port, keep api_retry_count at 1 or more and "
                     f"task_poll_interval above 0 and at most {MAX_TASK_POLL_INTERVAL:g} s "
                     "(Nova's defaults: 10 and 0.5)")


def _image_cache(view: NovaConfView) -> CheckResult:
    problems: list[tuple[Status, str, str]] = []
    for section, name in (("image_cache", "subdirectory_name"), ("vmware", "cache_prefix")):
        setting = view.get(section, name)
        if setting is None or setting.error or (name == "cache_prefix" and not setting.value):
            continue  # Nova ignores an empty cache_prefix
        problem = folder_name_problem(setting.value)
        if problem:
            problems.append((Status.FAIL, f"{view.where(setting)}: {setting.label} = "
                             f"{_shown(setting.text)} cannot be part of a datastore folder "
                             f"name: {problem}", setting.label))
    age = view.value("image_cache", "remove_unused_original_minimum_age_seconds")
    if age < 0:
        setting = view.get("image_cache", "remove_unused_original_minimum_age_seconds")
        assert setting is not None
        problems.append((Status.WARN, f"{view.where(setting)}: {setting.label} = {age} is "
                         "negative: it acts as 0, and Nova deletes an unused image at the "
                         "aging pass after the one that marks it", setting.label))
    if problems:
        return _findings("nova-conf.image-cache", problems, "",
                         "use a folder name without / \\ [ ] or control characters, and an "
                         "age of 0 or more")
    return passed("nova-conf.image-cache", _cache_summary(view))


def _cache_summary(view: NovaConfView) -> str:
    folder = cache_folder(_conf_profile(view))
    if folder is None:
        subdirectory = view.value("image_cache", "subdirectory_name")
        where = (f"cache folder '<my_ip>{subdirectory}' on each datastore (my_ip is not set: "
                 "Nova uses the compute node's IPv4 address)")
    else:
        where = f"cache folder '{folder}' on each datastore"
    interval = view.value("image_cache", "manager_interval")
    if not view.value("image_cache", "remove_unused_base_images"):
        aging = "Nova does not age it (remove_unused_base_images is false)"
    elif interval == -1:
        aging = "Nova does not age it (manager_interval = -1)"
    else:
        every = "60" if interval == 0 else f"{interval}"
        age = view.value("image_cache", "remove_unused_original_minimum_age_seconds")
        aging = f"every {every} s Nova removes the images unused for {age} s"
    return f"{where}; {aging}"


def _console(view: NovaConfView) -> CheckResult:
    problems: list[tuple[Status, str, str]] = []
    vnc = view.value("vnc", "enabled")
    mks = view.value("mks", "enabled")
    parts = []
    if vnc:
        first, total = view.value("vmware", "vnc_port"), view.value("vmware", "vnc_port_total")
        last = first + total - 1
        if total == 0:
            problems.append((Status.FAIL, f"{_at(view, 'vmware', 'vnc_port_total')} = 0: no "
                             "VNC port to give, every spawn fails (ConsolePortRangeExhausted)",
                             "[vmware] vnc_port_total"))
        elif last > 65535:
            problems.append((Status.FAIL, f"{_at(view, 'vmware', 'vnc_port_total')}: the VNC "
                             f"ports {first}-{last} pass 65535", "[vmware] vnc_port_total"))
        keymap = view.get("vmware", "vnc_keymap")
        if keymap is not None and not keymap.value:
            problems.append((Status.WARN, f"{view.where(keymap)}: [vmware] vnc_keymap is "
                             "empty: VNC consoles get no keyboard layout", keymap.label))
        parts.append(f"VNC on ports {first}-{last}, keymap "
                     f"{view.value('vmware', 'vnc_keymap')}")
    else:
        parts.append("VNC off")
    if mks:
        url = view.get("mks", "mksproxy_base_url")
        if url is None:
            problems.append((Status.FAIL, f"{_at(view, 'mks', 'enabled')} = True without "
                             "mksproxy_base_url: Nova's default http://127.0.0.1:6090/ only "
                             "works in a browser on the MKS proxy's own machine",
                             "[mks] mksproxy_base_url"))
        parts.append(f"MKS on, proxy {view.value('mks', 'mksproxy_base_url')}")
    else:
        parts.append("MKS off")
    return _findings("nova-conf.console", problems, "; ".join(parts),
                     "set [mks] mksproxy_base_url to the URL browsers reach the MKS proxy at, "
                     "and keep vnc_port + vnc_port_total - 1 within 65535")


def _pbm(view: NovaConfView, files: Mapping[str, bool]) -> CheckResult:
    problems: list[tuple[Status, str, str]] = []
    enabled = view.value("vmware", "pbm_enabled")
    policy = view.value("vmware", "pbm_default_policy")
    wsdl = view.value("vmware", "pbm_wsdl_location")
    if enabled and not policy:
        problems.append((Status.FAIL, f"{_at(view, 'vmware', 'pbm_enabled')} = True without "
                         "pbm_default_policy: nova-compute refuses to start "
                         "(PbmDefaultPolicyUnspecified)", "[vmware] pbm_default_policy"))
    if wsdl and not wsdl.startswith(("file://", "https://")):
        problems.append((Status.FAIL, f"{_at(view, 'vmware', 'pbm_wsdl_location')} = "
                         f"{_shown(wsdl)} is not a file:// or https:// URL",
                         "[vmware] pbm_wsdl_location"))
    if enabled and view.value("vmware", "datastore_regex"):
        problems.append((Status.WARN, f"{_at(view, 'vmware', 'datastore_regex')} is ignored: "
                         "with pbm_enabled Nova places by storage policy",
                         "[vmware] datastore_regex"))
    if enabled:
        summary = f"storage policies on, default policy {policy!r}"
    else:
        summary = "pbm_enabled is false: Nova places by datastore_regex and free space"
        ignored = [name for name in ("pbm_default_policy", "pbm_wsdl_location")
                   if view.value("vmware", name)]
        if ignored:
            summary += f" ({' and '.join(ignored)} set, and ignored)"
    if wsdl and wsdl.startswith("file://"):
        path = unquote(urlsplit(wsdl).path)
        if files.get(path) is False:
            summary += f"; {path} is not on this machine: make sure it is on the compute node"
    result = _findings("nova-conf.pbm", problems, summary,
                       "set [vmware] pbm_default_policy to an existing storage policy and "
                       "pbm_wsdl_location (if at all) to a file:// or https:// URL")
    result.detail += f"; {NO_SPBM}"
    return result


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
        if problem := empty_cluster(ctx.inventory, clusters[0]):
            return failed("nova-conf.cluster", f"{_where(conf, 'vmware', 'cluster_name')}: "
                          f"{problem[0]}", [clusters[0].path], problem[1])
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
    stores = ctx.inventory.cluster_datastores(cluster)
    used = valid_datastores(stores, regex)
    if not used and (not pattern or not valid_datastores(stores, None)):
        return failed("nova-conf.datastores", f"cluster {cluster.name} has no datastore Nova "
                      "can use (accessible, not in maintenance, VMFS/NFS/NFS41/vsan)", [],
                      "attach a shared datastore to the cluster")
    if not used:
        return failed("nova-conf.datastores", f"datastore_regex {pattern!r} selects no valid "
                      "datastore of the cluster", [], "fix datastore_regex")
    return passed("nova-conf.datastores", f"selects {', '.join(sorted(d.name for d in used))}",
                  sorted(d.name for d in used))


def _vnc_scope(conf: NovaConf, cluster: Cluster | None,
               ctx: Context) -> tuple[list[Host], Range] | CheckResult:
    """The hosts whose firewalls vnc-ports judges and the range, or its verdict without them."""
    enabled = read_settings(conf).value("vnc", "enabled")
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
    return vnc_verdict("nova-conf.vnc-ports", hosts, data, [wanted], ctx.inventory, ctx)
