"""What the stakeholder reports read (services/reporting.py): batches, items, import findings,
the data checks' findings, gold,
and the facts of the previous quality report (kept as a run, to say what changed since)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, case, func, insert, select

from truthset.store.models import (
    Batch,
    Finding,
    FindingItem,
    Gold,
    ImportFinding,
    Item,
    Review,
    Run,
)

if TYPE_CHECKING:
    from truthset.store.store import Record

#: ``runs.kind`` of a quality report: its headline numbers, for the next report's "changes"
REPORT_RUN = "report-quality"


def batches(tx: Connection, project_id: int) -> list[Record]:
    """Every batch of the project, oldest first."""
    return list(tx.execute(select(Batch).where(Batch.project_id == project_id).order_by(Batch.id)).fetchall())


def items(tx: Connection, project_id: int) -> list[Record]:
    """(id, batch_id, split, full) of every item, in id order."""
    return list(
        tx.execute(
            select(Item.id, Item.batch_id, Item.split, Item.full).where(Item.project_id == project_id).order_by(Item.id)
        ).fetchall()
    )


def finding_counts(tx: Connection, project_id: int) -> dict[str, int]:
    """Import findings by kind (rejected, duplicate, conflict, skipped) over all batches."""
    rows = tx.execute(
        select(ImportFinding.kind, func.count())
        .join(Batch, Batch.id == ImportFinding.batch_id)
        .where(Batch.project_id == project_id)
        .group_by(ImportFinding.kind)
    ).all()
    return {str(k): int(n) for k, n in rows}


def gold_count(tx: Connection, project_id: int) -> int:
    return int(tx.execute(select(func.count()).select_from(Gold).where(Gold.project_id == project_id)).scalar_one())


def last_report(tx: Connection, project_id: int) -> tuple[datetime, dict[str, Any]] | None:
    """(when, headline numbers) of the project's previous quality report, or None."""
    row = tx.execute(
        select(Run.created_at, Run.metrics)
        .where(Run.project_id == project_id, Run.kind == REPORT_RUN)
        .order_by(Run.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], json.loads(row[1] or "{}"))


def add_report(tx: Connection, project_id: int, metrics: dict[str, Any], at: datetime) -> int:
    """Record a quality report's headline numbers; returns the run id."""
    return int(
        tx.execute(
            insert(Run)
            .returning(Run.id)
            .values(
                project_id=project_id,
                kind=REPORT_RUN,
                config="{}",
                dataset_hash="",
                metrics=json.dumps(metrics),
                artifacts="{}",
                created_at=at,
            )
        ).scalar_one()
    )


def review_verdicts(tx: Connection, project_id: int) -> list[Record]:
    """(item_id, batch_id, verdict) of every review of the project's items, oldest first."""
    return list(
        tx.execute(
            select(Review.item_id, Item.batch_id, Review.verdict)
            .join(Item, Item.id == Review.item_id)
            .where(Item.project_id == project_id)
            .order_by(Review.id)
        ).fetchall()
    )


def check_summary(tx: Connection, project_id: int) -> list[Record]:
    """Per data check (``truthset check``): ``check``, ``severity``, ``findings``, ``open`` (no
    verdict yet), ``sent`` (sent to review), ``items`` (distinct items) and ``checked_at`` (when
    its findings were written); checks with no finding are not listed."""
    per = (
        select(
            Finding.check,
            func.max(Finding.severity).label("severity"),
            func.count().label("findings"),
            func.sum(case((Finding.verdict.is_(None), 1), else_=0)).label("open"),
            func.sum(case((Finding.sent_at.is_not(None), 1), else_=0)).label("sent"),
            func.max(Finding.created_at).label("checked_at"),
        )
        .where(Finding.project_id == project_id)
        .group_by(Finding.check)
        .subquery()
    )
    items = (
        select(Finding.check, func.count(func.distinct(FindingItem.item_id)).label("items"))
        .join(FindingItem, FindingItem.finding_id == Finding.id)
        .where(Finding.project_id == project_id)
        .group_by(Finding.check)
        .subquery()
    )
    q = (
        select(
            per.c.check,
            per.c.severity,
            per.c.findings,
            per.c.open,
            per.c.sent,
            func.coalesce(items.c["items"], 0).label("items"),
            per.c.checked_at,
        )
        .join(items, items.c.check == per.c.check, isouter=True)
        .order_by(per.c.check)
    )
    return list(tx.execute(q).fetchall())
