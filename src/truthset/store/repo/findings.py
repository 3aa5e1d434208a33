"""Data-check findings (services.checks): the texts and labels the checks read, the findings
they write, the review queue's share of them and the reviewers' verdicts.

Each function runs on the caller's transaction and returns rows of plain values. Item fields
are read out of the payload JSON in SQL (``json_extract`` on SQLite, ``->>`` on PostgreSQL),
so a check reads one field of each item, never whole payloads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from truthset.store.models import Finding, FindingItem, Item, Review

#: rows per INSERT: bounded statement size on either database
INSERT_CHUNK = 2000


def payload_field(tx: Connection, name: str) -> Any:
    """SQL expression of the item payload's top-level field ``name`` as text (NULL when the
    field is missing or JSON null). ``name`` must hold no double quote or backslash (the
    config refuses those)."""
    if tx.dialect.name == "postgresql":
        return Item.payload.cast(JSONB).op("->>")(literal(name))
    # SQLite: json_extract gives numbers as numbers; CAST keeps one type for comparisons
    return cast(func.json_extract(Item.payload, f'$."{name}"'), Text())


def payload_json_type(tx: Connection, name: str) -> Any:
    """SQL expression of the JSON type of the payload field ``name``, in one vocabulary:
    ``string``, ``integer``, ``number`` (non-integral), ``boolean``, ``null``, ``array``,
    ``object``; NULL when the field is missing."""
    if tx.dialect.name == "postgresql":
        kind = func.jsonb_typeof(Item.payload.cast(JSONB).op("->")(literal(name)))
        integral = Item.payload.cast(JSONB).op("->>")(literal(name)).op("~")(r"^-?\d+$")
        return case((and_(kind == "number", integral), "integer"), else_=kind)
    kind = func.json_type(Item.payload, f'$."{name}"')
    return case(
        (kind == "text", "string"), (kind == "real", "number"), (kind.in_(("true", "false")), "boolean"), else_=kind
    )


def item_fields(tx: Connection, project_id: int, fields: Sequence[str]) -> Sequence[Any]:
    """(item id, external id, split, *fields as text) of every item of the project, in id order:
    only the columns a check needs."""
    cols = [payload_field(tx, f).label(f"f{i}") for i, f in enumerate(fields)]
    return tx.execute(
        select(Item.id, Item.external_id, Item.split, *cols).where(Item.project_id == project_id).order_by(Item.id)
    ).all()


@dataclass
class NewFinding:
    """A finding to write: ``key`` names it across runs (e.g. the rule and the item)."""

    kind: str
    severity: str
    key: str
    items: list[int]
    score: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def replace_findings(
    tx: Connection, project_id: int, check: str, version: str, findings: Sequence[NewFinding], *, at: datetime
) -> int:
    """Write a check's findings in place of its earlier ones of the same version that have no
    verdict; a finding whose key already carries a verdict is not written again, and one that
    was sent to review stays sent. Returns the number written."""
    mine = and_(Finding.project_id == project_id, Finding.check == check, Finding.check_version == version)
    judged = set(tx.execute(select(Finding.key).where(mine, Finding.verdict.is_not(None))).scalars())
    sent = dict(
        tx.execute(
            select(Finding.key, Finding.sent_at).where(mine, Finding.verdict.is_(None), Finding.sent_at.is_not(None))
        ).all()
    )
    old = select(Finding.id).where(mine, Finding.verdict.is_(None))
    tx.execute(delete(FindingItem).where(FindingItem.finding_id.in_(old)))
    tx.execute(delete(Finding).where(mine, Finding.verdict.is_(None)))
    todo = [f for f in findings if f.key not in judged]
    for start in range(0, len(todo), INSERT_CHUNK):
        part = todo[start : start + INSERT_CHUNK]
        rows = [
            {
                "project_id": project_id,
                "check": check,
                "check_version": version,
                "kind": f.kind,
                "severity": f.severity,
                "key": f.key,
                "score": f.score,
                "detail": json.dumps(f.detail),
                "created_at": at,
                "sent_at": sent.get(f.key),
            }
            for f in part
        ]
        ids = tx.execute(insert(Finding).returning(Finding.id, sort_by_parameter_order=True), rows).scalars().all()
        links = [{"finding_id": fid, "item_id": item} for fid, f in zip(ids, part) for item in dict.fromkeys(f.items)]
        if links:
            tx.execute(insert(FindingItem), links)
    return len(todo)


def findings(
    tx: Connection, project_id: int, *, check: str | None = None, item_id: int | None = None, limit: int | None = None
) -> Sequence[Any]:
    """Findings of the project (of one check, or about one item), newest check first, with their
    item ids as a comma-separated text ``items``."""
    items = select(func.count()).where(FindingItem.finding_id == Finding.id).scalar_subquery()
    q = select(
        Finding.id,
        Finding.check,
        Finding.check_version,
        Finding.kind,
        Finding.severity,
        Finding.key,
        Finding.score,
        Finding.detail,
        Finding.created_at,
        Finding.sent_at,
        Finding.verdict,
        Finding.verdict_at,
        items.label("n_items"),
    ).where(Finding.project_id == project_id)
    if check is not None:
        q = q.where(Finding.check == check)
    if item_id is not None:
        q = q.where(Finding.id.in_(select(FindingItem.finding_id).where(FindingItem.item_id == item_id)))
    q = q.order_by(Finding.id)
    if limit is not None:
        q = q.limit(limit)
    return tx.execute(q).all()


def finding_item_ids(tx: Connection, finding_ids: Sequence[int]) -> Sequence[Row[int, int]]:
    """(finding id, item id) pairs of the findings."""
    return tx.execute(
        select(FindingItem.finding_id, FindingItem.item_id)
        .where(FindingItem.finding_id.in_(finding_ids))
        .order_by(FindingItem.finding_id, FindingItem.item_id)
    ).all()


def checks_with_findings(tx: Connection, project_id: int) -> list[str]:
    """The names of the checks that have findings in the project."""
    return [
        str(c)
        for c in tx.execute(
            select(Finding.check)
            .where(Finding.project_id == project_id)
            .group_by(Finding.check)
            .order_by(Finding.check)
        ).scalars()
    ]


def mark_sent(tx: Connection, project_id: int, checks: Sequence[str], *, at: datetime) -> int:
    """Send the findings of ``checks`` (names or kinds) that have no verdict to review; returns
    how many findings were sent (those sent before keep their time)."""
    res = tx.execute(
        update(Finding)
        .where(
            Finding.project_id == project_id,
            Finding.verdict.is_(None),
            Finding.sent_at.is_(None),
            or_(Finding.check.in_(checks), Finding.kind.in_(checks)),
        )
        .values(sent_at=at)
    )
    return int(res.rowcount or 0)


def sent_waiting(tx: Connection, project_id: int, *, limit: int) -> Sequence[Row[int, str]]:
    """(item id, check) of items of findings sent to review that have no verdict yet and no
    review of the item since they were sent; by item id, at most ``limit`` items."""
    reviewed = (
        select(Review.id).where(Review.item_id == FindingItem.item_id, Review.created_at >= Finding.sent_at).exists()
    )
    waiting = (
        select(FindingItem.item_id, Finding.check)
        .join(Finding, Finding.id == FindingItem.finding_id)
        .where(Finding.project_id == project_id, Finding.sent_at.is_not(None), Finding.verdict.is_(None), ~reviewed)
    )
    first = select(waiting.subquery().c.item_id).distinct().order_by("item_id").limit(limit).subquery()
    return tx.execute(
        waiting.where(FindingItem.item_id.in_(select(first.c.item_id))).order_by(FindingItem.item_id, Finding.check)
    ).all()


def set_verdict(tx: Connection, project_id: int, finding_id: int, *, verdict: str, user_id: int, at: datetime) -> bool:
    """Record a reviewer's verdict on a finding of the project; False when there is none."""
    res = tx.execute(
        update(Finding)
        .where(Finding.id == finding_id, Finding.project_id == project_id)
        .values(verdict=verdict, verdict_by=user_id, verdict_at=at)
    )
    return bool(res.rowcount)


