"""Write vmwctl's shell completion scripts into this directory.

Usage: .venv/bin/python completions/generate.py [--check]

The scripts are what ``vmwctl completion bash|zsh|fish`` prints. With --check,
nothing is written: exit 1 and list the files that are missing or stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's vmwctl, whatever else is installed

from vmwctl.cli.completion import SCRIPT_FILES, completion_script  # noqa: E402


def expected() -> dict[Path, str]:
    """Each committed file and the text it should hold."""
    return {HERE / name: completion_script(shell) for shell, name in SCRIPT_FILES.items()}


def stale_files() -> list[Path]:
    """The committed files that are missing or differ from what would be generated."""
    stale = []
    for path, text in expected().items():
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing missing or stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(HERE.parent)} "
                  "(run .venv/bin/python completions/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
