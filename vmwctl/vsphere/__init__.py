"""vSphere access: the session, PropertyCollector reads, tasks, typed faults.

Importing this package's modules imports pyVmomi (except ``faults`` and
``privileges``, which are plain Python); the command line imports them only
inside commands that talk to vCenter. A fault the vCenter answers with is
raised as its :mod:`vmwctl.vsphere.faults` class; no code outside this
package sees pyVmomi's faults.
"""
