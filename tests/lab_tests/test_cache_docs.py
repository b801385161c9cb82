"""docs/cache.md's crontab line, run as cron would run it."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import write_profile

pytestmark = pytest.mark.lab

DOC = Path(__file__).parents[2] / "docs" / "cache.md"


def crontab_entry() -> tuple[list[str], str]:
    """The schedule fields and the command of the documented crontab line."""
    block = DOC.read_text().split("<!-- crontab -->", 1)[1].split("```crontab", 1)[1]
    lines = [line for line in block.split("```", 1)[0].splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1, lines
    fields = lines[0].split(None, 5)
    return fields[:5], fields[5]


def test_documented_crontab_line_runs_quietly(simulator, tmp_path: Path) -> None:
    schedule, command = crontab_entry()
    pattern = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
    assert all(pattern.match(field) for field in schedule), schedule
    assert command.startswith("vmwctl ")

    sim = simulator()
    path = write_profile(sim, tmp_path / "config.yaml", name="prod")
    image = Path(sim.datastores["LocalDS_0"]) / "192.0.2.10_base" / str(uuid.uuid4())
    image.mkdir(parents=True)
    (image / f"{image.name}.vmdk").write_text("descriptor")

    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "VMWCTL_CONFIG": str(path), "XDG_RUNTIME_DIR": str(tmp_path), "LANG": "C"}
    result = subprocess.run(["/bin/sh", "-c", command], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert [p.name[:3] for p in image.iterdir() if p.is_dir()] == ["ts-"]  # marked
