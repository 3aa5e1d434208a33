"""Batches: the due date that puts a batch's open items first in the queue (services.batches)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from truthset.store.models import Batch


def set_due(tx: Connection, project_id: int, batch_id: int, due_at: datetime | None) -> bool:
    """Set (None: clear) the due date of batch ``batch_id`` of this project; False when the
    project has no such batch, so the caller can say so instead of silently doing nothing."""
    changed = tx.execute(
        update(Batch).where(Batch.id == batch_id, Batch.project_id == project_id).values(due_at=due_at)
    ).rowcount
    return bool(changed)
