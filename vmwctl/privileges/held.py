"""What a session, a role or a principal holds of the guide's privileges, read from vCenter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vmwctl.errors import UsageError
from vmwctl.privileges.guide import (
    GUIDE_IDS,
    GUIDE_PRIVILEGES,
    SYSTEM_PRIVILEGES,
    GuidePrivilege,
    missing_from,
    same_principal,
)
from vmwctl.vsphere.faults import MethodNotFound, NotSupported, VSphereFault
from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.model import Inventory
from vmwctl.vsphere.session import VCenter


@dataclass
class PrivilegeReport:
    """``check privileges``: what the subject lacks of the guide's privileges."""

    mode: str  # session | role | principal
    subject: str
    entity: str | None  # the Datacenter's path
    required: int
    missing: list[GuidePrivilege] = field(default_factory=list)
    not_propagated: list[GuidePrivilege] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.not_propagated


def pick_datacenter(inventory: Inventory, name: str | None, cluster_name: str | None) -> str:
    """The Datacenter to check: --datacenter, else the cluster's, else the only one."""
    datacenters = list(inventory.datacenters.values())
    if name:
        matches = [dc for dc in datacenters if dc.name == name or dc.path == name]
        if not matches:
            raise UsageError(f"no datacenter {name!r}; datacenters: "
                             f"{', '.join(dc.path for dc in datacenters) or 'none'}")
        return matches[0].moid
    if cluster_name:
        clusters = inventory.clusters_named(cluster_name)
        if len(clusters) == 1 and clusters[0].datacenter:
            return clusters[0].datacenter
    if len(datacenters) == 1:
        return datacenters[0].moid
    raise UsageError("several datacenters: pass --datacenter NAME ("
                     f"{', '.join(dc.path for dc in datacenters)})")


def session_privileges(vc: VCenter, inventory: Inventory, datacenter: str,
                       child: str | None = None) -> PrivilegeReport:
    """The session's own privileges on the Datacenter (and on a child, for propagation).

    HasPrivilegeOnEntities where the vCenter has it, else FetchUserPrivilegeOnEntities.
    """
    auth = vc.content.authorizationManager
    session = vc.content.sessionManager.currentSession
    entities = [inventory.refs[datacenter]] + ([inventory.refs[child]] if child else [])
    try:
        answers = auth.HasPrivilegeOnEntities(entity=entities, sessionId=session.key,
                                              privId=GUIDE_IDS)
        held = [{a.privId for a in answer.privAvailability if a.isGranted} for answer in answers]
    except (MethodNotFound, NotSupported):
        results = auth.FetchUserPrivilegeOnEntities(entities=entities, userName=session.userName)
        held = [set(result.privileges or []) for result in results]
    except VSphereFault as exc:
        raise exc.restated(f"cannot read the session's privileges: {exc.reason}") from None
    report = PrivilegeReport("session", session.userName, inventory.datacenters[datacenter].path,
                             len(GUIDE_IDS), missing=missing_from(held[0]))
    if len(held) > 1:
        report.not_propagated = [p for p in GUIDE_PRIVILEGES
                                 if p.id in held[0] and p.id not in held[1]]
    return report


def _roles(vc: VCenter) -> list[Any]:
    return list(read_paths(vc, vc.content.authorizationManager, ["roleList"]).get("roleList")
                or [])


def find_role(vc: VCenter, name: str) -> Any | None:
    return next((role for role in _roles(vc) if role.name == name), None)


def role_privileges(vc: VCenter, name: str) -> PrivilegeReport:
    """What a role definition lacks of the guide's privileges."""
    role = find_role(vc, name)
    if role is None:
        names = ", ".join(sorted(r.name for r in _roles(vc)))
        raise UsageError(f"no role {name!r}; roles: {names}")
    return PrivilegeReport("role", name, None, len(GUIDE_IDS),
                           missing=missing_from(role.privilege or []))


def effective_privileges(permissions_by_level: Sequence[Sequence[Any]],
                         roles: Mapping[int, Sequence[str]], principal: str) -> set[str]:
    """vCenter's rule: the nearest level (the entity, then ancestors whose permission
    propagates) with a permission for the principal decides; its roles' privileges count."""
    for depth, permissions in enumerate(permissions_by_level):
        matching = [p for p in permissions if not p.group and same_principal(p.principal, principal)
                    and (depth == 0 or p.propagate)]
        if matching:
            held = set(SYSTEM_PRIVILEGES)
            for permission in matching:
                held.update(roles.get(permission.roleId, ()))
            return held
    return set()


def principal_privileges(vc: VCenter, inventory: Inventory, datacenter: str,
                         principal: str) -> PrivilegeReport:
    """The privileges the permissions on the Datacenter and its ancestors give a user."""
    auth = vc.content.authorizationManager
    ref = inventory.refs[datacenter]
    chain = [ref]
    while True:
        parent = read_paths(vc, chain[-1], ["parent"]).get("parent")
        if parent is None:
            break
        chain.append(parent)
    permissions = auth.RetrieveEntityPermissions(entity=ref, inherited=True) or []
    by_entity: dict[str, list[Any]] = {}
    for permission in permissions:
        by_entity.setdefault(permission.entity._moId, []).append(permission)
    roles = {role.roleId: list(role.privilege or []) for role in _roles(vc)}
    held = effective_privileges([by_entity.get(e._moId, []) for e in chain], roles, principal)
    report = PrivilegeReport("principal", principal, inventory.datacenters[datacenter].path,
                             len(GUIDE_IDS), missing=missing_from(held))
    if any(p.group for p in permissions):
        report.notes.append("group permissions are not evaluated: vmwctl cannot read group "
                            "membership")
    if not held:
        report.notes.append(f"no permission for {principal} on the datacenter or a "
                            "propagating one above it")
    return report
