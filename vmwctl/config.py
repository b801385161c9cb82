"""Profiles: where the config file is, what a profile holds, and how it is checked.

A profile mirrors nova.conf: its sections and option names are nova.conf's own
(``vmware``, ``image_cache``, ``DEFAULT``, ``vnc``) with Nova's defaults, plus
two keys of vmwctl's own (``availability_zone`` and ``openstack``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import stat
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from vmwctl.errors import ConfigError

CONFIG_FILE_NAME = "vmwctl.yaml"
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 50
_SURROGATE = re.compile("[\ud800-\udfff]")
# A YAML error on a line like this one does not quote the value: it may be a password.
_SECRET_LINE = re.compile(r"pass|secret|token", re.IGNORECASE)
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
PROFILE_KEYS = [*SECTIONS, "availability_zone"]
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
    # where each value that was not a default came from: "vmware.host_ip" -> "file" / "GOVC_URL"
    origins: dict[str, str] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        return self.default if name == "DEFAULT" else getattr(self, name)

    @property
    def source_label(self) -> str:
        return str(self.source) if self.source else ENV_SOURCE

    def password_source(self, env: Mapping[str, str]) -> PasswordSource | None:
        """The one configured password source, or None when there is none."""
        v = self.vmware
        if v.host_password is not None:
            return PasswordSource("value", "host_password", v.host_password)
        if v.host_password_env:
            return PasswordSource("env", v.host_password_env)
        if v.host_password_file:
            return PasswordSource("file", v.host_password_file)
        if v.host_password_command:
            return PasswordSource("command", v.host_password_command[0])
        govc = _env(env, "GOVC_PASSWORD")
        if govc is not None:
            return PasswordSource("govc", "environment variable GOVC_PASSWORD", govc)
        url_password = _govc_url(env).get("password")
        if url_password is not None:
            return PasswordSource("govc", "the password in GOVC_URL", url_password)
        return None

    def as_dict(self, *, redact_secrets: bool = True) -> dict[str, Any]:
        """Every option with its effective value, in the profile's own layout."""
        doc: dict[str, Any] = {}
        for name in SECTIONS:
            section = dataclasses.asdict(self.section(name))
            if redact_secrets and section.get("host_password") is not None:
                section["host_password"] = "<redacted>"
            doc[name] = section
        doc["availability_zone"] = self.availability_zone
        return doc


@dataclass
class ConfigFile:
    """A parsed config file: its profiles, still raw, and where each key sits."""

    path: Path
    default_profile: str | None
    profiles: dict[str, Any]
    lines: dict[str, int]

    @property
    def profile_names(self) -> list[str]:
        return list(self.profiles)


# ---------------------------------------------------------------- discovery

def config_search_path(env: Mapping[str, str], cwd: Path | None = None) -> list[Path]:
    """The places searched for a config file after --config and $VMWCTL_CONFIG."""
    cwd = cwd or Path.cwd()
    xdg = _env(env, "XDG_CONFIG_HOME") or str(Path(_env(env, "HOME") or Path.home()) / ".config")
    return [cwd / CONFIG_FILE_NAME, Path(xdg) / "vmwctl" / "config.yaml"]


def find_config_file(explicit: str | None, env: Mapping[str, str],
                     cwd: Path | None = None) -> Path | None:
    """The config file to read, in order: --config, $VMWCTL_CONFIG, ./vmwctl.yaml, XDG."""
    for given, label in ((explicit, "--config"), (_env(env, "VMWCTL_CONFIG"), "VMWCTL_CONFIG")):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(f"config file {path} (from {label}) does not exist; "
                                  "create it or point to another file")
            return path
    for path in config_search_path(env, cwd):
        if path.is_file():
            return path
    return None


def config_write_target(explicit: str | None, env: Mapping[str, str],
                        cwd: Path | None = None) -> Path:
    """The file a new profile goes into: the one that would be read, else the XDG one."""
    for given in (explicit, _env(env, "VMWCTL_CONFIG")):
        if given:
            return Path(given).expanduser()
    search = config_search_path(env, cwd)
    return next((path for path in search if path.is_file()), search[-1])


# ---------------------------------------------------------------- reading YAML

