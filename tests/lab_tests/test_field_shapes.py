"""Every read-only command on every shape of a real vCenter (docs/lab.md).

One simulator per shape (the lab's flags for vCLS VMs, an empty cluster, a
host not responding, vSAN, an NFS datastore gone, 40 port groups, opaque
networks, a partial VNC ruleset, a hundred foreign VMs, and all of them at
once), shared by the shape's commands. Each command runs in-process with
``-o json`` and as a table: no traceback, no internal error, exit status 0 or
1 (a check may fail), the JSON parses, and the shape shows in the JSON of the
commands that show it. The verdicts of the dedicated, cluster and VNC checks
are not asserted here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
EMPTY = "C-empty"
LOST = "DC0_C0_H1"

COMMANDS: dict[str, tuple[str, ...]] = {
    "about": ("about",),
    "cluster-list": ("cluster", "list"),
    "cluster-inspect": ("cluster", "inspect"),
    "cluster-fit": ("cluster", "fit", "m1.small:1:512:1"),
    "check-prereqs": ("check", "prereqs"),
    "check-privileges": ("check", "privileges"),
    "check-nova-conf": ("check", "nova-conf", "{nova_conf}"),
    "check-fleet": ("--config", "{fleet}", "check", "fleet"),
    "firewall-status": ("firewall", "status"),
    "cache-list": ("cache", "list"),
    "vm-list": ("vm", "list", "--all"),
}
# the empty cluster as the one Nova is given
ON_EMPTY: dict[str, tuple[str, ...]] = {
    "cluster-inspect-empty": ("cluster", "inspect", EMPTY),
    "cluster-fit-empty": ("cluster", "fit", "m1.small:1:512:1", "--cluster", EMPTY),
    "check-prereqs-empty": ("check", "prereqs", "--cluster", EMPTY),
    "firewall-status-empty": ("firewall", "status", "--cluster", EMPTY),
    "check-nova-conf-empty": ("check", "nova-conf", "{nova_conf_empty}"),
}
Check = Callable[[Any], None]


# ------------------------------------------------------------------ what each shape shows

def vm_names(doc: Any) -> list[str]:
    return [vm["name"] for vm in doc["vms"]]


def vcls_numbered(doc: Any) -> None:
    names = vm_names(doc)
    assert {"vCLS (1)", "vCLS (2)", "vCLS (3)", "nsx-edge-01"} <= set(names), names
    assert "vCLS (4)" not in names


def vcls_uuid(doc: Any) -> None:
    names = vm_names(doc)
    assert len([n for n in names if re.fullmatch(f"vCLS-{UUID}", n)]) == 3, names
    assert names.count("nsx-edge-01") == 1


def foreign_vms(doc: Any) -> None:
    assert sorted(n for n in vm_names(doc) if n.startswith("app-")) == [
        f"app-{i:03d}" for i in range(1, 101)]


def empty_cluster_listed(doc: Any) -> None:
    clusters = {c["name"]: c for c in doc["clusters"]}
    assert clusters[EMPTY]["hosts"] == 0 and clusters[EMPTY]["hosts_counted"] == 0
    assert clusters["DC0_C0"]["hosts"] == 3


def empty_cluster_inspected(doc: Any) -> None:
    assert (doc["name"], doc["hosts"], doc["datastores"]) == (EMPTY, [], [])
    assert doc["nova"]["vcpus"] == 0 and doc["nova"]["memory_mb"] == 0


def empty_cluster_checked(doc: Any) -> None:
    assert doc["cluster"] == EMPTY


def empty_cluster_firewall(doc: Any) -> None:
    assert (doc["cluster"], doc["hosts"]) == (EMPTY, [])


def empty_cluster_in_fleet(doc: Any) -> None:
    assert doc["services"] == 2


def host_state(doc: Any) -> None:
    states = {h["name"]: h["connection_state"] for h in doc["hosts"]}
    assert states[LOST] == "notResponding"
    assert {s for h, s in states.items() if h != LOST} == {"connected"}


def firewall_host_state(doc: Any) -> None:
    assert {h["host"]: h["state"] for h in doc["hosts"]}[LOST] == "notResponding"


def vms_on_hosts(count: int) -> Check:
    def check(doc: Any) -> None:
        assert sum(h["vms"] for h in doc["hosts"]) == count

    return check


def datastore(name: str, **expected: Any) -> Check:
    def check(doc: Any) -> None:
        found = {d["name"]: d for d in doc["datastores"]}[name]
        assert {k: found[k] for k in expected} == expected

    return check


def cached_on(*names: str, absent: tuple[str, ...] = ()) -> Check:
    def check(doc: Any) -> None:
        assert set(names) <= set(doc["datastores"])
        assert not set(absent) & set(doc["datastores"])

    return check


def vnc_ruleset(doc: Any) -> None:
    opened = {h["host"]: h["rulesets"].get("vnc") for h in doc["hosts"] if h["checked"]}
    assert opened and set(map(str, opened.values())) == {"[[5900, 6000]]"}, opened


def mentioned(*words: str) -> Check:
    def check(doc: Any) -> None:
        text = str(doc)
        assert all(word in text for word in words), words

    return check


def all_of(*checks: Check) -> Check:
    def check(doc: Any) -> None:
        for one in checks:
            one(doc)

    return check


# ------------------------------------------------------------------ the shapes

@dataclass
class Shape:
    flags: tuple[str, ...]
    shows: dict[str, Check] = field(default_factory=dict)
    scenario: str = "healthy"
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)


VSAN = ("-add-datastore", "vsanDatastore=vsan:*")
NFS_GONE = ("-add-datastore", "nfs-gone=NFS:*", "-inaccessible-datastore", "nfs-gone")
OPAQUE = ("-opaque-network", "ls-web", "-opaque-network", "ls-db=5f0ac3d2")
SHAPES: dict[str, Shape] = {
    "vcls-numbered": Shape(("-agent-vms", "numbered"), {
        "vm-list": vcls_numbered, "cluster-inspect": vms_on_hosts(2 + 3 + 1)}),
    "vcls-uuid-nsx-edge": Shape(("-agent-vms", "uuid"), {
        "vm-list": vcls_uuid, "cluster-inspect": vms_on_hosts(2 + 3 + 1)}),
    "empty-cluster": Shape(("-empty-cluster", EMPTY), {
        "cluster-list": empty_cluster_listed, "cluster-inspect-empty": empty_cluster_inspected,
        "check-prereqs-empty": empty_cluster_checked,
        "firewall-status-empty": empty_cluster_firewall,
        "check-nova-conf-empty": mentioned(f"/DC0/host/{EMPTY}"),
        "check-fleet": empty_cluster_in_fleet}, commands=ON_EMPTY),
    "not-responding-host": Shape(("-not-responding-host", LOST), {
        "cluster-inspect": host_state, "firewall-status": firewall_host_state}),
    "vsan-datastore": Shape(VSAN, {
        "cluster-inspect": datastore("vsanDatastore", type="vsan", accessible=True,
                                     mounted_hosts=3, used=True),
        "cache-list": cached_on("vsanDatastore", "LocalDS_0")}),
    "nfs-not-accessible": Shape(NFS_GONE, {
        "cluster-inspect": datastore("nfs-gone", type="NFS", accessible=False,
                                     mounted_hosts=0, used=False),
        "cache-list": cached_on("LocalDS_0", absent=("nfs-gone",))}),
    "40-port-groups": Shape(("-pg", "40"), {"check-prereqs": mentioned("DVS0")}),
    "opaque-networks": Shape(OPAQUE, {"check-prereqs": mentioned("ls-web")}),
    "partial-vnc-ruleset": Shape(("-firewall-ruleset", "vnc=5900-6000"), {
        "firewall-status": vnc_ruleset}, scenario="fresh"),
    "100-foreign-vms": Shape(("-foreign-vms", "100"), {
        "vm-list": foreign_vms, "cluster-inspect": vms_on_hosts(102)}),
    "everything": Shape(
        ("-agent-vms", "uuid", "-empty-cluster", EMPTY, "-not-responding-host", LOST, *VSAN,
         *NFS_GONE, "-pg", "40", *OPAQUE, "-firewall-ruleset", "vnc=5900-6000",
         "-foreign-vms", "100"), {
            "vm-list": all_of(vcls_uuid, foreign_vms),
            "cluster-list": empty_cluster_listed,
            "cluster-inspect": all_of(
                host_state, vms_on_hosts(2 + 3 + 1 + 100),
                datastore("vsanDatastore", type="vsan", accessible=True, mounted_hosts=3),
                datastore("nfs-gone", accessible=False, mounted_hosts=0, used=False)),
            "firewall-status": all_of(firewall_host_state, vnc_ruleset),
            "cache-list": cached_on("vsanDatastore", absent=("nfs-gone",)),
            "cluster-inspect-empty": empty_cluster_inspected,
            "check-fleet": empty_cluster_in_fleet},
        scenario="fresh", commands=ON_EMPTY),
}

CASES = [pytest.param(shape, command, output, id=f"{shape}-{command}-{output}")
         for shape, spec in SHAPES.items()
         for command in [*COMMANDS, *spec.commands]
         for output in ("json", "table")]


# ------------------------------------------------------------------ one simulator per shape

@dataclass
class Shaped:
    name: str
    sim: Any
    files: dict[str, str]


def lab_nova_conf(sim, path: Path, cluster: str = "DC0_C0") -> Path:
    """The nova.conf of a compute service on the shaped simulator (its password, its CA)."""
    lab = sim.lab
    path.write_text(
        "[DEFAULT]\ncompute_driver = vmwareapi.VMwareVCDriver\n"
        f"my_ip = 192.0.2.10\nreserved_host_memory_mb = 0\n[vmware]\nhost_ip = 127.0.0.1\n"
        f"host_port = {sim.port}\nhost_username = {sim.username}\n"
        f"host_password = {lab.password}\ncluster_name = {cluster}\nca_file = {lab.ca_file}\n"
        "vnc_port_total = 206\n")
    path.chmod(0o600)
    return path


def fleet_config(sim, path: Path, clusters: list[str]) -> Path:
    """A config whose profiles are compute services on the shaped simulator, one a cluster."""
    base = yaml.safe_load(Path(sim.config).read_text())["profiles"]["sim"]
    profiles = {}
    for i, cluster in enumerate(clusters):
        profile = yaml.safe_load(yaml.safe_dump(base))
        profile["vmware"]["cluster_name"] = cluster
        profile["DEFAULT"] = {"my_ip": f"10.0.0.{i + 1}"}
        profile["availability_zone"] = "az-shape"
        profiles[f"svc-{i}"] = profile
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def shaped(module_simulator, tmp_path_factory) -> Any:
    """The simulator of the shape the test is parametrized with, started once."""
    started: dict[str, Shaped] = {}

    def get(name: str) -> Shaped:
        if name not in started:
            for other in started.values():  # one simulator running at a time
                other.sim.close()
            started.clear()
            shape = SHAPES[name]
            sim = module_simulator(*shape.flags, scenario=shape.scenario)
            directory = tmp_path_factory.mktemp(name)
            clusters = ["DC0_C0", EMPTY] if EMPTY in shape.flags else ["DC0_C0"]
            files = {"nova_conf": str(lab_nova_conf(sim, directory / "nova.conf")),
                     "nova_conf_empty": str(lab_nova_conf(sim, directory / "empty.conf", EMPTY)),
                     "fleet": str(fleet_config(sim, directory / "fleet.yaml", clusters))}
            started[name] = Shaped(name, sim, files)
        return started[name]

    return get


@pytest.mark.parametrize(("shape", "command", "output"), CASES)
def test_read_only_commands_on_every_shape(shaped, lab_env, shape: str, command: str,
                                           output: str) -> None:
    spec = SHAPES[shape]
    target = shaped(shape)
    args = [a.format(**target.files) for a in {**COMMANDS, **spec.commands}[command]]
    if output == "json":
        args += ["-o", "json"]
    result = target.sim.run(*args)

    if "Traceback" in result.stderr or "internal error" in result.stderr:
        verbose = target.sim.run(*args, "-v")
        pytest.fail(f"vmwctl {' '.join(args)} crashed on {shape}:\n{verbose.stderr}")
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr, result.stdout)
    if output == "table":
        assert result.stdout.strip()
        return
    document = result.json()
    assert "error" not in document, document
    if command in spec.shows:
        spec.shows[command](document)
