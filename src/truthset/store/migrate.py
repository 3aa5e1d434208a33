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
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
