"""``check fleet``: every ``fleet-*`` id's edges on services whose vCenters are inventories
built in memory (``note_inventory`` is what ``contact`` does with the inventory it read)."""

from __future__ import annotations

from inventory import make_cluster, make_datastore, make_endpoint, make_inventory, make_profile

from vmwctl.checks.fleet import (
    Service,
    check_cache,
    check_cluster_owners,
    check_reachability,
    check_zones,
    contact,
    note_inventory,
)
from vmwctl.checks.model import Status
from vmwctl.errors import ConnectError
from vmwctl.vsphere.model import Inventory

NFS_URL = "ds:///vmfs/volumes/0a1b2c3d-nfs/"


def vcenter(uuid: str, *clusters: str, datastore: str = "local", url: str | None = None,
            version: str = "8.0.2") -> Inventory:
    """A vCenter whose clusters (default C0) all hold one datastore (by default its own)."""
    ds = make_datastore(datastore, url=url or f"ds:///vmfs/volumes/{uuid}-{datastore}/")
    return make_inventory(*(make_cluster(name, datastores=[ds]) for name in clusters or ("C0",)),
                          endpoint=make_endpoint(instance_uuid=uuid, version=version))


def service(name: str, inventory: Inventory | None, *, host_ip: str = "vc-a.example.test",
            cluster: str = "C0", zone: str | None = None, my_ip: str | None = "10.0.0.1",
            **options: object) -> Service:
    """A service of the fleet; ``inventory`` None: its vCenter did not answer."""
    vmware = {"host_ip": host_ip, "cluster_name": cluster,
              **{k: v for k, v in options.items() if k in ("cache_prefix", "datastore_regex")}}
    sections: dict[str, object] = {"vmware": vmware, "DEFAULT": {"my_ip": my_ip} if my_ip else {}}
    if "remove_unused_base_images" in options:
        sections["image_cache"] = {"remove_unused_base_images":
                                   options["remove_unused_base_images"]}
    if zone:
        sections["availability_zone"] = zone
    result = Service(name, make_profile(**sections))
    if inventory is None:
        result.error = f"cannot connect to {host_ip}:443: connection refused"
        return result
    return note_inventory(result, inventory)


# ------------------------------------------------------------------ what contact notes

def test_note_inventory_keeps_the_vcenter_the_cluster_and_the_datastores_nova_uses() -> None:
    inventory = make_inventory(make_cluster(datastores=[
        make_datastore("nfs-os", url=NFS_URL), make_datastore("local"),
        make_datastore("nfs-off", accessible=False)]),
        endpoint=make_endpoint(instance_uuid="uuid-a", version="7.0.3"))
    found = service("a1", inventory, datastore_regex="nfs")
    assert (found.reachable, found.version, found.vcenter) == (True, "7.0.3", "uuid-a")
    assert (found.cluster_moref, found.cluster_path) == ("domain-C0", "/DC0/host/C0")
    assert found.datastores == {NFS_URL: "nfs-os"}


def test_note_inventory_a_datastore_without_url_is_known_by_vcenter_and_moid() -> None:
    ds = make_datastore("local")
    ds.url = None
    inventory = make_inventory(make_cluster(datastores=[ds]),
                               endpoint=make_endpoint(instance_uuid="uuid-a"))
    assert service("a1", inventory).datastores == {"uuid-a/datastore-local": "local"}


def test_note_inventory_without_a_unique_cluster_notes_no_cluster() -> None:
    found = service("a1", vcenter("uuid-a"), cluster="Nope")
    assert found.reachable and found.cluster_moref is None and found.datastores == {}
    twice = make_inventory(make_cluster(moid="domain-c1", datacenter="DC0"),
                           make_cluster(moid="domain-c2", datacenter="DC1"),
                           datacenters=("DC0", "DC1"))
    assert service("a1", twice).cluster_moref is None


def test_contact_an_unreachable_vcenter_keeps_the_error() -> None:
    def refuse(profile):
        raise ConnectError(f"cannot connect to {profile.vmware.host_ip}:443: connection refused")

    found = contact(Service("gone", make_profile(vmware={"host_ip": "vc-z.example.test"})),
                    refuse)
    assert not found.reachable
    assert found.error == "cannot connect to vc-z.example.test:443: connection refused"
    assert found.vcenter == "vc-z.example.test:443"  # known by address when it did not answer


# ------------------------------------------------------------------ fleet-reachability

