"""PostgreSQL specifics: keeping prepared statements, and the server's asynchronous engine.

Every statement on PostgreSQL is a network round trip. The server used to run the queue's
transactions on a few threads; each round trip then handed the GIL back and forth with the
event loop, and the transactions spent most of their time "idle in transaction", waiting for
Python rather than for PostgreSQL. :func:`make_async_engine` gives the server an engine over
psycopg's asynchronous connections instead: the queue's (synchronous) code runs in SQLAlchemy's
greenlet bridge on the event loop, and each round trip is an await. Its connections run in
autocommit, so the usual annotation, one statement, costs one round trip rather than three
(BEGIN, the statement, COMMIT); :func:`transaction` makes several statements one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.util.concurrency import await_, in_greenlet

if TYPE_CHECKING:
    # imported where used: SQLAlchemy's asyncio package needs greenlet, which only the
    # [postgres] extra installs; a plain install serving SQLite must never import it
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


def commit_read_only_transactions(engine: Engine) -> None:
    """End a transaction that wrote nothing with COMMIT instead of ROLLBACK (psycopg engines).

    psycopg forgets every statement it prepared on a connection when that connection rolls
    back (``DEALLOCATE ALL``: a statement prepared inside a failed transaction may not exist).
    SQLAlchemy rolls back every connection that only read (``engine.connect()``), so each
    account look-up or page view wiped the prepared statements from a pooled connection, and
    PostgreSQL planned them again: about 1,200 of 2,700 queue statements under 50 annotators,
    0.3-0.4 ms of planning each, measured while the queue still shared this engine's pool. The
    server's queue now has an engine of its own (:func:`make_async_engine`); this keeps the
    statements of everything else on the synchronous engine. A transaction without a transaction id
    wrote nothing and locked no row, so COMMIT ends it exactly as ROLLBACK would (same round
    trips: the check replaces the DEALLOCATE). Anything else (writes, row locks, a failed
    transaction, an error while checking) is rolled back as before.
    """
    from psycopg.pq import TransactionStatus

    plain = engine.dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        conn = getattr(dbapi_connection, "driver_connection", None) or dbapi_connection
        try:
            if (
                conn.info.transaction_status == TransactionStatus.INTRANS
                and conn.execute("SELECT txid_current_if_assigned() IS NULL").fetchone()[0]
            ):
                conn.commit()
                return
        except Exception:  # noqa: BLE001 - whatever went wrong, the plain rollback follows
            log.debug("read-only check before rollback failed", exc_info=True)
        plain(dbapi_connection)

    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def make_async_engine(engine: Engine, connections: int) -> AsyncEngine:
    """An asynchronous engine on ``engine``'s database, with at most ``connections`` connections.

    For the server's queue and account look-ups only. Its connections run in autocommit: each
    statement is a transaction of its own, with no BEGIN and COMMIT round trips around it, and
    psycopg rolls back (forgetting its prepared statements) only when a :func:`transaction`
    fails, as a refused submission does, not after every read. Work of several statements
    that must be atomic runs inside :func:`transaction`. A request that finds all connections
    busy awaits one: ``connections`` bounds how many run on PostgreSQL at once.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(engine.url, pool_size=connections, max_overflow=0, isolation_level=AUTOCOMMIT)


AUTOCOMMIT = "AUTOCOMMIT"


def autocommits(conn: Connection) -> bool:
    """Whether each statement on ``conn`` commits by itself (see :func:`make_async_engine`)."""
    if conn.dialect.name != "postgresql":
        return False
    return getattr(conn.connection.dbapi_connection, "autocommit", False) is True


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """One real transaction (BEGIN ... COMMIT, or ROLLBACK on error) on an autocommit connection.

    The connection goes back to autocommit afterwards. Switching costs no round trip: psycopg
    only notes the mode, and sends BEGIN with the first statement.
    """
    conn.rollback()  # SQLAlchemy's record of the autocommitted statements; psycopg sends nothing when idle
    conn.execution_options(isolation_level=conn.default_isolation_level)
    try:
        with conn.begin():
            yield conn
    except BaseException:
        # the error that ended the transaction is the one to report; should the connection be
        # gone too, the pool puts it back in autocommit (or drops it) when it is returned
        try:
            conn.execution_options(isolation_level=AUTOCOMMIT)
        except Exception:  # noqa: BLE001
            log.debug("could not put the connection back in autocommit", exc_info=True)
        raise
    conn.execution_options(isolation_level=AUTOCOMMIT)


def pause(seconds: float) -> None:
    """Sleep without blocking the event loop when called from a queue transaction on it."""
    if in_greenlet():
        await_(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)
