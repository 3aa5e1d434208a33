"""Imports: the batch row an import writes, its findings, and reading them back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from truthset.store.models import Annotation, Batch, ImportFinding


def start_batch(
    tx: Connection, *, project_id: int, source: str, file_sha256: str, fmt: str, options: str, now: datetime
) -> int:
    """A new batch in state ``importing`` (committed with the import, or rolled back with it)."""
    result = tx.execute(
        insert(Batch).values(
            project_id=project_id,
            source=source,
            file_sha256=file_sha256,
            format=fmt,
            options=options,
            status="importing",
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_batch(
    tx: Connection,
    batch_id: int,
    *,
    rows_read: int,
    items_added: int,
    annotations_added: int,
    duplicates: int,
    rejected: int,
    report: dict[str, Any],
) -> None:
    """Mark the batch committed, with its counts and the report as JSON."""
    tx.execute(
        update(Batch)
        .where(Batch.id == batch_id)
        .values(
            status="committed",
            rows_read=rows_read,
            items_added=items_added,
            annotations_added=annotations_added,
            duplicates=duplicates,
            rejected=rejected,
            report=json.dumps(report),
        )
    )


def set_schema_version(tx: Connection, batch_id: int, version: int) -> None:
    """The batch's annotations were made under schema ``version`` (labels the import added)."""
    tx.execute(update(Annotation).where(Annotation.batch_id == batch_id).values(schema_version=version))


def write_findings(tx: Connection, batch_id: int, findings: Sequence[dict[str, Any]]) -> None:
    """Record findings (kind, line, field, reason, raw) of a batch, 5,000 rows per statement."""
    for start in range(0, len(findings), 5000):
        tx.execute(insert(ImportFinding), [{**f, "batch_id": batch_id} for f in findings[start : start + 5000]])


def batch_ids(tx: Connection, project_id: int) -> list[int]:
    """The project's batches, oldest first."""
    return [
        int(b) for b in tx.execute(select(Batch.id).where(Batch.project_id == project_id).order_by(Batch.id)).scalars()
    ]


def findings(tx: Connection, batch_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    """A batch's findings in line order (of one kind, or all)."""
    q = select(ImportFinding).where(ImportFinding.batch_id == batch_id).order_by(ImportFinding.line, ImportFinding.id)
    if kind is not None:
        q = q.where(ImportFinding.kind == kind)
    return [{"kind": f.kind, "line": f.line, "field": f.field, "reason": f.reason, "raw": f.raw} for f in tx.execute(q)]
