"""``check prereqs`` ids ``capacity`` and ``cpu-uniformity``: what Nova's cluster-wide
figures hide (vmwctl.nova.headroom), judged from the inventory snapshot alone."""

from __future__ import annotations

from vmwctl.checks.model import CheckResult, Context, passed, skipped, warned
from vmwctl.common.words import plural
from vmwctl.nova.cluster import fit_flavors
from vmwctl.nova.headroom import CpuUniformity, cpu_uniformity, headroom

# EVC modes from the oldest CPU feature level up, per vendor (vSphere's keys).
EVC_ORDER = (
    "intel-merom", "intel-penryn", "intel-nehalem", "intel-westmere", "intel-sandybridge",
    "intel-ivybridge", "intel-haswell", "intel-broadwell", "intel-skylake",
    "intel-cascadelake", "intel-icelake", "intel-sapphirerapids",
    "amd-rev-e", "amd-rev-f", "amd-greyhound-no3dnow", "amd-greyhound", "amd-bulldozer",
    "amd-piledriver", "amd-steamroller", "amd-zen", "amd-zen2", "amd-zen3", "amd-zen4",
)


def check_capacity(ctx: Context) -> CheckResult:
    """HA holding back more than a host; flavors (--flavors-*) that fit no host now."""
    assert ctx.cluster is not None
    room = headroom(ctx.inventory, ctx.cluster)
    if not room.hosts:
        return skipped("capacity", "no host Nova counts (see the hosts check)")
    problems, objects = [], []
    largest_host = max(r.memory_mb for r in room.hosts)
    if room.ha.enabled and room.ha.memory_mb > largest_host:
        problems.append(f"HA holds back {room.ha.memory_mb:,} MB ({room.ha.detail}), more "
                        f"than the largest host ({largest_host:,} MB): Nova counts it as free")
        objects.append(ctx.cluster.name)
    report = fit_flavors(ctx.inventory, ctx.cluster, ctx.profile, ctx.flavors)
    trouble = [fit for fit in report.flavors if fit.trouble]
    for fit in trouble:
        problems.append(f"flavor {fit.flavor.name} ({fit.flavor.ram_mb:,} MB): {fit.detail}")
        objects.append(fit.flavor.name)
    if problems:
        return warned("capacity", "; ".join(problems), objects,
                      "add hosts or free memory on them (move or delete VMs), lower HA's "
                      "failover capacity, or offer smaller flavors; 'vmwctl cluster fit' "
                      "shows each flavor")
    largest = room.largest_now
    assert largest is not None
    after = room.largest_after_ha
    detail = (f"largest instance without overcommitting memory: {largest.memory_mb:,} MB, "
              f"{largest.vcpus} vCPUs")
    if room.ha.enabled:
        detail += (f"; HA holds back {room.ha.memory_mb:,} MB, after it "
                   f"{after.memory_mb if after else 0:,} MB")
    if report.flavors:
        detail += f"; {plural(len(report.flavors), 'flavor')} checked fit"
    return passed("capacity", detail, [ctx.cluster.name])


def _lowest(levels: list[str]) -> str | None:
    known = [level for level in levels if level in EVC_ORDER]
    vendors = {level.split("-", 1)[0] for level in known}
    if len(known) != len(levels) or len(vendors) != 1:
        return None
    return min(known, key=EVC_ORDER.index)


def judge_cpus(cpu: CpuUniformity, cluster: str) -> CheckResult:
    models = "; ".join(f"{model}: {', '.join(hosts)}" for model, hosts in cpu.models.items())
    if not cpu.models:
        return skipped("cpu-uniformity", "no connected host (see the hosts check)")
    if cpu.masked:
        return passed("cpu-uniformity", f"EVC mode {cpu.evc_mode}: every VM sees the same CPU"
                      + ("" if cpu.uniform else f" (hosts: {models})"), [cluster])
    if cpu.uniform:
        level = next(iter(cpu.feature_levels))
        return passed("cpu-uniformity", f"{plural(sum(map(len, cpu.models.values())), 'host')}"
                      f", one CPU: {next(iter(cpu.models))} (feature level {level})", [cluster])
    levels = [level for level in cpu.feature_levels if level != "unknown"]
    lowest = _lowest(list(cpu.feature_levels))
    remedy = (f"enable EVC on {cluster} at {lowest}, the feature level of its oldest hosts"
              if lowest else
              "enable EVC on the cluster at the feature level of its oldest hosts"
              if len({level.split('-', 1)[0] for level in levels}) <= 1 else
              "hosts of different CPU vendors share no EVC mode: put them in separate "
              "clusters")
    differing = [host for hosts in (list(cpu.models.values())[1:]
                                    + list(cpu.feature_levels.values())[1:]) for host in hosts]
    return warned("cpu-uniformity", f"EVC is off and the hosts' CPUs differ ({models}; "
                  f"feature levels {', '.join(cpu.feature_levels)}): DRS and vMotion refuse "
                  "to move VMs between them", sorted(set(differing)), remedy)


def check_cpu_uniformity(ctx: Context) -> CheckResult:
    assert ctx.cluster is not None
    return judge_cpus(cpu_uniformity(ctx.inventory, ctx.cluster), ctx.cluster.name)
