"""Nova's image cache on the datastores: layout, leftovers, aging, purge and seed."""
