"""Uploads and downloads that outlive a Keystone token (issue 24).

A second Keystone of the lab's users issues tokens that live 30 s (tests/labtokens.py);
the lab's glance-keystone accepts them, and refuses them once expired. Its catalog names a
proxy in front of glance-keystone for the image service:

- a TCP proxy (tests/faultproxy.py) that passes the data on as it comes, slowed so that
  each transfer takes about 90 s: the five commands that move image data, run at once as
  processes, with the operator's password and (two of them) the application credential,
  all complete and verify; keystoneauth re-authenticates for the calls after the transfer;
- an HTTP proxy that reads the whole body (slowly, about 40 s) before forwarding it, as
  nginx does by default: Glance's keystonemiddleware sees the token only once it has
  expired, and refuses the upload; vmwctl says so, does not send the data again, and
  deletes the image record with a fresh token.

The images are read back from glance-keystone directly as the operator (a token of the
lab's own Keystone); everything made here is deleted, and no image of the operator's
project is left queued, saving, uploading or importing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import labctl
import pytest
from faultproxy import BLOCK, FaultProxy
from helpers import glance_profile, write_profile
from httpfaults import HttpFaultProxy
from labexports import vm_with_disks
from labimages import same_disk
from labtokens import (
    APP_CREDENTIAL,
    OPERATOR,
    ShortTokens,
    download,
    glance_call,
    glance_status,
    operator_token,
    project_images,
    start_short_keystone,
    upload_image,
)

pytestmark = pytest.mark.lab

PREFIX = "vmwctl-token-life-"
DS = "LocalDS_0"
CACHE = "192.0.2.10_base"
TRANSFER = 90.0  # seconds each slowed transfer takes: three lives of a token
BUFFERING = 40.0  # seconds the buffering proxy takes to read an upload's body
DATA = 4 << 20  # random bytes of each disk (about 64 blocks)
# Seconds between the batch's launches: the lab's Glance keeps its records in SQLite, whose
# writers, when several images change status at the same moment, may meet "database is
# locked" (a 500); launched apart, the transfers also end apart.
STAGGER = 2.0
UNFINISHED = {"queued", "saving", "uploading", "importing"}


@pytest.fixture(scope="module")
def short(lab: labctl.LabState,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShortTokens]:
    tokens = start_short_keystone(lab, tmp_path_factory.mktemp("short-tokens"))
    try:
        yield tokens
    finally:
        tokens.close()


@pytest.fixture
def cleanup(lab: labctl.LabState) -> Iterator[list[str]]:
    """The ids of the images a test makes itself; at the end, each of them and every image
    of this module's names is deleted (as the operator), and none of the project's images
    is left unfinished."""
    made: list[str] = []
    yield made
    token = operator_token(lab)
    for image in project_images(lab, token):
        if image["id"] in made or image["name"].startswith(PREFIX):
            glance_call(lab, token, "DELETE", f"/images/{image['id']}")
    left = project_images(lab, token)
    assert [image for image in left if image["name"].startswith(PREFIX)] == []
    assert [(image["name"], image["status"]) for image in left
            if image["status"] in UNFINISHED] == []


def random_raw(path: Path, size: int = DATA) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def stream_optimized(raw: Path) -> Path:
    out = raw.with_suffix(".vmdk")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized,adapter_type=lsilogic", str(raw), str(out)],
                   check=True)
    return out


def pause_for(size: int, seconds: float) -> float:
    """The pause per block (64 KiB, the proxies' unit) that makes ``size`` bytes take
    ``seconds``."""
    return seconds / -(-size // BLOCK)


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


class FileServer:
    """A loopback HTTP server of one file, at full speed."""

    def __init__(self, path: Path) -> None:
        body = path.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{path.name}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Run:
    """One vmwctl process of the batch, its output in files."""
    what: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path

    def finish(self, deadline: float) -> tuple[int, str, str]:
        """Its exit status and output; killed (status -9) if still running at ``deadline``
        (a hang, not a slow run: three times what the transfer takes)."""
        try:
            code = self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, self.stdout.read_text(), self.stderr.read_text()


def launch(directory: Path, what: str, config: Path, env: dict[str, str], *args: str) -> Run:
    """``python -m vmwctl --config CONFIG ARGS -o json`` as its own process."""
    stdout, stderr = directory / f"{what}.out", directory / f"{what}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "vmwctl", "--config", str(config), *args, "-o", "json"],
            stdout=out, stderr=err, env={**os.environ, **env})
    return Run(what, process, stdout, stderr)


def glance_port(lab: labctl.LabState) -> int:
    return urllib.parse.urlsplit(lab.glance_keystone_url).port or 80


# ------------------------------------------------------------------ past a token's life

def test_transfers_outlive_a_30s_token(lab, short, simulator, cleanup, tmp_path: Path) -> None:
    sim = simulator()
    vc = sim.connect()
    ds_dir = Path(sim.datastores[DS])
    token = operator_token(lab)
    # the premise: the short Keystone's token works at glance-keystone now (and is refused
    # once its life is over: asserted at the end, after the transfers' 90 s)
    short_token = short.token()
    assert glance_status(lab.glance_keystone_url, short_token) == 200

    files = {}
    for what in ("upload", "upload-app", "url"):
        files[what] = stream_optimized(random_raw(tmp_path / f"{what}.raw"))
    raw_convert = random_raw(tmp_path / "convert.raw")
    raw_export = random_raw(tmp_path / "export.raw")
    _, vm_name = vm_with_disks(vc, ds_dir, [raw_export])
    seeds = {}
    for what in ("seed", "seed-app"):
        raw = random_raw(tmp_path / f"{what}.raw")
        image_id = upload_image(lab, token, f"{PREFIX}{what}-{uuid.uuid4().hex[:6]}",
                                stream_optimized(raw).read_bytes(),
                                vmware_disktype="streamOptimized",
                                vmware_adaptertype="lsiLogic")
        cleanup.append(image_id)
        seeds[what] = (image_id, raw)
    names = {what: f"{PREFIX}{what}-{uuid.uuid4().hex[:6]}"
             for what in ("upload", "upload-app", "convert", "url", "export")}
    configs = {cloud: write_profile(sim, tmp_path / f"{cloud}.yaml", cloud=cloud)
               for cloud in (OPERATOR, APP_CREDENTIAL)}
    env = short.env()
    server = FileServer(files["url"])
    runs: list[Run] = []
    try:
        with FaultProxy("127.0.0.1", glance_port(lab)) as proxy:
            short.point_image(f"http://127.0.0.1:{proxy.port}")
            # a pause per 64 KiB, shorter for a smaller block: the API calls pass at once
            proxy.slow_down(pause_for(files["upload"].stat().st_size, TRANSFER),
                            proportional=True)
            proxy.slow_down_inbound(pause_for(seeds["seed"][1].stat().st_size, TRANSFER),
                                    proportional=True)
            operator, app = configs[OPERATOR], configs[APP_CREDENTIAL]
            for what, config, *args in (
                    ("upload", operator, "image", "upload", str(files["upload"]), "--name",
                     names["upload"]),
                    ("upload-app", app, "image", "upload", str(files["upload-app"]),
                     "--name", names["upload-app"]),
                    ("convert", operator, "image", "upload", str(raw_convert), "--convert",
                     "--name", names["convert"]),
                    ("url", operator, "image", "upload", server.url, "--name", names["url"]),
                    ("export", operator, "image", "export", vm_name, "--name",
                     names["export"]),
                    ("seed", operator, "cache", "seed", seeds["seed"][0]),
                    ("seed-app", app, "cache", "seed", seeds["seed-app"][0])):
                if runs:
                    time.sleep(STAGGER)
                runs.append(launch(tmp_path, what, config, env, *args))
            deadline = time.monotonic() + 3 * TRANSFER
            results = {run.what: run.finish(deadline) for run in runs}
    finally:
        for run in runs:
            if run.process.poll() is None:  # the test failed meanwhile
                run.process.kill()
                run.process.wait()
        server.close()
        short.point_image(lab.glance_keystone_url)
    for what, (code, stdout, stderr) in results.items():
        assert code == 0, f"{what}: {stderr}{stdout}"

    token = operator_token(lab)
    sent = {"upload": files["upload"], "upload-app": files["upload-app"], "url": files["url"]}
    for what in names:
        document = json.loads(results[what][1])
        image = glance_call(lab, token, "GET", f"/images/{document['image']['id']}")
        cleanup.append(image["id"])
        assert (image["name"], image["status"], image["os_hash_algo"]) == (
            names[what], "active", "sha512"), what
        assert (image["os_hash_value"], image["size"]) == (
            document["sha512"], document["bytes_sent"]), what
        if what in sent:
            assert image["os_hash_value"] == sha512(sent[what]), what
        # the premise: the data took longer than a token lives (the proxy's pauses alone)
        assert document["seconds"] > short.expiration, what
    for what, raw in (("convert", raw_convert), ("export", raw_export)):
        image_id = json.loads(results[what][1])["image"]["id"]
        copy = tmp_path / f"{what}-read-back.vmdk"
        copy.write_bytes(download(lab, token, image_id))
        assert same_disk(raw, copy), what
    for what, (image_id, raw) in seeds.items():
        [seeded] = json.loads(results[what][1])
        assert (seeded["image_id"], seeded["outcome"]) == (image_id, "seeded"), what
        assert seeded["seconds"] > short.expiration, what
        assert same_disk(raw, ds_dir / CACHE / image_id / f"{image_id}.vmdk"), what
    # the premise's other half: the token that worked before the transfers is refused now
    assert glance_status(lab.glance_keystone_url, short_token) == 401


# ------------------------------------------------------------------ a proxy that buffers

def test_a_buffering_proxy_lets_the_token_expire(lab, short, cleanup, tmp_path: Path) -> None:
    """The proxy holds the body ~40 s: Glance sees the token (30 s) only once expired."""
    config = glance_profile(lab, tmp_path / "operator.yaml", cloud=OPERATOR)
    vmdk = stream_optimized(random_raw(tmp_path / "buffered.raw", 2 << 20))
    name = f"{PREFIX}buffered-{uuid.uuid4().hex[:6]}"
    try:
        with HttpFaultProxy("127.0.0.1", glance_port(lab)) as proxy:
            short.point_image(proxy.url)
            proxy.read_slowly("PUT", r"/file$", pause_for(vmdk.stat().st_size, BUFFERING))
            done = subprocess.run(
                [sys.executable, "-m", "vmwctl", "--config", str(config), "image", "upload",
                 str(vmdk), "--name", name, "-o", "json"], capture_output=True, text=True,
                env={**os.environ, **short.env()}, timeout=300, check=False)
    finally:
        short.point_image(lab.glance_keystone_url)
    bodies = [request for request in proxy.requests
              if request.startswith("PUT ") and request.endswith("/file")]
    token = operator_token(lab)
    left = [image["status"] for image in project_images(lab, token) if image["name"] == name]
    document = json.loads(done.stdout) if done.stdout.startswith("{") else {}
    message = document.get("error", {}).get("message", "")
    # every outcome in one comparison, so that a failure shows them all
    outcome = {"exit status": done.returncode, "bodies sent": min(len(bodies), 2),
               "images left": left,
               "said": {fragment: fragment in message
                        for fragment in ("token", "expired", "[token] expiration")}}
    assert outcome == {"exit status": 3, "bodies sent": 1, "images left": [],
                       "said": {"token": True, "expired": True, "[token] expiration": True}}, (
        done.stderr, proxy.requests)
