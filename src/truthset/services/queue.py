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
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Float,
    Text,
    bindparam,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.core.schema import validate_value
from truthset.data.records import canonical_json
from truthset.services import batches
from truthset.services.projects import Project
from truthset.store.models import Annotation, Assignment, DataIssue, Gold, Item, utcnow

SKIP_REASONS = ("ambiguous", "broken data", "guideline gap", "other")
STAGE = "annotate"
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


# The hot statements are built once, with bound parameters: building a SQLAlchemy statement
# and its cache key costs more CPU than SQLite takes to run it, and one annotation runs a dozen.
_EXPIRED = (select(Assignment.id, Assignment.item_id, Assignment.is_gold, Assignment.reason)
            .where(Assignment.project_id == bindparam("b_pid"), Assignment.stage == STAGE,
                   Assignment.status == "leased", Assignment.leased_until < bindparam("b_now")))
_EXPIRED_200 = _EXPIRED.limit(200)
_HELD = (select(Assignment.id)
         .where(Assignment.project_id == bindparam("b_pid"), Assignment.user_id == bindparam("b_uid"),
                Assignment.stage == STAGE, Assignment.status == "leased", Assignment.leased_until >= bindparam("b_now"))
         .order_by(Assignment.id).limit(1))
_OPEN_REANNOTATIONS = (select(Assignment.id, Assignment.item_id, Assignment.reason)
                       .where(Assignment.project_id == bindparam("b_pid"), Assignment.stage == STAGE,
                              Assignment.user_id.is_(None), Assignment.status == "pending")
                       .order_by(Assignment.id).limit(8))
_TAKE_SLOT = (update(Item).where(Item.id == bindparam("b_item"), Item.n_open < bindparam("b_k"))
              .values(n_open=Item.n_open + 1, full=Item.n_open + 1 >= bindparam("b_k")))
_GIVE_BACK = update(Item).where(Item.id == bindparam("b_item")).values(n_open=Item.n_open - 1, full=False)
# ON CONFLICT DO NOTHING: a user who already had the item (unique item, user, stage) gets no
# row back, without a savepoint around the insert (two statements fewer per lease).
_NEW_ASSIGNMENT = {"postgresql": postgresql.insert(Assignment).on_conflict_do_nothing().returning(Assignment.id),
                   "sqlite": sqlite.insert(Assignment).on_conflict_do_nothing().returning(Assignment.id)}
_NEW_ANNOTATION = insert(Annotation).returning(Annotation.id)
_DONE = aliased(Assignment, name="done")
_TASK = (select(Assignment.id, Assignment.item_id, Assignment.leased_until, Assignment.reason, Item.payload,
                select(Annotation.value).where(Annotation.item_id == Assignment.item_id, Annotation.source == "model")
                .order_by(Annotation.id.desc()).limit(1).scalar_subquery().label("prelabel"),
                # progress, from the index alone (ix_assignments_user)
                select(func.count()).select_from(_DONE)
                .where(_DONE.user_id == Assignment.user_id, _DONE.project_id == Assignment.project_id,
                       _DONE.stage == STAGE, _DONE.status == "done").scalar_subquery().label("done"))
         .join(Item, Item.id == Assignment.item_id).where(Assignment.id == bindparam("b_aid")))
_OTHER = aliased(Assignment, name="other")
_SUBMITTED = (select(Assignment.user_id, Assignment.item_id, Assignment.status, Assignment.is_gold, Assignment.reason,
                     Item.payload, Annotation.id.label("answer_id"), Annotation.value.label("answer"),
                     # another lease the user holds (what _HELD would find next): asked here, it
                     # costs no statement of its own
                     select(_OTHER.id).where(_OTHER.user_id == Assignment.user_id,
                                             _OTHER.project_id == Assignment.project_id, _OTHER.stage == STAGE,
                                             _OTHER.status == "leased", _OTHER.leased_until >= bindparam("b_now"),
                                             _OTHER.id != Assignment.id)
                     .order_by(_OTHER.id).limit(1).scalar_subquery().label("held"))
              .join(Item, Item.id == Assignment.item_id)
              .outerjoin(Annotation, Annotation.assignment_id == Assignment.id)
              .where(Assignment.id == bindparam("b_aid"), Assignment.project_id == bindparam("b_pid")))
_MARK_DONE = (update(Assignment).where(Assignment.id == bindparam("b_aid"))
              .values(status="done", done_at=bindparam("b_now")))


