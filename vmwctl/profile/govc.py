"""The environment variables vmwctl reads as govc does (GOVC_URL, GOVC_USERNAME,
GOVC_PASSWORD, GOVC_INSECURE, GOVC_TLS_CA_CERTS): what a profile does not set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from vmwctl.errors import ConfigError
from vmwctl.profile.schema import Profile


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable; empty counts as unset."""
    value = env.get(name)
    return value if value else None


def govc_url(env: Mapping[str, str]) -> dict[str, Any]:
    url = env_value(env, "GOVC_URL")
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
    url = govc_url(env)
    for name in ("host_ip", "host_port", "host_username"):
        if name in url and f"vmware.{name}" not in profile.origins:
            setattr(v, name, url[name])
            profile.origins[f"vmware.{name}"] = "GOVC_URL"
    username = env_value(env, "GOVC_USERNAME")
    if username and "vmware.host_username" not in profile.origins:
        v.host_username = govc_secret(username)
        profile.origins["vmware.host_username"] = "GOVC_USERNAME"
    insecure = env_value(env, "GOVC_INSECURE")
    if insecure and "vmware.insecure" not in profile.origins:
        v.insecure = insecure.strip().lower() in ("1", "true", "yes", "on")
        profile.origins["vmware.insecure"] = "GOVC_INSECURE"
    ca_certs = env_value(env, "GOVC_TLS_CA_CERTS")
    if ca_certs and "vmware.ca_file" not in profile.origins:
        v.ca_file = ca_certs
        profile.origins["vmware.ca_file"] = "GOVC_TLS_CA_CERTS"


def govc_environment_present(env: Mapping[str, str]) -> bool:
    return env_value(env, "GOVC_URL") is not None
