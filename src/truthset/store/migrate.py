"""Alembic migrations, applied when a store is opened, so an older project folder upgrades itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from truthset.core.errors import ConfigError
from truthset.store.views import create_views, drop_views

MIGRATIONS = Path(__file__).parent / "migrations"


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
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            _upgrade_around_views(conn)
        return
    # SQLite: a batch migration rebuilds a table (copy, drop the old, rename the copy). Dropping a
    # table that other rows reference fails with foreign keys on, and the pragma is a no-op inside
    # a transaction; so, as SQLite's documentation prescribes for such changes, the connection
    # turns them off before the transaction, checks every reference before committing, and turns
    # them on again.
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                _upgrade_around_views(conn)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise ConfigError(
                        f"a migration left {len(broken)} broken reference(s) (e.g. {broken[0]}); "
                        "nothing was changed. Report this with the migration's name."
                    )
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def _upgrade_around_views(conn: Any) -> None:
    """Run the pending migrations with the analysts' views dropped, then create them again:
    a view pins the tables it reads (:mod:`truthset.store.views`), so a later migration that
    rebuilds or alters one of them never trips over it."""
    drop_views(conn)
    command.upgrade(_alembic_config(conn), "head")
    create_views(conn)
