"""Image properties as Nova's VMware driver reads them: names, values, and precedence.

Nova reads each setting under a current name and a legacy ``vmware_*`` name;
when both are set the current name wins (``ImageMetaProps.from_dict`` applies
the legacy names first, then the current ones). :func:`nova_view` reproduces
that, including the driver's quirks, so that every command judges an image the
way nova-compute will.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vmwctl.common.choices import choose
from vmwctl.images.ostypes import OS_TYPES

DISK_TYPES = ("sparse", "streamOptimized", "thin", "preallocated", "thick", "eagerZeroedThick")
FLAT_DISK_TYPES = ("thin", "preallocated", "thick", "eagerZeroedThick")
ADAPTER_TYPES = ("ide", "lsiLogic", "lsiLogicsas", "busLogic", "paraVirtual")
SCSI_ADAPTER_TYPES = ("lsiLogic", "lsiLogicsas", "busLogic", "paraVirtual")
VIF_MODELS = ("e1000", "e1000e", "pcnet", "sriov", "vmxnet", "vmxnet3")
HYPERVISOR_TYPES = ("vmware", "hyperv", "ironic", "lxc", "qemu", "uml", "xen")
# Glance image visibilities (core attribute, not a property).
VISIBILITIES = ("private", "shared", "community", "public")
DISK_FORMATS = ("vmdk", "iso", "vstorageobject")
CONTAINER_FORMATS = ("bare", "ova")

OS_TYPES_LISTING = "see 'vmwctl image ostypes'"

DEFAULT_DISK_TYPE = "preallocated"
DEFAULT_ADAPTER_TYPE = "lsiLogic"
DEFAULT_OS_TYPE = "otherGuest"
DEFAULT_VIF_MODEL = "e1000"

# ddb.adapterType in a descriptor -> vmware_adaptertype. lsiLogicsas and
# paraVirtual have no descriptor value (ESXi writes lsilogic for them).
DESCRIPTOR_ADAPTERS = {"ide": "ide", "lsilogic": "lsiLogic", "buslogic": "busLogic"}
# vmware_adaptertype -> hw_scsi_model (Nova's SCSIModel coercion) and back.
SCSI_MODELS = {"lsiLogic": "lsilogic", "lsiLogicsas": "lsisas1068", "busLogic": "buslogic",
               "paraVirtual": "vmpvscsi"}
ADAPTER_FOR_SCSI_MODEL = {model: adapter for adapter, model in SCSI_MODELS.items()}
NOVA_SCSI_MODELS = ("buslogic", "ibmvscsi", "lsilogic", "lsisas1068", "lsisas1078",
                    "virtio-scsi", "vmpvscsi")
NOVA_DISK_BUSES = ("fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml")
LEGACY_VIF_MODELS = {"virtuale1000": "e1000", "virtuale1000e": "e1000e",
                     "virtualpcnet32": "pcnet", "virtualsriovethernetcard": "sriov",
                     "virtualvmxnet": "vmxnet", "virtualvmxnet3": "vmxnet3"}
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")

# The properties vmwctl writes, and the current Nova name that overrides each.
NEWER_NAMES = {
    "vmware_disktype": ("hw_disk_type",),
    "vmware_adaptertype": ("hw_disk_bus", "hw_scsi_model"),
    "vmware_ostype": ("os_distro",),
    "vmware_linked_clone": ("img_linked_clone",),
    "hypervisor_type": ("img_hv_type",),
}
VMWARE_PROPERTIES = ("vmware_disktype", "vmware_adaptertype", "vmware_ostype",
                     "img_linked_clone", "vmware_linked_clone", "hypervisor_type",
                     "hw_disk_type", "hw_disk_bus", "hw_scsi_model", "os_distro",
                     "img_hv_type", "hw_vif_model")


def disk_type(value: str) -> str:
    return choose(value, DISK_TYPES, "disk type")


def adapter_type(value: str) -> str:
    return choose(value, ADAPTER_TYPES, "adapter type")


def os_type(value: str) -> str:
    return choose(value, OS_TYPES, "vmware_ostype", listing=OS_TYPES_LISTING)


def hypervisor_type(value: str) -> str:
    return choose(value, HYPERVISOR_TYPES, "hypervisor type")


def parse_bool(value: Any) -> bool | None:
    """oslo's bool_from_string, as Nova applies it to img_linked_clone; None if neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def adapter_matches_descriptor(descriptor: str | None, adapter: str | None) -> bool:
    """Whether a vmware_adaptertype fits a descriptor's ddb.adapterType.

    IDE and SCSI never mix (the guide: an IDE boot disk cannot sit on a SCSI
    controller, nor a SCSI disk on IDE); lsilogic also stands for LSI Logic
    SAS and paravirtual, which descriptors cannot express. Unknown values
    (legacyESX, none) fit anything.
    """
    compatible = {"ide": ("ide",), "lsilogic": ("lsiLogic", "lsiLogicsas", "paraVirtual"),
                  "buslogic": ("busLogic",)}.get((descriptor or "").lower())
    return compatible is None or adapter in compatible


