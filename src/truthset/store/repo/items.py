"""Items and their annotations as the API lists them (services.items), and one item by id.

Gold answers given as annotations (``ground_truth``) are left out unless ``with_gold``: the
services pass it only for admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from truthset.store.models import Annotation, Assignment, Gold, Item, User
from truthset.store.repo import current_annotations_query

if TYPE_CHECKING:
    from truthset.store.store import Record


def _item_filters(
    q: Any,
    project_id: int,
    *,
    after: int,
    batch: int | None,
    label: str | None,
    text: str | None,
    annotator: str | None,
    with_gold: bool,
    ids: Sequence[int] | None = None,
) -> Any:
    """``q`` (a select over items) restricted to the listing's filters (``ids``: only these items)."""
    q = q.where(Item.project_id == project_id, Item.id > after)
    if ids is not None:
        q = q.where(Item.id.in_(list(ids)))
    if batch is not None:
        q = q.where(Item.batch_id == batch)
    if text:
        # the payload is JSON text: a case-insensitive substring of it (LIKE's wildcards escaped)
        q = q.where(Item.payload.icontains(text, autoescape=True))
    if label is not None or annotator is not None:
        # ``item_id > after`` repeats the correlation as a range PostgreSQL can seek to: without
        # it a merge semi-join reads the label's annotations from the first item on every page.
        has = select(Annotation.id).where(Annotation.item_id == Item.id, Annotation.item_id > after)
        if label is not None:
            has = has.where(Annotation.label == label)
        if annotator is not None:
            has = has.join(User, User.id == Annotation.user_id).where(User.name == annotator)
        if not with_gold:
            has = has.where(Annotation.ground_truth.is_(False))
        q = q.where(has.exists())
    return q


def items_page(
    tx: Connection,
    project_id: int,
    *,
    after: int,
    limit: int,
    batch: int | None = None,
    label: str | None = None,
    with_gold: bool = False,
    text: str | None = None,
    annotator: str | None = None,
    offset: int = 0,
    ids: Sequence[int] | None = None,
) -> list[Record]:
    """Up to ``limit`` items with id above ``after``, in id order (keyset pagination; ``offset``
    skips that many more, for a page browser): rows of (id, external_id, payload JSON text,
    batch_id, n_open).

    ``batch``: only that batch's items; ``label``: only items with an annotation of this label;
    ``annotator``: only items that user annotated (gold answers count only ``with_gold``);
    ``text``: only items whose content contains it (any case).
    """
    q = _item_filters(
        select(Item.id, Item.external_id, Item.payload, Item.batch_id, Item.n_open),
        project_id,
        after=after,
        batch=batch,
        label=label,
        text=text,
        annotator=annotator,
        with_gold=with_gold,
        ids=ids,
    )
    return list(tx.execute(q.order_by(Item.id).offset(offset).limit(limit)).all())


def items_count(
    tx: Connection,
    project_id: int,
    *,
    batch: int | None = None,
    label: str | None = None,
    with_gold: bool = False,
    text: str | None = None,
    annotator: str | None = None,
    ids: Sequence[int] | None = None,
) -> int:
    """How many items the listing's filters keep (all pages)."""
    q = _item_filters(
        select(func.count()).select_from(Item),
        project_id,
        after=0,
        batch=batch,
        label=label,
        text=text,
        annotator=annotator,
        with_gold=with_gold,
        ids=ids,
    )
    return int(tx.execute(q).scalar_one())


def annotations_page(
    tx: Connection, project_id: int, *, after: int, limit: int, with_gold: bool = False
) -> list[Record]:
    """Up to ``limit`` current annotations with id above ``after``, in id order (keyset
    pagination): annotation rows with the annotator's name as ``annotator``."""
    return list(
        tx.execute(
            current_annotations_query(project_id, with_gold=with_gold)
            .where(Annotation.id > after)
            .order_by(Annotation.id)
            .limit(limit)
        ).all()
    )


def gold_answers(tx: Connection, project_id: int) -> list[tuple[int, str]]:
    """(item id, gold value as JSON text) of every gold item, by item id (for admins only)."""
    return [
        (int(i), str(v))
        for i, v in tx.execute(
            select(Gold.item_id, Gold.value).where(Gold.project_id == project_id).order_by(Gold.item_id)
        )
    ]


def item_in_project(tx: Connection, project_id: int, item_id: int) -> Record | None:
    """The item row ``item_id`` if it belongs to this project (an id from a request may not)."""
    return tx.execute(select(Item).where(Item.id == item_id, Item.project_id == project_id)).first()


def gold_value(tx: Connection, item_id: int) -> str | None:
    """The gold answer of an item as JSON text, or None when it is not a gold item."""
    value = tx.execute(select(Gold.value).where(Gold.item_id == item_id)).scalar()
    return None if value is None else str(value)


def annotation_item(tx: Connection, annotation_id: int) -> int | None:
    """The item an annotation belongs to (None: no such annotation), to check a request's pair."""
    found = tx.execute(select(Annotation.item_id).where(Annotation.id == annotation_id)).scalar()
    return None if found is None else int(found)


def was_assigned(tx: Connection, item_id: int, user_id: int) -> bool:
    """Whether the user has ever been handed the item (an assignment in any state): what lets
    an annotator see its content."""
    return (
        tx.execute(
            select(Assignment.id).where(Assignment.item_id == item_id, Assignment.user_id == user_id).limit(1)
        ).first()
        is not None
    )
