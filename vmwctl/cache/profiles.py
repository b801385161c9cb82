"""``cache purge --profiles``: the caches of several compute services in one run.

Each profile is aged exactly as ``cache purge`` ages one (:mod:`vmwctl.cache.purge`):
this machine's lock for its vCenter and cache folder (taken for every profile before any
vCenter is contacted, and held to the end), then each datastore under its own lock in the
cache folder, the plan made under that lock, usage read again right before deleting.

Profiles are grouped by vCenter (``host_ip:host_port`` as the profiles write them): the
profiles of one vCenter run one after another in one worker, and at most ``parallel``
vCenters are worked on at once. Two profiles with the same vCenter and cache folder share
this machine's lock (taken once) and each datastore's lock, so they can never race.

A profile's failure (its vCenter down, its cluster missing, a lock held) is its own: it is
recorded in its result, and the other profiles go on. Ctrl-C and SIGTERM stop every
profile between two folders (or before its next step: login, inventory, usage); the
profiles not begun are not begun.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vmwctl.cache.listing import target_datastores
from vmwctl.cache.locks import LockHeld, local_lock
from vmwctl.cache.purge import (
    PurgeReport,
    PurgeRequest,
    local_lock_key,
    plan_purge,
    run_purge,
)
from vmwctl.cache.usage import folder_users
from vmwctl.common.interrupts import Stopper, immediate_signals
from vmwctl.common.metrics import vcenter_label
from vmwctl.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    ConfigError,
    UsageError,
    VmwctlError,
)
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Datastore, Inventory, UnknownCluster
from vmwctl.vsphere.session import VCenter
from vmwctl.vsphere.snapshot import CACHE, read_inventory

NOT_BEGUN = "interrupted before it began"


@dataclass
class ProfileJob:
    """One profile to age: its name, settings and request (its folder, minimum age)."""

    name: str
    profile: Profile
    request: PurgeRequest

    @property
    def endpoint(self) -> str:
        """The vCenter as the profile names it: the grouping key."""
        v = self.profile.vmware
        return f"{v.host_ip}:{v.host_port}"

    @property
    def lock_key(self) -> str:
        v = self.profile.vmware
        return local_lock_key(v.host_ip or "", v.host_port, self.request.folder)


@dataclass
class ProfileResult:
    """One profile's part of the report (JSON keys documented in docs/cache.md)."""

    profile: str
    vcenter: str  # as the metrics label it: host_ip, with :port unless 443
    cluster: str | None
    cache_folder: str
    exit_code: int = EXIT_OK
    error: str | None = None  # why the profile was not (wholly) aged
    seconds: float = 0.0
    report: PurgeReport | None = None  # None: it failed (or was stopped) before its plan

    @property
    def failure_lines(self) -> list[str]:
        """One line per thing that failed, prefixed with the profile's name."""
        lines = [] if self.error is None or self.error == NOT_BEGUN else [self.error]
        if self.report is not None:
            lines += [f"{i.path}: {i.reason}" for i in self.report.items
                      if i.outcome.value == "failed"]
            lines += self.report.locked_out + self.report.errors
        return [f"profile {self.profile}: {line}" for line in lines]


@dataclass
class ProfilesReport:
    """The whole run (JSON keys documented in docs/cache.md); ``exit_code``: the worst."""

    dry_run: bool
    now: dt.datetime
    parallel: int
    profiles: list[ProfileResult] = field(default_factory=list)
    bytes_freed: int = 0
    failures: int = 0  # profiles whose exit code is not 0
    interrupted: bool = False
    exit_code: int = EXIT_OK

    def finish(self, stopper: Stopper) -> ProfilesReport:
        for result in self.profiles:
            if result.report is not None and result.report.interrupted:
                result.exit_code = _signal_exit(stopper)
            elif result.exit_code == EXIT_OK and result.report is not None and (
                    result.report.failures or result.report.locked_out):
                result.exit_code = EXIT_FAILED
        self.interrupted = stopper.requested
        self.bytes_freed = sum(r.report.bytes_freed for r in self.profiles
                               if r.report is not None)
        self.failures = sum(1 for r in self.profiles if r.exit_code != EXIT_OK)
        self.exit_code = worst_exit_code(r.exit_code for r in self.profiles)
        return self


