"""Profiles: nova.conf in YAML. The schema with Nova's defaults, the config file (found,
read safely, validated), GOVC_* variables, password sources, nova.conf import, and the
operations of the profile commands."""
