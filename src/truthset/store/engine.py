"""Engines: SQLite by default, PostgreSQL through ``TRUTHSET_DATABASE_URL``, the same models.

SQLite runs in WAL mode with one writer at a time (:mod:`.locks`) and a busy timeout, so a
second writer waits instead of failing with "database is locked"; PostgreSQL connections keep
their prepared statements across read-only transactions (:mod:`.postgres`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from truthset.core.errors import ConfigError, MissingDependency
from truthset.store.locks import serialise_writers


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so a
        # whole import is one transaction (see the SQLAlchemy SQLite dialect notes).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # 64 MiB page cache (the default is 2 MiB): index updates of a large import stay in
        # memory; the temporary staging table lives in memory too.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return on_connect


def make_engine(url: str, *, busy_timeout_ms: int = 30000) -> Engine:
    """Create an engine for ``url`` with truthset's connection settings."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        engine = create_engine(url, future=True)
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            f"the database URL {url.split('@')[-1]!r} needs a driver that is not installed "
            f"({exc.name}); for PostgreSQL run: pip install 'truthset[postgres]'"
        ) from exc
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise ConfigError(f"TRUTHSET_DATABASE_URL {url!r} is not a valid database URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))

        serialise_writers(engine, busy_timeout_ms)
    elif engine.dialect.driver == "psycopg":
        from truthset.store.postgres import commit_read_only_transactions

        commit_read_only_transactions(engine)
    return engine