def worst_exit_code(codes: Iterable[int]) -> int:
    """The run's exit status: a signal's (130, 143) over any other, else the highest (3: a
    vCenter could not be reached; 2: a profile does not fit its vCenter; 1: a deletion failed
    or a lock was held; 0)."""
    codes = set(codes)
    for signalled in (EXIT_SIGTERM, EXIT_SIGINT):
        if signalled in codes:
            return signalled
    return max(codes, default=EXIT_OK)


def _signal_exit(stopper: Stopper) -> int:
    return EXIT_SIGTERM if stopper.signal == signal.SIGTERM else EXIT_SIGINT


def profile_datastores(inventory: Inventory, profile: Profile) -> list[Datastore]:
    """The datastores Nova uses for the profile's cluster (every datastore Nova may use when
    the profile names no cluster), as ``cache purge`` without --datastore picks them."""
    cluster = None
    name = profile.vmware.cluster_name
    if name:
        try:
            cluster = inventory.cluster_named(name)
        except UnknownCluster as exc:
            raise ConfigError(f"{exc.message}; it is the vmware.cluster_name of profile "
                              f"'{profile.name}': set it to an existing cluster") from None
    stores = target_datastores(inventory, profile, None, cluster)
    if not stores:
        where = f"cluster {cluster.name!r}" if cluster else "the vCenter"
        raise UsageError(f"no datastore of {where} passes Nova's datastore filter "
                         f"(vmware.datastore_regex of profile '{profile.name}'; 'vmwctl "
                         "cluster inspect' shows why each is refused)")
    return stores


