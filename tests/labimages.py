"""Images for lab tests: disks made with qemu-img from random data, uploaded to the lab's Glance."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from helpers import write_profile

from vmwctl.images.glance import open_image_service
from vmwctl.profile.load import load_profile


def raw_disk(tmp_path: Path, size: int = 3 << 20) -> Path:
    path = tmp_path / "disk.raw"
    data = bytearray(size)
    for offset in range(0, size, 256 << 10):  # data here and there, holes between
        data[offset:offset + (64 << 10)] = os.urandom(64 << 10)
    path.write_bytes(bytes(data))
    return path


def iso_image(path: Path, size: int = 1 << 20) -> Path:
    """Random data behind an ISO 9660 primary volume descriptor (Glance inspects uploads)."""
    data = bytearray(os.urandom(size))
    descriptor = bytearray(2048)
    descriptor[0:7] = b"\x01CD001\x01"
    descriptor[128:132] = (2048).to_bytes(2, "little") + (2048).to_bytes(2, "big")
    descriptor[80:88] = (size // 2048).to_bytes(4, "little") + (size // 2048).to_bytes(4, "big")
    data[32768:34816] = descriptor
    path.write_bytes(bytes(data))
    return path


def vmdk(raw: Path, subformat: str) -> Path:
    out = raw.with_name(f"disk-{subformat}.vmdk")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    f"subformat={subformat}", str(raw), str(out)], check=True)
    return out


def same_disk(raw: Path, cached: Path) -> bool:
    result = subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "vmdk", str(raw),
                             str(cached)], capture_output=True, text=True)
    return result.returncode == 0


def profile_for(sim, tmp_path: Path, name: str, *, cloud: str | None = None,
                port: int | None = None) -> Path:
    return write_profile(sim, tmp_path / f"{name}.yaml", cloud=cloud, port=port)


def upload(config: Path, data: Path, name: str, disk_format: str = "vmdk",
           **properties: str) -> str:
    service = open_image_service(load_profile(str(config), "sim", os.environ), os.environ)
    image = service.create(name, properties, disk_format=disk_format)
    with data.open("rb") as handle:
        service.upload(image["id"], iter(lambda: handle.read(1 << 20), b""))
    return image["id"]


def datastore_leftovers(root: Path) -> list[str]:
    """What failed fetches leave at a datastore's root: OSTACK_IMG_* and vmware_temp/*."""
    found = [p.name for p in root.iterdir() if p.name.startswith("OSTACK_IMG_")]
    temp = root / "vmware_temp"
    if temp.exists():
        found += [f"vmware_temp/{p.name}" for p in temp.iterdir()]
    return found


def interrupted_seed(config: Path, image_id: str, ready, then) -> tuple[int, str, str]:
    """Run ``cache seed`` as a process, send it SIGINT once ``ready()`` says the transfer is
    under way (within 60 s), call ``then()`` (to let the cleanup run at full speed), and
    return its exit status, stdout and stderr."""
    import signal
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "vmwctl", "--config", str(config), "cache", "seed", image_id,
         "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ready():
        time.sleep(0.05)
    assert ready(), process.communicate(timeout=5)
    process.send_signal(signal.SIGINT)
    then()
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def _as_keystone_admin(lab: Any, method: str, path: str, body: Any = None,
                       data: bytes | None = None) -> Any:
    """A request to the Keystone-protected Glance with the admin's token (a JSON ``body``,
    or image ``data``)."""
    import json
    import urllib.request

    import labctl

    token = labctl.keystone_token(lab.keystone_url, "admin", lab.keystone_password("admin"),
                                  "admin")
    headers = {"X-Auth-Token": token}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        headers["Content-Type"] = "application/octet-stream"
    request = urllib.request.Request(f"{lab.glance_keystone_url}/v2{path}", method=method,
                                     headers=headers, data=data)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def protected_images(lab: Any) -> list[dict[str, Any]]:
    """Every image of every project in the Keystone-protected Glance, as its admin sees it."""
    return _as_keystone_admin(lab, "GET", "/images?visibility=all&limit=1000")["images"]


def delete_protected_image(lab: Any, image_id: str) -> None:
    _as_keystone_admin(lab, "DELETE", f"/images/{image_id}")


def public_protected_image(lab: Any, name: str, data: Path) -> str:
    """An active public image of the admin's project in the Keystone-protected Glance."""
    image = _as_keystone_admin(lab, "POST", "/images", {
        "name": name, "disk_format": "vmdk", "container_format": "bare",
        "visibility": "public", "vmware_disktype": "streamOptimized",
        "vmware_adaptertype": "lsiLogic"})
    _as_keystone_admin(lab, "PUT", f"/images/{image['id']}/file", data=data.read_bytes())
    return image["id"]
