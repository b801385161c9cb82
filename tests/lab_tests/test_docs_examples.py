"""Every vmwctl example of README.md and docs/*.md, run against the lab.

The pages use the lab's names (cluster DC0_C0, datastore LocalDS_0, port group
br-int, profile prod); tests/docblocks.py says how blocks are read. Each page
runs in a directory of its own holding the files its examples name
(ubuntu.qcow2, rescue.iso, nova.conf, in-use.txt, flavors.json, and textfile/ for
node_exporter's directory that the cron lines name), against a simulator of its own
(healthy scenario) and the lab's Glance, so that pages do not depend on each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from copy import deepcopy as copy_profile
from pathlib import Path

import isofiles
import pytest
import yaml
from docblocks import ROOT, commands, doc_pages
from helpers import delete_images, glance_clouds, write_profile

pytestmark = pytest.mark.lab

IMAGE = "ubuntu-22.04"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"  # node_exporter's, in the cron lines
CLOUD = "docs-glance"
BIN = Path(sys.executable).parent


class DocsLab:
    def __init__(self, sim, base: Path, glance_url: str) -> None:
        self.sim = sim
        self.base = base
        self.clouds = glance_clouds(base / "clouds.yaml", CLOUD, glance_url)
        self.config = write_profile(sim, base / "config.yaml", cloud=CLOUD, name="prod")
        # compute services, as the --profiles cron lines name them: one cluster each (the
        # simulator holds DC0_C0 .. DC0_C3), each with its own cache folder
        config = yaml.safe_load(self.config.read_text())
        for index, name in enumerate(("prod-a", "prod-b", "prod-c"), 1):
            copy = copy_profile(config["profiles"]["prod"])
            copy["vmware"]["cluster_name"] = f"DC0_C{index}"
            copy["vmware"]["cache_prefix"] = f"{name}-"  # services of one machine
            config["profiles"][name] = copy
        self.config.write_text(yaml.safe_dump(config))

    def env(self, work: Path) -> dict[str, str]:
        return {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(work),
                "VMWCTL_CONFIG": str(self.config), "OS_CLIENT_CONFIG_FILE": str(self.clouds),
                "XDG_STATE_HOME": str(self.base / "state"), "XDG_RUNTIME_DIR": str(work),
                "XDG_CONFIG_HOME": str(work / ".config"), "LANG": "C.UTF-8", "COLUMNS": "120",
                "TMPDIR": str(work)}

    def workdir(self, page: str) -> Path:
        """A directory with the files the examples name."""
        work = self.base / re.sub(r"\W", "_", page)
        work.mkdir()
        raw = work / "ubuntu.raw"
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "64M"], check=True)
        with raw.open("r+b") as f:
            f.seek(4 << 20)
            f.write(os.urandom(2 << 20))
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
                        str(work / "ubuntu.qcow2")], check=True)
        raw.unlink()
        lab = self.sim.lab
        password = Path(lab.password_file).read_text().strip()
        (work / "nova.conf").write_text(
            "[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\nmy_ip = 192.0.2.10\n"
            "reserved_host_memory_mb = 0\n\n[vmware]\n"
            f"host_ip = 127.0.0.1\nhost_port = {self.sim.port}\n"
            f"host_username = {self.sim.username}\nhost_password = {password}\n"
            f"ca_file = {lab.ca_file}\ncluster_name = DC0_C0\n"
            "vnc_port = 5900\nvnc_port_total = 206\n")  # the guide's VIB opens 5900-6105
        (work / "nova.conf").chmod(0o600)
        (work / "in-use.txt").write_text("")
        (work / "flavors.json").write_text(json.dumps([  # openstack flavor list --long -f json
            {"ID": "1", "Name": "m1.small", "RAM": 2048, "Disk": 20, "Ephemeral": 0,
             "VCPUs": 1, "Is Public": True, "Swap": "", "RXTX Factor": 1.0, "Properties": ""},
            {"ID": "2", "Name": "m1.large", "RAM": 8192, "Disk": 80, "Ephemeral": 0,
             "VCPUs": 4, "Is Public": True, "Swap": "", "RXTX Factor": 1.0,
             "Properties": ""}]))
        (work / "textfile").mkdir()  # the examples' TEXTFILE_DIR
        (work / "rescue.iso").write_bytes(isofiles.iso_image("RESCUE", os.urandom(1 << 20)))
        return work


@pytest.fixture
def docs_lab(simulator, private_glance: str, tmp_path) -> Iterator[DocsLab]:
    docs = DocsLab(simulator("-guest-tools", "0.5", "-cluster", "4"), tmp_path, private_glance)
    delete_images(docs.clouds, CLOUD)
    yield docs
    delete_images(docs.clouds, CLOUD)


def _pages() -> list[str]:
    """The pages with examples to run (tests/unit/test_docs.py checks the others)."""
    from docblocks import blocks

    return [str(p.relative_to(ROOT)) for p in doc_pages()
            if any(commands(b) for b in blocks(p))]


def _labels(lines: list[str]) -> set[str]:
    """The labels of key-value output ('Name   value')."""
    return {m.group(1) for line in lines if (m := re.match(r"^(\w[\w ()'.-]*?)\s{2,}\S", line))}


@pytest.mark.parametrize("page", _pages())
def test_page_examples_run(docs_lab: DocsLab, page: str) -> None:
    from docblocks import blocks

    examples = [c for b in blocks(ROOT / page) for c in commands(b)]
    text = (ROOT / page).read_text()
    work = docs_lab.workdir(page)
    env = docs_lab.env(work)
    if f"--name {IMAGE}" not in text:  # the page uses the image without uploading it
        run = subprocess.run(["vmwctl", "image", "upload", "ubuntu.qcow2", "--name", IMAGE,
                              "--convert", "--ostype", "ubuntu64Guest", "-q"], cwd=work,
                             env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    for example in examples:
        script = example.text.replace(TEXTFILE_DIR, str(work / "textfile"))
        result = subprocess.run(["/bin/sh", "-euc", script], cwd=work, env=env,
                                capture_output=True, text=True, timeout=600,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == example.exit_code, (
            f"{example.where}: {example.text}\nexit {result.returncode}, expected "
            f"{example.exit_code}\nstdout: {result.stdout[-2000:]}\nstderr: "
            f"{result.stderr[-2000:]}")
        assert "Traceback" not in result.stderr, f"{example.where}: {example.text}"
        shown = _labels(example.output)
        missing = shown - _labels(result.stdout.splitlines())
        assert not missing, f"{example.where}: {example.text}: output lacks {sorted(missing)}"


def test_automation_json_sample_has_the_keys_of_the_real_output(docs_lab: DocsLab) -> None:
    import json

    from docblocks import blocks

    [sample] = [json.loads(b.text) for b in blocks(ROOT / "docs" / "automation.md")
                if b.language == "json"]
    work = docs_lab.workdir("automation-json")
    result = subprocess.run(["vmwctl", "check", "prereqs", "--portgroup", "br-int", "-o", "json"],
                            cwd=work, env=docs_lab.env(work), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    real = json.loads(result.stdout)
    assert list(sample) == list(real)
    assert list(sample["summary"]) == list(real["summary"])
    real_ids = [c["id"] for c in real["checks"]]
    for check in sample["checks"]:
        assert list(check) == list(real["checks"][0])
        assert check["id"] in real_ids and check["status"] in ("pass", "warn", "fail", "skip")
