"""openstacksdk entered for its config loader alone: the rest of the SDK is not imported,
and code that uses the whole SDK later in the same process still finds it whole."""

from __future__ import annotations

import json
import subprocess
import sys


def run(code: str) -> dict:
    """``code`` in a fresh interpreter; the JSON document it prints."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


PROLOGUE = ("import json, sys\n"
            "from vmwctl.images.glance import _import_sdk\n"
            "_import_sdk()\n"
            "loaded = lambda name: name in sys.modules\n")


def test_the_config_loader_without_the_sdk_s_services() -> None:
    found = run(PROLOGUE + (
        "from openstack import version, exceptions\n"  # submodules: imported, nothing more
        "from openstack.config import loader\n"
        "print(json.dumps({'config': loaded('openstack.config.loader'),\n"
        "                  'keystoneauth': loaded('keystoneauth1.session'),\n"
        "                  'version': version.__name__,\n"
        "                  'connection': loaded('openstack.connection'),\n"
        "                  'services': sorted(m for m in sys.modules\n"
        "                                     if m.startswith(('openstack.compute',\n"
        "                                                      'openstack.image',\n"
        "                                                      'openstack.cloud')))}))\n"))
    assert found == {"config": True, "keystoneauth": True, "version": "openstack.version",
                     "connection": False, "services": []}


def test_the_whole_sdk_is_still_there_for_whoever_asks() -> None:
    found = run(PROLOGUE + (
        "import openstack\n"
        "connect = openstack.connect\n"  # a name of the package's __init__: it runs now
        "from openstack.connection import Connection\n"
        "print(json.dumps({'connect': connect.__module__, 'connection': loaded(\n"
        "    'openstack.connection'), 'same': Connection is openstack.connection.Connection,\n"
        "    'class': type(openstack).__name__, 'all': 'connect' in openstack.__all__}))\n"))
    assert found == {"connect": "openstack", "connection": True, "same": True,
                     "class": "module", "all": True}


def test_an_sdk_imported_before_is_used_as_it_is() -> None:
    found = run("import json, sys, openstack\n"
                "from vmwctl.images.glance import _import_sdk\n"
                "_import_sdk()\n"
                "print(json.dumps({'same': sys.modules['openstack'] is openstack,\n"
                "                  'class': type(openstack).__name__}))\n")
    assert found == {"same": True, "class": "module"}


def test_without_openstacksdk_the_extra_is_named() -> None:
    found = run("import json, sys\n"
                "sys.modules['openstack'] = None\n"
                "from vmwctl.errors import MissingExtra\n"
                "from vmwctl.images.glance import _import_sdk\n"
                "try:\n"
                "    _import_sdk()\n"
                "except MissingExtra as exc:\n"
                "    print(json.dumps({'message': exc.message, 'code': exc.exit_code}))\n")
    assert found["code"] == 2 and "pip install 'vmwctl[glance]'" in found["message"]
