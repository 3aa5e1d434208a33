"""What ``/readyz`` and ``truthset doctor`` ask the database: is it there, is its schema current,
is it intact, and does it hold work that nobody can finish.

Each function runs its own short statements; none changes anything.
"""

from __future__ import annotations

import os
from datetime import datetime

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from truthset.store.migrate import head_revision
from truthset.store.models import Assignment, Item, User
from truthset.store.store import Store

#: the first rows of ``PRAGMA integrity_check`` kept in a report
MAX_PROBLEMS = 5


def ping(store: Store) -> str | None:
    """None when the database answers ``SELECT 1``; else what went wrong (the driver's class
    and message, never the URL)."""
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, OSError) as exc:
        return f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}"
    return None


def revisions(store: Store) -> tuple[str | None, str]:
    """(the database's migration revision, the newest the package ships)."""
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head_revision()


def integrity_problems(store: Store) -> list[str]:
    """SQLite: what ``PRAGMA integrity_check`` reports (empty when "ok"); PostgreSQL: the
    server keeps its own pages consistent, so this checks the tables are readable (a count of
    each) and reports any that is not."""
    problems: list[str] = []
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            try:
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            except SQLAlchemyError as exc:  # damaged past what the check can walk
                return [str(getattr(exc, "orig", exc)).splitlines()[0][:200]]
            return [] if rows == ["ok"] else rows[:MAX_PROBLEMS]
        for table in ("projects", "items", "annotations", "assignments", "users"):
            try:
                conn.exec_driver_sql(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            except SQLAlchemyError as exc:
                problems.append(f"{table}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}")
                conn.rollback()
    return problems


def wal_bytes(store: Store) -> int | None:
    """The size of SQLite's write-ahead log file (None on PostgreSQL or without one)."""
    files = store.files()
    if not files:
        return None
    wal = files[0] + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


def stuck_assignments(store: Store, project_id: int, now: datetime) -> dict[str, int]:
    """Open assignments nobody will finish: ``expired`` (leased past their lease, not yet given
    back by the queue's sweep) and ``orphaned`` (open, and held by a user who is disabled,
    removed or gone, or for an item that is gone)."""
    open_ = or_(Assignment.status == "leased", Assignment.status == "pending")
    with store.read() as tx:
        expired = tx.execute(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.project_id == project_id, Assignment.status == "leased", Assignment.leased_until < now)
        ).scalar_one()
        no_user = tx.execute(
            select(func.count())
            .select_from(Assignment)
            .outerjoin(User, User.id == Assignment.user_id)
            .where(
                Assignment.project_id == project_id,
                open_,
                Assignment.user_id.is_not(None),
                or_(User.id.is_(None), User.status != "active"),
            )
        ).scalar_one()
        no_item = tx.execute(
            select(func.count())
            .select_from(Assignment)
            .outerjoin(Item, Item.id == Assignment.item_id)
            .where(Assignment.project_id == project_id, open_, Item.id.is_(None))
        ).scalar_one()
    return {"expired": int(expired), "orphaned": int(no_user) + int(no_item)}


def sqlite_file_problems(path: str) -> list[str]:
    """``PRAGMA integrity_check`` on a SQLite file read directly (for a store that cannot be
    opened at all); empty when "ok" or when there is no such file."""
    import sqlite3

    if not os.path.exists(path):
        return []
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [str(r[0]) for r in con.execute("PRAGMA integrity_check").fetchall()]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows[:MAX_PROBLEMS]
