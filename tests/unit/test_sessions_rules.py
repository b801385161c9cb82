"""The sessions check judged on plain data: the account's sessions, their idle times on
vCenter's clock, the warning above --max-sessions, and a list vCenter does not show."""

from __future__ import annotations

import dataclasses
import datetime as dt

from inventory import make_context

from vmwctl.checks.model import DEFAULT_MAX_SESSIONS, Status
from vmwctl.checks.prereqs import CHECK_IDS, REMOTE
from vmwctl.checks.sessions import SessionsData, by_agent, duration, judge_sessions
from vmwctl.cli.check.prereqs import MAX_SESSIONS
from vmwctl.vsphere.sessions import Session, SessionList

# vCenter's clock, deliberately far from this machine's: idle times never use the local one.
VC_NOW = dt.datetime(2031, 5, 4, 12, 0, 0, tzinfo=dt.UTC)
NOVA = "suds/0.4 oslo.vmware"
VMWCTL = "pyvmomi 9.1.1.0 OSS Python/3.11.7 (Linux; 6.1.0; x86_64)"
VMWCTL_SHORT = "pyvmomi 9.1.1.0 OSS Python/3.11.7"


def session(user: str = "svc-nova@vsphere.local", agent: str = NOVA,
            idle: dt.timedelta = dt.timedelta()) -> Session:
    return Session(user=user, user_agent=agent, ip_address="10.0.0.7",
                   login_time=VC_NOW - idle - dt.timedelta(hours=1), last_active=VC_NOW - idle)


def me() -> Session:
    return dataclasses.replace(session(agent=VMWCTL), current=True)


def listing(*others: Session) -> SessionsData:
    return SessionsData(SessionList(current=me(), sessions=[me(), *others]))


def test_the_check_is_a_remote_one_before_nova_conf() -> None:
    assert "sessions" in REMOTE
    assert CHECK_IDS.index("sessions") < CHECK_IDS.index("nova-conf") == len(CHECK_IDS) - 1
    assert MAX_SESSIONS == DEFAULT_MAX_SESSIONS == 50  # --max-sessions' default


def test_the_accounts_sessions_pass_with_the_count_and_the_longest_idle() -> None:
    data = listing(session(idle=dt.timedelta(hours=2, minutes=5, seconds=9)),
                   session(idle=dt.timedelta(minutes=3)),
                   session(user="someone-else", idle=dt.timedelta(days=9)))
    result = judge_sessions(make_context(), data)
    assert result.status == Status.PASS
    assert result.detail == ("svc-nova@vsphere.local holds 3 vCenter sessions (vmwctl's own "
                             f"included), the longest idle for 2 h 5 min; by user agent: 2 from "
                             f"{NOVA}; 1 from {VMWCTL_SHORT}")
    assert result.objects == [f"2 from {NOVA}", f"1 from {VMWCTL}"]  # another user's not counted


def test_vmwctls_own_session_alone_passes() -> None:
    result = judge_sessions(make_context(), listing(session(user="nova")))
    assert result.status == Status.PASS
    assert result.detail == "svc-nova@vsphere.local holds 1 vCenter session, this one (vmwctl's)"
    assert result.objects == [f"1 from {VMWCTL}"]


def test_more_sessions_than_the_limit_warn_with_the_user_agents_and_a_remedy() -> None:
    ctx = dataclasses.replace(make_context(), max_sessions=3)
    data = listing(*(session(idle=dt.timedelta(days=3, hours=4)) for _ in range(3)),
                   session(agent="curl/8"))
    result = judge_sessions(ctx, data)
    assert result.status == Status.WARN
    assert result.detail == (
        f"svc-nova@vsphere.local holds 5 vCenter sessions (more than 3), the longest idle for "
        f"3 d 4 h, by user agent: 3 from {NOVA}; 1 from curl/8; 1 from {VMWCTL_SHORT}; "
        "this is how a nova-compute that leaks sessions shows, before vCenter runs out of "
        "sessions and refuses logins")
    assert result.remedy is not None and result.remedy.startswith(
        "restart the nova-compute service that holds them")
    assert "govc session.ls" in result.remedy
    assert judge_sessions(dataclasses.replace(ctx, max_sessions=5), data).status == Status.PASS


def test_a_list_vcenter_withholds_is_skipped_naming_the_privilege() -> None:
    data = SessionsData(SessionList(current=me(), sessions=None,
                                    missing="NoPermission (Sessions.TerminateSession)"))
    result = judge_sessions(make_context(), data)
    assert result.status == Status.SKIP
    assert "did not return its session list to svc-nova@vsphere.local (NoPermission " \
        "(Sessions.TerminateSession))" in result.detail
    assert "needs Sessions.TerminateSession" in result.detail
    refused = judge_sessions(make_context(), SessionsData(error="NoPermission: no"))
    assert refused.status == Status.SKIP
    assert refused.detail.startswith("cannot read vCenter's sessions (NoPermission: no)")


def test_sessions_vcenter_lists_without_times_count_without_an_idle() -> None:
    other = dataclasses.replace(session(), last_active=None)
    result = judge_sessions(make_context(), listing(other))
    assert result.status == Status.PASS
    assert result.detail == ("svc-nova@vsphere.local holds 2 vCenter sessions (vmwctl's own "
                             f"included); by user agent: 1 from {VMWCTL_SHORT}; 1 from {NOVA}")


def test_a_list_without_the_current_session_counts_it_all_the_same() -> None:
    data = SessionsData(SessionList(current=me(), sessions=[session()]))
    result = judge_sessions(make_context(), data)
    assert result.detail.startswith("svc-nova@vsphere.local holds 2 vCenter sessions")


def test_durations_and_agents() -> None:
    assert [duration(s) for s in (0, 59, 60, 3599, 3600, 86399, 86400 * 40)] == [
        "0 s", "59 s", "1 min", "59 min", "1 h 0 min", "23 h 59 min", "40 d 0 h"]
    assert by_agent([session(agent=""), session(agent="b"), session(agent="a"),
                     session(agent="b")]) == ["2 from b", "1 from a", "1 from unknown user agent"]
