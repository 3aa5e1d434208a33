"""The queue's general path: several statements in one transaction, on SQLite and PostgreSQL.

Every case the one statement of :mod:`.at_once` does not cover comes here: a retried or
changed answer, an expired lease, batches with a due date, re-annotations, a per-annotator
limit, periodic work due, every error to report, and all work on SQLite. Each function runs
in the caller's transaction on ``conn``.

Invariants (tested under concurrency on SQLite and PostgreSQL):

* an item never gets more than the overlap ``k`` annotate-stage assignments leased or done
  (``items.n_open``, changed only by conditional updates ``... WHERE n_open < k``);
* an annotator is never handed the same item twice (unique (item, user, stage));
* a submission is stored exactly once, however often a client retries it (unique
  ``annotations.assignment_id``);
* an expired lease frees its slot, so a closed tab strands nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select, update

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.store import postgres
from truthset.store.models import Assignment, DataIssue
from truthset.store.queue import statements as sql
from truthset.store.queue import upkeep
from truthset.store.queue.state import QueuePolicy, QueueState

#: the longest lead time accepted for one item, in seconds (a day)
MAX_LEAD_TIME = 86400
#: checks an answer against the item's payload (JSON text, or None): its JSON and single label
AnswerCheck = Callable[[str | None], tuple[str, str | None]]


class Lease(NamedTuple):
    """A new or held assignment, with its task row when the statement that made it returned it."""

    id: int
    task: Any = None


def _lease(
    conn: Connection,
    policy: QueuePolicy,
    user_id: int,
    item_id: int,
    now: datetime,
    *,
    gold: bool = False,
    reason: str = "",
) -> Lease | None:
    """Create the assignment; None if the user already has this item."""
    values = {
        "b_pid": policy.project_id,
        "b_item": item_id,
        "b_uid": user_id,
        "leased_until": now + policy.lease,
        "is_gold": gold,
        "reason": reason,
        "b_now": now,
    }
    if conn.dialect.name == "postgresql":
        row = conn.execute(sql.LEASE_AND_TASK, values).first()
        return None if row is None else Lease(int(row.id), row)
    got = conn.execute(sql.NEW_ASSIGNMENT, values).scalar()
    return None if got is None else Lease(int(got))


def _claim_regular(
    conn: Connection, policy: QueuePolicy, state: QueueState, user_id: int, now: datetime
) -> Lease | None:
    """The first item the user may take: from the batches due soonest, then from all."""
    for batch_id in upkeep.cached_due_batches(conn, policy, state, now):
        got = _claim_from(conn, policy, user_id, now, batch_id)
        if got is not None:
            return got
    return _claim_from(conn, policy, user_id, now, None)


def _claim_from(
    conn: Connection, policy: QueuePolicy, user_id: int, now: datetime, batch_id: int | None
) -> Lease | None:
    pg = conn.dialect.name == "postgresql"
    in_batch = batch_id is not None
    params = {"b_pid": policy.project_id, "b_uid": user_id, "b_batch": batch_id, "b_k": policy.overlap}
    for attempt in range(20):
        item_id = conn.execute(sql.claim(policy.order, pg, in_batch), params).scalar()
        if item_id is not None:
            got = _lease(conn, policy, user_id, item_id, now)
            if got is not None:
                return got
            # a concurrent request of the same user leased it first: give the slot back, look again
            conn.execute(sql.GIVE_BACK, {"b_item": item_id, "b_k": policy.overlap})
            continue
        # SKIP LOCKED hides rows other annotators are taking right now: "none free this instant"
        # is not "none left". Look without locking; if work remains, try again shortly.
        if not pg or conn.execute(sql.eligible_ids(policy.order, in_batch), params).first() is None:
            return None
        postgres.pause(0.002 * (attempt + 1))
    return None


def _claim_gold(conn: Connection, policy: QueuePolicy, user_id: int, now: datetime) -> Lease | None:
    gold_item = conn.execute(sql.GOLD_PICK, {"b_pid": policy.project_id, "b_uid": user_id}).scalar()
    return None if gold_item is None else _lease(conn, policy, user_id, int(gold_item), now, gold=True)


def _claim_reannotation(
    conn: Connection, policy: QueuePolicy, state: QueueState, user_id: int, now: datetime
) -> Lease | None:
    if not upkeep.reannotations_pending(conn, policy, state, now):
        return None
    rows = conn.execute(sql.OPEN_REANNOTATIONS, {"b_pid": policy.project_id}).all()
    for a in rows:
        got = _lease(conn, policy, user_id, a.item_id, now, reason=a.reason)
        if got is None:
            continue  # this annotator already had the item: leave it for another
        taken = conn.execute(
            update(Assignment).where(Assignment.id == a.id, Assignment.status == "pending").values(status="claimed")
        ).rowcount
        if taken:
            return got
        conn.execute(update(Assignment).where(Assignment.id == got.id).values(status="void"))
    return None


#: ``held`` of :func:`next_task` when the caller has not looked
UNKNOWN: Any = object()


def next_task(
    conn: Connection,
    policy: QueuePolicy,
    state: QueueState,
    user_id: int,
    now: datetime,
    *,
    held: Any = UNKNOWN,
    gold: bool = False,
) -> Any | None:
    """The user's next task row (``statements.TASK``'s columns), or None: nothing left for them.

    ``held``: their held lease if the caller already looked (None: none). ``gold``: the gold
    draw came out true, so a new item is a hidden gold one while the user has unseen gold
    items left.
    """
    upkeep.sweep(conn, policy, state, now)
    if held is UNKNOWN:
        held = conn.execute(sql.HELD, {"b_pid": policy.project_id, "b_uid": user_id, "b_now": now}).scalar()
    got: Lease | None = Lease(int(held)) if held is not None else None
    if (
        got is None
        and policy.max_per_annotator is not None
        and upkeep.leased_count(conn, policy, user_id) >= policy.max_per_annotator
    ):
        return None
    if got is None:
        got = _claim_reannotation(conn, policy, state, user_id, now)
    if got is None and gold:
        got = _claim_gold(conn, policy, user_id, now)
    if got is None:
        got = _claim_regular(conn, policy, state, user_id, now)
    if got is None:
        return None
    return got.task if got.task is not None else conn.execute(sql.TASK, {"b_aid": got.id}).one()


def _not_yours(assignment_id: int) -> NotFound:
    return NotFound(f"assignment {assignment_id} is not yours; ask for the next item instead")


def submit(
    conn: Connection,
    policy: QueuePolicy,
    user_id: int,
    assignment_id: int,
    check: AnswerCheck,
    lead_time: float | None,
    now: datetime,
) -> tuple[int, int | None]:
    """Store the answer to a leased assignment: the annotation's id, and another lease the user
    holds (or None). A retried submit of the same answer returns the same id; ``check`` turns
    the item's payload into the answer's JSON and label (raising on a bad answer)."""
    a = conn.execute(sql.SUBMITTED, {"b_aid": assignment_id, "b_pid": policy.project_id, "b_now": now}).first()
    if a is None or a.user_id != user_id:
        raise _not_yours(assignment_id)
    value_json, label = check(a.payload)
    if a.answer_id is not None:
        if a.answer == value_json:
            return int(a.answer_id), a.held  # a retried submit: the same answer, stored once
        raise Conflict(
            f"assignment {assignment_id} was already answered with {json.loads(a.answer)!r}; "
            "a changed answer is a correction for review"
        )
    if a.status not in ("leased", "expired"):
        raise Conflict(f"assignment {assignment_id} is {a.status}; ask for the next item")
    if lead_time is not None and not 0 <= lead_time <= MAX_LEAD_TIME:
        raise InvalidInput(f"field 'lead_time': seconds between 0 and {MAX_LEAD_TIME}")
    if a.status == "expired" and not a.is_gold and not a.reason:
        # a late answer counts only if the item still has room
        room = conn.execute(sql.TAKE_SLOT, {"b_item": a.item_id, "b_k": policy.overlap}).rowcount
        if not room:
            raise Conflict("your lease expired and the item got its annotations from others; ask for the next item")
    values = {
        "b_pid": policy.project_id,
        "b_uid": user_id,
        "b_aid": assignment_id,
        "value": value_json,
        "label": label,
        "schema_version": policy.schema_version,
        "lead_time": lead_time,
        "b_now": now,
        "b_status": a.status,
    }
    if conn.dialect.name == "postgresql":
        got = conn.execute(sql.MARK_AND_ANNOTATE, values).scalar()
    elif conn.execute(sql.MARK_DONE, values).rowcount:
        got = conn.execute(
            sql.NEW_ANNOTATION,
            {
                "project_id": policy.project_id,
                "item_id": a.item_id,
                "user_id": user_id,
                "value": value_json,
                "label": label,
                "schema_version": policy.schema_version,
                "lead_time": lead_time,
                "assignment_id": assignment_id,
                "source": "human",
                "meta": "{}",
                "created_at": now,
            },
        ).scalar()
    else:
        got = None
    if got is None:
        # the status changed after we read it (a sweep expired the lease, or a concurrent
        # retry of this submit committed first): read again and answer as if the submit had
        # come after that
        return submit(conn, policy, user_id, assignment_id, check, lead_time, now)
    return int(got), a.held


def skip(
    conn: Connection, policy: QueuePolicy, user_id: int, assignment_id: int, reason: str, note: str, now: datetime
) -> int:
    """Give a leased item back; the reason is recorded as a data issue, whose id is returned."""
    a = conn.execute(
        select(Assignment).where(Assignment.id == assignment_id, Assignment.project_id == policy.project_id)
    ).first()
    if a is None or a.user_id != user_id:
        raise _not_yours(assignment_id)
    changed = conn.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, Assignment.status == "leased")
        .values(status="skipped", reason=f"{reason}: {note}".strip(": "), done_at=now)
    ).rowcount
    if not changed:
        raise Conflict(f"assignment {assignment_id} is {a.status}; nothing to skip")
    if not a.is_gold and not a.reason:
        conn.execute(sql.GIVE_BACK, {"b_item": a.item_id, "b_k": policy.overlap})
    history = [{"at": now.isoformat(), "by": user_id, "event": "opened", "note": note}]
    return int(
        conn.execute(
            insert(DataIssue)
            .returning(DataIssue.id)
            .values(
                project_id=policy.project_id,
                kind=f"skip:{reason}",
                title=f"skipped as {reason}" + (f": {note}" if note else ""),
                items=json.dumps([a.item_id]),
                severity="medium",
                status="open",
                history=json.dumps(history),
                is_auto=True,
                created_at=now,
                source="skip",
                body=note,
                updated_at=now,
            )
        ).scalar_one()
    )


def leased_payload(conn: Connection, policy: QueuePolicy, user_id: int, assignment_id: int) -> str | None:
    """The payload (JSON text) of assignment ``assignment_id`` if it is the user's open lease."""
    return conn.execute(
        sql.LEASED_PAYLOAD, {"b_aid": assignment_id, "b_pid": policy.project_id, "b_uid": user_id}
    ).scalar()


__all__ = ["MAX_LEAD_TIME", "UNKNOWN", "AnswerCheck", "Lease", "leased_payload", "next_task", "skip", "submit"]
