"""vSphere access: the session, PropertyCollector reads, tasks.

Importing this package's modules imports pyVmomi; the command line imports
them only inside commands that talk to vCenter.
"""
