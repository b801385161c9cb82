"""``image upload URL`` against the lab's real Glance, from loopback HTTP(S) servers started
here: streamed VMDKs and raw data, a qcow2 through a temporary file, published checksums, and
servers that fail (drop the connection, lie about Content-Length, 404, change scheme)."""

from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from httpfaults import QuietHTTPServer
from test_images import all_images, make_vmdk, sha512

# the fixture that empties both Glances, requested by name (a re-export, for ruff)
from test_images import images as images

pytestmark = pytest.mark.lab


class Files:
    """A loopback server of ``files``; paths under /drop/ send half the body and close, under
    /lie/ announce 1 MiB more than they send, under /to-http/ redirect to the http twin."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.sent: dict[str, int] = {}  # body bytes the client took, per file name
        self.twin: Files | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                kind, _, name = self.path.split("?", 1)[0].lstrip("/").partition("/")
                if kind == "to-http" and owner.twin is not None:
                    self.send_response(302)
                    self.send_header("Location", f"{owner.twin.url}/files/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = owner.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length",
                                 str(len(body) + (1 << 20 if kind == "lie" else 0)))
                self.end_headers()
                if kind == "drop":
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                owner.sent[name] = 0
                try:
                    for offset in range(0, len(body), 1 << 16):
                        self.wfile.write(body[offset:offset + (1 << 16)])
                        owner.sent[name] = min(len(body), offset + (1 << 16))
                except OSError:  # the client stopped reading
                    self.close_connection = True
                    return
                if kind == "lie":
                    self.wfile.flush()
                    self.close_connection = True

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: Path) -> str:
        self.files[path.name] = path.read_bytes()
        return f"{self.url}/files/{path.name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served() -> Iterator[Files]:
    files = Files()
    yield files
    files.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def glance_data(images, image_id: str, path: Path) -> Path:
    path.write_bytes(images.get(f"/images/{image_id}/file").content)
    return path


def raw_disk(path: Path, size: int = 8 << 20, data: int = 512 << 10) -> Path:
    """A sparse raw disk with ``data`` random bytes at the start of every 3 MiB."""
    with path.open("wb") as handle:
        handle.truncate(size)
        for offset in range(0, size, 3 << 20):
            handle.seek(offset)
            handle.write(os.urandom(data))
    return path


def no_temporary_copies(tmp_path: Path) -> list[str]:
    return [p.name for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("vmwctl-url-*")]


def test_a_stream_optimized_vmdk_is_streamed_with_its_checksum(vmwctl, images, served,
                                                               tmp_path: Path) -> None:
    disk = make_vmdk(tmp_path, adapter="lsilogic")
    url = served.add(disk)
    result = vmwctl("image", "upload", url, "--name", "from-url", "--ostype", "ubuntu64Guest",
                    "--checksum", f"sha256:{sha256(disk)}", "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert "downloading" not in result.stderr
    assert document["source"] == document["file"] == url
    assert document["bytes_sent"] == disk.stat().st_size
    assert document["checksum"] == "sha256 of the source matches --checksum"
    image = images.get(f"/images/{document['image']['id']}").json()
    assert image["status"] == "active"
    assert (image["disk_format"], image["container_format"]) == ("vmdk", "bare")
    assert (image["vmware_disktype"], image["vmware_adaptertype"], image["vmware_ostype"],
            image["hypervisor_type"]) == ("streamOptimized", "lsiLogic", "ubuntu64Guest",
                                          "vmware")
    assert image["os_hash_value"] == sha512(disk) and image["size"] == disk.stat().st_size


def test_raw_data_is_converted_on_the_way(vmwctl, images, served, tmp_path: Path) -> None:
    raw = raw_disk(tmp_path / "disk.img")
    url = served.add(raw)
    refused = vmwctl("image", "upload", url, "--name", "raw")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == f"Error: {url} is raw data, not a VMDK: add --convert"
    result = vmwctl("image", "upload", url, "--name", "raw", "--convert", "--adapter-type", "ide",
                    "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    image = images.get(f"/images/{document['image']['id']}").json()
    assert (image["status"], image["vmware_disktype"], image["vmware_adaptertype"]) == (
        "active", "streamOptimized", "ide")
    copy = glance_data(images, image["id"], tmp_path / "glance.vmdk")
    compared = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", str(raw),
                               str(copy)], capture_output=True, text=True)
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_a_qcow2_goes_through_a_temporary_file(vmwctl, images, served, tmp_path: Path) -> None:
    raw = raw_disk(tmp_path / "source.raw")
    qcow2 = tmp_path / "cloud.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                    str(qcow2)], check=True)
    url = served.add(qcow2)
    refused = vmwctl("image", "upload", url, "--name", "cloud")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        f"Error: {url} is a qcow2 image, not a VMDK: add --convert")
    assert all_images(images) == []
    checksums = tmp_path / "SHA256SUMS"
    checksums.write_text(f"{'0' * 64}  other.qcow2\n{sha256(qcow2)} *cloud.qcow2\n")
    result = vmwctl("image", "upload", url, "--name", "cloud", "--convert",
                    "--checksums", served.add(checksums), "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert "qcow2 data is not streamed: downloading cloud.qcow2 to a temporary file first" \
        in result.stderr
    document = result.json()
    assert document["source"] == url
    assert document["checksum"].startswith("sha256 of the source matches http://")
    image = images.get(f"/images/{document['image']['id']}").json()
    assert (image["status"], image["vmware_disktype"]) == ("active", "streamOptimized")
    copy = glance_data(images, image["id"], tmp_path / "glance.vmdk")
    assert subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "vmdk", str(raw),
                           str(copy)]).returncode == 0
    assert no_temporary_copies(tmp_path) == []


def test_a_damaged_download_is_refused_naming_the_url(vmwctl, images, served,
                                                      tmp_path: Path) -> None:
    """A qcow2 cut short on the server (its Content-Length honest): qemu-img check refuses
    the downloaded copy, and the error names the URL, not the copy that is gone."""
    whole, cut = tmp_path / "whole.qcow2", tmp_path / "cut.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
                    str(raw_disk(tmp_path / "source.raw", 16 << 20)), str(whole)], check=True)
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    url = served.add(cut)
    for engine in ("native", "qemu"):
        refused = vmwctl("image", "upload", url, "--name", "cut", "--convert", "--engine",
                         engine)
        assert refused.exit_code == 2, refused.stderr
        last = refused.stderr.splitlines()[-1]
        assert last.startswith(f"Error: refusing to convert {url}: qemu-img check finds ")
        assert "vmwctl-url-" not in refused.stderr
    assert all_images(images) == []
    assert no_temporary_copies(tmp_path) == []


def test_a_dry_run_plans_a_download_from_the_head_alone(vmwctl, images, served,
                                                       tmp_path: Path) -> None:
    # ~48 MiB of data: half of it is far more than the loopback sockets' buffers hold
    raw = raw_disk(tmp_path / "source.raw", size=96 << 20, data=3 << 19)
    qcow2 = tmp_path / "cloud.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                    str(qcow2)], check=True)
    size = qcow2.stat().st_size
    url = served.add(qcow2)
    result = vmwctl("image", "upload", url, "--name", "cloud", "--convert", "--ostype",
                    "ubuntu64Guest", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.stderr
    plan = result.json()
    assert plan["dry_run"] is True
    assert plan["source"] == plan["file"] == url
    assert plan["download"].startswith("a temporary file under ")
    assert plan["download"].endswith(f"(qcow2 data is not streamed; {size} bytes)")
    assert (plan["disk_format"], plan["container_format"]) == ("vmdk", "bare")
    assert plan["properties"]["vmware_disktype"] == "streamOptimized"
    assert plan["properties"]["vmware_ostype"] == "ubuntu64Guest"
    assert "downloading" not in result.stderr
    # the head was read, not the file (the rest stopped in the sockets' buffers at most)
    assert served.sent["cloud.qcow2"] < size // 2
    assert all_images(images) == [] and no_temporary_copies(tmp_path) == []
    human = vmwctl("image", "upload", url, "--name", "cloud", "--convert", "--dry-run")
    assert human.exit_code == 0, human.stderr
    assert "Downloaded first to" in human.stdout and "qcow2 data is not streamed" in human.stdout
    refused = vmwctl("image", "upload", url, "--name", "cloud", "--dry-run")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-1] == (
        f"Error: {url} is a qcow2 image, not a VMDK: add --convert")


@pytest.mark.parametrize("source", ["vmdk", "raw", "qcow2"])
def test_a_checksum_mismatch_leaves_nothing(vmwctl, images, served, tmp_path: Path,
                                            source: str) -> None:
    if source == "vmdk":
        path, flags = make_vmdk(tmp_path), []
    elif source == "raw":
        path, flags = raw_disk(tmp_path / "disk.img"), ["--convert"]
    else:
        raw = raw_disk(tmp_path / "source.raw")
        path, flags = tmp_path / "disk.qcow2", ["--convert"]
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                        str(path)], check=True)
    url = served.add(path)
    wrong = "1" * 64
    result = vmwctl("image", "upload", url, "--name", "bad", "--checksum", f"sha256:{wrong}",
                    *flags)
    assert result.exit_code == 1
    line = result.stderr.splitlines()[-1]
    assert line.startswith(f"Error: the sha256 of the bytes read from {url} is {sha256(path)}, "
                           f"--checksum says {wrong}: not the published image")
    assert all_images(images) == []
    assert no_temporary_copies(tmp_path) == []


@pytest.mark.parametrize("kind", ["drop", "lie"])
@pytest.mark.parametrize("source", ["vmdk", "raw"])
def test_a_broken_transfer_leaves_nothing(vmwctl, images, served, tmp_path: Path, kind: str,
                                          source: str) -> None:
    path = make_vmdk(tmp_path) if source == "vmdk" else raw_disk(tmp_path / "disk.img")
    served.add(path)
    url = f"{served.url}/{kind}/{path.name}"
    size = path.stat().st_size
    result = vmwctl("image", "upload", url, "--name", "broken",
                    *(["--convert"] if source == "raw" else []))
    assert result.exit_code == 1, result.stderr
    line = result.stderr.splitlines()[-1]
    announced = size + (1 << 20) if kind == "lie" else size
    sent = size if kind == "lie" else size // 2
    assert line.startswith(f"Error: the download of {url} broke off after {sent} of the "
                           f"{announced} bytes its Content-Length announced"), line
    assert "was deleted" in line
    assert all_images(images) == []


def test_a_url_the_server_does_not_have(vmwctl, images, served) -> None:
    url = f"{served.url}/files/nothing.vmdk"
    result = vmwctl("image", "upload", url, "--name", "none")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: cannot read the image at {url}: HTTP 404 Not Found; no such file on the server")
    secret = served.url.replace("://", "://ops:s3cret-Passw0rd@") + "/files/nothing.vmdk"
    hidden = vmwctl("image", "upload", secret, "--name", "none", "-v")
    assert hidden.exit_code == 2
    assert "s3cret-Passw0rd" not in hidden.stderr + hidden.stdout
    assert "ops:********@127.0.0.1" in hidden.stderr
    unreachable = vmwctl("image", "upload", "http://127.0.0.1:9/disk.vmdk", "--name", "none")
    assert unreachable.exit_code == 3
    assert unreachable.stderr.splitlines()[-1].startswith(
        "Error: cannot reach http://127.0.0.1:9/disk.vmdk: ")
    assert all_images(images) == []


def test_a_signed_url_never_shows_its_signature(vmwctl, images, served,
                                                tmp_path: Path) -> None:
    signature = "9c1f0e4b7a2d5c8e1f3a6b9d0c2e4f6a8b0d2f4a6c8e0a2c4e6f8a0b2d4f6a8c"
    query = (f"?X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Fs3&X-Amz-Expires=600"
             f"&X-Amz-Signature={signature}")
    url = served.add(make_vmdk(tmp_path)) + query
    shown = url.replace(signature, "********").replace(
        "AKIAEXAMPLE%2F20261203%2Fs3", "********")
    result = vmwctl("-v", "-o", "json", "image", "upload", url, "--name", "signed")
    assert result.exit_code == 0, result.stderr
    assert result.json()["source"] == shown
    missing = vmwctl("-v", "image", "upload", f"{served.url}/files/none.vmdk{query}",
                     "--name", "none")
    assert missing.exit_code == 2
    assert missing.stderr.splitlines()[-1].startswith(
        f"Error: cannot read the image at {served.url}/files/none.vmdk?X-Amz-Credential=")
    for run in (result, missing):
        text = run.stdout + run.stderr
        assert signature not in text and "AKIAEXAMPLE" not in text
    assert [image["name"] for image in all_images(images)] == ["signed"]


def test_https_is_verified_and_a_redirect_to_http_is_refused(vmwctl, images, served, lab,
                                                             tmp_path: Path) -> None:
    state = Path(lab.ca_file).parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(state / "server.pem", state / "server.key")
    secure = Files(context)
    try:
        secure.twin = served
        disk = make_vmdk(tmp_path, size=4 << 20)
        url = secure.add(disk)
        served.add(disk)
        untrusted = vmwctl("image", "upload", url, "--name", "tls")
        assert untrusted.exit_code == 3
        assert "TLS verification failed" in untrusted.stderr
        assert "give the server's CA with --ca-file" in untrusted.stderr
        ok = vmwctl("image", "upload", url, "--name", "tls", "--ca-file", lab.ca_file,
                    "-o", "json")
        assert ok.exit_code == 0, ok.stderr
        assert images.get(f"/images/{ok.json()['image']['id']}").json()["status"] == "active"
        redirected = f"{secure.url}/to-http/{disk.name}"
        refused = vmwctl("image", "upload", redirected, "--name", "tls2", "--ca-file",
                         lab.ca_file)
        assert refused.exit_code == 2
        assert refused.stderr.splitlines()[-1] == (
            f"Error: {redirected} redirects to {served.url}/files/{disk.name}, another scheme "
            "(https to http): refused; give the URL you mean to trust")
        assert [image["name"] for image in all_images(images)] == ["tls"]
    finally:
        secure.close()
