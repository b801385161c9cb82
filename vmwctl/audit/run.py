"""``vmwctl audit``: read vCenter once and OpenStack once, then judge (``findings.judge``).

vCenter: the inventory snapshot, one search of every datastore Nova uses (the
cache commands' search: folders, sizes, times), and one paged read of which VM
uses which folder. OpenStack: the servers of the cluster's compute node and,
for the cached images, whether the image service still has them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vmwctl.audit.findings import AuditReport, Server, judge, node_name
from vmwctl.cache.browse import SEARCH_WORKERS, search_tree
from vmwctl.cache.layout import build
from vmwctl.cache.listing import target_datastores
from vmwctl.cache.usage import folder_users
from vmwctl.errors import UsageError
from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Cluster, Inventory
from vmwctl.vsphere.session import VCenter


@dataclass
class Sources:
    """Where OpenStack's view comes from: "api" or a file, for servers and for images; the
    API calls are given as callables (the CLI opens the cloud only when one is used)."""

    servers: str = "api"
    images: str = "api"
    list_servers: Callable[[str], list[Server]] | None = None
    deleted_images: Callable[[set[str]], tuple[set[str], list[str]]] | None = None


def run_audit(vc: VCenter, inventory: Inventory, profile: Profile, cluster: Cluster,
              sources: Sources, *, now: dt.datetime) -> AuditReport:
    from vmwctl.audit import sources as read

    datastores = target_datastores(inventory, profile, None, cluster)
    if not datastores:
        raise UsageError(f"no datastore of cluster {cluster.name!r} passes Nova's datastore "
                         "filter: nothing to audit ('vmwctl cluster inspect' shows why)")
    node = node_name(cluster, inventory)
    report = AuditReport(vcenter=inventory.endpoint.url, cluster=cluster.name, node=node,
                         servers_from=sources.servers, images_from=sources.images)
    with ThreadPoolExecutor(max_workers=min(SEARCH_WORKERS, len(datastores))) as pool:
        trees = dict(zip((ds.name for ds in datastores),
                         pool.map(lambda ds: search_tree(vc, inventory, ds), datastores),
                         strict=True))
    subdirectory = profile.image_cache.subdirectory_name
    caches = [build(name, tree, folders=None, subdirectory_name=subdirectory)
              for name, tree in trees.items()]
    users = folder_users(vc, devices=False)  # clean reads them again, with devices
    if sources.servers == "api":
        assert sources.list_servers is not None
        servers, by_node = sources.list_servers(node), True
        if not servers:
            report.notes.append(f"the compute API lists no instance on node {node}: every VM "
                                "of Nova's shows as orphaned; check the profile's cloud (an "
                                "admin's) and the node ('audit clean' refuses an empty list "
                                "without --allow-empty)")
    else:
        servers, by_node = read.servers_from_file(sources.servers, node)
        if not by_node:
            report.notes.append(f"{sources.servers} names no compute node per server: "
                                "lost-instance is not judged (give the long listing, "
                                "'openstack server list --all-projects --long -f json')")
    cached = {image.image_id for cache in caches for folder in cache.folders
              for image in folder.images}
    if sources.images == "api":
        assert sources.deleted_images is not None
        deleted, notes = sources.deleted_images(cached) if cached else (set(), [])
        report.notes += notes
    else:
        listed, gone = read.known_images_from_file(sources.images)
        deleted = {image_id for image_id in cached if image_id not in listed} | \
            (gone & cached)
    report.add(judge(inventory, cluster, datastores, trees=trees, caches=caches, users=users,
                     servers=servers, servers_by_node=by_node, deleted_images=deleted,
                     now=now))
    return report


def failing(report: AuditReport, kinds: list[str]) -> list[str]:
    """The kinds of ``--fail-on`` that have findings."""
    counts = report.counts
    return [kind for kind in kinds if counts.get(kind)]

