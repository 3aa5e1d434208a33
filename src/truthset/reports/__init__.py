"""truthset.reports."""