# PostgreSQL only (SQLite has no data-modifying WITH): two statements in one round trip each.
_PG_MARK_AND_ANNOTATE = text("""
WITH done AS (UPDATE assignments SET status = 'done', done_at = :b_now WHERE id = :assignment_id RETURNING id)
INSERT INTO annotations (project_id, item_id, user_id, value, label, schema_version, lead_time, source,
                         assignment_id, meta, created_at)
SELECT :project_id, :item_id, :user_id, :value, :label, :schema_version, :lead_time, 'human', done.id, '{}', :b_now
FROM done RETURNING id
""").bindparams(bindparam("b_now", type_=DateTime(timezone=True)), bindparam("label", type_=Text),
                bindparam("lead_time", type_=Float))
_PG_LEASE_AND_TASK = text("""
WITH lease AS (
    INSERT INTO assignments (project_id, item_id, user_id, stage, status, reason, leased_until, is_gold, created_at)
    VALUES (:project_id, :item_id, :user_id, 'annotate', 'leased', :reason, :leased_until, :is_gold, :created_at)
    ON CONFLICT DO NOTHING RETURNING id, item_id, user_id, project_id, leased_until, reason)
SELECT lease.id, lease.item_id, lease.leased_until, lease.reason, items.payload,
       (SELECT a.value FROM annotations a WHERE a.item_id = lease.item_id AND a.source = 'model'
        ORDER BY a.id DESC LIMIT 1) AS prelabel,
       (SELECT count(*) FROM assignments d WHERE d.user_id = lease.user_id AND d.project_id = lease.project_id
        AND d.stage = 'annotate' AND d.status = 'done') AS done
FROM lease JOIN items ON items.id = lease.item_id
""").bindparams(bindparam("leased_until", type_=DateTime(timezone=True)),
                bindparam("created_at", type_=DateTime(timezone=True)), bindparam("is_gold", type_=Boolean))


@cache
def _eligible(order: str, lock: bool, limit: int, in_batch: bool = False) -> Any:
    """Items this user (``b_uid``) may take next, in queue order; locked with SKIP LOCKED on PostgreSQL.

    ``in_batch``: only the items of batch ``b_batch`` (one with a due date). Selected from an
    alias of ``items``, so it can sit inside an UPDATE of ``items`` uncorrelated (``_claim``).
    """
    cand = aliased(Item, name="cand")
    key = cand.id if order == "sequential" else cand.queue_key
    seen = exists().where(Assignment.item_id == cand.id, Assignment.user_id == bindparam("b_uid"),
                          Assignment.stage == STAGE)
    q = (select(cand.id).where(cand.project_id == bindparam("b_pid"), cand.full.is_(False), ~seen,
                               ~exists().where(Gold.item_id == cand.id))
         .order_by(key, cand.id).limit(limit))
    if in_batch:
        q = q.where(cand.batch_id == bindparam("b_batch"))
    return q.with_for_update(skip_locked=True, of=cand) if lock else q


@cache
def _claim(order: str, lock: bool, in_batch: bool) -> Any:
    """Take a slot on the first eligible item in one statement; returns its id (or no row)."""
    first = _eligible(order, lock, 1, in_batch).scalar_subquery()
    return (update(Item).where(Item.id == first, Item.n_open < bindparam("b_k"))
            .values(n_open=Item.n_open + 1, full=Item.n_open + 1 >= bindparam("b_k")).returning(Item.id))


def release_expired(conn: Connection, project_id: int, now: datetime, *, limit: int = 200) -> int:
    """Expire leases past due and give their slots back; returns how many."""
    stmt = _EXPIRED_200 if limit == 200 else _EXPIRED.limit(limit)
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
            conn.execute(_GIVE_BACK, {"b_item": a.item_id})
    return len(rows)


def _seen(user_id: Any) -> Any:
    return exists().where(Assignment.item_id == Item.id, Assignment.user_id == user_id, Assignment.stage == STAGE)


def _lease(conn: Connection, project: Project, user_id: int, item_id: int, now: datetime, *,
           gold: bool = False, reason: str = "") -> int | None:
    """Create the assignment; None if the user already has this item."""
    until = now + timedelta(minutes=project.config.queue.lease_minutes)
    values = {"project_id": project.id, "item_id": item_id, "user_id": user_id, "leased_until": until,
              "is_gold": gold, "reason": reason, "created_at": now}
    if conn.dialect.name == "postgresql":
        row = conn.execute(_PG_LEASE_AND_TASK, values).first()
        if row is None:
            return None
        conn.info.setdefault(_LEASED_ROWS, {})[row.id] = row  # _task takes it from here
        return int(row.id)
    got = conn.execute(_NEW_ASSIGNMENT[conn.dialect.name], {**values, "stage": STAGE, "status": "leased"}).scalar()
    return None if got is None else int(got)