def _bounded_loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses documents with many aliases (alias bombs), deep nesting
        (the composer recurses), and turns bad tagged values into YAML errors."""

        aliases = 0
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} YAML aliases")
            if self.depth >= MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_YAML_DEPTH} levels of nesting",
                    self.peek_event().start_mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            # SafeConstructor raises ValueError, KeyError... on e.g. '2020-02-30',
            # '!!float abc', '!!bool maybe' or '!!timestamp x'
            try:
                data = super().construct_object(node, deep)
            except (ValueError, TypeError, AttributeError, LookupError, OverflowError):
                value = node.value[:40] if isinstance(node.value, str) else "the value"
                raise yaml.constructor.ConstructorError(
                    None, None, f"{value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                    node.start_mark) from None
            if isinstance(data, str) and _SURROGATE.search(data):  # "\ud800" escapes
                raise yaml.constructor.ConstructorError(
                    None, None, f"{data[:40]!r} is not valid Unicode (a lone surrogate)",
                    node.start_mark)
            return data

    return BoundedLoader


def _key_lines(node: Any, prefix: str, out: dict[str, int], file: Path,
               inside: frozenset[int] = frozenset()) -> None:
    import yaml

    if id(node) in inside:  # an alias of an enclosing anchor: the data would contain itself
        raise ConfigError(f"{file}:{node.start_mark.line + 1}: YAML alias inside its own anchor "
                          f"at {prefix or 'the top level'}: the value would contain itself")
    inside = inside | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _key_lines(key_node, prefix, {}, file, inside)
            if isinstance(key_node, yaml.ScalarNode):
                path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
                out[path] = key_node.start_mark.line + 1
                _key_lines(value_node, path, out, file, inside)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _key_lines(item, prefix, {}, file, inside)


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[str, int]]:
    """Parse YAML safely; return the data and the line of every mapping key."""
    import yaml

    loader = None
    try:
        loader = _bounded_loader()(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "'" in problem and _SECRET_LINE.search(line):
            problem = "the value cannot be read (not shown: it may be a secret)"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}:{line}: YAML error: {exc.reason} (character "
                          f"#x{exc.character:04x})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {' '.join(str(exc).split())}") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _key_lines(node, "", lines, path)
    return data, lines


def read_config_file(path: Path) -> ConfigFile:
    """Read and check the top level of a config file."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a config file "
                              f"(limit {MAX_CONFIG_BYTES})")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {_os_reason(exc)}") from None
    data, lines = parse_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config file must be a mapping with a 'profiles' key, "
                          f"not {_type_name(data)}")
    errors: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            errors.append(f"{_at(path, lines, str(key))}: unknown key '{key}'"
                          f"{_did_you_mean(str(key), TOP_LEVEL_KEYS)}")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        errors.append(f"{_at(path, lines, 'profiles')}: 'profiles' must be a mapping of "
                      f"profile names to profiles, not {_type_name(profiles)}")
        profiles = {}
    default = data.get("default_profile")
    if default is not None and not isinstance(default, str):
        errors.append(f"{_at(path, lines, 'default_profile')}: default_profile must be a "
                      f"profile name, not {_type_name(default)}")
        default = None
    elif default is not None and default not in profiles:
        errors.append(f"{_at(path, lines, 'default_profile')}: default_profile '{default}' "
                      f"is not a profile in this file ({_names(profiles)})")
    _raise_all(errors)
    return ConfigFile(path=path, default_profile=default,
                      profiles={str(k): v for k, v in profiles.items()}, lines=lines)


# ---------------------------------------------------------------- validation

