"""Data issues: the tracker's reads and writes (services/data_issues.py keeps the rules).

Each function runs on the caller's transaction and returns plain rows; the service decides
which moves are allowed, who may make them, and how an issue explains itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, String, cast, delete, insert, select, update

from truthset.store.models import DataIssue, DataIssueEvent, DataIssueLink, Finding, User

if TYPE_CHECKING:
    from truthset.store.store import Record


def _issue_query() -> Any:
    return select(DataIssue, User.name.label("owner")).join(User, User.id == DataIssue.owner_id, isouter=True)


def get(tx: Connection, project_id: int, issue_id: int) -> Record | None:
    """The issue with its owner's name as ``owner``, or None when the project has no such issue."""
    row: Record | None = tx.execute(
        _issue_query().where(DataIssue.project_id == project_id, DataIssue.id == issue_id)
    ).first()
    return row


def by_fingerprint(tx: Connection, project_id: int, fingerprint: str) -> Record | None:
    """The latest issue raised for ``fingerprint`` (an anomaly flag, a drifted batch), or None."""
    row: Record | None = tx.execute(
        _issue_query()
        .where(DataIssue.project_id == project_id, DataIssue.fingerprint == fingerprint)
        .order_by(DataIssue.id.desc())
        .limit(1)
    ).first()
    return row


def listing(
    tx: Connection,
    project_id: int,
    *,
    statuses: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    owner_id: int | None = None,
) -> list[Record]:
    """The project's issues, newest first, filtered by status, stored kind and owner."""
    q = _issue_query().where(DataIssue.project_id == project_id)
    if statuses:
        q = q.where(DataIssue.status.in_(statuses))
    if kinds:
        q = q.where(DataIssue.kind.in_(kinds))
    if owner_id is not None:
        q = q.where(DataIssue.owner_id == owner_id)
    return list(tx.execute(q.order_by(DataIssue.id.desc())).fetchall())


def add(tx: Connection, project_id: int, **values: Any) -> int:
    """Insert an issue (column name -> value); returns its id."""
    return int(
        tx.execute(insert(DataIssue).returning(DataIssue.id).values(project_id=project_id, **values)).scalar_one()
    )


def change(tx: Connection, issue_id: int, **values: Any) -> None:
    """Update an issue's columns."""
    tx.execute(update(DataIssue).where(DataIssue.id == issue_id).values(**values))


def add_event(
    tx: Connection,
    issue_id: int,
    *,
    event: str,
    author_id: int | None,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
) -> None:
    """Append a step to an issue's history."""
    tx.execute(
        insert(DataIssueEvent).values(
            issue_id=issue_id,
            author_id=author_id,
            event=event,
            from_status=from_status,
            to_status=to_status,
            note=note,
            created_at=at,
        )
    )


def events(tx: Connection, issue_id: int) -> list[Record]:
    """An issue's history, oldest first, with the author's name as ``author``."""
    return list(
        tx.execute(
            select(DataIssueEvent, User.name.label("author"))
            .join(User, User.id == DataIssueEvent.author_id, isouter=True)
            .where(DataIssueEvent.issue_id == issue_id)
            .order_by(DataIssueEvent.id)
        ).fetchall()
    )


def add_links(tx: Connection, issue_id: int, links: Iterable[tuple[str, str]], at: datetime) -> int:
    """Link the issue to ``(kind, target)`` pairs it is not linked to yet; returns how many were new."""
    have = {
        (r.kind, r.target)
        for r in tx.execute(select(DataIssueLink.kind, DataIssueLink.target).where(DataIssueLink.issue_id == issue_id))
    }
    new = [
        {"issue_id": issue_id, "kind": k, "target": t, "created_at": at}
        for k, t in dict.fromkeys(links)
        if (k, t) not in have
    ]
    if new:
        tx.execute(insert(DataIssueLink), new)
    return len(new)


def drop_dead_finding_links(tx: Connection, issue_id: int) -> int:
    """Remove the issue's links to findings that no longer exist (a re-run of the check replaced
    them with new ones); returns how many were removed."""
    res = tx.execute(
        delete(DataIssueLink).where(
            DataIssueLink.issue_id == issue_id,
            DataIssueLink.kind == "finding",
            DataIssueLink.target.not_in(select(cast(Finding.id, String))),
        )
    )
    return int(res.rowcount or 0)


def links(tx: Connection, issue_ids: Sequence[int]) -> list[Record]:
    """(issue_id, kind, target) of the issues' links, in the order they were made."""
    if not issue_ids:
        return []
    return list(
        tx.execute(
            select(DataIssueLink.issue_id, DataIssueLink.kind, DataIssueLink.target)
            .where(DataIssueLink.issue_id.in_(list(issue_ids)))
            .order_by(DataIssueLink.id)
        ).fetchall()
    )


def user_id(tx: Connection, name: str) -> tuple[int, str, str] | None:
    """(id, role, status) of the user called ``name``, or None."""
    row = tx.execute(select(User.id, User.role, User.status).where(User.name == name)).first()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))