def disktype_matches_file(file_format: str, file_disktype: str | None, disktype: str) -> bool:
    """Whether vmware_disktype fits the data: raw data is a flat variant; a VMDK its own type."""
    if file_format == "raw":
        return disktype in FLAT_DISK_TYPES
    return file_disktype is None or disktype == file_disktype


def adapter_properties(adapter: str) -> dict[str, str]:
    """The current-name properties that say the same as ``vmware_adaptertype=adapter``."""
    if adapter == "ide":
        return {"hw_disk_bus": "ide"}
    return {"hw_disk_bus": "scsi", "hw_scsi_model": SCSI_MODELS[adapter]}


@dataclass
class NovaView:
    """What Nova's VMware driver makes of an image's properties."""

    disk_type: str
    adapter_type: str | None
    os_type: str
    linked_clone: bool | None  # None: the compute node's use_linked_clone decides
    vif_model: str
    hypervisor_type: str | None
    source: dict[str, str] = field(default_factory=dict)  # setting -> the property it came from
    problems: list[str] = field(default_factory=list)  # what makes a boot fail
    warnings: list[str] = field(default_factory=list)  # what may go wrong or mislead


def nova_view(props: Mapping[str, Any], *, disk_format: str | None = "vmdk",
              container_format: str | None = "bare") -> NovaView:
    """Nova's reading of the properties: legacy names first, current names override."""
    problems: list[str] = []
    warnings: list[str] = []
    source: dict[str, str] = {}

    def pick(current: str, legacy: str) -> tuple[Any, str | None]:
        if props.get(current) not in (None, ""):
            return props[current], current
        if props.get(legacy) not in (None, ""):
            return props[legacy], legacy
        return None, None

    value, name = pick("hw_disk_type", "vmware_disktype")
    chosen_disk = str(value) if value is not None else DEFAULT_DISK_TYPE
    source["disk_type"] = name or "default"
    if chosen_disk not in DISK_TYPES:
        problems.append(f"{name} {chosen_disk!r} is not a disk type Nova boots "
                        f"({', '.join(DISK_TYPES)}); spawn fails with InvalidDiskInfo")

    adapter, adapter_source = _nova_adapter(props, problems, warnings)
    source["adapter_type"] = adapter_source

    value, name = pick("os_distro", "vmware_ostype")
    chosen_os = str(value) if value is not None else DEFAULT_OS_TYPE
    source["os_type"] = name or "default"
    if chosen_os not in OS_TYPES:
        warnings.append(f"{name} {chosen_os!r} is not a guest OS type vSphere knows; Nova "
                        "passes it to CreateVM as the guestId")

    value, name = pick("img_linked_clone", "vmware_linked_clone")
    linked = parse_bool(value) if value is not None else None
    source["linked_clone"] = name or "use_linked_clone"
    if value is not None and linked is None:
        problems.append(f"{name} {value!r} is not a boolean")

    vif = str(props.get("hw_vif_model") or DEFAULT_VIF_MODEL).lower()
    vif = LEGACY_VIF_MODELS.get(vif, vif)
    source["vif_model"] = "hw_vif_model" if props.get("hw_vif_model") else "default"
    if vif not in VIF_MODELS:
        problems.append(f"hw_vif_model {props.get('hw_vif_model')!r} is not a NIC model the "
                        f"VMware driver supports ({', '.join(VIF_MODELS)})")

    hypervisor, name = pick("img_hv_type", "hypervisor_type")
    source["hypervisor_type"] = name or "unset"

    for legacy, current_names in NEWER_NAMES.items():
        _contradiction(props, legacy, current_names, warnings)

    if disk_format is not None and disk_format not in DISK_FORMATS:
        problems.append(f"disk_format {disk_format!r}: Nova's VMware driver boots only vmdk "
                        "and iso images")
    if container_format is not None and container_format not in CONTAINER_FORMATS:
        problems.append(f"container_format {container_format!r}: the VMware driver takes "
                        "bare or ova")
    return NovaView(disk_type=chosen_disk, adapter_type=adapter, os_type=chosen_os,
                    linked_clone=linked, vif_model=vif,
                    hypervisor_type=str(hypervisor) if hypervisor is not None else None,
                    source=source, problems=problems, warnings=warnings)


