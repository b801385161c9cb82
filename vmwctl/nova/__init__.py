"""Nova's rules, written once: the datastore filter, the VNC range, the cache folder, the
resources nova-compute reports for a cluster."""
