"""Label schema changes that keep every annotation: rename, merge, split, and checks.

Annotations are never edited in place. A migration records a new schema version and
writes, for each affected current annotation, a new row (source ``migration``) whose
``supersedes_id`` points at the old one, so the full history stays queryable. A split
cannot be decided automatically, so it leaves the old annotations as they are and queues
the affected items for re-annotation.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select, update

from truthset.core.errors import SchemaError
from truthset.core.schema import PALETTE, Finding, Label, LabelSchema, check_schema
from truthset.data.records import canonical_json
from truthset.services.projects import Project, record_schema
from truthset.store import repo
from truthset.store.models import Annotation, Assignment, Gold, SchemaVersion, utcnow


def _map_value(value: Any, mapping: dict[str, str]) -> Any:
    """Apply a label mapping to a stored value (label, list of labels, or spans)."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return [{**s, "label": mapping.get(s["label"], s["label"])} for s in value]
        return sorted({mapping.get(v, v) for v in value})
    return value


def _mentions(value: Any, names: set[str]) -> bool:
    if isinstance(value, str):
        return value in names
    if isinstance(value, list):
        return any((v.get("label") if isinstance(v, dict) else v) in names for v in value)
    return False


def _migrate_annotations(conn: Connection, project: Project, mapping: dict[str, str], version: int) -> int:
    """Write superseding rows for every current annotation that uses a mapped label."""
    names = set(mapping)
    now = utcnow()
    count = 0
    batch: list[dict[str, Any]] = []
    rows = conn.execute(repo.current_annotations_query(project.id).order_by(Annotation.id)).fetchall()
    for a in rows:
        value = json.loads(a.value)
        if not _mentions(value, names):
            continue
        new = _map_value(value, mapping)
        batch.append({
            "project_id": project.id, "item_id": a.item_id, "user_id": a.user_id,
            "value": canonical_json(new),
            "label": new if isinstance(new, str) else None, "schema_version": version,
            "lead_time": a.lead_time, "source": "migration", "batch_id": a.batch_id,
            "supersedes_id": a.id, "meta": a.meta, "created_at": now,
        })
        count += 1
    for start in range(0, len(batch), 5000):
        conn.execute(insert(Annotation), batch[start : start + 5000])
    for g in conn.execute(select(Gold).where(Gold.project_id == project.id)).fetchall():
        value = json.loads(g.value)
        if _mentions(value, names):
            new = _map_value(value, mapping)
            conn.execute(
                update(Gold).where(Gold.item_id == g.item_id).values(
                    value=canonical_json(new),
                    label=new if isinstance(new, str) else None,
                )
            )
    return count


def _require(schema: LabelSchema, *names: str) -> None:
    missing = [n for n in names if schema.label(n) is None]
    if missing:
        raise SchemaError(f"label(s) {missing} are not in the schema; it has {schema.names}")


