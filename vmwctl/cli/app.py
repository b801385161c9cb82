"""The application object shared by every command of one invocation (``ctx.obj``).

It owns the output, the profile (loaded on first use), the vCenter session and
the image-service client (both opened on first use, closed at exit).
"""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from vmwctl.cli.output import Output
from vmwctl.common.metrics import MetricsFile
from vmwctl.common.redact import RedactingFilter
from vmwctl.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    ConfigError,
    UsageError,
    VmwctlError,
)
from vmwctl.profile.load import load_profile
from vmwctl.profile.schema import Profile, require_vcenter

if TYPE_CHECKING:
    from vmwctl.common.interrupts import Stopper
    from vmwctl.images.glance import ImageService
    from vmwctl.vsphere.session import VCenter

A = TypeVar("A")
B = TypeVar("B")


class App:
    """State and services of one vmwctl invocation."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.out = Output(env=self.env)
        self.verbosity = 0
        self.config_option: str | None = None
        self.profile_option: str | None = None
        self.insecure_option = False
        self._profile: Profile | None = None
        self._vcenter: VCenter | None = None
        self._images: ImageService | None = None
        self._log_handler: logging.Handler | None = None
        self.metrics: MetricsFile | None = None  # --metrics-file (vmwctl/cli/metrics.py)

    # ------------------------------------------------------------ settings

    def set_output(self, fmt: str) -> None:
        self.out.format = fmt

    def set_quiet(self, quiet: bool) -> None:
        self.out.quiet = self.out.quiet or quiet
        self._configure_logging()

    def add_verbosity(self, count: int) -> None:
        self.verbosity += count
        self._configure_logging()

    def _configure_logging(self) -> None:
        logger = logging.getLogger("vmwctl")
        if self._log_handler is None:
            self._log_handler = logging.StreamHandler(self.out.stderr)
            self._log_handler.addFilter(RedactingFilter())
            self._log_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            logger.addHandler(self._log_handler)
            logger.propagate = False
        if self.out.quiet:
            level = logging.ERROR
        else:
            level = {0: logging.WARNING, 1: logging.INFO}.get(self.verbosity, logging.DEBUG)
        logger.setLevel(level)

    # ------------------------------------------------------------ profile

    @property
    def profile(self) -> Profile:
        """The selected profile, loaded and validated on first use."""
        if self._profile is None:
            self._profile = self.load_profile(self.profile_option)
        return self._profile

    def load_profile(self, name: str | None) -> Profile:
        """Load a profile (default: the selected one) and warn about how it keeps secrets."""
        from vmwctl.profile.passwords import profile_warnings

        profile = load_profile(self.config_option, name or self.profile_option, self.env)
        for warning in profile_warnings(profile):
            self.out.warn(warning)
        return profile

    def named_profiles(self, names: list[str]) -> list[Profile]:
        """The config file's profiles ``names`` (every profile when empty), each validated,
        their warnings said once for all (``check fleet``, ``cache purge --profiles``). A
        name the file lacks is refused (exit 2) before anything is done; no config file:
        no profiles, or an error when names were given."""
        from vmwctl.profile.load import build_profile, find_config_file, read_config_file
        from vmwctl.profile.passwords import profile_warnings

        path = find_config_file(self.config_option, self.env)
        if path is None:
            if names:
                raise ConfigError("--profiles needs a config file; none was found")
            return []
        config = read_config_file(path)
        unknown = [n for n in names if n not in config.profiles]
        if unknown:
            raise UsageError(f"no profile {', '.join(map(repr, unknown))} in {path}; profiles "
                             f"there: {', '.join(config.profile_names)}")
        profiles, warnings = [], {}  # several profiles of one file: each warning once
        for name in names or config.profile_names:
            profile = build_profile(name, config.profiles[name], source=path, lines=config.lines)
            warnings.update(dict.fromkeys(profile_warnings(profile)))
            profiles.append(profile)
        for warning in warnings:
            self.out.warn(warning)
        return profiles

    # ------------------------------------------------------------ services

    @property
    def vcenter(self) -> VCenter:
        """The vCenter session, opened on first use."""
        if self._vcenter is None:
            vcenter = self.open_vcenter(self.profile, connect=False)
            # kept before logging in, so that close() logs out whatever stops the run
            self._vcenter = vcenter
            vcenter.connect()
        return self._vcenter

    def open_vcenter(self, profile: Profile, *, prompt: bool = True,
                     connect_timeout: float | None = None,
                     api_retry_count: int | None = None, connect: bool = True) -> VCenter:
        """A new, logged-in session on the profile's vCenter (the caller closes it).

        ``prompt`` allows asking for the password on a terminal; ``connect`` False: not
        logged in yet (the caller connects).
        """
        from vmwctl.profile.passwords import password_warnings, resolve_password
        from vmwctl.vsphere.session import ConnectionSettings, VCenter

        require_vcenter(profile)
        v = profile.vmware
        insecure = self.insecure_option or (v.insecure and not v.ca_file)
        if insecure:
            origin = profile.origins.get("vmware.insecure")
            reason = "--insecure" if self.insecure_option else \
                "GOVC_INSECURE" if origin == "GOVC_INSECURE" else "vmware.insecure"
            self.out.warn(f"TLS certificate verification of {v.host_ip} is off ({reason})")

        def password() -> str:
            asker = getpass.getpass if prompt and self.stdin_is_terminal() else None
            secret = resolve_password(profile, self.env, prompt=asker)
            for warning in password_warnings(secret):
                self.out.warn(warning)  # once per run, also for check fleet's many logins
            return secret

        settings = ConnectionSettings(
            host=v.host_ip or "", port=v.host_port, username=v.host_username or "",
            password=password, ca_file=None if self.insecure_option else v.ca_file,
            ca_file_source=profile.origins.get("vmware.ca_file") if profile.origins.get(
                "vmware.ca_file") == "GOVC_TLS_CA_CERTS" else "vmware.ca_file",
            insecure=insecure,
            api_retry_count=v.api_retry_count if api_retry_count is None else api_retry_count,
            task_poll_interval=v.task_poll_interval)
        if connect_timeout is not None:
            settings.connect_timeout = connect_timeout
            settings.read_timeout = min(settings.read_timeout, connect_timeout * 4)
        vcenter = VCenter(settings)
        if connect:
            vcenter.connect()
        return vcenter

    @property
    def images(self) -> ImageService:
        """The image-service client, opened on first use."""
        if self._images is None:
            from vmwctl.images.glance import open_image_service

            self._images = open_image_service(self.profile, self.env)
        return self._images

    def images_beside_vcenter(self, glance: Callable[[ImageService], A],
                              vcenter: Callable[[VCenter], B]) -> tuple[A, B]:
        """``glance(self.images)`` in a thread while ``vcenter(self.vcenter)`` runs here, so
        that the image service's login and lookup overlap vCenter's login and inventory
        read (vm spawn, cache seed).

        The cloud's settings are read first, here (a cloud that cannot be used stops the
        command before vCenter is contacted); the thread only talks to Keystone and Glance,
        its modules imported already, while ``vcenter`` may import pyVmomi and the rest of
        what the command needs here. Both then run to their end.
        An error of the image service is raised as when it ran first; when vCenter failed
        too, its error is said on stderr before. The vCenter session is the App's, logged
        out by :meth:`close` whatever happens. On Ctrl-C or SIGTERM the thread is not
        waited for (it holds no vCenter session).
        """
        import threading

        service = self._images
        if service is None:
            from vmwctl.images.glance import image_service

            service = self._images = image_service(self.profile, self.env)
        outcome: dict[str, Any] = {}

        def look_up() -> None:
            try:
                outcome["found"] = glance(service)
            except BaseException as exc:  # handed to the main thread
                outcome["error"] = exc

        thread = threading.Thread(target=look_up, name="vmwctl-image-service", daemon=True)
        thread.start()
        try:
            read = vcenter(self.vcenter)
        except VmwctlError as exc:
            thread.join()
            if "error" not in outcome:
                raise
            self.out.failure(exc.message)
            raise outcome["error"] from None
        except Exception:
            thread.join()
            raise
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["found"], read

    @staticmethod
    def stdin_is_terminal() -> bool:
        try:
            return sys.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    # ------------------------------------------------------------ interaction

    def render(self, data: Any, human: Any = None) -> None:
        self.out.result(data, human)

    def finish_batch(self, report: Any, human: Callable[[Any], Any], failures: Iterable[str], *,
                     stopper: Stopper | None = None, failed: bool = False) -> int:
        """How every batch command ends (cache purge|evict, vm delete, firewall
        enable|disable|vib install): the report, which stays the one document; one failure
        line per failed item (stderr, shown with -q too); "interrupted" or "terminated" and
        exit 130/143 when a signal stopped the run between items; else exit 1 when anything
        failed (a failure line, or ``failed``), 0 otherwise."""
        self.render(report, human)
        lines = list(failures)
        for line in lines:
            self.out.failure(line)
        if stopper is not None and stopper.requested:
            terminated = stopper.signal == signal.SIGTERM
            self.out.failure("terminated" if terminated else "interrupted")
            return EXIT_SIGTERM if terminated else EXIT_SIGINT
        return EXIT_FAILED if lines or failed else EXIT_OK

    def confirm(self, question: str, *, yes: bool, act_without_terminal: bool = False) -> bool:
        """Ask before a destructive step on a terminal; scripts pass --yes.

        Without a terminal the answer is no (an error telling to pass --yes),
        unless ``act_without_terminal`` (for jobs made to run from cron).
        """
        if yes:
            return True
        if not self.stdin_is_terminal():
            if act_without_terminal:
                return True
            raise UsageError(f"{question.rstrip('?')}: refusing without confirmation; pass "
                             "--yes to run without a terminal")
        import click

        return click.confirm(question, default=False, err=True)

    def write_metrics(self, exit_code: int) -> int:
        """Write the --metrics-file (if any) as the run ends, if the command began
        (``vmwctl.cli.metrics.identify``); the exit status, 1 instead of 0 when the file could
        not be written."""
        metrics, self.metrics = self.metrics, None
        if metrics is None or not metrics.began:  # --help, or click refused the command line
            return exit_code
        try:
            metrics.finish(exit_code)
        except VmwctlError as exc:  # after the result: a line on stderr, not a 2nd document
            self.out.failure(exc.message)
            return exit_code or exc.exit_code
        return exit_code

    def close(self) -> None:
        """Log out and close connections; safe to call more than once."""
        vcenter, images = self._vcenter, self._images
        self._vcenter = self._images = None
        try:
            if vcenter is not None:
                vcenter.close()  # a signal held meanwhile is raised after the logout
        finally:
            if images is not None:
                images.close()
            if self._log_handler is not None:
                logging.getLogger("vmwctl").removeHandler(self._log_handler)
                self._log_handler = None
