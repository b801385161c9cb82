"""Operations on profiles: list, show, validate, and write one imported from nova.conf."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmwctl.common.files import write_atomically
from vmwctl.errors import ConfigError
from vmwctl.profile.govc import apply_govc_environment, govc_environment_present
from vmwctl.profile.load import (
    build_profile,
    config_search_path,
    config_write_target,
    find_config_file,
    load_profile,
    read_config_file,
)
from vmwctl.profile.nova_conf import profile_from_nova_conf, read_nova_conf
from vmwctl.profile.passwords import password_source, profile_warnings
from vmwctl.profile.schema import ENV_SOURCE, Profile, require_vcenter
from vmwctl.profile.yamlfile import dump_yaml, parse_yaml


@dataclass
class ProfileSummary:
    name: str
    default: bool
    selected: bool
    host: str | None
    port: int | None
    username: str | None
    cluster: str | None
    availability_zone: str | None
    valid: bool
    problem: str | None = None


@dataclass
class ProfileListing:
    config_file: str | None
    profiles: list[ProfileSummary]
    # a wrong default_profile: the listing goes on, the command warns
    warnings: list[str] = field(default_factory=list, metadata={"internal": True})


def _summary(profile: Profile, *, default: bool, selected: bool) -> ProfileSummary:
    v = profile.vmware
    return ProfileSummary(name=profile.name, default=default, selected=selected, host=v.host_ip,
                          port=v.host_port, username=v.host_username, cluster=v.cluster_name,
                          availability_zone=profile.availability_zone, valid=True)


def list_profiles(config: str | None, selected: str | None,
                  env: Mapping[str, str]) -> ProfileListing:
    """Every profile of the config file, or the GOVC_* one when there is no file."""
    path = find_config_file(config, env)
    selected = selected or env.get("VMWCTL_PROFILE") or None
    if path is None:
        if not govc_environment_present(env):
            searched = ", ".join(str(p) for p in config_search_path(env))
            raise ConfigError(f"no config file found (searched {searched}) and GOVC_URL is not "
                              "set: create one with 'vmwctl profile import-nova-conf' or see "
                              "docs/profiles.md")
        profile = load_profile(None, None, env)
        return ProfileListing(None, [_summary(profile, default=True, selected=True)])
    cfg = read_config_file(path)
    if selected is None:
        selected = cfg.default_profile or (cfg.profile_names[0] if len(cfg.profiles) == 1
                                           else None)
    rows = []
    for name, raw in cfg.profiles.items():
        flags = {"default": name == cfg.default_profile, "selected": name == selected}
        try:
            profile = build_profile(name, raw, source=path, lines=cfg.lines)
        except ConfigError as exc:
            rows.append(ProfileSummary(name=name, host=None, port=None, username=None,
                                       cluster=None, availability_zone=None, valid=False,
                                       problem=exc.message, **flags))
            continue
        apply_govc_environment(profile, env)
        rows.append(_summary(profile, **flags))
    return ProfileListing(str(path), rows,
                          [cfg.default_problem] if cfg.default_problem else [])


@dataclass
class ProfileView:
    """``profile show``: effective values (secrets redacted) and where they came from."""

    name: str
    source: str
    password_source: str | None
    profile: dict[str, Any]
    origins: dict[str, str]


def show_profile(profile: Profile, env: Mapping[str, str]) -> ProfileView:
    source = password_source(profile, env)
    return ProfileView(name=profile.name, source=profile.source_label,
                       password_source=source.describe() if source else None,
                       profile=profile.as_dict(), origins=dict(sorted(profile.origins.items())))


@dataclass
class ProfileCheck:
    name: str
    valid: bool
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ValidationReport:
    """The file's own problems (a wrong default_profile, an unknown key), then each
    profile's; ``valid`` when there are none."""

    config_file: str
    valid: bool
    problems: list[str]
    profiles: list[ProfileCheck]


def _report(config_file: str, problems: list[str],
            profiles: list[ProfileCheck]) -> ValidationReport:
    return ValidationReport(config_file, not problems and all(p.valid for p in profiles),
                            problems, profiles)


