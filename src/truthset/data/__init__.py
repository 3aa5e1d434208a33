"""truthset.data."""
