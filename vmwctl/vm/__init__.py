"""Spawning, listing and deleting test VMs as Nova's spawn builds instances."""