def validate_profiles(config: str | None, names: list[str],
                      env: Mapping[str, str]) -> ValidationReport:
    """Check every profile (or the named ones) of the config file, reporting all problems."""
    path = find_config_file(config, env)
    if path is None:
        if names or not govc_environment_present(env):
            searched = ", ".join(str(p) for p in config_search_path(env))
            raise ConfigError(f"no config file found (searched {searched})")
        profile = load_profile(None, None, env)
        return _report(ENV_SOURCE, [], [_check(profile, env)])
    cfg = read_config_file(path, lenient=True)
    unknown = [n for n in names if n not in cfg.profiles]
    if unknown:
        raise ConfigError(f"profile '{unknown[0]}' not found in {path}; profiles there: "
                          f"{', '.join(sorted(cfg.profiles)) or 'none'}")
    if not cfg.profiles and not cfg.problems:
        raise ConfigError(f"{path} defines no profiles: add one under 'profiles:'")
    checks = []
    for name in names or cfg.profile_names:
        try:
            profile = build_profile(name, cfg.profiles[name], source=path, lines=cfg.lines)
        except ConfigError as exc:
            problems = getattr(exc, "problems", None) or [exc.message]
            checks.append(ProfileCheck(name, False, problems))
            continue
        apply_govc_environment(profile, env)
        checks.append(_check(profile, env))
    return _report(str(path), cfg.problems, checks)


def _check(profile: Profile, env: Mapping[str, str]) -> ProfileCheck:
    check = ProfileCheck(profile.name, True)
    try:
        require_vcenter(profile)
    except ConfigError as exc:
        check.valid = False
        check.problems.append(exc.message)
    check.warnings.extend(profile_warnings(profile))
    source = password_source(profile, env)
    if source is None:
        check.warnings.append("no password source: vmwctl will prompt on a terminal and fail "
                              "elsewhere; set host_password_env, host_password_file or "
                              "host_password_command")
    elif source.kind == "env" and not env.get(source.detail):
        check.warnings.append(f"host_password_env names {source.detail}, which is not set here")
    elif source.kind == "file" and not os.access(os.path.expanduser(source.detail), os.R_OK):
        check.warnings.append(f"host_password_file {source.detail} is not readable here")
    return check


@dataclass
class ImportResult:
    """``profile import-nova-conf``: what was (or would be) written where."""

    profile: str
    config_file: str
    created_file: bool
    written: bool
    password: str
    warnings: list[str]
    data: dict[str, Any]
    dry_run: bool = False
    network: list[str] = field(default_factory=list)  # the network options taken and ignored


def import_nova_conf(nova_conf: Path, name: str, *, config: str | None, env: Mapping[str, str],
                     include_password: bool = False, password_env: str | None = None,
                     replace: bool = False, dry_run: bool = False) -> ImportResult:
    """Build a profile from nova.conf and add it to the config file that would be read."""
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"invalid profile name {name!r}: use a name without spaces")
    if include_password and password_env:
        raise ConfigError("--include-password and --password-env exclude each other")
    imported = profile_from_nova_conf(read_nova_conf(nova_conf), include_password=include_password)
    data = imported.data
    if password_env:
        data.setdefault("vmware", {})["host_password_env"] = password_env
    build_profile(name, data, source=None)  # the same checks as any profile
    if include_password:
        password = "copied into the profile" if imported.password_in_conf else \
            "none in nova.conf"
    elif password_env:
        password = f"read from ${password_env}"
    elif imported.password_in_conf:
        password = ("not copied: set vmware.host_password_env, host_password_file or "
                    "host_password_command, or rerun with --include-password")
    else:
        password = "none in nova.conf"

    target = config_write_target(config, env)
    existing: dict[str, Any] = {}
    if target.exists():
        existing = _read_existing(target)
        if name in (existing.get("profiles") or {}) and not replace:
            raise ConfigError(f"profile '{name}' already exists in {target}: choose another "
                              "--name or pass --replace")
    document = dict(existing) if existing else {"default_profile": name}
    profiles = dict(document.get("profiles") or {})
    profiles[name] = data
    document["profiles"] = profiles
    shown = {**data, "vmware": {**data["vmware"]}}
    if "host_password" in shown["vmware"]:
        shown["vmware"]["host_password"] = "<redacted>"
    result = ImportResult(profile=name, config_file=str(target), created_file=not existing,
                          written=False, password=password, warnings=imported.warnings,
                          data=shown, dry_run=dry_run, network=imported.network)
    if not dry_run:
        write_private_yaml(target, document)
        result.written = True
        # an existing file keeps its mode: say so when that leaves a copied password readable
        result.warnings.extend(profile_warnings(build_profile(name, data, source=target)))
    return result


def _read_existing(path: Path) -> dict[str, Any]:
    # refuse to rewrite a file that is not a valid config, its default_profile included
    if (problem := read_config_file(path).default_problem) is not None:
        raise ConfigError(problem)
    data, _ = parse_yaml(path.read_text(encoding="utf-8"), path)
    return data or {}


def write_private_yaml(path: Path, document: dict[str, Any]) -> None:
    """Write atomically; a new file gets mode 0600, an existing one keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    write_atomically(path, dump_yaml(document), mode)
