"""The annotation queue: lease the next item, take a submission, take a skip.

Invariants (tested under concurrency on SQLite and PostgreSQL):

* an item never gets more than ``queue.overlap`` annotate-stage assignments leased or done
  (``items.n_open``, changed only by conditional updates ``... WHERE n_open < k``);
* an annotator is never handed the same item twice (unique (item, user, stage));
* a submission is stored exactly once, however often a client retries it (unique
  ``annotations.assignment_id``);
* an assignment is leased for ``queue.lease_minutes``; an expired lease frees its slot, so a
  closed tab strands nothing and a slow annotator holds only the items they have open.

Hidden gold items are mixed in at ``queue.gold_rate``; they sit outside the overlap count, and
nothing the annotator receives says an item is gold. On PostgreSQL the candidate rows are
taken with ``FOR UPDATE SKIP LOCKED`` so concurrent annotators do not wait on each other;
SQLite has one writer (``BEGIN IMMEDIATE`` with a busy timeout).
"""

from __future__ import annotations

import json
import logging
import random
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.core.schema import validate_value
from truthset.data.records import canonical_json
from truthset.services import batches
from truthset.services.projects import Project
from truthset.store import queue_sql as sql
from truthset.store.models import Assignment, DataIssue, Gold, Item, utcnow
from truthset.store.postgres import pause

log = logging.getLogger(__name__)
SKIP_REASONS = ("ambiguous", "broken data", "guideline gap", "other")
STAGE = sql.STAGE
#: key of ``Connection.info`` where a PostgreSQL lease leaves the task row it fetched
_LEASED_ROWS = "truthset_leased_task_rows"
#: expired leases are looked for at most this often per process (leases last minutes)
SWEEP_EVERY = timedelta(seconds=1)


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


def _due(project: Project, key: str, now: datetime, every: timedelta) -> bool:
    """Whether the periodic work ``key`` is due at ``now``; if so, the next time is noted.

    Due when never done, when ``every`` has passed, or when ``now`` went back (a caller's clock).
    Popping ``key`` from ``project.runtime`` makes it due at once.
    """
    nxt = project.runtime.get(key)
    if nxt is not None and nxt - every <= now < nxt:
        return False
    project.runtime[key] = now + every
    return True


def _due_batches(conn: Connection, project: Project, now: datetime) -> list[int]:
    """Batches with a due date and open items, soonest first; looked up once per ``SWEEP_EVERY``."""
    if _due(project, "due_batches_until", now, SWEEP_EVERY) or "due_batches" not in project.runtime:
        project.runtime["due_batches"] = batches.due_batches(conn, project.id)  # set_due pops it
    return list(project.runtime["due_batches"])


