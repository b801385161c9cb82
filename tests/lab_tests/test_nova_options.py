"""vmwctl's table of Nova's options against the Nova the lab installs (nova==34.0.0): the
option definitions Nova itself registers, read by tests/lab/nova_options.py in Nova's own
virtualenv, and oslo.config's parsing of tricky values against vmwctl's parse_value."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from vmwctl.profile.nova_options import (
    FULL_SECTIONS,
    NOVA_OPTIONS,
    NOVA_VERSION,
    REMOVED_OPTIONS,
    nova_option_named,
    parse_value,
)

pytestmark = pytest.mark.lab

SCRIPT = Path(__file__).parents[1] / "lab" / "nova_options.py"
REQUIREMENTS = Path(__file__).parents[1] / "lab" / "nova-requirements.txt"


def run_in_nova(nova_python: Path, command: str, request: object) -> object:
    done = subprocess.run([str(nova_python), str(SCRIPT), command], input=json.dumps(request),
                          capture_output=True, text=True, check=True, timeout=300)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def nova(nova_python: Path) -> dict:
    return run_in_nova(nova_python, "definitions", {
        "sections": list(FULL_SECTIONS),
        "DEFAULT": [o.name for o in NOVA_OPTIONS if o.section == "DEFAULT"],
        "removed": [[o.section, o.name] for o in REMOVED_OPTIONS]})


def table_view(option) -> dict:
    """An option of vmwctl's table in the script's shape."""
    low, high = option.bounds()
    default = option.default
    return {
        "section": option.section, "name": option.name, "type": option.type,
        "default": list(default) if isinstance(default, tuple) else default,
        "min": low, "max": high, "choices": sorted(option.choices),
        "schemes": sorted(option.schemes), "secret": option.secret,
        "deprecated": sorted(list(old) for old in option.deprecated)}


def test_the_lab_installs_the_nova_the_table_describes() -> None:
    # Nova and the gunicorn that serves the lab's nova-api (docs/lab.md, "Compute API").
    nova = [line for line in REQUIREMENTS.read_text().split() if line.startswith("nova")]
    assert nova == [f"nova=={NOVA_VERSION}"]


def test_the_table_has_every_option_nova_has_and_no_other(nova: dict) -> None:
    theirs = {(o["section"], o["name"]) for o in nova["options"]}
    ours = {(o.section, o.name) for o in NOVA_OPTIONS}
    assert sorted(theirs - ours) == [], "options Nova has that the table lacks"
    assert sorted(ours - theirs) == [], "options in the table that Nova does not have"


def test_each_option_agrees_with_novas_definition(nova: dict) -> None:
    disagree = []
    for theirs in nova["options"]:
        option = nova_option_named(theirs["section"], theirs["name"])
        if option is None:
            continue  # the test above names it
        ours = table_view(option)
        if option.computed_default is not None:
            # a default Nova computes on the host (my_ip): compare what its docs show
            ours["default"], theirs = option.computed_default, {**theirs, "default":
                                                                theirs["sample_default"]}
        theirs = {k: v for k, v in theirs.items() if k != "sample_default"}
        if ours != theirs:
            disagree.append((ours, theirs))
    assert disagree == []


def test_the_removed_options_are_gone_from_nova(nova: dict) -> None:
    assert nova["removed_present"] == []


# One value per line: oslo.config's verdict on each must be vmwctl's.
TRICKY = {
    ("vmware", "use_linked_clone"): ["true", "True", "YES", "on", "1", "false", "No", "OFF",
                                     "0", "maybe", "", "2", "t", "y"],
    ("vmware", "api_retry_count"): ["10", "0", "-1", "+3", "1_000", "5.0", "0x10", "", "٣",
                                    "007", "1e3", "ten"],
    ("vmware", "connection_pool_size"): ["10", "9", "100"],
    ("image_cache", "manager_interval"): ["-1", "-2", "0"],
    ("vmware", "host_port"): ["0", "443", "65535", "65536", "-1", "", "https"],
    ("vmware", "task_poll_interval"): ["0.5", "0", "-1", "1e3", "nan", "inf", "", "1_0", "0x1",
                                       "soon"],
    ("vmware", "host_ip"): ["vc.example.test", "vc.example.test.", "192.0.2.1", "::1",
                            "fe80::1", "192.0.2.999", "vc_1.example", "-vc.example",
                            "vc-.example", "vc.example:443", "[::1]", "", "vc", "1.2.3",
                            "example.123", "a" * 63 + ".test", "a" * 64 + ".test",
                            "https://vc.example"],
    ("vmware", "serial_port_proxy_uri"): ["telnet://vspc:13370", "telnets://vspc",
                                          "http://vspc", "TELNET://vspc", "vspc:13370",
                                          "telnet://", "telnet:vspc", ""],
    ("mks", "mksproxy_base_url"): ["http://127.0.0.1:6090/", "https://mks.example/",
                                   "ftp://mks.example/", "mks.example"],
    ("vnc", "novncproxy_base_url"): ["http://proxy.example:6080/vnc_auto.html",
                                     "ftp://x/", "http://[::1]:6080/", "nope"],
    ("vnc", "auth_schemes"): ["none", "none,vencrypt", "none, vencrypt", "vencrypt", "tls",
                              ""],
}


def test_values_parse_as_oslo_config_parses_them(nova_python: Path) -> None:
    cases = [[section, name, text] for (section, name), texts in TRICKY.items()
             for text in texts]
    theirs = run_in_nova(nova_python, "parse", cases)
    disagree = []
    for (section, name, text), verdict in zip(cases, theirs, strict=True):
        try:
            ours: dict = {"value": parse_value(nova_option_named(section, name), text)}
        except ValueError:
            ours = {"error": True}
        if json.dumps(ours) != json.dumps(verdict):  # nan and inf compare as text
            disagree.append((section, name, text, ours, verdict))
    assert disagree == []
