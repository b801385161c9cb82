"""``vmwctl audit clean``."""

from __future__ import annotations

from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.audit.shared import source_options
from vmwctl.cli.format import short_size, table
from vmwctl.cli.metrics import identify, metrics_file_option, record_findings
from vmwctl.cli.options import ClusterFlag
from vmwctl.common.words import plural


def _human(report: Any) -> Any:
    from rich.console import Group

    rows = [(a.kind, a.subject, a.step, short_size(a.size) if a.size is not None else "-",
             a.outcome if a.outcome != "planned" else ("would" if report.dry_run else "-"),
             a.error or a.reason) for a in report.actions]
    caption = (f"cluster {report.cluster}, node {report.node}; "
               f"{'dry run: nothing changed' if report.dry_run else 'done'}")
    parts: list[Any] = [table(None, ("KIND", "SUBJECT", "STEP", "SIZE", "OUTCOME", "WHY"),
                              rows, caption=caption, whole=("SUBJECT",))]
    if report.refused:
        parts.append(f"refused: {report.refused}")
    if report.interrupted:
        parts.append("interrupted: stopped between objects; run it again to finish")
    parts.extend(f"note: {note}" for note in report.notes)
    return Group(*parts)


def cleaned_totals(report: Any) -> dict[str, tuple[int, int]]:
    """Per kind clean acts on: the objects acted on (done) and their bytes."""
    from vmwctl.audit.clean import CLEANABLE

    done = [a for a in report.actions if a.outcome == "done"]
    return {kind: (sum(1 for a in done if a.kind == kind),
                   sum(a.size or 0 for a in done if a.kind == kind)) for kind in CLEANABLE}


@click.command("clean")
@click.argument("kinds", required=False, metavar="[KIND,...]")
@source_options
@click.option("--older-than", default="1d", show_default=True, metavar="AGE",
              help="Delete only what has been orphaned (or unused) this long: 3600, 45m, "
                   "12h, 7d, 2w.")
@click.option("--max", "max_", metavar="N|P%",
              help="Refuse (exit 1, nothing done) when more than N objects, or P% of the "
                   "cluster's VMs, would be touched.")
@click.option("--allow-empty", is_flag=True,
              help="Accept an empty server list from the compute API as 'no instances'.")
@click.option("--dry-run", is_flag=True, help="Show what a run would do; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@metrics_file_option
@click.pass_obj
def clean_command(app: App, kinds: str | None, cluster: ClusterFlag, servers_from: str,
                  images_from: str, older_than: str, max_: str | None, allow_empty: bool,
                  dry_run: bool, yes: bool) -> int:
    """Act on the audit's findings in stages, the most reversible step first.

    KIND,... among orphan-vm, shadow-vm, orphan-folder, deleted-image (default:
    all four). An orphaned VM is marked (vmwctl's extraConfig key
    vmwctl.audit.orphaned, never the annotation Nova writes) and powered off;
    a later run that still finds it orphaned for longer than --older-than
    deletes it. A marked VM whose instance is known again gets its mark
    removed and its power state back. A shadow VM is unregistered and its
    folder deleted; orphaned folders and deleted images' folders are deleted
    under the cache's datastore lock, once the VMs' files are read again.
    Asks before acting on a terminal unless --yes; stops between objects on
    Ctrl-C (run it again to finish).
    """
    import datetime as dt

    from vmwctl.audit.clean import (
        Cleaner,
        Limit,
        parse_age,
        parse_kinds,
        plan_clean,
        refuse_beyond,
        run_clean,
    )
    from vmwctl.audit.findings import cluster_vms
    from vmwctl.cache.listing import profile_folder
    from vmwctl.cache.locks import datastore_lock
    from vmwctl.cache.usage import folder_users
    from vmwctl.cli.audit.shared import audit_report
    from vmwctl.common.interrupts import deferred_signals
    from vmwctl.errors import EXIT_FAILED, EXIT_OK
    from vmwctl.vsphere.datastore import DatastoreFiles, DatastorePath

    identify(app, cluster)
    chosen = parse_kinds(kinds)
    seconds = parse_age(older_than)
    limit = Limit.parse(max_)
    audit, inventory, found, datastores = audit_report(app, cluster, servers_from, images_from)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    report = plan_clean(audit, inventory, found, datastores, kinds=chosen, older_than=seconds,
                        now=now, dry_run=dry_run)
    if servers_from == "api" and "orphan-vm" in chosen and not allow_empty and \
            any("lists no instance" in note for note in audit.notes):
        report.refused = (f"the compute API lists no instance on node {audit.node}: "
                          "refusing to take every VM of Nova's as orphaned; pass "
                          "--allow-empty if the node really has none")
    if report.refused is None:
        refuse_beyond(report, limit, len(cluster_vms(inventory, found, datastores)))
    if report.refused is not None or dry_run or not report.touching:
        record_findings(app, cleaned_totals(report), cleaned=True)
        app.render(report, _human)
        if report.refused is not None:
            app.out.failure(report.refused)
            return EXIT_FAILED
        return EXIT_OK
    question = f"Act on {plural(len(report.touching), 'object')}?"
    if app.out.format == "table" and not yes and app.stdin_is_terminal():
        app.render(report, _human)
    if not app.confirm(question, yes=yes):
        app.out.info("nothing changed")
        return EXIT_OK
    stores = {ds.name: ds for ds in datastores}
    folder = profile_folder(app.profile, False) or ""
    vc = app.vcenter

    def files_for(name: str) -> Any:
        return DatastoreFiles.of(vc, inventory, stores[name])

    def locked(name: str) -> Any:
        return datastore_lock(files_for(name), DatastorePath(name, folder), now)

    cleaner = Cleaner(vc=vc, inventory=inventory, files_for=files_for,
                      users=lambda: folder_users(vc), locked=locked, now=now)
    with deferred_signals() as stopper:
        run_clean(report, cleaner, stopper)
        record_findings(app, cleaned_totals(report), cleaned=True)
        failures = [f"{a.subject}: {a.error}" for a in report.actions if a.outcome == "failed"]
        return app.finish_batch(report, _human, failures, stopper=stopper)
