"""What vCenter holds that OpenStack does not know, and the reverse (``vmwctl audit``)."""

KINDS = ("orphan-vm", "lost-instance", "duplicate-vm", "shadow-vm", "orphan-folder",
         "deleted-image", "foreign-vm")
