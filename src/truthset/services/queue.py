"""The annotation queue: lease the next item, take a submission, take a skip.

Invariants (tested under concurrency on SQLite and PostgreSQL):

* an item never gets more than ``queue.overlap`` annotate-stage assignments leased or done
  (``items.n_open``, changed only by conditional updates ``... WHERE n_open < k``);
* an annotator is never handed the same item twice (unique (item, user, stage));
* a submission is stored exactly once, however often a client retries it (unique
  ``annotations.assignment_id``);
* an assignment is leased for ``queue.lease_minutes``; an expired lease frees its slot, so a
  closed tab strands nothing and a slow annotator holds only the items they have open.

Hidden gold items are mixed in at ``queue.gold_rate`` (drawn per request from the operating
system's randomness, ``queue_at_once.draws_gold``); they sit outside the overlap count, and
nothing the annotator receives says an item is gold. On PostgreSQL the candidate rows are
taken with ``FOR NO KEY UPDATE SKIP LOCKED`` so concurrent annotators do not wait on each other;
SQLite has one writer (``BEGIN IMMEDIATE`` with a busy timeout). On the server's PostgreSQL
connections (autocommit) the usual submission, and the usual request for the next item, are
one statement each (:mod:`truthset.services.queue_at_once`); every other case takes the
general path here, one transaction of several statements. The periodic work (expired leases,
due batches, statistics) is in :mod:`truthset.services.queue_upkeep`.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.services import queue_at_once as at_once
from truthset.services import queue_upkeep as upkeep
from truthset.services.projects import Project
from truthset.services.queue_at_once import MAX_LEAD_TIME
from truthset.services.queue_upkeep import STATS_EVERY, SWEEP_EVERY, release_expired
from truthset.store import postgres
from truthset.store import queue_sql as sql
from truthset.store.models import Assignment, DataIssue, Gold, Item, utcnow

__all__ = ["MAX_LEAD_TIME", "SKIP_REASONS", "STATS_EVERY", "SWEEP_EVERY", "Task", "next_task", "release_expired",
           "skip", "submit", "submit_and_next"]
SKIP_REASONS = ("ambiguous", "broken data", "guideline gap", "other")
STAGE = sql.STAGE
#: key of ``Connection.info`` where a PostgreSQL lease leaves the task row it fetched
_LEASED_ROWS = "truthset_leased_task_rows"


@dataclass
class Task:
    """What an annotator receives: never whether the item is gold, never others' labels."""

    assignment_id: int
    item_id: int
    payload: dict[str, Any]
    leased_until: datetime
    prelabel: Any = None
    reason: str = ""
    progress: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"assignment_id": self.assignment_id, "item_id": self.item_id, "data": self.payload,
                "leased_until": self.leased_until.isoformat(), "prelabel": self.prelabel,
                "reason": self.reason, "progress": self.progress}


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _lease(conn: Connection, project: Project, user_id: int, item_id: int, now: datetime, *,
           gold: bool = False, reason: str = "") -> int | None:
    """Create the assignment; None if the user already has this item."""
    until = now + timedelta(minutes=project.config.queue.lease_minutes)
    values = {"project_id": project.id, "item_id": item_id, "user_id": user_id, "leased_until": until,
              "is_gold": gold, "reason": reason, "created_at": now}
    if conn.dialect.name == "postgresql":
        row = conn.execute(sql.PG_LEASE_AND_TASK, values).first()
        if row is None:
            return None
        conn.info.setdefault(_LEASED_ROWS, {})[row.id] = row  # _task takes it from here
        return int(row.id)
    got = conn.execute(sql.NEW_ASSIGNMENT, {**values, "stage": STAGE, "status": "leased"}).scalar()
    return None if got is None else int(got)


