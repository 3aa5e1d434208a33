"""The annotation queue's SQL: statements built once, with bound parameters.

Building a SQLAlchemy statement and its cache key costs more CPU than SQLite takes to run
it, and one annotation runs several, so :mod:`truthset.services.queue` uses these prebuilt
ones. PostgreSQL gets two data-modifying ``WITH`` statements of its own (every statement
there is a network round trip); SQLite has no data-modifying ``WITH``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Text,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import aliased

from truthset.store.models import Annotation, Assignment, Gold, Item

STAGE = "annotate"


def _is(status: str, of: Any = Assignment) -> Any:
    """``assignments.status = '<status>'`` with the status as a literal, not a bound parameter.

    Only a literal lets the planners (SQLite's and PostgreSQL's generic plans alike) match the
    condition against a partial index's predicate (ix_assignments_open, models.OPEN_STATUSES).
    """
    return of.status == literal_column(f"'{status}'")


EXPIRED = (select(Assignment.id, Assignment.item_id, Assignment.is_gold, Assignment.reason)
            .where(Assignment.project_id == bindparam("b_pid"), Assignment.stage == STAGE,
                   _is("leased"), Assignment.leased_until < bindparam("b_now")))
EXPIRED_200 = EXPIRED.limit(200)
HELD = (select(Assignment.id)
         .where(Assignment.project_id == bindparam("b_pid"), Assignment.user_id == bindparam("b_uid"),
                Assignment.stage == STAGE, _is("leased"), Assignment.leased_until >= bindparam("b_now"))
         .order_by(Assignment.id).limit(1))
OPEN_REANNOTATIONS = (select(Assignment.id, Assignment.item_id, Assignment.reason)
                       .where(Assignment.project_id == bindparam("b_pid"), Assignment.stage == STAGE,
                              Assignment.user_id.is_(None), _is("pending"))
                       .order_by(Assignment.id).limit(8))
TAKE_SLOT = (update(Item).where(Item.id == bindparam("b_item"), Item.n_open < bindparam("b_k"))
              .values(n_open=Item.n_open + 1, full=Item.n_open + 1 >= bindparam("b_k")))
# full is recomputed, not cleared: after the overlap was lowered an item can hold more than k
GIVE_BACK = (update(Item).where(Item.id == bindparam("b_item"))
             .values(n_open=Item.n_open - 1, full=Item.n_open - 1 >= bindparam("b_k")))
# SQLite's lease (PostgreSQL's is PG_LEASE_AND_TASK). ON CONFLICT DO NOTHING: a user who
# already had the item (unique item, user, stage) gets no row back, without a savepoint.
NEW_ASSIGNMENT = sqlite.insert(Assignment).on_conflict_do_nothing().returning(Assignment.id)
NEW_ANNOTATION = insert(Annotation).returning(Annotation.id)
_DONE = aliased(Assignment, name="done")
# a literal, not a bound parameter: only then may the planner use the partial index
# ix_annotations_prelabel (a generic plan cannot know what a parameter will hold)
_FROM_MODEL = text("annotations.source = 'model'")
TASK = (select(Assignment.id, Assignment.item_id, Assignment.leased_until, Assignment.reason, Item.payload,
                select(Annotation.value).where(Annotation.item_id == Assignment.item_id, _FROM_MODEL)
                .order_by(Annotation.id.desc()).limit(1).scalar_subquery().label("prelabel"),
                # progress, from the index alone (ix_assignments_user)
                select(func.count()).select_from(_DONE)
                .where(_DONE.user_id == Assignment.user_id, _DONE.project_id == Assignment.project_id,
                       _DONE.stage == STAGE, _is("done", _DONE)).scalar_subquery().label("done"))
         .join(Item, Item.id == Assignment.item_id).where(Assignment.id == bindparam("b_aid")))
_OTHER = aliased(Assignment, name="other")
SUBMITTED = (select(Assignment.user_id, Assignment.item_id, Assignment.status, Assignment.is_gold, Assignment.reason,
                     Item.payload, Annotation.id.label("answer_id"), Annotation.value.label("answer"),
                     # another lease the user holds (what HELD would find next): asked here, it
                     # costs no statement of its own
                     select(_OTHER.id).where(_OTHER.user_id == Assignment.user_id,
                                             _OTHER.project_id == Assignment.project_id, _OTHER.stage == STAGE,
                                             _is("leased", _OTHER), _OTHER.leased_until >= bindparam("b_now"),
                                             _OTHER.id != Assignment.id)
                     .order_by(_OTHER.id).limit(1).scalar_subquery().label("held"))
              .join(Item, Item.id == Assignment.item_id)
              .outerjoin(Annotation, Annotation.assignment_id == Assignment.id)
              .where(Assignment.id == bindparam("b_aid"), Assignment.project_id == bindparam("b_pid")))
# only if the status is still the one the submit read: a sweep (or a concurrent retry) that
# changed it in between makes this match nothing, and the submit looks again
MARK_DONE = (update(Assignment).where(Assignment.id == bindparam("b_aid"), Assignment.status == bindparam("b_status"))
             .values(status="done", done_at=bindparam("b_now")))


# PostgreSQL only (SQLite has no data-modifying WITH): two statements in one round trip each.
PG_MARK_AND_ANNOTATE = text("""
WITH done AS (UPDATE assignments SET status = 'done', done_at = :b_now
              WHERE id = :assignment_id AND status = :b_status RETURNING id)