def verdict_counts(tx: Connection, project_id: int) -> Sequence[Row[str, str, str | None, int]]:
    """(check, check version, verdict or None, findings) of the project's findings."""
    return tx.execute(
        select(Finding.check, Finding.check_version, Finding.verdict, func.count())
        .where(Finding.project_id == project_id)
        .group_by(Finding.check, Finding.check_version, Finding.verdict)
    ).all()


def item_payload_batches(tx: Connection, project_id: int) -> Sequence[Row[int, str | None, int | None, str]]:
    """(item id, external id, batch id, payload as JSON text) of every item, in id order: what
    the profile reads (it looks at every field)."""
    return tx.execute(
        select(Item.id, Item.external_id, Item.batch_id, Item.payload)
        .where(Item.project_id == project_id)
        .order_by(Item.id)
    ).all()


def batch_sources(tx: Connection, project_id: int) -> Sequence[Row[int, str]]:
    """(batch id, source file) of the project's import batches."""
    from truthset.store.models import Batch

    return tx.execute(select(Batch.id, Batch.source).where(Batch.project_id == project_id)).all()


def sample_payloads(tx: Connection, project_id: int, *, n: int = 200) -> list[str]:
    """The payloads (JSON text) of the project's first ``n`` items: which fields items have."""
    return [
        str(p)
        for p in tx.execute(
            select(Item.payload).where(Item.project_id == project_id).order_by(Item.id).limit(n)
        ).scalars()
    ]