def _claim_regular(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    """The first item the user may take: from the batches due soonest, then from all."""
    for batch_id in upkeep.due_batches(conn, project, now):
        assignment = _claim_from(conn, project, user_id, now, batch_id)
        if assignment is not None:
            return assignment
    return _claim_from(conn, project, user_id, now, None)


def _claim_from(conn: Connection, project: Project, user_id: int, now: datetime, batch_id: int | None) -> int | None:
    order = project.config.queue.order
    pg = conn.dialect.name == "postgresql"
    in_batch = batch_id is not None
    params = {"b_pid": project.id, "b_uid": user_id, "b_batch": batch_id, "b_k": project.config.queue.overlap}
    for attempt in range(20):
        item_id = conn.execute(sql.claim(order, pg, in_batch), params).scalar()
        if item_id is not None:
            assignment = _lease(conn, project, user_id, item_id, now)
            if assignment is not None:
                return assignment
            # a concurrent request of the same user leased it first: give the slot back, look again
            conn.execute(sql.GIVE_BACK, {"b_item": item_id, "b_k": params["b_k"]})
            continue
        # SKIP LOCKED hides rows other annotators are taking right now: "none free this instant"
        # is not "none left". Look without locking; if work remains, try again shortly.
        if not pg or conn.execute(sql.eligible(order, False, 1, in_batch), params).first() is None:
            return None
        postgres.pause(0.002 * (attempt + 1))
    return None


def _claim_gold(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    gold_item = conn.execute(
        select(Item.id).join(Gold, Gold.item_id == Item.id)
        .where(Item.project_id == project.id, ~sql.seen_by(Item.id, user_id)).order_by(Item.queue_key).limit(1)
    ).scalar()
    return None if gold_item is None else _lease(conn, project, user_id, int(gold_item), now, gold=True)


def _claim_reannotation(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    if not upkeep.reannotations_pending(conn, project, now):
        return None
    rows = conn.execute(sql.OPEN_REANNOTATIONS, {"b_pid": project.id}).all()
    for a in rows:
        assignment = _lease(conn, project, user_id, a.item_id, now, reason=a.reason)
        if assignment is None:
            continue  # this annotator already had the item: leave it for another
        taken = conn.execute(update(Assignment).where(Assignment.id == a.id, Assignment.status == "pending")
                             .values(status="claimed")).rowcount
        if taken:
            return assignment
        conn.execute(update(Assignment).where(Assignment.id == assignment).values(status="void"))
    return None


def _transaction(project: Project, conn: Connection | None) -> Any:
    """A transaction: a new one; on ``conn`` if it autocommits (the server's, on PostgreSQL);
    else ``conn``'s own, which the caller runs."""
    if conn is None:
        return project.engine.begin()
    return postgres.transaction(conn) if postgres.autocommits(conn) else nullcontext(conn)


def next_task(project: Project, user_id: int, *, now: datetime | None = None,
              conn: Connection | None = None) -> Task | None:
    """Lease the next item for ``user_id`` (or return the one they already hold).

    ``conn`` (every function here takes one): run in the caller's transaction on it, or, if it
    autocommits (the server's, on PostgreSQL), in statements and transactions made here; by
    default each call is a transaction of its own.
    """
    now = _now(now)
    gold = at_once.draws_gold(project)
    if conn is not None and postgres.autocommits(conn):
        row = at_once.lease(conn, project, user_id, now, gold=gold)
        if row is not None:
            return _task_from(row)
    with _transaction(project, conn) as tx:
        return _next_in(tx, project, user_id, now, gold=gold)


_UNKNOWN: Any = object()


def _next_in(conn: Connection, project: Project, user_id: int, now: datetime, *, held: Any = _UNKNOWN,
             gold: bool = False) -> Task | None:
    """The user's next task; ``held``: their held lease if the caller already looked (None: none).

    ``gold``: the gold draw came out true (``queue_at_once.draws_gold``), so a new item is a
    hidden gold one while the user has unseen gold items left.
    """
    q = project.config.queue
    conn.info.pop(_LEASED_ROWS, None)  # rows of leases voided since (a re-annotation taken by another)
    upkeep.sweep(conn, project, now)
    if held is _UNKNOWN:
        held = conn.execute(sql.HELD, {"b_pid": project.id, "b_uid": user_id, "b_now": now}).scalar()
    assignment: int | None = int(held) if held is not None else None
    if assignment is None and q.max_per_annotator is not None:
        given = conn.execute(select(func.count()).select_from(Assignment).where(
            Assignment.project_id == project.id, Assignment.user_id == user_id, Assignment.stage == STAGE,
            Assignment.status.in_(("leased", "done")), Assignment.is_gold.is_(False))).scalar_one()
        if given >= q.max_per_annotator:
            return None
    if assignment is None:
        assignment = _claim_reannotation(conn, project, user_id, now)
    if assignment is None and gold:
        assignment = _claim_gold(conn, project, user_id, now)
    if assignment is None:
        assignment = _claim_regular(conn, project, user_id, now)
    if assignment is None:
        return None
    return _task(conn, assignment)


def _task(conn: Connection, assignment_id: int) -> Task:
    a = conn.info.get(_LEASED_ROWS, {}).pop(assignment_id, None) or conn.execute(sql.TASK, {"b_aid": assignment_id}).one()
    return _task_from(a)


def _task_from(a: Any) -> Task:
    """The task of a row with the columns of ``sql.TASK``."""
    payload = json.loads(a.payload)
    payload.pop("_sha256", None)
    return Task(assignment_id=a.id, item_id=a.item_id, payload=payload, leased_until=a.leased_until,
                prelabel=None if a.prelabel is None else json.loads(a.prelabel), reason=a.reason,
                progress={"done": int(a.done)})


def _not_yours(assignment_id: int) -> NotFound:
    return NotFound(f"assignment {assignment_id} is not yours; ask for the next item instead")


def _own(conn: Connection, project: Project, user_id: int, assignment_id: int) -> Any:
    a = conn.execute(select(Assignment).where(Assignment.id == assignment_id, Assignment.project_id == project.id)).first()
    if a is None or a.user_id != user_id:
        raise _not_yours(assignment_id)
    return a


def submit(project: Project, user_id: int, assignment_id: int, value: Any, *, lead_time: float | None = None,
           now: datetime | None = None, conn: Connection | None = None) -> int:
    """Store the annotation for a leased assignment; a retried submit returns the same id."""
    now = _now(now)
    with _transaction(project, conn) as tx:
        return _submit_in(tx, project, user_id, assignment_id, value, lead_time, now)[0]


def submit_and_next(project: Project, user_id: int, assignment_id: int, value: Any, *,
                    lead_time: float | None = None, now: datetime | None = None,
                    conn: Connection | None = None) -> tuple[int, Task | None]:
    """``submit`` then ``next_task``: one request for the client, one transaction for the store.

    (On the server's PostgreSQL connections, when no item is free at that instant, the answer
    is stored by one statement and the next item asked for in a transaction of its own; a
    retry after a failure there still returns the same annotation.) A retried submit returns
    the same annotation id and the task leased by the first attempt; a refused submit (404,
    409, 422) leases nothing.
    """
    now = _now(now)
    gold = at_once.draws_gold(project)
    if conn is not None and postgres.autocommits(conn):
        row = at_once.submit_and_lease(conn, project, user_id, assignment_id, value, lead_time, now, gold=gold)
        if row is not None and row.id is not None:
            return int(row.annotation_id), _task_from(row)
        if row is not None:  # stored; no item free at that instant, or none left: ask the general way
            with _transaction(project, conn) as tx:
                return int(row.annotation_id), _next_in(tx, project, user_id, now, gold=gold)
    with _transaction(project, conn) as tx:
        annotation_id, held = _submit_in(tx, project, user_id, assignment_id, value, lead_time, now)
        return annotation_id, _next_in(tx, project, user_id, now, held=held, gold=gold)


def _submit_in(conn: Connection, project: Project, user_id: int, assignment_id: int, value: Any,
               lead_time: float | None, now: datetime) -> tuple[int, int | None]:
    """The annotation's id, and another lease the user holds (or None)."""
    a = conn.execute(sql.SUBMITTED, {"b_aid": assignment_id, "b_pid": project.id, "b_now": now}).first()
    if a is None or a.user_id != user_id:
        raise _not_yours(assignment_id)
    _, value_json, label = at_once.answer_of(project, value, a.payload)
    if a.answer_id is not None:
        if a.answer == value_json:
            return int(a.answer_id), a.held  # a retried submit: the same answer, stored once
        raise Conflict(f"assignment {assignment_id} was already answered with {json.loads(a.answer)!r}; "
                       "a changed answer is a correction for review")
    if a.status not in ("leased", "expired"):
        raise Conflict(f"assignment {assignment_id} is {a.status}; ask for the next item")
    if lead_time is not None and not 0 <= lead_time <= at_once.MAX_LEAD_TIME:
        raise InvalidInput(f"field 'lead_time': seconds between 0 and {at_once.MAX_LEAD_TIME}")
    if a.status == "expired" and not a.is_gold and not a.reason:
        # a late answer counts only if the item still has room
        k = project.config.queue.overlap
        room = conn.execute(sql.TAKE_SLOT, {"b_item": a.item_id, "b_k": k}).rowcount
        if not room:
            raise Conflict("your lease expired and the item got its annotations from others; "
                           "ask for the next item")
    values = {"project_id": project.id, "item_id": a.item_id, "user_id": user_id, "value": value_json,
              "label": label, "schema_version": project.schema_version,
              "lead_time": lead_time, "assignment_id": assignment_id}
    if conn.dialect.name == "postgresql":
        got = conn.execute(sql.PG_MARK_AND_ANNOTATE, {**values, "b_now": now, "b_status": a.status}).scalar()
    elif conn.execute(sql.MARK_DONE, {"b_aid": assignment_id, "b_now": now, "b_status": a.status}).rowcount:
        got = conn.execute(sql.NEW_ANNOTATION, {**values, "source": "human", "meta": "{}", "created_at": now}).scalar()
    else:
        got = None
    if got is None:
        # PostgreSQL: the status changed after we read it (a sweep expired the lease, or a
        # concurrent retry of this submit committed first): read again and answer as if the
        # submit had come after that
        return _submit_in(conn, project, user_id, assignment_id, value, lead_time, now)
    return int(got), a.held


def skip(project: Project, user_id: int, assignment_id: int, reason: str, *, note: str = "",
         now: datetime | None = None, conn: Connection | None = None) -> int:
    """Give an item back with a reason; the reason is recorded as a data issue. Returns its id."""
    if reason not in SKIP_REASONS:
        raise InvalidInput(f"field 'reason': {reason!r}; use one of {', '.join(SKIP_REASONS)}")
    now = _now(now)
    with _transaction(project, conn) as tx:
        return _skip_in(tx, project, user_id, assignment_id, reason, note, now)


def _skip_in(conn: Connection, project: Project, user_id: int, assignment_id: int, reason: str, note: str,
             now: datetime) -> int:
    a = _own(conn, project, user_id, assignment_id)
    changed = conn.execute(update(Assignment).where(Assignment.id == assignment_id, Assignment.status == "leased")
                           .values(status="skipped", reason=f"{reason}: {note}".strip(": "), done_at=now)).rowcount
    if not changed:
        raise Conflict(f"assignment {assignment_id} is {a.status}; nothing to skip")
    if not a.is_gold and not a.reason:
        conn.execute(sql.GIVE_BACK, {"b_item": a.item_id, "b_k": project.config.queue.overlap})
    history = [{"at": now.isoformat(), "by": user_id, "event": "opened", "note": note}]
    return int(conn.execute(insert(DataIssue).returning(DataIssue.id).values(
        project_id=project.id, kind=f"skip:{reason}", title=f"skipped as {reason}" + (f": {note}" if note else ""),
        items=json.dumps([a.item_id]), severity="medium", status="open", history=json.dumps(history),
        is_auto=True, created_at=now)).scalar_one())
