"""``vmwctl vm spawn``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.options import ClusterFlag, cluster_option


def _human(report: Any) -> Any:
    """The VM built; its steps were printed as each ended (-o json lists them too)."""
    from rich.console import Group

    from vmwctl.cli.format import details

    image = f"{report.image_name} ({report.image_id})" if report.image_name else \
        report.image_id
    seconds = sum(s.seconds for s in report.steps)
    requests = sum(s.requests for s in report.steps)
    parts: list[Any] = [details([
        ("VM", f"{report.name} ({report.moid})"),
        ("Image", image),
        ("Host", report.host or "-"),
        ("Datastore", report.datastore or "-"),
        ("Disk", report.disk or "-"),
        ("Parent disk", report.parent_disk or "-"),
        ("ISO", report.iso or "-"),
        ("Network", f"{report.network} ({report.vif_model})" if report.network else
         "none (no NIC)"),
        ("Adapter", report.adapter_type),
        ("Guest OS", report.os_type),
        ("VNC", report.vnc or "-"),
        ("Power", report.power_state or "-"),
        ("Guest", report.guest or "-"),
        ("Time", f"{seconds:.2f} s, {requests} vSphere requests in {len(report.steps)} "
                 "steps" + (f" (and {report.inventory.seconds:.2f} s, "
                            f"{report.inventory.requests} requests reading the inventory)"
                            if report.inventory else ""))])]
    parts.extend(f"note: {n}" for n in report.notes)
    return Group(*parts)


def heard(app: App) -> Any:
    """A step's line on stderr as it ends: its outcome, time, vSphere requests and detail."""

    def say(step: Any) -> None:
        mark = "ok" if step.outcome == "done" else step.outcome.upper()
        app.out.info(f"{step.name:<20} {mark:<6} {step.seconds:6.2f} s {step.requests:4} req  "
                     f"{step.detail}")

    return say


@click.command("spawn")
@click.argument("image")
@click.option("--name", help="VM name after the 'vmwctl-' prefix (default: the image's name "
                             "and a random suffix).")
@click.option("--cpus", type=click.IntRange(1, 128), default=1, show_default=True)
@click.option("--memory-mb", type=click.IntRange(4), default=512, show_default=True,
              help="Memory, a multiple of 4 as Nova requires.")
@click.option("--root-gb", type=click.IntRange(0), default=0, show_default=True,
              help="Root disk size (0: the image's size, as a flavor with root_gb 0).")
@click.option("--network", metavar="PORTGROUP",
              help="Port group for the NIC (default: vmware.integration_bridge).")
@click.option("--no-network", is_flag=True,
              help="Build the VM without a NIC (without --network or integration_bridge "
                   "it has none either, with a warning).")
@click.option("--linked-clone/--full-clone", default=None,
              help="Override the image's img_linked_clone and the profile's use_linked_clone.")
@click.option("--datastore", metavar="NAME", help="Datastore (default: the one Nova picks).")
@cluster_option
@click.option("--vnc/--no-vnc", default=True, show_default=True,
              help="Configure a VNC port as Nova does.")
@click.option("--no-power-on", is_flag=True, help="Leave the VM powered off.")
@click.option("--wait", "wait_seconds", type=click.IntRange(0), default=0, metavar="SECONDS",
              help="Wait for VMware Tools to report a heartbeat or an IP address.")
@click.option("--keep-on-failure", is_flag=True, help="Keep a partly built VM for inspection.")
@click.pass_obj
def spawn_command(app: App, image: str, name: str | None, cpus: int, memory_mb: int,
                  root_gb: int, network: str | None, no_network: bool,
                  linked_clone: bool | None,
                  datastore: str | None, cluster: ClusterFlag, vnc: bool, no_power_on: bool,
                  wait_seconds: int, keep_on_failure: bool) -> int:
    """Boot an image on the cluster step by step, as Nova's spawn does.

    The image's properties decide the disk type, adapter (IDE or a SCSI
    model), guest OS, NIC model and linked clone, with Nova's defaults and
    legacy names. Steps, in Nova's order: datastore, inventory folder,
    CreateVM, VNC port, the image in the cache, the root disk (linked clone
    of the sized cached copy, full copy, or CD-ROM and blank disk for ISOs),
    power on. Each step prints a line as it ends (stderr): its time, vSphere
    requests and detail; then the VM built is shown. A failed step names its
    vSphere fault, and the partly built VM is removed unless --keep-on-failure.
    The VM is vmwctl's (name prefix vmwctl-, folder vmwctl, its own
    extraConfig marker), never Nova's.
    """
    from vmwctl.errors import UsageError

    if network and no_network:
        raise UsageError("--network and --no-network exclude each other; give one")
    profile = app.profile
    # pyVmomi and the spawn's own modules are imported in read_cluster, while the image
    # service's thread waits for Keystone and Glance
    record, (vc, inventory, read) = app.images_beside_vcenter(
        lambda images: images.find(image), lambda vc: read_cluster(vc, cluster))
    from vmwctl.cache.seed import seed_source
    from vmwctl.images.glance import properties_of
    from vmwctl.images.properties import nova_view
    from vmwctl.vm.spawn import Spawner, SpawnRequest

    view = nova_view(properties_of(record), disk_format=record.get("disk_format"),
                     container_format=record.get("container_format"))
    if view.problems:
        raise UsageError(f"image {record['id']} cannot boot on Nova's VMware driver: "
                         f"{view.problems[0]} ('vmwctl image list' shows all)")
    source = seed_source(record)
    target = cluster.resolve(inventory)
    request = SpawnRequest(image=record, view=view, source=source, name=name, cpus=cpus,
                           memory_mb=memory_mb, root_gb=root_gb, network=network,
                           no_network=no_network,
                           linked_clone=linked_clone, datastore=datastore, vnc=vnc,
                           power_on=not no_power_on, wait_seconds=wait_seconds,
                           keep_on_failure=keep_on_failure)
    if not (network or no_network or profile.vmware.integration_bridge):
        app.out.warn(f"no --network and profile '{profile.name}' sets no "
                     "vmware.integration_bridge: the VM gets no NIC; pass --network "
                     "PORTGROUP, or --no-network to build it without one")
    spawner = Spawner(vc, inventory, profile, target, download=app.images.download,
                      on_step=heard(app), progress=app.out.progress)
    report = spawner.spawn(request)
    report.inventory = read
    app.render(report, _human)
    return 0


def read_cluster(vc: Any, cluster: ClusterFlag) -> tuple[Any, Any, Any]:
    """(vc, the inventory spawn needs, its read as a timed Step): the cluster alone, with
    its VMs' names."""
    import time

    from vmwctl.cache.seed import Seeder  # noqa: F401 (imported here, beside the lookup)
    from vmwctl.common.words import plural
    from vmwctl.vm.spawn import Step
    from vmwctl.vsphere.snapshot import VM_SPAWN, read_inventory

    started, before = time.monotonic(), vc.request_count
    inventory = read_inventory(vc, cluster=cluster.name, vm_properties=VM_SPAWN)
    read = Step("inventory read", seconds=round(time.monotonic() - started, 3),
                requests=vc.request_count - before,
                detail=f"{plural(len(inventory.hosts), 'host')}, "
                       f"{plural(len(inventory.datastores), 'datastore')}, "
                       f"{plural(len(inventory.vms), 'VM')}")
    return vc, inventory, read
