"""``vmwctl cluster inspect``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.format import details, short_size, table
from vmwctl.cli.options import ClusterFlag, cluster_argument


def _yes(value: object) -> str:
    return {True: "yes", False: "no", None: "-"}.get(value, str(value))  # type: ignore[arg-type]


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
        ("HA", {True: "enabled", False: "disabled", None: "-"}[report.ha["enabled"]]),
        ("VMs", f"{report.vms['nova']} Nova's, {report.vms['vmwctl']} vmwctl's, "
                f"{report.vms['other']} others, {report.vms['extension']} of other solutions, "
                f"{report.vms['system']} vSphere Cluster Services"),
    ])
    hosts = table("Hosts", ("HOST", "STATE", "MAINT.", "COUNTED", "ESXI", "THREADS", "MEMORY",
                            "USED MB", "VMS"),
                  [(h.name, h.connection_state, _yes(h.in_maintenance), _yes(h.counted),
                    h.version, h.cpu_threads, short_size(h.memory_bytes),
                    f"{h.memory_usage_mb:,}", h.vms) for h in report.hosts])
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
    from vmwctl.vsphere.snapshot import read_inventory

    inventory = read_inventory(app.vcenter)
    app.render(inspect_cluster(inventory, name.resolve(inventory), app.profile), _human)
