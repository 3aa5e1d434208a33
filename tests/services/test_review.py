"""The review queue on SQLite and PostgreSQL: what waits for a reviewer, and what no longer does."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from tests.support import NewProject, next_task
from truthset.services import review, users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.store.models import Annotation, Item


def _disputed(new_project: NewProject, tmp_path: Path, n: int) -> tuple[Project, int, list[int]]:
    """A project whose ``n`` items each got 'pos' from one annotator and 'neg' from another."""
    p = new_project(labels=["pos", "neg"])
    p.config = p.config.model_copy(
        update={"review": p.config.review.model_copy(update={"stages": ["annotate", "review", "adjudicate"]})}
    )
    f = tmp_path / f"disputed-{p.config.name}.jsonl"
    rows = [
        {"text": f"item {i}", "label": lab, "annotator": who}
        for i in range(n)
        for lab, who in (("pos", "a"), ("neg", "b"))
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f, ImportOptions(label_col="label", annotator_col="annotator"))
    reviewer = users.add_user(p, f"rev-{p.config.name}", role="reviewer", password="correct horse").id
    with p.store.engine.connect() as conn:
        ids = list(conn.execute(select(Item.id).where(Item.project_id == p.id).order_by(Item.id)).scalars())
    return p, reviewer, ids


def test_reviewed_items_do_not_crowd_out_waiting_ones(new_project: NewProject, tmp_path: Path) -> None:
    p, reviewer, ids = _disputed(new_project, tmp_path, 60)
    assert [c["item_id"] for c in review.review_candidates(p, limit=10)] == ids[:10]
    for item_id in ids[:50]:
        review.record_verdict(p, reviewer, item_id, "correct", value="pos")
    waiting = review.review_candidates(p, limit=10)
    assert [c["item_id"] for c in waiting] == ids[50:]
    assert all(c["reasons"] == ["disagreement"] for c in waiting)


def test_a_new_label_after_the_review_brings_the_item_back(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.services import queue

    p, reviewer, ids = _disputed(new_project, tmp_path, 1)
    with p.store.engine.connect() as conn:
        first = conn.execute(select(Annotation.id).where(Annotation.item_id == ids[0]).order_by(Annotation.id)).scalar()
    review.record_verdict(p, reviewer, ids[0], "accept", annotation_id=first)
    assert review.review_candidates(p) == []
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": 3})})
    c = users.add_user(p, f"c-{p.config.name}", role="annotator", password="correct horse").id
    task = next_task(p, c)
    queue.submit(p, c, task.assignment_id, "neg")
    assert [x["item_id"] for x in review.review_candidates(p)] == ids


# --- the NER review page's data: each annotator's current spans, and which all of them share ----


def _ann(who: str, value: object, source: str = "human") -> dict[str, object]:
    return {"annotator": who, "value": value, "source": source}


def _sp(start: int, end: int, label: str) -> dict[str, object]:
    return {"start": start, "end": end, "label": label}


def test_span_votes_use_each_annotators_latest_judgement_only() -> None:
    anns = [
        _ann("a", [_sp(0, 5, "PER")]),  # replaced by a's later answer below
        _ann("b", [_sp(0, 5, "PER"), _sp(10, 14, "ORG"), _sp(10, 14, "ORG")]),  # a span given twice counts once
        _ann("model", [_sp(20, 25, "LOC")], source="model"),  # a model's guess is no judgement
        _ann("c", [_sp(0, 5, "PER"), _sp(10, 14, "LOC")], source="import"),
        _ann("a", [_sp(0, 5, "PER"), _sp(10, 14, "ORG")]),
        _ann("rev", [_sp(0, 9, "PER")], source="review"),  # an adjudication is no judgement either
    ]
    review._mark_current(anns)
    assert [a["current"] for a in anns] == [False, True, True, True, True, True]
    assert review.span_votes(anns) == [
        {"start": 0, "end": 5, "label": "PER", "annotators": ["b", "c", "a"], "agreed": True},
        {"start": 10, "end": 14, "label": "LOC", "annotators": ["c"], "agreed": False},
        {"start": 10, "end": 14, "label": "ORG", "annotators": ["b", "a"], "agreed": False},
    ]


def test_span_votes_of_one_annotator_or_none() -> None:
    one = [_ann("a", [_sp(3, 4, "X")])]
    review._mark_current(one)
    assert review.span_votes(one) == [{"start": 3, "end": 4, "label": "X", "annotators": ["a"], "agreed": True}]
    assert review.span_votes([]) == []


def test_item_detail_gives_ner_spans_with_who_marked_them(new_project: NewProject, tmp_path: Path) -> None:
    from truthset.services import queue

    p = new_project(task="ner", labels=["PER", "ORG"])
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": 2})})
    f = tmp_path / "ner.jsonl"
    f.write_text(json.dumps({"text": "Alice met Bob at Acme."}) + "\n", encoding="utf-8")
    import_file(p, f)
    answers = {"ann-a": [_sp(0, 5, "PER"), _sp(17, 21, "ORG")], "ann-b": [_sp(0, 5, "PER"), _sp(10, 13, "PER")]}
    for name, value in answers.items():
        uid = users.add_user(p, f"{name}-{p.config.name}", role="annotator", password="correct horse").id
        task = next_task(p, uid)
        queue.submit(p, uid, task.assignment_id, value)
    [candidate] = review.review_candidates(p)
    detail = review.item_detail(p, candidate["item_id"], show_names=False)
    assert [(a["annotator"], a["current"]) for a in detail["annotations"]] == [
        ("annotator 1", True),
        ("annotator 2", True),
    ]
    assert detail["spans"] == [
        {"start": 0, "end": 5, "label": "PER", "annotators": ["annotator 1", "annotator 2"], "agreed": True},
        {"start": 10, "end": 13, "label": "PER", "annotators": ["annotator 2"], "agreed": False},
        {"start": 17, "end": 21, "label": "ORG", "annotators": ["annotator 1"], "agreed": False},
    ]


def test_item_detail_has_no_spans_outside_ner(new_project: NewProject, tmp_path: Path) -> None:
    p, _, ids = _disputed(new_project, tmp_path, 1)
    detail = review.item_detail(p, ids[0])
    assert detail["spans"] is None
    assert [a["current"] for a in detail["annotations"]] == [True, True]