def _nova_adapter(props: Mapping[str, Any], problems: list[str],
                  warnings: list[str]) -> tuple[str | None, str]:
    """hw_disk_bus + hw_scsi_model after the legacy vmware_adaptertype mapping."""
    bus: str | None = None
    model: str | None = None
    legacy = props.get("vmware_adaptertype")
    if legacy == "ide":
        bus = "ide"
    elif legacy:
        bus, model = "scsi", str(legacy)
    if props.get("hw_disk_bus"):
        bus = str(props["hw_disk_bus"])
    if props.get("hw_scsi_model"):
        model = str(props["hw_scsi_model"])
    origin = "hw_disk_bus" if props.get("hw_disk_bus") else \
        ("vmware_adaptertype" if legacy else "default")
    if bus is not None and bus not in NOVA_DISK_BUSES:
        problems.append(f"hw_disk_bus {bus!r} is not a disk bus Nova knows; the image cannot "
                        "be used")
        return None, origin
    if model is not None:
        model = {"lsilogicsas": "lsisas1068", "paravirtual": "vmpvscsi"}.get(model.lower(),
                                                                             model.lower())
        if model not in NOVA_SCSI_MODELS:
            problems.append(f"SCSI model {model!r} (from hw_scsi_model or vmware_adaptertype) "
                            "is not one Nova knows; the image cannot be used")
            return None, origin
    if bus == "ide":
        return "ide", origin
    if bus == "scsi":
        adapter = ADAPTER_FOR_SCSI_MODEL.get(model or "")
        if adapter is None:
            problems.append(f"hw_disk_bus=scsi with SCSI model {model or 'unset'}: Nova's "
                            "VMware driver then has no adapter type at all (None); set "
                            "vmware_adaptertype to one of " + ", ".join(SCSI_ADAPTER_TYPES))
        return adapter, origin
    return DEFAULT_ADAPTER_TYPE, origin


def _contradiction(props: Mapping[str, Any], legacy: str, current: tuple[str, ...],
                   warnings: list[str]) -> None:
    if props.get(legacy) in (None, ""):
        return
    value = props[legacy]
    if legacy == "vmware_adaptertype":
        expected = adapter_properties(str(value)) if value in ADAPTER_TYPES else {}
        for name in current:
            if props.get(name) not in (None, "") and expected.get(name) is not None \
                    and str(props[name]).lower() != expected[name]:
                warnings.append(f"{legacy}={value} is contradicted by {name}={props[name]}, "
                                "which Nova reads instead")
        return
    name = current[0]
    other = props.get(name)
    if other in (None, ""):
        return
    same = parse_bool(value) == parse_bool(other) if "linked_clone" in legacy else \
        str(value) == str(other)
    if not same:
        warnings.append(f"{legacy}={value} is contradicted by {name}={other}, which Nova "
                        "reads instead")


def agreeing_updates(existing: Mapping[str, Any],
                     updates: Mapping[str, str]) -> dict[str, str | None]:
    """The other-name properties to change too, so that no pair disagrees after ``updates``.

    A newer name that the image already has is set to the same value (None:
    removed); one it does not have is left out (vmwctl writes the guide's names).
    """
    extra: dict[str, str | None] = {}
    for legacy, value in updates.items():
        if legacy == "vmware_adaptertype":
            for name, newer in adapter_properties(value).items():
                if existing.get(name) not in (None, "") and str(existing[name]) != newer:
                    extra[name] = newer
            if value == "ide" and existing.get("hw_scsi_model") not in (None, ""):
                extra["hw_scsi_model"] = None
        elif legacy in NEWER_NAMES:
            name = NEWER_NAMES[legacy][0]
            if existing.get(name) not in (None, "") and str(existing[name]) != value:
                extra[name] = value
    if "img_linked_clone" in updates and existing.get("vmware_linked_clone") not in (None, "") \
            and parse_bool(existing["vmware_linked_clone"]) != \
            parse_bool(updates["img_linked_clone"]):
        extra["vmware_linked_clone"] = updates["img_linked_clone"]
    return extra


# An ISO image boots from a CD-ROM: Nova reads its disk type only for the blank root disk
# (CreateVirtualDisk), but streamOptimized also picks how the file is fetched.
ISO_BROKEN_DISK_TYPES = {
    "streamOptimized": "Nova fetches it through ImportVApp as a VMDK, which fails",
    "sparse": "Nova's CreateVirtualDisk of the blank root disk fails (no such disk type)"}


def iso_disk_type_problem(view: NovaView) -> str | None:
    """Why an ISO image's disk type breaks its boot; None when it does not."""
    reason = ISO_BROKEN_DISK_TYPES.get(view.disk_type)
    if reason is None:
        return None
    return f"{view.source['disk_type']}={view.disk_type} on an ISO image: {reason}"
