"""What option values complete to at a TAB: profile names and file names.

They read nothing but the config file, and never fail: whatever goes wrong,
they offer no candidates.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem


def _profiles(ctx: click.Context) -> tuple[list[str], str | None, dict[str, Any]]:
    """Names, default and raw profiles of the config file this command line would read.

    --config (given earlier on the line), else $VMWCTL_CONFIG, ./vmwctl.yaml or the XDG
    file, found by the same lookup every command uses. Any problem: no profiles.
    """
    try:
        from vmwctl.cli.app import App
        from vmwctl.profile.load import find_config_file, read_config_file

        app = ctx.find_object(App)
        explicit = app.config_option if app is not None else None
        env = app.env if app is not None else os.environ
        path = find_config_file(explicit, env)
        if path is None:
            return [], None, {}
        config = read_config_file(path)
        return config.profile_names, config.default_profile, config.profiles
    except Exception:  # completion offers nothing rather than an error
        return [], None, {}


def _item(name: str, value: str, default: str | None, raw: dict[str, Any]) -> CompletionItem:
    """A candidate; its help (zsh and fish show it) is the profile's vCenter."""
    from click.shell_completion import CompletionItem

    vmware = raw.get(name)
    vmware = vmware.get("vmware") if isinstance(vmware, dict) else None
    host = vmware.get("host_ip") if isinstance(vmware, dict) else None
    notes = [host] if isinstance(host, str) else []
    if name == default:
        notes.append("(default)")
    # one line and no commas: click's zsh script reads a line each, its fish one splits at commas
    return CompletionItem(value, help=" ".join(" ".join(notes).replace(",", " ").split()) or None)


def complete_profile_name(ctx: click.Context, _param: click.Parameter,
                          incomplete: str) -> list[CompletionItem]:
    """Shell completion of one profile name (-p/--profile, profile show NAME)."""
    names, default, raw = _profiles(ctx)
    return [_item(name, name, default, raw) for name in names if name.startswith(incomplete)]


def complete_profile_list(ctx: click.Context, _param: click.Parameter,
                          incomplete: str) -> list[CompletionItem]:
    """Shell completion of a comma-separated list of profile names: its last item."""
    head, comma, last = incomplete.rpartition(",")
    chosen = set(head.split(",")) if comma else set()
    names, default, raw = _profiles(ctx)
    return [_item(name, head + comma + name, default, raw) for name in names
            if name.startswith(last) and name not in chosen]


def complete_file(_ctx: click.Context, _param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    """Shell completion of a file name, by the shell itself (--config FILE)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file")]
