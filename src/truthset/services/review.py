"""Review and adjudication: items that need a second look, and the verdicts on them.

An item needs review when its current judgements disagree, when an annotator's answer on a
gold item is wrong, or when it was skipped as a data problem — until a reviewer has decided
it. A verdict is recorded as a ``Review`` row; a correction also writes the adjudicated label
as an annotation (source ``review``) so it joins the history instead of replacing it.
"""

from __future__ import annotations

import json
from typing import Any

from truthset.core.errors import Conflict, InvalidInput, NotFound
from truthset.core.schema import validate_value
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.data.records import canonical_json
from truthset.services.projects import Project
from truthset.store import repo
from truthset.store.models import utcnow
from truthset.store.repo import findings as repo_findings
from truthset.store.repo import items as repo_items
from truthset.store.repo import review as repo_review

VERDICTS = ("accept", "reject", "correct")


def review_candidates(project: Project, *, limit: int = 50, with_gold: bool = True) -> list[dict[str, Any]]:
    """Items with disagreement, a wrong answer on gold or a data-check finding sent to review,
    not yet reviewed since their last label (or since the finding was sent).

    One query per reason, each filtered in SQL by "no review at or after the item's newest
    human label", so reviewed items never crowd out the ones still waiting. Empty when the
    project uses neither a review nor an adjudicate stage. ``with_gold=False`` (anyone but an
    admin): gold answers given as annotations count for nothing, and "wrong on gold" is not a
    reason, since it would tell which items are gold and which answers are wrong on them.
    """
    if not {"review", "adjudicate"} & set(project.config.review.stages):
        return []
    out: dict[int, dict[str, Any]] = {}
    with project.store.read() as tx:  # on SQLite: no write lock for a read
        waiting = [
            (
                "disagreement",
                repo_review.disagreements_waiting(tx, project.id, JUDGEMENT_SOURCES, limit=limit, with_gold=with_gold),
            )
        ]
        if with_gold:
            waiting.append(
                ("wrong on gold", repo_review.wrong_on_gold_waiting(tx, project.id, JUDGEMENT_SOURCES, limit=limit))
            )
        # findings that 'truthset check --send-to-review' sent, by check (services/checks.py)
        for item_id, check in repo_findings.sent_waiting(tx, project.id, limit=limit):
            waiting.append((f"check: {check}", [int(item_id)]))
    for why, item_ids in waiting:
        for item_id in item_ids:
            out.setdefault(item_id, {"item_id": item_id, "reasons": []})["reasons"].append(why)
    return [out[i] for i in sorted(out)][:limit]


def _mark_current(annotations: list[dict[str, Any]]) -> None:
    """Set ``current``: the annotation is its annotator's latest judgement (or adjudication).

    ``annotations`` are in id order; an annotator who answered twice counts with the last.
    """
    latest: dict[tuple[str, bool], int] = {}
    for i, a in enumerate(annotations):
        latest[(a["annotator"], a["source"] == "review")] = i
    current = set(latest.values())
    for i, a in enumerate(annotations):
        a["current"] = i in current


