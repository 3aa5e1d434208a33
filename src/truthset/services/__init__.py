"""truthset.services."""
