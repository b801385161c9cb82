"""Nova's options, as Nova 34.0.0 defines them: the one table vmwctl reads them from.

Every option of ``[vmware]``, ``[image_cache]``, ``[vnc]`` and ``[mks]``, the
``[DEFAULT]`` ones the VMware driver reads, the names Nova still reads but has
deprecated, and the options Nova has removed (with the release that removed
them). The profile's schema takes its Nova defaults and bounds from here, and
``check nova-conf`` judges a nova.conf against it, parsing values the way
oslo.config does (:func:`parse_value`).

tests/lab_tests/test_nova_options.py compares this table with the option
definitions of the Nova the lab installs (tests/lab/nova-requirements.txt).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

NOVA_VERSION = "34.0.0"
# The sections whose every option is in the table: a name not in it is unknown to Nova.
FULL_SECTIONS = ("vmware", "image_cache", "vnc", "mks")
TYPES = ("str", "int", "float", "bool", "port", "uri", "host", "list")
PORT_RANGE = (0, 65535)


@dataclass(frozen=True)
class NovaOption:
    """One option as Nova defines it (an oslo.config Opt)."""

    section: str
    name: str
    type: str  # one of TYPES
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()  # of the value; of each item for a list
    schemes: tuple[str, ...] = ()  # a uri's allowed schemes (any when empty)
    secret: bool = False
    deprecated: tuple[tuple[str, str], ...] = ()  # older (section, name) Nova still reads
    computed_default: str | None = None  # Nova computes the default on the host

    @property
    def label(self) -> str:
        return f"[{self.section}] {self.name}"

    def bounds(self) -> tuple[int | None, int | None]:
        """The (min, max) oslo.config enforces; a port's are 0 and 65535."""
        if self.type == "port":
            return PORT_RANGE
        return self.minimum, self.maximum


@dataclass(frozen=True)
class RemovedOption:
    """An option Nova no longer has: oslo.config ignores it."""

    section: str
    name: str
    removed_in: str  # "Nova 21.0.0 (Ussuri)"
    replacement: str | None = None  # "[vnc] server_listen"
    why: str | None = None

    @property
    def label(self) -> str:
        return f"[{self.section}] {self.name}"


def _vmware(name: str, type_: str, default: Any = None, **more: Any) -> NovaOption:
    return NovaOption("vmware", name, type_, default, **more)


# nova/conf/vmware.py, ALL_VMWARE_OPTS in Nova's order.
_VMWARE = (
    _vmware("integration_bridge", "str"),
    _vmware("console_delay_seconds", "int", minimum=0),
    _vmware("serial_port_service_uri", "str"),
    _vmware("serial_port_proxy_uri", "uri", schemes=("telnet", "telnets")),
    _vmware("serial_log_dir", "str", "/opt/vmware/vspc"),
    _vmware("host_ip", "host"),
    _vmware("host_port", "port", 443),
    _vmware("host_username", "str"),
    _vmware("host_password", "str", secret=True),
    _vmware("ca_file", "str"),
    _vmware("insecure", "bool", False),
    _vmware("cluster_name", "str"),
    _vmware("datastore_regex", "str"),
    _vmware("task_poll_interval", "float", 0.5),
    _vmware("api_retry_count", "int", 10, minimum=0),
    _vmware("vnc_port", "port", 5900),
    _vmware("vnc_port_total", "int", 10000, minimum=0),
    _vmware("vnc_keymap", "str", "en-us"),
    _vmware("use_linked_clone", "bool", True),
    _vmware("connection_pool_size", "int", 10, minimum=10),
    _vmware("pbm_enabled", "bool", False),
    _vmware("pbm_wsdl_location", "str"),
    _vmware("pbm_default_policy", "str"),
    _vmware("maximum_objects", "int", 100, minimum=0),
    _vmware("cache_prefix", "str"),
)

# nova/conf/imagecache.py; the [DEFAULT] and [libvirt] names moved in Nova 21.0.0 (Ussuri).
_IMAGE_CACHE = (
    NovaOption("image_cache", "manager_interval", "int", 2400, minimum=-1,
               deprecated=(("DEFAULT", "image_cache_manager_interval"),)),
    NovaOption("image_cache", "subdirectory_name", "str", "_base",
               deprecated=(("DEFAULT", "image_cache_subdirectory_name"),)),
    NovaOption("image_cache", "remove_unused_base_images", "bool", True,
               deprecated=(("DEFAULT", "remove_unused_base_images"),)),
    NovaOption("image_cache", "remove_unused_original_minimum_age_seconds", "int", 86400,
               deprecated=(("DEFAULT", "remove_unused_original_minimum_age_seconds"),)),
    NovaOption("image_cache", "remove_unused_resized_minimum_age_seconds", "int", 3600,
               deprecated=(("libvirt", "remove_unused_resized_minimum_age_seconds"),)),
    NovaOption("image_cache", "precache_concurrency", "int", 1, minimum=1),
)

