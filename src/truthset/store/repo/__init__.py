"""Repository functions over the store: small, explicit queries the services compose.

Every function takes a SQLAlchemy ``Connection`` or ``Session`` from the caller, who owns
the transaction, so a service can make several calls atomic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import aliased

from truthset.store.models import (
    Annotation,
    Assignment,
    Batch,
    Gold,
    Item,
    Project,
    SchemaVersion,
    User,
    as_utc,
    utcnow,
)


def get_project(conn: Connection, name: str) -> Any:
    return conn.execute(select(Project).where(Project.name == name)).first()


def create_project(conn: Connection, *, name: str, task: str, config: dict[str, Any]) -> int:
    res = conn.execute(
        insert(Project).values(name=name, task=task, config=json.dumps(config), schema_version=0, created_at=utcnow())
    )
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def latest_schema(conn: Connection, project_id: int) -> Any:
    return conn.execute(
        select(SchemaVersion)
        .where(SchemaVersion.project_id == project_id)
        .order_by(SchemaVersion.version.desc())
        .limit(1)
    ).first()


def schema_versions(conn: Connection, project_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(SchemaVersion).where(SchemaVersion.project_id == project_id).order_by(SchemaVersion.version)
        )
    )


def next_schema_version(conn: Connection, project_id: int) -> int:
    """The number the project's next schema version will get (within this transaction)."""
    latest = latest_schema(conn, project_id)
    return 1 if latest is None else int(latest.version) + 1


def add_schema_version(conn: Connection, *, project_id: int, schema_json: str, hash_: str, note: dict[str, Any]) -> int:
    """Append a new immutable schema version and make it the project's current one."""
    version = next_schema_version(conn, project_id)
    conn.execute(
        insert(SchemaVersion).values(
            project_id=project_id,
            version=version,
            schema=schema_json,
            hash=hash_,
            note=json.dumps(note),
            created_at=utcnow(),
        )
    )
    conn.execute(update(Project).where(Project.id == project_id).values(schema_version=version))
    return version


def ensure_users(conn: Connection, names: Iterable[str], *, role: str = "annotator") -> dict[str, int]:
    """Return name -> id, creating users (without a password: they cannot log in) as needed."""
    wanted = set(names)
    if not wanted:
        return {}
    found = dict(conn.execute(select(User.name, User.id).where(User.name.in_(wanted))).all())
    for name in sorted(wanted - set(found)):
        res = conn.execute(insert(User).values(name=name, role=role, created_at=utcnow()))
        found[name] = int(res.inserted_primary_key[0])  # type: ignore[index]
    return found


def current_annotations_query(project_id: int, *, with_gold: bool = True) -> Any:
    """Select current (not superseded) annotations of a project with annotator names.

    ``with_gold=False`` leaves out gold answers given as annotations (``ground_truth``): what
    anyone but an admin may see.
    """
    newer = aliased(Annotation)
    q = (
        select(Annotation, User.name.label("annotator"))
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project_id)
        .where(~select(newer.id).where(newer.supersedes_id == Annotation.id).exists())
    )
    return q if with_gold else q.where(Annotation.ground_truth.is_(False))


def iter_items(conn: Connection, project_id: int, *, page: int = 5000) -> Iterator[list[Any]]:
    """Pages of items in id order (keyset pagination: bounded memory for any size)."""
    last = 0
    while True:
        rows = list(
            conn.execute(
                select(Item).where(Item.project_id == project_id, Item.id > last).order_by(Item.id).limit(page)
            )
        )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def annotations_for_items(
    conn: Connection, project_id: int, item_ids: list[int], *, with_gold: bool = True, history: bool = False
) -> list[Any]:
    """Current annotations (with annotator names) of the given items, by item then id.

    ``history``: every annotation, superseded ones too, each with a ``current`` flag.
    Filtering on the id list (not on ``project_id``) lets the item index drive the query.
    ``with_gold=False`` leaves out gold answers given as annotations (for non-admins).
    """
    newer = aliased(Annotation)
    superseded = select(newer.id).where(newer.supersedes_id == Annotation.id).exists()
    q = (
        select(Annotation, User.name.label("annotator"), (~superseded).label("current"))
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.item_id.in_(item_ids))
        .order_by(Annotation.item_id, Annotation.id)
    )
    if not with_gold:
        q = q.where(Annotation.ground_truth.is_(False))
    if not history:
        q = q.where(~superseded)
    return list(conn.execute(q))


