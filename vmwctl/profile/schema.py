"""What a profile holds: nova.conf's sections and options with Nova's defaults, and the
types each option accepts.

A profile mirrors nova.conf: its sections and option names are nova.conf's own
(``vmware``, ``image_cache``, ``DEFAULT``, ``vnc``, ``mks``) with Nova's defaults, plus
keys of vmwctl's own (``availability_zone``, ``network_model`` and
``openstack``). A Nova option's default and bounds come from the option table
(:mod:`vmwctl.profile.nova_options`), never from here.
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
from vmwctl.profile.nova_options import NovaOption, nova_option_named

ENV_SOURCE = "(environment)"
# The option types of the table whose values the profile validator checks beyond the type.
_KINDS = {"port": "port", "host": "host"}


def option(default: Any = None, *, kind: str | None = None, minimum: float | None = None,
           secret: bool = False) -> Any:
    """A profile option of vmwctl's own: its default, and what the validator checks beyond
    its type."""
    return field(default=default, metadata={"kind": kind, "min": minimum, "secret": secret,
                                            "vmwctl": True})


def nova_option(section: str, name: str, *, kind: str | None = None,
                minimum: float | None = None) -> Any:
    """A profile option that is Nova's ``[section] name``: its default, bounds and secrecy
    from the option table. ``kind`` and ``minimum``: vmwctl's own checks, stricter than
    Nova's (a regular expression; a floor where Nova has none)."""
    nova = _nova(section, name)
    low = nova.bounds()[0] if minimum is None else minimum
    return field(default=nova.default, metadata={
        "kind": kind or _KINDS.get(nova.type), "min": None if nova.type == "port" else low,
        "secret": nova.secret, "nova": (section, name)})


def _nova(section: str, name: str) -> NovaOption:
    found = nova_option_named(section, name)
    if found is None:
        raise AssertionError(f"[{section}] {name} is not in the option table")
    return found


@dataclass
class VMwareOptions:
    """nova.conf ``[vmware]``: every option Nova has, with Nova's defaults."""

    host_ip: str | None = nova_option("vmware", "host_ip")
    host_port: int = nova_option("vmware", "host_port")
    host_username: str | None = nova_option("vmware", "host_username")
    host_password: str | None = nova_option("vmware", "host_password")
    host_password_env: str | None = option()
    host_password_file: str | None = option()
    host_password_command: list[str] | None = option()  # noqa: RUF009 (a field())
    ca_file: str | None = nova_option("vmware", "ca_file")
    insecure: bool = nova_option("vmware", "insecure")
    cluster_name: str | None = nova_option("vmware", "cluster_name")
    datastore_regex: str | None = nova_option("vmware", "datastore_regex", kind="regex")
    cache_prefix: str | None = nova_option("vmware", "cache_prefix")
    use_linked_clone: bool = nova_option("vmware", "use_linked_clone")
    vnc_port: int = nova_option("vmware", "vnc_port")
    vnc_port_total: int = nova_option("vmware", "vnc_port_total")
    vnc_keymap: str = nova_option("vmware", "vnc_keymap")
    integration_bridge: str | None = nova_option("vmware", "integration_bridge")
    # vmwctl waits on its own tasks with it: no busy loop
    task_poll_interval: float = nova_option("vmware", "task_poll_interval", minimum=0)
    api_retry_count: int = nova_option("vmware", "api_retry_count")
    console_delay_seconds: int | None = nova_option("vmware", "console_delay_seconds")
    serial_port_service_uri: str | None = nova_option("vmware", "serial_port_service_uri")
    serial_port_proxy_uri: str | None = nova_option("vmware", "serial_port_proxy_uri")
    serial_log_dir: str = nova_option("vmware", "serial_log_dir")
    connection_pool_size: int = nova_option("vmware", "connection_pool_size")
    pbm_enabled: bool = nova_option("vmware", "pbm_enabled")
    pbm_wsdl_location: str | None = nova_option("vmware", "pbm_wsdl_location")
    pbm_default_policy: str | None = nova_option("vmware", "pbm_default_policy")
    maximum_objects: int = nova_option("vmware", "maximum_objects")


@dataclass
class ImageCacheOptions:
    """nova.conf ``[image_cache]``."""

    subdirectory_name: str = nova_option("image_cache", "subdirectory_name")
    remove_unused_base_images: bool = nova_option("image_cache", "remove_unused_base_images")
    # vmwctl's cache purge ages with it; in Nova a negative age acts as 0
    remove_unused_original_minimum_age_seconds: int = nova_option(
        "image_cache", "remove_unused_original_minimum_age_seconds", minimum=0)
    manager_interval: int = nova_option("image_cache", "manager_interval")


@dataclass
class DefaultOptions:
    """The few nova.conf ``[DEFAULT]`` options the VMware driver reads."""

    my_ip: str | None = nova_option("DEFAULT", "my_ip")
    reserved_host_memory_mb: int = nova_option("DEFAULT", "reserved_host_memory_mb")
    reserved_host_cpus: int = nova_option("DEFAULT", "reserved_host_cpus")
    reserved_host_disk_mb: int = nova_option("DEFAULT", "reserved_host_disk_mb")
    flat_injected: bool = nova_option("DEFAULT", "flat_injected")
    # nova-network's, kept for the guide's networking models (gone from Nova since 21.0.0)
    flat_network_bridge: str = option("br100")
    vlan_interface: str = option("vmnic0")


@dataclass
class VncOptions:
    """nova.conf ``[vnc]``."""

    enabled: bool = nova_option("vnc", "enabled")


@dataclass
class MksOptions:
    """nova.conf ``[mks]``: the MKS console, for hosts without a VNC server (ESXi 7.0+)."""

    enabled: bool = nova_option("mks", "enabled")
    mksproxy_base_url: str = nova_option("mks", "mksproxy_base_url")


@dataclass
class OpenStackOptions:
    """How vmwctl reaches the image service: a clouds.yaml entry, and what it accepts."""

    cloud: str | None = None
    # Glance's [image_format] require_image_format_match (on by default since Glance 30): its
    # API does not tell, so the profile says whether raw data is refused as disk_format=vmdk
    image_format_match: bool = option(True)


SECTIONS: dict[str, type] = {
    "vmware": VMwareOptions,
    "image_cache": ImageCacheOptions,
    "DEFAULT": DefaultOptions,
    "vnc": VncOptions,
    "mks": MksOptions,
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
    mks: MksOptions = field(default_factory=MksOptions)
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
