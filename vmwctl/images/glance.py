"""The image service (Glance), reached through openstacksdk.

openstacksdk is imported here only, when a command first needs Glance: it
costs about a second of start-up that other commands must not pay.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from vmwctl.config import Profile
from vmwctl.errors import AuthError, ConfigError, ConnectError

log = logging.getLogger(__name__)


class ImageService:
    """A connection to Glance (the openstacksdk ``image`` proxy)."""

    def __init__(self, connection: Any, cloud: str) -> None:
        self.connection = connection
        self.cloud = cloud

    @property
    def image(self) -> Any:
        return self.connection.image

    @property
    def endpoint(self) -> str:
        return self.connection.image.get_endpoint()

    def ping(self) -> None:
        """One cheap request that proves the service answers and accepts us."""
        with translate_errors(self.cloud):
            next(iter(self.connection.image.images(limit=1)), None)

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception as exc:  # closing is best effort
            log.debug("closing the image service connection failed: %s", exc)


def open_image_service(profile: Profile, env: Mapping[str, str]) -> ImageService:
    """Connect to the clouds.yaml entry the profile names (or $OS_CLOUD) and check it."""
    cloud = profile.openstack.cloud or env.get("OS_CLOUD") or None
    if cloud is None:
        raise ConfigError(f"profile '{profile.name}' names no image service: set openstack.cloud "
                          "to a clouds.yaml entry, or set OS_CLOUD")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import openstack
        from openstack import exceptions as sdk_exceptions
    # openstacksdk's deprecation notices are for its developers, not for operators.
    warnings.filterwarnings("ignore", module=r"openstack(\.|$)")

    try:
        connection = openstack.connect(cloud=cloud)
    except sdk_exceptions.ConfigException as exc:
        raise ConfigError(f"clouds.yaml entry '{cloud}' cannot be used: {exc}") from None
    service = ImageService(connection, cloud)
    service.ping()
    return service


class translate_errors:  # noqa: N801 (used as a context manager)
    """Map openstacksdk / keystoneauth failures to vmwctl errors with exit codes."""

    def __init__(self, cloud: str) -> None:
        self.cloud = cloud

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        from keystoneauth1 import exceptions as ks
        from openstack import exceptions as sdk

        where = f"the image service of cloud '{self.cloud}'"
        if isinstance(exc, ks.ConnectFailure | ks.DiscoveryFailure | ks.ConnectTimeout):
            raise ConnectError(f"cannot reach {where}: {_first_line(exc)}; check the endpoint "
                               "in clouds.yaml") from None
        if isinstance(exc, ks.Unauthorized | sdk.ForbiddenException) or (
                isinstance(exc, sdk.HttpException) and exc.status_code in (401, 403)):
            raise AuthError(f"{where} refused the credentials: {_first_line(exc)}") from None
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