class _Run:
    """One profile's run: its session and what it read, step by step."""

    def __init__(self, job: ProfileJob, open_vcenter: Callable[[Profile], VCenter]) -> None:
        self.job = job
        self.open_vcenter = open_vcenter
        v = job.profile.vmware
        self.result = ProfileResult(job.name, vcenter_label(v.host_ip, v.host_port),
                                    v.cluster_name, job.request.folder)
        self.vc: VCenter | None = None
        self.inventory: Inventory | None = None
        self.stores: list[Datastore] = []
        self.users: dict[str, list[str]] = {}
        self.ready = False  # read its vCenter: can plan and act

    @property
    def failed(self) -> bool:
        return self.result.error is not None

    def fail(self, message: str, code: int) -> None:
        self.result.error, self.result.exit_code = message, code

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Time the step; a VmwctlError fails this profile only."""
        started = time.monotonic()
        try:
            yield
        except VmwctlError as exc:
            self.fail(exc.message, exc.exit_code)
        finally:
            self.result.seconds = round(self.result.seconds + time.monotonic() - started, 3)

    def read(self, stopper: Stopper) -> None:
        """Log in, read the inventory, the datastores and who uses what; between each, stop
        on a signal."""
        steps: list[Callable[[], None]] = [self._login, self._inventory, self._users]
        with self.step():
            for one in steps:
                if stopper.requested:
                    self.fail(NOT_BEGUN, _signal_exit(stopper))
                    return
                one()
            self.ready = True

    def _login(self) -> None:
        self.vc = self.open_vcenter(self.job.profile)

    def _inventory(self) -> None:
        assert self.vc is not None
        # the profile's cluster alone (every datastore when it names none); no VM is read
        self.inventory = read_inventory(self.vc, cluster=self.job.profile.vmware.cluster_name
                                        or None, properties=CACHE)
        self.stores = profile_datastores(self.inventory, self.job.profile)

    def _users(self) -> None:
        assert self.vc is not None
        self.users = folder_users(self.vc)

    def plan(self) -> None:
        assert self.vc is not None and self.inventory is not None
        with self.step():
            self.result.report = plan_purge(self.vc, self.inventory, self.stores,
                                            self.job.request, self.users)

    def act(self, stopper: Stopper, approved: set[str] | None) -> None:
        vc, inventory = self.vc, self.inventory
        assert vc is not None and inventory is not None
        with self.step():
            self.result.report = run_purge(vc, inventory, self.stores, self.job.request,
                                           users=self.users,
                                           reread_users=lambda: folder_users(vc),
                                           approved=approved, stopper=stopper)

    def close(self) -> None:
        vc, self.vc = self.vc, None
        if vc is not None:
            vc.close()  # quiet when the vCenter went away


def _by_vcenter(runs: list[_Run], work: Callable[[_Run], None], parallel: int,
                stopper: Stopper) -> None:
    """work(run) for each run: the runs of one vCenter in order, ``parallel`` vCenters at once;
    once a signal came, the runs not begun are marked so and left alone."""
    groups: dict[str, list[_Run]] = {}
    for run in runs:
        groups.setdefault(run.job.endpoint, []).append(run)

    def one_vcenter(group: list[_Run]) -> None:
        for run in group:
            if run.failed:
                continue
            if stopper.requested:
                run.fail(NOT_BEGUN, _signal_exit(stopper))
                continue
            work(run)

    if not groups:
        return
    if len(groups) == 1 or parallel == 1:  # no thread needed
        for group in groups.values():
            one_vcenter(group)
        return
    pool = ThreadPoolExecutor(max_workers=min(parallel, len(groups)),
                              thread_name_prefix="purge")
    try:
        for future in [pool.submit(one_vcenter, group) for group in groups.values()]:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def purge_profiles(jobs: list[ProfileJob], *, open_vcenter: Callable[[Profile], VCenter],
                   parallel: int, dry_run: bool = False,
                   confirm: Callable[[ProfilesReport], bool] | None = None,
                   stopper: Stopper, now: dt.datetime) -> ProfilesReport | None:
    """Age every job's cache; the report of every profile, or None when ``confirm`` declined.

    ``parallel``: how many vCenters at once. ``dry_run``: only the plans, no lock taken.
    ``confirm`` (None: act without asking, as from cron): asked in the calling thread with
    every profile's plan when any deletes something; a signal there acts at once (nothing
    has changed yet). ``stopper``: the caller's deferred-signal block
    (:func:`vmwctl.common.interrupts.deferred_signals`). ``open_vcenter`` is called from
    worker threads, one session per profile.
    """
    runs = [_Run(job, open_vcenter) for job in jobs]
    report = ProfilesReport(dry_run, now, parallel, [run.result for run in runs])

    def read_and_plan(run: _Run) -> None:
        run.read(stopper)
        if run.ready:
            run.plan()

    def read_and_act(run: _Run) -> None:
        run.read(stopper)
        if run.ready:
            run.act(stopper, None)

    try:
        with contextlib.ExitStack() as locks:
            if dry_run:
                _by_vcenter(runs, read_and_plan, parallel, stopper)
            elif confirm is None:
                _lock_here(runs, locks, now)
                _by_vcenter(runs, read_and_act, parallel, stopper)
            else:
                _lock_here(runs, locks, now)
                _by_vcenter(runs, read_and_plan, parallel, stopper)
                planned = [run for run in runs if run.result.report is not None]
                approved = {run.job.name: {item.path for item in run.result.report.deletions}
                            for run in planned if run.result.report is not None}
                if any(approved.values()):
                    plans = ProfilesReport(True, now, parallel, [run.result for run in runs])
                    with immediate_signals(stopper):
                        if not confirm(plans.finish(stopper)):
                            return None
                for run in planned:  # the plans were the question; the runs are the answer
                    run.result.report = None
                _by_vcenter(planned, lambda run: run.act(stopper, approved[run.job.name]),
                            parallel, stopper)
    finally:
        _close_all(runs)
    return report.finish(stopper)


def _lock_here(runs: list[_Run], locks: contextlib.ExitStack, now: dt.datetime) -> None:
    """This machine's lock of every vCenter and cache folder, once per key, before anything;
    a held one fails its profiles (exit 1), the others go on."""
    held: dict[str, str | None] = {}
    for run in runs:
        key = run.job.lock_key
        if key not in held:
            try:
                locks.enter_context(local_lock(key, now))
                held[key] = None
            except LockHeld as exc:
                held[key] = exc.message
        if held[key] is not None:
            run.fail(held[key] or "", EXIT_FAILED)


def _close_all(runs: list[_Run]) -> None:
    closers = [threading.Thread(target=run.close) for run in runs if run.vc is not None]
    for closer in closers:  # logouts of several vCenters at once
        closer.start()
    for closer in closers:
        closer.join()
