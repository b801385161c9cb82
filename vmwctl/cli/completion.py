"""``vmwctl completion``: shell completion scripts, and the values options complete to.

The scripts are click's own: at each TAB the shell runs ``vmwctl`` with
``_VMWCTL_COMPLETE`` set, and click answers from the command tree. The value
completers here read nothing but the config file, and never fail: whatever
goes wrong, they offer no candidates.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "vmwctl"
COMPLETE_VAR = "_VMWCTL_COMPLETE"
# the file each script is committed as, in completions/ (zsh wants _vmwctl on $fpath)
SCRIPT_FILES = {"bash": "vmwctl.bash", "zsh": "_vmwctl", "fish": "vmwctl.fish"}


def completion_script(shell: str) -> str:
    """The completion script for ``shell``, as click generates it for vmwctl."""
    from click.shell_completion import get_completion_class

    from vmwctl.cli.root import cli

    complete_class = get_completion_class(shell)
    if complete_class is None:
        raise ValueError(f"no completion for shell {shell!r}")
    source = complete_class(cli, {}, PROG_NAME, COMPLETE_VAR).source()
    return source if source.endswith("\n") else source + "\n"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    It completes commands, options, profile names (from the config file the
    command line would read) and Nova's values such as --ostype. It asks vmwctl
    at each TAB, offline, so it keeps up with upgrades. Install it once:

    \b
      bash  vmwctl completion bash > ~/.local/share/bash-completion/completions/vmwctl
      zsh   vmwctl completion zsh > ~/.zfunc/_vmwctl
            (any directory on $fpath, before compinit runs; the file must be _vmwctl)
      fish  vmwctl completion fish > ~/.config/fish/completions/vmwctl.fish

    Then start a new shell. The same scripts are committed in the source tree's
    completions/ directory.
    """
    click.echo(completion_script(shell), nl=False)


# ---------------------------------------------------------------- values

def _profiles(ctx: click.Context) -> tuple[list[str], str | None, dict[str, Any]]:
    """Names, default and raw profiles of the config file this command line would read.

    --config (given earlier on the line), else $VMWCTL_CONFIG, ./vmwctl.yaml or the XDG
    file, found by the same lookup every command uses. Any problem: no profiles.
    """
    try:
        from vmwctl.cli.app import App
        from vmwctl.config import find_config_file, read_config_file

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
