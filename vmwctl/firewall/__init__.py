"""ESXi firewall: which rulesets open which ports, and the VIB that keeps VNC open."""
