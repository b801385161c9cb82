"""``role create``: a role with exactly the guide's privileges, granted on the Datacenter."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyVmomi import vim

from vmwctl.errors import OperationFailed
from vmwctl.privileges.guide import GUIDE_IDS, SYSTEM_PRIVILEGES, same_principal
from vmwctl.privileges.held import find_role
from vmwctl.vsphere.faults import InvalidName, VSphereFault
from vmwctl.vsphere.model import Inventory
from vmwctl.vsphere.session import VCenter


@dataclass
class RoleResult:
    """What ``role create`` did (or would do, with --dry-run)."""

    role: str
    role_id: int | None
    role_action: str  # created | updated | unchanged
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    principal: str | None = None
    datacenter: str | None = None
    grant_action: str | None = None  # granted | updated | unchanged
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return self.role_action != "unchanged" or self.grant_action in ("granted", "updated")


def ensure_role(vc: VCenter, inventory: Inventory, name: str, *, principal: str | None = None,
                group: bool = False, datacenter: str | None = None,
                dry_run: bool = False) -> RoleResult:
    """Create or update the role idempotently; grant it to the principal on the Datacenter."""
    auth = vc.content.authorizationManager
    wanted = set(GUIDE_IDS)
    role = find_role(vc, name)
    try:
        if role is None:
            result = RoleResult(name, None, "created", added=sorted(wanted), dry_run=dry_run)
            if not dry_run:
                result.role_id = auth.AddAuthorizationRole(name=name, privIds=GUIDE_IDS)
        else:
            have = set(role.privilege or []) - set(SYSTEM_PRIVILEGES)
            result = RoleResult(name, role.roleId, "unchanged", added=sorted(wanted - have),
                                removed=sorted(have - wanted), dry_run=dry_run)
            if result.added or result.removed:
                result.role_action = "updated"
                if not dry_run:
                    auth.UpdateAuthorizationRole(roleId=role.roleId, newName=name,
                                                 privIds=GUIDE_IDS)
        if principal:
            result.principal = principal
            result.datacenter = inventory.datacenters[datacenter].path if datacenter else None
            result.grant_action = _grant(vc, inventory, auth, result, principal, group,
                                         datacenter, dry_run)
    except InvalidName as exc:
        raise exc.restated(f"vCenter refused the role name {name!r}: {exc.reason}") from None
    except VSphereFault as exc:
        raise exc.during(f"creating role {name!r}") from None
    return result


def _grant(vc: VCenter, inventory: Inventory, auth: object, result: RoleResult, principal: str,
           group: bool, datacenter: str | None, dry_run: bool) -> str:
    if datacenter is None:
        raise OperationFailed("no datacenter to grant the role on")
    entity = inventory.refs[datacenter]
    current = [p for p in auth.RetrieveEntityPermissions(entity=entity, inherited=False) or []
               if p.group == group and same_principal(p.principal, principal)]
    if result.role_id is not None and any(p.roleId == result.role_id and p.propagate
                                          for p in current):
        return "unchanged"
    action = "updated" if current else "granted"
    if not dry_run:
        role_id = result.role_id if result.role_id is not None else find_role(
            vc, result.role).roleId
        permission = vim.AuthorizationManager.Permission(
            entity=entity, principal=principal, group=group, roleId=role_id, propagate=True)
        auth.SetEntityPermissions(entity=entity, permission=[permission])
    return action
