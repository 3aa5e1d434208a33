"""Engines and migrations.

SQLite by default (WAL journal, one writer, a busy timeout so a second writer waits instead
of failing with "database is locked"), PostgreSQL through ``TRUTHSET_DATABASE_URL`` with the
same models. Alembic migrations are applied when a store is opened, so an older project
folder upgrades itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from truthset.core.errors import ConfigError, MissingDependency

MIGRATIONS = Path(__file__).parent / "migrations"


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
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
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

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # BEGIN IMMEDIATE takes the write lock up front: a writer waits (busy_timeout)
            # rather than failing half-way with "database is locked".
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _alembic_config(connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None  # the package ships at least one migration
    return head


def upgrade(engine: Engine) -> None:
    """Bring the database schema to the newest migration (no-op when already there)."""
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ConfigError(f"cannot open the database: {exc.orig}") from exc
    if current == head_revision():
        return
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
