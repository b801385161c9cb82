"""The service account's privileges: the guide's table, as vSphere privilege ids.

The guide names 44 privileges (its "Disk change tracking" row appears twice)
to grant on the Datacenter with "Propagate to Child Objects". The labels are
kept so that reports speak the guide's language; the table itself is the
vSphere layer's (:mod:`vmwctl.vsphere.privileges`), whose labels a refused
call names too.
"""

from __future__ import annotations

from collections.abc import Iterable

from vmwctl.vsphere.privileges import PRIVILEGES, Privilege

# The guide's table is the vSphere layer's table of the privileges vmwctl names.
GuidePrivilege = Privilege
GUIDE_PRIVILEGES = list(PRIVILEGES)
GUIDE_IDS = [p.id for p in GUIDE_PRIVILEGES]
# vCenter adds these to every role.
SYSTEM_PRIVILEGES = ("System.Anonymous", "System.Read", "System.View")
DEFAULT_ROLE = "openstack-nova"


def missing_from(held: Iterable[str]) -> list[GuidePrivilege]:
    have = set(held)
    return [p for p in GUIDE_PRIVILEGES if p.id not in have]


def same_principal(a: str, b: str) -> bool:
    """DOMAIN\\user and user@domain name the same principal; case does not matter."""
    def normal(name: str) -> str:
        name = name.lower()
        domain, sep, user = name.partition("\\")
        return f"{user}@{domain}" if sep else name

    return normal(a) == normal(b)