def build_profile(name: str, raw: Any, *, source: Path | None = None,
                  lines: Mapping[str, int] | None = None) -> Profile:
    """Validate one raw profile mapping and fill in Nova's defaults."""
    lines = lines or {}
    where = f"profiles.{name}"
    errors: list[str] = []
    profile = Profile(name=name, source=source)

    def at(key: str) -> str:
        return _at(source, lines, key)

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _raise_all([f"{at(where)}: profile '{name}' must be a mapping, not {_type_name(raw)}"])
    for key, value in raw.items():
        key = str(key)
        path = f"{where}.{key}"
        if key not in PROFILE_KEYS:
            errors.append(f"{at(path)}: unknown key '{key}'{_did_you_mean(key, PROFILE_KEYS)}")
        elif key == "availability_zone":
            if value is not None and not isinstance(value, str):
                errors.append(f"{at(path)}: availability_zone must be a string, "
                              f"not {_type_name(value)}")
            else:
                profile.availability_zone = value
                if value is not None:
                    profile.origins[key] = "file"
        else:
            section = _build_section(SECTIONS[key], value, path, at, errors)
            setattr(profile, "default" if key == "DEFAULT" else key, section)
            if isinstance(value, dict):
                for option_name, option_value in value.items():
                    if option_value is not None:
                        profile.origins[f"{key}.{option_name}"] = "file"
    _check_password_sources(profile, at(f"{where}.vmware"), errors)
    _raise_all(errors)
    return profile


