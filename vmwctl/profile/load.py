"""Finding the config file, reading it, and building a validated profile from it."""

from __future__ import annotations

import dataclasses
import stat
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmwctl.common.choices import did_you_mean
from vmwctl.errors import ConfigError
from vmwctl.profile.govc import apply_govc_environment, env_value, govc_environment_present
from vmwctl.profile.schema import (
    NETWORK_MODELS,
    PASSWORD_SOURCES,
    PROFILE_KEYS,
    SECTIONS,
    TOP_LEVEL_KEYS,
    Profile,
    convert_value,
    type_name,
)
from vmwctl.profile.yamlfile import parse_yaml

CONFIG_FILE_NAME = "vmwctl.yaml"
MAX_CONFIG_BYTES = 1 << 20


@dataclass
class ConfigFile:
    """A parsed config file: its profiles, still raw, and where each key sits.

    ``problems``: those of the file's own keys, one line each; ``default_problem`` is the
    one about default_profile (then None), which matters only where the default is used.
    """

    path: Path
    default_profile: str | None
    profiles: dict[str, Any]
    lines: dict[str, int]
    problems: list[str] = field(default_factory=list)
    default_problem: str | None = None

    @property
    def profile_names(self) -> list[str]:
        return list(self.profiles)


def config_search_path(env: Mapping[str, str], cwd: Path | None = None) -> list[Path]:
    """The places searched for a config file after --config and $VMWCTL_CONFIG."""
    cwd = cwd or Path.cwd()
    home = Path(env_value(env, "HOME") or Path.home())
    xdg = env_value(env, "XDG_CONFIG_HOME") or str(home / ".config")
    return [cwd / CONFIG_FILE_NAME, Path(xdg) / "vmwctl" / "config.yaml"]


def find_config_file(explicit: str | None, env: Mapping[str, str],
                     cwd: Path | None = None) -> Path | None:
    """The config file to read, in order: --config, $VMWCTL_CONFIG, ./vmwctl.yaml, XDG."""
    from_env = env_value(env, "VMWCTL_CONFIG")
    for given, label in ((explicit, "--config"), (from_env, "VMWCTL_CONFIG")):
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
    for given in (explicit, env_value(env, "VMWCTL_CONFIG")):
        if given:
            return Path(given).expanduser()
    search = config_search_path(env, cwd)
    return next((path for path in search if path.is_file()), search[-1])


def read_config_file(path: Path, *, lenient: bool = False) -> ConfigFile:
    """Read and check the top level of a config file.

    Its problems are raised, all in one error, but for a wrong default_profile: that one
    is raised by :func:`select_profile_name` when the default is what gets used, so that
    an explicit profile works whatever the default says. ``lenient``: nothing is raised
    past the YAML itself; the problems are in the result (``profile validate``).
    """
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
                          f"not {type_name(data)}")
    errors: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            errors.append(f"{_at(path, lines, str(key))}: unknown key '{key}'"
                          f"{did_you_mean(str(key), TOP_LEVEL_KEYS)}")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        errors.append(f"{_at(path, lines, 'profiles')}: 'profiles' must be a mapping of "
                      f"profile names to profiles, not {type_name(profiles)}")
        profiles = {}
    default = data.get("default_profile")
    default_problem = None
    if default is not None and not isinstance(default, str):
        default_problem = (f"{_at(path, lines, 'default_profile')}: default_profile must be a "
                           f"profile name, not {type_name(default)}")
    elif default is not None and default not in profiles:
        default_problem = (f"{_at(path, lines, 'default_profile')}: default_profile "
                           f"'{default}' is not a profile in this file ({_names(profiles)})")
    if not lenient:
        _raise_all(errors)
    return ConfigFile(path=path, default_profile=None if default_problem else default,
                      profiles={str(k): v for k, v in profiles.items()}, lines=lines,
                      problems=errors + ([default_problem] if default_problem else []),
                      default_problem=default_problem)


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
        _raise_all([f"{at(where)}: profile '{name}' must be a mapping, not {type_name(raw)}"])
    for key, value in raw.items():
        key = str(key)
        path = f"{where}.{key}"
        if key not in PROFILE_KEYS:
            errors.append(f"{at(path)}: unknown key '{key}'{did_you_mean(key, PROFILE_KEYS)}")
        elif key == "availability_zone":
            if value is not None and not isinstance(value, str):
                errors.append(f"{at(path)}: availability_zone must be a string, "
                              f"not {type_name(value)}")
            else:
                profile.availability_zone = value
                if value is not None:
                    profile.origins[key] = "file"
        elif key == "network_model":
            if value is not None and value not in NETWORK_MODELS:
                shown = repr(value) if isinstance(value, str) else type_name(value)
                errors.append(f"{at(path)}: network_model must be one of "
                              f"{', '.join(NETWORK_MODELS)}, not {shown}"
                              f"{did_you_mean(str(value), NETWORK_MODELS)}")
            else:
                profile.network_model = value
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
        errors.append(f"{at(path)}: expected a mapping of options, not {type_name(raw)}")
        return section
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        key = str(key)
        if key not in fields:
            errors.append(f"{at(f'{path}.{key}')}: unknown option '{key}'"
                          f"{did_you_mean(key, list(fields))}")
            continue
        if value is None:
            continue
        try:
            setattr(section, key, convert_value(value, hints[key], fields[key].metadata))
        except ValueError as exc:
            errors.append(f"{at(f'{path}.{key}')}: {exc}")
    return section


def _check_password_sources(profile: Profile, where: str, errors: list[str]) -> None:
    given = [name for name in PASSWORD_SOURCES if getattr(profile.vmware, name) not in (None, "")]
    if len(given) > 1:
        errors.append(f"{where}: set only one of {', '.join(given)}")


def load_profile(config: str | None, profile_name: str | None, env: Mapping[str, str],
                 cwd: Path | None = None) -> Profile:
    """Find the config file, pick the profile, validate it, apply GOVC_* fallbacks."""
    path = find_config_file(config, env, cwd)
    name = profile_name or env_value(env, "VMWCTL_PROFILE")
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
                              f"{_names(cfg.profiles)}{did_you_mean(requested, cfg.profiles)}")
        return requested
    if cfg.default_problem:
        raise ConfigError(cfg.default_problem)
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


def _names(profiles: Mapping[str, Any]) -> str:
    return ", ".join(sorted(str(name) for name in profiles)) or "none"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