def labelstudio_names_by_batch(conn: Connection, project_id: int) -> dict[int, dict[str, str]]:
    """The Label Studio control names each batch's file used (from its import report)."""
    out: dict[int, dict[str, str]] = {}
    for batch_id, report in conn.execute(select(Batch.id, Batch.report).where(Batch.project_id == project_id)):
        try:
            names = json.loads(report or "{}").get("labelstudio") or {}
        except (json.JSONDecodeError, AttributeError):
            continue
        if names.get("from_name"):
            out[int(batch_id)] = {k: v for k, v in names.items() if v}
    return out


def gold_for_items(conn: Connection, project_id: int, item_ids: list[int]) -> dict[int, str]:
    rows = conn.execute(select(Gold.item_id, Gold.value).where(Gold.item_id.in_(item_ids)))
    return dict(rows.all())


def find_batch(conn: Connection, project_id: int, sha256: str, options: str) -> Any:
    return conn.execute(
        select(Batch).where(
            Batch.project_id == project_id,
            Batch.file_sha256 == sha256,
            Batch.options == options,
            Batch.status == "committed",
        )
    ).first()


def status_counts(conn: Connection, project_id: int) -> dict[str, Any]:
    """Counts by batch, label, annotator, source and assignment stage/status."""
    items = conn.execute(select(func.count()).select_from(Item).where(Item.project_id == project_id)).scalar_one()
    cur = current_annotations_query(project_id).subquery()
    annotations = conn.execute(select(func.count()).select_from(cur)).scalar_one()
    by_source: dict[str, int] = dict(conn.execute(select(cur.c.source, func.count()).group_by(cur.c.source)).all())
    by_annotator: dict[str, int] = dict(
        conn.execute(
            select(cur.c.annotator, func.count()).group_by(cur.c.annotator).order_by(func.count().desc())
        ).all()
    )
    by_label_rows = conn.execute(
        select(cur.c.label, func.count())
        .where(cur.c.label.is_not(None))
        .group_by(cur.c.label)
        .order_by(func.count().desc())
    ).all()
    by_label: dict[str, int] = dict(by_label_rows)
    multi = conn.execute(select(cur.c.value).where(cur.c.label.is_(None)))
    for (value,) in multi:
        parsed = json.loads(value)
        if isinstance(parsed, list):
            for v in parsed:
                name = v["label"] if isinstance(v, dict) else v
                by_label[name] = by_label.get(name, 0) + 1
    items_annotated = conn.execute(select(func.count(func.distinct(cur.c.item_id)))).scalar_one()
    open_by_batch = dict(
        conn.execute(
            select(Item.batch_id, func.count())
            .where(Item.project_id == project_id, Item.full.is_(False))
            .group_by(Item.batch_id)
        ).all()
    )
    batches = [
        {
            "batch": b.id,
            "source": b.source,
            "format": b.format,
            "rows": b.rows_read,
            "items_added": b.items_added,
            "annotations_added": b.annotations_added,
            "duplicates": b.duplicates,
            "rejected": b.rejected,
            "created_at": b.created_at.isoformat(),
            # items still short of the overlap (counting open leases), and when they are due
            "items_open": int(open_by_batch.get(b.id, 0)),
            "due_at": None if b.due_at is None else as_utc(b.due_at).isoformat(),
        }
        for b in conn.execute(select(Batch).where(Batch.project_id == project_id).order_by(Batch.id))
    ]
    stages: dict[str, dict[str, int]] = {}
    for stage, status, n in conn.execute(
        select(Assignment.stage, Assignment.status, func.count())
        .where(Assignment.project_id == project_id)
        .group_by(Assignment.stage, Assignment.status)
    ):
        stages.setdefault(stage, {})[status] = n
    gold = conn.execute(select(func.count()).select_from(Gold).where(Gold.project_id == project_id)).scalar_one()
    return {
        "items": items,
        "items_annotated": items_annotated,
        "annotations": annotations,
        "gold_items": gold,
        "by_batch": batches,
        "by_label": dict(sorted(by_label.items(), key=lambda kv: -kv[1])),
        "by_annotator": by_annotator,
        "by_source": by_source,
        "by_stage": stages,
    }


def items_full(conn: Connection, project_id: int) -> int:
    """Items that have all the annotations the overlap asks for (leased or done)."""
    return int(
        conn.execute(
            select(func.count()).select_from(Item).where(Item.project_id == project_id, Item.full.is_(True))
        ).scalar_one()
    )
