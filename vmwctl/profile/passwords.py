"""Resolving the vCenter password from the source a profile names.

The password is read only when a connection needs it, registered for
redaction at once, and never passed on a command line. A password too short
to redact reliably draws a warning (:func:`password_warnings`), which the
caller shows.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from vmwctl.common import redact
from vmwctl.errors import ConfigError
from vmwctl.profile.govc import env_value, govc_secret, govc_url
from vmwctl.profile.load import file_is_private
from vmwctl.profile.schema import PasswordSource, Profile

PASSWORD_COMMAND_TIMEOUT = 60


def password_source(profile: Profile, env: Mapping[str, str]) -> PasswordSource | None:
    """The one configured password source, or None when there is none."""
    v = profile.vmware
    if v.host_password is not None:
        return PasswordSource("value", "host_password", v.host_password)
    if v.host_password_env:
        return PasswordSource("env", v.host_password_env)
    if v.host_password_file:
        return PasswordSource("file", v.host_password_file)
    if v.host_password_command:
        return PasswordSource("command", v.host_password_command[0])
    govc = env_value(env, "GOVC_PASSWORD")
    if govc is not None:
        return PasswordSource("govc", "environment variable GOVC_PASSWORD", govc)
    url_password = govc_url(env).get("password")
    if url_password is not None:
        return PasswordSource("govc", "the password in GOVC_URL", url_password)
    return None


def resolve_password(profile: Profile, env: Mapping[str, str], *,
                     prompt: Callable[[str], str] | None = None) -> str:
    """Return the password from the profile's source; prompt only when given a prompter."""
    source = password_source(profile, env)
    if source is None:
        if prompt is None:
            raise ConfigError(
                f"no password for {profile.vmware.host_username or 'the vCenter user'}: set "
                "vmware.host_password_env, host_password_file or host_password_command in the "
                "profile, or GOVC_PASSWORD (a prompt is offered only on a terminal)")
        source = PasswordSource("prompt", "terminal")
        password = prompt(f"Password for {profile.vmware.host_username}@"
                          f"{profile.vmware.host_ip}: ")
    else:
        password = _read(source, profile, env)
    if not password:
        raise ConfigError(f"the vCenter password from {source.describe()} is empty")
    redact.register(password)
    return password


def _read(source: PasswordSource, profile: Profile, env: Mapping[str, str]) -> str:
    if source.kind == "value":
        return source.value or ""
    if source.kind == "govc":
        return govc_secret(source.value or "")
    if source.kind == "env":
        value = env.get(source.detail)
        if not value:
            raise ConfigError(f"vmware.host_password_env names {source.detail}, which is not set "
                              "or empty: export it, or choose another password source")
        return value
    if source.kind == "file":
        path = Path(source.detail).expanduser()
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read vmware.host_password_file {path}: {reason}") from None
    return _run_command(profile.vmware.host_password_command or [])


def _run_command(argv: list[str]) -> str:
    """Run the password command (an argument list, never a shell) and take its first line."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=PASSWORD_COMMAND_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ConfigError(f"vmware.host_password_command: {argv[0]} not found; give the full "
                          "path of the program") from None
    except PermissionError:
        raise ConfigError(f"vmware.host_password_command: {argv[0]} is not executable") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"vmware.host_password_command: {argv[0]} did not finish within "
                          f"{PASSWORD_COMMAND_TIMEOUT} s") from None
    if done.returncode != 0:
        raise ConfigError(f"vmware.host_password_command: {argv[0]} exited with status "
                          f"{done.returncode}; run it by hand to see why")
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return lines[0] if lines else ""


def password_warnings(password: str) -> list[str]:
    """Warnings about a password in use: one too short for :mod:`vmwctl.common.redact` to
    hide reliably (the message never quotes the password)."""
    how = redact.coverage(password)
    if how == "anywhere":
        return []
    if how == "alone":
        hidden = (f"fewer than {redact.ANYWHERE_LENGTH} characters, too short to redact "
                  "reliably: messages and logs hide it only where it stands alone, not "
                  "inside longer words")
    else:
        hidden = (f"fewer than {redact.MIN_LENGTH} characters, too short to redact: "
                  "messages and logs do not hide it")
    return [f"the vCenter password has {hidden}; give the vCenter service account a "
            f"password of {redact.ANYWHERE_LENGTH} characters or more"]


def profile_warnings(profile: Profile) -> list[str]:
    """Warnings about how a profile keeps its secrets."""
    warnings = []
    if profile.vmware.host_password is not None and profile.source is not None \
            and not file_is_private(profile.source):
        warnings.append(f"{profile.source} holds a plain host_password and is readable by group "
                        f"or others: chmod 600 {profile.source}, or use host_password_env, "
                        "host_password_file or host_password_command")
    pw_file = profile.vmware.host_password_file
    if pw_file and os.path.isfile(os.path.expanduser(pw_file)) \
            and not file_is_private(Path(pw_file).expanduser()):
        warnings.append(f"password file {pw_file} is readable by group or others: "
                        f"chmod 600 {pw_file}")
    return warnings
