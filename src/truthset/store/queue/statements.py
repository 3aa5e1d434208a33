"""The annotation queue's SQL, each rule written once.

Both paths of the queue are built from the parts here: the general path (several statements
in one transaction, on SQLite and PostgreSQL; :mod:`.general`) and PostgreSQL's one-statement
path (:mod:`.at_once`), which composes the same parts into one data-modifying ``WITH``. So
"which items may this annotator take next" (:func:`eligible`), "which gold item"
(:func:`gold_candidates`), a task's pre-label (:func:`prelabel`) and progress
(:func:`done_count`), and how an answer is stored (:func:`answer_ctes`) each exist once; a
change to one rule reaches both paths and both stores.

Statements are built once (module constants, or cached by their few variants): building a
SQLAlchemy statement and its cache key costs more CPU than SQLite takes to run it. Parameters
are bound by name (``b_pid`` the project, ``b_uid`` the user, ``b_k`` the overlap, ``b_now``
the request's time, ``b_aid`` an assignment, ``b_batch`` a batch); constants that partial
indexes must match (statuses, the stage) are SQL literals, never bound values (see
:func:`status_is`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    Text,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from truthset.store.models import Annotation, Assignment, Gold, Item

STAGE = "annotate"
ONE: ColumnElement[int] = literal_column("1")
TRUE: ColumnElement[bool] = literal_column("true")
FALSE: ColumnElement[bool] = literal_column("false")

#: the named parameters of the queue's statements, with their types
PARAM_TYPES: dict[str, Any] = {
    "b_pid": Integer(),
    "b_uid": Integer(),
    "b_k": Integer(),
    "b_aid": Integer(),
    "b_batch": Integer(),
    "b_item": Integer(),
    "b_status": Text(),
    "b_now": DateTime(timezone=True),
    "leased_until": DateTime(timezone=True),
    "is_gold": Boolean(),
    "reason": Text(),
    "value": Text(),
    "label": Text(),
    "schema_version": Integer(),
    "lead_time": Float(),
}


def p(name: str) -> ColumnElement[Any]:
    """The named parameter ``name`` (typed), usable anywhere, DML values included.

    (A bare bind parameter that appears both in a DML statement's values and elsewhere is
    refused by SQLAlchemy's compiler; coerced, it is an ordinary expression.)
    """
    return type_coerce(bindparam(name), PARAM_TYPES[name])


def status_is(status: str, of: Any = Assignment) -> ColumnElement[bool]:
    """``status = '<status>'`` with the status as a literal, not a bound parameter.

    Only a literal lets the planners (SQLite's and PostgreSQL's generic plans alike) match the
    condition against a partial index's predicate (ix_assignments_open, models.OPEN_STATUSES).
    """
    return of.status == literal_column(f"'{status}'")  # type: ignore[no-any-return]


def in_stage(of: Any = Assignment) -> ColumnElement[bool]:
    """The annotate stage (a literal, like the statuses)."""
    return of.stage == literal_column(f"'{STAGE}'")  # type: ignore[no-any-return]


# a literal, not a bound parameter: only then may the planner use the partial index
# ix_annotations_prelabel (a generic plan cannot know what a parameter will hold)
_FROM_MODEL = text("annotations.source = 'model'")


def seen_by(item_id: Any, user_id: Any) -> Any:
    """Whether the user was ever handed the item in the annotate stage (probes the unique index)."""
    return exists().where(Assignment.item_id == item_id, Assignment.user_id == user_id, in_stage())


def candidates() -> Any:
    """A fresh alias of ``items`` for candidate items (so it can sit inside an UPDATE of items)."""
    return aliased(Item, name="cand")


def eligible(
    order: str, *, in_batch: bool = False, lock: bool = False, also: tuple[Any, ...] = (), cand: Any = None
) -> Any:
    """Items user ``b_uid`` may take next, in queue order: the first one (LIMIT 1).

    Open (not full, room under the overlap ``b_k``), never handed to this user, not a gold
    item; ``in_batch``: only batch ``b_batch``'s (one with a due date). ``lock``: taken
    ``FOR NO KEY UPDATE ... SKIP LOCKED`` on PostgreSQL (what the UPDATE of its slot takes
    anyway; not FOR UPDATE, which would block the foreign-key checks' FOR KEY SHARE and
    deadlocked two annotators). ``also``: conditions the one-statement path adds.

    ``n_open < b_k`` besides ``full``: an item left with full = false above a lowered overlap
    would otherwise come first for ever, and a claim would find no room in it every time.
    """
    cand = cand if cand is not None else candidates()
    key = cand.id if order == "sequential" else cand.queue_key
    q = (
        select(cand.id)
        .where(
            cand.project_id == p("b_pid"),
            cand.full.is_(False),
            cand.n_open < p("b_k"),
            ~seen_by(cand.id, p("b_uid")),
            ~exists().where(Gold.item_id == cand.id),
            *also,
        )
        .order_by(key, cand.id)
        .limit(ONE)
    )
    if in_batch:
        q = q.where(cand.batch_id == p("b_batch"))
    return q.with_for_update(skip_locked=True, of=cand, key_share=True) if lock else q


def gold_candidates(also: tuple[Any, ...] = ()) -> Any:
    """A hidden gold item user ``b_uid`` has not seen, in queue order (LIMIT 1).

    Outside the overlap: no slot and no lock (every annotator gets each gold item once).
    """
    cand = candidates()
    return (
        select(cand.id)
        .join(Gold, Gold.item_id == cand.id)
        .where(cand.project_id == p("b_pid"), ~seen_by(cand.id, p("b_uid")), *also)
        .order_by(cand.queue_key)
        .limit(ONE)
    )


def prelabel(item_id: Any) -> Any:
    """The newest model pre-label (JSON text) of ``item_id``, or NULL."""
    return (
        select(Annotation.value)
        .where(Annotation.item_id == item_id, _FROM_MODEL)
        .order_by(Annotation.id.desc())
        .limit(ONE)
        .scalar_subquery()
    )


def done_count(user_id: Any, project_id: Any) -> Any:
    """How many annotate assignments ``user_id`` has done in ``project_id`` (from the index alone,
    ix_assignments_user)."""
    done = aliased(Assignment, name="done")
    return (
        select(func.count())
        .select_from(done)
        .where(done.user_id == user_id, done.project_id == project_id, in_stage(done), status_is("done", done))
        .scalar_subquery()
    )


def task_of(lease: Any) -> Any:
    """A task's columns (id, item_id, leased_until, reason, payload, prelabel, done) for each row of
    ``lease`` (an assignment-shaped table or CTE with user_id and project_id)."""
    return select(
        lease.id,
        lease.item_id,
        lease.leased_until,
        lease.reason,
        Item.payload,
        prelabel(lease.item_id).label("prelabel"),
        done_count(lease.user_id, lease.project_id).label("done"),
    ).join(Item, Item.id == lease.item_id)


def answer_ctes(*conditions: Any) -> tuple[Any, Any]:
    """Store an answer: mark assignment ``b_aid`` done (if ``conditions`` still hold) and, only
    then, insert its annotation. Two CTEs, ``answered`` (id, item_id) and ``annotation`` (id),
    for PostgreSQL; SQLite runs :data:`MARK_DONE` and :data:`NEW_ANNOTATION` instead."""
    answered = (
        update(Assignment)
        .where(Assignment.id == p("b_aid"), *conditions)
        .values(status=literal_column("'done'"), done_at=p("b_now"))
        .returning(Assignment.id, Assignment.item_id)
        .cte("answered")
    )
    annotation = (
        insert(Annotation)
        .from_select(
            [
                "project_id",
                "item_id",
                "user_id",
                "value",
                "label",
                "schema_version",
                "lead_time",
                "source",
                "assignment_id",
                "meta",
                "created_at",
            ],
            select(
                p("b_pid"),
                answered.c.item_id,
                p("b_uid"),
                p("value"),
                p("label"),
                p("schema_version"),
                p("lead_time"),
                literal_column("'human'"),
                answered.c.id,
                literal_column("'{}'"),
                p("b_now"),
            ),
            include_defaults=False,
        )
        .returning(Annotation.id)
        .cte("annotation")
    )
    return answered, annotation


# --------------------------------------------------------------------------- the general path
EXPIRED = select(Assignment.id, Assignment.item_id, Assignment.is_gold, Assignment.reason).where(
    Assignment.project_id == p("b_pid"), in_stage(), status_is("leased"), Assignment.leased_until < p("b_now")
)
EXPIRED_200 = EXPIRED.limit(200)
HELD = (
    select(Assignment.id)
    .where(
        Assignment.project_id == p("b_pid"),
        Assignment.user_id == p("b_uid"),
        in_stage(),
        status_is("leased"),
        Assignment.leased_until >= p("b_now"),
    )
    .order_by(Assignment.id)
    .limit(ONE)
)
OPEN_REANNOTATIONS = (
    select(Assignment.id, Assignment.item_id, Assignment.reason)
    .where(Assignment.project_id == p("b_pid"), in_stage(), Assignment.user_id.is_(None), status_is("pending"))
    .order_by(Assignment.id)
    .limit(8)
)
TAKE_SLOT = (
    update(Item)
    .where(Item.id == p("b_item"), Item.n_open < p("b_k"))
    .values(n_open=Item.n_open + ONE, full=Item.n_open + ONE >= p("b_k"))
)
# full is recomputed, not cleared: after the overlap was lowered an item can hold more than k
GIVE_BACK = (
    update(Item).where(Item.id == p("b_item")).values(n_open=Item.n_open - ONE, full=Item.n_open - ONE >= p("b_k"))
)
_LEASE_COLUMNS = (
    "project_id",
    "item_id",
    "user_id",
    "stage",
    "status",
    "reason",
    "leased_until",
    "is_gold",
    "created_at",
)


def _lease_values() -> dict[str, Any]:
    return {
        "project_id": p("b_pid"),
        "item_id": p("b_item"),
        "user_id": p("b_uid"),
        "stage": literal_column(f"'{STAGE}'"),
        "status": literal_column("'leased'"),
        "reason": p("reason"),
        "leased_until": p("leased_until"),
        "is_gold": p("is_gold"),
        "created_at": p("b_now"),
    }


# A new lease of item b_item. ON CONFLICT DO NOTHING: a user who already had the item (unique
# item, user, stage) gets no row back, without a savepoint. SQLite: the id;
# PostgreSQL (LEASE_AND_TASK): the task's row at once, one round trip less.
NEW_ASSIGNMENT = sqlite.insert(Assignment).values(_lease_values()).on_conflict_do_nothing().returning(Assignment.id)
NEW_ANNOTATION = insert(Annotation).returning(Annotation.id)
TASK = task_of(Assignment).where(Assignment.id == p("b_aid"))
GOLD_PICK = gold_candidates()
_OTHER = aliased(Assignment, name="other")
SUBMITTED = (
    select(
        Assignment.user_id,
        Assignment.item_id,
        Assignment.status,
        Assignment.is_gold,
        Assignment.reason,
        Item.payload,
        Annotation.id.label("answer_id"),
        Annotation.value.label("answer"),
        # another lease the user holds (what HELD would find next): asked here, it
        # costs no statement of its own
        select(_OTHER.id)
        .where(
            _OTHER.user_id == Assignment.user_id,
            _OTHER.project_id == Assignment.project_id,
            in_stage(_OTHER),
            status_is("leased", _OTHER),
            _OTHER.leased_until >= p("b_now"),
            _OTHER.id != Assignment.id,
        )
        .order_by(_OTHER.id)
        .limit(ONE)
        .scalar_subquery()
        .label("held"),
    )
    .join(Item, Item.id == Assignment.item_id)
    .outerjoin(Annotation, Annotation.assignment_id == Assignment.id)
    .where(Assignment.id == p("b_aid"), Assignment.project_id == p("b_pid"))
)
# only if the status is still the one the submit read: a sweep (or a concurrent retry) that
# changed it in between makes this match nothing, and the submit looks again
MARK_DONE = (
    update(Assignment)
    .where(Assignment.id == p("b_aid"), Assignment.status == p("b_status"))
    .values(status=literal_column("'done'"), done_at=p("b_now"))
)
# the text an NER answer's spans must fit, if the assignment is the user's open lease
LEASED_PAYLOAD = (
    select(Item.payload)
    .join(Assignment, Assignment.item_id == Item.id)
    .where(
        Assignment.id == p("b_aid"),
        Assignment.project_id == p("b_pid"),
        Assignment.user_id == p("b_uid"),
        status_is("leased"),
    )
)


@cache
def claim(order: str, lock: bool, in_batch: bool) -> Any:
    """Take a slot on the first eligible item in one statement; returns its id (or no row)."""
    first = eligible(order, in_batch=in_batch, lock=lock).scalar_subquery()
    return (
        update(Item)
        .where(Item.id == first, Item.n_open < p("b_k"))
        .values(n_open=Item.n_open + ONE, full=Item.n_open + ONE >= p("b_k"))
        .returning(Item.id)
    )


@cache
def eligible_ids(order: str, in_batch: bool) -> Any:
    """Whether any item is eligible, looked at without locking (PostgreSQL's SKIP LOCKED hides
    rows other annotators are taking right now: "none free this instant" is not "none left")."""
    return eligible(order, in_batch=in_batch)


# PostgreSQL plans the queue's statements from planner statistics that autovacuum refreshes
# about once a minute; a fresh project's were taken when assignments was empty, and the
# "seen by this user" check then walked all of a user's assignments for each candidate
# (measured: 300 -> 160 annotations/s over 80 s with 50 annotators; again 395 -> 240/s over
# 60 s after the partial indexes of migration 0007). The queue refreshes them itself when a
# table changed by more than 10 % (+1000 rows) since its last full ANALYZE.
STALE_TABLES = text("""
SELECT relname FROM pg_stat_user_tables
WHERE relname IN ('items', 'assignments', 'annotations')
  AND n_mod_since_analyze > 1000 + 0.1 * GREATEST(n_live_tup, 0)
""")
# Only the columns the queue's statements filter, join and sort on: items' JSON payloads made
# a full ANALYZE of 20,000 items take 93-102 ms of PostgreSQL CPU, this one 23-25 ms, which
# on two cores under load is the difference between a hiccup and a stall. (A column-list
# ANALYZE leaves n_mod_since_analyze alone, so autovacuum still runs its full one; until it
# does, the queue looks again every STATS_EVERY.)
ANALYZE = {
    "items": 'ANALYZE items (project_id, "full", n_open, queue_key, batch_id)',
    "assignments": "ANALYZE assignments (project_id, item_id, user_id, stage, status, leased_until, is_gold)",
    "annotations": "ANALYZE annotations (project_id, item_id, user_id, source, assignment_id)",
}


# --------------------------------------------------------------------------- PostgreSQL text
def as_postgres_text(stmt: Any) -> Any:
    """``stmt`` compiled once for PostgreSQL and kept as text with typed named parameters.

    Executed as a Core statement, a data-modifying ``WITH`` of a dozen parts would have its
    cache key computed on every execution (more CPU than PostgreSQL spends running it); as
    text it is looked up by its string. Every value must be a named parameter of
    :data:`PARAM_TYPES` or an SQL literal: a value baked into the statement (a Python default,
    a literal number) would be lost in the text, so it is refused here, when the module loads.
    """
    from sqlalchemy.dialects.postgresql.base import PGDialect

    compiled = stmt.compile(dialect=PGDialect(paramstyle="named"))  # type: ignore[no-untyped-call]
    baked = {name: value for name, value in compiled.params.items() if value is not None or name not in PARAM_TYPES}
    if baked:
        raise RuntimeError(f"queue statement has values that are not named parameters: {sorted(baked)}")
    return text(compiled.string).bindparams(*[bindparam(name, type_=PARAM_TYPES[name]) for name in compiled.params])


def _lease_and_task() -> Any:
    lease = (
        pg_insert(Assignment)
        .values(_lease_values())
        .on_conflict_do_nothing()
        .returning(
            Assignment.id,
            Assignment.item_id,
            Assignment.user_id,
            Assignment.project_id,
            Assignment.leased_until,
            Assignment.reason,
        )
        .cte("lease")
    )
    return as_postgres_text(task_of(lease.c))


def _mark_and_annotate() -> Any:
    _answered, annotation = answer_ctes(Assignment.status == p("b_status"))
    return as_postgres_text(select(annotation.c.id))


#: PostgreSQL's lease: NEW_ASSIGNMENT and TASK in one round trip (no row: the user had the item)
LEASE_AND_TASK = _lease_and_task()
#: PostgreSQL's submission: MARK_DONE and the annotation's insert in one round trip (no row: the
#: status changed since the submit read it)
MARK_AND_ANNOTATE = _mark_and_annotate()
