"""Where the annotation queue's transactions run.

FastAPI runs plain ``def`` routes in a shared pool of 40 threads. For the queue that is the
wrong shape: on SQLite every transaction takes the one write lock, so 40 threads only queue on
it, and each hand-over also fights the event loop for the GIL (measured with 50 annotators:
201 annotations/s with 40 threads, 299/s with one thread).

* SQLite: a queue transaction takes about a millisecond and never waits on the network, so it
  runs on the event loop itself when the write lock is free (``NO_WAIT``); if another thread
  or process holds it, the request looks again every few milliseconds for up to
  ``INLINE_PATIENCE``, then hands the same call to one queue thread, which waits.
  Measured: 356 → 453 annotations/s saturating, p99 100 → 37 ms at 250/s offered.
* PostgreSQL: every statement is a network round trip. The queue's work runs on the event
  loop too, over psycopg's asynchronous connections (``store.postgres.make_async_engine``): the
  queue's code runs in SQLAlchemy's greenlet bridge, and each round trip awaits while other
  requests are served. At most ``server_db_threads`` (default 4) run at once, one per pooled
  connection. (On four threads instead, the transactions spent most of their time "idle in
  transaction": each round trip's reply waited for the GIL held by the event loop.) The
  connection is in autocommit: the function makes its own transaction where it needs one
  (``store.postgres.transaction``), and the usual submission is one statement.

A function given to :func:`run_db` takes the connection as ``conn=`` (PostgreSQL) and must be
safe to repeat: under ``NO_WAIT`` it may be stopped at its first write and run again on a
thread, and a client may retry a request whose answer it lost.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request

from truthset.services.projects import Project
from truthset.store.db import NO_WAIT, WouldWait

if TYPE_CHECKING:
    # only PostgreSQL's server path uses it (it needs greenlet, from the [postgres] extra)
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
#: how long (s) a request keeps trying the SQLite write lock from the event loop before it
#: waits for it on the queue thread
INLINE_PATIENCE = 0.25


def db_threads(project: Project) -> int:
    """How many queue transactions run at once: the ``server_db_threads`` setting, or by store."""
    configured = int(project.settings.get("server_db_threads") or 0)
    if configured > 0:
        return configured
    return 1 if project.engine.dialect.name == "sqlite" else 4


def make_executor(project: Project) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=db_threads(project), thread_name_prefix="truthset-db")


def runs_inline(project: Project) -> bool:
    """Whether queue transactions may run on the event loop (SQLite, when the lock is free)."""
    return project.engine.dialect.name == "sqlite"


def make_async(project: Project) -> AsyncEngine | None:
    """PostgreSQL (psycopg): the engine the queue's transactions run on; None for other stores."""
    if project.engine.dialect.driver != "psycopg":
        return None
    from truthset.store.postgres import make_async_engine

    return make_async_engine(project.engine, db_threads(project))


async def run_db(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, conn=..., **kwargs)``; its exceptions propagate as raised.

    SQLite: ``fn`` makes one transaction (no ``conn``). PostgreSQL: ``conn`` autocommits, and
    ``fn`` makes its own transactions on it.
    """
    state = request.app.state
    if state.db_async is not None:
        # an autocommit connection: fn runs its own transaction on it (store.postgres.transaction)
        async with state.db_async.connect() as aconn:
            return await aconn.run_sync(lambda conn: fn(*args, conn=conn, **kwargs))
    loop = asyncio.get_running_loop()
    if state.db_inline:
        # The lock is mostly taken only for a moment (the checkpointer's RESTART, another
        # worker's transaction): look again shortly, letting other requests run meanwhile.
        # Handing every such call to the thread instead made a convoy: while the thread
        # worked, the loop found the lock taken and handed it the next call too.
        deadline, pause = loop.time() + INLINE_PATIENCE, 0.0005
        while True:
            token = NO_WAIT.set(True)
            try:
                return fn(*args, **kwargs)
            except WouldWait:
                pass  # the lock was taken: nothing was done
            finally:
                NO_WAIT.reset(token)
            if loop.time() >= deadline:
                break  # a long writer (an import?): wait for it on a thread
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.004)
    return await loop.run_in_executor(state.db_executor, functools.partial(fn, *args, **kwargs))
