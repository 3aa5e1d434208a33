"""Engines and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from truthset.core.errors import ConfigError, MissingDependency, StoreBusy
from truthset.store.engine import make_engine, sqlite_url
from truthset.store.migrate import head_revision, upgrade
from truthset.store.models import Base


def test_sqlite_settings_and_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "x.db"))
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    engine.dispose()


def test_postgres_migrations_match_the_models(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    insp = inspect(engine)
    assert set(insp.get_table_names()) >= set(Base.metadata.tables)
    for table in Base.metadata.tables.values():
        cols = {c["name"] for c in insp.get_columns(table.name)}
        assert cols == {c.name for c in table.columns}, table.name
    with engine.connect() as conn:  # room for HOT updates of the queue's n_open (migration 0005)
        options = conn.exec_driver_sql("SELECT reloptions FROM pg_class WHERE relname = 'items'").scalar()
    assert options is not None and "fillfactor=70" in options
    engine.dispose()


def test_migrations_leave_nothing_to_autogenerate(tmp_path: Path) -> None:
    """The models and the migration scripts describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(sqlite_url(tmp_path / "y.db"))
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


def test_bad_urls_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid database URL"):
        make_engine("nonsense:://x")
    with pytest.raises((MissingDependency, ConfigError)):
        make_engine("mysql+notadriver://u@h/db")
    engine = make_engine(sqlite_url(tmp_path / "missing" / "dir" / "z.db"))
    with pytest.raises(ConfigError, match="cannot open the database"):
        upgrade(engine)


HOLD_WRITE_LOCK = """
import sys, time
from truthset.store.engine import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.mark.parametrize("busy_ms, waits", [(10_000, True), (150, False)])
def test_writers_of_two_processes_queue_on_the_file_lock(tmp_path: Path, busy_ms: int, waits: bool) -> None:
    """A writer in another process holds the lock: ours waits for it (or, past the busy timeout,
    gets StoreBusy), and never sees "database is locked"."""
    url = sqlite_url(tmp_path / "db.sqlite")
    engine = make_engine(url, busy_timeout_ms=busy_ms)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, url, "0.6"], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "holding"
        assert (tmp_path / "db.sqlite-writer.lock").exists()
        t0 = time.monotonic()
        if waits:
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            assert time.monotonic() - t0 > 0.3  # it waited for the other process's commit
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
        else:
            with pytest.raises(StoreBusy, match="busy"), engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            assert time.monotonic() - t0 < 0.5
    finally:
        other.wait(10)
    with engine.begin() as conn:  # the lock was handed back, also after the StoreBusy
        conn.exec_driver_sql("INSERT INTO t VALUES (3)")
    engine.dispose()


HOLD_FILE_LOCK_ONLY = """
import fcntl, sys, time
with open(sys.argv[1], "a+") as fh:
    fcntl.flock(fh, fcntl.LOCK_EX)
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_writer_waits_for_the_file_lock_itself(tmp_path: Path) -> None:
    """Another process holds only the flock beside the database, not SQLite's lock: our writer
    still waits for it (SQLite's busy handler alone would have let it write at once)."""
    url = sqlite_url(tmp_path / "db.sqlite")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    lock = tmp_path / "db.sqlite-writer.lock"
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE_LOCK_ONLY, str(lock), "0.6"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert time.monotonic() - t0 > 0.3
    finally:
        other.wait(10)
    engine.dispose()


def test_no_wait_writers_give_up_at_once_and_touch_nothing(tmp_path: Path) -> None:
    """Under NO_WAIT a writer that finds the lock taken (by another process, or by another
    thread of ours) raises WouldWait before running anything; with the lock free it writes."""
    import threading

    from truthset.store.locks import NO_WAIT, WouldWait

    url = sqlite_url(tmp_path / "db.sqlite")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

    def insert_without_waiting(value: int) -> None:
        token = NO_WAIT.set(True)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"INSERT INTO t VALUES ({value})")
        finally:
            NO_WAIT.reset(token)

    other = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, url, "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        with pytest.raises(WouldWait, match="another process"):
            insert_without_waiting(2)
        assert time.monotonic() - t0 < 0.1
    finally:
        other.wait(10)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (3)")
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    with pytest.raises(WouldWait, match="this process"):
        insert_without_waiting(4)
    release.set()
    thread.join()
    insert_without_waiting(5)
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT x FROM t").scalars()) == [1, 3, 5]
    engine.dispose()


