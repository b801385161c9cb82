"""The image service (Glance v2), reached through openstacksdk's config loader and keystoneauth.

openstacksdk is imported here only, when a command first needs Glance, and
only its config loader (``openstack.config``: clouds.yaml, secure.yaml,
``OS_*``, every keystoneauth auth plugin) with keystoneauth; the rest of the
SDK, a proxy for every OpenStack service, is imported only by the commands
that call the compute API (:attr:`ImageService.connection`). Requests go
through a keystoneauth adapter on Glance's endpoint, found as the SDK's image
proxy finds it, but the payloads are Glance's own JSON, which keeps image
properties exactly as Nova will read them.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import logging
import os
import re
import sys
import threading
import time
import types
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vmwctl.common import redact
from vmwctl.common.choices import did_you_mean
from vmwctl.errors import AuthError, ConfigError, ConnectError, MissingExtra, OperationFailed
from vmwctl.profile.schema import Profile

log = logging.getLogger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
                   re.IGNORECASE)
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
LIST_PAGE = 200
# Top-level attributes of a Glance image; everything else is a property.
CORE_ATTRIBUTES = {
    "id", "name", "status", "visibility", "protected", "checksum", "owner", "size",
    "min_ram", "min_disk", "disk_format", "container_format", "created_at", "updated_at",
    "tags", "direct_url", "virtual_size", "self", "file", "schema", "locations",
    "os_hash_algo", "os_hash_value", "os_hidden", "stores",
}


class GlanceError(OperationFailed):
    """Glance answered with an error; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


# Auth types whose token cannot be renewed, and the pace at which vmwctl assumes data
# reaches Glance when it judges whether such a token outlives an upload.
TOKEN_AUTH_TYPES = ("v3token", "token", "v2token")
TOKEN_RATE = 25_000_000  # bytes per second
TOKEN_MARGIN = 120  # seconds: creating, verifying and, on failure, deleting the image


# Glance policies an operator meets, and what each refuses (Glance's default policies:
# publicizing and communitizing are admin-only, readers cannot create).
POLICY_ACTIONS = {
    "publicize_image": ("publish images", "upload it with --visibility private or shared, "
                                          "or ask an admin to publish it"),
    "communitize_image": ("make images community images", "ask an admin"),
    "add_image": ("create images", "a reader lists and inspects; uploading needs the member "
                                   "role"),
    "upload_image": ("upload image data", "use Glance's import API (--method import, or auto), "
                                          "or ask for the role the cloud's policy names"),
    "modify_image": ("change this image", "it belongs to another project"),
    "delete_image": ("delete this image", "it belongs to another project"),
}


