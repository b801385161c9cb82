"""Coverage-guided fuzzing with atheris (libFuzzer) of the parsers of outside data.

Not collected by pytest (no test_ prefix); run by hand, bounded:

    .venv/bin/pip install atheris
    .venv/bin/python tests/reliability/atheris_vmdk.py vmdk -runs=20000
    .venv/bin/python tests/reliability/atheris_vmdk.py profile -runs=20000
    .venv/bin/python tests/reliability/atheris_vmdk.py novaconf -runs=20000
    .venv/bin/python tests/reliability/atheris_vmdk.py vib -runs=5000

Targets: ``vmdk`` (the image inspector: headers, descriptors, grain tables),
``profile`` (profile YAML), ``novaconf`` (nova.conf), ``vib`` (VIB archives).
Anything but vmwctl's own errors is a crash: libFuzzer stops and writes the
input to ./crash-<sha1>. Seeds come from tests/vmdkfiles.py for vmdk.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from vmwctl.errors import ConfigError
    from vmwctl.firewall.vib import inspect_vib
    from vmwctl.images.inspector import inspect_source
    from vmwctl.profile.load import build_profile
    from vmwctl.profile.nova_conf import parse_ini, profile_from_nova_conf
    from vmwctl.profile.yamlfile import parse_yaml

SCRATCH = Path(tempfile.mkdtemp(prefix="vmwctl-atheris-"))


def vmdk(data: bytes) -> None:
    report = inspect_source("fuzz.vmdk", len(data), lambda off, n: data[off:off + n])
    assert isinstance(report.format, str)


def profile(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        document, lines = parse_yaml(text, Path("fuzz.yaml"))
        profiles = document.get("profiles") if isinstance(document, dict) else None
        for name, raw in (profiles.items() if isinstance(profiles, dict) else []):
            build_profile(str(name), raw, lines=lines)
    except ConfigError:
        pass


def novaconf(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        profile_from_nova_conf(parse_ini(data.decode("utf-8", "replace"),
                                         Path("nova.conf")), include_password=True)


def vib(data: bytes) -> None:
    path = SCRATCH / "fuzz.vib"
    path.write_bytes(data)
    report = inspect_vib(path)
    assert report.valid == (not report.problems)


TARGETS = {"vmdk": vmdk, "profile": profile, "novaconf": novaconf, "vib": vib}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags, e.g. "
                 "-runs=20000]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
