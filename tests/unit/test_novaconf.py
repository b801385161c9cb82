"""nova.conf: oslo.config's INI dialect, and ``profile import-nova-conf``."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from vmwctl.errors import ConfigError
from vmwctl.profile.nova_conf import parse_ini

NOVA_CONF = """\
[DEFAULT]
# Compute node of the VMware cluster
compute_driver = vmwareapi.VMwareVCDriver
my_ip = 10.0.0.5
host = compute-vmw-01
reserved_host_memory_mb = 0
default_availability_zone = az-vc1
image_cache_subdirectory_name = _cache
remove_unused_original_minimum_age_seconds = 3600
debug = True
transport_url = rabbit://nova:rabbit-secret@10.0.0.2:5672/

[vmware]
host_ip = vc1.example.com
host_port = 443
host_username = svc-nova@vsphere.local
host_password = Sup3r-S3cret!
cluster_name = Cluster1
datastore_regex = "nfs-os.*"
ca_file = /etc/ssl/certs/vc1.pem
insecure = False
use_linked_clone = true
vnc_port = 5900
vnc_port_total = 206
api_retry_count = 5
task_poll_interval = 1.0
wsdl_location = file:///opt/vmware/wsdl/vimService.wsdl
cache_prefix = shared

[image_cache]
remove_unused_original_minimum_age_seconds = 7200

[vnc]
enabled = False
server_listen = 0.0.0.0

