"""The image-service client against the lab's real Glance."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vmwctl.cli.app import App
from vmwctl.errors import ConfigError, ConnectError

pytestmark = pytest.mark.lab


def test_image_service_is_opened_lazily(lab, lab_env) -> None:
    """openstacksdk is imported when a command first needs Glance, not before."""
    code = (
        "import sys\nfrom vmwctl.cli.app import App\n"
        "app = App()\n"
        "before = 'openstack' in sys.modules\n"
        "profile = app.profile\n"
        "loaded_profile = 'openstack' in sys.modules\n"
        "endpoint = app.images.endpoint\n"
        "print(before, loaded_profile, 'openstack' in sys.modules, endpoint)\n"
        "app.close()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, **lab_env})
    assert done.stdout.split() == ["False", "False", "True", f"{lab.glance_url}/v2/"]


def test_image_service_round_trip(lab, lab_env) -> None:
    app = App()
    try:
        image = app.images.create("vmwctl-foundation-test", {"vmware_disktype": "sparse"})
        try:
            found = app.images.list(name="vmwctl-foundation-test")
            assert [i["id"] for i in found] == [image["id"]]
            assert found[0]["vmware_disktype"] == "sparse"
            assert app.images.find("vmwctl-foundation-test")["id"] == image["id"]
        finally:
            app.images.delete(image["id"])
        assert app.images.list(name="vmwctl-foundation-test") == []
    finally:
        app.close()


def test_unreachable_image_service_exits_3(lab, lab_env, tmp_path: Path, monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clouds = {"clouds": {"vmwctl-lab": {"auth_type": "none",
                                        "auth": {"endpoint": f"http://127.0.0.1:{port}"},
                                        "image_endpoint_override": f"http://127.0.0.1:{port}"}}}
    (tmp_path / "clouds.yaml").write_text(json.dumps(clouds))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    app = App()
    with pytest.raises(ConnectError, match="cannot reach the image service of cloud "
                                           "'vmwctl-lab'"):
        app.images  # noqa: B018
    assert ConnectError.exit_code == 3


def test_missing_cloud_is_a_configuration_error(lab, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("profiles:\n  p:\n    vmware: {host_ip: h, host_username: u}\n")
    monkeypatch.setenv("VMWCTL_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"names no image service: set openstack\.cloud"):
        App().images  # noqa: B018


def upload(proxy, image_id: str, data: bytes):
    return proxy.put(f"/images/{image_id}/file", data=data, raise_exc=False,
                     headers={"Content-Type": "application/octet-stream"})


def test_lab_has_a_glance_that_accepts_flat_data(lab, lab_env) -> None:
    """Glance >= 30 refuses raw data as vmdk; the lab's second Glance has the check off."""
    import openstack

    raw = os.urandom(65536)
    for cloud, accepted in ((lab.cloud, False), (lab.cloud_flat, True)):
        proxy = openstack.connect(cloud=cloud).image
        image = proxy.create_image(name="raw-as-vmdk", disk_format="vmdk",
                                   container_format="bare")
        try:
            response = upload(proxy, image.id, raw)
            if accepted:
                assert response.status_code == 204
                assert proxy.get_image(image.id).status == "active"
            else:
                assert response.status_code == 415
                assert "Image disk_format vmdk does not match stream data raw" in response.text
        finally:
            proxy.delete_image(image.id)
