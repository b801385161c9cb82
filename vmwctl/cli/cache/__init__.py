"""``vmwctl cache``: Nova's image cache on the datastores, listed, aged, evicted and seeded."""

from vmwctl.cli.lazy import lazy_group


@lazy_group("cache", {
    "list": "vmwctl.cli.cache.list:list_command",
    "purge": "vmwctl.cli.cache.purge:purge_command",
    "evict": "vmwctl.cli.cache.evict:evict_command",
    "seed": "vmwctl.cli.cache.seed:seed_command",
})
def cache() -> None:
    """Image cache: list it, age it as Nova does (safe from cron), evict or pre-seed images."""
