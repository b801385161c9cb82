"""A click group that imports a command's module only when the command is used.

Every command also receives the root's options here (``--config``,
``-p/--profile``, ``-o/--output``, ``-v``, ``-q``, ``--no-color``,
``--insecure``), so that they work after the command name as well as before
it (``vmwctl about -p lab`` is ``vmwctl -p lab about``; given twice, the later
one wins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import click

from vmwctl.cli.completers import complete_file, complete_profile_name
from vmwctl.cli.options import refuse_empty
from vmwctl.cli.output import FORMATS
from vmwctl.common.choices import did_you_mean


def _app(ctx: click.Context) -> Any:
    from vmwctl.cli.app import App

    return ctx.ensure_object(App)


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _app(ctx).set_output(value)


def _add_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        _app(ctx).add_verbosity(value)


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _app(ctx).set_quiet(True)


def _set_no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _app(ctx).out.no_color = True


def _set_name(attribute: str, what: str, instead: str
              ) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        refuse_empty(ctx, param, value, what, instead)
        if value is not None:
            setattr(_app(ctx), attribute, value)

    return callback


def _set_insecure(ctx: click.Context, _param: click.Parameter, value: bool | None) -> None:
    if value:
        _app(ctx).insecure_option = True


def output_params() -> list[click.Option]:
    """The output options, before or after a command's name."""
    return [
        click.Option(["-o", "--output"], type=click.Choice(FORMATS), default=None,
                     expose_value=False, is_eager=True, callback=_set_output,
                     help="Output format: table (default), json or yaml."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, is_eager=True,
                     callback=_add_verbosity,
                     help="More detail on stderr (-vv for debug); tracebacks on errors."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_quiet, help="Print nothing but errors (and the -o document)."),
    ]


def root_params() -> list[click.Option]:
    """The root's options, which every command accepts before or after its name."""
    return [
        click.Option(["--config"], metavar="FILE", expose_value=False, is_eager=True,
                     callback=_set_name("config_option", "a config file",
                                        "for $VMWCTL_CONFIG, ./vmwctl.yaml or "
                                        "~/.config/vmwctl/config.yaml"),
                     shell_complete=complete_file,
                     help="Config file (default: $VMWCTL_CONFIG, ./vmwctl.yaml, "
                          "~/.config/vmwctl/config.yaml)."),
        click.Option(["-p", "--profile"], metavar="NAME", expose_value=False, is_eager=True,
                     callback=_set_name("profile_option", "a profile ('vmwctl profile list' "
                                        "shows them)", "for the default one"),
                     shell_complete=complete_profile_name,
                     help="Profile to use (default: $VMWCTL_PROFILE, default_profile, "
                          "or the only one)."),
        *output_params(),
        click.Option(["--no-color"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_no_color, help="No colour (NO_COLOR is honoured too)."),
        click.Option(["--insecure"], is_flag=True, default=None, expose_value=False,
                     is_eager=True, callback=_set_insecure,
                     help="Do not verify the vCenter's TLS certificate."),
    ]


def _import(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class LazyGroup(click.Group):
    """A group whose commands are named here and imported on use."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            command = _import(self.lazy_commands[cmd_name])
        else:
            command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, click.Group) \
                and not getattr(command, "_vmwctl_root_params", False):
            command.params.extend(root_params())
            command._vmwctl_root_params = True  # type: ignore[attr-defined]
        return command

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """click's lookup, with a "did you mean" (or the list) for a name that is none."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            name = args[0] if args else ""
            if not name or name.startswith("-") or self.get_command(ctx, name) is not None:
                raise
            commands = self.list_commands(ctx)
            hint = did_you_mean(name, commands) or f"; commands: {', '.join(commands)}"
            raise click.UsageError(f"No such command {name!r}{hint}", ctx) from None


def lazy_group(name: str, commands: dict[str, str], **kwargs: Any) -> Any:
    """Decorator for a lazily loaded command group."""
    return click.group(name, cls=LazyGroup, lazy_commands=commands, **kwargs)
