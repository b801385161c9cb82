"""A click group that imports a command's module only when the command is used.

Every command also receives the shared options ``-o/--output``, ``-v`` and
``-q`` here, so that they work after the command name as well as before it
(``vmwctl check prereqs -o json`` is ``vmwctl -o json check prereqs``).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from vmwctl.cli.output import FORMATS


def _app(ctx: click.Context) -> Any:
    from vmwctl.cli.app import App

    return ctx.find_object(App)


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None and _app(ctx) is not None:
        _app(ctx).set_output(value)


def _add_verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value and _app(ctx) is not None:
        _app(ctx).add_verbosity(value)


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and _app(ctx) is not None:
        _app(ctx).set_quiet(True)


def output_params() -> list[click.Option]:
    """The options every command accepts, before or after its name."""
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
                and not getattr(command, "_vmwctl_output_params", False):
            command.params.extend(output_params())
            command._vmwctl_output_params = True  # type: ignore[attr-defined]
        return command


def lazy_group(name: str, commands: dict[str, str], **kwargs: Any) -> Any:
    """Decorator for a lazily loaded command group."""
    return click.group(name, cls=LazyGroup, lazy_commands=commands, **kwargs)
