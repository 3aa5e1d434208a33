"""The store: a project's database, and the one way to run work in a transaction on it.

Every service reads and writes through a :class:`Store`: ``with store.read() as tx`` for
reads (on SQLite a deferred BEGIN that never waits for the writer), ``with store.write() as
tx`` for a write transaction (on SQLite one writer at a time, :mod:`.locks`), and the repository
functions of ``store/`` do the SQL on ``tx``. Nothing above the store opens a connection,
builds SQL, or sees a driver's lock signals.

A server adds a third way, :meth:`Store.serve`, for its hot path (the annotation queue): the
work runs on the event loop when it can. On SQLite a queue transaction takes about a
millisecond and never waits on the network, so it runs inline when the write lock is free
(``NO_WAIT``); if another thread or process holds it, the request looks again every few
milliseconds for up to ``INLINE_PATIENCE``, then hands the same call to a thread, which waits.
On PostgreSQL every statement is a network round trip: the work runs over psycopg's
asynchronous connections in SQLAlchemy's greenlet bridge, each round trip an await, at most
``threads`` at once, on connections in autocommit (the queue makes its own transactions where it
needs them, and its usual request is one statement). Measured (issue 4): SQLite 356 → 453
annotations/s saturating with the inline path; PostgreSQL 1.8 → 0.8 ms of server CPU per
annotation with the asynchronous one.

One database may hold several projects (every table carries ``project_id``): a Store is not a
project, and several open projects can share one.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError

from truthset.core.errors import StoreBusy, StoreUnavailable, Unstorable
from truthset.store.checkpoint import Checkpointer
from truthset.store.engine import make_engine
from truthset.store.locks import NO_WAIT, READ_ONLY, WouldWait
from truthset.store.migrate import upgrade

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncEngine

    #: a row as repository functions return it: columns by name (``row.id``), of any number and
    #: type (spelt for SQLAlchemy 2.1's variadic ``Row``; a type only, never evaluated)
    Record: TypeAlias = Row[*tuple[Any, ...]]

T = TypeVar("T")
#: a transaction on the store, as ``Store.read``/``write`` give it to repository functions
Transaction = Connection
#: how long (s) a served request keeps trying SQLite's write lock from the event loop before it
#: waits for it on a thread
INLINE_PATIENCE = 0.25


class Store:
    """A database holding one or more projects; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._serving: _Serving | None = None

    @classmethod
    def open(cls, url: str, *, busy_timeout_ms: int = 30000) -> Store:
        """Connect to ``url`` and apply pending migrations."""
        store = cls(make_engine(url, busy_timeout_ms=busy_timeout_ms))
        upgrade(store._engine)
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self._engine.dialect.name)

    @property
    def location(self) -> str:
        """Where the data lives, without credentials (for messages and ``doctor``)."""
        url = self._engine.url
        return str(url.database) if self.dialect == "sqlite" else f"{url.host or ''}/{url.database or ''}"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it neither takes nor waits for the write lock."""
        with _translated(), self._engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back on an error)."""
        with _translated(), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection whose transactions the caller's store function manages itself (a bulk
        import committing once at its end, ANALYZE after it). For the store's own modules."""
        with self._engine.connect() as conn:
            yield conn

    def files(self) -> tuple[str, ...]:
        """The database's own files (SQLite: the file, its WAL and shared memory; none on a
        server database): never to be read or served as anything else."""
        url = self._engine.url
        if self.dialect != "sqlite" or not url.database or url.database == ":memory:":
            return ()
        db = str(url.database)
        return (db, *(db + end for end in ("-wal", "-shm", "-journal", "-writer.lock")))

    def analyze(self) -> None:
        """Refresh the query planner's statistics after a bulk change, so the first queries
        after an import do not plan as if the tables were empty."""
        with self._engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=400")  # samples: milliseconds at any size
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE items")
                conn.exec_driver_sql("ANALYZE annotations")
            conn.commit()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for the store's own modules and tests of the store."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ serving
    def start_serving(self, threads: int = 0) -> None:
        """Prepare the hot path for a server process: the asynchronous engine (PostgreSQL) and
        the thread pool (both make their connections and threads lazily). ``threads``: how many
        transactions run at once (0: one on SQLite, four on PostgreSQL)."""
        if self._serving is None:
            self._serving = _Serving(self, threads)

    def start_checkpoints(self) -> None:
        """While a server runs: SQLite's WAL checkpoints on a thread of their own (:mod:`.checkpoint`)."""
        if self._serving is None:
            self.start_serving()
        assert self._serving is not None
        self._serving.checkpointer.start()

    @property
    def serving_threads(self) -> ThreadPoolExecutor | None:
        """The thread pool a served request waits on (SQLite, when the write lock is taken)."""
        return None if self._serving is None else self._serving.executor

    @property
    def serves_on_event_loop(self) -> str | None:
        """How served work runs: ``inline`` (SQLite), ``async`` (PostgreSQL), or None (not serving)."""
        if self._serving is None:
            return None
        return "async" if self._serving.async_engine is not None else ("inline" if self._serving.inline else "threads")

    async def stop_serving(self) -> None:
        if self._serving is not None:
            serving, self._serving = self._serving, None
            await serving.stop()

    async def serve(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, conn=..., **kwargs)`` for a server request; its exceptions propagate.

        SQLite: ``fn`` makes its own transaction (``conn=None``) and must be safe to repeat:
        under ``NO_WAIT`` it may be stopped at its first write and run again on a thread.
        PostgreSQL: ``conn`` autocommits, and ``fn`` makes its own transactions on it
        (:func:`truthset.store.postgres.transaction`).
        """
        serving = self._serving
        with _translated():
            if serving is None:  # not a server (tests, scripts): a plain call
                return fn(*args, conn=None, **kwargs)
            return await serving.run(fn, args, kwargs)

    async def read_served(self, fn: Callable[[Connection, Any], T], key: Any) -> T:
        """``fn(conn, key)`` in a read for a server request (an account look-up): on PostgreSQL
        an await on the asynchronous connections (one round trip in autocommit), on SQLite
        inline (a WAL read never waits for the writer), on another driver on a thread."""
        serving = self._serving
        if serving is not None and serving.async_engine is not None:
            async with serving.async_engine.connect() as aconn:
                return await aconn.run_sync(fn, key)
        if self.dialect == "sqlite" or serving is None:
            with self.read() as conn:
                return fn(conn, key)

        def read() -> T:
            with self.read() as conn:
                return fn(conn, key)

        return await asyncio.get_running_loop().run_in_executor(serving.executor, read)


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors that say something about the request, as truthset's errors: a value the
    store cannot hold (422, the boundary's checks should have named the field) and a writer
    that held SQLite's lock past the busy timeout (503, try again)."""
    try:
        yield
    except DataError as exc:
        raise Unstorable(
            "a value cannot be stored (an id out of range, or a character such as NUL in a "
            "text); check the ids and texts sent"
        ) from exc
    except OperationalError as exc:
        if "database is locked" in str(exc.orig):
            raise StoreBusy(
                "the store was busy with another writer (an import?) for the whole busy timeout; try again shortly"
            ) from exc
        raise StoreUnavailable(
            f"the database refused the operation: {exc.orig}. Check TRUTHSET_DATABASE_URL "
            "and that the database server is running."
        ) from exc


