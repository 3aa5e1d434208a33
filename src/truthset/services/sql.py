"""``truthset sql``: an analyst's query on a read-only connection (the SQL runs in the store:
:mod:`truthset.store.sql`), shaped as columns and rows for a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
from typing import Any

from truthset.services.projects import Project
from truthset.store.sql import read_only_query
from truthset.store.views import VIEWS


def query(project: Project, sql: str, *, limit: int = 1000) -> dict[str, Any]:
    """``columns``, ``rows`` (lists of plain values), ``row_count`` and ``truncated``."""
    result = read_only_query(project.store, sql, limit=limit)
    rows = [[_plain(v) for v in r] for r in result.rows]
    return {
        "columns": result.columns,
        "rows": rows,
        "row_count": len(rows),
        "truncated": result.truncated,
        "project_id": project.id,
    }


def views() -> list[str]:
    """The names of the analysts' views."""
    return list(VIEWS)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def as_csv(result: dict[str, Any]) -> str:
    """The result as CSV text with a header row."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(result["columns"])
    w.writerows(result["rows"])
    return out.getvalue()
