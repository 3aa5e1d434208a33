"""Label schema changes that keep every annotation: rename, merge, split, and checks.

Annotations are never edited in place. A migration records a new schema version and
writes, for each affected current annotation, a new row (source ``migration``) whose
``supersedes_id`` points at the old one, so the full history stays queryable. A split
cannot be decided automatically, so it leaves the old annotations as they are and queues
the affected items for re-annotation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from truthset.core.errors import SchemaError
from truthset.core.schema import (
    PALETTE,
    Finding,
    Label,
    LabelSchema,
    check_schema,
    free_hotkeys,
    name_key,
    require_unique_names,
)
from truthset.data.records import canonical_json
from truthset.services.projects import Project, record_schema
from truthset.store.models import utcnow
from truthset.store.repo import schema as repo_schema
from truthset.store.store import Transaction


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


def _migrate_annotations(tx: Transaction, project: Project, mapping: dict[str, str], version: int) -> int:
    """Write superseding rows for every current annotation that uses a mapped label."""
    names = set(mapping)
    now = utcnow()
    count = 0
    batch: list[dict[str, Any]] = []
    rows = repo_schema.current_annotations(tx, project.id, in_id_order=True)
    for a in rows:
        value = json.loads(a.value)
        if not _mentions(value, names):
            continue
        new = _map_value(value, mapping)
        batch.append(
            {
                "project_id": project.id,
                "item_id": a.item_id,
                "user_id": a.user_id,
                "value": canonical_json(new),
                "label": new if isinstance(new, str) else None,
                "schema_version": version,
                "lead_time": a.lead_time,
                "source": "migration",
                "batch_id": a.batch_id,
                "supersedes_id": a.id,
                "meta": a.meta,
                "created_at": now,
            }
        )
        count += 1
    repo_schema.add_annotations(tx, batch)
    for g in repo_schema.gold_rows(tx, project.id):
        value = json.loads(g.value)
        if _mentions(value, names):
            new = _map_value(value, mapping)
            repo_schema.set_gold(tx, g.item_id, value=canonical_json(new), label=new if isinstance(new, str) else None)
    return count


def _require(schema: LabelSchema, *names: str, used: set[str] | None = None) -> None:
    """Every name must be in the schema (or, when ``used`` is given, at least in the data)."""
    missing = [n for n in names if schema.label(n) is None and n not in (used or set())]
    if missing:
        raise SchemaError(f"label(s) {missing} are not in the schema; it has {schema.names}")


def _refuse_same_name(schema: LabelSchema, new: str, *, allowed: tuple[str, ...] = ()) -> None:
    """Refuse ``new`` when another label already has that name by :func:`name_key`."""
    for lab in schema.labels:
        if lab.name not in allowed and name_key(lab.name) == name_key(new):
            raise SchemaError(
                f"label {new!r} is the same name as the existing {lab.name!r} (names are compared "
                f"ignoring case, Unicode form and spacing); to combine them use "
                f"'truthset schema merge ... --into {lab.name}'"
            )


def _commit(project: Project, schema: LabelSchema, note: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    require_unique_names(schema)  # before anything is written
    with project.store.write() as tx:
        version = record_schema(project, schema, note, tx)
        migrated = _migrate_annotations(tx, project, mapping, version) if mapping else 0
        queued = 0
        if note["op"] == "split":
            queued = _queue_split(tx, project, note["label"], note["into"], version)
    project.save_config(project.config.model_copy(update={"schema_": schema}))
    return {"version": version, "annotations_migrated": migrated, "items_queued": queued, **note}


def rename_label(project: Project, old: str, new: str) -> dict[str, Any]:
    """Rename ``old`` to ``new`` everywhere; definitions, examples and hotkey move with it."""
    schema = project.config.schema.model_copy(deep=True)
    _require(schema, old)
    if schema.label(new) is not None:
        raise SchemaError(
            f"label {new!r} already exists; to combine the two use 'truthset schema merge {old} {new} --into {new}'"
        )
    _refuse_same_name(schema, new, allowed=(old,))
    for i, lab in enumerate(schema.labels):
        if lab.name == old:
            schema.labels[i] = lab.model_copy(update={"name": new})
    return _commit(project, schema, {"op": "rename", "from": old, "to": new}, {old: new})


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _names_another(text: str, names: set[str], own: str) -> bool:
    """Whether ``text`` mentions (as a whole word, any case) one of ``names`` other than ``own``."""
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, flags=re.IGNORECASE) for n in names if n != own)


def _merged_label(into: str, target: Label | None, parts: list[Label]) -> tuple[Label, list[str]]:
    """The label ``into`` after absorbing ``parts``, and the exclusions that no longer hold.

    Examples of every part join the target's. Tie-break rules are all kept, each prefixed by
    the label it came from. An exclusion is dropped when it is now an example of the merged
    label, or when it names another of the merged labels (it told two labels apart that are
    now one); the dropped ones are returned so the caller can report them.
    """
    merged = {p.name for p in parts} | {into}
    base = target or Label(
        name=into,
        definition=" / ".join(f"{p.name}: {p.definition}" for p in parts if p.definition),
        hotkey=parts[0].hotkey if parts else "",
        color=parts[0].color if parts else "",
    )
    own = [base] if target is not None else []
    include = _unique([x for lab in own + parts for x in lab.include])
    exclude, dropped = [], []
    for lab in own + parts:
        for x in lab.exclude:
            if x in include or _names_another(x, merged, lab.name):
                dropped.append(f"{lab.name}: {x}")
            elif x not in exclude:
                exclude.append(x)
    rules = [target.tie_break] if target is not None and target.tie_break else []
    rules += [f"{p.name}: {p.tie_break}" for p in parts if p.tie_break]
    return base.model_copy(
        update={"include": include, "exclude": exclude, "tie_break": " / ".join(_unique(rules))}
    ), dropped


def merge_labels(project: Project, sources: list[str], into: str) -> dict[str, Any]:
    """Merge ``sources`` into ``into`` (an existing label, or a new one built from them).

    A source may also be a label that is used in annotations but no longer in the schema
    (e.g. one of two names that differed only by case, deleted from ``truthset.yaml``).
    """
    schema = project.config.schema.model_copy(deep=True)
    if len(sources) < 1:
        raise SchemaError("name at least one label to merge")
    _require(schema, *sources, used=_used_labels(project) - set(schema.names))
    target = schema.label(into)
    if target is None:
        _refuse_same_name(schema, into, allowed=tuple(sources))
    parts = [lab for s in sources if s != into and (lab := schema.label(s)) is not None]
    label, dropped = _merged_label(into, target, parts)
    if target is None:
        at = next((schema.names.index(s) for s in sources if schema.label(s) is not None), len(schema.labels))
        schema.labels.insert(at, label)
    else:
        schema.labels[schema.names.index(into)] = label
    schema.labels = [lab for lab in schema.labels if lab.name == into or lab.name not in sources]
    mapping = {s: into for s in sources if s != into}
    note: dict[str, Any] = {"op": "merge", "from": sources, "into": into}
    if dropped:
        note["exclusions_dropped"] = dropped
    return _commit(project, schema, note, mapping)


def split_label(project: Project, label: str, into: list[str]) -> dict[str, Any]:
    """Replace ``label`` by the labels ``into`` and queue its items for re-annotation."""
    schema = project.config.schema.model_copy(deep=True)
    _require(schema, label)
    if len(into) < 2:
        raise SchemaError("a split needs at least two new labels, e.g. --into B C")
    clash = [n for n in into if schema.label(n) is not None and n != label]
    if clash:
        raise SchemaError(f"label(s) {clash} already exist; pick new names or use merge")
    for name in into:
        _refuse_same_name(schema, name, allowed=(label,))
    old = schema.label(label)
    assert old is not None
    idx = schema.names.index(label)
    spare = free_hotkeys(lab.hotkey for lab in schema.labels)  # the first new label takes the old key
    new_labels = []
    for k, name in enumerate(into):
        key = old.hotkey if k == 0 else next(spare, "")
        new_labels.append(
            Label(
                name=name,
                definition=f"Split from {label!r}: {old.definition}".strip(),
                hotkey=key,
                color=PALETTE[(idx + k) % len(PALETTE)] if k else old.color,
            )
        )
    schema.labels[idx : idx + 1] = new_labels
    return _commit(project, schema, {"op": "split", "label": label, "into": into}, {})


def _queue_split(tx: Transaction, project: Project, label: str, into: list[str], version: int) -> int:
    items = set()
    for a in repo_schema.current_annotations(tx, project.id):
        if _mentions(json.loads(a.value), {label}):
            items.add(a.item_id)
    now = utcnow()
    reason = f"label {label!r} was split into {', '.join(into)} (schema v{version}); annotate again"
    rows = [
        {
            "project_id": project.id,
            "item_id": i,
            "user_id": None,
            "stage": "annotate",
            "status": "pending",
            "reason": reason,
            "created_at": now,
        }
        for i in sorted(items)
    ]
    repo_schema.add_assignments(tx, rows)
    project.queue_state.reannotations_changed()  # the queue looks again at once
    return len(rows)


def _used_labels(project: Project) -> set[str]:
    """Every label name in the project's current annotations."""
    used: set[str] = set()
    with project.store.read() as tx:
        for a in repo_schema.current_annotations(tx, project.id):
            value = json.loads(a.value)
            if isinstance(value, str):
                used.add(value)
            elif isinstance(value, list):
                used.update(v["label"] if isinstance(v, dict) else v for v in value)
    return used


def check(project: Project) -> list[Finding]:
    """:func:`truthset.core.schema.check_schema` with the labels actually used in the data."""
    used = _used_labels(project)
    with project.store.read() as tx:
        notes = repo_schema.schema_notes(tx, project.id)
    pending = {json.loads(n)["label"] for n in notes if n and json.loads(n).get("op") == "split"}
    return check_schema(project.config.schema, data_labels=used, pending=pending)
