"""Analysts' SQL on a read-only connection (``truthset sql``; docs/sql.md).

SQLite: a separate connection to the database file opened with ``mode=ro`` (the file cannot
be written through it), ``PRAGMA query_only`` on top, and an authorizer that allows reading
and nothing else: no ATTACH, no PRAGMA, no write of any kind, and never the secret columns
of ``users`` (password and API-token hashes, session generations). PostgreSQL: the statement
runs in a ``READ ONLY`` transaction that is always rolled back, so nothing can be written;
statements naming the secret columns are refused, and docs/sql.md shows how to give analysts
a role that can read the ``v_*`` views only. One statement per call; at most ``limit`` rows.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError

from truthset.core.errors import InvalidInput
from truthset.store.store import Store

#: columns of ``users`` no analyst query may read
SECRET_COLUMNS = ("password_hash", "token_hash", "session_gen")
_SECRET = re.compile(r"\b(" + "|".join(SECRET_COLUMNS) + r")\b", re.IGNORECASE)
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_READ_ONLY = ("read-only: it runs on a read-only connection and cannot change the data. Query the v_* views "
              "(docs/sql.md); change data with the truthset commands")


@dataclass
class QueryResult:
    """Column names, rows (plain values), and whether more rows were left out past the limit."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def _authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1 or "").lower() == "users" and (arg2 or "").lower() in SECRET_COLUMNS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _refuse(exc: Exception) -> InvalidInput:
    text = str(getattr(exc, "orig", exc))
    if _SECRET.search(text):
        return InvalidInput(f"the query reads {', '.join(SECRET_COLUMNS)} of users, which are never shown; read the "
                            f"v_users view instead (the database said: {text.splitlines()[0]})")
    if re.search(r"not authorized|readonly|read-only|read only|query_only|prohibited", text, re.IGNORECASE):
        return InvalidInput(f"truthset sql is {_READ_ONLY} (the database said: {text.splitlines()[0]})")
    return InvalidInput(f"the query failed: {text.splitlines()[0] if text else type(exc).__name__}")


def _sqlite(store: Store, query: str, limit: int) -> QueryResult:
    path = store.engine.url.database
    if not path or path == ":memory:":
        raise InvalidInput("truthset sql needs a database file or server; this store is in memory")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.set_authorizer(_authorizer)
        try:
            cur = conn.execute(query)
            rows = cur.fetchmany(limit + 1)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise _refuse(exc) from exc
        columns = [d[0] for d in cur.description or ()]
    finally:
        conn.close()
    return QueryResult(columns, [tuple(r) for r in rows[:limit]], len(rows) > limit)


def _postgres(store: Store, query: str, limit: int) -> QueryResult:
    if _SECRET.search(query):
        raise InvalidInput(f"the query names {', '.join(SECRET_COLUMNS)}: those columns are never shown; read "
                           "the v_users view instead")
    with store.engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = conn.exec_driver_sql(query)
            if not result.returns_rows:
                raise InvalidInput("the statement returns no rows; truthset sql runs SELECT queries")
            columns = list(result.keys())
            hidden = [c for c in columns if c.lower() in SECRET_COLUMNS]
            if hidden:
                raise InvalidInput(f"the result has the column(s) {hidden}, which are never shown; select the "
                                   "columns you need, or read the v_users view")
            rows = result.fetchmany(limit + 1)
        except DBAPIError as exc:
            raise _refuse(exc) from exc
        finally:
            tx.rollback()
    return QueryResult(columns, [tuple(r) for r in rows[:limit]], len(rows) > limit)


def read_only_query(store: Store, query: str, *, limit: int = 1000) -> QueryResult:
    """Run one SQL statement on a read-only connection and return at most ``limit`` rows."""
    if not query.strip():
        raise InvalidInput("give a query, e.g. truthset sql \"SELECT label, count(*) FROM v_current_labels GROUP BY label\"")
    if limit < 1:
        raise InvalidInput(f"--limit {limit}: give a number of rows >= 1")
    if store.dialect == "sqlite":
        return _sqlite(store, query, limit)
    return _postgres(store, query, limit)
