"""Which item a row is (issue 11, items 3, 4, 7, 13): external ids, judgements, conflicts.

Each test names the behaviour of today's main that it fails on.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests.conftest import DATASETS, SMS
from tests.support import NewProject, batch_of
from truthset.core.errors import ImportFailed, NotFound
from truthset.services.exports import export_project
from truthset.services.imports import ImportOptions, import_file, import_findings
from truthset.services.projects import Project
from truthset.store.models import Annotation, Batch, Item
from truthset.store.repo import current_annotations_query, status_counts

CORE = DATASETS / "labelstudio" / "ls_core_tests"


def counts(project: Project) -> dict[str, Any]:
    with project.store.engine.connect() as conn:
        return status_counts(conn, project.id)


def _all_annotations(project: Project) -> int:
    with project.store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Annotation).where(Annotation.project_id == project.id)
            ).scalar_one()
        )


@pytest.fixture
def tweets(tmp_path: Path) -> Path:
    """The SMS collection laid out like the tweets file of issue 11.3: an id column, a label
    column no default picks up, the text. 403 texts repeat under other ids."""
    rows = [ln.split("\t", 1) for ln in SMS.read_text(encoding="utf-8").rstrip("\n").split("\n")[1:]]
    path = tmp_path / "tweets.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tweet_id", "airline_sentiment", "text"])
        for i, (label, text) in enumerate(rows):
            w.writerow([570_000_000 + i, label, text])
    return path


def test_reimport_with_other_options_adds_no_items(new_project: NewProject, tweets: Path) -> None:
    """Main: the second import added every item again (5,574 -> 11,148; the real 14,640-row
    file became 29,280), every external id twice, and reported nothing."""
    p = new_project()
    first = import_file(p, tweets, ImportOptions(id_col="tweet_id", label_col="airline_sentiment"))
    assert first.items_added == 5574  # one item per id, also where texts repeat under other ids
    second = import_file(p, tweets, ImportOptions(id_col="tweet_id", text_col="text"))
    assert second.items_added == 0
    assert counts(p)["items"] == 5574
    with p.store.engine.connect() as conn:
        repeated = conn.execute(
            select(func.count()).select_from(
                select(Item.external_id)
                .where(Item.project_id == p.id)
                .group_by(Item.external_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    assert repeated == 0
    # the payload changed (the sentiment column is content now): reported, the stored item kept
    assert second.changed_payloads == 5574
    changed = import_findings(p, batch_of(second), kind="changed")
    assert len(changed) == 5574 and changed[0]["line"] == 2
    assert "fields only in this row: airline_sentiment" in changed[0]["reason"]


def test_changed_payload_under_reject_and_error(new_project: NewProject, tweets: Path, tmp_path: Path) -> None:
    """Rows whose id names an item with other content: ``error`` writes nothing, ``reject``
    lists them as rejected rows (their labels unused), ``merge`` adds their labels."""
    p = new_project()
    import_file(p, tweets, ImportOptions(id_col="tweet_id", label_col="airline_sentiment"))
    df = pd.read_csv(tweets, dtype=str, keep_default_na=False)
    df["airline"] = "virgin"  # a new column: the payload of every row differs now
    wider = tmp_path / "wider.csv"
    df.to_csv(wider, index=False)
    opts = ImportOptions(id_col="tweet_id", label_col="airline_sentiment", annotator="second")
    with pytest.raises(ImportFailed, match="changed"):
        import_file(p, wider, replace(opts, on_duplicate="error"))
    assert counts(p)["items"] == 5574 and _all_annotations(p) == 5574  # nothing written
    r = import_file(p, wider, replace(opts, on_duplicate="reject"))
    assert (r.items_added, r.annotations_added, r.rejected, r.changed_payloads) == (0, 0, 5574, 5574)
    merged = import_file(p, wider, opts)
    assert (merged.items_added, merged.annotations_added, merged.changed_payloads) == (0, 5574, 5574)
    assert counts(p)["by_annotator"] == {"import": 5574, "second": 5574}


def test_same_ids_with_new_labels_add_judgements_only(new_project: NewProject, tmp_path: Path) -> None:
    f1, f2 = tmp_path / "a.csv", tmp_path / "b.csv"
    f1.write_text("id,text\n1,alpha\n2,beta\n", encoding="utf-8")
    f2.write_text("id,text,label,annotator\n1,alpha,x,ann\n2,beta,y,ann\n2,beta,y,ann\n", encoding="utf-8")
    p = new_project()
    import_file(p, f1, ImportOptions(id_col="id"))
    r = import_file(p, f2, ImportOptions(id_col="id"))
    # line 4 repeats line 3, whose label is now stored: nothing new
    assert (r.items_added, r.annotations_added, r.new_judgements, r.already_present) == (0, 2, 2, 1)


def test_an_item_known_by_content_takes_the_id(new_project: NewProject, tmp_path: Path) -> None:
    f1, f2, f3 = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    f1.write_text("text\nalpha\nbeta\n", encoding="utf-8")
    f2.write_text("id,text\n7,alpha\n8,beta\n", encoding="utf-8")
    f3.write_text("id,text,label\n7,alpha (edited),x\n", encoding="utf-8")
    p = new_project()
    import_file(p, f1)
    r = import_file(p, f2, ImportOptions(id_col="id"))
    assert r.items_added == 0 and r.ids_assigned == 2
    with p.store.engine.connect() as conn:
        assert dict(conn.execute(select(Item.external_id, Item.line).where(Item.project_id == p.id)).all()) == {
            "7": 2,
            "8": 3,
        }
    r = import_file(p, f3, ImportOptions(id_col="id"))
    assert (r.items_added, r.changed_payloads, r.annotations_added) == (0, 1, 1)


def test_an_item_met_by_content_in_the_same_file_takes_the_id(new_project: NewProject, tmp_path: Path) -> None:
    """A row without an id, then one with an id and the same content (in one chunk, and across
    chunks): one item, which keeps the id, so a later file finds it by that id. The id was
    lost when both rows fell in one chunk (found by the review of the in-memory key index)."""
    f1, f2 = tmp_path / "a.csv", tmp_path / "b.csv"
    f1.write_text("id,text,label\n,alpha,x\n7,alpha,x\n,beta,y\n", encoding="utf-8")
    f2.write_text("id,text,label\n7,alpha (edited),x\n", encoding="utf-8")
    for chunk_rows in (1000, 1):
        p = new_project()
        p.settings = p.settings.model_copy(update={"import_chunk_rows": chunk_rows})
        r = import_file(p, f1)
        assert (r.items_added, r.duplicates) == (2, 1)
        with p.store.engine.connect() as conn:
            assert dict(conn.execute(select(Item.line, Item.external_id).where(Item.project_id == p.id)).all()) == {
                2: "7",
                4: None,
            }
        r = import_file(p, f2, ImportOptions(id_col="id"))
        assert (r.items_added, r.changed_payloads) == (0, 1)


def test_crowd_judgements_are_not_duplicates(new_project: NewProject, tmp_path: Path) -> None:
    """d_jn-product (the issue's command): 24,945 judgements of 8,315 items. Main reported
    16,630 "duplicates" for them (and again when its own CSV export was re-imported)."""
    answers = DATASETS / "crowd" / "d_jn-product" / "answer.csv"
    p = new_project()
    opts = ImportOptions(id_col="question", text_col="question", annotator_col="worker", label_col="answer")
    r = import_file(p, answers, opts)
    assert (r.rows_read, r.items_added, r.annotations_added) == (24945, 8315, 24945)
    assert r.new_judgements == 24945 - 8315
    assert r.duplicates == 0 and r.already_present == 0
    assert import_findings(p, batch_of(r), kind="duplicate") == []
    # truthset's own CSV export, into a new project: the same judgements, no duplicates
    out = tmp_path / "answers.csv"
    export_project(p, out, fmt="csv")
    q = new_project()
    r2 = import_file(q, out)
    assert (r2.items_added, r2.annotations_added, r2.new_judgements, r2.duplicates) == (8315, 24945, 16630, 0)
    # ... and into the same project: every row is already there, nothing is added
    r3 = import_file(p, out)
    assert (r3.items_added, r3.annotations_added, r3.already_present, r3.new_judgements) == (0, 0, 24945, 0)


def test_a_repeated_row_is_a_duplicate_and_a_changed_label_a_conflict(new_project: NewProject, tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("text,label,annotator\nt1,a,w1\nt1,a,w1\nt1,b,w2\nt1,b,w1\nt2,a,w1\n", encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert (r.items_added, r.annotations_added, r.duplicates, r.new_judgements, r.conflicts) == (2, 4, 1, 2, 1)
    conflict = import_findings(p, batch_of(r), kind="conflict")
    assert [(c["line"], c["field"]) for c in conflict] == [(5, "w1")]
    assert '"a"' in conflict[0]["reason"] and '"b"' in conflict[0]["reason"]
    # w1's later label is current; the earlier is kept in history, superseded
    assert counts(p)["annotations"] == 3 and _all_annotations(p) == 4
    with p.store.engine.connect() as conn:
        current = conn.execute(
            select(Annotation.value).where(Annotation.project_id == p.id, Annotation.supersedes_id.is_not(None))
        ).scalar_one()
    assert current == '"b"'


@pytest.mark.parametrize("content", ["id,text,label\n", "id,text,label\n\n\n"])
def test_a_header_only_csv_is_an_error(new_project: NewProject, tmp_path: Path, content: str) -> None:
    """Main created an empty batch and exited 0 (issue 11.13)."""
    f = tmp_path / "empty.csv"
    f.write_text(content, encoding="utf-8")
    p = new_project()
    with pytest.raises(ImportFailed, match="no rows"):
        import_file(p, f)
    with p.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Batch).where(Batch.project_id == p.id)).scalar_one() == 0


def test_an_empty_image_folder_is_an_error(new_project: NewProject, tmp_path: Path) -> None:
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image", encoding="utf-8")
    p = new_project(task="image-classification")
    with pytest.raises(ImportFailed, match="no image files"):
        import_file(p, tmp_path / "imgs")
    assert counts(p)["by_batch"] == []


def test_findings_of_a_batch_that_does_not_exist(new_project: NewProject) -> None:
    """Main answered "0 finding(s)" for a batch that does not exist (issue 11.13)."""
    p = new_project()
    import_file(p, SMS)
    with pytest.raises(NotFound, match="batch 99 is not an import"):
        import_findings(p, 99)


# --- Label Studio (issue 11.7) --------------------------------------------------------------


def _choice(value: str) -> list[dict[str, Any]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


def test_labelstudio_keeps_every_annotation(new_project: NewProject) -> None:
    """tasks_annotations_predictions.json: main made the two annotations without
    ``completed_by`` one annotator and dropped one (4 -> 3)."""
    name = CORE / "tasks_annotations_predictions.json"
    raw = json.loads(name.read_text(encoding="utf-8"))
    p = new_project()
    r = import_file(p, name)
    human = sum(len(t.get("annotations", [])) for t in raw)
    predictions = sum(len(t.get("predictions", [])) for t in raw)
    assert (human, predictions) == (4, 3)
    assert r.annotations_added == human + predictions
    assert counts(p)["by_source"] == {"import": 4, "model": 3}


def test_a_second_annotation_by_one_person_is_kept_and_current(new_project: NewProject, tmp_path: Path) -> None:
    """Main lost an annotator's second annotation of a task (another LS id, same value, an
    extra choice in another control) and reported nothing."""
    extra = {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": ["sports"]}}
    tasks = [
        {
            "id": 1,
            "data": {"text": "a match"},
            "annotations": [
                {
                    "id": 11,
                    "completed_by": {"email": "ann@x.org"},
                    "result": _choice("pos"),
                    "created_at": "2024-01-01T10:00:00Z",
                },
                {
                    "id": 12,
                    "completed_by": {"email": "ann@x.org"},
                    "result": _choice("pos") + [extra],
                    "created_at": "2024-01-02T10:00:00Z",
                },
                {
                    "id": 13,
                    "completed_by": {"email": "bob@x.org"},
                    "result": _choice("neg"),
                    "created_at": "2024-01-01T09:00:00Z",
                },
                {
                    "id": 14,
                    "completed_by": {"email": "bob@x.org"},
                    "result": _choice("pos"),
                    "created_at": "2024-01-03T09:00:00Z",
                },
            ],
        }
    ]
    f = tmp_path / "ls.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert r.annotations_added == 4 and r.superseded == 2 and r.conflicts == 1
    assert [c["field"] for c in import_findings(p, batch_of(r), kind="conflict")] == ["bob@x.org"]
    with p.store.engine.connect() as conn:
        rows = conn.execute(
            select(Annotation.meta, Annotation.value, Annotation.supersedes_id)
            .where(Annotation.project_id == p.id)
            .order_by(Annotation.id)
        ).all()
    ls_ids = [json.loads(m)["ls_id"] for m, _v, _s in rows]
    assert ls_ids == [13, 11, 12, 14]  # oldest first
    with p.store.engine.connect() as conn:
        current = {
            r.annotator: (json.loads(r.meta)["ls_id"], r.value) for r in conn.execute(current_annotations_query(p.id))
        }
    assert current == {"ann@x.org": (12, '"pos"'), "bob@x.org": (14, '"pos"')}
    # importing the same file again with other options adds nothing
    r2 = import_file(p, f, ImportOptions(annotator="other"))
    assert (r2.items_added, r2.annotations_added, r2.already_present) == (0, 0, 1)


def test_conflicting_labels_on_copies_are_listed(new_project: NewProject, tmp_path: Path) -> None:
    """Main printed "conflicting labels on copies: 1" and ``findings`` listed nothing."""
    tasks = [
        {"data": {"text": "same"}, "annotations": [{"completed_by": 5, "result": _choice("pos")}]},
        {"data": {"text": "same"}, "annotations": [{"completed_by": 5, "result": _choice("neg")}]},
    ]
    f = tmp_path / "copies.json"
    f.write_text(json.dumps(tasks), encoding="utf-8")
    p = new_project()
    r = import_file(p, f)
    assert r.conflicts == 1
    listed = import_findings(p, batch_of(r), kind="conflict")
    assert [(x["line"], x["field"]) for x in listed] == [(1, "labelstudio-user-5")]
