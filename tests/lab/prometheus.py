"""Prometheus's tools for the tests of ``--metrics-file``: promtool and node_exporter from
Debian 12's packages, and a reader of the text exposition format.

The packages are fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into
``~/.cache/vmwctl-lab/prometheus-debian12/`` once per machine, under the cache's lock
(as labctl builds its caches): nothing is installed, no service starts. Tests start a
node_exporter of their own on 127.0.0.1 and a free port, with the textfile collector alone
(``--collector.disable-defaults --collector.textfile``) reading a directory of theirs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import labctl

PACKAGES = ("prometheus", "prometheus-node-exporter")  # Debian 12: promtool is in prometheus
BINARIES = ("promtool", "prometheus-node-exporter")


def tools_dir() -> Path:
    return labctl.cache_dir() / "prometheus-debian12"


def _download(directory: Path) -> None:
    """The packages' .deb files into ``directory``; apt's lists refreshed once if they do
    not know the packages yet (a fresh machine or container)."""
    def download() -> subprocess.CompletedProcess:
        return subprocess.run(["apt-get", "download", "-q", *PACKAGES], cwd=directory,
                              capture_output=True, text=True, check=False)

    done = download()
    if done.returncode != 0:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        subprocess.run([*sudo, "apt-get", "update", "-q"], check=True,
                       stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        done = download()
    if done.returncode != 0:
        raise RuntimeError(f"apt-get download {' '.join(PACKAGES)} failed: "
                           f"{done.stderr.strip()[-500:]}")


def install() -> Path:
    """promtool and node_exporter, unpacked once per machine: the directory of their
    binaries (``bin/``)."""
    target = tools_dir()
    with labctl._cache_lock(target):
        if (target / ".complete").exists():
            return target / "bin"
        labctl.log("unpacking promtool and node_exporter from Debian's packages (once per "
                   "machine)")
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".prometheus-") as work:
            debs = Path(work) / "debs"
            debs.mkdir()
            _download(debs)
            tree = Path(work) / "tree"
            for deb in sorted(debs.glob("*.deb")):
                subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
            (target / "bin").mkdir(parents=True)
            for name in BINARIES:
                shutil.copy2(tree / "usr" / "bin" / name, target / "bin" / name)
            versions = [" ".join(subprocess.run(
                ["dpkg-deb", "-f", str(deb), "Package", "Version"], capture_output=True,
                text=True, check=True).stdout.split()) for deb in sorted(debs.glob("*.deb"))]
            (target / "versions.txt").write_text("\n".join(versions) + "\n")
        (target / ".complete").touch()
    return target / "bin"


@dataclass
class Tools:
    """The unpacked tools (the session fixture ``prometheus`` in tests/conftest.py)."""

    bin: Path

    @property
    def promtool(self) -> Path:
        return self.bin / "promtool"

    def check_metrics(self, text: str) -> subprocess.CompletedProcess:
        """``promtool check metrics``: the exposition's format and Prometheus's naming
        rules (exit 0 when clean; its findings on stdout or stderr)."""
        return subprocess.run([str(self.promtool), "check", "metrics"], input=text,
                              capture_output=True, text=True, timeout=60, check=False)

    def check_rules(self, path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.promtool), "check", "rules", str(path)],
                              capture_output=True, text=True, timeout=60, check=False)

    def test_rules(self, path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.promtool), "test", "rules", str(path)],
                              capture_output=True, text=True, timeout=120, check=False,
                              cwd=path.parent)

    @contextlib.contextmanager
    def node_exporter(self, textfile_dir: Path, log_dir: Path) -> Iterator[NodeExporter]:
        """A node_exporter on 127.0.0.1 and a free port, with only the textfile collector,
        reading ``textfile_dir``; stopped on exit."""
        port = labctl._free_port()
        argv = [str(self.bin / "prometheus-node-exporter"),
                f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                "--collector.textfile", f"--collector.textfile.directory={textfile_dir}"]
        log = log_dir / f"node-exporter-{port}.log"
        process = labctl._spawn(argv, log, tie_to_parent=True)
        exporter = NodeExporter(f"http://127.0.0.1:{port}/metrics", log)
        try:
            exporter.wait(process)
            yield exporter
        finally:
            labctl.stop_process(process.pid)
            with contextlib.suppress(ChildProcessError):
                process.wait(timeout=15)


@dataclass
class NodeExporter:
    url: str
    log: Path

    def wait(self, process: subprocess.Popen, limit: float = 30) -> None:
        """Until it answers (the limit is for a dead or stuck process, not a measurement)."""
        deadline = time.monotonic() + limit
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"node_exporter exited {process.returncode}: "
                                   f"{self.log.read_text()[-1000:]}")
            with contextlib.suppress(OSError):
                self.text()
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"node_exporter does not answer at {self.url}")
            time.sleep(0.1)

    def text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as answer:
            return answer.read().decode()

    def scrape(self) -> Exposition:
        return parse(self.text())


# ------------------------------------------------------------------ reading the format

SAMPLE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?"
                    r" (?P<value>\S+)(?: -?\d+)?\Z")
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|\Z)')
COMMENT = re.compile(r"# (?P<what>HELP|TYPE) (?P<name>\S+) ?(?P<text>.*)\Z")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


@dataclass
class Exposition:
    """The samples of a scrape (name, labels, value) and each family's HELP and TYPE."""

    samples: list[tuple[str, dict[str, str], float]]
    help: dict[str, str]
    type: dict[str, str]

    def values(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(labels, value) for n, labels, value in self.samples if n == name]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of ``name`` whose labels include ``labels``."""
        [found] = [v for sample_labels, v in self.values(name)
                   if labels.items() <= sample_labels.items()]
        return found


def parse(text: str) -> Exposition:
    """The text exposition format, read strictly: a line neither comment nor sample fails."""
    samples: list[tuple[str, dict[str, str], float]] = []
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end with a line feed")
    for line in text[:-1].split("\n"):  # lines end with \n alone (\r is a label's character)
        if line.startswith("#"):
            comment = COMMENT.match(line)
            if comment and comment.group("what") == "HELP":
                helps[comment.group("name")] = _unescape(comment.group("text"))
            elif comment:
                types[comment.group("name")] = comment.group("text")
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a sample: {line!r}")
        labels: dict[str, str] = {}
        rest = match.group("labels") or ""
        while rest:
            pair = PAIR.match(rest)
            if not pair:
                raise ValueError(f"bad labels: {line!r}")
            labels[pair.group(1)] = _unescape(pair.group(2))
            rest = rest[pair.end():]
        samples.append((match.group("name"), labels, float(match.group("value"))))
    return Exposition(samples, helps, types)