[libvirt]
virt_type = kvm
"""


def write_nova_conf(path: Path, text: str = NOVA_CONF) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------ the INI dialect

def test_parse_ini_follows_oslo_config(tmp_path: Path) -> None:
    conf = parse_ini(
        "[DEFAULT]\nmy_ip = 1.2.3.4\n; comment\n\n[vmware]\nhost_ip: vc\n"
        "cluster_name = first\ncluster_name = 'second'\n"
        "datastore_regex = a\n   b\n", tmp_path / "nova.conf")
    assert conf.get("DEFAULT", "my_ip").value == "1.2.3.4"
    assert conf.get("vmware", "host_ip").value == "vc"
    assert conf.get("vmware", "cluster_name").value == "second"
    assert conf.get("vmware", "cluster_name").line == 8
    assert conf.get("vmware", "datastore_regex").value == "a\nb"
    assert conf.get("vmware", "my_ip") is None  # [DEFAULT] does not leak into other sections


@pytest.mark.parametrize(("text", "message"), [
    ("host_ip = x\n", "nova.conf:1: option outside any [section]: 'host_ip = x'"),
    ("[vmware\n", "nova.conf:1: malformed section header '[vmware'"),
    ("[vmware]\njust words\n", "nova.conf:2: expected 'name = value', got 'just words'"),
])
def test_parse_ini_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_ini(text, tmp_path / "nova.conf")
    assert str(error.value) == f"{tmp_path}/{message}"


# ------------------------------------------------------------------ import-nova-conf

def xdg_config() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "vmwctl" / "config.yaml"


def test_import_realistic_nova_conf(vmwctl, tmp_path: Path) -> None:
    nova_conf = write_nova_conf(tmp_path / "nova.conf")
    result = vmwctl("-o", "json", "profile", "import-nova-conf", str(nova_conf), "--name", "vc1")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    target = xdg_config()
    assert report["config_file"] == str(target)
    assert report["created_file"] is True and report["written"] is True
    assert report["password"].startswith("not copied")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    written = yaml.safe_load(target.read_text())
    assert written["default_profile"] == "vc1"
    profile = written["profiles"]["vc1"]
    assert profile["vmware"] == {
        "host_ip": "vc1.example.com", "host_port": 443, "host_username": "svc-nova@vsphere.local",
        "cluster_name": "Cluster1", "datastore_regex": "nfs-os.*",
        "ca_file": "/etc/ssl/certs/vc1.pem", "insecure": False, "use_linked_clone": True,
        "vnc_port": 5900, "vnc_port_total": 206, "api_retry_count": 5,
        "task_poll_interval": 1.0, "cache_prefix": "shared"}
    # [image_cache] wins over its deprecated [DEFAULT] alias; the other alias is used
    assert profile["image_cache"] == {"subdirectory_name": "_cache",
                                      "remove_unused_original_minimum_age_seconds": 7200}
    assert profile["DEFAULT"] == {"my_ip": "10.0.0.5", "reserved_host_memory_mb": 0}
    assert profile["vnc"] == {"enabled": False}
    assert profile["availability_zone"] == "az-vc1"
    text = target.read_text()
    assert "Sup3r-S3cret!" not in text and "rabbit-secret" not in text
    assert "Sup3r-S3cret!" not in result.stdout + result.stderr

    warnings = result.stderr
    assert "[vmware] wsdl_location is removed in Nova 16.0.0 (Pike); not imported" in warnings
    assert "[DEFAULT] image_cache_subdirectory_name is deprecated" in warnings

    view = vmwctl("-o", "json", "profile", "show").json()
    assert view["name"] == "vc1"
    assert view["profile"]["image_cache"]["subdirectory_name"] == "_cache"


def test_import_keeps_other_profiles_and_refuses_duplicates(vmwctl, tmp_path: Path) -> None:
    nova_conf = write_nova_conf(tmp_path / "nova.conf")
    assert vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "vc1").exit_code == 0
    second = write_nova_conf(tmp_path / "nova2.conf",
                             NOVA_CONF.replace("vc1.example.com", "vc2.example.com"))
    assert vmwctl("profile", "import-nova-conf", str(second), "--name", "vc2").exit_code == 0
    written = yaml.safe_load(xdg_config().read_text())
    assert written["default_profile"] == "vc1"
    assert written["profiles"]["vc2"]["vmware"]["host_ip"] == "vc2.example.com"
    assert written["profiles"]["vc1"]["vmware"]["host_ip"] == "vc1.example.com"

    result = vmwctl("profile", "import-nova-conf", str(second), "--name", "vc1")
    assert result.exit_code == 2
    assert f"profile 'vc1' already exists in {xdg_config()}" in result.stderr
    assert vmwctl("profile", "import-nova-conf", str(second), "--name", "vc1",
                  "--replace").exit_code == 0
    written = yaml.safe_load(xdg_config().read_text())
    assert written["profiles"]["vc1"]["vmware"]["host_ip"] == "vc2.example.com"


def test_import_into_the_file_that_would_be_read(vmwctl, isolated_environment: Path,
                                                 tmp_path: Path) -> None:
    local = isolated_environment / "vmwctl.yaml"
    local.write_text("profiles:\n  old:\n    vmware: {host_ip: o, host_username: u}\n")
    local.chmod(0o640)
    nova_conf = write_nova_conf(tmp_path / "nova.conf")
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "new")
    assert result.exit_code == 0
    assert f"wrote profile new to {local}" in result.stdout
    assert stat.S_IMODE(local.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert set(yaml.safe_load(local.read_text())["profiles"]) == {"old", "new"}
    assert not xdg_config().exists()


def test_import_password_options(vmwctl, tmp_path: Path) -> None:
    nova_conf = write_nova_conf(tmp_path / "nova.conf")
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "a",
                    "--include-password")
    assert result.exit_code == 0
    assert yaml.safe_load(xdg_config().read_text())["profiles"]["a"]["vmware"][
        "host_password"] == "Sup3r-S3cret!"
    assert "Sup3r-S3cret!" not in result.stdout + result.stderr
    assert "Sup3r-S3cret!" not in vmwctl("-o", "json", "profile", "show", "a").stdout

    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "b",
                    "--password-env", "VC1_PASSWORD")
    assert result.exit_code == 0
    profile = yaml.safe_load(xdg_config().read_text())["profiles"]["b"]["vmware"]
    assert profile["host_password_env"] == "VC1_PASSWORD"
    assert "host_password" not in profile

    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "c",
                    "--password-env", "X", "--include-password")
    assert result.exit_code == 2


def test_import_dry_run_writes_nothing(vmwctl, tmp_path: Path) -> None:
    nova_conf = write_nova_conf(tmp_path / "nova.conf")
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "vc1", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"would write profile vc1 to {xdg_config()}")
    assert "host_ip: vc1.example.com" in result.stdout
    assert not xdg_config().exists()
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "vc1", "--dry-run",
                    "-o", "json")
    assert (result.json()["dry_run"], result.json()["written"]) == (True, False)
    assert not xdg_config().exists()


@pytest.mark.parametrize(("text", "message"), [
    (NOVA_CONF.replace("host_port = 443", "host_port = https"),
     "nova.conf:15: [vmware] host_port: expected an integer, got 'https'"),
    (NOVA_CONF.replace("enabled = False", "enabled = maybe"),
     "nova.conf:34: [vnc] enabled: expected true or false, got 'maybe'"),
    (NOVA_CONF.replace('"nfs-os.*"', '"nfs-(os"'),
     "nova.conf:19: [vmware] datastore_regex: invalid regular expression 'nfs-(os': missing ), "
     "unterminated subpattern at position 4"),
    ("[DEFAULT]\ncompute_driver = libvirt.LibvirtDriver\n",
     "nova.conf has no [vmware] options: is it the nova.conf of a nova-compute that runs the "
     "VMware driver?"),
])
def test_import_rejects_bad_values_with_file_and_line(vmwctl, tmp_path: Path, text: str,
                                                      message: str) -> None:
    nova_conf = write_nova_conf(tmp_path / "nova.conf", text)
    result = vmwctl("profile", "import-nova-conf", str(nova_conf), "--name", "x")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path}/{message}\n"
    assert not xdg_config().exists()


def test_import_missing_file(vmwctl, tmp_path: Path) -> None:
    result = vmwctl("profile", "import-nova-conf", str(tmp_path / "nope.conf"), "--name", "x")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path}/nope.conf: no such file\n"


# ------------------------------------------------------------------ check nova-conf --offline

def offline(vmwctl, path: Path) -> tuple[int, dict]:
    result = vmwctl("check", "nova-conf", str(path), "--offline", "-o", "json")
    return result.exit_code, {c["id"]: c for c in result.json()["checks"]}


def test_check_nova_conf_offline_needs_no_profile(vmwctl, tmp_path: Path) -> None:
    code, found = offline(vmwctl, write_nova_conf(tmp_path / "nova.conf"))
    assert code == 0
    assert found["nova-conf.driver"]["status"] == "pass"
    assert found["nova-conf.required"]["status"] == "pass"
    assert found["nova-conf.reserved-memory"]["status"] == "pass"
    assert found["nova-conf.tls"]["status"] == "pass"
    obsolete = found["nova-conf.obsolete"]
    assert obsolete["status"] == "warn"
    assert ("nova.conf:27: [vmware] wsdl_location was removed in Nova 16.0.0 (Pike)"
            in obsolete["detail"])
    assert ("nova.conf:8: [DEFAULT] image_cache_subdirectory_name is deprecated: Nova reads "
            "[image_cache] subdirectory_name" in obsolete["detail"])
    assert found["nova-conf.values"]["detail"] == "22 Nova options set, all valid"
    assert found["nova-conf.unknown"]["status"] == "pass"
    assert found["nova-conf.connection"]["detail"] == (
        "host_port 443, api_retry_count 5, task_poll_interval 1.0 s, connection_pool_size 10")
    # the deprecated [DEFAULT] name and cache_prefix, as Nova combines them
    assert found["nova-conf.image-cache"]["detail"] == (
        "cache folder 'shared_cache' on each datastore; every 2400 s Nova removes the images "
        "unused for 7200 s")
    assert found["nova-conf.console"]["detail"] == "VNC off; MKS off"
    assert found["nova-conf.pbm"]["status"] == "pass"
    assert found["nova-conf.datastore-regex"]["status"] == "pass"
    for name in ("cluster", "datastores", "vnc-ports"):
        assert found[f"nova-conf.{name}"]["status"] == "skip"


@pytest.mark.parametrize(("edit", "check_id", "status", "text"), [
    (("vmwareapi.VMwareVCDriver", "libvirt.LibvirtDriver"), "nova-conf.driver", "fail",
     "compute_driver is libvirt.LibvirtDriver"),
    (("cluster_name = Cluster1\n", ""), "nova-conf.required", "fail", "lacks cluster_name"),
    (("host_password = Sup3r-S3cret!\n", ""), "nova-conf.required", "fail",
     "lacks host_password"),
    (("reserved_host_memory_mb = 0\n", ""), "nova-conf.reserved-memory", "warn",
     "is not set, and Nova's default 512 hides 512 MB from the scheduler"),
    (("use_linked_clone = true", "use_linked_clone = maybe"), "nova-conf.values", "fail",
     "nova.conf:22: [vmware] use_linked_clone = 'maybe': not a boolean"),
    (("reserved_host_memory_mb = 0", "reserved_host_memory_mb = 512"),
     "nova-conf.reserved-memory", "warn", "nova.conf:6"),
    (("ca_file = /etc/ssl/certs/vc1.pem\ninsecure = False", "insecure = True"), "nova-conf.tls",
     "warn", "insecure = True without ca_file"),
    (('"nfs-os.*"', '"nfs-(os"'), "nova-conf.datastore-regex", "fail", "is invalid"),
])
def test_check_nova_conf_offline_findings(vmwctl, tmp_path: Path, edit: tuple[str, str],
                                          check_id: str, status: str, text: str) -> None:
    conf = write_nova_conf(tmp_path / "nova.conf", NOVA_CONF.replace(*edit))
    code, found = offline(vmwctl, conf)
    assert found[check_id]["status"] == status
    assert text in found[check_id]["detail"]
    assert code == (1 if status == "fail" else 0)
    assert "Sup3r-S3cret!" not in json.dumps(found)


def test_check_nova_conf_unreadable_file(vmwctl, tmp_path: Path) -> None:
    result = vmwctl("check", "nova-conf", str(tmp_path / "missing.conf"), "--offline")
    assert result.exit_code == 2


def test_import_takes_the_mks_console(tmp_path: Path) -> None:
    from vmwctl.profile.nova_conf import profile_from_nova_conf, read_nova_conf

    conf = write_nova_conf(tmp_path / "nova.conf", NOVA_CONF + (
        "[mks]\nenabled = True\nmksproxy_base_url = https://mks.example:6090/\n"))
    data = profile_from_nova_conf(read_nova_conf(conf), include_password=False).data
    assert data["mks"] == {"enabled": True, "mksproxy_base_url": "https://mks.example:6090/"}
    assert list(data).index("mks") == list(data).index("vnc") + 1
