"""vmwctl: the operator's toolkit for OpenStack Nova's VMware vCenter driver."""

__version__ = "0.1.0"
