"""The lab's compute API (docs/lab.md, "Compute API"): a real nova-api behind the lab's
Keystone, with plain keystoneauth1, requests and openstacksdk (not vmwctl): its version
document, the plain server list by compute node as admin and as project members, records
made and deleted through Nova's objects, and no secret on a command line.

Each test lists a compute node of its own (a unique name), so that the records other tests
make on the session's lab never change what it reads back."""

from __future__ import annotations

import configparser
import dataclasses
import re
import socket
import stat
import urllib.parse
import uuid
from pathlib import Path

import labctl
import openstack
import pytest
import requests
from helpers import command_lines
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3
from openstack import config as os_config

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def nova_runs(lab: labctl.LabState) -> None:
    assert lab.nova_url, f"the lab in {lab.dir} runs no nova-api (started --no-nova)"


def session(lab: labctl.LabState, user: str, project: str) -> ksa_session.Session:
    auth = v3.Password(auth_url=f"{lab.keystone_url}/v3", username=user,
                       password=lab.keystone_password(user), project_name=project,
                       user_domain_name="Default", project_domain_name="Default")
    return ksa_session.Session(auth=auth)


@pytest.fixture(scope="module")
def sessions(lab: labctl.LabState) -> dict[str, ksa_session.Session]:
    return {"admin": session(lab, "admin", "admin"),
            "operator": session(lab, "operator", "operators"),
            "outsider": session(lab, "outsider", "others")}


@pytest.fixture(scope="module")
def ids(lab: labctl.LabState) -> dict[str, dict[str, str]]:
    return {"projects": labctl.keystone_ids(lab, "projects"),
            "users": labctl.keystone_ids(lab, "users")}


def node_pattern(node: str) -> str:
    """The ``node`` filter that selects exactly ``node``: Nova matches it as an unanchored
    regular expression (REGEXP on MySQL and SQLite), and node names hold dots."""
    return f"^{re.escape(node)}$"


def servers(sess: ksa_session.Session, lab: labctl.LabState, **params: str) -> list[dict]:
    """The plain server list (GET /servers: ids, names and links)."""
    answer = sess.get(f"{lab.nova_url}/v2.1/servers", params=params, raise_exc=False)
    assert answer.status_code == 200, answer.text
    return answer.json()["servers"]


def by_id(listed: list[dict]) -> dict[str, str]:
    return {server["id"]: server["name"] for server in listed}


class Records:
    """Instance records on a compute node of a test's own (a cluster moref that no
    simulator has, named as Nova's VMware driver names nodes)."""

    def __init__(self, lab: labctl.LabState, ids: dict[str, dict[str, str]]) -> None:
        self.lab = lab
        self.ids = ids
        suffix = uuid.uuid4().hex[:8]
        self.cluster = f"C-{suffix}"
        self.vcenter = str(uuid.uuid4())
        self.node = labctl.nova_node_name(f"domain-c{int(suffix, 16)}", self.vcenter)
        self.host = labctl.nova_compute_host(self.cluster)

    def make(self, name: str, user: str = "operator", project: str = "operators",
             node: str | None = None) -> labctl.NovaInstance:
        return labctl.NovaInstance(uuid=str(uuid.uuid4()), name=name,
                                   project_id=self.ids["projects"][project],
                                   user_id=self.ids["users"][user], node=node or self.node,
                                   host=self.host)

    def create(self, *instances: labctl.NovaInstance) -> list[dict]:
        return labctl.create_nova_instances(self.lab, list(instances))


@pytest.fixture
def records(lab: labctl.LabState, ids: dict[str, dict[str, str]]) -> Records:
    return Records(lab, ids)


def test_version_document_without_a_token(lab: labctl.LabState) -> None:
    answer = requests.get(f"{lab.nova_url}/", timeout=30)
    assert answer.status_code == 200
    versions = {version["id"]: version for version in answer.json()["versions"]}
    assert versions["v2.1"]["status"] == "CURRENT"
    assert versions["v2.1"]["min_version"] == "2.1"
    assert requests.get(f"{lab.nova_url}/v2.1/servers", timeout=30).status_code == 401


def test_a_bad_token_is_refused(lab: labctl.LabState) -> None:
    answer = requests.get(f"{lab.nova_url}/v2.1/servers", timeout=30,
                          headers={"X-Auth-Token": "not-a-token"})
    assert answer.status_code == 401