def _build_section(cls: type, raw: Any, path: str, at: Any, errors: list[str]) -> Any:
    section = cls()
    if raw is None:
        return section
    if not isinstance(raw, dict):
        errors.append(f"{at(path)}: expected a mapping of options, not {_type_name(raw)}")
        return section
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        key = str(key)
        if key not in fields:
            errors.append(f"{at(f'{path}.{key}')}: unknown option '{key}'"
                          f"{_did_you_mean(key, list(fields))}")
            continue
        if value is None:
            continue
        try:
            setattr(section, key, convert_value(value, hints[key], fields[key].metadata))
        except ValueError as exc:
            errors.append(f"{at(f'{path}.{key}')}: {exc}")
    return section


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
            raise ValueError(f"expected a string, got {_type_name(value)} (not shown: it is a "
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


def _check_password_sources(profile: Profile, where: str, errors: list[str]) -> None:
    given = [name for name in PASSWORD_SOURCES if getattr(profile.vmware, name) not in (None, "")]
    if len(given) > 1:
        errors.append(f"{where}: set only one of {', '.join(given)}")


def require_vcenter(profile: Profile) -> None:
    """Raise ConfigError unless the profile names a vCenter and a user."""
    missing = [name for name in ("host_ip", "host_username") if not getattr(profile.vmware, name)]
    if missing:
        where = f"profile '{profile.name}' in {profile.source}" if profile.source else \
            "the environment"
        names = " and ".join(f"vmware.{name}" for name in missing)
        raise ConfigError(f"{where} has no {names}: set {'them' if len(missing) > 1 else 'it'} "
                          "in the profile, or set GOVC_URL and GOVC_USERNAME")


# ---------------------------------------------------------------- environment

def _env(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable; empty counts as unset."""
    value = env.get(name)
    return value if value else None


def _govc_url(env: Mapping[str, str]) -> dict[str, Any]:
    url = _env(env, "GOVC_URL")
    if url is None:
        return {}
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ConfigError(f"GOVC_URL uses {parts.scheme}://; vmwctl talks to vCenter over "
                          "https only: use https://HOST[:PORT]")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("GOVC_URL has an invalid port; use https://HOST[:PORT]") from None
    if not parts.hostname:
        raise ConfigError("GOVC_URL has no host name; use https://HOST[:PORT]")
    result: dict[str, Any] = {"host_ip": parts.hostname}
    if port:
        result["host_port"] = port
    if parts.username:
        result["host_username"] = unquote(parts.username)
    if parts.password is not None:
        result["password"] = unquote(parts.password)
    return result


def govc_secret(value: str) -> str:
    """GOVC_USERNAME and GOVC_PASSWORD may name a readable file holding the value, as in govc."""
    path = Path(value)
    try:
        if path.is_file() and os.access(path, os.R_OK):
            return path.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        pass
    return value


def apply_govc_environment(profile: Profile, env: Mapping[str, str]) -> None:
    """Fill in what the profile does not give from GOVC_* variables."""
    v = profile.vmware
    url = _govc_url(env)
    for name in ("host_ip", "host_port", "host_username"):
        if name in url and f"vmware.{name}" not in profile.origins:
            setattr(v, name, url[name])
            profile.origins[f"vmware.{name}"] = "GOVC_URL"
    username = _env(env, "GOVC_USERNAME")
    if username and "vmware.host_username" not in profile.origins:
        v.host_username = govc_secret(username)
        profile.origins["vmware.host_username"] = "GOVC_USERNAME"
    insecure = _env(env, "GOVC_INSECURE")
    if insecure and "vmware.insecure" not in profile.origins:
        v.insecure = insecure.strip().lower() in ("1", "true", "yes", "on")
        profile.origins["vmware.insecure"] = "GOVC_INSECURE"
    ca_certs = _env(env, "GOVC_TLS_CA_CERTS")
    if ca_certs and "vmware.ca_file" not in profile.origins:
        v.ca_file = ca_certs
        profile.origins["vmware.ca_file"] = "GOVC_TLS_CA_CERTS"


def govc_environment_present(env: Mapping[str, str]) -> bool:
    return _env(env, "GOVC_URL") is not None


def load_profile(config: str | None, profile_name: str | None, env: Mapping[str, str],
                 cwd: Path | None = None) -> Profile:
    """Find the config file, pick the profile, validate it, apply GOVC_* fallbacks."""
    path = find_config_file(config, env, cwd)
    name = profile_name or _env(env, "VMWCTL_PROFILE")
    if path is None:
        searched = ", ".join(str(p) for p in config_search_path(env, cwd))
        if name:
            raise ConfigError(f"profile '{name}' requested but no config file was found "
                              f"(searched {searched}); create one or pass --config")
        if not govc_environment_present(env):
            raise ConfigError(f"no config file found (searched {searched}) and GOVC_URL is not "
                              "set: create vmwctl.yaml (see docs/profiles.md), pass --config, "
                              "or set GOVC_URL")
        profile = Profile(name="govc", source=None)
        apply_govc_environment(profile, env)
        return profile
    cfg = read_config_file(path)
    if not cfg.profiles:
        if name or not govc_environment_present(env):
            raise ConfigError(f"{path} defines no profiles: add one under 'profiles:' "
                              "(see docs/profiles.md)")
        profile = Profile(name="govc", source=None)
        apply_govc_environment(profile, env)
        return profile
    name = select_profile_name(cfg, name)
    profile = build_profile(name, cfg.profiles[name], source=path, lines=cfg.lines)
    apply_govc_environment(profile, env)
    return profile


def select_profile_name(cfg: ConfigFile, requested: str | None) -> str:
    """--profile / $VMWCTL_PROFILE, else default_profile, else the only profile."""
    if requested:
        if requested not in cfg.profiles:
            raise ConfigError(f"profile '{requested}' not found in {cfg.path}; profiles there: "
                              f"{_names(cfg.profiles)}{_did_you_mean(requested, cfg.profiles)}")
        return requested
    if cfg.default_profile:
        return cfg.default_profile
    if len(cfg.profiles) == 1:
        return next(iter(cfg.profiles))
    raise ConfigError(f"{cfg.path} has {len(cfg.profiles)} profiles and no default_profile: "
                      f"choose one with --profile NAME ({_names(cfg.profiles)}) or set "
                      "default_profile")


def file_is_private(path: Path) -> bool:
    """True when neither group nor others can read the file."""
    try:
        return not path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    except OSError:
        return True


# ---------------------------------------------------------------- helpers

def _raise_all(errors: list[str]) -> None:
    if not errors:
        return
    if len(errors) == 1:
        raise ConfigError(errors[0])
    more = len(errors) - 1
    error = ConfigError(f"{errors[0]} (and {more} more problem{'s' if more > 1 else ''}; "
                        "run 'vmwctl profile validate' to see all)")
    error.problems = errors  # type: ignore[attr-defined]
    raise error


def _at(path: Path | None, lines: Mapping[str, int], key: str) -> str:
    if path is None:
        return key
    line = lines.get(key)
    return f"{path}:{line}: {key}" if line else f"{path}: {key}"


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _names(profiles: Mapping[str, Any]) -> str:
    return ", ".join(sorted(str(name) for name in profiles)) or "none"


def base_type(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    return typing.get_origin(base) or base


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "empty"}.get(type(value),
                                                                           type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return _type_name(value)
    return repr(value)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
