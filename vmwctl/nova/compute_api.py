"""Lists from the compute API (servers, flavors) through an openstacksdk connection,
every page, with one clear error per way the call can fail."""

from __future__ import annotations

from typing import Any

from vmwctl.errors import ConnectError, OperationFailed


def list_all(connection: Any, url: str, key: str, cloud: str, *, instead: str,
             admin: str | None = None) -> list[dict[str, Any]]:
    """Every row of ``key`` from ``url`` and the pages its ``<key>_links`` name.

    ``instead``: what the user can give in place of the API (e.g. "--servers-from
    FILE"); ``admin``: why a 403 means an admin's cloud is needed (None: it does not).
    """
    from keystoneauth1 import exceptions as ks

    rows: list[dict[str, Any]] = []
    following: str | None = url
    while following:
        try:
            response = connection.compute.request(following, "GET", raise_exc=False)
        except (ks.EndpointNotFound, ks.EmptyCatalog):
            raise ConnectError(f"the service catalog of cloud '{cloud}' has no compute "
                               f"service: give {instead}") from None
        except (ks.ConnectFailure, ks.DiscoveryFailure, ks.ConnectTimeout) as exc:
            raise ConnectError(f"cannot reach the compute API of cloud '{cloud}': "
                               f"{str(exc).splitlines()[0]}") from None
        if response.status_code == 403 and admin:
            raise OperationFailed(f"the compute API of cloud '{cloud}' refuses {admin}: use "
                                  f"an admin's cloud, or {instead}")
        if response.status_code == 404:
            raise OperationFailed(f"listing {key} on cloud '{cloud}' failed: HTTP 404 at "
                                  f"{response.url.split('?')[0]}, which is no compute API "
                                  "(a cloud without Keystone's catalog has none): use an "
                                  f"admin's cloud, or {instead}")
        if response.status_code != 200:
            raise OperationFailed(f"listing {key} on cloud '{cloud}' failed: the compute API "
                                  f"answered HTTP {response.status_code}")
        page = response.json()
        rows += page.get(key, [])
        following = next((link["href"] for link in page.get(f"{key}_links", [])
                          if link.get("rel") == "next"), None)
    return rows
