"""``vmwctl vm``: boot an image on the cluster as Nova would, without OpenStack in the loop."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("vm", {
    "spawn": "vmwctl.cli.vm.spawn:spawn_command",
    "list": "vmwctl.cli.vm.list:list_command",
    "delete": "vmwctl.cli.vm.delete:delete_command",
})
def vm() -> None:
    """Test VMs: spawn an image as Nova's spawn does, list them, delete them."""
