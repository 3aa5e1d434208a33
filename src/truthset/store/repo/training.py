"""Training data's reads: the items asked for, the reviewers' decisions on them, accepted values.

:mod:`truthset.services.training_data` decides each item's final label from these (and from
the consensus of :mod:`.quality`); here only the queries, one per function, on the caller's
transaction, returning rows (tuples of plain values) and values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeAlias

from sqlalchemy import Connection, Row, select

from truthset.store.models import Annotation, Item, Review

#: (item id, external id, payload as JSON text)
ItemRow: TypeAlias = "Row[int, str | None, str]"
#: (item id, reviewed annotation id or None, verdict, correction as JSON text or None)
ReviewRow: TypeAlias = "Row[int, int | None, str, str | None]"


def item_pages(tx: Connection, project_id: int, *, page: int = 5000) -> Iterator[Sequence[ItemRow]]:
    """All the project's items, ``page`` at a time in id order: keyset pagination, so memory
    stays bounded on any size and each page is one indexed query."""
    last = 0
    while True:
        rows = tx.execute(
            select(Item.id, Item.external_id, Item.payload)
            .where(Item.project_id == project_id, Item.id > last)
            .order_by(Item.id)
            .limit(page)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def items_by_id(tx: Connection, project_id: int, item_ids: Sequence[int]) -> Sequence[ItemRow]:
    """The project's items among ``item_ids`` (ids of other projects are ignored), in id order.
    The caller keeps ``item_ids`` to a page (a few thousand) so the IN list stays bounded."""
    return tx.execute(
        select(Item.id, Item.external_id, Item.payload)
        .where(Item.project_id == project_id, Item.id.in_(item_ids))
        .order_by(Item.id)
    ).all()


def reviews_of_items(tx: Connection, item_ids: Sequence[int]) -> Sequence[ReviewRow]:
    """Every review of the items, oldest first: a later verdict on an item or an annotation
    overrides an earlier one."""
    return tx.execute(
        select(Review.item_id, Review.annotation_id, Review.verdict, Review.correction)
        .where(Review.item_id.in_(item_ids))
        .order_by(Review.id)
    ).all()


def annotation_values(tx: Connection, annotation_ids: Sequence[int]) -> dict[int, str]:
    """Annotation id -> value as JSON text (the annotations a reviewer accepted)."""
    if not annotation_ids:
        return {}
    return {
        int(i): str(v)
        for i, v in tx.execute(select(Annotation.id, Annotation.value).where(Annotation.id.in_(annotation_ids)))
    }