# nova/conf/vnc.py, ALL_OPTS.
_VNC = (
    NovaOption("vnc", "enabled", "bool", True, deprecated=(("DEFAULT", "vnc_enabled"),)),
    NovaOption("vnc", "server_listen", "host", "127.0.0.1"),
    NovaOption("vnc", "server_proxyclient_address", "host", "127.0.0.1"),
    NovaOption("vnc", "novncproxy_base_url", "uri", "http://127.0.0.1:6080/vnc_auto.html",
               deprecated=(("DEFAULT", "novncproxy_base_url"),)),
    NovaOption("vnc", "novncproxy_host", "str", "0.0.0.0",
               deprecated=(("DEFAULT", "novncproxy_host"),)),
    NovaOption("vnc", "novncproxy_port", "port", 6080,
               deprecated=(("DEFAULT", "novncproxy_port"),)),
    NovaOption("vnc", "auth_schemes", "list", ("none",), choices=("none", "vencrypt")),
    NovaOption("vnc", "vencrypt_client_key", "str"),
    NovaOption("vnc", "vencrypt_client_cert", "str"),
    NovaOption("vnc", "vencrypt_ca_certs", "str"),
)

# nova/conf/mks.py.
_MKS = (
    NovaOption("mks", "mksproxy_base_url", "uri", "http://127.0.0.1:6090/",
               schemes=("http", "https")),
    NovaOption("mks", "enabled", "bool", False),
)

# The [DEFAULT] options the driver reads (nova/conf/compute.py, netconf.py,
# availability_zone.py).
_DEFAULT = (
    NovaOption("DEFAULT", "compute_driver", "str"),
    NovaOption("DEFAULT", "my_ip", "str", computed_default="<host_ipv4>"),
    NovaOption("DEFAULT", "reserved_host_memory_mb", "int", 512, minimum=0),
    NovaOption("DEFAULT", "reserved_host_cpus", "int", 0, minimum=0),
    NovaOption("DEFAULT", "reserved_host_disk_mb", "int", 0, minimum=0),
    NovaOption("DEFAULT", "flat_injected", "bool", False),
    NovaOption("DEFAULT", "default_availability_zone", "str", "nova"),
)

NOVA_OPTIONS: tuple[NovaOption, ...] = (*_VMWARE, *_IMAGE_CACHE, *_VNC, *_MKS, *_DEFAULT)

_NOVA_NETWORK = "with nova-network"
_USSURI = "Nova 21.0.0 (Ussuri)"

# From Nova's release notes: Pike, Ussuri, Victoria and Yoga removed these.
REMOVED_OPTIONS: tuple[RemovedOption, ...] = (
    RemovedOption("vmware", "wsdl_location", "Nova 16.0.0 (Pike)",
                  why="unused since vCenter 5.1 became the minimum"),
    RemovedOption("vmware", "vlan_interface", _USSURI, why=_NOVA_NETWORK),
    RemovedOption("DEFAULT", "network_manager", _USSURI, why=_NOVA_NETWORK),
    RemovedOption("DEFAULT", "flat_network_bridge", _USSURI, why=_NOVA_NETWORK),
    RemovedOption("DEFAULT", "vlan_interface", _USSURI, why=_NOVA_NETWORK),
    RemovedOption("DEFAULT", "use_neutron", _USSURI,
                  why="with nova-network: Neutron is the only network service"),
    RemovedOption("vnc", "xvpvncproxy_base_url", _USSURI, why="with the XVP VNC proxy"),
    RemovedOption("vnc", "xvpvncproxy_host", _USSURI, why="with the XVP VNC proxy"),
    RemovedOption("vnc", "xvpvncproxy_port", _USSURI, why="with the XVP VNC proxy"),
    RemovedOption("vnc", "keymap", "Nova 22.0.0 (Victoria)", "[vmware] vnc_keymap"),
    RemovedOption("vnc", "vncserver_listen", "Nova 25.0.0 (Yoga)", "[vnc] server_listen"),
    RemovedOption("vnc", "vncserver_proxyclient_address", "Nova 25.0.0 (Yoga)",
                  "[vnc] server_proxyclient_address"),
)

