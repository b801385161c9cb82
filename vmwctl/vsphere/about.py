"""What the vCenter says about itself, and who this session is."""

from __future__ import annotations

from dataclasses import dataclass

from vmwctl.vsphere.inventory import read_paths
from vmwctl.vsphere.session import VCenter


@dataclass
class AboutInfo:
    """``vmwctl about``; these JSON keys are stable (docs/about.md)."""

    url: str
    product: str
    name: str
    vendor: str
    version: str
    build: str
    api_type: str
    api_version: str
    instance_uuid: str | None
    product_line_id: str | None
    os_type: str | None
    session_user: str | None


def read_about(vc: VCenter) -> AboutInfo:
    """The ServiceContent's AboutInfo (read at login) and the session's user (one request)."""
    about = vc.content.about
    session = read_paths(vc, vc.content.sessionManager, ["currentSession"]).get("currentSession")
    return AboutInfo(
        url=vc.settings.url,
        product=about.fullName,
        name=about.name,
        vendor=about.vendor,
        version=about.version,
        build=about.build,
        api_type=about.apiType,
        api_version=about.apiVersion,
        instance_uuid=about.instanceUuid,
        product_line_id=about.productLineId,
        os_type=about.osType,
        session_user=session.userName if session is not None else None,
    )