class _Serving:
    """The serving state of a Store: checkpointer, asynchronous engine, thread pool."""

    def __init__(self, store: Store, threads: int) -> None:
        self.store = store
        engine = store.engine
        self.threads = threads if threads > 0 else (1 if store.dialect == "sqlite" else 4)
        self.inline = store.dialect == "sqlite"
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="truthset-db")
        self.async_engine: AsyncEngine | None = None
        if engine.dialect.driver == "psycopg":
            from truthset.store.postgres import make_async_engine

            self.async_engine = make_async_engine(engine, self.threads)
        self.checkpointer = Checkpointer(engine)

    async def run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        if self.async_engine is not None:
            # an autocommit connection: fn runs its own transaction on it (store.postgres.transaction)
            async with self.async_engine.connect() as aconn:
                return await aconn.run_sync(lambda conn: fn(*args, conn=conn, **kwargs))
        loop = asyncio.get_running_loop()
        if self.inline:
            # The lock is mostly taken only for a moment (the checkpointer's RESTART, another
            # worker's transaction): look again shortly, letting other requests run meanwhile.
            # Handing every such call to the thread instead made a convoy: while the thread
            # worked, the loop found the lock taken and handed it the next call too.
            deadline, pause = loop.time() + INLINE_PATIENCE, 0.0005
            while True:
                token = NO_WAIT.set(True)
                try:
                    return fn(*args, conn=None, **kwargs)
                except WouldWait:
                    pass  # the lock was taken: nothing was done
                finally:
                    NO_WAIT.reset(token)
                if loop.time() >= deadline:
                    break  # a long writer (an import?): wait for it on a thread
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.004)
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, conn=None, **kwargs))

    async def stop(self) -> None:
        self.executor.shutdown(wait=True)
        if self.async_engine is not None:
            await self.async_engine.dispose()
        self.checkpointer.stop()
