"""``vmwctl check prereqs``."""

from __future__ import annotations

from pathlib import Path

import click

from vmwctl.cli.app import App
from vmwctl.cli.check.render import render_report
from vmwctl.cli.cluster.flavors import flavor_source_options, load_flavors
from vmwctl.cli.metrics import identify, metrics_file_option, record_checks
from vmwctl.cli.options import ClusterFlag, cluster_option, nonempty
from vmwctl.errors import UsageError
from vmwctl.profile.schema import NETWORK_MODELS

# vmwctl.checks.model.DEFAULT_MAX_SESSIONS, not imported here: --help stays fast.
MAX_SESSIONS = 50


def _ids(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@click.command("prereqs")
@cluster_option
@click.option("--nova-conf", type=click.Path(dir_okay=False, path_type=Path),
              help="Also check this nova.conf (the checks of 'vmwctl check nova-conf').")
@click.option("--only", metavar="ID,...", help="Run only these checks.",
              callback=nonempty("the checks to run", "to run them all", items=True))
@click.option("--skip", metavar="ID,...", help="Do not run these checks.")
@click.option("--network-model", type=click.Choice(NETWORK_MODELS),
              help="The guide's networking model the network check judges (default: the "
                   "profile's network_model; unset: nsx-mh when vmware.integration_bridge is "
                   "set, else neutron).")
@click.option("--portgroup", metavar="NAME",
              help="The port group the network check looks for with Nova's lookup: for "
                   "neutron one every host needs, for nsx-mh the integration bridge (default "
                   "vmware.integration_bridge, else br-int), for nova-network-flat the flat "
                   "bridge (default DEFAULT.flat_network_bridge).")
@flavor_source_options
@click.option("--probe-console", is_flag=True,
              help="The console check also asks vCenter for an MKS console ticket "
                   "(AcquireTicket) on a powered-on VM of each connected host, Nova's first: "
                   "it creates a console ticket on a tenant VM. Off by default.")
@click.option("--max-sessions", type=click.IntRange(min=1), default=MAX_SESSIONS,
              show_default=True, metavar="N",
              help="The sessions check warns when the service account holds more than N "
                   "vCenter sessions (a nova-compute leaking sessions).")
@click.option("--strict", is_flag=True, help="Exit 1 on a warning too.")
@metrics_file_option
@click.pass_obj
def prereqs_command(app: App, cluster: ClusterFlag, nova_conf: Path | None, only: str | None,
                    skip: str | None, network_model: str | None, portgroup: str | None,
                    flavors_file: Path | None, flavors_from: str | None, probe_console: bool,
                    max_sessions: int, strict: bool) -> int:
    """Verify the guide's prerequisites against the live vCenter.

    Check ids: vcenter, cluster, drs, shared-storage, datastores, dedicated,
    network, vnc-firewall, privileges, hosts, image-cache, capacity (with
    --flavors-*: each flavor fits a host now), cpu-uniformity, console,
    sessions, certificate, nova-conf (with --nova-conf). Each has a status
    (pass, warn, fail, skip), a detail, the objects concerned and a remedy.
    Exit status 1 when a check fails (or, with --strict, warns).
    """
    from vmwctl.checks.prereqs import read_prereqs_inventory, run_prereqs, selected_ids

    identify(app, cluster)
    model = network_model or app.profile.effective_network_model
    if portgroup and model == "nova-network-vlan":
        raise UsageError("--portgroup does not apply to nova-network-vlan, which checks the "
                         "physical NIC DEFAULT.vlan_interface; drop --portgroup")
    # refuse unknown ids, and a selection that leaves nothing to run, before connecting
    ids = selected_ids(_ids(only), _ids(skip), nova_conf=nova_conf is not None)
    flavors = load_flavors(app, [], flavors_file, flavors_from, required=False)
    vc = app.vcenter
    # the cluster alone (the nova-conf checks read the file's cluster apart if it differs)
    inventory = read_prereqs_inventory(vc, app.profile, cluster.name, ids,
                                       probe_console=probe_console)
    # --cluster must exist; the profile's cluster, Nova's, is judged by the cluster check
    cluster.resolve(inventory, required=False, lenient=True)
    report = run_prereqs(vc, app.profile, cluster_name=cluster.name, nova_conf=nova_conf,
                         only=_ids(only), skip=_ids(skip), portgroup=portgroup,
                         network_model=network_model, inventory=inventory, flavors=flavors,
                         probe_console=probe_console, env=app.env, max_sessions=max_sessions)
    record_checks(app, report)
    app.render(report, render_report)
    return report.exit_code(strict=strict)
