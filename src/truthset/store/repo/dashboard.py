"""The dashboard's reads: judgements with their time and batch, assignment counts, reviews, batches.

Each function runs one query on the caller's transaction and returns plain rows; the
numbers (pace, agreement, gold accuracy, distributions) are computed in
``services.dashboard`` from these. Gold answers given as annotations (``ground_truth``) are
never read here: the dashboard compares annotators with gold, it does not list gold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select

from truthset.store.models import (
    Annotation,
    Assignment,
    Batch,
    DataIssue,
    Gold,
    Item,
    Review,
    User,
    utcnow,
)
from truthset.store.repo import current_annotations_query


def judgement_rows(tx: Connection, project_id: int, sources: Sequence[str]) -> Sequence[Any]:
    """Current annotations from ``sources`` (not gold answers), in id (time) order: rows of
    (item_id, annotator, label, value JSON text, schema_version, lead_time, created_at, batch_id
    of the item, source)."""
    q = (
        current_annotations_query(project_id, with_gold=False)
        .join(Item, Item.id == Annotation.item_id)
        .where(Annotation.source.in_(sources))
        .order_by(Annotation.id)
        .with_only_columns(
            Annotation.item_id,
            User.name.label("annotator"),
            Annotation.label,
            Annotation.value,
            Annotation.schema_version,
            Annotation.lead_time,
            Annotation.created_at,
            Item.batch_id,
            Annotation.source,
        )
    )
    return tx.execute(q).all()


def assignment_counts(tx: Connection, project_id: int) -> Sequence[Any]:
    """(stage, status, annotator name or None, count) of the project's assignments."""
    q = (
        select(Assignment.stage, Assignment.status, User.name, func.count())
        .select_from(Assignment)
        .outerjoin(User, User.id == Assignment.user_id)
        .where(Assignment.project_id == project_id)
        .group_by(Assignment.stage, Assignment.status, User.name)
    )
    return tx.execute(q).all()


def review_outcomes(tx: Connection, project_id: int) -> Sequence[Any]:
    """(annotator name of the reviewed annotation, verdict, count) of reviews that name an
    annotation of this project."""
    q = (
        select(User.name, Review.verdict, func.count())
        .select_from(Review)
        .join(Annotation, Annotation.id == Review.annotation_id)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project_id)
        .group_by(User.name, Review.verdict)
    )
    return tx.execute(q).all()


def batches(tx: Connection, project_id: int) -> Sequence[Any]:
    """(id, source, created_at, due_at, items) of the project's batches, by id."""
    n_items = select(func.count()).select_from(Item).where(Item.batch_id == Batch.id).correlate(Batch).scalar_subquery()
    q = (
        select(Batch.id, Batch.source, Batch.created_at, Batch.due_at, n_items.label("items"))
        .where(Batch.project_id == project_id)
        .order_by(Batch.id)
    )
    return tx.execute(q).all()


def add_gold_labels(tx: Connection, project_id: int, labels: dict[int, str], *, source: str) -> int:
    """Mark items as gold with a single label each (items already gold are left alone); how many
    were added. For the demo, which has no gold file."""
    have = set(tx.execute(select(Gold.item_id).where(Gold.item_id.in_(list(labels)))).scalars())
    rows = [
        {
            "item_id": i,
            "project_id": project_id,
            "value": json.dumps(lb),
            "label": lb,
            "source": source,
            "created_at": utcnow(),
        }
        for i, lb in labels.items()
        if i not in have
    ]
    if rows:
        tx.execute(insert(Gold), rows)
    return len(rows)


def human_judgements(tx: Connection, project_id: int) -> int:
    """How many annotations people made in the app (source ``human``)."""
    return int(
        tx.execute(
            select(func.count())
            .select_from(Annotation)
            .where(Annotation.project_id == project_id, Annotation.source == "human")
        ).scalar_one()
    )


#: data-issue statuses that are still findings to look at
OPEN_ISSUES = ("open", "triaged", "escalated")


def finding_kinds(tx: Connection, project_id: int) -> list[str]:
    """The kinds of the project's open data issues (skips as ``skip:<reason>``, QC findings), sorted."""
    return sorted(
        str(k)
        for k in tx.execute(
            select(DataIssue.kind)
            .distinct()
            .where(DataIssue.project_id == project_id, DataIssue.status.in_(OPEN_ISSUES))
        ).scalars()
    )


def finding_items(tx: Connection, project_id: int, kind: str) -> list[int]:
    """The items named by the project's open data issues of ``kind``, by id."""
    ids: set[int] = set()
    for (items,) in tx.execute(
        select(DataIssue.items).where(
            DataIssue.project_id == project_id, DataIssue.kind == kind, DataIssue.status.in_(OPEN_ISSUES)
        )
    ):
        try:
            ids.update(int(i) for i in json.loads(items or "[]") if isinstance(i, int))
        except (json.JSONDecodeError, TypeError):
            continue
    return sorted(ids)
