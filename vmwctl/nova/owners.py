"""Whose VM it is: Nova's, vmwctl's, vSphere's own, an extension's, or the operator's.

Nova marks its instances with ``nvp.vm-uuid`` and ``managedBy =
org.openstack.compute``. vSphere 7.0 U1 and later run vSphere Cluster
Services VMs (``vCLS (N)``, ``vCLS-<uuid>``) in every cluster, managed by ESX
Agent Manager; they cannot be removed. Other solutions (NSX, backup
appliances) mark the VMs they deploy with their own extension key.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from vmwctl.vsphere.model import VirtualMachine

NOVA_EXTENSION = "org.openstack.compute"
EAM_EXTENSION = "com.vmware.vim.eam"  # ESX Agent Manager, which runs the vCLS VMs
OWNERS = ("nova", "vmwctl", "system", "extension", "other")
_VCLS_NAME = re.compile(r"vCLS(?: \(\d+\)|-.+)?")


def vm_owner(vm: VirtualMachine) -> str:
    """vmwctl (a spawn's VM), nova, system (vSphere Cluster Services), extension (managed
    by another solution, ``vm.managed_by`` says which) or other (the operator's own)."""
    if vm.vmwctl_marker is not None:
        return "vmwctl"
    if vm.nova_uuid is not None or vm.managed_by == NOVA_EXTENSION:
        return "nova"
    if vm.managed_by == EAM_EXTENSION and _VCLS_NAME.fullmatch(vm.name or ""):
        return "system"
    if vm.managed_by:
        return "extension"
    return "other"


def count_owners(vms: Iterable[VirtualMachine]) -> dict[str, int]:
    """How many VMs each owner has, every owner named."""
    counts = Counter(vm_owner(vm) for vm in vms)
    return {owner: counts.get(owner, 0) for owner in OWNERS}
