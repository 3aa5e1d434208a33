"""truthset.modeling."""
