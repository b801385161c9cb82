"""``vmwctl cluster``: the hypervisor the Nova scheduler will see."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("cluster", {
    "list": "vmwctl.cli.cluster.list:list_command",
    "inspect": "vmwctl.cli.cluster.inspect:inspect_command",
    "fit": "vmwctl.cli.cluster.fit:fit_command",
})
def cluster() -> None:
    """Clusters: what nova-compute reports for each, by Nova's own rules."""
