"""The docs against the commands: the generated reference is current, synopses name real
options, every example block is either run by the lab test or says why not."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from docblocks import ROOT, blocks, commands, doc_pages, mentions_vmwctl

from vmwctl.cli.root import cli

DOCS = ROOT / "docs"


def test_reference_is_current() -> None:
    result = subprocess.run([sys.executable, str(DOCS / "reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_reference_check_notices_a_stale_page(tmp_path, monkeypatch) -> None:
    sys.path.insert(0, str(DOCS))
    try:
        import reference
    finally:
        sys.path.remove(str(DOCS))
    stale = tmp_path / "reference.md"
    stale.write_text(reference.reference().replace("Usage: vmwctl image upload",
                                                   "Usage: vmwctl image upload-old"))
    monkeypatch.setattr(reference, "REFERENCE", stale)
    assert reference.main(["--check"]) == 1
    assert reference.main([]) == 0
    assert reference.main(["--check"]) == 0


def _command(path: list[str]) -> click.Command:
    ctx = click.Context(cli, info_name="vmwctl")
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group), path
        found = command.get_command(ctx, name)
        if found is None:
            break
        command = found
    return command


def _synopses() -> list[tuple[str, str]]:
    return [(b.where, b.text) for p in doc_pages() for b in blocks(p)
            if b.language == "text" and b.text.startswith("vmwctl ")]


@pytest.mark.parametrize(("where", "text"), _synopses(), ids=[w for w, _ in _synopses()])
def test_synopsis_names_real_options(where: str, text: str) -> None:
    for line in re.split(r"\n(?=vmwctl )", text):
        words = line.split()[1:]
        path = [w for w in words[:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
        command = _command(path)
        known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        named = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line))
        assert named <= known, f"{where}: {sorted(named - known)} not options of {path}"


def test_blocks_that_do_not_run_hold_no_vmwctl_command() -> None:
    for page in doc_pages():
        for block in blocks(page):
            if block.not_run:
                assert not mentions_vmwctl(block), f"{block.where} is not run but runs vmwctl"


def test_every_shell_block_runs_or_says_why_not() -> None:
    for page in doc_pages():
        for block in blocks(page):
            if block.language in ("sh", "console", "crontab"):
                assert block.not_run or block.mode == "setup" or commands(block), block.where


def test_index_links_every_page_and_group() -> None:
    index = (DOCS / "index.md").read_text()
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    linked = set(re.findall(r"\]\(([\w-]+\.md)", index))
    assert pages <= linked, sorted(pages - linked)
    ctx = click.Context(cli, info_name="vmwctl")
    for group in cli.list_commands(ctx):
        assert f"`{group}" in index, group


def test_architecture_names_only_what_exists() -> None:
    """The packages, modules and files the architecture page and CONTRIBUTING.md name."""
    for page in (DOCS / "architecture.md", ROOT / "CONTRIBUTING.md"):
        text = page.read_text()
        for path in set(re.findall(r"\b(?:vmwctl|tests|bench|docs)/[\w/.-]*\w", text)):
            assert (ROOT / path).exists() or (ROOT / (path + ".py")).exists(), \
                f"{page.name} names {path}, which does not exist"
        for dotted in set(re.findall(r"(?<![\w/.-])vmwctl(?:\.\w+)+", text)):
            if dotted.rsplit(".", 1)[-1] in ("yaml", "py", "md", "bash", "fish"):
                continue  # a file name, not a module
            relative = Path(*dotted.split("."))
            assert (ROOT / relative).is_dir() or (ROOT / relative).with_suffix(".py").exists(), \
                f"{page.name} names {dotted}, which does not exist"
