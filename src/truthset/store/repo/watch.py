"""What watching the data reads: the annotation process (anomaly flags) and the items of each
batch (drift). services/anomalies.py and services/drift.py shape the rows into frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select

from truthset.store.models import Annotation, Batch, Gold, Item, User
from truthset.store.repo import current_annotations_query

if TYPE_CHECKING:
    from truthset.store.store import Record


def process_rows(tx: Connection, project_id: int, sources: Sequence[str]) -> list[Record]:
    """Current single-label annotations from ``sources`` in time order, with what the anomaly
    flags read: (item_id, annotator, label, lead_time, created_at, batch_id of the item, gold label)."""
    q = (
        current_annotations_query(project_id)
        .join(Item, Item.id == Annotation.item_id)
        .join(Gold, Gold.item_id == Annotation.item_id, isouter=True)
        .where(Annotation.source.in_(sources), Annotation.label.is_not(None), Annotation.ground_truth.is_(False))
        .order_by(Annotation.created_at, Annotation.id)
        .with_only_columns(
            Annotation.item_id,
            User.name.label("annotator"),
            Annotation.label,
            Annotation.lead_time,
            Annotation.created_at,
            Item.batch_id,
            Gold.label.label("gold"),
        )
    )
    return list(tx.execute(q).fetchall())


def open_items(tx: Connection, project_id: int) -> int:
    """Items still short of their annotations (the queue's ``full`` flag is false)."""
    return int(
        tx.execute(
            select(func.count()).select_from(Item).where(Item.project_id == project_id, Item.full.is_(False))
        ).scalar_one()
    )


def batches(tx: Connection, project_id: int) -> list[Record]:
    """The project's batches, oldest first: (id, source, items_added, created_at)."""
    return list(
        tx.execute(
            select(Batch.id, Batch.source, Batch.items_added, Batch.created_at)
            .where(Batch.project_id == project_id)
            .order_by(Batch.id)
        ).fetchall()
    )


def batch_payloads(
    tx: Connection, project_id: int, batch_ids: Sequence[int], *, last: int | None = None
) -> list[Record]:
    """(id, payload as JSON text) of the items the batches added, in id order; ``last``: only
    the latest so many."""
    if not batch_ids:
        return []
    q = select(Item.id, Item.payload).where(Item.project_id == project_id, Item.batch_id.in_(list(batch_ids)))
    if last is not None:
        return list(reversed(tx.execute(q.order_by(Item.id.desc()).limit(last)).fetchall()))
    return list(tx.execute(q.order_by(Item.id)).fetchall())


def item_labels(
    tx: Connection, project_id: int, batch_ids: Sequence[int], sources: Sequence[str], *, from_item: int = 0
) -> list[Record]:
    """(item_id, label) of the current single-label annotations on the batches' items (those
    with an id of at least ``from_item``)."""
    q = (
        current_annotations_query(project_id)
        .join(Item, Item.id == Annotation.item_id)
        .where(
            Item.batch_id.in_(list(batch_ids)),
            Item.id >= from_item,
            Annotation.source.in_(sources),
            Annotation.label.is_not(None),
        )
        .with_only_columns(Annotation.item_id, Annotation.label)
    )
    return list(tx.execute(q).fetchall())


def versioned_labels(tx: Connection, project_id: int, sources: Sequence[str]) -> list[Record]:
    """(item_id, annotator, label, schema_version) of the current single-label annotations."""
    q = (
        current_annotations_query(project_id)
        .where(Annotation.source.in_(sources), Annotation.label.is_not(None))
        .with_only_columns(
            Annotation.item_id, User.name.label("annotator"), Annotation.label, Annotation.schema_version
        )
    )
    return list(tx.execute(q).fetchall())