def test_reachability_all_answer() -> None:
    a, b = vcenter("uuid-a"), vcenter("uuid-b", version="7.0.3")
    result = check_reachability([service("a1", a), service("b1", b, host_ip="vc-b.example.test")])
    assert result.status == Status.PASS
    assert result.detail == ("a1 vc-a.example.test:443 (vCenter 8.0.2, 0.00 s), "
                             "b1 vc-b.example.test:443 (vCenter 7.0.3, 0.00 s)")
    assert result.objects == ["a1", "b1"]


def test_reachability_one_down_fails() -> None:
    result = check_reachability([service("a1", vcenter("uuid-a")),
                                 service("b1", None, host_ip="vc-b.example.test")])
    assert result.status == Status.FAIL
    assert result.detail == ("1 of 2 services cannot reach their vCenter: b1 "
                             "(vc-b.example.test:443): cannot connect to vc-b.example.test:443: "
                             "connection refused")
    assert result.objects == ["b1"]
    assert result.remedy == "check host_ip, host_port, the credentials and the network path"


# ------------------------------------------------------------------ fleet-az

def test_zones_one_per_vcenter_pass() -> None:
    a, b = vcenter("uuid-a", "C0", "C1"), vcenter("uuid-b")
    result = check_zones([service("a1", a, zone="az-a"), service("a2", a, cluster="C1",
                                                                 zone="az-a"),
                          service("b1", b, host_ip="vc-b.example.test", zone="az-b")])
    assert result.status == Status.PASS
    assert result.detail == "each vCenter has its own zone: az-a (1 vCenter), az-b (1 vCenter)"
    assert result.objects == ["az-a", "az-b"]


def test_zones_two_vcenters_in_one_zone_fail() -> None:
    a, b = vcenter("uuid-a", "C0", "C1"), vcenter("uuid-b")
    result = check_zones([service("a1", a), service("a2", a, cluster="C1"),
                          service("b1", b, host_ip="vc-b.example.test")])
    assert result.status == Status.FAIL
    assert result.detail == "zone 'nova' holds 2 vCenters (a1+a2, b1)"  # Nova's default zone
    assert result.objects == ["a1", "a2", "b1"]
    assert "the Block Storage VMDK driver does not work across vCenters" in result.remedy


def test_zones_one_vcenter_across_zones_warns() -> None:
    a = vcenter("uuid-a", "C0", "C1")
    result = check_zones([service("a1", a, zone="az-1"),
                          service("a2", a, cluster="C1", zone="az-2")])
    assert result.status == Status.WARN
    assert result.detail == "vCenter of a1, a2 spans zones az-1, az-2"
    assert result.objects == ["a1", "a2"]
    assert result.remedy == "keep one vCenter in one availability zone"


def test_zones_an_unreachable_vcenter_is_known_by_its_address() -> None:
    result = check_zones([service("a1", vcenter("uuid-a"), zone="az-a"),
                          service("gone", None, host_ip="vc-z.example.test", zone="az-z"),
                          service("gone-too", None, host_ip="vc-z.example.test", zone="az-z")])
    assert result.status == Status.PASS
    assert result.detail == "each vCenter has its own zone: az-a (1 vCenter), az-z (1 vCenter)"


# ------------------------------------------------------------------ fleet-cluster-owner

def test_cluster_owners_one_service_per_cluster_pass() -> None:
    a, b = vcenter("uuid-a", "C0", "C1"), vcenter("uuid-b")
    # b1's cluster has the same name and moref as a1's, in another vCenter
    result = check_cluster_owners([service("a1", a), service("a2", a, cluster="C1"),
                                   service("b1", b), service("gone", None)])
    assert result.status == Status.PASS
    assert result.detail == "3 clusters, one service each"
    assert result.objects == ["a1: /DC0/host/C0", "a2: /DC0/host/C1", "b1: /DC0/host/C0"]


def test_cluster_owners_a_cluster_claimed_twice_fails() -> None:
    a = vcenter("uuid-a")
    result = check_cluster_owners([service("a1", a), service("a1-again", a)])
    assert result.status == Status.FAIL
    assert result.detail == "cluster /DC0/host/C0 (domain-C0) is claimed by a1, a1-again"
    assert result.objects == ["a1", "a1-again"]
    assert result.remedy == "point each service at a cluster of its own (vmware.cluster_name)"


def test_cluster_owners_a_service_without_its_cluster_fails() -> None:
    a = vcenter("uuid-a")
    result = check_cluster_owners([service("a1", a), service("lost", a, cluster="Nope")])
    assert result.status == Status.FAIL
    assert result.detail == "no cluster for lost (cluster 'Nope' not found or not unique)"
    assert result.objects == ["lost"]


