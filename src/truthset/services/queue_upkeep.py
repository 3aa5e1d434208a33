"""The annotation queue's periodic work: expired leases, due batches, re-annotations, statistics.

Each is done at most once per interval per process, by whichever request finds it due, in
that request's transaction (``services.queue``): a lease lasts minutes and a batch's due date
is a day, so looking on every request would cost a statement each for nothing.
``project.runtime`` keeps when each is next due; popping a key makes it due at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, update
from sqlalchemy.exc import SQLAlchemyError

from truthset.services import batches
from truthset.services.projects import Project
from truthset.store import queue_sql as sql
from truthset.store.models import Assignment

log = logging.getLogger(__name__)
STAGE = sql.STAGE
#: expired leases are looked for at most this often per process (leases last minutes)
SWEEP_EVERY = timedelta(seconds=1)
#: how often the queue looks for stale planner statistics on PostgreSQL (see sql.STALE_TABLES)
STATS_EVERY = timedelta(seconds=10)
#: each periodic job: its key in ``project.runtime`` (when it is next due) and its interval
PERIODIC = {"lease_sweep_due": SWEEP_EVERY, "stats_due": STATS_EVERY,
            "reannotations_checked_until": SWEEP_EVERY, "due_batches_until": SWEEP_EVERY}


def release_expired(conn: Connection, project_id: int, now: datetime, k: int, *, limit: int = 200) -> int:
    """Expire leases past due and give their slots back (``k``: the overlap); returns how many."""
    stmt = sql.EXPIRED_200 if limit == 200 else sql.EXPIRED.limit(limit)
    rows = conn.execute(stmt, {"b_pid": project_id, "b_now": now}).all()
    for a in rows:
        done = conn.execute(update(Assignment).where(Assignment.id == a.id, Assignment.status == "leased")
                            .values(status="expired")).rowcount
        if not done:
            continue
        if a.reason:  # a claimed re-annotation: offer it to anyone again
            conn.execute(insert(Assignment).values(project_id=project_id, item_id=a.item_id, user_id=None,
                                                   stage=STAGE, status="pending", reason=a.reason, created_at=now))
        elif not a.is_gold:
            conn.execute(sql.GIVE_BACK, {"b_item": a.item_id, "b_k": k})
    return len(rows)


def is_due(project: Project, key: str, now: datetime, every: timedelta) -> bool:
    """Whether the periodic work ``key`` is due at ``now``.

    Due when never done, when ``every`` has passed, or when ``now`` went back (a caller's clock).
    Popping ``key`` from ``project.runtime`` makes it due at once.
    """
    nxt = project.runtime.get(key)
    return nxt is None or not nxt - every <= now < nxt


def due(project: Project, key: str, now: datetime, every: timedelta) -> bool:
    """``is_due``; if it is, the next time is noted (the caller does the work now)."""
    if not is_due(project, key, now, every):
        return False
    project.runtime[key] = now + every
    return True


def due_batches(conn: Connection, project: Project, now: datetime) -> list[int]:
    """Batches with a due date and open items, soonest first; looked up once per ``SWEEP_EVERY``."""
    if due(project, "due_batches_until", now, SWEEP_EVERY) or "due_batches" not in project.runtime:
        project.runtime["due_batches"] = batches.due_batches(conn, project.id)  # set_due pops it
    return list(project.runtime["due_batches"])


def reannotations_pending(conn: Connection, project: Project, now: datetime) -> bool:
    """Whether any item waits for re-annotation; asked once per ``SWEEP_EVERY`` while none does.

    A schema split in this process says so at once (``project.runtime``); one in another
    process is seen within ``SWEEP_EVERY``.
    """
    if not due(project, "reannotations_checked_until", now, SWEEP_EVERY):
        return False
    pending = conn.execute(sql.OPEN_REANNOTATIONS.limit(1), {"b_pid": project.id}).first() is not None
    if pending:
        project.runtime.pop("reannotations_checked_until")  # look every time while there are some
    return pending


def refresh_statistics(conn: Connection, project: Project, now: datetime) -> None:
    """PostgreSQL: ANALYZE the queue's tables that changed a lot, at most every ``STATS_EVERY``."""
    if not due(project, "stats_due", now, STATS_EVERY):
        return
    # in the annotator's transaction, under a savepoint: a failure is logged and costs nothing
    # but stale statistics. (Not on a connection of its own: on the server's event loop that
    # would block every other request for the ANALYZE.) It holds the tables' ANALYZE lock
    # until this transaction commits, a few milliseconds later; about once in ten seconds.
    try:
        with conn.begin_nested():
            stale = [str(t) for t in conn.execute(sql.STALE_TABLES).scalars()]
            for table in stale:
                conn.exec_driver_sql(sql.ANALYZE[table])
    except SQLAlchemyError:
        log.exception("refreshing planner statistics failed; autovacuum will do it later")
        return
    project.runtime["analyzed"] = stale


def sweep(conn: Connection, project: Project, now: datetime) -> None:
    """Release expired leases, at most once per ``SWEEP_EVERY`` of ``now`` per process.

    A lease lasts minutes, so looking every request (one more statement each) buys nothing;
    an expired lease not yet swept is still answerable, and ``sql.HELD`` skips it already.
    """
    if conn.dialect.name == "postgresql":
        refresh_statistics(conn, project, now)
    if due(project, "lease_sweep_due", now, SWEEP_EVERY) and release_expired(
            conn, project.id, now, project.config.queue.overlap):
        project.runtime.pop("reannotations_checked_until", None)  # an expired re-annotation is offered again


def upkeep_due(project: Project, now: datetime) -> bool:
    """Whether any of the queue's periodic work is due (``services.queue._next_in`` does it)."""
    return "due_batches" not in project.runtime or any(is_due(project, key, now, every)
                                                        for key, every in PERIODIC.items())