def _claim_regular(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    """The first item the user may take: from the batches due soonest, then from all."""
    for batch_id in _due_batches(conn, project, now):
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
        pause(0.002 * (attempt + 1))
    return None


def _claim_gold(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    gold_item = conn.execute(
        select(Item.id).join(Gold, Gold.item_id == Item.id)
        .where(Item.project_id == project.id, ~sql.seen_by(Item.id, user_id)).order_by(Item.queue_key).limit(1)
    ).scalar()
    return None if gold_item is None else _lease(conn, project, user_id, int(gold_item), now, gold=True)


def _reannotations_pending(conn: Connection, project: Project, now: datetime) -> bool:
    """Whether any item waits for re-annotation; asked once per ``SWEEP_EVERY`` while none does.

    A schema split in this process says so at once (``project.runtime``); one in another
    process is seen within ``SWEEP_EVERY``.
    """
    if not _due(project, "reannotations_checked_until", now, SWEEP_EVERY):
        return False
    pending = conn.execute(sql.OPEN_REANNOTATIONS.limit(1), {"b_pid": project.id}).first() is not None
    if pending:
        project.runtime.pop("reannotations_checked_until")  # look every time while there are some
    return pending


def _claim_reannotation(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    if not _reannotations_pending(conn, project, now):
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
    """``conn`` if the caller runs the transaction (the server's, on PostgreSQL), else a new one."""
    return project.engine.begin() if conn is None else nullcontext(conn)


def next_task(project: Project, user_id: int, *, now: datetime | None = None,
              conn: Connection | None = None) -> Task | None:
    """Lease the next item for ``user_id`` (or return the one they already hold).

    ``conn``: run in the caller's transaction (as every function here may); by default each
    call is a transaction of its own.
    """
    now = _now(now)
    with _transaction(project, conn) as tx:
        return _next_in(tx, project, user_id, now)


#: how often the queue looks for stale planner statistics on PostgreSQL (see sql.STALE_TABLES)
STATS_EVERY = timedelta(seconds=10)


def _refresh_statistics(conn: Connection, project: Project, now: datetime) -> None:
    if not _due(project, "stats_due", now, STATS_EVERY):
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


def _sweep(conn: Connection, project: Project, now: datetime) -> None:
    """Release expired leases, at most once per ``SWEEP_EVERY`` of ``now`` per process.

    A lease lasts minutes, so looking every request (one more statement each) buys nothing;
    an expired lease not yet swept is still answerable, and ``sql.HELD`` skips it already.
    """
    if conn.dialect.name == "postgresql":
        _refresh_statistics(conn, project, now)
    if _due(project, "lease_sweep_due", now, SWEEP_EVERY) and release_expired(
            conn, project.id, now, project.config.queue.overlap):
        project.runtime.pop("reannotations_checked_until", None)  # an expired re-annotation is offered again


_UNKNOWN: Any = object()


def _next_in(conn: Connection, project: Project, user_id: int, now: datetime, *, held: Any = _UNKNOWN) -> Task | None:
    """The user's next task; ``held``: their held lease if the caller already looked (None: none)."""
    q = project.config.queue
    conn.info.pop(_LEASED_ROWS, None)  # rows of leases voided since (a re-annotation taken by another)
    _sweep(conn, project, now)
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
    if assignment is None and q.gold_rate > 0:
        n_given = conn.execute(select(func.count()).select_from(Assignment).where(
            Assignment.project_id == project.id, Assignment.user_id == user_id)).scalar_one()
        if random.Random(f"{user_id}:{n_given}").random() < q.gold_rate:
            assignment = _claim_gold(conn, project, user_id, now)
    if assignment is None:
        assignment = _claim_regular(conn, project, user_id, now)
    if assignment is None:
        return None
    return _task(conn, assignment)


def _task(conn: Connection, assignment_id: int) -> Task:
    a = conn.info.get(_LEASED_ROWS, {}).pop(assignment_id, None) or conn.execute(sql.TASK, {"b_aid": assignment_id}).one()
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
    """``submit`` then ``next_task`` in one transaction (one round trip, one commit).

    A retried submit returns the same annotation id and the task leased by the first attempt;
    a refused submit (404, 409, 422) leases nothing.
    """
    now = _now(now)
    with _transaction(project, conn) as tx:
        annotation_id, held = _submit_in(tx, project, user_id, assignment_id, value, lead_time, now)
        return annotation_id, _next_in(tx, project, user_id, now, held=held)


def _submit_in(conn: Connection, project: Project, user_id: int, assignment_id: int, value: Any,
               lead_time: float | None, now: datetime) -> tuple[int, int | None]:
    """The annotation's id, and another lease the user holds (or None)."""
    a = conn.execute(sql.SUBMITTED, {"b_aid": assignment_id, "b_pid": project.id, "b_now": now}).first()
    if a is None or a.user_id != user_id:
        raise _not_yours(assignment_id)
    text = json.loads(a.payload).get(project.config.text_field)
    canonical = validate_value(project.task, project.config.schema, value, text=text if isinstance(text, str) else None)
    value_json = canonical_json(canonical)
    if a.answer_id is not None:
        if a.answer == value_json:
            return int(a.answer_id), a.held  # a retried submit: the same answer, stored once
        raise Conflict(f"assignment {assignment_id} was already answered with {json.loads(a.answer)!r}; "
                       "a changed answer is a correction for review")
    if a.status not in ("leased", "expired"):
        raise Conflict(f"assignment {assignment_id} is {a.status}; ask for the next item")
    if lead_time is not None and (lead_time < 0 or lead_time > 86400):
        raise InvalidInput("field 'lead_time': seconds between 0 and 86400")
    if a.status == "expired" and not a.is_gold and not a.reason:
        # a late answer counts only if the item still has room
        k = project.config.queue.overlap
        room = conn.execute(sql.TAKE_SLOT, {"b_item": a.item_id, "b_k": k}).rowcount
        if not room:
            raise Conflict("your lease expired and the item got its annotations from others; "
                           "ask for the next item")
    values = {"project_id": project.id, "item_id": a.item_id, "user_id": user_id, "value": value_json,
              "label": canonical if isinstance(canonical, str) else None, "schema_version": project.schema_version,
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
