"""The ``sessions`` check: how many vCenter sessions the service account holds.

nova-compute keeps one session; one that loses track of its sessions (a
re-login that does not log the old one out) holds more and more of them
until vCenter refuses logins. The check reads SessionManager.sessionList and
currentSession once (no per-host calls), counts the sessions of the account
vmwctl logged in as (the current session's user), and tells how long each
has been idle: the current session's lastActiveTime minus the session's, both
vCenter's clock, so that a skew between vmwctl and vCenter does not matter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vmwctl.checks.model import CheckResult, Context, passed, skipped, warned
from vmwctl.common.words import plural
from vmwctl.errors import OperationFailed
from vmwctl.vsphere.faults import NoPermission, one_line
from vmwctl.vsphere.sessions import Session, SessionList, read_sessions

if TYPE_CHECKING:
    from vmwctl.vsphere.session import VCenter

CHECK_ID = "sessions"
LIST_PRIVILEGE = "Sessions.TerminateSession"
AGENTS_SHOWN = 3


@dataclass
class SessionsData:
    """The sessions read, or why they could not be read (``error``)."""

    sessions: SessionList | None = None
    error: str | None = None


def gather_sessions(vc: VCenter, ctx: Context) -> SessionsData:
    """One read of SessionManager.sessionList and currentSession. A refusal is judged (the
    check degrades to a skip), not raised."""
    try:
        return SessionsData(read_sessions(vc))
    except NoPermission as exc:
        return SessionsData(error=f"{LIST_PRIVILEGE} needed: {one_line(exc)}")
    except OperationFailed as exc:  # a vSphere fault: say it, do not fail the run
        return SessionsData(error=one_line(exc))


def idle_seconds(session: Session, now: dt.datetime | None) -> float | None:
    """How long ``session`` has been idle at ``now`` (vCenter's clock); None if unknown."""
    if now is None or session.last_active is None:
        return None
    return max(0.0, (now - session.last_active).total_seconds())


def duration(seconds: float) -> str:
    """3 d 4 h, 2 h 5 min, 7 min, 12 s."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def short_agent(agent: str) -> str:
    """A user agent without its comments: "pyvmomi 9.1.1.0 OSS Python/3.11.7", not the
    platform in parentheses after it."""
    return agent.split(" (", 1)[0].strip() or agent


def by_agent(sessions: list[Session], *, short: bool = False) -> list[str]:
    """"COUNT from AGENT", the most frequent first (ties by agent)."""
    counts = Counter((short_agent(s.user_agent) if short else s.user_agent)
                     or "unknown user agent" for s in sessions)
    return [f"{count} from {agent}" for agent, count in
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def judge_sessions(ctx: Context, data: SessionsData) -> CheckResult:
    """The account's sessions: pass with the count and the longest idle; warn above
    ``ctx.max_sessions``; skip when vCenter does not show them."""
    if data.error is not None or data.sessions is None:
        return skipped(CHECK_ID, f"cannot read vCenter's sessions ({data.error}); listing the "
                       f"sessions of other users needs {LIST_PRIVILEGE}")
    listing = data.sessions
    if listing.current is None:
        return skipped(CHECK_ID, "vCenter shows no current session, so no account to count")
    account = listing.current.user
    if listing.sessions is None:
        return skipped(CHECK_ID, f"vCenter did not return its session list to {account} "
                       f"({listing.missing}); seeing the sessions of other users and clients "
                       f"needs {LIST_PRIVILEGE} on the vCenter (root folder)")
    mine = [s for s in listing.sessions if s.user == account]
    if not any(s.current for s in mine):  # vCenter lists the reader's own; be safe anyway
        mine.append(dataclasses.replace(listing.current, current=True))
    agents = by_agent(mine)
    if len(mine) == 1:
        return passed(CHECK_ID, f"{account} holds 1 vCenter session, this one (vmwctl's)",
                      agents)
    now = listing.current.last_active
    idles = [i for i in (idle_seconds(s, now) for s in mine if not s.current) if i is not None]
    longest = f", the longest idle for {duration(max(idles))}" if idles else ""
    short = by_agent(mine, short=True)
    shown = "; ".join(short[:AGENTS_SHOWN]) + ("; ..." if len(short) > AGENTS_SHOWN else "")
    count = f"{account} holds {plural(len(mine), 'vCenter session')}"
    limit = ctx.max_sessions
    if len(mine) > limit:
        return warned(CHECK_ID, f"{count} (more than {limit}){longest}, by user agent: {shown}; "
                      "this is how a nova-compute that leaks sessions shows, before vCenter "
                      "runs out of sessions and refuses logins", agents,
                      "restart the nova-compute service that holds them (its user agent is "
                      "listed), and set vCenter's idle session timeout so that abandoned "
                      "sessions end; 'govc session.ls' lists them, 'govc session.rm KEY' ends "
                      "one")
    return passed(CHECK_ID, f"{count} (vmwctl's own included){longest}; by user agent: "
                  f"{shown}", agents)
