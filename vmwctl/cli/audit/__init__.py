"""``vmwctl audit``: drift between vCenter and OpenStack."""
