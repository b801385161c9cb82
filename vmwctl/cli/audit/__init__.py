"""``vmwctl audit``: drift between vCenter and OpenStack; ``audit clean`` acts on it."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.audit.shared import source_options
from vmwctl.cli.lazy import LazyGroup, root_params
from vmwctl.cli.metrics import metrics_file_option
from vmwctl.cli.options import ClusterFlag


class AuditGroup(LazyGroup):
    """``audit`` runs the audit itself when no subcommand follows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(root_params())  # -o json etc. after 'audit', as every command


@click.group("audit", cls=AuditGroup, invoke_without_command=True,
             lazy_commands={"clean": "vmwctl.cli.audit.clean:clean_command"})
@source_options
@click.option("--fail-on", metavar="KIND,...",
              help="Exit 1 when there are findings of these kinds (default: never).")
@metrics_file_option
@click.pass_context
def audit(ctx: click.Context, cluster: ClusterFlag, servers_from: str, images_from: str,
          fail_on: str | None) -> int | None:
    """What vCenter holds that OpenStack does not know, and the reverse.

    Reads vCenter once (the inventory, one search of every datastore Nova
    uses, which VM uses which folder) and OpenStack once (the servers of the
    cluster's compute node, <cluster moid>.<vCenter instanceUuid>, and the
    cached images), then reports each finding with its kind, size, age and
    remedy: orphan-vm (Nova's VM, no instance), lost-instance (an instance,
    no VM), duplicate-vm (two VMs claim one instance), shadow-vm (an image
    import's VM still registered), orphan-folder (an instance-named folder no
    VM uses), deleted-image (cached, gone from Glance), foreign-vm (not
    Nova's; vSphere's own and other solutions' VMs apart). Changes nothing;
    'vmwctl audit clean' acts on the findings.
    """
    if ctx.invoked_subcommand is not None:
        return None
    from vmwctl.cli.audit.run import run_command

    app: App = ctx.ensure_object(App)
    return run_command(app, cluster, servers_from, images_from, fail_on)