def _due_batches(conn: Connection, project: Project, now: datetime) -> list[int]:
    """Batches with a due date and open items, soonest first; looked up once per ``SWEEP_EVERY``."""
    cached = project.runtime.get("due_batches")
    if cached is None or now >= cached[0] or now < cached[0] - SWEEP_EVERY:
        cached = project.runtime["due_batches"] = (now + SWEEP_EVERY, batches.due_batches(conn, project.id))
    return list(cached[1])


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
        item_id = conn.execute(_claim(order, pg, in_batch), params).scalar()
        if item_id is not None:
            assignment = _lease(conn, project, user_id, item_id, now)
            if assignment is not None:
                return assignment
            # a concurrent request of the same user leased it first: give the slot back, look again
            conn.execute(_GIVE_BACK, {"b_item": item_id})
            continue
        # SKIP LOCKED hides rows other annotators are taking right now: "none free this instant"
        # is not "none left". Look without locking; if work remains, try again shortly.
        if not pg or conn.execute(_eligible(order, False, 1, in_batch), params).first() is None:
            return None
        time.sleep(0.002 * (attempt + 1))
    return None


def _claim_gold(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    gold_item = conn.execute(
        select(Item.id).join(Gold, Gold.item_id == Item.id)
        .where(Item.project_id == project.id, ~_seen(user_id)).order_by(Item.queue_key).limit(1)
    ).scalar()
    return None if gold_item is None else _lease(conn, project, user_id, int(gold_item), now, gold=True)


def _reannotations_pending(conn: Connection, project: Project, now: datetime) -> bool:
    """Whether any item waits for re-annotation; asked once per ``SWEEP_EVERY`` while none does.

    A schema split in this process says so at once (``project.runtime``); one in another
    process is seen within ``SWEEP_EVERY``.
    """
    due = project.runtime.get("reannotations_checked_until")
    if due is not None and due - SWEEP_EVERY <= now < due:
        return False
    pending = conn.execute(_OPEN_REANNOTATIONS.limit(1), {"b_pid": project.id}).first() is not None
    project.runtime["reannotations_checked_until"] = None if pending else now + SWEEP_EVERY
    return pending


def _claim_reannotation(conn: Connection, project: Project, user_id: int, now: datetime) -> int | None:
    if not _reannotations_pending(conn, project, now):
        return None
    rows = conn.execute(_OPEN_REANNOTATIONS, {"b_pid": project.id}).all()
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


def next_task(project: Project, user_id: int, *, now: datetime | None = None) -> Task | None:
    """Lease the next item for ``user_id`` (or return the one they already hold)."""
    now = _now(now)
    with project.engine.begin() as conn:
        return _next_in(conn, project, user_id, now)


# PostgreSQL plans the queue's statements from planner statistics that autovacuum refreshes
# about once a minute; a fresh project's were taken when assignments was empty, and the
# "seen by this user" check then walked all of a user's assignments for each candidate
# (measured: 300 -> 160 annotations/s over 80 s with 50 annotators). The queue refreshes
# them itself when a table changed by more than 10 % (+1000 rows) since its last ANALYZE.
_STALE_TABLES = text("""
SELECT relname FROM pg_stat_user_tables
WHERE relname IN ('items', 'assignments', 'annotations')
  AND n_mod_since_analyze > 1000 + 0.1 * GREATEST(n_live_tup, 0)
""")
STATS_EVERY = timedelta(seconds=10)


def _refresh_statistics(project: Project, now: datetime) -> None:
    due = project.runtime.get("stats_due")
    if due is not None and due - STATS_EVERY <= now < due:
        return
    project.runtime["stats_due"] = now + STATS_EVERY
    # its own connection: ANALYZE must not lengthen the annotator's transaction
    with project.engine.connect() as own:
        stale = [str(t) for t in own.execute(_STALE_TABLES).scalars()]
        for table in stale:  # names from the fixed list above
            own.exec_driver_sql(f"ANALYZE {table}")
        own.commit()
    project.runtime["analyzed"] = stale


def _sweep(conn: Connection, project: Project, now: datetime) -> None:
    """Release expired leases, at most once per ``SWEEP_EVERY`` of ``now`` per process.

    A lease lasts minutes, so looking every request (one more statement each) buys nothing;
    an expired lease not yet swept is still answerable, and ``_HELD`` skips it already.
    """
    if conn.dialect.name == "postgresql":
        _refresh_statistics(project, now)
    due = project.runtime.get("lease_sweep_due")
    if due is None or now >= due or now < due - SWEEP_EVERY:  # also when a caller's clock went back
        if release_expired(conn, project.id, now):
            project.runtime.pop("reannotations_checked_until", None)  # an expired re-annotation is offered again
        project.runtime["lease_sweep_due"] = now + SWEEP_EVERY


_UNKNOWN: Any = object()


def _next_in(conn: Connection, project: Project, user_id: int, now: datetime, *, held: Any = _UNKNOWN) -> Task | None:
    """The user's next task; ``held``: their held lease if the caller already looked (None: none)."""
    q = project.config.queue
    conn.info.pop(_LEASED_ROWS, None)  # rows of leases voided since (a re-annotation taken by another)
    _sweep(conn, project, now)
    if held is _UNKNOWN:
        held = conn.execute(_HELD, {"b_pid": project.id, "b_uid": user_id, "b_now": now}).scalar()
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
    a = conn.info.get(_LEASED_ROWS, {}).pop(assignment_id, None) or conn.execute(_TASK, {"b_aid": assignment_id}).one()
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
           now: datetime | None = None) -> int:
    """Store the annotation for a leased assignment; a retried submit returns the same id."""
    now = _now(now)
    with project.engine.begin() as conn:
        return _submit_in(conn, project, user_id, assignment_id, value, lead_time, now)[0]


