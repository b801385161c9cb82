"""Checks of the guide's prerequisites: one function per check id, run over one snapshot."""
