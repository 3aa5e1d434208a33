"""The ``report`` group: stakeholder pages (quality report, data card; model card elsewhere).

Only the group lives here, so each report's commands sit in a module of their own that
imports it (``report_quality``).
"""

from __future__ import annotations

from truthset.cli._common import main


@main.group()
def report() -> None:
    """Reports for people: quality report, data card."""
