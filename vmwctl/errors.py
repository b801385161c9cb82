"""Errors that domain code raises and the command line turns into an exit code.

Each message is one line that says what is wrong and how to fix it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class VmwctlError(Exception):
    """Base class: a failure that vmwctl explains to the user."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class OperationFailed(VmwctlError):
    """The operation was attempted and failed (exit 1)."""


class UsageError(VmwctlError):
    """Bad input from the user: a flag, a file, a value (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration (profile, config file, environment) is wrong (exit 2)."""


class MissingExtra(ConfigError):
    """The installation lacks an optional dependency group the command needs (exit 2)."""


class ConnectError(VmwctlError):
    """The profile's vCenter or image service cannot be reached (exit 3)."""

    exit_code = EXIT_CONNECT


class AuthError(ConnectError):
    """The profile's vCenter or image service refused the credentials (exit 3)."""


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives (exit 143).

    A BaseException, like KeyboardInterrupt, so that ``except Exception``
    clauses in library code do not swallow it.
    """
