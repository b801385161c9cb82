"""``vmwctl image``: VMDK images that Nova's VMware driver boots the first time."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("image", {
    "inspect": "vmwctl.cli.image.inspect:inspect_command",
    "convert": "vmwctl.cli.image.convert:convert_command",
    "upload": "vmwctl.cli.image.upload:upload_command",
    "export": "vmwctl.cli.image.export:export_command",
    "tag": "vmwctl.cli.image.tag:tag_command",
    "list": "vmwctl.cli.image.list:list_command",
    "ostypes": "vmwctl.cli.image.ostypes:ostypes_command",
})
def image() -> None:
    """Images: inspect, convert, upload to Glance with Nova's properties, export, tag, list."""
