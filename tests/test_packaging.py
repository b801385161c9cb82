"""Packaging: the wheel and sdist `python -m build` makes, the wheel installed in a fresh
venv, and `pipx install` of the source directory.

Everything is built from a copy of the checkout's tracked (and untracked, not ignored) files,
so a working copy's lab state, venv, caches and build output can neither leak into the
artifacts nor be written to by the builds.
"""

from __future__ import annotations

import configparser
import email.parser
import email.policy
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import vmwctl

REPO = Path(__file__).resolve().parents[1]
VERSION = vmwctl.__version__
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# Directories whose every file the sdist carries (see MANIFEST.in), besides the package
SDIST_DIRS = ("vmwctl", "tests", "docs", "completions", "bench")
SDIST_TOP_FILES = {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "Makefile",
                   "MANIFEST.in"}
# What setuptools adds to every sdist
SDIST_GENERATED = {"PKG-INFO", "setup.cfg"}
# Without git (an unpacked sdist), the copy skips what .gitignore lists
UNTRACKED = (".git", ".lab", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
             ".hypothesis", "build", "dist", "results", "*.pyc")
TIMEOUT = 600


def run(*argv: str | Path, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without PYTHONPATH (the installs must stand on their own) and with byte
    code allowed (PYTHONDONTWRITEBYTECODE makes setuptools warn that it skips compiling)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def source_files() -> list[str]:
    """The checkout's files as git sees them (tracked, or new and not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted({name for name in listed.stdout.split("\0")
                   if name and (REPO / name).is_file()})


def copy_source(dest: Path) -> list[str]:
    """Copy the checkout's source files to ``dest``; return their relative paths."""
    names = source_files()
    if names:
        for name in names:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    else:
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*UNTRACKED),
                        dirs_exist_ok=True)
        names = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    return names


