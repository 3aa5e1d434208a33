"""Review and adjudication (services.review): which items wait for a reviewer, the reviews of
an item, and the rows a verdict writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, insert, or_, select

from truthset.store.models import Annotation, Gold, Item, Review, User
from truthset.store.repo import current_annotations_query

if TYPE_CHECKING:
    from truthset.store.store import Record


def _judgements(project_id: int, sources: Sequence[str], with_gold: bool) -> Any:
    """Current annotations of the project from ``sources`` (the judgements), as a subquery."""
    return current_annotations_query(project_id, with_gold=with_gold).where(Annotation.source.in_(sources)).subquery()


def _waiting(tx: Connection, project_id: int, flagged: Select[Any], limit: int) -> list[int]:
    """Ids (ascending, at most ``limit``) of the items of ``flagged`` (item_id, last_at) that have
    no review at or after ``last_at``, their newest label: filtered in SQL, so reviewed items
    never crowd out the ones still waiting."""
    reviewed = (
        select(Review.item_id, func.max(Review.created_at).label("at"))
        .join(Item, Item.id == Review.item_id)
        .where(Item.project_id == project_id)
        .group_by(Review.item_id)
        .subquery()
    )
    c = flagged.subquery()
    waiting = (
        select(c.c.item_id)
        .outerjoin(reviewed, reviewed.c.item_id == c.c.item_id)
        .where(or_(reviewed.c.at.is_(None), reviewed.c.at < c.c.last_at))
        .order_by(c.c.item_id)
        .limit(limit)
    )
    return [int(i) for i in tx.execute(waiting).scalars()]


def disagreements_waiting(
    tx: Connection, project_id: int, sources: Sequence[str], *, limit: int, with_gold: bool
) -> list[int]:
    """Items whose current judgements differ and that no review has settled since their last
    label, by id (at most ``limit``). ``with_gold=False``: gold answers given as annotations
    count for nothing (what anyone but an admin may see)."""
    cur = _judgements(project_id, sources, with_gold)
    disagree = (
        select(cur.c.item_id, func.max(cur.c.created_at).label("last_at"))
        .group_by(cur.c.item_id)
        .having(func.count(func.distinct(cur.c.value)) > 1)
    )
    return _waiting(tx, project_id, disagree, limit)


def wrong_on_gold_waiting(tx: Connection, project_id: int, sources: Sequence[str], *, limit: int) -> list[int]:
    """Gold items with a current judgement other than the gold answer that no review has
    settled since their last label, by id (at most ``limit``). For admins only: it tells which
    items are gold."""
    cur = _judgements(project_id, sources, True)
    wrong_gold = (
        select(cur.c.item_id, func.max(cur.c.created_at).label("last_at"))
        .join(Gold, Gold.item_id == cur.c.item_id)
        .where(Gold.value != cur.c.value)
        .group_by(cur.c.item_id)
    )
    return _waiting(tx, project_id, wrong_gold, limit)


def reviews_of_item(tx: Connection, item_id: int) -> list[Record]:
    """The reviews of an item in the order given: review rows with the reviewer's name as
    ``reviewer``."""
    return list(
        tx.execute(
            select(Review, User.name.label("reviewer"))
            .join(User, User.id == Review.reviewer_id)
            .where(Review.item_id == item_id)
            .order_by(Review.id)
        ).all()
    )


def add_adjudication(
    tx: Connection,
    project_id: int,
    item_id: int,
    reviewer_id: int,
    *,
    value: str,
    label: str | None,
    schema_version: int,
    at: datetime,
) -> None:
    """Record a reviewer's corrected label (canonical JSON ``value``; ``label`` when it is a
    single label) as an annotation of source ``review``, so it joins the item's history."""
    tx.execute(
        insert(Annotation).values(
            project_id=project_id,
            item_id=item_id,
            user_id=reviewer_id,
            value=value,
            label=label,
            schema_version=schema_version,
            source="review",
            meta=json.dumps({"adjudication": True}),
            created_at=at,
        )
    )


def add_review(
    tx: Connection,
    item_id: int,
    reviewer_id: int,
    *,
    verdict: str,
    annotation_id: int | None,
    reason: str,
    correction: str | None,
    at: datetime,
) -> int:
    """Record a verdict on an item (or on one of its annotations); returns the review's id."""
    return int(
        tx.execute(
            insert(Review)
            .returning(Review.id)
            .values(
                item_id=item_id,
                annotation_id=annotation_id,
                reviewer_id=reviewer_id,
                verdict=verdict,
                reason=reason,
                correction=correction,
                created_at=at,
            )
        ).scalar_one()
    )
