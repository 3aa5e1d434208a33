"""The annotation queue: lease the next item, take a submission, take a skip.

The store keeps the invariants (``store.queue``: an item never gets more than ``queue.overlap``
annotations, an annotator never gets an item twice, a submission is stored once however often
it is retried, an expired lease frees its slot). This module decides which of the store's two
paths serves a request, checks answers against the label schema, and hands out tasks.

Hidden gold items are mixed in at ``queue.gold_rate`` (drawn per request from the operating
system's randomness, :func:`draws_gold`); they sit outside the overlap count, and nothing the
annotator receives says an item is gold. On the server's PostgreSQL connections (autocommit)
the usual submission, and the usual request for the next item, are one statement each
(``store.queue.at_once``): the assignment is still the annotator's open lease, the answer is
valid, the next item comes from the usual places (a lease held, a gold item when drawn, or the
first regular item), and no periodic work is due. Every other case takes the general path, one
transaction of several statements (``store.queue.general``). When no item is free at that
instant, the answer is stored by the one statement and the next item asked for the general way.
"""

from __future__ import annotations

import json
import random
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from truthset.core.errors import InvalidInput
from truthset.core.schema import validate_value
from truthset.data.records import canonical_json
from truthset.services.projects import Project
from truthset.store import postgres
from truthset.store.models import utcnow
from truthset.store.queue import (
    MAX_LEAD_TIME,
    STATS_EVERY,
    SWEEP_EVERY,
    QueuePolicy,
    at_once,
    general,
)
from truthset.store.queue.upkeep import release_expired
from truthset.store.store import Transaction

__all__ = [
    "MAX_LEAD_TIME",
    "SKIP_REASONS",
    "STATS_EVERY",
    "SWEEP_EVERY",
    "Task",
    "answer_of",
    "draws_gold",
    "next_task",
    "release_expired",
    "skip",
    "submit",
    "submit_and_next",
]
SKIP_REASONS = ("ambiguous", "broken data", "guideline gap", "other")
#: the gold draw's randomness: from the operating system, so that no annotator can work out
#: from what they see (their user id, their assignment ids) when a gold item comes
_DRAW = random.SystemRandom()


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
        return {
            "assignment_id": self.assignment_id,
            "item_id": self.item_id,
            "data": self.payload,
            "leased_until": self.leased_until.isoformat(),
            "prelabel": self.prelabel,
            "reason": self.reason,
            "progress": self.progress,
        }


def _task(row: Any) -> Task:
    """The task of a row with the columns of ``store.queue.statements.TASK``."""
    payload = json.loads(row.payload)
    payload.pop("_sha256", None)
    return Task(
        assignment_id=row.id,
        item_id=row.item_id,
        payload=payload,
        leased_until=row.leased_until,
        prelabel=None if row.prelabel is None else json.loads(row.prelabel),
        reason=row.reason,
        progress={"done": int(row.done)},
    )


def _task_or_none(row: Any | None) -> Task | None:
    return None if row is None else _task(row)


def policy(project: Project) -> QueuePolicy:
    """The project's queue settings as the store takes them."""
    q = project.config.queue
    return QueuePolicy(
        project_id=project.id,
        overlap=q.overlap,
        order=q.order,
        lease_minutes=q.lease_minutes,
        max_per_annotator=q.max_per_annotator,
        schema_version=project.schema_version,
    )


def draws_gold(project: Project) -> bool:
    """Whether the next item handed out is a hidden gold item: true at ``queue.gold_rate``.

    Drawn once per request and handed to whichever path serves it: the one statement has a
    gold variant, so a gold item costs no more round trips than a regular one and response
    times do not tell them apart.
    """
    rate = project.config.queue.gold_rate
    return rate > 0 and _DRAW.random() < rate


def answer_of(project: Project, value: Any, payload: str | None) -> tuple[Any, str, str | None]:
    """``value`` checked against the schema (and the text in the item's ``payload``, which NER
    spans must fit): the canonical value, its JSON, and its label if it is a single one.

    Raises InvalidInput naming the field. Both paths of the queue check answers here.
    """
    text = None if payload is None else json.loads(payload).get(project.config.text_field)
    canonical = validate_value(project.task, project.config.schema, value, text=text if isinstance(text, str) else None)
    return canonical, canonical_json(canonical), canonical if isinstance(canonical, str) else None


def _check(project: Project, value: Any) -> general.AnswerCheck:
    def check(payload: str | None) -> tuple[str, str | None]:
        _, value_json, label = answer_of(project, value, payload)
        return value_json, label

    return check


def _usual(project: Project, now: datetime) -> bool:
    """Whether the next item comes, without asking the store, from the usual places: a lease
    held, a gold item when drawn, or the first regular item of all (not from a batch with a due
    date, a re-annotation, or past a per-annotator limit); and no periodic work is due."""
    state = project.queue_state
    return not (project.config.queue.max_per_annotator is not None or state.due_batches or state.any_due(now))


def _transaction(project: Project, conn: Transaction | None) -> Any:
    """A transaction: a new one; on ``conn`` if it autocommits (the server's, on PostgreSQL);
    else ``conn``'s own, which the caller runs."""
    if conn is None:
        return project.store.write()
    return postgres.transaction(conn) if postgres.autocommits(conn) else nullcontext(conn)


def _one_statement(conn: Transaction | None) -> bool:
    return conn is not None and postgres.autocommits(conn)


