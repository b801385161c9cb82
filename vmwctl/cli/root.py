"""The ``vmwctl`` root command: global options, lazy groups, errors and exit codes."""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from vmwctl import __version__
from vmwctl.cli.app import App
from vmwctl.cli.lazy import LazyGroup, root_params
from vmwctl.cli.output import FORMATS
from vmwctl.common.redact import redact
from vmwctl.errors import (
    EXIT_FAILED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    Terminated,
    VmwctlError,
)

COMMANDS = {
    "about": "vmwctl.cli.about:about",
    "audit": "vmwctl.cli.audit:audit",
    "cache": "vmwctl.cli.cache:cache",
    "check": "vmwctl.cli.check:check",
    "cluster": "vmwctl.cli.cluster:cluster",
    "completion": "vmwctl.cli.completion:completion",
    "firewall": "vmwctl.cli.firewall:firewall",
    "image": "vmwctl.cli.image:image",
    "profile": "vmwctl.cli.profile:profile",
    "role": "vmwctl.cli.role:role",
    "vm": "vmwctl.cli.vm:vm",
}


def _prescan_output(args: Sequence[str]) -> str | None:
    """The -o value, read before click parses, so that parse errors honour -o json."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = None
        if arg in ("-o", "--output") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--output="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            value = arg[2:]
        if value in FORMATS:
            found = value
    return found


def _raise_terminated(_signum: int, _frame: Any) -> NoReturn:
    raise Terminated()


class RootGroup(LazyGroup):
    """The root group; its ``main`` maps every failure to one line and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        app = App()
        app.set_output(_prescan_output(argv) or "table")
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
        try:
            code = self._run(app, argv, prog_name or "vmwctl", complete_var, extra)
            code = app.write_metrics(code)
        finally:
            try:
                app.close()
            except (KeyboardInterrupt, Terminated):
                # Ctrl-C or SIGTERM while logging out at the end: the logout finished first
                # (VCenter.close holds them); the run's outcome stands.
                pass
            finally:
                if in_main_thread:
                    signal.signal(signal.SIGTERM, previous)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, app: App, argv: list[str], prog_name: str, complete_var: str | None,
             extra: dict[str, Any]) -> int:
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False,
                                  obj=app, **extra)
            return result if isinstance(result, int) else 0
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.UsageError as exc:
            if isinstance(exc, _NO_ARGS_IS_HELP) and exc.ctx is not None:
                app.out.stdout.write(exc.ctx.get_help() + "\n")
                return EXIT_USAGE
            message = " ".join(exc.format_message().split()).rstrip(".")  # one line
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            return _fail(app, message + hint, EXIT_USAGE)
        except click.ClickException as exc:
            return _fail(app, exc.format_message(), exc.exit_code)
        except VmwctlError as exc:
            _traceback(app)
            return _fail(app, exc.message, exc.exit_code)
        except (KeyboardInterrupt, click.Abort):
            return _fail(app, "interrupted", EXIT_SIGINT)
        except Terminated:
            return _fail(app, "terminated", EXIT_SIGTERM)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                return EXIT_FAILED
            _traceback(app)
            return _fail(app, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                         EXIT_FAILED)
        except Exception as exc:
            _traceback(app)
            fault = _vsphere_fault(exc)
            if fault is not None:
                return _fail(app, fault, EXIT_FAILED)
            hint = "" if app.verbosity else "; run with -v for the traceback"
            return _fail(app, f"internal error: {type(exc).__name__}: {exc}{hint}", EXIT_FAILED)


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _fail(app: App, message: str, code: int) -> int:
    with contextlib.suppress(OSError):
        app.out.error(message, code)
    return code


def _vsphere_fault(exc: BaseException) -> str | None:
    """A pyVmomi fault that reached here untranslated, as one line (pyVmomi's str() of a
    fault is a multi-line dump); None for other exceptions. The session raises faults as
    :mod:`vmwctl.vsphere.faults` classes (VmwctlError), so this is a safety net. Only
    commands that talk to vCenter import that module: it is looked up, not imported."""
    faults = sys.modules.get("vmwctl.vsphere.faults")
    if faults is None or not faults.is_fault(exc):
        return None
    return faults.translate(exc).message


def _traceback(app: App) -> None:
    if app.verbosity:
        app.out.stderr.write(redact(traceback.format_exc()))


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"vmwctl {__version__}")
        ctx.exit(0)


@click.group(
    "vmwctl", cls=RootGroup, lazy_commands=COMMANDS, no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    params=[
        *root_params(),
        click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_print_version, help="Print the version and exit."),
    ],
)
def cli() -> None:
    """The operator's toolkit for OpenStack Nova's VMware vCenter driver.

    \b
    Exit codes (every command):
      0    success
      1    the operation failed, a check failed, or a judged file is unsafe
      2    usage or configuration error
      3    cannot connect to or log in to the vCenter or image service
      130  interrupted (SIGINT), 143 terminated (SIGTERM)
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="vmwctl")
