"""Handing a lease back without a skip (``POST /api/tasks/{id}/release``).

The leased assignment is deleted, not marked: the item is as if it had never been handed to
this annotator, its slot is given back (``statements.GIVE_BACK``) and anyone, this annotator
too, may be handed it again at once. (A skip, by contrast, records a reason and a data issue
and never hands the item to that annotator again; an expired lease waits its 30 minutes.) A
claimed re-annotation is offered to anyone again, as when its lease expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from truthset.core.errors import Conflict, NotFound
from truthset.store.models import Assignment
from truthset.store.queue import statements as sql
from truthset.store.queue.state import QueuePolicy


def release(conn: Connection, policy: QueuePolicy, user_id: int, assignment_id: int, now: datetime) -> int:
    """Give back ``user_id``'s lease ``assignment_id``; returns the item id. NotFound when it is
    not their assignment, Conflict when it is no longer leased (answered, skipped, expired)."""
    a = conn.execute(
        select(Assignment).where(Assignment.id == assignment_id, Assignment.project_id == policy.project_id)
    ).first()
    if a is None or a.user_id != user_id:
        raise NotFound(f"assignment {assignment_id} is not yours; nothing to release")
    gone = conn.execute(
        delete(Assignment).where(
            Assignment.id == assignment_id, Assignment.user_id == user_id, Assignment.status == "leased"
        )
    ).rowcount
    if not gone:
        raise Conflict(f"assignment {assignment_id} is {a.status}, not leased; nothing to release")
    if a.reason:
        conn.execute(
            insert(Assignment).values(
                project_id=policy.project_id,
                item_id=a.item_id,
                user_id=None,
                stage=sql.STAGE,
                status="pending",
                reason=a.reason,
                created_at=now,
            )
        )
    elif not a.is_gold:
        conn.execute(sql.GIVE_BACK, {"b_item": a.item_id, "b_k": policy.overlap})
    return int(a.item_id)