@dataclass
class Built:
    source: Path
    files: list[str]  # the source tree's files before the build
    wheel: Path
    sdist: Path
    log: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`python -m build`: the sdist, then the wheel built from the unpacked sdist."""
    source = tmp_path_factory.mktemp("source")
    files = copy_source(source)
    out = tmp_path_factory.mktemp("dist")
    done = run(sys.executable, "-m", "build", "--outdir", out, source, env=clean_env())
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"vmwctl-{VERSION}-py3-none-any.whl"]
    assert [s.name for s in sdists] == [f"vmwctl-{VERSION}.tar.gz"]
    return Built(source, files, wheels[0], sdists[0], done.stdout + done.stderr)


def wheel_text(built: Built, name: str) -> str:
    with zipfile.ZipFile(built.wheel) as wheel:
        return wheel.read(f"vmwctl-{VERSION}.dist-info/{name}").decode()


def metadata(text: str) -> Message:
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def test_the_build_warns_of_nothing(built: Built) -> None:
    complaints = [line for line in built.log.splitlines()
                  if any(word in line.lower() for word in ("warning", "deprecat", "!!"))]
    assert complaints == []
    assert f"Successfully built vmwctl-{VERSION}.tar.gz and vmwctl-{VERSION}-py3-none-any.whl" \
        in built.log


def test_the_wheel_holds_the_package_and_its_metadata_only(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
    dist_info = f"vmwctl-{VERSION}.dist-info/"
    package = {n for n in names if n.startswith("vmwctl/")}
    assert set(names) - package == {dist_info + n for n in (
        "METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE")}
    # every module of the source, nothing else: no byte code, egg-info or data files
    modules = {n for n in built.files if n.startswith("vmwctl/") and n.endswith(".py")}
    assert package == modules
    assert len(package) > 50
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    assert wheel_text(built, "top_level.txt").split() == ["vmwctl"]
    assert "Root-Is-Purelib: true" in wheel_text(built, "WHEEL")


def test_the_wheel_metadata(built: Built) -> None:
    meta = metadata(wheel_text(built, "METADATA"))
    project = PYPROJECT["project"]
    assert meta["Name"] == "vmwctl"
    assert meta["Version"] == VERSION == "0.1.0"
    assert tuple(map(int, meta["Metadata-Version"].split("."))) >= (2, 4)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["License"] is None  # the SPDX expression replaces the free-text field
    assert meta["Summary"] == project["description"]
    assert "\n" not in meta["Summary"] and "VMware vCenter driver" in meta["Summary"]
    assert meta["Author"] == "vmwctl developers"
    assert "vcenter" in meta["Keywords"].split(",")
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (REPO / "README.md").read_text().strip()

    classifiers = meta.get_all("Classifier")
    assert classifiers == project["classifiers"]
    for wanted in ("Development Status :: 3 - Alpha", "Environment :: Console",
                   "Intended Audience :: System Administrators",
                   "Operating System :: POSIX :: Linux",
                   "Programming Language :: Python :: 3 :: Only",
                   "Programming Language :: Python :: 3.11",
                   "Programming Language :: Python :: 3.12",
                   "Programming Language :: Python :: 3.13",
                   "Topic :: System :: Systems Administration"):
        assert wanted in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639 forbids them

    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    base = {canonicalize_name(r.name) for r in requires if r.marker is None}
    assert base == {"click", "pyvmomi", "rich", "sh", "pyyaml", "isal", "deflate",
                    "cryptography"}
    assert base == {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = meta.get_all("Provides-Extra")
    assert extras == list(project["optional-dependencies"]) == ["glance", "all", "test"]
    for extra in ("glance", "all", "test"):
        assert "openstacksdk" in {canonicalize_name(r.name) for r in requires
                                  if r.marker is not None and r.marker.evaluate({"extra": extra})}
    test_extra = {canonicalize_name(r.name) for r in requires
                  if r.marker is not None and r.marker.evaluate({"extra": "test"})}
    assert {"pytest", "build", "pipx"} <= test_extra
    assert not test_extra & base


def test_the_license_is_the_full_apache_text(built: Built) -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert wheel_text(built, "licenses/LICENSE") == license_text
    assert "Apache License\n                           Version 2.0, January 2004" in license_text
    for section in ("1. Definitions.", "4. Redistribution.", "9. Accepting Warranty",
                    "END OF TERMS AND CONDITIONS", "APPENDIX: How to apply"):
        assert section in license_text
    assert len(license_text.splitlines()) == 202


def test_the_wheel_entry_point(built: Built) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel_text(built, "entry_points.txt"))
    assert entry_points.sections() == ["console_scripts"]
    assert dict(entry_points["console_scripts"]) == {"vmwctl": "vmwctl.cli.root:main"}
    assert PYPROJECT["project"]["scripts"] == {"vmwctl": "vmwctl.cli.root:main"}


def test_the_sdist_holds_the_source_and_no_working_copy_state(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        members = [m for m in sdist.getmembers() if m.isfile()]
        top = {PurePosixPath(m.name).parts[0] for m in members}
        assert top == {f"vmwctl-{VERSION}"}
        names = {str(PurePosixPath(*PurePosixPath(m.name).parts[1:])) for m in members}
        pkg_info = sdist.extractfile(f"vmwctl-{VERSION}/PKG-INFO").read().decode()
        pyproject = sdist.extractfile(f"vmwctl-{VERSION}/pyproject.toml").read().decode()
        sizes = sum(m.size for m in members)

    for needed in ("pyproject.toml", "README.md", "LICENSE", "vmwctl/__init__.py",
                   "vmwctl/cli/root.py", "MANIFEST.in"):
        assert needed in names
    egg_info = {n for n in names if n.startswith("vmwctl.egg-info/")}
    expected = {n for n in built.files
                if n in SDIST_TOP_FILES or n.split("/")[0] in SDIST_DIRS}
    assert not {n for n in expected if n.startswith("bench/results/")}
    # exactly the source files of those directories: none missing, nothing else
    assert names - egg_info - SDIST_GENERATED == expected
    assert not [n for n in names if n.startswith((".lab/", ".venv/", ".git/", "build/",
                                                  "dist/", "bench/results/"))
                or "__pycache__" in n or n.endswith(".pyc")]
    assert sizes < 5_000_000
    assert metadata(pkg_info)["Version"] == VERSION
    assert pyproject == (REPO / "pyproject.toml").read_text()


def test_the_wheel_installs_and_its_command_runs(built: Built, tmp_path: Path) -> None:
    """A fresh venv gets the wheel alone; the dependencies come from this test's environment
    through a .pth line (a plain path: the editable vmwctl of that environment stays out)."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--no-compile", "--quiet", built.wheel, env=clean_env())
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "vmwctl-test-deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))

    env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    where = run(python, "-c", "import vmwctl, importlib.metadata as m; "
                "print(vmwctl.__file__); print(m.version('vmwctl'))", env=env, cwd=tmp_path)
    assert where.stdout.splitlines() == [str(site / "vmwctl" / "__init__.py"), VERSION]
    script = venv / "bin" / "vmwctl"
    assert script.read_text().startswith(f"#!{python}")
    assert shutil.which("vmwctl", path=env["PATH"]) == str(script)

    version = run("vmwctl", "--version", env=env, cwd=tmp_path)
    assert version.stdout == f"vmwctl {VERSION}\n"
    usage = run("vmwctl", "--help", env=env, cwd=tmp_path)
    assert usage.stdout.startswith("Usage: vmwctl")
    for group in ("about", "profile", "check", "cluster", "image", "cache", "firewall", "vm"):
        assert f"\n  {group} " in usage.stdout


