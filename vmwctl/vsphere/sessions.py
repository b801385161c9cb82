"""The vCenter sessions: SessionManager.sessionList and currentSession, in one read.

A session's key is its cookie, a credential: it is not kept here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from vmwctl.vsphere.inventory import read_objects
from vmwctl.vsphere.session import VCenter


@dataclass(frozen=True)
class Session:
    """One logged-in session (without its key); ``current``: the reader's own."""

    user: str
    user_agent: str
    ip_address: str
    login_time: dt.datetime | None
    last_active: dt.datetime | None
    current: bool = False


@dataclass
class SessionList:
    """What vCenter shows of its sessions: ``current`` is the reader's own; ``sessions`` is
    None when vCenter did not return the list, ``missing`` then says why (a fault's name,
    e.g. NoPermission)."""

    current: Session | None
    sessions: list[Session] | None = field(default_factory=list)
    missing: str | None = None


def _session(value: Any, current: Any = None) -> Session:
    return Session(user=value.userName or "", user_agent=value.userAgent or "",
                   ip_address=value.ipAddress or "", login_time=value.loginTime,
                   last_active=value.lastActiveTime,
                   current=current is not None and value.key == current.key)


def _why(fault: Any) -> str:
    name = type(fault).__name__.rsplit(".", 1)[-1]
    privilege = getattr(fault, "privilegeId", None)
    return f"{name} ({privilege})" if privilege else name


def read_sessions(vc: VCenter) -> SessionList:
    """SessionManager.sessionList and currentSession: one RetrievePropertiesEx."""
    manager = vc.content.sessionManager
    records = read_objects(vc, [manager], ["sessionList", "currentSession"])
    if not records:
        return SessionList(current=None, sessions=None, missing="no SessionManager")
    record = records[0]
    current = record.get("currentSession")
    listed = record.get("sessionList")
    missing = record.missing.get("sessionList")
    return SessionList(
        current=_session(current, current) if current is not None else None,
        sessions=None if missing is not None else [_session(s, current) for s in listed or []],
        missing=_why(missing) if missing is not None else None)
