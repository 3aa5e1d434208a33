"""Migration 0010 on a store made before it: gold flags move from meta to a column, on both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from tests.conftest import PG_ADMIN_URL
from truthset.store.engine import make_engine, sqlite_url
from truthset.store.migrate import _alembic_config, head_revision, upgrade


@pytest.fixture
def engine(backend: str, tmp_path: Path, pg_url: str) -> Iterator[Engine]:
    """An empty store of its own (PostgreSQL: a fresh database beside the session's)."""
    if backend == "sqlite":
        eng = make_engine(sqlite_url(tmp_path / "old.db"))
        yield eng
        eng.dispose()
        return
    import psycopg

    name = f"truthset_mig_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    eng = make_engine(pg_url.rsplit("/", 1)[0] + "/" + name)
    try:
        yield eng
    finally:
        eng.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_ground_truth_annotations_are_flagged_and_media_is_empty(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0008")
        conn.execute(
            text(
                "INSERT INTO projects (id, name, task, config, schema_version, created_at) "
                "VALUES (1, 'old', 'text-classification', '{}', 1, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text("INSERT INTO users (id, name, role, created_at) VALUES (1, 'u', 'annotator', CURRENT_TIMESTAMP)")
        )
        conn.execute(
            text(
                "INSERT INTO items (id, project_id, content_hash, payload, created_at) "
                "VALUES (1, 1, 'abababababababababababababababababababababababababababababababab', '{}', CURRENT_TIMESTAMP)"
            )
        )
        for i, meta in enumerate(
            ['{"ground_truth":true,"ls_id":4}', '{"ls_id":5}', '{"ground_truth": true}', '{"ground_truth":false}'],
            start=1,
        ):
            conn.execute(
                text(
                    "INSERT INTO annotations (id, project_id, item_id, user_id, value, schema_version, "
                    "source, meta, created_at) VALUES (:i, 1, 1, 1, '\"a\"', 1, 'import', :m, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"i": i, "m": meta},
            )
    upgrade(engine)
    with engine.connect() as conn:
        flags = conn.execute(text("SELECT id, ground_truth FROM annotations ORDER BY id")).all()
        assert [(i, bool(g)) for i, g in flags] == [(1, True), (2, False), (3, True), (4, False)]
        assert conn.execute(text("SELECT COUNT(*) FROM media")).scalar() == 0
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