INSERT INTO annotations (project_id, item_id, user_id, value, label, schema_version, lead_time, source,
                         assignment_id, meta, created_at)
SELECT :project_id, :item_id, :user_id, :value, :label, :schema_version, :lead_time, 'human', done.id, '{}', :b_now
FROM done RETURNING id
""").bindparams(bindparam("b_now", type_=DateTime(timezone=True)), bindparam("label", type_=Text),
                bindparam("lead_time", type_=Float))
def _pg_prelabel(item: str) -> str:
    """PostgreSQL text of TASK's ``prelabel``: the newest model annotation of ``item``."""
    return (f"(SELECT a.value FROM annotations AS a WHERE a.item_id = {item} AND a.source = 'model' "
            "ORDER BY a.id DESC LIMIT 1)")


def _pg_done(user: str, project: str) -> str:
    """PostgreSQL text of TASK's ``done``: how many annotate assignments ``user`` has done."""
    return (f"(SELECT count(*) FROM assignments AS d WHERE d.user_id = {user} AND d.project_id = {project} "
            "AND d.stage = 'annotate' AND d.status = 'done')")


PG_LEASE_AND_TASK = text(f"""
WITH lease AS (
    INSERT INTO assignments (project_id, item_id, user_id, stage, status, reason, leased_until, is_gold, created_at)
    VALUES (:project_id, :item_id, :user_id, 'annotate', 'leased', :reason, :leased_until, :is_gold, :created_at)
    ON CONFLICT DO NOTHING RETURNING id, item_id, user_id, project_id, leased_until, reason)
SELECT lease.id, lease.item_id, lease.leased_until, lease.reason, items.payload,
       {_pg_prelabel("lease.item_id")} AS prelabel, {_pg_done("lease.user_id", "lease.project_id")} AS done
FROM lease JOIN items ON items.id = lease.item_id
""").bindparams(bindparam("leased_until", type_=DateTime(timezone=True)),
                bindparam("created_at", type_=DateTime(timezone=True)), bindparam("is_gold", type_=Boolean))


# the text an NER answer's spans must fit, if the assignment is the user's open lease
LEASED_PAYLOAD = (select(Item.payload).join(Assignment, Assignment.item_id == Item.id)
                  .where(Assignment.id == bindparam("b_aid"), Assignment.project_id == bindparam("b_pid"),
                         Assignment.user_id == bindparam("b_uid"), _is("leased")))