_BY_KEY = {(o.section, o.name): o for o in NOVA_OPTIONS}
_REMOVED_BY_KEY = {(o.section, o.name): o for o in REMOVED_OPTIONS}
_BY_DEPRECATED = {old: o for o in NOVA_OPTIONS for old in o.deprecated}


def nova_option_named(section: str, name: str) -> NovaOption | None:
    """The option Nova 34 has as ``[section] name`` (its current name), or None."""
    return _BY_KEY.get((section, name))


def removed_option_named(section: str, name: str) -> RemovedOption | None:
    return _REMOVED_BY_KEY.get((section, name))


def deprecated_name_of(section: str, name: str) -> NovaOption | None:
    """The option a deprecated ``[section] name`` stands for, or None."""
    return _BY_DEPRECATED.get((section, name))


def options_in(section: str) -> list[NovaOption]:
    return [o for o in NOVA_OPTIONS if o.section == section]


def removal_note(option: RemovedOption) -> str:
    """'removed in Nova 22.0.0 (Victoria); use [vmware] vnc_keymap instead'."""
    text = f"removed in {option.removed_in}"
    if option.why:
        text += f", {option.why}"
    if option.replacement:
        text += f"; use {option.replacement} instead"
    return text


# ------------------------------------------------------------------ values, as oslo.config

_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no")
_HOSTNAME_LABEL = re.compile(r"(?!-)[A-Z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*$")


def parse_value(option: NovaOption, text: str) -> Any:
    """``text`` as oslo.config reads it for ``option``; ValueError says why not (without
    repeating the value, which may be long).

    Boolean: true/false, yes/no, on/off, 1/0 in any case. Integer and float:
    Python's own syntax, within the option's bounds; an empty number is None
    (not the default). Port: 0-65535. URI: a scheme (one of the allowed ones,
    case as given) and a host. Host address: an IPv4 or IPv6 address, or a
    host name whose labels are letters, digits and inner hyphens. List: comma
    separated, each item one of the choices.
    """
    kind = option.type
    if kind == "bool":
        return parse_bool(text)
    if kind in ("int", "port", "float"):
        return _number(option, text)
    if kind == "uri":
        return _uri(option, text)
    if kind == "host":
        if not is_host_address(text):
            raise ValueError("not an IP address or a host name")
        return text if _is_ip(text) else text.removesuffix(".")
    if kind == "list":
        items = [item.strip() for item in text.split(",")] if text.strip() else []
        for item in items:
            _choice(option, item)
        return items
    return _choice(option, text)


def parse_bool(text: str) -> bool:
    """oslo.config's Boolean: true/false, yes/no, on/off, 1/0 in any case, nothing else."""
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError("not a boolean (true/false, yes/no, on/off, 1/0)")


def _choice(option: NovaOption, text: str) -> str:
    if option.choices and text not in option.choices:
        shown = repr(text) if len(text) <= 20 else "a value"
        raise ValueError(f"{shown} is not one of {', '.join(option.choices)}")
    return text


def _number(option: NovaOption, text: str) -> int | float | None:
    if not text.strip():
        return None
    try:
        value: int | float = float(text) if option.type == "float" else int(text)
    except ValueError:
        raise ValueError("not a number" if option.type == "float" else
                         "not an integer") from None
    low, high = option.bounds()
    if low is not None and value < low:
        raise ValueError(f"below the minimum {low}")
    if high is not None and value > high:
        raise ValueError(f"above the maximum {high}")
    return value


def _uri(option: NovaOption, text: str) -> str:
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
    scheme = text.split(":", 1)[0]  # as written: urlsplit lowercases it, rfc3986 does not
    if host is None or not _SCHEME.match(scheme) or any(c.isspace() for c in text):
        raise ValueError("not a URI with a scheme and a host")
    if option.schemes and scheme not in option.schemes:
        raise ValueError(f"the scheme must be {' or '.join(option.schemes)}")
    return text


def _is_ip(text: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
        return True
    return False


def is_host_address(text: str) -> bool:
    """oslo.config's HostAddress: an IP address, or a valid host name."""
    if _is_ip(text):
        return True
    if not text or len(text) > 253:
        return False
    labels = text.removesuffix(".").split(".")
    if not re.search(r"[a-zA-Z-]", labels[-1]):
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in labels)
