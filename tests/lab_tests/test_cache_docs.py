"""docs/cache.md's crontab line, run as cron would run it."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

DOC = Path(__file__).parents[2] / "docs" / "cache.md"


def crontab_entries() -> list[tuple[list[str], str]]:
    """The schedule fields and the command of each documented crontab line."""
    entries = []
    for part in DOC.read_text().split("<!-- crontab -->")[1:]:
        block = part.split("```crontab", 1)[1]
        lines = [line for line in block.split("```", 1)[0].splitlines()
                 if line.strip() and not line.startswith("#")]
        assert len(lines) == 1, lines
        fields = lines[0].split(None, 5)
        entries.append((fields[:5], fields[5]))
    return entries


@pytest.mark.parametrize("index", [0, 1], ids=["one profile", "--profiles"])
def test_documented_crontab_line_runs_quietly(simulator, tmp_path: Path, index: int) -> None:
    """Each line as cron runs it, on a config file with the profiles it names (prod; prod-a
    and prod-b on two vCenters): every profile's unmarked image is marked, nothing printed."""
    entries = crontab_entries()
    assert len(entries) == 2
    schedule, command = entries[index]
    pattern = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
    assert all(pattern.match(field) for field in schedule), schedule
    assert command.startswith("vmwctl ")

    sims = {"prod": simulator()}
    if "--profiles" in command:
        sims = {"prod-a": sims["prod"], "prod-b": simulator()}
    profiles = {name: yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
                for name, sim in sims.items()}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    path.chmod(0o600)
    images = []
    for sim in sims.values():
        image = Path(sim.datastores["LocalDS_0"]) / "192.0.2.10_base" / str(uuid.uuid4())
        image.mkdir(parents=True)
        (image / f"{image.name}.vmdk").write_text("descriptor")
        images.append(image)

    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "VMWCTL_CONFIG": str(path), "XDG_RUNTIME_DIR": str(tmp_path), "LANG": "C"}
    result = subprocess.run(["/bin/sh", "-c", command], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    for image in images:
        assert [p.name[:3] for p in image.iterdir() if p.is_dir()] == ["ts-"]  # marked