def submit_and_next(project: Project, user_id: int, assignment_id: int, value: Any, *,
                    lead_time: float | None = None, now: datetime | None = None) -> tuple[int, Task | None]:
    """``submit`` then ``next_task`` in one transaction (one round trip, one commit).

    A retried submit returns the same annotation id and the task leased by the first attempt;
    a refused submit (404, 409, 422) leases nothing.
    """
    now = _now(now)
    with project.engine.begin() as conn:
        annotation_id, held = _submit_in(conn, project, user_id, assignment_id, value, lead_time, now)
        return annotation_id, _next_in(conn, project, user_id, now, held=held)


def _submit_in(conn: Connection, project: Project, user_id: int, assignment_id: int, value: Any,
               lead_time: float | None, now: datetime) -> tuple[int, int | None]:
    """The annotation's id, and another lease the user holds (or None)."""
    a = conn.execute(_SUBMITTED, {"b_aid": assignment_id, "b_pid": project.id, "b_now": now}).first()
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
        room = conn.execute(_TAKE_SLOT, {"b_item": a.item_id, "b_k": k}).rowcount
        if not room:
            raise Conflict("your lease expired and the item got its annotations from others; "
                           "ask for the next item")
    values = {"project_id": project.id, "item_id": a.item_id, "user_id": user_id, "value": value_json,
              "label": canonical if isinstance(canonical, str) else None, "schema_version": project.schema_version,
              "lead_time": lead_time, "assignment_id": assignment_id}
    if conn.dialect.name == "postgresql":
        return int(conn.execute(_PG_MARK_AND_ANNOTATE, {**values, "b_now": now}).scalar_one()), a.held
    conn.execute(_MARK_DONE, {"b_aid": assignment_id, "b_now": now})
    annotation = conn.execute(_NEW_ANNOTATION, {**values, "source": "human", "meta": "{}", "created_at": now})
    return int(annotation.scalar_one()), a.held


def skip(project: Project, user_id: int, assignment_id: int, reason: str, *, note: str = "",
         now: datetime | None = None) -> int:
    """Give an item back with a reason; the reason is recorded as a data issue. Returns its id."""
    if reason not in SKIP_REASONS:
        raise InvalidInput(f"field 'reason': {reason!r}; use one of {', '.join(SKIP_REASONS)}")
    now = _now(now)
    with project.engine.begin() as conn:
        a = _own(conn, project, user_id, assignment_id)
        changed = conn.execute(update(Assignment).where(Assignment.id == assignment_id, Assignment.status == "leased")
                               .values(status="skipped", reason=f"{reason}: {note}".strip(": "), done_at=now)).rowcount
        if not changed:
            raise Conflict(f"assignment {assignment_id} is {a.status}; nothing to skip")
        if not a.is_gold and not a.reason:
            conn.execute(_GIVE_BACK, {"b_item": a.item_id})
        history = [{"at": now.isoformat(), "by": user_id, "event": "opened", "note": note}]
        return int(conn.execute(insert(DataIssue).returning(DataIssue.id).values(
            project_id=project.id, kind=f"skip:{reason}", title=f"skipped as {reason}" + (f": {note}" if note else ""),
            items=json.dumps([a.item_id]), severity="medium", status="open", history=json.dumps(history),
            is_auto=True, created_at=now)).scalar_one())