def test_the_message_queue_is_a_closed_port(
        lab: labctl.LabState, sessions: dict[str, ksa_session.Session]) -> None:
    """Nothing reads nova-api's (and cell1's) queue; the plain list never needs it."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(Path(lab.dir) / "nova" / "nova.conf")
    queue = urllib.parse.urlsplit(conf["DEFAULT"]["transport_url"])
    assert (queue.scheme, queue.hostname) == ("rabbit", "127.0.0.1")
    assert queue.port is not None
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect((queue.hostname, queue.port))
    assert isinstance(servers(sessions["admin"], lab, all_tenants="1"), list)


def test_catalog_names_nova_api(lab: labctl.LabState,
                                sessions: dict[str, ksa_session.Session]) -> None:
    catalog = sessions["operator"].auth.get_access(sessions["operator"]).service_catalog
    for interface in ("public", "internal", "admin"):
        assert catalog.url_for(service_type="compute", interface=interface,
                               region_name="RegionOne") == f"{lab.nova_url}/v2.1"


def test_node_names_are_nova_vmware_drivers(lab: labctl.LabState) -> None:
    assert lab.nova_nodes is not None and lab.nova_hosts is not None
    assert set(lab.nova_nodes) == set(lab.nova_hosts) == {lab.cluster}
    assert re.fullmatch(r"[a-z-]+-\d+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                        r"[0-9a-f]{12}", lab.nova_nodes[lab.cluster])


def test_the_simulators_nova_vms_have_their_instances(
        lab: labctl.LabState, sessions: dict[str, ksa_session.Session]) -> None:
    """up() made a record for each VM of the simulator's that Nova marked (nvp.vm-uuid, in
    a cluster): the same UUID and name, on the node of the lab's cluster, operator's."""
    from pyVmomi import vim

    from vmwctl.vsphere.inventory import collect
    from vmwctl.vsphere.session import ConnectionSettings, VCenter

    vc = VCenter(ConnectionSettings(host=lab.vcenter_host, port=lab.vcenter_port,
                                    username=lab.username, password=lambda: lab.password,
                                    ca_file=lab.ca_file))
    try:
        vms = collect(vc, {vim.VirtualMachine: ["name", 'config.extraConfig["nvp.vm-uuid"]']})
    finally:
        vc.close()
    marked = {vm.get('config.extraConfig["nvp.vm-uuid"]').value: vm.get("name")
              for vm in vms if vm.get('config.extraConfig["nvp.vm-uuid"]') is not None}
    assert lab.nova_instances and lab.nova_nodes
    assert {uuid: marked.get(uuid) for uuid in lab.nova_instances} == lab.nova_instances
    node = lab.nova_nodes[lab.cluster]
    listed = by_id(servers(sessions["admin"], lab, all_tenants="1", node=node_pattern(node)))
    assert lab.nova_instances.items() <= listed.items()
    assert lab.nova_instances.items() <= by_id(servers(sessions["operator"], lab)).items()


def test_admin_lists_a_nodes_instances(lab: labctl.LabState, records: Records,
                                       sessions: dict[str, ksa_session.Session]) -> None:
    mine = [records.make("web-1"), records.make("web-2"),
            records.make("db-1", user="outsider", project="others")]
    other = Records(lab, records.ids)
    elsewhere = other.make("elsewhere")
    created = records.create(*mine) + other.create(elsewhere)
    compute_ids = {row["uuid"]: row["compute_id"] for row in created}
    assert len({compute_ids[i.uuid] for i in mine}) == 1  # one compute node
    assert compute_ids[elsewhere.uuid] != compute_ids[mine[0].uuid]

    listed = servers(sessions["admin"], lab, all_tenants="1",
                     node=node_pattern(records.node))
    assert by_id(listed) == {i.uuid: i.name for i in mine}
    assert by_id(servers(sessions["admin"], lab, all_tenants="1",
                         node=node_pattern(other.node))) == {elsewhere.uuid: "elsewhere"}


def test_the_labs_own_node(lab: labctl.LabState, records: Records,
                           sessions: dict[str, ksa_session.Session]) -> None:
    assert lab.nova_nodes and lab.nova_hosts
    node = lab.nova_nodes[lab.cluster]
    instance = dataclasses.replace(records.make("on-the-lab"), node=node,
                                   host=lab.nova_hosts[lab.cluster])
    records.create(instance)
    listed = by_id(servers(sessions["admin"], lab, all_tenants="1", node=node_pattern(node)))
    assert listed[instance.uuid] == "on-the-lab"
    labctl.delete_nova_instance(lab, instance.uuid, hard=True)


def test_the_node_filter_is_a_regular_expression(
        lab: labctl.LabState, records: Records,
        sessions: dict[str, ksa_session.Session]) -> None:
    """What a client must know: a node name unanchored also matches the names it begins,
    and its dots match any character; anchored and escaped, it matches itself only."""
    moref, vcenter = records.node.split(".", 1)
    longer = labctl.nova_node_name(f"{moref}7", vcenter)  # domain-cN7.<uuid>
    dotless = f"{moref}x{vcenter}"  # what the name's '.' also matches
    mine, other, odd = (records.make("regex"), records.make("longer", node=longer),
                        records.make("dotless", node=dotless))
    records.create(mine, other, odd)
    admin = sessions["admin"]
    loose = by_id(servers(admin, lab, all_tenants="1", node=records.node))
    assert {mine.uuid, odd.uuid} <= set(loose)
    assert other.uuid in by_id(servers(admin, lab, all_tenants="1", node=moref))
    exact = by_id(servers(admin, lab, all_tenants="1", node=node_pattern(records.node)))
    assert exact == {mine.uuid: "regex"}


def test_openstacksdk_lists_them_as_an_audit_would(lab: labctl.LabState,
                                                   records: Records) -> None:
    instances = [records.make("sdk-1"), records.make("sdk-2")]
    records.create(*instances)
    loader = os_config.OpenStackConfig(config_files=[lab.clouds_file],
                                       secure_files=[lab.secure_file])
    conn = openstack.connection.Connection(config=loader.get_one(lab.cloud_admin))
    try:
        listed = {server.id: server.name for server in conn.compute.servers(
            details=False, all_projects=True, node=node_pattern(records.node))}
    finally:
        conn.close()
    assert listed == {i.uuid: i.name for i in instances}


def test_members_see_their_projects_only(lab: labctl.LabState, records: Records,
                                         sessions: dict[str, ksa_session.Session]) -> None:
    operators = records.make("operators-vm")
    others = records.make("others-vm", user="outsider", project="others")
    records.create(operators, others)
    seen_by_operator = by_id(servers(sessions["operator"], lab))
    seen_by_outsider = by_id(servers(sessions["outsider"], lab))
    assert operators.uuid in seen_by_operator
    assert others.uuid not in seen_by_operator
    assert others.uuid in seen_by_outsider
    assert operators.uuid not in seen_by_outsider
    # all_tenants is admin-only: a member is refused, not answered with its own project.
    answer = sessions["outsider"].get(f"{lab.nova_url}/v2.1/servers",
                                      params={"all_tenants": "1",
                                              "node": node_pattern(records.node)},
                                      raise_exc=False)
    assert answer.status_code == 403
    assert "get_all_tenants" in answer.json()["forbidden"]["message"]


@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_a_deleted_instance_disappears(lab: labctl.LabState, records: Records,
                                       sessions: dict[str, ksa_session.Session],
                                       hard: bool) -> None:
    kept, gone = records.make("kept"), records.make("gone")
    records.create(kept, gone)
    admin = sessions["admin"]
    pattern = node_pattern(records.node)
    assert set(by_id(servers(admin, lab, all_tenants="1", node=pattern))) == \
        {kept.uuid, gone.uuid}
    labctl.delete_nova_instance(lab, gone.uuid, hard=hard)
    assert by_id(servers(admin, lab, all_tenants="1", node=pattern)) == {kept.uuid: "kept"}
    # Nova's delete keeps the row (an admin lists it with deleted=True); a hard one does not.
    deleted = by_id(servers(admin, lab, all_tenants="1", node=pattern, deleted="True"))
    assert deleted == ({} if hard else {gone.uuid: "gone"})


def test_records_refused(lab: labctl.LabState, records: Records) -> None:
    instance = records.make("twice")
    records.create(instance)
    with pytest.raises(RuntimeError, match=r"nova_records\.py create failed"):
        records.create(instance)  # the same uuid again
    with pytest.raises(RuntimeError, match=r"nova_records\.py delete failed"):
        labctl.delete_nova_instance(lab, str(uuid.uuid4()))
    without = dataclasses.replace(lab, nova_url=None)
    with pytest.raises(RuntimeError, match="runs no nova-api"):
        labctl.create_nova_instances(without, [records.make("nowhere")])


def test_no_nova_secret_on_any_command_line(lab: labctl.LabState) -> None:
    """ps shows every process's arguments: nova-api's gunicorn, nova-manage and the records
    script carry none of the lab's secrets; nova.conf is its owner's only."""
    secrets = [lab.keystone_password(user) for user in ("admin", "glance", "nova",
                                                         "operator", "auditor", "outsider")]
    lines = command_lines()
    for line in lines:
        assert not any(secret in line for secret in secrets), line
    assert len(lines) > len(lab.services)
    conf = Path(lab.dir) / "nova" / "nova.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert lab.keystone_password("nova") in conf.read_text()
