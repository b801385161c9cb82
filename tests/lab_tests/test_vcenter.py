"""The vCenter session against the lab's simulator: TLS, login, re-login, errors, about."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import write_config
from pyVmomi import vim

from vmwctl.errors import AuthError, ConnectError, OperationFailed
from vmwctl.vsphere.inventory import collect, read_objects
from vmwctl.vsphere.session import ConnectionSettings, VCenter
from vmwctl.vsphere.tasks import wait_for_task

pytestmark = pytest.mark.lab


def settings(lab, **overrides) -> ConnectionSettings:
    values = {"host": lab.vcenter_host, "port": lab.vcenter_port, "username": lab.username,
              "password": lambda: lab.password, "ca_file": lab.ca_file}
    values.update(overrides)
    return ConnectionSettings(**values)


def lab_profile(lab, path: Path, **vmware: object) -> Path:
    base = {"host_ip": lab.vcenter_host, "host_port": lab.vcenter_port,
            "host_username": lab.username, "host_password_file": lab.password_file,
            "ca_file": lab.ca_file, "cluster_name": lab.cluster}
    base.update(vmware)
    lines = ["profiles:", "  lab:", "    vmware:"]
    lines += [f"      {k}: {v}" for k, v in base.items() if v is not None]
    return write_config(path, "\n".join(lines) + "\n")


def session_keys(lab) -> set[str]:
    """The sessions the simulator holds, seen from a separate admin session."""
    vc = VCenter(settings(lab))
    try:
        sessions = vc.content.sessionManager.sessionList or []
        mine = vc.content.sessionManager.currentSession.key
        return {s.key for s in sessions} - {mine}
    finally:
        vc.close()


# ------------------------------------------------------------------ about and -o placement

def test_about_table(vmwctl, lab, lab_env) -> None:
    result = vmwctl("about")
    assert result.exit_code == 0, result.stderr
    assert "VMware vCenter Server 6.5.0 build-5973321" in result.stdout
    assert "VirtualCenter 6.5" in result.stdout
    assert lab.username in result.stdout
    assert result.stderr == ""


def test_about_json_before_and_after_the_command(vmwctl, lab, lab_env) -> None:
    before = vmwctl("-o", "json", "about")
    after = vmwctl("about", "-o", "json")
    assert before.exit_code == after.exit_code == 0
    assert before.json() == after.json()
    about = before.json()
    assert about == {
        "url": lab.vcenter_url,
        "product": "VMware vCenter Server 6.5.0 build-5973321",
        "name": "VMware vCenter Server",
        "vendor": "VMware, Inc.",
        "version": "6.5.0",
        "build": "5973321",
        "api_type": "VirtualCenter",
        "api_version": "6.5",
        "instance_uuid": about["instance_uuid"],
        "product_line_id": "vpx",
        "os_type": "linux-x64",
        "session_user": lab.username,
    }
    assert len(about["instance_uuid"]) == 36
    assert vmwctl("about", "--output=yaml").stdout.startswith(f"url: {lab.vcenter_url}\n")


def test_quiet_prints_nothing(vmwctl, lab, lab_env) -> None:
    result = vmwctl("about", "-q")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_commands_log_out(vmwctl, lab, lab_env) -> None:
    before = session_keys(lab)
    assert vmwctl("about").exit_code == 0
    assert session_keys(lab) == before


def test_govc_environment_is_enough(vmwctl, lab) -> None:
    env = {"GOVC_URL": lab.vcenter_url, "GOVC_USERNAME": lab.username,
           "GOVC_PASSWORD": lab.password_file, "GOVC_TLS_CA_CERTS": lab.ca_file}
    result = vmwctl("-o", "json", "about", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.json()["session_user"] == lab.username


# ------------------------------------------------------------------ TLS

def test_tls_verified_with_the_profiles_ca_file(lab) -> None:
    vc = VCenter(settings(lab))
    try:
        assert vc.content.about.apiType == "VirtualCenter"
    finally:
        vc.close()


def test_tls_failure_without_the_ca_says_how_to_fix(vmwctl, lab, tmp_path: Path) -> None:
    config = lab_profile(lab, tmp_path / "c.yaml", ca_file=None)
    result = vmwctl("--config", str(config), "about")
    assert result.exit_code == 3
    assert "cannot verify the TLS certificate of vCenter 127.0.0.1:" in result.stderr
    assert "set vmware.ca_file in the profile" in result.stderr
    assert result.stderr.count("\n") == 1


def test_tls_failure_with_the_wrong_ca(vmwctl, lab, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", tmp_path / "k",
                    "-out", other_ca, "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    config = lab_profile(lab, tmp_path / "c.yaml", ca_file=other_ca)
    result = vmwctl("--config", str(config), "-o", "json", "about")
    assert result.exit_code == 3
    message = result.json()["error"]["message"]
    assert f"vmware.ca_file {other_ca} does not hold the CA that signed it" in message

    env = {"GOVC_URL": lab.vcenter_url, "GOVC_USERNAME": lab.username,
           "GOVC_PASSWORD": lab.password, "GOVC_TLS_CA_CERTS": str(other_ca)}
    result = vmwctl("-o", "json", "about", env=env)
    assert result.exit_code == 3
    message = result.json()["error"]["message"]
    assert f"GOVC_TLS_CA_CERTS {other_ca} does not hold the CA that signed it" in message


def test_insecure_connects_and_warns(vmwctl, lab, tmp_path: Path) -> None:
    config = lab_profile(lab, tmp_path / "c.yaml", ca_file=None)
    result = vmwctl("--config", str(config), "--insecure", "about")
    assert result.exit_code == 0
    assert "TLS certificate verification of 127.0.0.1 is off (--insecure)" in result.stderr
    config = lab_profile(lab, tmp_path / "d.yaml", ca_file=None, insecure="true")
    result = vmwctl("--config", str(config), "about")
    assert result.exit_code == 0
    assert "(vmware.insecure)" in result.stderr
    assert vmwctl("--config", str(config), "-q", "about").stderr == ""


def test_unreadable_ca_file_is_a_configuration_error(vmwctl, lab, tmp_path: Path) -> None:
    config = lab_profile(lab, tmp_path / "c.yaml", ca_file=tmp_path / "missing.pem")
    result = vmwctl("--config", str(config), "about")
    assert result.exit_code == 2
    assert f"cannot load vmware.ca_file {tmp_path / 'missing.pem'}" in result.stderr


# ------------------------------------------------------------------ connection failures

def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_exits_3(vmwctl, lab, tmp_path: Path) -> None:
    port = closed_port()
    config = lab_profile(lab, tmp_path / "c.yaml", host_port=port)
    result = vmwctl("--config", str(config), "about")
    assert result.exit_code == 3
    assert result.stderr == (f"Error: cannot connect to vCenter 127.0.0.1:{port}: connection "
                             "refused; check vmware.host_ip and vmware.host_port, and that "
                             "vCenter is running\n")
    assert result.stdout == ""
    result = vmwctl("--config", str(config), "about", "-o", "json")
    assert result.exit_code == 3
    assert result.json() == {"error": {
        "message": f"cannot connect to vCenter 127.0.0.1:{port}: connection refused; check "
                   "vmware.host_ip and vmware.host_port, and that vCenter is running",
        "exit_code": 3}}


def test_bad_credentials_exit_3(vmwctl, lab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-pw"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    config = lab_profile(lab, tmp_path / "c.yaml", host_password_file=wrong)
    result = vmwctl("--config", str(config), "-o", "json", "about")
    assert result.exit_code == 3
    assert result.json()["error"]["message"] == (
        f"vCenter 127.0.0.1:{lab.vcenter_port} rejected the login of {lab.username}: check "
        "vmware.host_username and the password source")
    assert "not-the-password" not in result.stdout + result.stderr


def test_password_never_appears_even_with_verbose_tracebacks(vmwctl, lab, tmp_path: Path) -> None:
    config = lab_profile(lab, tmp_path / "c.yaml", host_port=closed_port())
    result = vmwctl("--config", str(config), "-vv", "about")
    assert result.exit_code == 3
    assert lab.password not in result.stdout + result.stderr


def test_session_errors_are_typed(lab) -> None:
    with pytest.raises(ConnectError):
        VCenter(settings(lab, port=closed_port())).connect()
    with pytest.raises(AuthError):
        VCenter(settings(lab, password=lambda: "wrong")).connect()


# ------------------------------------------------------------------ re-login

def test_relogin_after_the_simulator_drops_the_session(lab) -> None:
    vc = VCenter(settings(lab))
    admin = VCenter(settings(lab))
    try:
        first_key = vc.content.sessionManager.currentSession.key
        hosts = collect(vc, {vim.HostSystem: ["name"]})
        assert len(hosts) == 3
        admin.content.sessionManager.TerminateSession([first_key])

        sent = vc.request_count
        hosts = collect(vc, {vim.HostSystem: ["name"]})
        assert sorted(h.get("name") for h in hosts) == [f"DC0_C0_H{i}" for i in range(3)]
        # CreateContainerView failed with NotAuthenticated, Login, then the read again
        assert vc.request_count - sent == 2 + 3
        assert vc.content.sessionManager.currentSession.key != first_key
    finally:
        vc.close()
        admin.close()


# ------------------------------------------------------------------ transient faults

def test_transient_connection_failures_are_retried(lab, monkeypatch) -> None:
    from faultproxy import FaultProxy

    from vmwctl.vsphere import session

    monkeypatch.setattr(session, "BACKOFF_START", 0.01)
    with FaultProxy(lab.vcenter_host, lab.vcenter_port) as proxy:
        vc = VCenter(settings(lab, port=proxy.port, api_retry_count=3))
        try:
            vc.connect()
            proxy.reset_next(2)
            proxy.cut_all()
            sent = vc.request_count
            hosts = collect(vc, {vim.HostSystem: ["name"]})
            assert len(hosts) == 3
            assert proxy.resets == 2
            # the broken pooled connection and two resets: three failed sends, then success
            assert vc.request_count - sent == 3 + 3

            proxy.reset_next(10)
            proxy.cut_all()
            with pytest.raises(ConnectError, match=r"failed during CreateContainerView \(.*\) "
                                                   r"\(gave up after 3 retries\)"):
                collect(vc, {vim.HostSystem: ["name"]})
        finally:
            proxy.reset_next(0)
            vc.close()


# ------------------------------------------------------------------ inventory and tasks

def test_inventory_reads_page_without_per_object_calls(lab) -> None:
    vc = VCenter(settings(lab))
    try:
        vc.connect()
        assert vc.request_count == 2  # RetrieveServiceContent, Login
        sent = vc.request_count
        vms = collect(vc, {vim.VirtualMachine: ["name", "runtime.powerState"]})
        assert vc.request_count - sent == 3  # CreateContainerView, one page, DestroyView
        assert len(vms) == 2 and all(vm.get("runtime.powerState") == "poweredOn" for vm in vms)

        sent = vc.request_count
        paged = collect(vc, {vim.VirtualMachine: ["name"], vim.HostSystem: ["name"]},
                        page_size=1)
        assert len(paged) == 5
        assert vc.request_count - sent == 2 + 5  # one page per object at page size 1

        again = read_objects(vc, [vm.ref for vm in vms], ["name"])
        assert {r.get("name") for r in again} == {vm.get("name") for vm in vms}
    finally:
        vc.close()


def test_one_connection_carries_the_version_probe_and_the_session(simulator) -> None:
    """The probe of vimServiceVersions.xml, the login, reads and the logout go over one
    connection: one TLS handshake per session, not one for the probe and one for the rest."""
    sim = simulator()
    vc = VCenter(ConnectionSettings(host="127.0.0.1", port=sim.port, username=sim.username,
                                    password=lambda: sim.lab.password, ca_file=sim.lab.ca_file))
    try:
        vc.connect()
        assert len(collect(vc, {vim.HostSystem: ["name"]})) == 3
    finally:
        vc.close()
    assert sim.connections() == 1
    calls = sim.calls()["answered"]
    assert calls == {"RetrieveServiceContent": 1, "Login": 1, "CreateContainerView": 1,
                     "RetrievePropertiesEx": 1, "DestroyView": 1, "Logout": 1}
    assert sim.sessions() == []


class ClosingFront:
    """A TLS front to a simulator that forwards each request and, like a proxy that keeps
    no connection alive, answers the version probe with ``Connection: close``."""

    def __init__(self, sim) -> None:
        import http.client
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        front = self
        self.connections = 0
        upstream_context = ssl.create_default_context(cafile=sim.lab.ca_file)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPSConnection("127.0.0.1", sim.port,
                                                       context=upstream_context, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers={
                        k: v for k, v in self.headers.items()
                        if k.lower() in ("cookie", "soapaction", "content-type")})
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                probe = self.path.endswith("vimServiceVersions.xml")
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() in ("set-cookie", "content-type", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                if probe:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward  # noqa: N815

        class Server(ThreadingHTTPServer):
            def process_request(self, request: Any, client_address: Any) -> None:
                front.connections += 1
                super().process_request(request, client_address)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        lab_dir = Path(sim.lab.dir)
        context.load_cert_chain(lab_dir / "server.pem", lab_dir / "server.key")
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_probe_answered_with_connection_close_gets_a_new_connection(simulator) -> None:
    """A server that closes the probe's connection: the session opens its own, and works."""
    sim = simulator()
    front = ClosingFront(sim)
    vc = VCenter(ConnectionSettings(host="127.0.0.1", port=front.port, username=sim.username,
                                    password=lambda: sim.lab.password, ca_file=sim.lab.ca_file,
                                    api_retry_count=0))
    try:
        vc.connect()
        assert len(collect(vc, {vim.HostSystem: ["name"]})) == 3
        assert vc.request_count == 5
    finally:
        vc.close()
        front.close()
    assert front.connections == 2  # the probe's, closed; the session's
    assert sim.sessions() == []


