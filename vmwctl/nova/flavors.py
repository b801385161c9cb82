"""Flavors to judge: ``name:vcpus:ram_mb:disk_gb`` on the command line, the output of
``openstack flavor list --long -f json``, or the compute API's ``/flavors/detail``.

A flavor's disk is what placement asks DISK_GB for: root + ephemeral + swap
(swap in MB, rounded up to GB).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from vmwctl.errors import UsageError
from vmwctl.nova.headroom import Flavor

_SPEC = re.compile(r"(?P<name>[^:]+):(?P<vcpus>\d+):(?P<ram>\d+):(?P<disk>\d+)")
SPEC_HELP = "name:vcpus:ram_mb:disk_gb, e.g. m1.large:4:8192:80"


def parse_flavor(spec: str) -> Flavor:
    """A flavor written out on the command line."""
    match = _SPEC.fullmatch(spec.strip())
    if not match:
        raise UsageError(f"flavor {spec!r} is not {SPEC_HELP}, nor the name of a flavor "
                         "of --flavors-file or --flavors-from")
    flavor = Flavor(match["name"], int(match["vcpus"]), int(match["ram"]), int(match["disk"]))
    if flavor.vcpus < 1 or flavor.ram_mb < 1:
        raise UsageError(f"flavor {spec!r}: vCPUs and RAM must be at least 1")
    return flavor


def _number(row: dict[str, Any], *names: str) -> int:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return int(value)
    return 0


def flavor_of(row: dict[str, Any]) -> Flavor:
    """A flavor from the client's long listing (Name, VCPUs, RAM, Disk, Ephemeral, Swap)
    or the API's record (name, vcpus, ram, disk, OS-FLV-EXT-DATA:ephemeral, swap)."""
    swap_mb = _number(row, "Swap", "swap")
    disk = (_number(row, "Disk", "disk")
            + _number(row, "Ephemeral", "OS-FLV-EXT-DATA:ephemeral", "ephemeral")
            + -(-swap_mb // 1024))
    return Flavor(str(row.get("Name") or row.get("name") or row.get("ID") or row.get("id")),
                  _number(row, "VCPUs", "vcpus"), _number(row, "RAM", "ram"), disk)


def flavors_from_file(path: Path) -> list[Flavor]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"--flavors-file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--flavors-file {path}: not JSON ({exc}); give the output of "
                         "'openstack flavor list --long -f json'") from None
    if isinstance(document, dict):  # the API's own shape: {"flavors": [...]}
        document = document.get("flavors", document)
    if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
        raise UsageError(f"--flavors-file {path}: expected a JSON list of objects, as "
                         "'openstack flavor list --long -f json' prints")
    flavors = []
    for number, row in enumerate(document, 1):
        try:
            flavor = flavor_of(row)
        except (TypeError, ValueError):
            raise UsageError(f"--flavors-file {path}: entry {number} has a VCPUs, RAM, Disk, "
                             "Ephemeral or Swap that is not a number") from None
        if not (row.get("Name") or row.get("name")) or flavor.ram_mb < 1:
            raise UsageError(f"--flavors-file {path}: entry {number} needs a Name and RAM, "
                             "as 'openstack flavor list --long -f json' prints")
        flavors.append(flavor)
    return flavors


def flavors_from_api(connection: Any, cloud: str) -> list[Flavor]:
    """Every flavor the cloud's project may use (``GET /flavors/detail``, every page)."""
    from vmwctl.nova.compute_api import list_all

    return [flavor_of(row) for row in list_all(connection, "/flavors/detail", "flavors", cloud,
                                              instead="--flavors-file FILE")]


def choose(names: list[str], listed: list[Flavor] | None) -> list[Flavor]:
    """The flavors to judge: each NAME written out or looked up in ``listed``; every listed
    one when no NAME is given."""
    if not names:
        if listed is None:
            raise UsageError(f"name a flavor ({SPEC_HELP}), or give --flavors-file FILE or "
                             "--flavors-from api")
        return listed
    by_name = {flavor.name: flavor for flavor in listed or []}
    chosen = []
    for name in names:
        if name in by_name:
            chosen.append(by_name[name])
        elif listed is not None and ":" not in name:
            raise UsageError(f"no flavor named {name!r} (flavors: "
                             f"{', '.join(sorted(by_name)) or 'none'})")
        else:
            chosen.append(parse_flavor(name))
    return chosen
