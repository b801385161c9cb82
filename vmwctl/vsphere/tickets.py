"""Console tickets: ``VirtualMachine.AcquireTicket``, what Nova's MKS console asks for.

Nova's driver (``get_mks_console``) takes the ticket, the VM's configuration
file, the host, the port and the host's SSL thumbprint from the answer. The
ticket itself is a one-time secret: it is never kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmwctl.vsphere.model import Inventory, VirtualMachine


@dataclass
class ConsoleTicket:
    """What vCenter handed out for a VM, the ticket itself left out."""

    vm: str
    issued: bool  # a ticket came back
    host: str | None
    port: int | None
    thumbprint: str | None
    cfg_file: str | None

    @property
    def missing(self) -> list[str]:
        """The fields Nova's MKS console needs and the answer lacks."""
        needed = {"ticket": self.issued, "host": self.host, "port": self.port,
                  "sslThumbprint": self.thumbprint, "cfgFile": self.cfg_file}
        return [name for name, value in needed.items() if not value]


def acquire_ticket(inventory: Inventory, vm: VirtualMachine, kind: str = "mks") -> ConsoleTicket:
    """One AcquireTicket call on ``vm`` (its reference is bound to the session); a fault
    raises its VSphereFault class."""
    answer = inventory.refs[vm.moid].AcquireTicket(ticketType=kind)
    return ConsoleTicket(vm=vm.name, issued=bool(answer.ticket), host=answer.host or None,
                         port=int(answer.port) if answer.port else None,
                         thumbprint=answer.sslThumbprint or None,
                         cfg_file=answer.cfgFile or None)
