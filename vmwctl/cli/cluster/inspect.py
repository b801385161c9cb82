"""``vmwctl cluster inspect``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details, short_size, table
from vmwctl.cli.options import ClusterFlag, cluster_argument


def _yes(value: object) -> str:
    return {True: "yes", False: "no", None: "-"}.get(value, str(value))  # type: ignore[arg-type]


def _room(largest: Any, free_mb: int) -> str:
    if largest is None:
        return "no host counted"
    return (f"largest instance without overcommitting memory: {largest.memory_mb:,} MB, "
            f"{largest.vcpus} vCPUs (on {largest.host}); {free_mb:,} MB free in all")


def _ha(report: Any) -> str:
    enabled = {True: "enabled", False: "disabled", None: "-"}[report.ha["enabled"]]
    reserve = report.ha.get("reserve")
    if not report.ha["enabled"] or reserve is None:
        return enabled
    if not reserve.enabled:
        return f"{enabled}; {reserve.detail}"
    return (f"{enabled}; {reserve.detail}: {reserve.memory_mb:,} MB held back; after it "
            + _room(report.headroom.largest_after_ha, report.headroom.free_mb_after_ha))


def _cpus(cpu: Any) -> str:
    models = "; ".join(f"{model} ({len(hosts)})" for model, hosts in cpu.models.items())
    evc = f"EVC {cpu.evc_mode}" if cpu.evc_mode else "EVC off"
    if cpu.uniform:
        return f"{models or '-'}; {evc}"
    levels = ", ".join(f"{level} ({len(hosts)})" for level, hosts in cpu.feature_levels.items())
    return f"{evc}; models differ: {models}; feature levels {levels}"


def _human(report: Any) -> Any:
    from rich.console import Group

    nova = report.nova
    placement = nova.placement
    summary = details([
        ("Cluster", f"{report.path} ({report.moref})"),
        ("Nova node", nova.hypervisor_hostname),
        ("Hypervisor", f"{nova.hypervisor_type} {nova.hypervisor_version}"),
        ("vCPUs", f"{nova.vcpus} (largest host {placement['VCPU']['max_unit']}, reserved "
                  f"{placement['VCPU']['reserved']})"),
        ("Memory", f"{nova.memory_mb:,} MiB, {nova.memory_mb_used:,} used, "
                   f"{nova.memory_mb_free:,} free (largest host "
                   f"{placement['MEMORY_MB']['max_unit']:,}, reserved "
                   f"{placement['MEMORY_MB']['reserved']:,})"),
        ("Disk (placement)", f"{placement['DISK_GB']['total']:,} GiB on all used datastores "
                             f"(largest free {placement['DISK_GB']['max_unit']:,} GiB)"),
        ("Nova's datastore", f"{nova.datastore or 'NONE'}: {nova.local_gb:,} GiB, "
                             f"{nova.disk_available_gb:,} GiB free"),
        ("Hosts counted", f"{nova.hosts_counted} of {len(report.hosts)}"),
        ("DRS", f"{'enabled' if report.drs['enabled'] else 'disabled'}, "
                f"{report.drs['behavior'] or '-'}"),
        ("Room now", _room(report.headroom.largest_now, report.headroom.free_mb)),
        ("HA", _ha(report)),
        ("CPUs", _cpus(report.cpu)),
        ("VMs", f"{report.vms['nova']} Nova's, {report.vms['vmwctl']} vmwctl's, "
                f"{report.vms['other']} others, {report.vms['extension']} of other solutions, "
                f"{report.vms['system']} vSphere Cluster Services"),
    ])
    hosts = table("Hosts", ("HOST", "STATE", "MAINT.", "COUNTED", "ESXI", "THREADS", "MEMORY",
                            "USED MB", "FREE MB", "VMS"),
                  [(h.name + (" (HA failover)" if h.failover else ""), h.connection_state,
                    _yes(h.in_maintenance), _yes(h.counted), h.version, h.cpu_threads,
                    short_size(h.memory_bytes), f"{h.memory_usage_mb:,}",
                    f"{h.memory_free_mb:,}" if h.counted else "-", h.vms)
                   for h in report.hosts])
    stores = table("Datastores", ("DATASTORE", "TYPE", "CAPACITY", "FREE", "MOUNTED", "REGEX",
                                  "USED BY NOVA"),
                   [(d.name, d.type, short_size(d.capacity),
                     short_size(d.free_space),
                     f"{d.mounted_hosts}/{d.cluster_hosts}", _yes(d.matches_regex),
                     "yes" if d.used else f"no: {d.reason}") for d in report.datastores])
    return Group(summary, hosts, stores)


@click.command("inspect")
@cluster_argument("name")
@click.pass_obj
def inspect_command(app: App, name: ClusterFlag) -> None:
    """Show what nova-compute reports for a cluster (default: the profile's cluster_name).

    Nova's rules to the rounding: vCPUs and memory from the hosts that are
    connected and out of maintenance (memory floored per host), disk from
    the datastores that pass Nova's filter, the node name
    <cluster moref>.<vCenter instanceUuid>; per host and per datastore.
    """
    from vmwctl.nova.cluster import inspect_cluster
    from vmwctl.vsphere.snapshot import VM_OWNERS, read_inventory

    inventory = read_inventory(app.vcenter, cluster=name.name, vm_properties=VM_OWNERS)
    app.render(inspect_cluster(inventory, name.resolve(inventory), app.profile), _human)
