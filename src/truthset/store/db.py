"""Engines and migrations.

SQLite by default (WAL journal, one writer, a busy timeout so a second writer waits instead
of failing with "database is locked"), PostgreSQL through ``TRUTHSET_DATABASE_URL`` with the
same models.

On SQLite, writers of one process queue on a Python lock per database file before they
``BEGIN IMMEDIATE`` (datasette's single-writer idea): SQLite's own busy handler polls with
sleeps of 1 to 100 ms, so with many threads a waiting writer would sleep long after the lock
was free, and the order would be unfair. Between processes (server workers, a CLI import)
the writer then takes an advisory ``flock`` on ``<database>-writer.lock``, polled every 0.2
to 2 ms, before SQLite's own lock, whose busy timeout stays as the last arbiter.
Read-only work opens its connection with :func:`read_connection`: a deferred ``BEGIN``, which
in WAL mode never waits for a writer. Alembic migrations are applied when a store is opened, so an older project
folder upgrades itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from truthset.core.errors import ConfigError, MissingDependency, TruthsetError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
#: execution option of a connection that only reads (SQLite: a deferred BEGIN, no write lock)
READ_ONLY = "truthset_read_only"

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


class StoreBusy(TruthsetError, TimeoutError):
    """The store stayed locked by another writer for the whole busy timeout."""

    status = 503


class WouldWait(StoreBusy):
    """A writer under :data:`NO_WAIT` found the write lock taken; nothing was done yet."""


#: Set by a caller that must not wait for SQLite's write lock (the server's event loop): its
#: write transaction then either gets both locks at once or raises :class:`WouldWait` before
#: any statement ran, so the caller can hand the same work to a thread that may wait.
NO_WAIT: ContextVar[bool] = ContextVar("truthset_no_wait", default=False)


def read_connection(engine: Engine) -> Connection:
    """A connection for reads only: on SQLite it neither takes nor waits for the write lock."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def _write_lock(database: str | None) -> threading.Lock:
    key = str(Path(database).resolve()) if database and database != ":memory:" else f"memory:{id(object())}"
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


class _FileLock:
    """An exclusive ``flock`` on a file beside the database, shared by every process that writes.

    Held only by the thread that holds the process's writer lock, so one file descriptor per
    process serves all its threads (reopened after a fork). Polled, since a blocking ``flock``
    cannot time out: 0.2 ms at first (a queue transaction takes about a millisecond), then
    up to 2 ms between tries.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fd: int | None = None
        self.pid = 0

    def acquire(self, timeout: float) -> bool:
        if self.path is None:
            return True
        if self.fd is None or self.pid != os.getpid():
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        deadline, delay = time.monotonic() + timeout, 0.0002
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 1.5, 0.002)

    def release(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            fcntl.flock(self.fd, fcntl.LOCK_UN)


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

        _serialise_writers(engine, busy_timeout_ms)
    elif engine.dialect.driver == "psycopg":
        from truthset.store.postgres import commit_read_only_transactions

        commit_read_only_transactions(engine)
    return engine


class _WriterLocks:
    """A SQLite engine's two writer locks, always taken in this order and released together:
    the process's lock (its threads queue on it), then the file lock shared with other processes."""

    def __init__(self, database: str | None) -> None:
        self.lock = _write_lock(database)
        self.file_lock = _FileLock(f"{database}-writer.lock" if database and database != ":memory:" else None)

    def acquire(self, timeout: float) -> str | None:
        """Both within ``timeout`` seconds (0: only if free now): None, or who held the one not had."""
        started = time.monotonic()
        if not self.lock.acquire(timeout=timeout):
            return "another writer of this process"
        try:
            got_file = self.file_lock.acquire(max(0.0, timeout - (time.monotonic() - started)))
        except BaseException:  # e.g. the lock file cannot be opened: never keep the process's lock
            self.lock.release()
            raise
        if not got_file:
            self.lock.release()
            return "another process"
        return None

    def release(self) -> None:
        self.file_lock.release()
        self.lock.release()


#: each SQLite engine's writer locks
_engine_locks: weakref.WeakKeyDictionary[Engine, _WriterLocks] = weakref.WeakKeyDictionary()


@contextmanager
def writers_paused(engine: Engine, timeout: float) -> Iterator[bool]:
    """Hold ``engine``'s writer locks, as a writer would, without a transaction.

    Yields False (holding nothing) if they could not be had within ``timeout`` seconds.
    """
    locks = _engine_locks[engine]
    if locks.acquire(timeout) is not None:
        yield False
        return
    try:
        yield True
    finally:
        locks.release()


