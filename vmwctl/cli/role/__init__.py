"""``vmwctl role``: the vCenter role for Nova's service account."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("role", {"create": "vmwctl.cli.role.create:create_command"})
def role() -> None:
    """Roles: create the one with the guide's privileges and grant it."""