def next_task(
    project: Project, user_id: int, *, now: datetime | None = None, conn: Transaction | None = None
) -> Task | None:
    """Lease the next item for ``user_id`` (or return the one they already hold).

    ``conn`` (every function here takes one): run in the caller's transaction on it, or, if it
    autocommits (the server's, on PostgreSQL), in statements and transactions made here; by
    default each call is a transaction of its own.
    """
    now = now or utcnow()
    gold = draws_gold(project)
    pol = policy(project)
    if conn is not None and _one_statement(conn) and _usual(project, now):
        params = at_once.params(pol.project_id, user_id, pol.overlap, now, now + pol.lease)
        row = at_once.run(conn, pol.order, False, gold, params)
        if row is not None and row.id is not None:
            return _task(row)
    with _transaction(project, conn) as tx:
        return _task_or_none(general.next_task(tx, pol, project.queue_state, user_id, now, gold=gold))


def submit(
    project: Project,
    user_id: int,
    assignment_id: int,
    value: Any,
    *,
    lead_time: float | None = None,
    now: datetime | None = None,
    conn: Transaction | None = None,
) -> int:
    """Store the annotation for a leased assignment; a retried submit returns the same id."""
    now = now or utcnow()
    with _transaction(project, conn) as tx:
        return general.submit(tx, policy(project), user_id, assignment_id, _check(project, value), lead_time, now)[0]


def _submit_at_once(
    conn: Transaction,
    project: Project,
    pol: QueuePolicy,
    user_id: int,
    assignment_id: int,
    value: Any,
    lead_time: float | None,
    now: datetime,
    gold: bool,
) -> Any | None:
    """The usual submission as one statement: its row (``annotation_id`` and the next task's
    columns, ``id`` None if no item was free or none is left), or None if nothing was stored
    (not the usual case, or not the user's open lease any more): the general path answers."""
    if not _usual(project, now):
        return None
    if lead_time is not None and not 0 <= lead_time <= MAX_LEAD_TIME:
        return None
    payload = None
    if project.task == "ner":  # the spans must fit the text: read it first (a second round trip)
        payload = general.leased_payload(conn, pol, user_id, assignment_id)
        if payload is None:
            return None
    try:
        _, value_json, label = answer_of(project, value, payload)
    except InvalidInput:
        return None  # reported by the general path, after the checks that come first there
    params = {
        **at_once.params(pol.project_id, user_id, pol.overlap, now, now + pol.lease),
        "b_aid": assignment_id,
        "value": value_json,
        "label": label,
        "schema_version": pol.schema_version,
        "lead_time": lead_time,
    }
    row = at_once.run(conn, pol.order, True, gold, params)
    return row if row is not None and row.annotation_id is not None else None


def submit_and_next(
    project: Project,
    user_id: int,
    assignment_id: int,
    value: Any,
    *,
    lead_time: float | None = None,
    now: datetime | None = None,
    conn: Transaction | None = None,
) -> tuple[int, Task | None]:
    """``submit`` then ``next_task``: one request for the client, one transaction for the store.

    (On the server's PostgreSQL connections, when no item is free at that instant, the answer
    is stored by one statement and the next item asked for in a transaction of its own; a
    retry after a failure there still returns the same annotation.) A retried submit returns
    the same annotation id and the task leased by the first attempt; a refused submit (404,
    409, 422) leases nothing.
    """
    now = now or utcnow()
    gold = draws_gold(project)
    pol = policy(project)
    if conn is not None and _one_statement(conn):
        row = _submit_at_once(conn, project, pol, user_id, assignment_id, value, lead_time, now, gold)
        if row is not None and row.id is not None:
            return int(row.annotation_id), _task(row)
        if row is not None:  # stored; no item free at that instant, or none left: ask the general way
            with _transaction(project, conn) as tx:
                return int(row.annotation_id), _task_or_none(
                    general.next_task(tx, pol, project.queue_state, user_id, now, gold=gold)
                )
    with _transaction(project, conn) as tx:
        annotation_id, held = general.submit(tx, pol, user_id, assignment_id, _check(project, value), lead_time, now)
        return annotation_id, _task_or_none(
            general.next_task(tx, pol, project.queue_state, user_id, now, held=held, gold=gold)
        )


def skip(
    project: Project,
    user_id: int,
    assignment_id: int,
    reason: str,
    *,
    note: str = "",
    now: datetime | None = None,
    conn: Transaction | None = None,
) -> int:
    """Give an item back with a reason; the reason is recorded as a data issue. Returns its id."""
    if reason not in SKIP_REASONS:
        raise InvalidInput(f"field 'reason': {reason!r}; use one of {', '.join(SKIP_REASONS)}")
    now = now or utcnow()
    with _transaction(project, conn) as tx:
        return general.skip(tx, policy(project), user_id, assignment_id, reason, note, now)


# --------------------------------------------------------------------------- the server's path
async def serve_next_task(project: Project, user_id: int) -> Task | None:
    """:func:`next_task` for a server request: on the event loop where the store allows, and
    one statement for the usual request on PostgreSQL (``Store.serve``)."""
    return await project.store.serve(next_task, project, user_id)


async def serve_submit_and_next(
    project: Project, user_id: int, assignment_id: int, value: Any, lead_time: float | None
) -> tuple[int, Task | None]:
    """:func:`submit_and_next` for a server request (see :func:`serve_next_task`)."""
    return await project.store.serve(submit_and_next, project, user_id, assignment_id, value, lead_time=lead_time)


async def serve_skip(project: Project, user_id: int, assignment_id: int, reason: str, note: str) -> int:
    """:func:`skip` for a server request (see :func:`serve_next_task`)."""
    return await project.store.serve(skip, project, user_id, assignment_id, reason, note=note)
