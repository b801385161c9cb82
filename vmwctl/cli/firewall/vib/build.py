"""``vmwctl firewall vib build``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from vmwctl.cli.app import App
from vmwctl.cli.firewall.shared import ports_option
from vmwctl.common.files import write_atomically
from vmwctl.errors import OperationFailed, UsageError


def _human(result: dict[str, Any]) -> str:
    return (f"{result['path']}: {result['vib_id']}, ruleset {result['ruleset']} opens inbound "
            f"TCP {result['ports']} ({result['size']} bytes, sha256 {result['sha256']})")


@click.command("build")
@click.argument("dest", type=click.Path(dir_okay=True, path_type=Path))
@ports_option("Ports to open: ranges and single ports, e.g. 5900-6000,6101,6102,6105 "
              "(default: the guide's 5900-6105).")
@click.option("--from-profile", is_flag=True,
              help="Open the profile's vnc_port .. vnc_port + vnc_port_total - 1.")
@click.option("--ruleset-id", default="vnc", show_default=True, help="Firewall ruleset id.")
@click.option("--name", default="vmwctl-vnc-firewall", show_default=True, help="VIB name.")
@click.option("--version", "vib_version", default="1.0.0-1", show_default=True,
              help="VIB version (VERSION-RELEASE); raise it for a VIB with other ports.")
@click.option("--vendor", default="vmwctl", show_default=True, help="VIB vendor.")
@click.option("--force", is_flag=True,
              help="Replace a VIB of the same id and version that opens other ports.")
@click.pass_obj
def build_command(app: App, dest: Path, ports: str | None, from_profile: bool, ruleset_id: str,
                  name: str, vib_version: str, vendor: str, force: bool) -> None:
    """Write a VIB that adds an inbound TCP firewall ruleset to ESXi hosts.

    The VIB (community acceptance level, live install and removal, no
    maintenance mode) holds etc/vmware/firewall/<ruleset-id>.xml, which ESXi
    keeps across reboots, unlike a hand-edited rule file. The same options
    always give the same bytes. DEST is a file name ending in .vib, or a
    directory (created when missing) to write <vib id>.vib into. A VIB of the
    same id and version with other rules, at DEST or beside it, is not
    replaced (hosts that have it would never take the new one) unless
    --version is raised, or --force.
    """
    from vmwctl.firewall.ports import describe_ranges, parse_ports
    from vmwctl.firewall.rules import check_ruleset_id
    from vmwctl.firewall.vib import VibSpec, build_vib, refuse_other_content
    from vmwctl.nova.rules import GUIDE_VNC_RANGE
    from vmwctl.nova.vnc import vnc_range

    if ports and from_profile:
        raise UsageError("--ports and --from-profile exclude each other; give one")
    if from_profile:
        ranges = [vnc_range(app.profile)]
    else:
        ranges = parse_ports(ports) if ports else [GUIDE_VNC_RANGE]
    spec = VibSpec(check_ruleset_id(ruleset_id), ranges, name, vib_version, vendor).validate()
    as_directory = dest.is_dir() or (not dest.exists() and dest.suffix != ".vib")
    target = dest / f"{spec.vib_id}.vib" if as_directory else dest
    if not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} is not a directory; create it first")
    if not force and target.parent.is_dir():
        refuse_other_content(spec, target)
    data = build_vib(spec)
    if as_directory:
        dest.mkdir(exist_ok=True)
    try:
        write_atomically(target, data, 0o644)
    except OSError as exc:
        from vmwctl.images.convert import write_error

        raise OperationFailed(f"cannot write {target}: {write_error(exc)}") from None
    app.render({"path": str(target), "vib_id": spec.vib_id, "ruleset": spec.ruleset_id,
                "ports": describe_ranges(ranges), "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}, _human)
