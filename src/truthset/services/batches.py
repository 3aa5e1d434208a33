"""Batches (one per import) and their due dates.

A batch with a due date goes first: the queue hands out the open items of the batch due
soonest before anything else, then the next one, then items without a due date (in the
project's queue order within each). ``truthset import --due`` and ``truthset batch due`` set it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from truthset.core.errors import InvalidInput, NotFound
from truthset.services.projects import Project
from truthset.store.models import as_utc
from truthset.store.repo import batches as repo_batches


def parse_due(text: str) -> datetime:
    """``2026-12-01`` (end of that day, UTC) or an ISO date-time (UTC if it names no zone)."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text)
            return day.replace(hour=23, minute=59, second=59, tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"due date {text!r} is not a date; write it as 2026-12-01 or 2026-12-01T17:00") from None
    return as_utc(when)


def set_due(project: Project, batch_id: int, due_at: datetime | None) -> None:
    """Give batch ``batch_id`` a due date (None removes it)."""
    with project.store.write() as tx:
        changed = repo_batches.set_due(tx, project.id, batch_id, due_at)
    if not changed:
        raise NotFound(f"no batch {batch_id} in this project; 'truthset status' lists the batches")
    project.queue_state.batches_changed()