def _minutes(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else _minutes(seconds)


def properties_of(image: Mapping[str, Any]) -> dict[str, Any]:
    """An image's custom properties (everything that is not a core attribute)."""
    return {k: v for k, v in image.items() if k not in CORE_ATTRIBUTES}


@dataclass
class Scope:
    """Whom Keystone's token speaks for: a project and the roles held in it."""

    project: str  # its name, else its id
    project_id: str
    roles: list[str]


class ImageService:
    """Glance operations vmwctl needs, on one authenticated keystoneauth session.

    ``cloud_region``: openstacksdk's CloudRegion of the cloud (its settings and its
    keystoneauth session, made on first use).
    """

    def __init__(self, cloud_region: Any, cloud: str) -> None:
        self.cloud_region = cloud_region
        self.cloud = cloud
        self._adapter: Any = None
        self._session: Any = None
        self._connection: Any = None

    @property
    def settings(self) -> dict[str, Any]:
        """The cloud's merged settings (clouds.yaml, secure.yaml, OS_*)."""
        return self.cloud_region.config

    @property
    def auth_url(self) -> str | None:
        """The Keystone URL the cloud authenticates at (None without Keystone)."""
        return (self.settings.get("auth") or {}).get("auth_url")

    @property
    def region(self) -> str | None:
        return self.cloud_region.get_region_name("image") or None

    @property
    def interface(self) -> str:
        return self.cloud_region.get_interface("image") or "public"

    @property
    def session(self) -> Any:
        """The keystoneauth session (authenticates on its first request)."""
        if self._session is None:
            self._session = self.cloud_region.get_session()
        return self._session

    @property
    def proxy(self) -> Any:
        """A keystoneauth adapter on Glance's v2 endpoint (found on first use)."""
        if self._adapter is None:
            self.session  # noqa: B018 (made first, so that close() closes it)
            self._adapter = _image_adapter(self.cloud_region)
        return self._adapter

    @property
    def connection(self) -> Any:
        """openstacksdk's Connection on the same cloud and session (the token is shared),
        for the compute API (audit's servers, cluster's flavors): only those import the
        whole SDK."""
        if self._connection is None:
            self.session  # noqa: B018
            _import_sdk()
            from openstack import connection

            self._connection = connection.Connection(config=self.cloud_region)
        return self._connection

    @property
    def endpoint(self) -> str:
        return self.proxy.get_endpoint()

    def token_expires_at(self) -> datetime.datetime | None:
        """When the cloud's token expires, for auth that cannot get a new one (a token given
        in clouds.yaml or OS_TOKEN); None when keystoneauth re-authenticates by itself."""
        auth_type = str(self.settings.get("auth_type") or "")
        if auth_type not in TOKEN_AUTH_TYPES:
            return None
        session = self.session
        with translate_errors(self):
            reference = session.auth.get_auth_ref(session)
        return reference.expires

    def require_token_for(self, size: int, what: str,
                          now: datetime.datetime | None = None) -> None:
        """AuthError when a given token would expire before ``what`` (``size`` bytes at
        TOKEN_RATE, plus TOKEN_MARGIN) could end: with an expired token nothing can be done,
        not even deleting a half-made image."""
        expires = self.token_expires_at()
        if expires is None:
            return
        now = now or datetime.datetime.now(datetime.UTC)
        left = (expires - now).total_seconds()
        needed = size / TOKEN_RATE + TOKEN_MARGIN
        if left >= needed:
            return
        said = "has expired" if left <= 0 else f"expires in {_minutes(left)}"
        raise AuthError(f"the token of cloud '{self.cloud}' {said} ({expires:%Y-%m-%d %H:%M:%S} "
                        f"UTC); {what} ({size} bytes) may take {_minutes(needed)} at the "
                        f"{TOKEN_RATE // 1_000_000} MB/s vmwctl assumes, and a token that "
                        "expires midway leaves no way to finish or clean up: get a fresh "
                        "token, or authenticate with a password or an application credential "
                        "(keystoneauth renews those)")

    def _request(self, method: str, url: str, *, expect: tuple[int, ...], what: str,
                 refused: str | None = None, **kwargs: Any) -> Any:
        """Glance's answer; GlanceError when its status is not in ``expect``. With
        ``refused`` (what is left as it was: "nothing created"), a 403 is told as the policy
        that refused it (OperationFailed)."""
        with translate_errors(self):
            response = self.proxy.request(url, method, raise_exc=False, **kwargs)
        if response.status_code not in expect:
            body = response.text.strip() if response.content else ""
            error = GlanceError(f"{what} failed: Glance answered HTTP {response.status_code}"
                                f"{': ' + glance_reason(body) if body else ''}",
                                response.status_code, body)
            if refused is not None and response.status_code == 403:
                raise OperationFailed(f"{what}: {self.policy_refusal(error)}; {refused}")
            raise error
        return response

    def ping(self) -> None:
        """One cheap request that proves the service answers and accepts us."""
        self._request("GET", "/images?limit=1", expect=(200,), what="listing images")

    def create(self, name: str, properties: Mapping[str, Any], *, disk_format: str = "vmdk",
               container_format: str = "bare") -> dict[str, Any]:
        body = {"name": name, "disk_format": disk_format, "container_format": container_format,
                **properties}
        return self._request("POST", "/images", json=body, expect=(201,),
                             what=f"creating image {name!r}", refused="nothing created").json()

    def scope(self) -> Scope | None:
        """The project the token is scoped to and the roles held there; None without
        Keystone (auth_type none) or when it cannot be read."""
        try:
            session = self.session
            reference = session.auth.get_auth_ref(session)
        except Exception:  # no Keystone, or the error in hand is the one to tell
            return None
        project_id = getattr(reference, "project_id", None)
        if project_id is None:
            return None
        return Scope(project=getattr(reference, "project_name", None) or project_id,
                     project_id=project_id,
                     roles=sorted(getattr(reference, "role_names", None) or []))

    def policy_refusal(self, exc: GlanceError) -> str:
        """A 403 from Glance in words: which policy refused what, to whom."""
        reason = glance_reason(exc.body) if exc.body else exc.message
        match = re.search(r"\b([a-z]+(?:_[a-z]+)+)\b action", reason)
        policy = match.group(1) if match else None
        scope = self.scope()
        whose = f"your role in project {scope.project}" if scope else "your role"
        known = POLICY_ACTIONS.get(policy or "")
        if known is not None:
            doing, remedy = known
            return f"{whose} cannot {doing} (Glance policy {policy}): {remedy}"
        if policy:
            return f"Glance policy {policy} refuses it to {whose}"
        return f"Glance refuses it to {whose}: {reason}"

    def upload(self, image_id: str, chunks: Iterable[bytes | memoryview], *,
               store: str | None = None) -> None:
        """Stream the data (chunked transfer encoding) into ``store`` (None: Glance's
        default); nothing is held in memory."""
        headers = {"X-Image-Meta-Store": store} if store else {}
        self._send_body("PUT", f"/images/{image_id}/file", chunks, headers,
                        f"uploading the data of image {image_id}")

    def stage(self, image_id: str, chunks: Iterable[bytes | memoryview]) -> None:
        """Stream the data into Glance's staging area (the glance-direct import's first
        step); the image becomes ``uploading``."""
        self._send_body("PUT", f"/images/{image_id}/stage", chunks, {},
                        f"staging the data of image {image_id}")

    def _send_body(self, method: str, url: str, chunks: Iterable[bytes | memoryview],
                   headers: Mapping[str, str], what: str) -> None:
        # No retries, no new token and a second try after a 401: the body is a stream
        # already consumed, and a retry would send nothing.
        self._watch_early_answers()
        self._fresh_token()
        life = self.token_life()
        started = time.monotonic()
        try:
            self._request(method, url, data=chunks, expect=(204,),
                          headers={"Content-Type": "application/octet-stream", **headers},
                          what=what, connect_retries=0, status_code_retries=0,
                          retriable_status_codes=[], allow_reauth=False)
        except GlanceError as exc:
            if exc.status != 401:
                raise
            raise AuthError(self._token_expired_midway(what, time.monotonic() - started,
                                                       life)) from None

    def token_life(self) -> float | None:
        """How long Keystone's tokens live here, in seconds (None without Keystone)."""
        try:
            session = self.session
            reference = session.auth.get_access(session)
            return (reference.expires - reference.issued).total_seconds()
        except Exception:  # no Keystone, or no expiry to read
            return None

    def _fresh_token(self, *, used: float = 0.1) -> None:
        """Authenticate anew before a request with a body when more than ``used`` of the
        token's life has gone (password and application-credential auth): Glance checks the
        token when it starts reading, which a proxy that buffers requests delays until all
        the data has arrived; keystoneauth alone renews only under two minutes left."""
        if str(self.settings.get("auth_type") or "") in TOKEN_AUTH_TYPES:
            return
        try:
            session = self.session
            reference = session.auth.auth_ref
            if reference is None or reference.expires is None or reference.issued is None:
                return
            life = (reference.expires - reference.issued).total_seconds()
            left = (reference.expires - datetime.datetime.now(datetime.UTC)).total_seconds()
        except AttributeError:  # no Keystone
            return
        if left < life * (1 - used):
            session.invalidate()

    def _token_expired_midway(self, what: str, seconds: float, life: float | None) -> str:
        lives = f" (Keystone's tokens here live {_duration(life)})" if life else ""
        auth_type = str(self.settings.get("auth_type") or "")
        if auth_type in TOKEN_AUTH_TYPES:
            remedy = ("get a fresh token, or authenticate with a password or an application "
                      "credential (keystoneauth renews those)")
        else:
            remedy = ("a proxy in front of Glance that buffers whole requests (nginx's default "
                      "proxy_request_buffering) hands the request over only once all of it "
                      "has arrived: have it stream requests, or raise Keystone's [token] "
                      "expiration above the transfer's time")
        return (f"{what}: the image service of cloud '{self.cloud}' refused the token as "
                f"expired after {seconds:.0f} s of transfer{lives}; Glance checks the token "
                f"when it starts reading the request, and by then it had expired: {remedy}")

    def _watch_early_answers(self) -> None:
        """Bodies to Glance stop once Glance has answered (a refusal before the data)."""
        if getattr(self, "_watching", False):
            return
        from vmwctl.images.transport import stop_bodies_on_early_answers

        try:
            requests_session = self.session.session
        except AttributeError:
            return
        stop_bodies_on_early_answers(requests_session, self.endpoint)
        self._watching = True

    def start_import(self, image_id: str, method: Mapping[str, Any], *,
                     stores: list[str] | None = None, all_stores: bool = False) -> None:
        """Ask Glance to import the image (``method``: {"name": "glance-direct"} or
        {"name": "web-download", "uri": ...}) into ``stores`` (None: the default store)."""
        body: dict[str, Any] = {"method": dict(method)}
        if all_stores:
            body["all_stores"] = True
        elif stores:
            body["stores"] = list(stores)
        self._request("POST", f"/images/{image_id}/import", json=body, expect=(202,),
                      what=f"importing image {image_id} ({method['name']})")

    def tasks(self, image_id: str) -> list[dict[str, Any]]:
        """The import tasks of an image, newest first ([] where Glance cannot list them)."""
        try:
            response = self._request("GET", f"/images/{image_id}/tasks", expect=(200,),
                                     what=f"reading the tasks of image {image_id}")
        except GlanceError:
            return []
        tasks = response.json().get("tasks", [])
        return sorted(tasks, key=lambda task: task.get("created_at") or "", reverse=True)

    def stores(self) -> list[dict[str, Any]] | None:
        """The stores Glance offers (/v2/info/stores, read once; the default one has
        ``default: true``); None when Glance has a single, unnamed store."""
        if not hasattr(self, "_stores"):
            try:
                response = self._request("GET", "/info/stores", expect=(200,),
                                         what="reading the image service's stores")
                self._stores: list[dict[str, Any]] | None = response.json().get("stores", [])
            except GlanceError as exc:
                if exc.status not in (404, 410):
                    raise
                self._stores = None
        return self._stores

    def import_methods(self) -> list[str]:
        """The import methods Glance offers (/v2/info/import, read once)."""
        if not hasattr(self, "_import_methods"):
            try:
                response = self._request("GET", "/info/import", expect=(200,),
                                         what="reading the image service's import methods")
                self._import_methods: list[str] = list(
                    response.json().get("import-methods", {}).get("value", []))
            except GlanceError as exc:
                if exc.status not in (404, 410):
                    raise
                self._import_methods = []
        return self._import_methods

    def get(self, image_id: str) -> dict[str, Any]:
        return self._request("GET", f"/images/{image_id}", expect=(200,),
                             what=f"reading image {image_id}").json()

    def delete(self, image_id: str) -> None:
        self._request("DELETE", f"/images/{image_id}", expect=(204, 404),
                      what=f"deleting image {image_id}")

    def update(self, image_id: str, set_properties: Mapping[str, str],
               remove: Iterable[str], current: Mapping[str, Any]) -> dict[str, Any]:
        """Set and remove properties in one JSON-patch request."""
        ops: list[dict[str, Any]] = []
        for key, value in set_properties.items():
            ops.append({"op": "replace" if key in current else "add", "path": f"/{key}",
                        "value": value})
        ops.extend({"op": "remove", "path": f"/{key}"} for key in remove if key in current)
        if not ops:
            return dict(current)
        return self._request("PATCH", f"/images/{image_id}", json=ops, expect=(200,),
                             headers={"Content-Type": PATCH_TYPE},
                             what=f"updating image {image_id}", refused="nothing changed").json()

    def list(self, **filters: str) -> list[dict[str, Any]]:
        """Every image matching Glance's filters, following the pages."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        url: str | None = f"/images?limit={LIST_PAGE}" + (f"&{query}" if query else "")
        images: list[dict[str, Any]] = []
        while url:
            page = self._request("GET", url, expect=(200,), what="listing images").json()
            images.extend(page.get("images", []))
            following = page.get("next")
            url = following.removeprefix("/v2") if following else None
        return images

    def find(self, reference: str) -> dict[str, Any]:
        """An image by id, or by a name that exactly one image has."""
        if _UUID.match(reference):
            try:
                return self.get(reference)
            except GlanceError as exc:
                if exc.status != 404:
                    raise
        matches = self.list(name=reference)
        if not matches:
            scope = self.scope()
            if scope is not None:
                raise OperationFailed(f"no image {reference!r} visible to project "
                                      f"{scope.project} in cloud '{self.cloud}' (another "
                                      "project's private image is not)")
            raise OperationFailed(f"no image {reference!r} in the image service of cloud "
                                  f"'{self.cloud}'")
        if len(matches) > 1:
            ids = ", ".join(image["id"] for image in matches)
            raise OperationFailed(f"{len(matches)} images are named {reference!r} ({ids}); "
                                  "give the id")
        return matches[0]

    def download(self, image_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The image data as a stream of chunks; nothing is held in memory."""
        response = self._request("GET", f"/images/{image_id}/file", expect=(200,),
                                 what=f"downloading the data of image {image_id}", stream=True)
        import requests

        received = 0
        try:
            for chunk in response.iter_content(chunk_size):
                received += len(chunk)
                yield chunk
        except (requests.RequestException, OSError) as exc:
            raise OperationFailed(f"the download of image {image_id} from the image service of "
                                  f"cloud '{self.cloud}' broke off after {received} bytes: "
                                  f"{_first_line(exc)}") from None
        finally:
            response.close()

    def read_range(self, image_id: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of the image data (an HTTP range request)."""
        if length <= 0:
            return b""
        response = self._request("GET", f"/images/{image_id}/file", expect=(200, 206),
                                 headers={"Range": f"bytes={offset}-{offset + length - 1}"},
                                 what=f"reading the data of image {image_id}", stream=True)
        try:
            data = bytearray()
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) >= length:
                    break
            return bytes(data[:length])
        finally:
            response.close()

    def close(self) -> None:
        """What openstacksdk's Connection.close does: the token into the keyring when the
        cloud asks for it (auth cache), the session's connections closed."""
        try:
            if self._connection is not None:
                self._connection.close()
            elif self._session is not None:
                self.cloud_region.set_auth_cache()
        except Exception as exc:  # closing is best effort
            log.debug("closing the image service connection failed: %s", exc)
        finally:
            if self._session is not None:
                self._session.close()


MISSING_SDK = ("the image service commands need openstacksdk, which this installation "
               "lacks: pip install 'vmwctl[glance]' (with pipx: pipx inject vmwctl "
               "openstacksdk)")


def cloud_name(profile: Profile, env: Mapping[str, str]) -> str | None:
    """The clouds.yaml entry the profile names, else $OS_CLOUD, else openstacksdk's cloud of
    the OS_* variables of an openrc file; None when nothing names one."""
    cloud = profile.openstack.cloud or env.get("OS_CLOUD") or None
    if cloud is None and env.get("OS_AUTH_URL"):
        cloud = env.get("OS_CLOUD_NAME") or "envvars"  # openstacksdk's cloud of OS_* variables
    return cloud


_SDK = "openstack"
_sdk_lock = threading.Lock()


class _SdkPackage(types.ModuleType):
    """openstacksdk's package entered without its ``__init__``, which imports
    ``openstack.connection`` and with it a proxy for every OpenStack service (about
    0.3 s, twice the config loader and keystoneauth together). A submodule is imported
    when named (``from openstack import exceptions``); any other name (``connect``) runs
    the real ``__init__`` first, so code that uses the whole SDK later in the same
    process finds it whole."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        if importlib.util.find_spec(f"{self.__name__}.{name}") is not None:
            return importlib.import_module(f"{self.__name__}.{name}")
        if self.__dict__.get("_vmwctl_completing"):
            raise AttributeError(name)
        self.__dict__["_vmwctl_completing"] = True
        try:
            self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        finally:
            del self.__dict__["_vmwctl_completing"]
        self.__class__ = types.ModuleType
        return getattr(self, name)


def _enter_sdk() -> None:
    """Put openstacksdk's package in sys.modules without running its ``__init__`` (unless
    something imported it already, or made it unimportable)."""
    if _SDK in sys.modules:
        return
    spec = importlib.util.find_spec(_SDK)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(_SDK)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _SdkPackage
    sys.modules[_SDK] = module


def _import_sdk() -> None:
    """Import openstacksdk's config loader and keystoneauth (MissingExtra without them),
    not the rest of the SDK; its notices for developers off. Safe from any thread."""
    with _sdk_lock:
        if "openstack.config.loader" in sys.modules:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _enter_sdk()
                import openstack.config  # noqa: F401
            except ImportError:
                if isinstance(sys.modules.get(_SDK), _SdkPackage):
                    del sys.modules[_SDK]
                raise MissingExtra(MISSING_SDK) from None
        # openstacksdk's deprecation notices are for its developers, not for operators.
        warnings.filterwarnings("ignore", module=r"openstack(\.|$)")


_SDK_METRICS = ("statsd_prefix", "statsd_client", "prometheus_counter", "prometheus_histogram",
                "influxdb_config", "influxdb_client")


def _image_adapter(cloud_region: Any) -> Any:
    """A keystoneauth adapter on Glance's v2 API, found as openstacksdk's Connection finds
    its image proxy: an endpoint override is asked for its versions, else the catalog's
    image endpoint is discovered for version 2."""
    from openstack import exceptions as sdk_exceptions

    if not cloud_region.has_service("image"):
        raise sdk_exceptions.ServiceDisabledException(
            cloud_region.get_disabled_reason("image") or "the image service is disabled")
    from keystoneauth1 import adapter

    class Adapter(adapter.Adapter):
        """keystoneauth's adapter, given what get_session_client gives the SDK's proxies
        less the SDK's own request metrics (statsd, Prometheus, InfluxDB), which need a
        Connection."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            for key in _SDK_METRICS:
                kwargs.pop(key, None)
            super().__init__(*args, **kwargs)

    codes = cloud_region.get_retriable_status_codes("image")
    options: dict[str, Any] = {"constructor": Adapter,
                               # the SDK's image proxy retries a 503 by default
                               "retriable_status_codes": [503] if codes is None else codes}
    if cloud_region.get_endpoint("image"):
        adapter = cloud_region.get_session_client("image", **options)
        data = adapter.get_endpoint_data()
        if data and data.catalog_url != data.service_url:  # the override was not versioned
            cloud_region.config["image_endpoint_override"] = data.service_url
            adapter = cloud_region.get_session_client("image", **options)
        return adapter
    version = cloud_region.get_api_version("image") or "2"
    return cloud_region.get_session_client("image", version=version, allow_version_hack=True,
                                           **options)


def open_image_service(profile: Profile, env: Mapping[str, str]) -> ImageService:
    """Connect to the clouds.yaml entry the profile names (or $OS_CLOUD) and check it."""
    service = image_service(profile, env)
    try:
        service.ping()
    except BaseException:
        service.close()
        raise
    return service


def image_service(profile: Profile, env: Mapping[str, str]) -> ImageService:
    """The image service of the clouds.yaml entry the profile names (or $OS_CLOUD): its
    settings read (ConfigError, MissingExtra), nothing sent yet; the first request
    authenticates and finds Glance's endpoint."""
    cloud = cloud_name(profile, env)
    if cloud is None:
        raise ConfigError(f"profile '{profile.name}' names no image service: set openstack.cloud "
                          "to a clouds.yaml entry, or set OS_CLOUD (or the OS_AUTH_URL, "
                          "OS_USERNAME, ... variables of an openrc file)")
    _import_sdk()
    from openstack import config as sdk_config
    from openstack import exceptions as sdk_exceptions

    try:
        # OS_CACERT applies to a clouds.yaml cloud too, as the openstack client does it.
        overrides = {"cacert": env["OS_CACERT"]} if env.get("OS_CACERT") else {}
        cloud_region = sdk_config.get_cloud_region(cloud=cloud, **overrides)  # as connect()
    except sdk_exceptions.ConfigException as exc:
        source = f"the openstack.cloud of profile '{profile.name}'" \
            if profile.openstack.cloud else "$OS_CLOUD"
        raise _unusable_cloud(cloud, source, exc, env) from None
    _register_secrets(cloud_region.config.get("auth") or {})
    return ImageService(cloud_region, cloud)


@dataclass
class CloudTls:
    """A cloud's HTTPS endpoints and the trust its clients verify them with, read from
    clouds.yaml (and secure.yaml, OS_*) without a token: the identity endpoint (auth_url)
    and the image endpoint the entry sets (image_endpoint_override, or a cloud without
    Keystone's endpoint); the catalog's would need a login."""

    cloud: str
    identity: str | None = None
    image: str | None = None
    ca_file: str | None = None  # with verify: the CA bundle; None: the system's store
    trust: str = ""  # where ca_file comes from, for the detail
    unverified_by: str | None = None  # the setting that turns verification off


def cloud_tls(profile: Profile, env: Mapping[str, str]) -> CloudTls | None:
    """The TLS side of the cloud the profile names (None: it names none). MissingExtra
    without openstacksdk; ConfigError for a cloud that cannot be read."""
    cloud = cloud_name(profile, env)
    if cloud is None:
        return None
    _import_sdk()
    from openstack import exceptions as sdk_exceptions
    from openstack.config import loader

    overrides = {"cacert": env["OS_CACERT"]} if env.get("OS_CACERT") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            region = loader.OpenStackConfig().get_one(cloud=cloud, validate=False, **overrides)
    except (sdk_exceptions.ConfigException, KeyError, ValueError) as exc:
        source = f"the openstack.cloud of profile '{profile.name}'" \
            if profile.openstack.cloud else "$OS_CLOUD"
        raise _unusable_cloud(cloud, source, exc, env) from None
    config = region.config
    auth = config.get("auth") or {}
    _register_secrets(auth)
    found = CloudTls(cloud=cloud, identity=auth.get("auth_url") or None,
                     image=region.get_endpoint("image") or None)
    if config.get("insecure"):
        found.unverified_by = "insecure: true"
    elif not config.get("verify", True):
        found.unverified_by = "verify: false"
    elif config.get("cacert"):
        found.ca_file = os.path.expanduser(str(config["cacert"]))
        found.trust = "OS_CACERT" if overrides else f"the cacert of cloud '{cloud}'"
    else:
        # requests' own choice when told verify=True: the environment's bundle, else its own
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            if env.get(name):
                found.ca_file, found.trust = env[name], name
                break
        else:
            from requests.utils import DEFAULT_CA_BUNDLE_PATH

            found.ca_file, found.trust = DEFAULT_CA_BUNDLE_PATH, "requests' CA bundle"
    return found


AUTH_SECRETS = ("password", "application_credential_secret", "token", "passcode", "secret")


def _register_secrets(auth: Mapping[str, Any]) -> None:
    """Hide the cloud's password, application credential secret or token from every message
    and log of this run (clouds.yaml, secure.yaml and OS_* alike)."""
    for key in AUTH_SECRETS:
        value = auth.get(key)
        if isinstance(value, str):
            redact.register(value)


def _unusable_cloud(cloud: str, source: str, exc: Exception,
                    env: Mapping[str, str]) -> ConfigError:
    """Why a clouds.yaml entry cannot be used; for a cloud that is not there, the file
    that was read and the clouds it has, or every place a clouds.yaml was looked for."""
    from openstack.config import loader

    try:
        config = loader.OpenStackConfig()
        names = config.get_cloud_names()
    except Exception:  # the SDK said what is wrong already
        return ConfigError(f"clouds.yaml entry '{cloud}' cannot be used: {exc}")
    if cloud in names:
        return ConfigError(f"clouds.yaml entry '{cloud}' cannot be used: {exc}")
    if config.config_filename is None:
        override = env.get("OS_CLIENT_CONFIG_FILE")
        places = dict.fromkeys([*([override] if override else []),
                                *(p for p in loader.CONFIG_FILES if p.endswith(".yaml"))])
        return ConfigError(f"no cloud '{cloud}' ({source}): no clouds.yaml found (searched "
                           f"{', '.join(places)}): create one, or point "
                           "OS_CLIENT_CONFIG_FILE at it")
    return ConfigError(f"no cloud '{cloud}' ({source}) in {config.config_filename}; clouds "
                       f"there: {', '.join(names) or 'none'}{did_you_mean(cloud, names)}")


class translate_errors:  # noqa: N801 (used as a context manager)
    """Map openstacksdk / keystoneauth failures to vmwctl errors with exit codes."""

    def __init__(self, service: ImageService) -> None:
        self.service = service

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        from keystoneauth1 import exceptions as ks
        from openstack import exceptions as sdk

        cloud, auth_url = self.service.cloud, self.service.auth_url
        where = f"the image service of cloud '{cloud}'"
        missing = re.fullmatch(r"(\w+) is a required attribute", str(exc))
        if type(exc) is Exception and missing:  # keystoneauth's generic plugins raise these
            raise ConfigError(f"cloud '{cloud}' has no {missing.group(1)}: set auth."
                              f"{missing.group(1)} in its entry of clouds.yaml or secure.yaml "
                              "(OS_CLIENT_SECURE_FILE names the secure.yaml to read)") from None
        if isinstance(exc, ks.EndpointNotFound | ks.EmptyCatalog |
                      sdk.ServiceDisabledException):
            region = f"region {self.service.region}" if self.service.region else "any region"
            raise ConnectError(f"the service catalog of cloud '{cloud}' (from {auth_url}) has "
                               f"no image service for {region}, interface "
                               f"{self.service.interface}: set region_name or interface in "
                               "clouds.yaml, or ask for the catalog to list Glance") from None
        if isinstance(exc, ks.SSLError):
            found = re.search(r"certificate verify failed: [^(\]'\"]*", str(exc))
            reason = found.group(0).strip() if found else _first_line(exc)
            raise ConnectError(f"cannot verify the TLS certificate of cloud '{cloud}' "
                               f"({auth_url or where}): {reason}; give its CA with cacert in "
                               "clouds.yaml or OS_CACERT") from None
        if isinstance(exc, ks.ConnectFailure | ks.DiscoveryFailure | ks.ConnectTimeout):
            raise ConnectError(f"cannot reach {where}: {_first_line(exc)}; check the endpoint "
                               "in clouds.yaml") from None
        # Glance's own answers do not raise (raise_exc=False): an HTTP error here is
        # Keystone's, refusing the credentials (401) or not knowing the token (404).
        if isinstance(exc, ks.Unauthorized | ks.NotFound) and auth_url:
            raise AuthError(f"Keystone at {auth_url} refused the credentials of cloud "
                            f"'{cloud}': {_first_line(exc)}; check them in clouds.yaml "
                            "(and secure.yaml)") from None
        if isinstance(exc, ks.Unauthorized | sdk.ForbiddenException) or (
                isinstance(exc, sdk.HttpException) and exc.status_code in (401, 403)):
            raise AuthError(f"{where} refused the credentials: {_first_line(exc)}") from None
        return False


def glance_reason(body: str) -> str:
    """The human part of a Glance error page (its HTML wraps one or two lines)."""
    text = re.sub(r"<[^>]+>", "\n", body)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not re.match(r"^\d{3} [A-Za-z ]+$", line)]
    return " ".join(lines[-2:])[:400] if lines else body[:200]


def _first_line(exc: BaseException) -> str:
    """The exception's first line, without keystoneauth's "(Request-ID: req-...)" (the -v
    log keeps it): the same failure then reads the same on every run."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"\s*\(Request-ID: [^)]*\)", "", line)