def test_pipx_installs_the_source_directory(tmp_path: Path) -> None:
    """`pipx install DIR` with its dependencies (from pip's cache once they were fetched)."""
    source = tmp_path / "source"
    copy_source(source)
    pipx = tmp_path / "pipx"
    env = clean_env(PIPX_HOME=str(pipx / "home"), PIPX_BIN_DIR=str(pipx / "bin"),
                    PIPX_MAN_DIR=str(pipx / "man"), USE_EMOJI="0")
    run(sys.executable, "-m", "pipx", "install", source.resolve(), env=env, cwd=tmp_path)

    version = run(pipx / "bin" / "vmwctl", "--version", env=env, cwd=tmp_path)
    assert version.stdout == f"vmwctl {VERSION}\n"
    listed = json.loads(run(sys.executable, "-m", "pipx", "list", "--json", env=env).stdout)
    package = listed["venvs"]["vmwctl"]["metadata"]["main_package"]
    assert (package["package"], package["package_version"], package["apps"]) == \
        ("vmwctl", VERSION, ["vmwctl"])
    # the dependencies came with it: every module they give vmwctl imports in pipx's venv
    venv_python = pipx / "home" / "venvs" / "vmwctl" / "bin" / "python"
    imports = run(venv_python, "-c", "import click, pyVmomi, rich, sh, yaml, isal, deflate, "
                  "cryptography, vmwctl; print(vmwctl.__file__)", env=env, cwd=tmp_path)
    assert imports.stdout.startswith(str(pipx / "home" / "venvs" / "vmwctl" / "lib"))
    # without the glance extra: no openstacksdk, and the image commands say how to add it
    missing = subprocess.run([venv_python, "-c", "import openstack"], capture_output=True)
    assert missing.returncode == 1
    config = tmp_path / "vmwctl.yaml"
    config.write_text("profiles:\n  p:\n    vmware: {host_ip: 127.0.0.1, host_username: u}\n"
                      "    openstack: {cloud: c}\n")
    config.chmod(0o600)
    listing = subprocess.run([pipx / "bin" / "vmwctl", "image", "list"], env=env, cwd=tmp_path,
                             capture_output=True, text=True)
    assert listing.returncode == 2
    assert "pip install 'vmwctl[glance]'" in listing.stderr
