"""What a profile holds: nova.conf's sections and options with Nova's defaults, and the
types each option accepts.

A profile mirrors nova.conf: its sections and option names are nova.conf's own
(``vmware``, ``image_cache``, ``DEFAULT``, ``vnc``) with Nova's defaults, plus
keys of vmwctl's own (``availability_zone``, ``network_model`` and
``openstack``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmwctl.errors import ConfigError

ENV_SOURCE = "(environment)"


def option(default: Any = None, *, kind: str | None = None, minimum: float | None = None,
           secret: bool = False) -> Any:
    """A profile option: its default, and what the validator checks beyond its type."""
    return field(default=default, metadata={"kind": kind, "min": minimum, "secret": secret})


@dataclass
class VMwareOptions:
    """nova.conf ``[vmware]``: every option Nova has, with Nova's defaults."""

    host_ip: str | None = option(kind="host")
    host_port: int = option(443, kind="port")
    host_username: str | None = None
    host_password: str | None = option(secret=True)
    host_password_env: str | None = None
    host_password_file: str | None = None
    host_password_command: list[str] | None = None
    ca_file: str | None = None
    insecure: bool = False
    cluster_name: str | None = None
    datastore_regex: str | None = option(kind="regex")
    cache_prefix: str | None = None
    use_linked_clone: bool = True
    vnc_port: int = option(5900, kind="port")
    vnc_port_total: int = option(10000, minimum=0)
    vnc_keymap: str = "en-us"
    integration_bridge: str | None = None
    task_poll_interval: float = option(0.5, minimum=0)
    api_retry_count: int = option(10, minimum=0)
    console_delay_seconds: int | None = option(minimum=0)
    serial_port_service_uri: str | None = None
    serial_port_proxy_uri: str | None = None
    serial_log_dir: str = "/opt/vmware/vspc"
    connection_pool_size: int = option(10, minimum=10)
    pbm_enabled: bool = False
    pbm_wsdl_location: str | None = None
    pbm_default_policy: str | None = None
    maximum_objects: int = option(100, minimum=0)


@dataclass
class ImageCacheOptions:
    """nova.conf ``[image_cache]``."""

    subdirectory_name: str = "_base"
    remove_unused_base_images: bool = True
    remove_unused_original_minimum_age_seconds: int = option(86400, minimum=0)
    manager_interval: int = 2400


@dataclass
class DefaultOptions:
    """The few nova.conf ``[DEFAULT]`` options the VMware driver reads."""

    my_ip: str | None = None
    reserved_host_memory_mb: int = option(512, minimum=0)
    reserved_host_cpus: int = option(0, minimum=0)
    reserved_host_disk_mb: int = option(0, minimum=0)
    flat_injected: bool = False
    # nova-network's, kept for the guide's networking models (gone from Nova since 21.0.0)
    flat_network_bridge: str = "br100"
    vlan_interface: str = "vmnic0"


@dataclass
class VncOptions:
    """nova.conf ``[vnc]``."""

    enabled: bool = True


@dataclass
class OpenStackOptions:
    """How vmwctl reaches the image service: a clouds.yaml entry."""

    cloud: str | None = None


SECTIONS: dict[str, type] = {
    "vmware": VMwareOptions,
    "image_cache": ImageCacheOptions,
    "DEFAULT": DefaultOptions,
    "vnc": VncOptions,
    "openstack": OpenStackOptions,
}
PROFILE_KEYS = [*SECTIONS, "availability_zone", "network_model"]
# The guide's networking models (docs/checks.md): how the VMs' NICs reach a network.
NETWORK_MODELS = ("neutron", "nsx-mh", "nova-network-flat", "nova-network-vlan")
TOP_LEVEL_KEYS = ["default_profile", "profiles"]
PASSWORD_SOURCES = ("host_password", "host_password_env", "host_password_file",
                    "host_password_command")