# PostgreSQL, in autocommit: the usual submission, and the usual request for the next item, as
# one statement each: one round trip and one transaction (services.queue_at_once). The
# submission stores the answer if the assignment is still the user's open lease, and only then
# goes on. Both hand back the lease the user holds (the first by id, as sql.HELD); else they
# lease a hidden gold item when the gold draw says so, or take a slot on the first item the
# user may take (``claim`` below, inline) and lease it. The slot is taken before the lease is
# inserted from it, and without ON CONFLICT: should a concurrent request of the same user have
# leased that item, the insert fails and the whole statement with it, so no slot is ever taken
# without its lease. The candidate is locked FOR NO KEY UPDATE (what the UPDATE of its slot
# takes anyway), not FOR UPDATE: the foreign-key checks of annotations and assignments take
# FOR KEY SHARE on their item at the end of the statement, and FOR UPDATE would block them,
# which deadlocked two annotators each holding the item the other had just answered
# (measured: 3 in ~63,000 submissions with 50 annotators). All parts see one snapshot, so the
# user's done count lacks the answer stored here (+ 1). No row of `task` (no item free at
# that instant, or none left): the caller asks the general way.
_PG_ANSWER = """answered AS (
    UPDATE assignments SET status = 'done', done_at = :b_now
    WHERE id = :b_aid AND project_id = :b_pid AND user_id = :b_uid AND stage = 'annotate' AND status = 'leased'
    RETURNING id, item_id),
annotation AS (
    INSERT INTO annotations (project_id, item_id, user_id, value, label, schema_version, lead_time, source,
                             assignment_id, meta, created_at)
    SELECT :b_pid, answered.item_id, :b_uid, :value, :label, :schema_version, :lead_time, 'human', answered.id,
           '{}', :b_now
    FROM answered RETURNING id),"""
_PG_LEASE = """
WITH /*answer*/
held AS (
    SELECT h.id, h.item_id, h.leased_until, h.reason FROM assignments AS h
    WHERE h.user_id = :b_uid AND h.project_id = :b_pid AND h.stage = 'annotate' AND h.status = 'leased'
      AND h.leased_until >= :b_now /*other_than_answered*/
    ORDER BY h.id LIMIT 1),
/*gold*/
candidate AS (
    SELECT cand.id FROM items AS cand
    WHERE cand.project_id = :b_pid AND cand."full" IS false AND cand.n_open < :b_k
      AND NOT EXISTS (SELECT 1 FROM assignments WHERE assignments.item_id = cand.id
                      AND assignments.user_id = :b_uid AND assignments.stage = 'annotate')
      AND NOT EXISTS (SELECT 1 FROM gold WHERE gold.item_id = cand.id)
      AND NOT EXISTS (SELECT 1 FROM held) /*no_gold_pick*/ /*after_answer*/
    ORDER BY cand./*key*/, cand.id LIMIT 1 FOR NO KEY UPDATE OF cand SKIP LOCKED),
slot AS (
    UPDATE items SET n_open = items.n_open + 1, "full" = items.n_open + 1 >= :b_k
    FROM candidate WHERE items.id = candidate.id AND items.n_open < :b_k
    RETURNING items.id),
picked AS (SELECT slot.id, false AS is_gold FROM slot /*or_gold_pick*/),
lease AS (
    INSERT INTO assignments (project_id, item_id, user_id, stage, status, reason, leased_until, is_gold, created_at)
    SELECT :b_pid, picked.id, :b_uid, 'annotate', 'leased', '', :leased_until, picked.is_gold, :b_now FROM picked
    RETURNING id, item_id, leased_until, reason),
task AS (SELECT * FROM lease UNION ALL SELECT * FROM held)
SELECT /*annotation_id*/ task.id, task.item_id, task.leased_until, task.reason, items.payload,
       CASE WHEN task.id IS NOT NULL THEN """ + _pg_prelabel("task.item_id") + """ END AS prelabel,
       CASE WHEN task.id IS NOT NULL THEN /*plus_one*/ """ + _pg_done(":b_uid", ":b_pid") + """ END AS done
FROM (SELECT 1) AS one LEFT JOIN task ON true LEFT JOIN items ON items.id = task.item_id
"""
# the gold draw came out true: a hidden gold item this user has not seen (as the general
# path's _claim_gold), outside the overlap, so no slot and no lock (every annotator gets each
# gold item once); a regular item only if none is left
_PG_GOLD_PICK = """gold_pick AS (
    SELECT cand.id FROM items AS cand JOIN gold ON gold.item_id = cand.id
    WHERE cand.project_id = :b_pid
      AND NOT EXISTS (SELECT 1 FROM assignments WHERE assignments.item_id = cand.id
                      AND assignments.user_id = :b_uid AND assignments.stage = 'annotate')
      AND NOT EXISTS (SELECT 1 FROM held) /*after_answer*/
    ORDER BY cand.queue_key LIMIT 1),"""


