"""Reading nova.conf the way oslo.config does, and mapping it onto a profile."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmwctl.errors import ConfigError
from vmwctl.profile.nova_options import REMOVED_OPTIONS, options_in, parse_bool
from vmwctl.profile.schema import SECTIONS, base_type, convert_value

MAX_NOVA_CONF_BYTES = 4 << 20

# Options Nova once had in [vmware] and has removed (from the option table).
REMOVED_VMWARE_OPTIONS = {o.name: f"removed in {o.removed_in}" for o in REMOVED_OPTIONS
                          if o.section == "vmware"}
# Deprecated [DEFAULT] names of [image_cache] options (the [image_cache] name wins).
DEPRECATED_IMAGE_CACHE_ALIASES = {old: o.name for o in options_in("image_cache")
                                  for section, old in o.deprecated if section == "DEFAULT"}
# nova-network's network managers and the guide's model each stands for
NETWORK_MANAGERS = {"FlatManager": "nova-network-flat", "FlatDHCPManager": "nova-network-flat",
                    "VlanManager": "nova-network-vlan"}
# nova-network's [DEFAULT] options that no vmwctl check reads
NOVA_NETWORK_OPTIONS = ("flat_interface", "flat_network_dns", "public_interface", "fixed_range",
                        "network_size", "num_networks", "vlan_start", "multi_host",
                        "dhcpbridge", "dhcpbridge_flagfile", "dhcp_domain", "dns_server",
                        "force_dhcp_release", "share_dhcp_address", "send_arp_for_ha",
                        "linuxnet_interface_driver", "firewall_driver", "network_api_class")
DEFAULT_OPTIONS = ("my_ip", "reserved_host_memory_mb", "reserved_host_cpus",
                   "reserved_host_disk_mb", "flat_injected")
VC_DRIVER = "vmwareapi.VMwareVCDriver"
# A malformed line that may hold a secret is not quoted in error messages.
SECRET_HINT = re.compile(r"pass|secret|token|://[^/\s]*@", re.IGNORECASE)


@dataclass
class IniValue:
    value: str
    line: int


@dataclass
class NovaConf:
    """A parsed nova.conf: sections of options, each value with its line."""

    path: Path
    sections: dict[str, dict[str, IniValue]]
    headers: dict[str, int] = field(default_factory=dict)  # each section's first header line

    def get(self, section: str, name: str) -> IniValue | None:
        return self.sections.get(section, {}).get(name)


def parse_ini(text: str, path: Path) -> NovaConf:
    """Parse oslo.config's INI dialect.

    ``#``/``;`` start comment lines, ``key = value`` or ``key: value``, an
    indented line continues the previous value, matching quotes around a
    value are removed, the last of repeated keys wins, and ``[DEFAULT]`` is an
    ordinary section (unlike configparser's).
    """
    sections: dict[str, dict[str, IniValue]] = {}
    headers: dict[str, int] = {}
    current: dict[str, IniValue] | None = None
    last: IniValue | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            last = None if not stripped else last
            continue
        if line[0].isspace() and last is not None:
            last.value = f"{last.value}\n{stripped}"
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or len(stripped) < 3:
                raise ConfigError(f"{path}:{number}: malformed section header {stripped!r}")
            name = stripped[1:-1].strip()
            current = sections.setdefault(name, {})
            headers.setdefault(name, number)
            last = None
            continue
        if current is None:
            raise ConfigError(f"{path}:{number}: option outside any [section]: "
                              f"{_quoted(stripped)}")
        positions = [p for p in (stripped.find("="), stripped.find(":")) if p > 0]
        if not positions:
            raise ConfigError(f"{path}:{number}: expected 'name = value', got "
                              f"{_quoted(stripped)}")
        split = min(positions)
        key, value = stripped[:split].strip(), stripped[split + 1:].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        last = current[key] = IniValue(value, number)
    return NovaConf(path=path, sections=sections, headers=headers)


def _quoted(line: str) -> str:
    """A malformed line for an error message; not shown when it may hold a secret."""
    if SECRET_HINT.search(line):
        return "a line that may hold a secret (not shown)"
    return repr(line)


def read_nova_conf(path: Path) -> NovaConf:
    try:
        if path.stat().st_size > MAX_NOVA_CONF_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_NOVA_CONF_BYTES} bytes; is it a "
                              "nova.conf?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}") from None
    return parse_ini(text, path)


def ini_value(text: str, hint: Any, metadata: Any) -> Any:
    """Convert an INI string to the option's type, the way oslo.config reads it."""
    base = base_type(hint)
    if base is bool:
        try:
            return parse_bool(text.strip())
        except ValueError:
            raise ValueError(f"expected true or false, got {text!r}") from None
    if base is int:
        try:
            value: Any = int(text.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    elif base is float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    elif base is list:
        raise ValueError("cannot be read from nova.conf")
    else:
        value = text
    return convert_value(value, hint, metadata)


@dataclass
class ImportedProfile:
    """A profile built from nova.conf, in the YAML layout, and what was left out."""

    data: dict[str, Any]
    password_in_conf: bool
    warnings: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)  # what was taken, and ignored, and why


def profile_from_nova_conf(conf: NovaConf, *, include_password: bool) -> ImportedProfile:
    """Map nova.conf onto a profile: only the options the file sets."""
    data: dict[str, Any] = {}
    warnings: list[str] = []
    errors: list[str] = []

    def put(section: str, name: str, item: IniValue) -> None:
        cls = SECTIONS[section]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        try:
            value = ini_value(item.value, typing.get_type_hints(cls)[name], fields[name].metadata)
        except ValueError as exc:
            errors.append(f"{conf.path}:{item.line}: [{section}] {name}: {exc}")
            return
        data.setdefault(section, {})[name] = value

    driver = conf.get("DEFAULT", "compute_driver")
    if driver is None:
        warnings.append(f"{conf.path}: [DEFAULT] compute_driver is not set; the VMware driver "
                        f"needs compute_driver = {VC_DRIVER}")
    elif driver.value.strip() != VC_DRIVER:
        warnings.append(f"{conf.path}:{driver.line}: compute_driver is {driver.value!r}, not "
                        f"{VC_DRIVER}")

    vmware_fields = {f.name for f in dataclasses.fields(SECTIONS["vmware"])}
    password_in_conf = False
    for name, item in conf.sections.get("vmware", {}).items():
        if name == "host_password":
            password_in_conf = True
            if include_password:
                data.setdefault("vmware", {})["host_password"] = item.value
            continue
        if name == "vlan_interface":
            continue  # nova-network's, read with the network model below
        if name in REMOVED_VMWARE_OPTIONS:
            warnings.append(f"{conf.path}:{item.line}: [vmware] {name} is "
                            f"{REMOVED_VMWARE_OPTIONS[name]}; not imported")
        elif name in vmware_fields and not name.startswith("host_password_"):
            put("vmware", name, item)
        else:
            warnings.append(f"{conf.path}:{item.line}: [vmware] {name} is not a Nova option; "
                            "not imported")

    for old, new in DEPRECATED_IMAGE_CACHE_ALIASES.items():
        item = conf.get("DEFAULT", old)
        if item is None:
            continue
        warnings.append(f"{conf.path}:{item.line}: [DEFAULT] {old} is deprecated; Nova reads "
                        f"[image_cache] {new}")
        if conf.get("image_cache", new) is None:
            put("image_cache", new, item)
    cache_fields = {f.name for f in dataclasses.fields(SECTIONS["image_cache"])}
    for name, item in conf.sections.get("image_cache", {}).items():
        if name in cache_fields:
            put("image_cache", name, item)

    for name in DEFAULT_OPTIONS:
        item = conf.get("DEFAULT", name)
        if item is not None:
            put("DEFAULT", name, item)
    zone = conf.get("DEFAULT", "default_availability_zone")
    if zone is not None:
        data["availability_zone"] = zone.value
    vnc = conf.get("vnc", "enabled")
    if vnc is not None:
        put("vnc", "enabled", vnc)
    for name in ("enabled", "mksproxy_base_url"):
        if (item := conf.get("mks", name)) is not None:
            put("mks", name, item)

    network = network_settings(conf)
    if network.model is not None:
        data["network_model"] = network.model
    for name in ("flat_network_bridge", "vlan_interface"):
        if (item := getattr(network, name)) is not None:
            put("DEFAULT", name, item)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(errors[0] + more)
    if "vmware" not in data:
        raise ConfigError(f"{conf.path} has no [vmware] options: is it the nova.conf of a "
                          "nova-compute that runs the VMware driver?")
    return ImportedProfile(data=_ordered(data), password_in_conf=password_in_conf,
                           warnings=warnings, network=network.notes)


def _truth(item: IniValue) -> bool | None:
    try:
        return parse_bool(item.value.strip())
    except ValueError:
        return None


@dataclass
class NetworkSettings:
    """The guide's networking model a nova.conf implies, nova-network's names it sets, and a
    line for each option taken or ignored."""

    model: str | None
    flat_network_bridge: IniValue | None = None
    vlan_interface: IniValue | None = None
    notes: list[str] = field(default_factory=list)


def network_settings(conf: NovaConf) -> NetworkSettings:
    """The model from use_neutron, network_api_class, network_manager and integration_bridge,
    as Nova chose its network API; nova-network's flat_network_bridge and vlan_interface
    ([vmware], where the VMware driver read it, else [DEFAULT])."""
    notes: list[str] = []

    def at(item: IniValue) -> str:
        return f"{conf.path.name}:{item.line}"

    manager = conf.get("DEFAULT", "network_manager")
    use_neutron = conf.get("DEFAULT", "use_neutron")
    api_class = conf.get("DEFAULT", "network_api_class")
    bridge = conf.get("vmware", "integration_bridge")
    neutron = _truth(use_neutron) if use_neutron is not None else None
    if neutron is None and api_class is not None:
        neutron = "neutron" in api_class.value.lower()
    if neutron is None:  # no choice written: nova-network's managers mean nova-network
        neutron = manager is None
    model: str | None
    if neutron:
        model = "nsx-mh" if bridge is not None else "neutron"
        why = (f"[vmware] integration_bridge is set ({at(bridge)})" if bridge is not None else
               "Neutron, without [vmware] integration_bridge")
        notes.append(f"network_model: {model} ({why})")
        if manager is not None:
            notes.append(f"ignored [DEFAULT] network_manager ({at(manager)}): Neutron is used")
    else:
        name = manager.value.strip().rsplit(".", 1)[-1] if manager is not None else "VlanManager"
        if name not in NETWORK_MANAGERS:
            assert manager is not None
            notes.append(f"ignored [DEFAULT] network_manager = {manager.value} ({at(manager)}): "
                         f"not one of nova-network's {', '.join(NETWORK_MANAGERS)}")
            model = None
        else:
            model = NETWORK_MANAGERS[name]
            source = (f"[DEFAULT] network_manager = {manager.value} ({at(manager)})"
                      if manager is not None else "nova-network's default VlanManager")
            notes.append(f"network_model: {model} (from {source})")
    found = NetworkSettings(model)
    flat = conf.get("DEFAULT", "flat_network_bridge")
    if flat is not None:
        found.flat_network_bridge = flat
        notes.append(f"took [DEFAULT] flat_network_bridge = {flat.value} ({at(flat)})")
    vlan = conf.get("vmware", "vlan_interface")
    fallback = conf.get("DEFAULT", "vlan_interface")
    if vlan is not None or fallback is not None:
        item, section = (vlan, "vmware") if vlan is not None else (fallback, "DEFAULT")
        found.vlan_interface = item
        notes.append(f"took [{section}] vlan_interface = {item.value} ({at(item)})")
        if vlan is not None and fallback is not None:
            notes.append(f"ignored [DEFAULT] vlan_interface ({at(fallback)}): the VMware "
                         "driver read [vmware] vlan_interface")
    for name in NOVA_NETWORK_OPTIONS:
        if (item := conf.get("DEFAULT", name)) is not None:
            notes.append(f"ignored [DEFAULT] {name} ({at(item)}): nova-network's, no vmwctl "
                         "check reads it")
    found.notes = notes
    return found


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    order = ["vmware", "image_cache", "DEFAULT", "vnc", "mks", "availability_zone",
             "network_model", "openstack"]
    return {key: data[key] for key in order if key in data}
