"""qemu-img, driven through the ``sh`` package: argument lists only, never a shell.

Every call goes through :func:`run`, so that logging, progress parsing and the
mapping of qemu-img's failures to one-line errors live in one place.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shlex
import shutil
import signal
from collections.abc import Callable, Sequence
from typing import Any

from vmwctl.common.interrupts import deferred_signals
from vmwctl.errors import OperationFailed, UsageError

log = logging.getLogger(__name__)

QEMU_IMG = "qemu-img"
_PROGRESS = re.compile(r"\((\d+(?:\.\d+)?)/100%\)")
# The names qemu-img uses for the formats vmwctl recognises.
QEMU_FORMATS = {"raw": "raw", "qcow2": "qcow2", "qed": "qed", "vmdk": "vmdk", "vhd": "vpc",
                "vhdx": "vhdx", "vdi": "vdi"}


def binary() -> str:
    path = shutil.which(QEMU_IMG)
    if path is None:
        raise UsageError("qemu-img is not installed: apt-get install qemu-utils (or put "
                         "qemu-img on PATH)")
    return path


def command_line(args: Sequence[str]) -> str:
    """The command as a user would type it, for --dry-run and logs."""
    return shlex.join([QEMU_IMG, *args])


def run(args: Sequence[str], *, progress: Callable[[float], None] | None = None,
        ok_codes: Sequence[int] = (0,)) -> str:
    """Run qemu-img; return its stdout. Progress (-p) is parsed into percentages; an exit
    status outside ``ok_codes`` is OperationFailed with qemu-img's last line."""
    import sh

    log.info("running %s", command_line(args))
    output: list[str] = []
    pending = ""

    def on_stdout(chunk: str) -> None:
        nonlocal pending
        output.append(chunk)
        if progress is None:
            return
        pending += chunk
        matches = list(_PROGRESS.finditer(pending))
        if matches:
            progress(float(matches[-1].group(1)))
            pending = pending[matches[-1].end():]

    qemu = sh.Command(binary())
    process = None
    try:
        try:
            with deferred_signals() as stopper:  # one that comes while qemu-img starts: below
                process = qemu(*args, _out=on_stdout, _out_bufsize=0, _tty_out=False,
                               _bg=True, _bg_exc=False, _decode_errors="replace",
                               _encoding="utf-8", _err_to_out=False,
                               _ok_code=list(ok_codes))
            stopper.check()
            process.wait()
        except BaseException:  # Ctrl-C, SIGTERM: qemu-img must not outlive vmwctl
            if process is not None:
                _stop(process)
            raise
    except sh.SignalException as exc:  # before ErrorReturnCode, its base class
        raise OperationFailed(f"qemu-img was killed by {_signal_name(exc.exit_code)}"
                              f"{_reason_if_any(exc.stderr)}") from None
    except sh.ErrorReturnCode as exc:
        raise OperationFailed(f"qemu-img failed: {_reason(exc.stderr)}") from None
    return "".join(output)


# qemu-img check's exit statuses that leave a readable image: 0 clean, 3 leaked clusters
# only (space lost, no data), 63 a format it has no checks for (raw, vpc). 2 is
# corruption; 1 a check that could not finish.
_CHECK_READABLE = (0, 2, 3, 63)


def damage(source: str, fmt: str) -> str | None:
    """What ``qemu-img check`` finds wrong in the image's tables (a qcow2 or a sparse VMDK
    cut short, clusters past the end of the file), or None when nothing is. qemu-img reads
    what is missing as zeros: converting such a file loses data without an error."""
    import json

    try:
        output = run(["check", "-f", fmt, "--output=json", source], ok_codes=_CHECK_READABLE)
    except OperationFailed as exc:
        reason = exc.message.removeprefix("qemu-img failed: ")
        return f"qemu-img check cannot read its tables ({reason})"
    try:
        found = json.loads(output) if output.strip() else {}
    except ValueError:
        return None
    errors = int(found.get("corruptions") or 0) + int(found.get("check-errors") or 0)
    if errors == 0:
        return None
    return (f"qemu-img check finds {errors} error{'s' if errors != 1 else ''} in its tables "
            "(a damaged file, or one cut short)")


def _stop(process: Any) -> None:
    """Kill qemu-img and reap it (its temporary output is then removed by the caller)."""
    import sh

    if process.process.exit_code is not None:  # reaped already: its pid may be another's
        return
    with contextlib.suppress(OSError, sh.ErrorReturnCode):
        process.kill()
    with contextlib.suppress(Exception):
        process.wait()


def _signal_name(exit_code: int) -> str:
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


def _reason_if_any(stderr: bytes) -> str:
    reason = _reason(stderr)
    return "" if reason == "no error message" else f" ({reason})"


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip()]
    if not lines:
        return "no error message"
    return lines[-1].removeprefix("qemu-img: ")