@cache
def pg_lease_at_once(order: str, answer: bool, gold: bool = False) -> Any:
    """The one-statement lease (``_PG_LEASE``) in queue order ``order``; with ``answer``, the
    submission of assignment ``b_aid`` comes first and the lease only if it was stored; with
    ``gold``, of a hidden gold item while the user has one left to see."""
    parts = {"gold": "", "no_gold_pick": "", "or_gold_pick": "", "key": "id" if order == "sequential" else "queue_key",
             "answer": "", "other_than_answered": "", "after_answer": "", "annotation_id": "", "plus_one": ""}
    if gold:
        parts.update(gold=_PG_GOLD_PICK, no_gold_pick="AND NOT EXISTS (SELECT 1 FROM gold_pick)",
                     or_gold_pick="UNION ALL SELECT gold_pick.id, true FROM gold_pick")
    if answer:
        parts.update(answer=_PG_ANSWER, other_than_answered="AND h.id <> :b_aid",
                     after_answer="AND EXISTS (SELECT 1 FROM annotation)",
                     annotation_id="(SELECT id FROM annotation) AS annotation_id,", plus_one="1 +")
    sql = _PG_LEASE
    for name, part in parts.items():  # in this order: a part may hold markers filled later
        sql = sql.replace(f"/*{name}*/", part)
    stmt = text(sql).bindparams(bindparam("b_now", type_=DateTime(timezone=True)),
                                bindparam("leased_until", type_=DateTime(timezone=True)))
    return stmt.bindparams(bindparam("label", type_=Text), bindparam("lead_time", type_=Float)) if answer else stmt


def seen_by(item_id: Any, user_id: Any) -> Any:
    """Whether the user was ever handed the item in the annotate stage (probes the unique index)."""
    return exists().where(Assignment.item_id == item_id, Assignment.user_id == user_id, Assignment.stage == STAGE)


@cache
def eligible(order: str, lock: bool, limit: int, in_batch: bool = False) -> Any:
    """Items this user (``b_uid``) may take next, in queue order; locked with SKIP LOCKED on PostgreSQL.

    ``in_batch``: only the items of batch ``b_batch`` (one with a due date). Selected from an
    alias of ``items``, so it can sit inside an UPDATE of ``items`` uncorrelated (``claim``).
    """
    cand = aliased(Item, name="cand")
    key = cand.id if order == "sequential" else cand.queue_key
    seen = seen_by(cand.id, bindparam("b_uid"))
    # n_open < k besides full: an item left with full = false above a lowered overlap would
    # otherwise come first for ever, and claim() would find no room in it every time
    q = (select(cand.id).where(cand.project_id == bindparam("b_pid"), cand.full.is_(False),
                               cand.n_open < bindparam("b_k"), ~seen, ~exists().where(Gold.item_id == cand.id))
         .order_by(key, cand.id).limit(limit))
    if in_batch:
        q = q.where(cand.batch_id == bindparam("b_batch"))
    return q.with_for_update(skip_locked=True, of=cand, key_share=True) if lock else q


@cache
def claim(order: str, lock: bool, in_batch: bool) -> Any:
    """Take a slot on the first eligible item in one statement; returns its id (or no row)."""
    first = eligible(order, lock, 1, in_batch).scalar_subquery()
    return (update(Item).where(Item.id == first, Item.n_open < bindparam("b_k"))
            .values(n_open=Item.n_open + 1, full=Item.n_open + 1 >= bindparam("b_k")).returning(Item.id))


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
