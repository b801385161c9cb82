"""``vmwctl cache purge``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.cache.shared import (
    cache_inventory,
    datastore_option,
    glance_names,
    in_use_ids,
    now,
    refuse_without_aging,
    with_in_use,
)
from vmwctl.cli.completers import complete_profile_list
from vmwctl.cli.format import short_size, table
from vmwctl.cli.metrics import identify, metrics_file_option, record_profiles, record_purge
from vmwctl.cli.options import ClusterFlag, cluster_option, nonempty
from vmwctl.common.words import plural

DEFAULT_PARALLEL = 8  # --profiles: vCenters worked on at once (bench/fleet.py)
WOULD = {"mark": "would mark", "unmark": "would unmark", "delete": "would delete",
         "keep": "keep", "wait": "wait"}


def human(names: Mapping[str, str] | None) -> Callable[[Any], Any]:
    """The table form of a purge plan or run; ``names``: image id -> name, from Glance."""
    return lambda report: _human(report, names)


def _human(report: Any, names: Mapping[str, str] | None) -> Any:
    from rich.console import Group

    from vmwctl.cache.purge import Outcome
    from vmwctl.vsphere.datastore import DatastorePath

    shown = [i for i in report.items if report.dry_run or i.outcome != Outcome.KEPT]
    title = "Purge plan" if report.dry_run else "Purge"
    what = "ACTION" if report.dry_run else "OUTCOME"

    def done(item: Any) -> str:
        return WOULD[item.action.value] if report.dry_run else item.outcome.value

    def size(item: Any) -> str:
        return short_size(item.bytes) if item.bytes else "-"

    parts: list[Any] = []
    folders: dict[str, list[Any]] = {}
    for item in shown:
        if item.kind == "image":
            folders.setdefault(str(DatastorePath.parse(item.path).parent), []).append(item)
    for folder, items in folders.items():  # the folder once, in the title; each id whole
        columns = ["IMAGE", "NAME", what, "SIZE", "WHY"]
        rows = [[i.image_id, (names or {}).get(i.image_id or "", "-"), done(i), size(i),
                 i.reason] for i in items]
        if names is None:  # no image service: no column of dashes
            columns.pop(1)
            rows = [row[:1] + row[2:] for row in rows]
        parts.append(table(f"{title}: {folder}", columns, rows, whole=("IMAGE",)))
    leftovers = [i for i in shown if i.kind != "image"]
    if leftovers:
        parts.append(table(f"{title}: leftovers of failed spawns", ("PATH", what, "SIZE", "WHY"),
                           [(i.path, done(i), size(i), i.reason) for i in leftovers],
                           whole=("PATH",)))
    parts.append(_summary(report))
    parts.extend(report.locked_out)
    parts.extend(report.errors)
    if report.interrupted:
        parts.append("interrupted: stopped between folders; run it again to finish")
    return Group(*parts)


def _summary(report: Any) -> str:
    from vmwctl.cache.purge import Outcome

    where = f"{report.cache_folder} on {', '.join(report.datastores)}"
    if not report.items:
        return f"{where}: nothing in the cache; " + \
            ("would free 0 B" if report.dry_run else "freed 0 B")
    if report.dry_run:
        actions = Counter(i.action.value for i in report.items)
        counts = ", ".join(f"{action} {n}" for action, n in actions.items())
        deleting = sum(i.bytes for i in report.deletions)
        return f"{where}: would {counts}; would free {short_size(deleting)}"
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Outcome if report.count(o))
    return f"{where}: {counts}; freed {short_size(report.bytes_freed)}"


@click.command("purge")
@click.option("--min-age", type=click.IntRange(min=0), metavar="SECONDS",
              help="Delete unused images marked longer ago than this (default: the profile's "
                   "remove_unused_original_minimum_age_seconds, 86400).")
@datastore_option
@cluster_option
@click.option("--include-temp", is_flag=True,
              help="Also remove vmware_temp/ and OSTACK_IMG_* leftovers older than the "
                   "minimum age that no VM uses.")
@with_in_use
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--no-glance", is_flag=True,
              help="Do not ask the image service for the images' names.")
@click.option("--profiles", metavar="NAME,...", shell_complete=complete_profile_list,
              callback=nonempty("profiles", "to purge the --profile's cache", items=True),
              help="Age the caches of these profiles of the config file, each with its own "
                   "vCenter, cluster, cache folder and locks, in one run and one report "
                   "(instead of -p/--profile; not with --datastore or --cluster).")
@click.option("--parallel", type=click.IntRange(min=1), default=DEFAULT_PARALLEL,
              show_default=True, metavar="N",
              help="With --profiles: how many vCenters are worked on at once (the profiles of "
                   "one vCenter run one after another).")
@metrics_file_option
@click.pass_obj
def purge_command(app: App, min_age: int | None, datastore: str | None, cluster: ClusterFlag,
                  include_temp: bool, in_use: tuple[str, ...], in_use_file: Any, dry_run: bool,
                  yes: bool, no_glance: bool, profiles: str | None, parallel: int) -> int:
    """Age the image cache exactly as nova-compute does; safe to run from cron.

    An unused image without a marker gets one (ts-<UTC now>); an unused image
    marked longer ago than the minimum age is deleted, folder and all; an
    image in use loses its marker. "In use": a VM registered in vCenter whose
    disk chain or CD-ROM names a file of the image, or an id given with
    --in-use/--in-use-file (Nova also keeps the images of stopped and
    shelved servers). Locked against a second purge on this machine and,
    through a lock folder in the cache folder, on any machine; usage is read
    again right before deleting; Ctrl-C stops between folders. Asks before
    deleting on a terminal unless --yes; acts without a terminal (cron), and
    prints nothing with -q unless something fails. The table names each
    image as the image service does, when it answers (JSON has the ids).
    Exit status 1 when a deletion failed or another purge held a datastore.

    With --profiles A,B,...: each profile's cache as above, at most --parallel
    vCenters at once, one report with each profile's result or error; the
    exit status is the worst of the profiles' (a signal's, else the highest).
    """
    from vmwctl.cache.purge import plan_purge, purge_cache
    from vmwctl.cache.usage import folder_users
    from vmwctl.common.interrupts import deferred_signals

    if profiles is None and click.get_current_context().get_parameter_source(
            "parallel") == click.core.ParameterSource.COMMANDLINE:
        from vmwctl.errors import UsageError

        raise UsageError("--parallel needs --profiles: one profile's datastores are searched "
                         "eight at a time already")
    if profiles is not None:
        return _purge_profiles(app, profiles, parallel, min_age=min_age, datastore=datastore,
                               cluster=cluster, include_temp=include_temp,
                               ids=in_use_ids(in_use, in_use_file), dry_run=dry_run, yes=yes,
                               no_glance=no_glance)
    identify(app, cluster)
    ids = in_use_ids(in_use, in_use_file)
    refuse_without_aging(app.profile)
    request = purge_request(app.profile, min_age, include_temp, ids, now())
    vc = app.vcenter
    inventory, stores = cache_inventory(app, datastore, cluster)
    table_shown = app.out.format == "table" and not app.out.quiet
    render = human(glance_names(app, table_shown and not no_glance))  # only the table names
    if dry_run:
        plan = plan_purge(vc, inventory, stores, request, folder_users(vc))
        record_purge(app, plan)
        app.render(plan, render)
        return 0

    def ask(plan: Any) -> bool:
        if app.out.format == "table":
            app.render(plan, render)
        total = short_size(sum(i.bytes for i in plan.deletions))
        return app.confirm(f"Delete {plural(len(plan.deletions), 'folder')} ({total})?", yes=yes)

    with deferred_signals() as stopper:
        report = purge_cache(vc, inventory, stores, request,
                             read_users=lambda: folder_users(vc),
                             confirm=ask if not yes and app.stdin_is_terminal() else None,
                             stopper=stopper)
        if report is None:
            app.out.info("nothing changed")
            return 0
        record_purge(app, report)
        failures = [f"{i.path}: {i.reason}" for i in report.items if i.outcome.value == "failed"]
        return app.finish_batch(report, render, failures + report.locked_out + report.errors,
                                stopper=stopper)


def purge_request(profile: Any, min_age: int | None, include_temp: bool,
                  ids: frozenset[str], when: Any) -> Any:
    """What one profile's purge is asked to do: its cache folder, its minimum age (or
    --min-age), --include-temp and the ids in use."""
    from vmwctl.cache.listing import profile_folder
    from vmwctl.cache.purge import PurgeRequest

    return PurgeRequest(
        folder=profile_folder(profile, False) or "",
        subdirectory_name=profile.image_cache.subdirectory_name,
        min_age_seconds=profile.image_cache.remove_unused_original_minimum_age_seconds
        if min_age is None else min_age,
        include_temp=include_temp, in_use_ids=ids, now=when)


def _purge_profiles(app: App, profiles: str, parallel: int, *, min_age: int | None,
                    datastore: str | None, cluster: ClusterFlag, include_temp: bool,
                    ids: frozenset[str], dry_run: bool, yes: bool, no_glance: bool) -> int:
    """``cache purge --profiles``: every profile checked first (exit 2 before anything is
    done), then :func:`vmwctl.cache.profiles.purge_profiles`."""
    from vmwctl.cache.profiles import ProfileJob, purge_profiles
    from vmwctl.common.interrupts import deferred_signals
    from vmwctl.errors import UsageError

    identify(app, several=True)
    for given, option in ((app.profile_option, "-p/--profile"), (datastore, "--datastore"),
                          (cluster.given, "--cluster")):
        if given:
            raise UsageError(f"--profiles and {option} exclude each other: --profiles ages "
                             "each profile's own cluster and datastores")
    wanted = list(dict.fromkeys(n.strip() for n in profiles.split(",") if n.strip()))
    when = now()
    jobs = []
    for profile in app.named_profiles(wanted):
        refuse_without_aging(profile)
        jobs.append(ProfileJob(profile.name, profile,
                               purge_request(profile, min_age, include_temp, ids, when)))
    table_shown = app.out.format == "table" and not app.out.quiet

    def render() -> Callable[[Any], Any]:  # only the table names the images, after the run
        by_name = {job.name: job.profile for job in jobs}
        return lambda report: _human_profiles(report, {
            r.profile: glance_names(app, table_shown and not no_glance and r.report is not None
                                    and bool(r.report.items), by_name[r.profile])
            for r in report.profiles})

    def ask(plans: Any) -> bool:
        if app.out.format == "table":
            app.render(plans, render())
        deletions = [i for r in plans.profiles if r.report for i in r.report.deletions]
        total = short_size(sum(i.bytes for i in deletions))
        where = plural(sum(1 for r in plans.profiles if r.report and r.report.deletions),
                       "profile")
        return app.confirm(f"Delete {plural(len(deletions), 'folder')} ({total}) in {where}?",
                           yes=yes)

    def open_vcenter(profile: Any) -> Any:
        return app.open_vcenter(profile, prompt=False)

    with deferred_signals() as stopper:
        report = purge_profiles(jobs, open_vcenter=open_vcenter, parallel=parallel,
                                dry_run=dry_run, stopper=stopper, now=when,
                                confirm=ask if not (yes or dry_run) and app.stdin_is_terminal()
                                else None)
        if report is None:
            app.out.info("nothing changed")
            return 0
        record_profiles(app, report)
        failures = [line for result in report.profiles for line in result.failure_lines]
        code = app.finish_batch(report, render(), failures, stopper=stopper)
        return code if code > 1 else max(code, report.exit_code)


def _human_profiles(report: Any, names: Mapping[str, Mapping[str, str] | None]) -> Any:
    """Per profile a heading, then its purge as the single-profile table shows it (or why it
    was not aged); then one line for the run."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = []
    for result in report.profiles:
        where = result.vcenter + (f", cluster {result.cluster}" if result.cluster else "")
        parts.append(Text(f"Profile {result.profile} ({where})", style="bold"))
        if result.report is not None:
            parts.append(_human(result.report, names.get(result.profile)))
        if result.error is not None:
            parts.append(Text(f"not aged: {result.error}"))
    done = sum(1 for r in report.profiles if r.exit_code == 0)
    freed = sum(i.bytes for r in report.profiles if r.report for i in r.report.deletions) \
        if report.dry_run else report.bytes_freed
    verb = "would free" if report.dry_run else "freed"
    line = f"{plural(len(report.profiles), 'profile')}: {done} " + \
        ("planned" if report.dry_run else "aged")
    if report.failures:
        line += f", {report.failures} failed (exit status {report.exit_code})"
    parts.append(Text(f"{line}; {verb} {short_size(freed)}"))
    return Group(*parts)