def _commit(project: Project, schema: LabelSchema, note: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    with project.engine.begin() as conn:
        version = record_schema(project, schema, note, conn)
        migrated = _migrate_annotations(conn, project, mapping, version) if mapping else 0
        queued = 0
        if note["op"] == "split":
            queued = _queue_split(conn, project, note["label"], note["into"], version)
    project.save_config(project.config.model_copy(update={"schema_": schema}))
    return {"version": version, "annotations_migrated": migrated, "items_queued": queued, **note}


def rename_label(project: Project, old: str, new: str) -> dict[str, Any]:
    """Rename ``old`` to ``new`` everywhere; definitions, examples and hotkey move with it."""
    schema = project.config.schema.model_copy(deep=True)
    _require(schema, old)
    if schema.label(new) is not None:
        raise SchemaError(f"label {new!r} already exists; to combine the two use 'truthset schema merge {old} {new} --into {new}'")
    for i, lab in enumerate(schema.labels):
        if lab.name == old:
            schema.labels[i] = lab.model_copy(update={"name": new})
    return _commit(project, schema, {"op": "rename", "from": old, "to": new}, {old: new})


def merge_labels(project: Project, sources: list[str], into: str) -> dict[str, Any]:
    """Merge ``sources`` into ``into`` (an existing label, or a new one built from them)."""
    schema = project.config.schema.model_copy(deep=True)
    if len(sources) < 1:
        raise SchemaError("name at least one label to merge")
    _require(schema, *sources)
    parts = [schema.label(s) for s in sources]
    target = schema.label(into)
    if target is None:
        first = parts[0]
        assert first is not None
        target = Label(
            name=into,
            definition=" / ".join(f"{p.name}: {p.definition}" for p in parts if p and p.definition),
            include=[x for p in parts if p for x in p.include],
            exclude=[x for p in parts if p for x in p.exclude],
            hotkey=first.hotkey, color=first.color,
        )
        idx = schema.names.index(sources[0])
        schema.labels.insert(idx, target)
    schema.labels = [lab for lab in schema.labels if lab.name == into or lab.name not in sources]
    mapping = {s: into for s in sources if s != into}
    return _commit(project, schema, {"op": "merge", "from": sources, "into": into}, mapping)


def split_label(project: Project, label: str, into: list[str]) -> dict[str, Any]:
    """Replace ``label`` by the labels ``into`` and queue its items for re-annotation."""
    schema = project.config.schema.model_copy(deep=True)
    _require(schema, label)
    if len(into) < 2:
        raise SchemaError("a split needs at least two new labels, e.g. --into B C")
    clash = [n for n in into if schema.label(n) is not None and n != label]
    if clash:
        raise SchemaError(f"label(s) {clash} already exist; pick new names or use merge")
    old = schema.label(label)
    assert old is not None
    idx = schema.names.index(label)
    used_keys = {lab.hotkey for lab in schema.labels if lab.name != label}
    new_labels = []
    for k, name in enumerate(into):
        key = old.hotkey if k == 0 else next((str(d) for d in range(1, 10) if str(d) not in used_keys), "")
        used_keys.add(key)
        new_labels.append(Label(name=name, definition=f"Split from {label!r}: {old.definition}".strip(),
                                hotkey=key, color=PALETTE[(idx + k) % len(PALETTE)] if k else old.color))
    schema.labels[idx : idx + 1] = new_labels
    return _commit(project, schema, {"op": "split", "label": label, "into": into}, {})


def _queue_split(conn: Connection, project: Project, label: str, into: list[str], version: int) -> int:
    items = set()
    for a in conn.execute(repo.current_annotations_query(project.id)).fetchall():
        if _mentions(json.loads(a.value), {label}):
            items.add(a.item_id)
    now = utcnow()
    reason = f"label {label!r} was split into {', '.join(into)} (schema v{version}); annotate again"
    rows = [{"project_id": project.id, "item_id": i, "user_id": None, "stage": "annotate",
             "status": "pending", "reason": reason, "created_at": now} for i in sorted(items)]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(Assignment), rows[start : start + 5000])
    project.queue_state.reannotations_changed()  # the queue looks again at once
    return len(rows)


def check(project: Project) -> list[Finding]:
    """:func:`truthset.core.schema.check_schema` with the labels actually used in the data."""
    with project.engine.connect() as conn:
        used: set[str] = set()
        for a in conn.execute(repo.current_annotations_query(project.id)).fetchall():
            value = json.loads(a.value)
            if isinstance(value, str):
                used.add(value)
            elif isinstance(value, list):
                used.update(v["label"] if isinstance(v, dict) else v for v in value)
        pending = {
            json.loads(n)["label"]
            for (n,) in conn.execute(select(SchemaVersion.note).where(SchemaVersion.project_id == project.id))
            if json.loads(n or "{}").get("op") == "split"
        }
    return check_schema(project.config.schema, data_labels=used, pending=pending)