def test_checkpointer_takes_wal_checkpoints_off_the_writers(tmp_path: Path) -> None:
    """With a Checkpointer running, the store's connections never checkpoint on commit; its
    thread copies the WAL into the database, and nothing is left behind when it stops."""
    import sqlite3

    from truthset.store.checkpoint import Checkpointer

    engine = make_engine(sqlite_url(tmp_path / "db.sqlite"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
    checkpointer = Checkpointer(engine, interval=0.05, restart_frames=20)
    checkpointer.start()
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        for i in range(50):
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (?)", (("x" * 4000) + str(i),))
        deadline = time.monotonic() + 5
        while checkpointer.checkpoints < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.checkpoints >= 3
        # the rows (50 x 4 kB) reached the database file itself, not only the WAL
        assert (tmp_path / "db.sqlite").stat().st_size > 150_000
        # past restart_frames the writers were paused for a RESTART, so the WAL starts over
        # instead of growing for as long as writes go on
        assert checkpointer.restarts >= 1
        wal = tmp_path / "db.sqlite-wal"
        high_water = wal.stat().st_size
        for i in range(200):
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (?)", ((str(i) * 1000),))
            time.sleep(0.002)
        assert wal.stat().st_size < high_water + 100_000  # without RESTARTs: about +260 kB
    finally:
        checkpointer.stop()
    engine.dispose()
    raw = sqlite3.connect(tmp_path / "db.sqlite")
    assert raw.execute("SELECT count(*) FROM t").fetchone()[0] == 250
    raw.close()
    memory = Checkpointer(make_engine("sqlite://"))
    memory.start()  # nothing to do for an in-memory store (and for PostgreSQL)
    assert memory.thread is None
    memory.stop()


def test_no_wait_writer_gives_up_on_a_writer_outside_our_locks(tmp_path: Path) -> None:
    """The sqlite3 shell (or an older truthset) takes SQLite's lock without the file lock; an
    event-loop writer must not sit out the busy timeout behind it."""
    import sqlite3

    from truthset.store.locks import NO_WAIT, WouldWait

    engine = make_engine(sqlite_url(tmp_path / "db.sqlite"), busy_timeout_ms=5000)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    outsider = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    token = NO_WAIT.set(True)
    try:
        t0 = time.monotonic()
        with pytest.raises(WouldWait, match="outside"), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert time.monotonic() - t0 < 1.0
    finally:
        NO_WAIT.reset(token)
        outsider.execute("ROLLBACK")
        outsider.close()
    with engine.begin() as conn:  # locks handed back, busy timeout restored
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_migration_0011_keys_existing_items(tmp_path: Path, backend_name: str, request: pytest.FixtureRequest) -> None:
    """Items stored before 0011 get their content_key (as the import computes it), and the
    same content may then be stored twice under two external ids."""
    import hashlib

    from alembic import command
    from sqlalchemy import text

    from truthset.core.keys import key_of_hash
    from truthset.store.migrate import _alembic_config

    if backend_name == "sqlite":
        url = sqlite_url(tmp_path / "m.db")
    else:  # a database of its own: the session's is at the newest revision already
        import uuid

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
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0008")
    hashes = [hashlib.sha256(s.encode()).hexdigest() for s in ("a", "b", "zz")]
    with engine.begin() as conn:
        pid = conn.execute(
            text(
                "INSERT INTO projects (name, task, config, schema_version, created_at) "
                "VALUES ('m', 'text-classification', '{}', 0, CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar()
        for h in hashes:
            conn.execute(
                text(
                    "INSERT INTO items (project_id, content_hash, payload, created_at) "
                    "VALUES (:p, :h, '{}', CURRENT_TIMESTAMP)"
                ),
                {"p": pid, "h": h},
            )
    upgrade(engine)
    with engine.begin() as conn:
        got: dict[str, int] = dict(
            conn.execute(text("SELECT content_hash, content_key FROM items WHERE project_id = :p"), {"p": pid}).all()
        )
        assert got == {h: key_of_hash(h) for h in hashes}
        assert min(got.values()) < 0 < max(got.values())  # both halves of the signed range
        conn.execute(
            text(
                "INSERT INTO items (project_id, external_id, content_hash, content_key, payload, created_at) "
                "VALUES (:p, 'other', :h, :k, '{}', CURRENT_TIMESTAMP)"
            ),
            {"p": pid, "h": hashes[0], "k": key_of_hash(hashes[0])},
        )
    engine.dispose()
