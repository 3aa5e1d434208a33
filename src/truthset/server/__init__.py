"""truthset.server."""
