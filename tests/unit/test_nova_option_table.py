"""The table of Nova's options (vmwctl/profile/nova_options.py): its own consistency, the
profile schema's agreement with it, and values parsed as oslo.config parses them.

tests/lab_tests/test_nova_options.py compares the table with the installed Nova's.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from vmwctl.profile.nova_options import (
    FULL_SECTIONS,
    NOVA_OPTIONS,
    REMOVED_OPTIONS,
    TYPES,
    deprecated_name_of,
    nova_option_named,
    options_in,
    parse_value,
    removal_note,
    removed_option_named,
)
from vmwctl.profile.schema import SECTIONS, base_type

NOVA_SECTIONS = ("vmware", "image_cache", "DEFAULT", "vnc")
# The Python type a profile field has for each type of the table.
PYTHON_TYPES = {"str": str, "uri": str, "host": str, "int": int, "port": int, "float": float,
                "bool": bool, "list": list}


def test_the_table_is_consistent() -> None:
    keys = [(o.section, o.name) for o in NOVA_OPTIONS]
    assert len(keys) == len(set(keys))
    assert len(options_in("vmware")) == 25
    assert {o.section for o in NOVA_OPTIONS} == {*FULL_SECTIONS, "DEFAULT"}
    for option in NOVA_OPTIONS:
        assert option.type in TYPES, option
        assert not (option.schemes and option.type != "uri"), option
        for old in option.deprecated:
            assert nova_option_named(*old) is None, old  # an old name is no current one
            assert deprecated_name_of(*old) is option
        if option.default is not None and option.type != "list":
            assert parse_value(option, str(option.default).lower()) == option.default, option
    removed = [(o.section, o.name) for o in REMOVED_OPTIONS]
    assert len(removed) == len(set(removed))
    for option in REMOVED_OPTIONS:
        assert nova_option_named(option.section, option.name) is None, option
        assert deprecated_name_of(option.section, option.name) is None, option
        assert re.fullmatch(r"Nova \d+\.\d+\.\d+ \([A-Z][a-z]+\)", option.removed_in), option
        if option.replacement:
            section, name = option.replacement[1:].split("] ")
            assert nova_option_named(section, name) is not None, option.replacement


def test_the_removed_options_the_guide_meets() -> None:
    for section, name in (("vmware", "wsdl_location"), ("vmware", "vlan_interface"),
                          ("DEFAULT", "network_manager"), ("DEFAULT", "flat_network_bridge"),
                          ("DEFAULT", "use_neutron"), ("DEFAULT", "vlan_interface")):
        assert removed_option_named(section, name) is not None, (section, name)
    assert removal_note(removed_option_named("vmware", "wsdl_location")) == (
        "removed in Nova 16.0.0 (Pike), unused since vCenter 5.1 became the minimum")
    assert removal_note(removed_option_named("vnc", "keymap")) == (
        "removed in Nova 22.0.0 (Victoria); use [vmware] vnc_keymap instead")
    assert deprecated_name_of("DEFAULT", "vnc_enabled") is nova_option_named("vnc", "enabled")
    assert deprecated_name_of("DEFAULT", "image_cache_subdirectory_name") is \
        nova_option_named("image_cache", "subdirectory_name")


def schema_fields() -> list[tuple[str, dataclasses.Field, typing.Any]]:
    found = []
    for section in NOVA_SECTIONS:
        cls = SECTIONS[section]
        hints = typing.get_type_hints(cls)
        found += [(section, f, hints[f.name]) for f in dataclasses.fields(cls)]
    return found


@pytest.mark.parametrize(("section", "field", "hint"), schema_fields(),
                         ids=lambda v: v.name if isinstance(v, dataclasses.Field) else None)
def test_every_schema_field_agrees_with_the_table(section: str, field: dataclasses.Field,
                                                  hint: typing.Any) -> None:
    """A Nova option's field takes its facts from the table; a field of vmwctl's own says so;
    a field without either is a removed Nova option vmwctl keeps for the guide."""
    meta = field.metadata
    if meta.get("vmwctl"):
        assert nova_option_named(section, field.name) is None, \
            f"{section}.{field.name} is a Nova option: use nova_option()"
        return
    if "nova" not in meta:
        assert removed_option_named(section, field.name) is not None, (
            f"{section}.{field.name}: neither nova_option() nor option() (vmwctl's own), and "
            "not a removed Nova option")
        return
    assert meta["nova"] == (section, field.name)
    option = nova_option_named(section, field.name)
    assert option is not None
    assert base_type(hint) is PYTHON_TYPES[option.type]
    assert field.default == option.default
    optional = type(None) in typing.get_args(hint)
    assert optional == (option.default is None), f"{section}.{field.name}: Optional iff None"
    assert meta["secret"] == option.secret
    low = option.bounds()[0]
    if low is not None and option.type != "port":
        assert meta["min"] is not None and meta["min"] >= low  # as strict as Nova, or more


# ------------------------------------------------------------------ values, as oslo.config

def check(section: str, name: str, text: str) -> object:
    option = nova_option_named(section, name)
    assert option is not None
    try:
        return parse_value(option, text)
    except ValueError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), ("Yes", True), ("ON", True), ("1", True),
    ("False", False), ("no", False), ("off", False), ("0", False),
    ("maybe", "error: not a boolean (true/false, yes/no, on/off, 1/0)"),
    ("", "error: not a boolean (true/false, yes/no, on/off, 1/0)"),
    ("2", "error: not a boolean (true/false, yes/no, on/off, 1/0)"),
])
def test_booleans(text: str, expected: object) -> None:
    assert check("vmware", "use_linked_clone", text) == expected


@pytest.mark.parametrize(("section", "name", "text", "expected"), [
    ("vmware", "api_retry_count", "5", 5), ("vmware", "api_retry_count", "+5", 5),
    ("vmware", "api_retry_count", "1_000", 1000), ("vmware", "api_retry_count", "", None),
    ("vmware", "api_retry_count", "-1", "error: below the minimum 0"),
    ("vmware", "api_retry_count", "5.0", "error: not an integer"),
    ("vmware", "api_retry_count", "0x10", "error: not an integer"),
    ("vmware", "connection_pool_size", "9", "error: below the minimum 10"),
    ("image_cache", "manager_interval", "-1", -1),
    ("image_cache", "manager_interval", "-2", "error: below the minimum -1"),
    ("vmware", "host_port", "0", 0), ("vmware", "host_port", "65535", 65535),
    ("vmware", "host_port", "65536", "error: above the maximum 65535"),
    ("vmware", "host_port", "-1", "error: below the minimum 0"),
    ("vmware", "task_poll_interval", "1e3", 1000.0),
    ("vmware", "task_poll_interval", "-1", -1.0),
    ("vmware", "task_poll_interval", "soon", "error: not a number"),
])
def test_numbers(section: str, name: str, text: str, expected: object) -> None:
    assert check(section, name, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("vc.example.test", "vc.example.test"), ("vc.example.test.", "vc.example.test"),
    ("192.0.2.1", "192.0.2.1"), ("::1", "::1"), ("vc-1", "vc-1"),
    ("192.0.2.999", "error: not an IP address or a host name"),
    ("vc_1.example", "error: not an IP address or a host name"),
    ("-vc.example", "error: not an IP address or a host name"),
    ("vc.example:443", "error: not an IP address or a host name"),
    ("[::1]", "error: not an IP address or a host name"),
    ("https://vc.example", "error: not an IP address or a host name"),
    ("", "error: not an IP address or a host name"),
    ("a" * 64 + ".example", "error: not an IP address or a host name"),
])
def test_host_addresses(text: str, expected: object) -> None:
    assert check("vmware", "host_ip", text) == expected


@pytest.mark.parametrize(("section", "name", "text", "expected"), [
    ("vmware", "serial_port_proxy_uri", "telnet://vspc:13370", "telnet://vspc:13370"),
    ("vmware", "serial_port_proxy_uri", "telnets://vspc", "telnets://vspc"),
    ("vmware", "serial_port_proxy_uri", "http://vspc", "error: the scheme must be telnet or "
                                                       "telnets"),
    ("vmware", "serial_port_proxy_uri", "TELNET://vspc", "error: the scheme must be telnet or "
                                                         "telnets"),
    ("vmware", "serial_port_proxy_uri", "vspc:13370", "error: not a URI with a scheme and a "
                                                      "host"),
    ("mks", "mksproxy_base_url", "https://mks.example/", "https://mks.example/"),
    ("vnc", "novncproxy_base_url", "ftp://x/", "ftp://x/"),
    ("vnc", "novncproxy_base_url", "http://[::1", "error: not a URI with a scheme and a host"),
    ("vnc", "auth_schemes", "none, vencrypt", ["none", "vencrypt"]),
    ("vnc", "auth_schemes", "none,tls", "error: 'tls' is not one of none, vencrypt"),
])
def test_uris_and_lists(section: str, name: str, text: str, expected: object) -> None:
    assert check(section, name, text) == expected
