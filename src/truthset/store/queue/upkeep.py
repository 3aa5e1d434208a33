"""The queue's periodic work: expired leases, due batches, re-annotations, statistics.

Each is done at most once per interval per process, by whichever request finds it due, in that
request's transaction (:mod:`.general`): a lease lasts minutes and a batch's due date is a
day, so looking on every request would cost a statement each for nothing. :class:`QueueState`
keeps when each is next due.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, func, insert, literal_column, select, update
from sqlalchemy.exc import SQLAlchemyError

from truthset.store.models import Assignment, Batch, Item
from truthset.store.queue import statements as sql
from truthset.store.queue.state import QueuePolicy, QueueState

log = logging.getLogger(__name__)


def release_expired(conn: Connection, project_id: int, now: datetime, k: int, *, limit: int = 200) -> int:
    """Expire leases past due and give their slots back (``k``: the overlap); returns how many."""
    stmt = sql.EXPIRED_200 if limit == 200 else sql.EXPIRED.limit(limit)
    rows = conn.execute(stmt, {"b_pid": project_id, "b_now": now}).all()
    for a in rows:
        done = conn.execute(
            update(Assignment).where(Assignment.id == a.id, Assignment.status == "leased").values(status="expired")
        ).rowcount
        if not done:
            continue
        if a.reason:  # a claimed re-annotation: offer it to anyone again
            conn.execute(
                insert(Assignment).values(
                    project_id=project_id,
                    item_id=a.item_id,
                    user_id=None,
                    stage=sql.STAGE,
                    status="pending",
                    reason=a.reason,
                    created_at=now,
                )
            )
        elif not a.is_gold:
            conn.execute(sql.GIVE_BACK, {"b_item": a.item_id, "b_k": k})
    return len(rows)


def due_batches(conn: Connection, project_id: int) -> list[int]:
    """Ids of the batches with a due date and items still short of annotations, soonest first."""
    open_items = select(Item.id).where(Item.batch_id == Batch.id, Item.full.is_(False)).exists()
    return [
        int(b)
        for b in conn.execute(
            select(Batch.id)
            .where(Batch.project_id == project_id, Batch.due_at.is_not(None), open_items)
            .order_by(Batch.due_at, Batch.id)
        ).scalars()
    ]


def cached_due_batches(conn: Connection, policy: QueuePolicy, state: QueueState, now: datetime) -> list[int]:
    """:func:`due_batches`, looked up once per ``SWEEP_EVERY``."""
    if state.take("due_batches_due", now) or state.due_batches is None:
        state.due_batches = due_batches(conn, policy.project_id)
    return list(state.due_batches)


def reannotations_pending(conn: Connection, policy: QueuePolicy, state: QueueState, now: datetime) -> bool:
    """Whether any item waits for re-annotation; asked once per ``SWEEP_EVERY`` while none does.

    A schema split in this process says so at once (``state.reannotations_changed``); one in
    another process is seen within ``SWEEP_EVERY``.
    """
    if not state.take("reannotations_due", now):
        return False
    pending = conn.execute(sql.OPEN_REANNOTATIONS.limit(1), {"b_pid": policy.project_id}).first() is not None
    if pending:
        state.reannotations_changed()  # look every time while there are some
    return pending


def refresh_statistics(conn: Connection, state: QueueState, now: datetime) -> None:
    """PostgreSQL: ANALYZE the queue's tables that changed a lot, at most every ``STATS_EVERY``."""
    if not state.take("stats_due", now):
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
    state.analyzed = stale


def sweep(conn: Connection, policy: QueuePolicy, state: QueueState, now: datetime) -> None:
    """Release expired leases, at most once per ``SWEEP_EVERY`` of ``now`` per process.

    A lease lasts minutes, so looking every request (one more statement each) buys nothing;
    an expired lease not yet swept is still answerable, and ``statements.HELD`` skips it already.
    """
    if conn.dialect.name == "postgresql":
        refresh_statistics(conn, state, now)
    if state.take("lease_sweep_due", now) and release_expired(conn, policy.project_id, now, policy.overlap):
        state.reannotations_changed()  # an expired re-annotation is offered again


def leased_count(conn: Connection, policy: QueuePolicy, user_id: int) -> int:
    """Regular items leased to or done by ``user_id`` in the annotate stage (for max_per_annotator)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.project_id == policy.project_id,
                Assignment.user_id == user_id,
                sql.in_stage(),
                Assignment.status.in_((literal_column("'leased'"), literal_column("'done'"))),
                Assignment.is_gold.is_(False),
            )
        ).scalar_one()
    )