def test_a_ca_file_changed_on_disk_is_read_again(lab, tmp_path: Path) -> None:
    """TLS contexts are shared per CA file, but one that changed is loaded again."""
    ca = tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", tmp_path / "k",
                    "-out", ca, "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    with pytest.raises(ConnectError, match="does not hold the CA that signed it"):
        VCenter(settings(lab, ca_file=str(ca))).connect()
    ca.write_bytes(Path(lab.ca_file).read_bytes() + b"\n")  # the lab's CA: another size
    vc = VCenter(settings(lab, ca_file=str(ca)))
    try:
        assert vc.content.about.apiType == "VirtualCenter"
    finally:
        vc.close()


def test_lab_datastores_are_shared_vmfs(lab) -> None:
    """The lab's simulator main lists every host in Datastore.host and sets type VMFS."""
    vc = VCenter(settings(lab))
    try:
        stores = collect(vc, {vim.Datastore: ["summary.type", "host", "summary.name"]})
        hosts = collect(vc, {vim.HostSystem: ["name"]})
        assert [ds.get("summary.type") for ds in stores] == ["VMFS"]
        mounts = stores[0].get("host")
        assert {m.key._moId for m in mounts} == {h.moid for h in hosts}
        assert all(m.mountInfo.accessible and m.mountInfo.mounted for m in mounts)
        cluster = collect(vc, {vim.ClusterComputeResource: ["configurationEx"]})[0]
        drs = cluster.get("configurationEx").drsConfig
        assert drs.enabled is True and drs.defaultVmBehavior == "fullyAutomated"
    finally:
        vc.close()


