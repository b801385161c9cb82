"""Waiting for vSphere tasks.

pyVmomi's WaitForTask reads the whole ``task.info``; the simulator names a
manager object (VirtualDiskManager, FileManager) as the entity of such tasks,
and pyVmomi then fails to deserialize ``info`` at all. Polling only
``info.state``, ``info.error``, ``info.result`` and ``info.progress`` works
against both the simulator and a real vCenter, in one request per poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from vmwctl.errors import OperationFailed
from vmwctl.vsphere.faults import ManagedObjectNotFound, VSphereFault
from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.session import VCenter

_PATHS = ("info.state", "info.error", "info.result", "info.progress")


def wait_for_task(vc: VCenter, task: Any, *, what: str, timeout: float | None = None,
                  poll_interval: float | None = None,
                  on_progress: Callable[[int], None] | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Any:
    """Wait until the task ends; return its result, or raise the class of its fault
    (:class:`VSphereFault`) or OperationFailed.

    ``what`` names the operation for the error message ("deleting [ds] x").
    """
    interval = vc.settings.task_poll_interval if poll_interval is None else poll_interval
    deadline = None if timeout is None else clock() + timeout
    while True:
        try:
            info = read_paths(vc, task, _PATHS)
        except ManagedObjectNotFound:
            info = {}
        state = info.get("info.state")
        if state == "success":
            return info.get("info.result")
        if state is None:  # the task object is not there (any more)
            raise OperationFailed(f"{what}: vCenter shows no task {task._moId}; check in "
                                  "vCenter whether it ran")
        if state == "error":
            fault = info.get("info.error")
            if fault is None:
                raise OperationFailed(f"{what} failed: unknown error")
            raise vc.stub.translate(fault, what=what)
        if on_progress is not None and info.get("info.progress") is not None:
            on_progress(int(info["info.progress"]))
        if deadline is not None and clock() >= deadline:
            raise OperationFailed(f"{what} did not finish within {timeout:g} s (task "
                                  f"{task._moId} is still {state}); check it in vCenter")
        sleep(interval)


def run_task(vc: VCenter, what: str, start: Callable[[], Any], *,
             poll_interval: float | None = 0.1) -> Any:
    """Start a task with ``start()`` and wait for it; a fault the call raises fails it too."""
    try:
        task = start()
    except VSphereFault as exc:
        raise exc.during(what) from None
    return wait_for_task(vc, task, what=what, poll_interval=poll_interval)
