"""truthset.store."""