@dataclass(frozen=True)
class PasswordSource:
    """Where the vCenter password comes from; never holds the password unless kind is value."""

    kind: str  # value | env | file | command | govc | prompt
    detail: str
    value: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return {
            "value": "host_password in the config file",
            "env": f"environment variable {self.detail}",
            "file": f"file {self.detail}",
            "command": f"command {self.detail}",
            "govc": self.detail,
            "prompt": "prompt on the terminal",
        }[self.kind]


@dataclass
class Profile:
    """One profile, validated, with Nova's defaults filled in."""

    name: str
    source: Path | None
    vmware: VMwareOptions = field(default_factory=VMwareOptions)
    image_cache: ImageCacheOptions = field(default_factory=ImageCacheOptions)
    default: DefaultOptions = field(default_factory=DefaultOptions)
    vnc: VncOptions = field(default_factory=VncOptions)
    openstack: OpenStackOptions = field(default_factory=OpenStackOptions)
    availability_zone: str | None = None
    network_model: str | None = None
    # where each value that was not a default came from: "vmware.host_ip" -> "file" / "GOVC_URL"
    origins: dict[str, str] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        return self.default if name == "DEFAULT" else getattr(self, name)

    @property
    def effective_network_model(self) -> str:
        """The profile's network_model; unset: nsx-mh when integration_bridge is set (Nova then
        backs NICs with it), else neutron."""
        if self.network_model:
            return self.network_model
        return "nsx-mh" if self.vmware.integration_bridge else "neutron"

    @property
    def source_label(self) -> str:
        return str(self.source) if self.source else ENV_SOURCE

    def as_dict(self, *, redact_secrets: bool = True) -> dict[str, Any]:
        """Every option with its effective value, in the profile's own layout."""
        doc: dict[str, Any] = {}
        for name in SECTIONS:
            section = dataclasses.asdict(self.section(name))
            if redact_secrets and section.get("host_password") is not None:
                section["host_password"] = "<redacted>"
            doc[name] = section
        doc["availability_zone"] = self.availability_zone
        doc["network_model"] = self.network_model
        return doc


def convert_value(value: Any, hint: Any, metadata: Mapping[str, Any]) -> Any:
    """Check one YAML value against its option's type; raise ValueError with the reason."""
    kind = metadata.get("kind")
    base = base_type(hint)
    if base is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_show(value)}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {_show(value)}")
        if kind == "port" and not 1 <= value <= 65535:
            raise ValueError(f"expected a port number (1-65535), got {value}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {_show(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value}")
    elif base is list:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a non-empty list of strings (an argument list, "
                             f"not a shell command), got {_show(value)}")
        if any("\0" in v for v in value):
            raise ValueError(f"an argument cannot hold a NUL character, got {value!r}")
        return list(value)
    elif base is str:
        if metadata.get("secret") and not isinstance(value, str):
            # YAML reads an unquoted 012345 as the octal number 5349: never log in with that
            raise ValueError(f"expected a string, got {type_name(value)} (not shown: it is a "
                             "secret); put the value in quotes")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"expected a string, got {_show(value)}")
        value = str(value)
        if "\0" in value:
            shown = "not shown: it is a secret" if metadata.get("secret") else f"got {value!r}"
            raise ValueError(f"a value cannot hold a NUL character ({shown})")
        if kind == "regex":
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        if kind == "host" and (not value or any(c.isspace() for c in value) or "/" in value):
            raise ValueError(f"expected a host name or IP address, got {value!r}")
    minimum = metadata.get("min")
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum}, got {value}")
    return value


def require_vcenter(profile: Profile) -> None:
    """Raise ConfigError unless the profile names a vCenter and a user."""
    missing = [name for name in ("host_ip", "host_username") if not getattr(profile.vmware, name)]
    if missing:
        where = f"profile '{profile.name}' in {profile.source}" if profile.source else \
            "the environment"
        names = " and ".join(f"vmware.{name}" for name in missing)
        raise ConfigError(f"{where} has no {names}: set {'them' if len(missing) > 1 else 'it'} "
                          "in the profile, or set GOVC_URL and GOVC_USERNAME")


def base_type(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    return typing.get_origin(base) or base


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "empty"}.get(type(value),
                                                                           type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return type_name(value)
    return repr(value)