def test_cluster_owners_skip_when_no_vcenter_answered() -> None:
    result = check_cluster_owners([service("gone", None)])
    assert (result.status, result.detail) == (Status.SKIP, "no vCenter answered")


# ------------------------------------------------------------------ fleet-cache

def nfs_fleet(**b_options: object) -> tuple[Service, Service]:
    """a1 and b1 in two vCenters whose clusters mount the same NFS export."""
    a = vcenter("uuid-a", datastore="nfs", url=NFS_URL)
    b = vcenter("uuid-b", datastore="nfs", url=NFS_URL)
    a_options = {k: v for k, v in b_options.items() if k == "remove_unused_base_images"}
    return (service("a1", a, **a_options),
            service("b1", b, host_ip="vc-b.example.test", **{"my_ip": "10.0.0.2", **b_options}))


def test_cache_no_shared_datastore_passes() -> None:
    result = check_cache([service("a1", vcenter("uuid-a")),
                          service("b1", vcenter("uuid-b"), host_ip="vc-b.example.test")])
    assert (result.status, result.detail) == (
        Status.PASS, "no datastore is shared between services")


def test_cache_a_shared_datastore_with_distinct_folders_passes() -> None:
    result = check_cache(list(nfs_fleet()))
    assert (result.status, result.detail) == (
        Status.PASS, "1 shared datastores, every service with its own cache folder")


def test_cache_the_same_folder_on_a_shared_datastore_fails() -> None:
    result = check_cache(list(nfs_fleet(my_ip="10.0.0.1")))
    assert result.status == Status.FAIL
    assert result.detail == "cache folders collide: [nfs] 10.0.0.1_base used by a1, b1"
    assert result.objects == ["[nfs] 10.0.0.1_base used by a1, b1"]
    assert result.remedy.startswith("give each service its own my_ip, or a cache_prefix")


def test_cache_a_prefix_that_equals_another_services_my_ip_collides() -> None:
    result = check_cache(list(nfs_fleet(my_ip=None, cache_prefix="10.0.0.1")))
    assert (result.status, result.objects) == (
        Status.FAIL, ["[nfs] 10.0.0.1_base used by a1, b1"])


def test_cache_without_aging_every_service_uses_base() -> None:
    result = check_cache(list(nfs_fleet(remove_unused_base_images=False)))
    assert (result.status, result.objects) == (Status.FAIL, ["[nfs] _base used by a1, b1"])


def test_cache_an_unknown_folder_warns() -> None:
    result = check_cache(list(nfs_fleet(my_ip=None)))
    assert result.status == Status.WARN
    assert result.detail == "cannot name the cache folder of b1 (no my_ip and no cache_prefix)"
    assert result.objects == ["b1"]
    assert result.remedy == "set DEFAULT.my_ip as on the compute node"


def test_cache_a_shared_prefix_warns() -> None:
    a = vcenter("uuid-a", datastore="nfs", url=NFS_URL)
    b = vcenter("uuid-b", datastore="nfs", url=NFS_URL)
    result = check_cache([service("a1", a, cache_prefix="shared"),
                          service("b1", b, host_ip="vc-b.example.test", cache_prefix="shared")])
    assert result.status == Status.WARN
    assert result.detail == ("shared cache folders: [nfs] shared_base shared by a1, b1 "
                             "(cache_prefix)")
    assert "share lock_path on a shared file system" in result.remedy


def test_cache_a_collision_outranks_an_unknown_folder() -> None:
    a = vcenter("uuid-a", datastore="nfs", url=NFS_URL)
    b = vcenter("uuid-b", "C0", "C1", datastore="nfs", url=NFS_URL)
    result = check_cache([service("a1", a), service("b1", b, host_ip="vc-b.example.test"),
                          service("b2", b, host_ip="vc-b.example.test", cluster="C1", my_ip=None)])
    assert (result.status, result.objects) == (Status.FAIL, ["[nfs] 10.0.0.1_base used by a1, b1"])


def test_cache_skips_when_no_vcenter_answered_and_ignores_those_that_did_not() -> None:
    assert check_cache([service("gone", None)]).status == Status.SKIP
    a = vcenter("uuid-a", datastore="nfs", url=NFS_URL)
    result = check_cache([service("a1", a), service("gone", None)])
    assert result.status == Status.PASS
