"""Nova's VMware driver rules, as pure functions: one implementation for every command.

Datastore selection (ds_util), the VNC port range (vm_util), the image-cache
folder name (vmops), the vCenter version limits (constants) and the resources
a cluster reports (vm_util.get_stats_from_cluster, the driver's placement
inventory), to the letter of nova/virt/vmwareapi.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vmwctl.profile.schema import Profile
from vmwctl.vsphere.model import Datastore, Host

ALL_DATASTORE_TYPES = ("VMFS", "NFS", "NFS41", "vsan")
MIN_VC_VERSION = (5, 1, 0)
NEXT_MIN_VC_VERSION = (5, 5, 0)
# The guide: "The port range 5900 - 6105 (inclusive) is automatically enabled for VNC".
GUIDE_VNC_RANGE = (5900, 6105)
# ESXi 7.0 removed the built-in VNC server.
NO_VNC_SERVER_FROM = (7, 0)


def version_tuple(version: str | None) -> tuple[int, ...]:
    """'6.7.0' -> (6, 7, 0); non-numeric parts count as 0."""
    parts = []
    for piece in (version or "").split("."):
        match = re.match(r"\d+", piece)
        parts.append(int(match.group()) if match else 0)
    return tuple(parts)


def compile_regex(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def datastore_rejection(ds: Datastore, regex: re.Pattern[str] | None,
                        allowed_types: Iterable[str] = ALL_DATASTORE_TYPES) -> str | None:
    """Why Nova's _is_datastore_valid refuses the datastore, or None when it is valid.

    The regex is matched from the start of the name (re.match), as in Nova.
    """
    if not ds.accessible:
        return "not accessible"
    if ds.maintenance_mode not in (None, "normal"):
        return f"in maintenance ({ds.maintenance_mode})"
    if ds.type not in tuple(allowed_types):
        return f"type {ds.type} (Nova uses {', '.join(allowed_types)})"
    if regex is not None and not regex.match(ds.name):
        return f"name does not match datastore_regex {regex.pattern!r}"
    return None


def valid_datastores(datastores: Iterable[Datastore], regex: re.Pattern[str] | None,
                     allowed_types: Iterable[str] = ALL_DATASTORE_TYPES) -> list[Datastore]:
    """get_available_datastores: every datastore the driver may use."""
    allowed = tuple(allowed_types)
    return [ds for ds in datastores if datastore_rejection(ds, regex, allowed) is None]


def allowed_datastore_types(disk_type: str) -> tuple[str, ...]:
    """get_allowed_datastore_types: vSAN only takes streamOptimized images."""
    if disk_type == "streamOptimized":
        return ALL_DATASTORE_TYPES
    return tuple(t for t in ALL_DATASTORE_TYPES if t != "vsan")


def best_datastore(datastores: Iterable[Datastore], regex: re.Pattern[str] | None,
                   allowed_types: Iterable[str] = ALL_DATASTORE_TYPES) -> Datastore | None:
    """get_datastore: the valid datastore with the most free space."""
    valid = valid_datastores(datastores, regex, allowed_types)
    return max(valid, key=lambda ds: ds.free_space) if valid else None


def folder_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one datastore folder name, or None.

    A datastore path is ``[datastore] folder/file``: ``/`` (and ``\\``, a
    separator to a Windows vCenter) would nest folders, ``[`` and ``]`` break
    the datastore part, and surrounding white space makes a folder that looks like
    another.
    """
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} is not a folder name"
    bad = sorted({c for c in name if c in "/\\[]"})
    if bad:
        return f"it holds {' '.join(repr(c) for c in bad)}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it holds a control character"
    if name != name.strip():
        return "it starts or ends with white space"
    return None


def cache_folder(profile: Profile) -> str | None:
    """The image-cache folder name Nova uses on every datastore (None: my_ip unknown)."""
    cache = profile.image_cache
    if profile.vmware.cache_prefix:
        return f"{profile.vmware.cache_prefix}{cache.subdirectory_name}"
    if cache.remove_unused_base_images:
        my_ip = profile.default.my_ip
        return f"{my_ip}{cache.subdirectory_name}" if my_ip else None
    return cache.subdirectory_name


# ------------------------------------------------------------------ resources (vm_util, driver)

MIB = 1 << 20
GIB = 1 << 30


@dataclass
class ClusterStats:
    """get_stats_from_cluster: sums over hosts connected and out of maintenance."""

    vcpus: int = 0
    max_vcpus_per_host: int = 0
    memory_mb: int = 0
    memory_mb_free: int = 0
    max_mem_mb_per_host: int = 0
    hosts_counted: int = 0


def cluster_stats(hosts: Iterable[Host]) -> ClusterStats:
    stats = ClusterStats()
    used = 0
    for host in hosts:
        if not host.usable:
            continue
        memory_mb = host.memory_bytes // MIB  # floored per host, as Nova does
        stats.vcpus += host.cpu_threads
        stats.memory_mb += memory_mb
        used += host.memory_usage_mb
        stats.max_vcpus_per_host = max(stats.max_vcpus_per_host, host.cpu_threads)
        stats.max_mem_mb_per_host = max(stats.max_mem_mb_per_host, memory_mb)
        stats.hosts_counted += 1
    stats.memory_mb_free = stats.memory_mb - used
    return stats


def convert_version_to_int(version: str | None) -> int:
    """oslo versionutils: '6.5.0' -> 6005000."""
    parts = list(version_tuple(version))[:3]
    parts += [0] * (3 - len(parts))
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def placement_inventory(stats: ClusterStats, datastores: list[Datastore],
                        profile: Profile) -> dict[str, dict[str, int]]:
    """update_provider_tree: VCPU, MEMORY_MB and DISK_GB (DISK_GB over every valid datastore)."""
    default = profile.default
    return {
        "VCPU": {"total": stats.vcpus, "reserved": default.reserved_host_cpus,
                 "max_unit": stats.max_vcpus_per_host},
        "MEMORY_MB": {"total": stats.memory_mb, "reserved": default.reserved_host_memory_mb,
                      "max_unit": stats.max_mem_mb_per_host},
        "DISK_GB": {"total": sum(ds.capacity for ds in datastores) // GIB,
                    "reserved": -(-default.reserved_host_disk_mb // 1024),
                    "max_unit": max((ds.free_space for ds in datastores), default=0) // GIB},
    }
