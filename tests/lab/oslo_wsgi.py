"""WSGI entry points for OpenStack services under gunicorn: ``oslo_wsgi:keystone()``,
``oslo_wsgi:nova_api()``.

oslo.config parses ``sys.argv`` when a service loads its configuration and
refuses gunicorn's options, so each entry point clears the arguments first and
the service reads its configuration files alone. Keystone finds its file
through ``OS_KEYSTONE_CONFIG_DIR`` (``keystone.conf`` in that directory), which
the lab sets in gunicorn's environment; Nova's API finds ``api-paste.ini`` and
``nova.conf`` in ``OS_NOVA_CONFIG_DIR``. The same trick serves any oslo service.

gunicorn imports this module from tests/lab (``--pythonpath``) and calls the
factory in its worker.
"""

from __future__ import annotations

import sys
from typing import Any


def _clear_argv() -> None:
    """Leave oslo.config nothing of gunicorn's command line to parse."""
    del sys.argv[1:]


def keystone() -> Any:
    """Keystone's public (and only, since v2.0 went) WSGI application."""
    _clear_argv()
    from keystone.server import wsgi

    return wsgi.initialize_public_application()


def nova_api() -> Any:
    """Nova's compute API (what ``nova.wsgi.osapi_compute`` serves), in native threading
    mode as that module starts it (no eventlet)."""
    _clear_argv()
    from nova import monkey_patch

    monkey_patch.patch(backend="threading")
    from nova.api.openstack import wsgi_app

    return wsgi_app.init_application("osapi_compute", "nova-api-os-compute")
