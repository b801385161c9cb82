"""Write docs/reference.md, the command reference, from the commands' --help texts.

Usage: .venv/bin/python docs/reference.py [--check]

With --check, nothing is written: exit 1 when docs/reference.md is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's vmwctl, whatever else is installed

import click  # noqa: E402

from vmwctl.cli.root import cli  # noqa: E402

REFERENCE = HERE / "reference.md"
WIDTH = 100

HEADER = """\
# Command reference

Generated from the commands' `--help` texts by `docs/reference.py`; a test
fails when this page and the commands differ (run
`.venv/bin/python docs/reference.py` after changing a command). The guides
to each command group are linked from [the index](index.md).
"""


def commands(group: click.Group, ctx: click.Context) -> Iterator[click.Context]:
    """Every command under ``group``, depth first, each with its own context."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=WIDTH,
                            max_content_width=WIDTH)
        yield sub
        if isinstance(command, click.Group):
            yield from commands(command, sub)


def reference() -> str:
    """The whole page."""
    root = click.Context(cli, info_name="vmwctl", terminal_width=WIDTH, max_content_width=WIDTH)
    contexts = [root, *commands(cli, root)]
    lines = [HEADER]
    lines.append("| command | what it does |\n|---|---|")
    for ctx in contexts[1:]:
        summary = ctx.command.get_short_help_str(limit=WIDTH)
        lines.append(f"| [`{ctx.command_path}`](#{anchor(ctx.command_path)}) | {summary} |")
    lines.append("")
    for ctx in contexts:
        lines.append(f"## {ctx.command_path}\n\n```text\n{ctx.get_help().rstrip()}\n```\n")
    return "\n".join(lines)


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the page is stale")
    args = parser.parse_args(argv)
    text = reference()
    if args.check:
        current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else None
        if current != text:
            print("stale: docs/reference.md (run .venv/bin/python docs/reference.py)",
                  file=sys.stderr)
            return 1
        return 0
    REFERENCE.write_text(text, encoding="utf-8")
    print("wrote docs/reference.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
