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


def list_items(
    project: Project,
    *,
    after: int = 0,
    limit: int = 50,
    batch: int | None = None,
    label: str | None = None,
    with_gold: bool = False,
    text: str | None = None,
    annotator: str | None = None,
    offset: int = 0,
    finding: str | None = None,
) -> dict[str, Any]:
    """Items in id order (keyset pagination: pass the last id as ``after``; or ``offset``),
    with ``total``, the number of items the filters keep on all pages.

    ``label``: only items with an annotation of this label; ``annotator``: only items that
    annotator labelled (gold answers count only ``with_gold``); ``text``: only items whose
    content contains it, in any case; ``batch``: one import batch; ``finding``: only items an
    open data issue of that kind names (``skip:ambiguous``, a QC finding's kind).
    """
    from truthset.store.repo import dashboard as repo_dash

    with project.store.read() as tx:
        ids = None if finding is None else repo_dash.finding_items(tx, project.id, finding)
        rows = repo_items.items_page(
            tx,
            project.id,
            after=after,
            limit=limit,
            offset=offset,
            batch=batch,
            label=label,
            text=text,
            annotator=annotator,
            with_gold=with_gold,
            ids=ids,
        )
        total = repo_items.items_count(
            tx, project.id, batch=batch, label=label, text=text, annotator=annotator, with_gold=with_gold, ids=ids
        )
    items = [
        {
            "item_id": r.id,
            "external_id": r.external_id,
            "data": json.loads(r.payload),
            "batch": r.batch_id,
            "assigned": r.n_open,
        }
        for r in rows
    ]
    return {"items": items, "total": total, "next_after": items[-1]["item_id"] if len(items) == limit else None}


def pull_annotations(project: Project, *, after: int = 0, limit: int = 1000, with_gold: bool = False) -> dict[str, Any]:
    """Current annotations in id order (pass the last id as ``after``); gold answers only ``with_gold``."""
    with project.store.read() as tx:
        rows = repo_items.annotations_page(tx, project.id, after=after, limit=limit, with_gold=with_gold)
    out = [
        {
            "annotation_id": r.id,
            "item_id": r.item_id,
            "annotator": r.annotator,
            "value": json.loads(r.value),
            "source": r.source,
            "schema_version": r.schema_version,
            "lead_time": r.lead_time,
        }
        for r in rows
    ]
    return {"annotations": out, "next_after": out[-1]["annotation_id"] if len(out) == limit else None}


def gold_answers(project: Project) -> list[dict[str, Any]]:
    """Every gold item's answer (admins only: the route checks the role)."""
    with project.store.read() as tx:
        return [{"item_id": i, "value": json.loads(v)} for i, v in repo_items.gold_answers(tx, project.id)]


def item_history(project: Project, item_id: int, *, show_names: bool = True, with_gold: bool = False) -> dict[str, Any]:
    """An item as the review page shows it (:func:`truthset.services.review.item_detail`), plus
    ``history``: every annotation ever given, superseded ones too, oldest first, each with its
    time and whether it is still current. Gold answers only ``with_gold`` (admins)."""
    from truthset.services.review import item_detail
    from truthset.store import repo

    detail = item_detail(project, item_id, show_names=show_names, with_gold=with_gold)
    with project.store.read() as tx:
        rows = repo.annotations_for_items(tx, project.id, [item_id], with_gold=with_gold, history=True)
    names: dict[str, str] = {}
    detail["history"] = [
        {
            "annotation_id": a.id,
            "annotator": a.annotator if show_names else names.setdefault(a.annotator, f"annotator {len(names) + 1}"),
            "value": json.loads(a.value),
            "source": a.source,
            "schema_version": a.schema_version,
            "lead_time": a.lead_time,
            "created_at": a.created_at.isoformat(),
            "superseded": not a.current,
        }
        for a in rows
    ]
    return detail


def finding_kinds(project: Project) -> list[str]:
    """The kinds of the project's open data issues (what the item browser's finding filter offers)."""
    from truthset.store.repo import dashboard as repo_dash

    with project.store.read() as tx:
        return repo_dash.finding_kinds(tx, project.id)
