"""Migration 0015: issues a skip raised before the tracker are marked as skips, the analysts'
views exist, and they never stand in the way of a later migration rebuilding a table."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from truthset.store.engine import make_engine, sqlite_url
from truthset.store.migrate import _alembic_config, upgrade
from truthset.store.views import VIEWS


def _url(tmp_path: Path, backend_name: str, request: pytest.FixtureRequest) -> str:
    if backend_name == "sqlite":
        return sqlite_url(tmp_path / "m.db")
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    request.getfixturevalue("pg_url")  # skips (or fails in CI) when PostgreSQL is not there
    name = f"truthset_m_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    request.addfinalizer(drop)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_0015_marks_old_skips_and_creates_the_views(
    tmp_path: Path, backend_name: str, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(_url(tmp_path, backend_name, request))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0011")
        pid = conn.execute(
            text(
                "INSERT INTO projects (name, task, config, schema_version, created_at) "
                "VALUES ('m', 'text-classification', '{}', 1, CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar()
        for kind in ("skip:ambiguous", "guideline_gap"):
            conn.execute(
                text(
                    "INSERT INTO data_issues (project_id, kind, title, items, severity, status, history, "
                    "is_auto, created_at) VALUES (:p, :k, 't', '[]', 'medium', 'open', '[]', :a, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"p": pid, "k": kind, "a": kind.startswith("skip")},
            )
    upgrade(engine)
    with engine.begin() as conn:
        got: dict[str, str] = dict(conn.execute(text("SELECT kind, source FROM v_issues ORDER BY id")).all())
        assert got == {"skip:ambiguous": "skip", "guideline_gap": "manual"}
        for view in VIEWS:
            conn.execute(text(f"SELECT * FROM {view}")).all()
        # a later migration rebuilding a table the views read: upgrade drops and re-creates them
        command.downgrade(_alembic_config(conn), "0011")
        names = conn.execute(text("SELECT count(*) FROM data_issues")).scalar()
        assert names == 2
    upgrade(engine)  # from 0011 again: the batch rebuild of data_issues passes with no view in the way
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM v_issues")).scalar() == 2
    engine.dispose()


def test_views_are_recreated_around_pending_migrations(tmp_path: Path) -> None:
    """A view naming a table that a migration rebuilds would stop SQLite's rename: stale views
    present before 0015 rebuilds data_issues do not stop it, and come back as truthset defines them."""
    from truthset.store.views import create_views

    engine = make_engine(sqlite_url(tmp_path / "v.db"))
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0011")
    with engine.begin() as conn:  # views over the 0011 tables that 0015 rebuilds (data_issues)
        conn.exec_driver_sql("CREATE VIEW v_issues AS SELECT id, kind FROM data_issues")
        conn.exec_driver_sql("CREATE VIEW v_items AS SELECT id FROM items")
    upgrade(engine)
    with engine.begin() as conn:
        cols = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(v_issues)").all()]
        assert "source" in cols  # re-created from truthset.store.views, not the stale one
        create_views(conn)  # idempotent
    engine.dispose()
