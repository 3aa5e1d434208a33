"""Validation rules (truthset.yaml ``rules:``) run as SQL over the items' payload JSON.

Most rule kinds are one query that returns only the violating items, so a project of a million
items is checked without reading it into memory. ``range`` and ``regex`` need a number parse or
a Python regular expression: :func:`field_pages` streams the field's values in pages of ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, or_, select

from truthset.core.config import Rule
from truthset.store.models import Annotation, Item
from truthset.store.repo import current_annotations_query
from truthset.store.repo.findings import payload_field, payload_json_type

#: rule kinds :func:`violations` answers in one query
SQL_KINDS = ("required", "type", "allowed", "unique", "max_length", "min_text_length", "label_in_schema")


def _items(project_id: int) -> Any:
    return select(Item.id, Item.external_id).where(Item.project_id == project_id)


def violations(tx: Connection, project_id: int, rule: Rule, *, schema_labels: Sequence[str]) -> Sequence[Any]:
    """(item id, external id) of the items that break ``rule`` (a kind in ``SQL_KINDS``), in id
    order. A missing (or JSON null) value breaks only ``required``; the other kinds check the
    values that are there."""
    q = _items(project_id)
    if rule.kind == "label_in_schema":
        cur = current_annotations_query(project_id).where(Annotation.label.is_not(None)).subquery()
        bad = select(cur.c.item_id).where(cur.c.label.not_in(list(schema_labels)))
        return tx.execute(q.where(Item.id.in_(bad)).order_by(Item.id)).all()
    assert rule.field is not None  # the config refuses a rule without a field (but label_in_schema)
    value = payload_field(tx, rule.field)
    if rule.kind == "required":
        q = q.where(or_(value.is_(None), func.trim(value) == ""))
    elif rule.kind == "type":
        kind = payload_json_type(tx, rule.field)
        wanted = ["integer", "number"] if rule.type == "number" else [rule.type]
        q = q.where(kind.is_not(None), kind != "null", kind.not_in(wanted))
    elif rule.kind == "allowed":
        allowed = [_as_text(v) for v in rule.values or []]
        q = q.where(value.is_not(None), value.not_in(allowed))
    elif rule.kind == "unique":
        repeated = (
            select(value)
            .where(Item.project_id == project_id, value.is_not(None))
            .group_by(value)
            .having(func.count() > 1)
        )
        q = q.where(value.in_(repeated))
    elif rule.kind == "max_length":
        q = q.where(func.length(value) > int(rule.length or 0))
    elif rule.kind == "min_text_length":
        q = q.where(value.is_not(None), func.length(func.trim(value)) < int(rule.length or 0))
    else:
        raise ValueError(f"rule kind {rule.kind!r} is not checked in SQL; use field_pages")
    return tx.execute(q.order_by(Item.id)).all()


def _as_text(v: str | int | float | bool) -> str:
    """A value as the SQL text of a JSON value reads (true/false for booleans)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def field_pages(tx: Connection, project_id: int, name: str, *, page: int = 20000) -> Iterator[Sequence[Any]]:
    """Pages of (item id, external id, value as text) of the items that have the field, in id
    order (keyset pagination: bounded memory for any size)."""
    value = payload_field(tx, name)
    last = 0
    while True:
        rows = tx.execute(
            select(Item.id, Item.external_id, value)
            .where(Item.project_id == project_id, Item.id > last, value.is_not(None))
            .order_by(Item.id)
            .limit(page)
        ).all()
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])
