"""vSphere faults as exceptions that carry the fault: a class for each fault vmwctl reacts to.

Every SOAP call (the session's stub) and every task (:func:`wait_for_task`)
turns a pyVmomi fault into the class registered for its type or, failing
that, for the nearest of its base types (oslo.vmware's ``get_fault_class``);
:class:`VSphereFault` when none is. Code outside this package catches these
classes, never pyVmomi's faults, and never looks for a fault's name in a message.

Faults are matched by their pyVmomi type names (``vim.fault.FileNotFound``),
so this module does not import pyVmomi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self

from vmwctl.errors import OperationFailed, VmwctlError
from vmwctl.vsphere.privileges import privilege_text

REMEDY = "see 'vmwctl check privileges'"

_REGISTRY: dict[str, type[VSphereFault]] = {}

# How a refused call names the object it was refused on.
_KINDS = {
    "vim.Datastore": "datastore", "vim.Datacenter": "datacenter", "vim.HostSystem": "host",
    "vim.VirtualMachine": "VM", "vim.ClusterComputeResource": "cluster",
    "vim.ComputeResource": "compute resource", "vim.Folder": "folder",
    "vim.ResourcePool": "resource pool", "vim.VirtualApp": "vApp", "vim.Network": "network",
    "vim.dvs.DistributedVirtualPortgroup": "port group",
}


def describe(fault: Any) -> str:
    """A vSphere fault as one line: its type and its message."""
    name = type(fault).__name__.rsplit(".", 1)[-1]
    message = getattr(fault, "msg", None) or ""
    if not message:
        messages = getattr(fault, "faultMessage", None) or []
        message = "; ".join(m.message for m in messages if getattr(m, "message", None))
    return f"{name}: {message}" if message else name


class VSphereFault(OperationFailed):
    """A fault the vCenter answered a call or a task with (exit 1).

    ``fault`` is pyVmomi's fault object, ``reason`` the fault in one line,
    ``method`` the API method that raised it (None for a task's fault) and
    ``what`` the operation in words, once a caller named it (:meth:`during`).
    """

    # The pyVmomi fault types a subclass stands for (registered when it is defined).
    fault_types: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.__dict__.get("fault_types", ()):
            _REGISTRY[name] = cls

    def __init__(self, fault: Any, *, method: str | None = None, what: str | None = None,
                 reason: str | None = None) -> None:
        self.fault = fault
        self.method = method
        self.what = what
        self.reason = reason or describe(fault)
        self._restated = False
        super().__init__(self._compose())

    @classmethod
    def from_fault(cls, fault: Any, *, method: str | None, what: str | None, user: str | None,
                   name_of: Callable[[Any], str | None] | None) -> VSphereFault:
        """The exception for ``fault``; subclasses use the session's user and object names."""
        return cls(fault, method=method, what=what)

    def _compose(self) -> str:
        if self.what:
            return f"{self.what} failed: {self.reason}"
        return f"the vCenter answered with a fault: {self.reason}"

    @property
    def summary(self) -> str:
        """For a caller that adds its own context: the message once the operation is named
        (or the message restated), else the fault alone."""
        return self.message if self.what or self._restated else self.reason

    def during(self, what: str) -> Self:
        """The same fault, its message naming the operation ("deleting [ds] x")."""
        clone = self._copy()
        clone.what = what
        clone._set_message(clone._compose())
        return clone

    def restated(self, message: str) -> Self:
        """The same fault with a message of the caller's (which should hold ``reason``)."""
        clone = self._copy()
        clone._restated = True
        clone._set_message(message)
        return clone

    def _copy(self) -> Self:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _set_message(self, message: str) -> None:
        self.message = message
        self.args = (message,)


class NotAuthenticated(VSphereFault):
    """The session is not (or no longer) logged in; the stub logs in again once first."""

    fault_types = ("vim.fault.NotAuthenticated",)


class NoPermission(VSphereFault):
    """The session's user lacks a privilege on an object.

    The message names the privilege by the label the vSphere Client shows (its
    id alone when vmwctl does not name it), the object, and the remedy.
    """

    fault_types = ("vim.fault.NoPermission",)

    def __init__(self, fault: Any, *, method: str | None = None, what: str | None = None,
                 reason: str | None = None, user: str | None = None,
                 privileges: Iterable[str] = (), entity: str | None = None) -> None:
        self.user = user
        self.privileges = list(privileges)
        self.entity = entity  # "datastore LocalDS_0"
        super().__init__(fault, method=method, what=what, reason=reason or self._explain())

    @classmethod
    def from_fault(cls, fault: Any, *, method: str | None, what: str | None, user: str | None,
                   name_of: Callable[[Any], str | None] | None) -> VSphereFault:
        ref, privileges = missing_privileges(fault)
        entity = None
        if ref is not None:
            entity = object_label(ref, name_of(ref) if name_of is not None else None)
        return cls(fault, method=method, what=what, user=user, privileges=privileges,
                   entity=entity)

    def _explain(self) -> str:
        who = self.user or "the session's user"
        if not self.privileges:
            lacks = "a privilege"
        elif len(self.privileges) == 1:
            lacks = f"the privilege {privilege_text(self.privileges[0])}"
        else:
            lacks = "the privileges " + ", ".join(map(privilege_text, self.privileges))
        on = f" on {self.entity}" if self.entity else ""
        return f"{who} lacks {lacks}{on}; {REMEDY}"

    def _compose(self) -> str:
        return f"vCenter refused {self.what or self.method or 'a call'}: {self.reason}"


class InvalidLogin(VSphereFault):
    fault_types = ("vim.fault.InvalidLogin",)


class FileFault(VSphereFault):
    """A file operation failed; ``file`` is the path the vCenter names."""

    fault_types = ("vim.fault.FileFault",)

    @property
    def file(self) -> str | None:
        return getattr(self.fault, "file", None)


class FileNotFound(FileFault):
    fault_types = ("vim.fault.FileNotFound",)


class FileAlreadyExists(FileFault):
    fault_types = ("vim.fault.FileAlreadyExists",)


class InvalidPowerState(VSphereFault):
    fault_types = ("vim.fault.InvalidPowerState",)


class DuplicateName(VSphereFault):
    """An object of that name exists: ``object`` is it."""

    fault_types = ("vim.fault.DuplicateName",)

    @property
    def object(self) -> Any:
        return getattr(self.fault, "object", None)


class InvalidName(VSphereFault):
    fault_types = ("vim.fault.InvalidName",)


class ManagedObjectNotFound(VSphereFault):
    """The object a call names is not there (any more)."""

    fault_types = ("vmodl.fault.ManagedObjectNotFound",)


class MethodNotFound(VSphereFault):
    """The endpoint does not have the method (an older vCenter, or an ESXi host)."""

    fault_types = ("vmodl.fault.MethodNotFound",)


class NotSupported(VSphereFault):
    fault_types = ("vmodl.fault.NotSupported",)


def fault_class(fault_type: type) -> type[VSphereFault]:
    """The class registered for the fault type or its nearest base type; VSphereFault else."""
    for base in fault_type.__mro__:
        found = _REGISTRY.get(base.__name__)
        if found is not None:
            return found
    return VSphereFault


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is one of pyVmomi's fault objects (not yet translated)."""
    return any(base.__name__ == "vmodl.MethodFault" for base in type(exc).__mro__)


def translate(fault: Any, *, method: str | None = None, what: str | None = None,
              user: str | None = None,
              name_of: Callable[[Any], str | None] | None = None) -> VSphereFault:
    """The exception for a pyVmomi fault: ``user`` is the session's, ``name_of`` reads an
    object's name (for a refused call's message)."""
    return fault_class(type(fault)).from_fault(fault, method=method, what=what, user=user,
                                               name_of=name_of)


def one_line(exc: BaseException) -> str:
    """An error reported per item (a host, a spawn step): a fault alone or as its caller
    told it, vmwctl's message, else the exception's type and text."""
    if isinstance(exc, VSphereFault):
        return exc.summary
    if isinstance(exc, VmwctlError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def missing_privileges(fault: Any) -> tuple[Any, list[str]]:
    """The object and privilege ids a NoPermission names: ``object`` and ``privilegeId``, or
    (vSphere 7.0.3 and later) the first entry of ``missingPrivileges``."""
    ref = getattr(fault, "object", None)
    privilege_id = getattr(fault, "privilegeId", None)
    if privilege_id:
        return ref, [privilege_id]
    for missing in getattr(fault, "missingPrivileges", None) or []:
        if missing.privilegeIds:
            return getattr(missing, "entity", None) or ref, list(missing.privilegeIds)
    return ref, []


def object_label(ref: Any, name: str | None) -> str:
    """``datastore LocalDS_0`` for a managed object; its type and id when its name is unknown."""
    type_name = type(ref).__name__
    kind = _KINDS.get(type_name, type_name.rsplit(".", 1)[-1])
    return f"{kind} {name}" if name else f"{kind} {getattr(ref, '_moId', '?')}"