def _serialise_writers(engine: Engine, busy_timeout_ms: int) -> None:
    locks = _engine_locks[engine] = _WriterLocks(engine.url.database)
    # the lock is exclusive, so one holder at most: ids of its Connection and DBAPI connection
    holder: dict[str, int | None] = {"conn": None, "dbapi": None}

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        no_wait = NO_WAIT.get()
        busy_by = locks.acquire(0.0 if no_wait else busy_timeout_ms / 1000)
        if busy_by is not None:
            if no_wait:
                raise WouldWait(f"{busy_by} holds the write lock")
            raise StoreBusy(f"the store was busy with other writes for {busy_timeout_ms / 1000:g} s "
                            "(sqlite_busy_timeout_ms); try again, or use PostgreSQL for heavy concurrent use")
        dbapi = conn.connection.dbapi_connection
        holder.update(conn=id(conn), dbapi=id(dbapi))
        try:
            if no_wait:
                # a writer that ignores the file lock (the sqlite3 shell, an older truthset)
                # must not hold up the event loop for the busy timeout: give up at once
                dbapi.execute("PRAGMA busy_timeout=0")
            try:
                # BEGIN IMMEDIATE takes the write lock up front: a writer waits (busy_timeout)
                # rather than failing half-way with "database is locked".
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                if no_wait:
                    dbapi.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        except OperationalError as exc:
            _release()
            if no_wait and ("locked" in str(exc.orig) or "busy" in str(exc.orig)):
                raise WouldWait("the database is locked by a writer outside truthset's locks") from exc
            raise
        except BaseException:
            _release()
            raise

    def _release() -> None:
        # idempotent: a failed BEGIN is rolled back by SQLAlchemy (the rollback event releases)
        # and then handled here too; a second release must not raise over the real error
        if holder["conn"] is None:
            return
        holder.update(conn=None, dbapi=None)
        locks.release()

    def _end(conn: Connection, finish: str) -> None:
        if holder["conn"] != id(conn):
            return
        try:
            if not conn.invalidated:
                # End the transaction here, before the lock is passed on, so the next
                # writer's BEGIN IMMEDIATE does not find it still held; SQLAlchemy's own
                # COMMIT/ROLLBACK right after is a no-op (sqlite3 skips it outside a transaction).
                getattr(conn.connection.dbapi_connection, finish)()
        except Exception:
            if finish == "commit":
                raise
            # a failed rollback is reported by SQLAlchemy's own ROLLBACK right after this
        finally:
            _release()

    def _checkin(dbapi: Any, _record: Any) -> None:
        # a connection dropped without commit or rollback (garbage-collected) must not keep
        # the lock; the pool has rolled it back already
        if holder["dbapi"] == id(dbapi):
            _release()

    event.listen(engine, "commit", lambda conn: _end(conn, "commit"))
    event.listen(engine, "rollback", lambda conn: _end(conn, "rollback"))
    event.listen(engine.pool, "checkin", _checkin)


class Checkpointer:
    """Moves SQLite's WAL checkpoints off the writers, onto a thread of their own.

    By default the commit that fills the WAL past 1000 pages copies them into the database
    and syncs it, inside the request that happened to commit: with 50 annotators that was a
    pause every fraction of a second, and the p99 of the queue was those pauses (209 ms at
    250 annotations/s offered, 41 ms without them). A long-running server turns automatic
    checkpoints off on its connections; this thread runs a PASSIVE checkpoint (never blocks
    anyone) every ``interval`` seconds. Under steady writes a PASSIVE one never catches up
    with the end of the WAL, and only a caught-up WAL starts again from its beginning: left
    so, it grew by 1.1 GB in 20 s and a restart after a crash read all of it (7 s). So once
    the WAL holds ``restart_frames`` pages the thread pauses the writers (taking their
    locks, so a waiting writer waits on a thread, not on the event loop) for a RESTART
    checkpoint, which has only what came since the PASSIVE one left to copy. CLI processes
    keep SQLite's default.
    """

    def __init__(self, engine: Engine, interval: float = 0.5, restart_frames: int = 4096) -> None:
        self.engine, self.interval, self.restart_frames = engine, interval, restart_frames
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.checkpoints = 0
        self.restarts = 0
        self._listener: Any = None

    def start(self) -> None:
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return

        def no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        self._listener = no_autocheckpoint
        event.listen(self.engine, "connect", no_autocheckpoint)
        self.engine.dispose()  # connections opened before this keep the default: open new ones
        self.thread = threading.Thread(target=self._run, name="truthset-checkpoint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import sqlite3

        conn = sqlite3.connect(str(self.engine.url.database), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=2000")  # a RESTART waits this long for readers to move on
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self._checkpoint(conn)
                except sqlite3.Error:
                    continue  # busy with another checkpoint: the next round will do it
                except Exception:  # never die quietly: the WAL would grow for as long as the server runs
                    log.exception("WAL checkpoint failed; trying again in %s s", self.interval)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: Any) -> None:
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if frames >= self.restart_frames:
            # a second PASSIVE round copies what came during the first (and syncs), so the
            # RESTART, which pauses the writers, has only milliseconds of WAL left to copy
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            with writers_paused(self.engine, timeout=5.0) as paused:
                if paused:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    self.restarts += 1

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            event.remove(self.engine, "connect", self._listener)  # connections opened from now on checkpoint again


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
