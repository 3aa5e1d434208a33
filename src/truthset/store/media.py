"""Queries on the ``media`` table: record an item's checked image, look it up by item id.

The rows come from ``truthset.data.media.MediaInfo.to_row()`` (plain dicts: the store knows
no other layer). An item keeps the first image recorded for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from truthset.core.keys import key_of_hash
from truthset.store.models import Batch, Item, Media, utcnow

_SLICE = 5000


def record_media(
    conn: Connection, project_id: int, rows: Sequence[tuple[int, dict[str, Any]]], now: datetime | None = None
) -> int:
    """Record ``(item id, media row)`` pairs for items that have no image yet; returns how many."""
    wanted: dict[int, dict[str, Any]] = {}
    for item_id, row in rows:
        wanted.setdefault(int(item_id), row)
    ids = sorted(wanted)
    have: set[int] = set()
    for start in range(0, len(ids), _SLICE):
        part = ids[start : start + _SLICE]
        have.update(conn.execute(select(Media.item_id).where(Media.item_id.in_(part))).scalars())
    at = now or utcnow()
    new = [{**wanted[i], "item_id": i, "project_id": project_id, "created_at": at} for i in ids if i not in have]
    for start in range(0, len(new), _SLICE):
        conn.execute(insert(Media), new[start : start + _SLICE])
    return len(new)


def media_of(conn: Connection, project_id: int, item_id: int) -> Any:
    """The media row of an item of this project, or None."""
    return conn.execute(select(Media).where(Media.item_id == item_id, Media.project_id == project_id)).first()


def items_without_media(conn: Connection, project_id: int, *, page: int = 1000) -> Iterator[list[Any]]:
    """Pages of (item id, payload dict, batch source, batch format) for items with no image."""
    last = 0
    while True:
        rows = conn.execute(
            select(Item.id, Item.payload, Item.content_hash, Batch.source, Batch.format)
            .outerjoin(Batch, Batch.id == Item.batch_id)
            .where(
                Item.project_id == project_id,
                Item.id > last,
                ~select(Media.item_id).where(Media.item_id == Item.id).exists(),
            )
            .order_by(Item.id)
            .limit(page)
        ).all()
        if not rows:
            return
        yield [(r.id, json.loads(r.payload), r.content_hash, r.source, r.format) for r in rows]
        last = rows[-1].id


def item_with_hash(conn: Connection, project_id: int, content_hash: str) -> int | None:
    """The item of this project with this content hash, if any (found through ix_items_content_key)."""
    found = conn.execute(
        select(Item.id).where(
            Item.project_id == project_id,
            Item.content_key == key_of_hash(content_hash),
            Item.content_hash == content_hash,
        )
    ).scalar()
    return None if found is None else int(found)


def set_content_hash(conn: Connection, item_id: int, content_hash: str) -> None:
    """A new content hash for an item (its image changed), with the key an import finds it by."""
    conn.execute(
        update(Item).where(Item.id == item_id).values(content_hash=content_hash, content_key=key_of_hash(content_hash))
    )


def count_without_media(conn: Connection, project_id: int) -> int:
    """Items of the project that have no recorded image."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(Item)
            .where(Item.project_id == project_id, ~select(Media.item_id).where(Media.item_id == Item.id).exists())
        ).scalar_one()
    )
