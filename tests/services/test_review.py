"""The review queue on SQLite and PostgreSQL: what waits for a reviewer, and what no longer does."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from truthset.services import review, users
from truthset.services.imports import ImportOptions, import_file
from truthset.store.models import Annotation, Item


def _disputed(new_project, tmp_path: Path, n: int):  # type: ignore[no-untyped-def]
    """A project whose ``n`` items each got 'pos' from one annotator and 'neg' from another."""
    p = new_project(labels=["pos", "neg"])
    p.config = p.config.model_copy(update={"review": p.config.review.model_copy(update={"stages": ["annotate", "review", "adjudicate"]})})
    f = tmp_path / f"disputed-{p.config.name}.jsonl"
    rows = [{"text": f"item {i}", "label": lab, "annotator": who} for i in range(n) for lab, who in (("pos", "a"), ("neg", "b"))]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_file(p, f, ImportOptions(label_col="label", annotator_col="annotator"))
    with p.engine.begin() as conn:
        reviewer = users.add_user(conn, f"rev-{p.config.name}", role="reviewer", password="correct horse").id
    with p.engine.connect() as conn:
        ids = list(conn.execute(select(Item.id).where(Item.project_id == p.id).order_by(Item.id)).scalars())
    return p, reviewer, ids


def test_reviewed_items_do_not_crowd_out_waiting_ones(new_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p, reviewer, ids = _disputed(new_project, tmp_path, 60)
    assert [c["item_id"] for c in review.review_candidates(p, limit=10)] == ids[:10]
    for item_id in ids[:50]:
        review.record_verdict(p, reviewer, item_id, "correct", value="pos")
    waiting = review.review_candidates(p, limit=10)
    assert [c["item_id"] for c in waiting] == ids[50:]
    assert all(c["reasons"] == ["disagreement"] for c in waiting)


def test_a_new_label_after_the_review_brings_the_item_back(new_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from truthset.services import queue

    p, reviewer, ids = _disputed(new_project, tmp_path, 1)
    with p.engine.connect() as conn:
        first = conn.execute(select(Annotation.id).where(Annotation.item_id == ids[0]).order_by(Annotation.id)).scalar()
    review.record_verdict(p, reviewer, ids[0], "accept", annotation_id=first)
    assert review.review_candidates(p) == []
    p.config = p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"overlap": 3})})
    with p.engine.begin() as conn:
        c = users.add_user(conn, f"c-{p.config.name}", role="annotator", password="correct horse").id
    task = queue.next_task(p, c)
    queue.submit(p, c, task.assignment_id, "neg")
    assert [x["item_id"] for x in review.review_candidates(p)] == ids
