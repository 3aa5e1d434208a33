"""Listing items and pulling annotations for the API, with gold kept to admins.

Gold answers given as annotations (Label Studio ``ground_truth``) are left out of every
listing and filter unless the caller may see gold (``with_gold``: admins), so that a
reviewer, who may annotate too, cannot look up the answer of an item before it is handed
to them as hidden gold.
"""

from __future__ import annotations

import json
from typing import Any

from truthset.services.projects import Project
from truthset.store.repo import items as repo_items


def list_items(project: Project, *, after: int = 0, limit: int = 50, batch: int | None = None,
               label: str | None = None, with_gold: bool = False) -> dict[str, Any]:
    """Items in id order (keyset pagination: pass the last id as ``after``).

    ``label``: only items with an annotation of this label (gold answers count only
    ``with_gold``).
    """
    with project.store.read() as tx:
        rows = repo_items.items_page(tx, project.id, after=after, limit=limit, batch=batch, label=label,
                                     with_gold=with_gold)
    items = [{"item_id": r.id, "external_id": r.external_id, "data": json.loads(r.payload), "batch": r.batch_id,
              "assigned": r.n_open} for r in rows]
    return {"items": items, "next_after": items[-1]["item_id"] if len(items) == limit else None}


def pull_annotations(project: Project, *, after: int = 0, limit: int = 1000,
                     with_gold: bool = False) -> dict[str, Any]:
    """Current annotations in id order (pass the last id as ``after``); gold answers only ``with_gold``."""
    with project.store.read() as tx:
        rows = repo_items.annotations_page(tx, project.id, after=after, limit=limit, with_gold=with_gold)
    out = [{"annotation_id": r.id, "item_id": r.item_id, "annotator": r.annotator, "value": json.loads(r.value),
            "source": r.source, "schema_version": r.schema_version, "lead_time": r.lead_time} for r in rows]
    return {"annotations": out, "next_after": out[-1]["annotation_id"] if len(out) == limit else None}


def gold_answers(project: Project) -> list[dict[str, Any]]:
    """Every gold item's answer (admins only: the route checks the role)."""
    with project.store.read() as tx:
        return [{"item_id": i, "value": json.loads(v)} for i, v in repo_items.gold_answers(tx, project.id)]
