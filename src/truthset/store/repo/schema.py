"""Label-schema changes (services.schema): the annotations and gold answers a rename or merge
rewrites, the items a split queues again, and the notes of past schema versions.

Annotations are never edited in place: a migration adds superseding rows
(:func:`add_annotations`); gold answers, which have no history, are updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from truthset.store.models import Annotation, Assignment, Gold, SchemaVersion
from truthset.store.repo import current_annotations_query

if TYPE_CHECKING:
    from truthset.store.store import Record

#: rows per INSERT: bounded statement size (and SQLite's variable limit) for any number of rows
_SLICE = 5000


def current_annotations(tx: Connection, project_id: int, *, in_id_order: bool = False) -> list[Record]:
    """Every current (not superseded) annotation of the project, gold answers included, with the
    annotator's name as ``annotator``; ``in_id_order`` when the caller writes rows that must
    follow the originals' order."""
    q = current_annotations_query(project_id)
    return list(tx.execute(q.order_by(Annotation.id) if in_id_order else q).fetchall())


def add_annotations(tx: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert annotation rows (column name -> value), a few thousand per statement."""
    for start in range(0, len(rows), _SLICE):
        tx.execute(insert(Annotation), rows[start : start + _SLICE])


def gold_rows(tx: Connection, project_id: int) -> list[Record]:
    """Every gold row of the project (item_id, value as JSON text, label...)."""
    return list(tx.execute(select(Gold).where(Gold.project_id == project_id)).fetchall())


def set_gold(tx: Connection, item_id: int, *, value: str, label: str | None) -> None:
    """Replace an item's gold answer (canonical JSON ``value``; ``label`` when a single label)."""
    tx.execute(update(Gold).where(Gold.item_id == item_id).values(value=value, label=label))


def add_assignments(tx: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert assignment rows (column name -> value), a few thousand per statement."""
    for start in range(0, len(rows), _SLICE):
        tx.execute(insert(Assignment), rows[start : start + _SLICE])


def schema_notes(tx: Connection, project_id: int) -> list[str | None]:
    """The note (JSON text: what changed) of every schema version of the project."""
    return [
        None if n is None else str(n)
        for n in tx.execute(select(SchemaVersion.note).where(SchemaVersion.project_id == project_id)).scalars()
    ]