def span_votes(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every distinct span in the annotators' current NER judgements, with who marked it.

    A span is ``agreed`` when every annotator with a current judgement marked it (same start,
    end and label); the review page marks the others as disagreements. Sorted by offsets.
    """
    judges = [a for a in annotations if a["current"] and a["source"] in JUDGEMENT_SOURCES]
    votes: dict[tuple[int, int, str], list[str]] = {}
    for a in judges:
        spans = a["value"] if isinstance(a["value"], list) else []
        for key in dict.fromkeys((s["start"], s["end"], s["label"]) for s in spans if isinstance(s, dict)):
            votes.setdefault(key, []).append(a["annotator"])
    return [
        {"start": k[0], "end": k[1], "label": k[2], "annotators": who, "agreed": len(who) == len(judges)}
        for k, who in sorted(votes.items())
    ]


def item_detail(project: Project, item_id: int, *, show_names: bool = True, with_gold: bool = False) -> dict[str, Any]:
    """An item with its annotations (``current``: each annotator's latest), reviews, and gold (as
    the gold answer and as the annotation that gave it) only ``with_gold`` (admins).

    For NER, ``spans`` lists every span the annotators marked, with who marked it and whether
    all of them did (:func:`span_votes`).
    """
    with project.store.read() as tx:
        item = repo_items.item_in_project(tx, project.id, item_id)
        if item is None:
            raise NotFound(f"item {item_id} is not in this project")
        anns = repo.annotations_for_items(tx, project.id, [item_id], with_gold=with_gold)
        gold = repo_items.gold_value(tx, item_id) if with_gold else None
        reviews = repo_review.reviews_of_item(tx, item_id)
    names: dict[str, str] = {}
    annotations = []
    for a in anns:
        who = a.annotator if show_names else names.setdefault(a.annotator, f"annotator {len(names) + 1}")
        annotations.append(
            {
                "annotation_id": a.id,
                "annotator": who,
                "value": json.loads(a.value),
                "source": a.source,
                "lead_time": a.lead_time,
                "schema_version": a.schema_version,
            }
        )
    _mark_current(annotations)
    return {
        "item_id": item.id,
        "external_id": item.external_id,
        "data": json.loads(item.payload),
        "annotations": annotations,
        "gold": None if gold is None else json.loads(gold),
        "reviews": [
            {
                "verdict": r.verdict,
                "reason": r.reason,
                "reviewer": r.reviewer,
                "correction": None if r.correction is None else json.loads(r.correction),
            }
            for r in reviews
        ],
        "spans": span_votes(annotations) if project.task == "ner" else None,
    }


def record_verdict(
    project: Project,
    reviewer_id: int,
    item_id: int,
    verdict: str,
    *,
    annotation_id: int | None = None,
    value: Any = None,
    reason: str = "",
) -> int:
    """Accept or reject an annotation, or correct the item's label (adjudication). Returns the review id."""
    if verdict not in VERDICTS:
        raise InvalidInput(f"field 'verdict': {verdict!r}; use one of {', '.join(VERDICTS)}")
    stages = project.config.review.stages
    if verdict == "correct" and "adjudicate" not in stages:
        raise Conflict("this project has no adjudicate stage (review.stages in truthset.yaml)")
    if verdict != "correct" and "review" not in stages:
        raise Conflict("this project has no review stage (review.stages in truthset.yaml)")
    if verdict in ("accept", "reject") and annotation_id is None:
        raise InvalidInput(f"field 'annotation_id': say which annotation you {verdict}")
    if verdict == "reject" and not reason.strip():
        raise InvalidInput("field 'reason': say why the annotation is rejected")
    now = utcnow()
    with project.store.write() as tx:
        item = repo_items.item_in_project(tx, project.id, item_id)
        if item is None:
            raise NotFound(f"item {item_id} is not in this project")
        if annotation_id is not None:
            owner = repo_items.annotation_item(tx, annotation_id)
            if owner != item_id:
                raise InvalidInput(f"field 'annotation_id': {annotation_id} is not an annotation of item {item_id}")
        correction = None
        if verdict == "correct":
            text = json.loads(item.payload).get(project.config.text_field)
            canonical = validate_value(
                project.task, project.config.schema, value, text=text if isinstance(text, str) else None
            )
            correction = canonical_json(canonical)
            repo_review.add_adjudication(
                tx,
                project.id,
                item_id,
                reviewer_id,
                value=correction,
                label=canonical if isinstance(canonical, str) else None,
                schema_version=project.schema_version,
                at=now,
            )
        return repo_review.add_review(
            tx,
            item_id,
            reviewer_id,
            verdict=verdict,
            annotation_id=annotation_id,
            reason=reason,
            correction=correction,
            at=now,
        )
