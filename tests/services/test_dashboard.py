"""The dashboard's numbers (issue 15) on SQLite and PostgreSQL, checked against hand counts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from tests.support import NewProject
from truthset.quality import wilson_interval
from truthset.services import queue, users
from truthset.services.dashboard import dashboard
from truthset.services.imports import import_file
from truthset.services.projects import Project
from truthset.store.models import Assignment, Batch, Gold, Item, utcnow

PW = "correct horse battery"


def _annotated(new_project: NewProject, tmp_path: Path, n: int = 12) -> tuple[Project, dict[str, int], list[int]]:
    """n items, overlap 2: 'ann' labels every item pos, 'bob' neg on items 0-2 and pos after;
    items 0-3 are gold 'pos'; 'cy' takes one item and skips it."""
    p = new_project(labels=["pos", "neg"])
    p.config = p.config.model_copy(
        update={"queue": p.config.queue.model_copy(update={"overlap": 2, "order": "sequential"})}
    )
    f = tmp_path / f"items-{p.config.name}.jsonl"
    f.write_text("".join(json.dumps({"text": f"message {i}"}) + "\n" for i in range(n)), encoding="utf-8")
    import_file(p, f)
    ids: dict[str, int] = {}
    for name in ("ann", "bob", "cy"):
        ids[name] = users.add_user(p, f"{name}-{p.config.name}", role="annotator", password=PW).id
    with p.store.write() as tx:
        items = [
            r[0]
            for r in tx.execute(
                Item.__table__.select().with_only_columns(Item.id).where(Item.project_id == p.id).order_by(Item.id)
            )
        ]
    order = {item: k for k, item in enumerate(items)}
    for name in ("ann", "bob"):
        for _ in range(n):
            t = queue.next_task(p, ids[name])
            assert t is not None
            label = "neg" if name == "bob" and order[t.item_id] < 3 else "pos"
            queue.submit(p, ids[name], t.assignment_id, label, lead_time=2.0 if name == "ann" else 4.0)
    with p.store.write() as tx:  # gold marked afterwards, so the queue hands these items out as usual
        tx.execute(
            insert(Gold), [{"item_id": i, "project_id": p.id, "value": '"pos"', "label": "pos"} for i in items[:4]]
        )
    return p, ids, items


def test_dashboard_counts_agreement_and_gold(new_project: NewProject, tmp_path: Path) -> None:
    p, ids, items = _annotated(new_project, tmp_path)
    d = dashboard(p, n_boot=100)
    assert d["judgements"] == 24 and d["annotators"] == 2 and d["gold_items"] == 4
    (batch,) = d["batches"]
    assert (batch["items"], batch["needed"], batch["done"], batch["remaining"]) == (12, 24, 24, 0)
    assert batch["at_risk"] is False
    rows = {r["annotator"].split("-")[0]: r for r in d["annotator_table"]}
    ann, bob = rows["ann"], rows["bob"]
    assert ann["annotations"] == bob["annotations"] == 12
    assert ann["median_lead_time"] == 2.0 and bob["median_lead_time"] == 4.0
    # they agree on 9 of 12 items; each compares with one other judgement per item
    assert ann["agreement"] == bob["agreement"] == round(9 / 12, 4) and ann["agreement_items"] == 12
    lo, hi = wilson_interval(9, 12)
    assert ann["agreement_low"] == round(float(lo), 4) and ann["agreement_high"] == round(float(hi), 4)
    # gold items 0-3 are pos: ann 4/4, bob 1/4
    assert (ann["gold_n"], ann["gold_accuracy"]) == (4, 1.0)
    assert (bob["gold_n"], bob["gold_accuracy"]) == (4, 0.25)
    (gb,) = d["gold_by_batch"]
    assert (gb["n"], gb["correct"]) == (8, 5)
    (ab,) = d["agreement_by_batch"]
    assert ab["items"] == 12 and ab["ci_low"] <= ab["alpha"] <= ab["ci_high"]
    assert sum(t["annotations"] for t in d["throughput"]) == 24
    week = next(iter(d["labels_by_week"].values()))
    assert week == {"pos": 21, "neg": 3}
    assert d["labels_by_schema_version"] == {str(p.schema_version): {"pos": 21, "neg": 3}}
    assert d["stages"]["annotate"]["done"] == 24


def test_batch_at_risk_and_skips(new_project: NewProject, tmp_path: Path) -> None:
    p, ids, items = _annotated(new_project, tmp_path, n=6)
    f = tmp_path / f"more-{p.config.name}.jsonl"
    f.write_text("".join(json.dumps({"text": f"later {i}"}) + "\n" for i in range(50)), encoding="utf-8")
    import_file(p, f)
    now = utcnow()
    with p.store.write() as tx:
        tx.execute(
            update(Batch)
            .where(Batch.project_id == p.id, Batch.source.like("%more-%"))
            .values(due_at=now + timedelta(days=1))
        )
    t = queue.next_task(p, ids["cy"])
    assert t is not None
    queue.skip(p, ids["cy"], t.assignment_id, "ambiguous")
    d = dashboard(p, n_boot=50, now=now)
    first, second = d["batches"]
    assert first["remaining"] == 0 and not first["at_risk"]
    # 12 judgements made today: a pace of 12 a day; 100 judgements needed in one day
    assert d["pace"]["judgements"] == 12 and d["pace"]["per_day"] == 12.0
    assert second["needed"] == 100 and second["done"] == 0 and second["at_risk"] is True
    assert second["days_needed"] == round(100 / 12, 2)
    cy = next(r for r in d["annotator_table"] if r["annotator"].startswith("cy"))
    assert (cy["annotations"], cy["skips"], cy["agreement"]) == (0, 1, None)
    with p.store.read() as tx:
        skipped = tx.execute(
            Assignment.__table__.select().where(Assignment.project_id == p.id, Assignment.status == "skipped")
        ).all()
    assert len(skipped) == 1 and d["stages"]["annotate"]["skipped"] == 1


def test_demo_leaves_a_dashboard_with_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from truthset.cli import main

    monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    res = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert "simulated judgements by 3 annotators over 14 days, 60 gold items" in res.output
    from truthset.services.projects import open_project

    p = open_project(tmp_path / "demo")
    try:
        d = dashboard(p, n_boot=50)
        people = {r["annotator"]: r for r in d["annotator_table"] if r["annotator"] in ("ann", "bob", "cy")}
        assert set(people) == {"ann", "bob", "cy"}
        assert all(r["gold_n"] > 0 and r["agreement"] is not None for r in people.values())
        # bob is careless in the second week: below ann on gold
        assert people["bob"]["gold_accuracy"] < people["ann"]["gold_accuracy"]
        assert d["batches"][0]["at_risk"] is True and len(d["agreement_by_week"]) >= 2
        again = CliRunner().invoke(main, ["demo", str(tmp_path / "demo"), "--json"])
        assert json.loads(again.output)["dashboard"] == {"skipped": True}
    finally:
        p.close()


def test_multi_label_and_ner_get_progress_and_label_counts(new_project: NewProject, tmp_path: Path) -> None:
    multi = new_project(task="multi-label", labels=["a", "b", "c"])
    f = tmp_path / "multi.jsonl"
    f.write_text("".join(json.dumps({"text": f"m {i}", "label": "a|b" if i % 2 else "c"}) + "\n" for i in range(4)))
    from truthset.services.imports import ImportOptions

    import_file(multi, f, ImportOptions(label_col="label"))
    d = dashboard(multi, n_boot=20)
    assert d["judgements"] == 4 and d["agreement_by_batch"] == [] and d["gold_by_week"] == []
    assert next(iter(d["labels_by_week"].values())) == {"a": 2, "b": 2, "c": 2}
    assert d["annotator_table"][0]["agreement"] is None
    ner = new_project(task="ner", labels=["PER"])
    g = tmp_path / "ner.jsonl"
    g.write_text(json.dumps({"text": "Alice met Bob"}) + "\n")
    import_file(ner, g)
    uid = users.add_user(ner, f"n-{ner.config.name}", role="annotator", password=PW).id
    t = queue.next_task(ner, uid)
    assert t is not None
    queue.submit(
        ner, uid, t.assignment_id, [{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "PER"}]
    )
    d = dashboard(ner, n_boot=20)
    assert next(iter(d["labels_by_week"].values())) == {"PER": 2} and d["batches"][0]["done"] == 1
