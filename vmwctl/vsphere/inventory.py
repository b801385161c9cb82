"""Inventory reads through the PropertyCollector.

Objects are found through a ContainerView and their properties read with
RetrievePropertiesEx in pages: the number of requests grows with the number
of result pages, never with the number of objects. (The simulator crashes on
the recursive folder traversal specs that oslo.vmware builds, and a
ContainerView is cheaper on a real vCenter too.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from vmwctl.vsphere.session import VCenter

PAGE_SIZE = 1000

_PC = vmodl.query.PropertyCollector


@dataclass
class ObjectRecord:
    """One managed object and the properties that were asked for."""

    ref: Any
    props: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, Any] = field(default_factory=dict)

    @property
    def moid(self) -> str:
        return self.ref._moId

    @property
    def type(self) -> str:
        return type(self.ref).__name__.rsplit(".", 1)[-1]

    def get(self, path: str, default: Any = None) -> Any:
        return self.props.get(path, default)


def _pages(vc: VCenter, spec: Any, page_size: int) -> Iterator[Any]:
    collector = vc.content.propertyCollector
    options = _PC.RetrieveOptions(maxObjects=page_size)
    result = collector.RetrievePropertiesEx([spec], options)
    while result is not None:
        yield from result.objects
        if not result.token:
            break
        result = collector.ContinueRetrievePropertiesEx(result.token)


def _record(content: Any) -> ObjectRecord:
    record = ObjectRecord(ref=content.obj)
    for prop in content.propSet or []:
        record.props[prop.name] = prop.val
    for missing in content.missingSet or []:
        record.missing[missing.path] = missing.fault
    return record


def collect(vc: VCenter, properties: Mapping[type, Sequence[str]], *,
            container: Any = None, page_size: int = PAGE_SIZE) -> list[ObjectRecord]:
    """Every object of the given types under ``container`` (default: the root folder).

    ``properties`` maps a pyVmomi type (``vim.HostSystem``) to the property
    paths to read for it. Costs one CreateContainerView, one request per page
    and one DestroyView.
    """
    content = vc.content
    view = content.viewManager.CreateContainerView(container or content.rootFolder,
                                                   list(properties), True)
    try:
        traversal = _PC.TraversalSpec(name="view", path="view", skip=False,
                                      type=vim.view.ContainerView)
        spec = _PC.FilterSpec(
            objectSet=[_PC.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[_PC.PropertySpec(type=kind, pathSet=list(paths), all=False)
                     for kind, paths in properties.items()],
        )
        return [_record(c) for c in _pages(vc, spec, page_size)]
    finally:
        view.Destroy()


def collect_cluster(vc: VCenter, cluster: Any, properties: Mapping[type, Sequence[str]], *,
                    page_size: int = PAGE_SIZE) -> list[ObjectRecord]:
    """The cluster, what a ContainerView rooted at it holds (its hosts and the VMs in its
    resource pools), its datastores and the VMs on them (``Datastore.vm``), and its
    networks: one CreateContainerView, one request per page, one DestroyView, however
    large the rest of the vCenter is. Only the kinds in ``properties`` are followed: without
    hosts and VMs there is no view, one request per page alone."""
    content = vc.content
    inside = [kind for kind in (vim.HostSystem, vim.VirtualMachine) if kind in properties]
    view = content.viewManager.CreateContainerView(cluster, inside, True) if inside else None
    try:
        on_datastores = [_PC.TraversalSpec(name="datastore-vms", type=vim.Datastore, path="vm",
                                           skip=False)] \
            if vim.VirtualMachine in properties else []
        follow = [_PC.TraversalSpec(name="datastores", type=vim.ClusterComputeResource,
                                    path="datastore", skip=False, selectSet=on_datastores)]
        if any(kind in properties for kind in (vim.Network, vim.OpaqueNetwork,
                                               vim.dvs.DistributedVirtualPortgroup)):
            follow.append(_PC.TraversalSpec(name="networks", type=vim.ClusterComputeResource,
                                            path="network", skip=False))
        objects = [_PC.ObjectSpec(obj=cluster, skip=False, selectSet=follow)]
        if view is not None:
            objects.insert(0, _PC.ObjectSpec(obj=view, skip=True, selectSet=[_PC.TraversalSpec(
                name="view", path="view", skip=False, type=vim.view.ContainerView)]))
        spec = _PC.FilterSpec(
            objectSet=objects,
            propSet=[_PC.PropertySpec(type=kind, pathSet=list(paths), all=False)
                     for kind, paths in properties.items()],
        )
        return [_record(c) for c in _pages(vc, spec, page_size)]
    finally:
        if view is not None:
            view.Destroy()


def read_objects(vc: VCenter, refs: Iterable[Any], paths: Sequence[str], *,
                 page_size: int = PAGE_SIZE) -> list[ObjectRecord]:
    """Properties of known objects (all of one type), in pages."""
    refs = list(refs)
    if not refs:
        return []
    spec = _PC.FilterSpec(
        objectSet=[_PC.ObjectSpec(obj=ref, skip=False) for ref in refs],
        propSet=[_PC.PropertySpec(type=type(refs[0]), pathSet=list(paths), all=False)],
    )
    return [_record(c) for c in _pages(vc, spec, page_size)]


def read_paths(vc: VCenter, ref: Any, paths: Sequence[str]) -> dict[str, Any]:
    """Property paths of one object in one request, e.g. ``info.state`` of a task."""
    records = read_objects(vc, [ref], paths)
    return records[0].props if records else {}
