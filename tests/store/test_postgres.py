"""PostgreSQL specifics (store/postgres.py): prepared statements survive read-only work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from truthset.store.engine import make_engine


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    e = make_engine(pg_url)
    with e.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS rollback_probe (id int)")
        conn.exec_driver_sql("TRUNCATE rollback_probe")
    yield e
    with e.begin() as conn:
        conn.exec_driver_sql("DROP TABLE rollback_probe")
    e.dispose()


def _prepared(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one())


def test_a_read_only_connection_keeps_the_prepared_statements(engine: Engine) -> None:
    """psycopg deallocates everything on ROLLBACK; a transaction that only read ends with COMMIT."""
    probe = text("SELECT count(*) FROM rollback_probe WHERE id > :n")
    with engine.connect() as conn:
        for _ in range(6):  # psycopg prepares a statement on its 5th execution
            conn.execute(probe, {"n": 0})
        raw = conn.connection.driver_connection
        assert _prepared(conn) >= 1
    with engine.connect() as conn:  # only reads, then closes: SQLAlchemy rolls back
        assert conn.connection.driver_connection is raw  # the same pooled connection
        conn.execute(probe, {"n": 1})
    with engine.connect() as conn:
        assert conn.connection.driver_connection is raw
        assert _prepared(conn) >= 1


def test_a_transaction_that_wrote_is_still_rolled_back(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO rollback_probe VALUES (1)")
    with engine.connect() as conn:  # closed without commit: the insert is gone
        assert conn.exec_driver_sql("SELECT count(*) FROM rollback_probe").scalar_one() == 0
    with engine.connect() as conn, pytest.raises(Exception, match="nonexistent"):  # a failed one too
        conn.exec_driver_sql("SELECT * FROM nonexistent")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
