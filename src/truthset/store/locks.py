"""SQLite's writers, one at a time: a lock per process, a file lock between processes.

Writers of one process queue on a Python lock per database file before they ``BEGIN
IMMEDIATE`` (datasette's single-writer idea): SQLite's own busy handler polls with sleeps of 1
to 100 ms, so with many threads a waiting writer would sleep long after the lock was free, and
the order would be unfair. Between processes (server workers, a CLI import) the writer then
takes an advisory ``flock`` on ``<database>-writer.lock``, polled every 0.2 to 2 ms, before
SQLite's own lock, whose busy timeout stays as the last arbiter. Read-only work opens its
connection with the :data:`READ_ONLY` option: a deferred ``BEGIN``, which in WAL mode never
waits for a writer.

A caller that must not wait (the server's event loop) sets :data:`NO_WAIT`: its write
transaction then either gets both locks at once or raises :class:`WouldWait` before any
statement ran. Only :class:`truthset.store.store.Store` uses it; nothing above the store sees it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from truthset.core.errors import StoreBusy

#: execution option of a connection that only reads (SQLite: a deferred BEGIN, no write lock)
READ_ONLY = "truthset_read_only"

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


class WouldWait(StoreBusy):
    """A writer under :data:`NO_WAIT` found the write lock taken; nothing was done yet."""


#: Set by a caller that must not wait for SQLite's write lock (the server's event loop): its
#: write transaction then either gets both locks at once or raises :class:`WouldWait` before
#: any statement ran, so the caller can hand the same work to a thread that may wait.
NO_WAIT: ContextVar[bool] = ContextVar("truthset_no_wait", default=False)


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


def serialise_writers(engine: Engine, busy_timeout_ms: int) -> None:
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
            raise StoreBusy(
                f"the store was busy with other writes for {busy_timeout_ms / 1000:g} s "
                "(sqlite_busy_timeout_ms); try again, or use PostgreSQL for heavy concurrent use"
            )
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # a connection in a transaction has its driver connection
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
