"""``vmwctl completion``: shell completion scripts, and the values options complete to.

The scripts are click's own: at each TAB the shell runs ``vmwctl`` with
``_VMWCTL_COMPLETE`` set, and click answers from the command tree (the value
completers of options are in :mod:`vmwctl.cli.completers`).
"""

from __future__ import annotations

import click

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
