"""Helpers for tests: running vmwctl and writing config files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from vmwctl.cli.root import cli


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_vmwctl(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run vmwctl in-process through click's CliRunner, as a user would from a shell."""
    result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path
