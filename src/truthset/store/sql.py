"""Analysts' SQL on a read-only connection (``truthset sql``; docs/sql.md).

SQLite: a separate connection to the database file opened with ``mode=ro`` (the file cannot
be written through it), ``PRAGMA query_only`` on top, and an authorizer that allows reading
and nothing else: no ATTACH, no PRAGMA, no write of any kind, and never the secret columns
of ``users`` (password and API-token hashes, session generations). PostgreSQL has no
authorizer, so the statement runs as the role ``truthset_analyst`` (:func:`_analyst_role`: it
may read every table and view of the project's schema but the secret columns of ``users``, and
as a role without superuser rights it reads no server file and no ``pg_authid``), in a ``READ
ONLY`` transaction that is always rolled back, sent as one prepared statement (so ``COMMIT;
DELETE ...`` is refused: the extended protocol takes one command). Statements or results naming
the secret columns are refused before that. One statement per call; at most ``limit`` rows.
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
_READ_ONLY = (
    "read-only: it runs on a read-only connection and cannot change the data. Query the v_* views "
    "(docs/sql.md); change data with the truthset commands"
)


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
        return InvalidInput(
            f"the query reads {', '.join(SECRET_COLUMNS)} of users, which are never shown; read the "
            f"v_users view instead (the database said: {text.splitlines()[0]})"
        )
    if re.search(r"permission denied for (table|relation) users\b", text, re.IGNORECASE):
        return InvalidInput(
            f"the query reads {', '.join(SECRET_COLUMNS)} or whole rows of users, which are never "
            f"shown; read the v_users view instead (the database said: {text.splitlines()[0]})"
        )
    if re.search(r"permission denied", text, re.IGNORECASE):
        return InvalidInput(
            "the query reads what analysts may not (server files, the database's roles or "
            f"settings); query the v_* views (the database said: {text.splitlines()[0]})"
        )
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


#: the PostgreSQL role analysts' SQL runs as (cluster-wide; created on first use)
ANALYST_ROLE = "truthset_analyst"
#: what a PostgreSQL query may not call: ``set_config`` (``set_config('role', session_user,
#: true)`` takes the connection's own user back, since SET ROLE is checked against the session
#: user), the functions that run SQL given as text (which could hide that call) and Unicode
#: escapes (``U&"..."``, which could hide a name)
_PG_REFUSED = re.compile(
    r"\b(set_config|\w*_to_xml\w*|\w*_to_xmlschema|ts_stat|ts_rewrite|dblink\w*)\b|\bU&[\"']", re.IGNORECASE
)


def _analyst_role(store: Store, *, tries: int = 3) -> None:
    """Make sure :data:`ANALYST_ROLE` exists, may be taken on by this connection's user, and may
    read the project's tables and views except the secret columns of ``users`` (granted again on
    every call, so tables added by a later migration are readable too).

    Creating the role needs CREATEROLE (or a superuser); without it, a clear error says what a
    database administrator must run once.
    """
    lock = "SELECT pg_advisory_xact_lock(hashtext('truthset sql analyst role'))"  # one setter at a time
    with store.engine.connect() as conn:
        try:
            with conn.begin():
                conn.exec_driver_sql(lock)
                exists = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_roles WHERE rolname = %(r)s", {"r": ANALYST_ROLE}
                ).first()
                if exists is None:
                    conn.exec_driver_sql(f"CREATE ROLE {ANALYST_ROLE} NOLOGIN")
            with conn.begin():
                conn.exec_driver_sql(lock)
                member = conn.exec_driver_sql(
                    "SELECT rolsuper OR pg_has_role(current_user, %(r)s, 'MEMBER') "
                    "FROM pg_roles WHERE rolname = current_user",
                    {"r": ANALYST_ROLE},
                )
                if not member.scalar():
                    conn.exec_driver_sql(f"GRANT {ANALYST_ROLE} TO CURRENT_USER")
                schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
                columns = [
                    c
                    for (c,) in conn.exec_driver_sql(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'users' ORDER BY ordinal_position"
                    )
                    if c.lower() not in SECRET_COLUMNS
                ]
                conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {ANALYST_ROLE}')
                conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {ANALYST_ROLE}')
                conn.exec_driver_sql(f"REVOKE ALL ON TABLE users FROM {ANALYST_ROLE}")
                conn.exec_driver_sql(f"GRANT SELECT ({', '.join(columns)}) ON TABLE users TO {ANALYST_ROLE}")
        except DBAPIError as exc:
            if tries > 1 and re.search(r"already exists|duplicate key|concurrently", str(exc.orig)):
                return _analyst_role(store, tries=tries - 1)  # another process made the same change at once
            raise InvalidInput(
                f"truthset sql on PostgreSQL runs as the role {ANALYST_ROLE}, which this database user cannot "
                f"set up (the database said: {str(exc.orig).splitlines()[0]}); have an administrator run "
                f"'CREATE ROLE {ANALYST_ROLE} NOLOGIN; GRANT {ANALYST_ROLE} TO <this user>;' once "
                "(docs/sql.md)"
            ) from exc


def _postgres(store: Store, query: str, limit: int) -> QueryResult:
    import psycopg

    if _SECRET.search(query):
        raise InvalidInput(
            f"the query names {', '.join(SECRET_COLUMNS)}: those columns are never shown; read the v_users view instead"
        )
    refused = _PG_REFUSED.search(query)
    if refused is not None:
        raise InvalidInput(
            f"truthset sql does not run {refused.group(0)!r} (it changes the role the query runs "
            "as, runs SQL given as text or hides a name); query the v_* views"
        )
    _analyst_role(store)
    with store.engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL ROLE {ANALYST_ROLE}")
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            # prepared: the extended protocol takes exactly one command ("SELECT 1; DELETE ..."
            # and "COMMIT; DELETE ..." are refused instead of running after the read-only part)
            cur.execute(query, prepare=True)
            if cur.description is None:
                raise InvalidInput("the statement returns no rows; truthset sql runs SELECT queries")
            columns = [d.name for d in cur.description]
            hidden = [c for c in columns if c.lower() in SECRET_COLUMNS]
            if hidden:
                raise InvalidInput(
                    f"the result has the column(s) {hidden}, which are never shown; select the "
                    "columns you need, or read the v_users view"
                )
            rows = cur.fetchmany(limit + 1)
            cur.execute("SELECT current_user")
            if (cur.fetchone() or ("",))[0] != ANALYST_ROLE:  # a way round _PG_REFUSED: show nothing
                raise InvalidInput(f"the query changed the role it runs as; truthset sql runs as {ANALYST_ROLE}")
        except psycopg.Error as exc:
            raise _refuse(exc) from exc
        finally:
            tx.rollback()
    return QueryResult(columns, [tuple(r) for r in rows[:limit]], len(rows) > limit)


def read_only_query(store: Store, query: str, *, limit: int = 1000) -> QueryResult:
    """Run one SQL statement on a read-only connection and return at most ``limit`` rows."""
    if not query.strip():
        raise InvalidInput(
            'give a query, e.g. truthset sql "SELECT label, count(*) FROM v_current_labels GROUP BY label"'
        )
    if limit < 1:
        raise InvalidInput(f"--limit {limit}: give a number of rows >= 1")
    if store.dialect == "sqlite":
        return _sqlite(store, query, limit)
    return _postgres(store, query, limit)
