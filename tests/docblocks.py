"""The fenced blocks of the Markdown docs, and what the doc tests make of them.

A block's kind comes from its language and from an HTML comment on the line
just before its fence:

- ``sh``: each line is a command, run in order (``(exit N)`` in a line's
  comment is the exit status it should give; 0 otherwise);
- ``sh`` after ``<!-- example: script -->``: the block is one shell script;
- ``sh`` after ``<!-- example: setup -->``: the README's set-up commands, which
  tests/lab_tests/test_readme_setup.py runs in a copy of the repository;
- ``console``: ``$ `` lines are commands, the lines under them their output;
- ``yaml`` after ``<!-- example: ci-job -->``: a CI job whose ``script`` runs;
- ``crontab``: the command of each entry runs;
- anything after ``<!-- not run: REASON -->`` is not run (and holds no vmwctl);
- ``text`` blocks that start with ``vmwctl`` are synopses, checked against the
  commands' options; other languages are not examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*(example:\s*(?P<mode>[\w-]+)|not run:\s*(?P<why>.+?))\s*-->\s*$")
EXIT = re.compile(r"\(exit (\d+)\)")


@dataclass
class Block:
    page: str
    line: int  # of the opening fence, from 1
    language: str
    text: str
    mode: str | None  # from <!-- example: MODE -->
    not_run: str | None  # the reason, from <!-- not run: REASON -->

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Command:
    where: str
    text: str
    exit_code: int
    output: list[str]  # shown under a console command


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        body = []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        marker = MARKER.match(lines[start - 1]) if start else None
        found.append(Block(str(path.relative_to(ROOT)), start + 1, match.group(1),
                           "\n".join(body), marker.group("mode") if marker else None,
                           marker.group("why") if marker else None))
        i += 1
    return found


def _shell_lines(text: str) -> list[str]:
    """The commands of a sh block: continuation lines joined, blanks and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            joined.append(line.strip())
    return joined


def commands(block: Block) -> list[Command]:
    """The commands a block's example runs, in order (none for blocks that are not run)."""
    if block.not_run or block.mode == "setup":
        return []
    if block.language == "sh" and block.mode == "script":
        return [Command(block.where, block.text, 0, [])]
    if block.language == "sh":
        return [Command(block.where, line, _exit(line), []) for line in _shell_lines(block.text)]
    if block.language == "console":
        found: list[Command] = []
        for line in block.text.splitlines():
            if line.startswith("$ "):
                found.append(Command(block.where, line[2:], _exit(line), []))
            elif found:
                found[-1].output.append(line)
        return found
    if block.language == "crontab":
        entries = [line for line in block.text.splitlines()  # not comments nor VAR=value
                   if line.strip() and not line.lstrip().startswith("#")
                   and "=" not in line.split(None, 1)[0]]
        return [Command(block.where, entry.split(None, 5)[5], 0, []) for entry in entries]
    if block.language == "yaml" and block.mode == "ci-job":
        import yaml

        jobs = yaml.safe_load(block.text)
        return [Command(block.where, "\n".join(job["script"]), 0, [])
                for job in jobs.values() if isinstance(job, dict) and "script" in job]
    return []


def _exit(line: str) -> int:
    match = EXIT.search(line.split("#", 1)[1]) if "#" in line else None
    return int(match.group(1)) if match else 0


def mentions_vmwctl(block: Block) -> bool:
    """Whether a block runs vmwctl somewhere (a command line, not prose)."""
    return any(re.match(r"^(\$ |\d+\s.*\s)?vmwctl\s", line.strip()) or " vmwctl " in line
               for line in block.text.splitlines() if not line.lstrip().startswith("#"))


def doc_pages() -> list[Path]:
    """The pages whose examples run: README.md and docs/*.md, but not the generated reference."""
    return [ROOT / "README.md",
            *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "reference.md")]