def test_task_wait_reads_state_of_manager_tasks(lab) -> None:
    """FileManager tasks name the manager as entity; pyVmomi cannot read their info."""
    vc = VCenter(settings(lab))
    datastore_dir = Path(lab.datastores["LocalDS_0"])
    try:
        content = vc.content
        datacenter = content.rootFolder.childEntity[0]
        content.fileManager.MakeDirectory("[LocalDS_0] vmwctl-task-test/sub", datacenter, True)
        assert (datastore_dir / "vmwctl-task-test" / "sub").is_dir()

        task = content.fileManager.DeleteDatastoreFile_Task("[LocalDS_0] vmwctl-task-test",
                                                            datacenter)
        with pytest.raises(TypeError):
            task.info  # noqa: B018 (the simulator's quirk this helper exists for)
        wait_for_task(vc, task, what="deleting [LocalDS_0] vmwctl-task-test",
                      poll_interval=0.05)
        assert not (datastore_dir / "vmwctl-task-test").exists()

        task = content.fileManager.DeleteDatastoreFile_Task("[LocalDS_0] vmwctl-task-test",
                                                            datacenter)
        with pytest.raises(OperationFailed, match=r"^deleting \[LocalDS_0\] vmwctl-task-test "
                                                  r"failed: FileNotFound"):
            wait_for_task(vc, task, what="deleting [LocalDS_0] vmwctl-task-test",
                          poll_interval=0.05)

        unknown = vim.Task("task-999999", stub=vc.content.propertyCollector._stub)
        with pytest.raises(OperationFailed, match=r"vCenter shows no task task-999999"):
            wait_for_task(vc, unknown, what="deleting x", poll_interval=0.05)
    finally:
        vc.close()
