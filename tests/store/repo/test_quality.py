"""store/repo/quality.py and training.py on SQLite and PostgreSQL: two projects in one database.

The services' tests cover these functions through QC and export; here their own contract:
rows stay within their project (one database may hold several, issue 12), consensus runs are
found by id or latest, chunked inserts keep every label, and reads return plain tuples.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import NewProject, batch_of
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.store.engine import sqlite_url
from truthset.store.repo import quality, training

ROWS = [("q1", "ann", "a"), ("q1", "bob", "b"), ("q2", "ann", "b"), ("q1", "ann", "b"), ("q3", "bob", "a")]


@pytest.fixture
def shared(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every project of the test in one database (on SQLite too: one file, not one per folder)."""
    if backend == "sqlite":
        monkeypatch.setenv("TRUTHSET_DATABASE_URL", sqlite_url(tmp_path / "shared.db"))
    return backend


def _project(new_project: NewProject, tmp_path: Path, name: str, *, ids: bool) -> tuple[Project, int]:
    """A project whose items are q1..q3 (by external id when ``ids``), judged as in ROWS."""
    path = tmp_path / f"{name}.csv"
    path.write_text(
        ("id," if ids else "")
        + "text,worker,label\n"
        + "".join((f"{i}," if ids else "") + f"text of {i},{w},{lab}\n" for i, w, lab in ROWS)
    )
    p = new_project(labels=["a", "b"], folder=name)
    report = import_file(
        p, path, ImportOptions(id_col="id" if ids else None, text_col="text", annotator_col="worker", label_col="label")
    )
    return p, batch_of(report)


def test_reads_stay_within_their_project(shared: str, new_project: NewProject, tmp_path: Path) -> None:
    a, batch_a = _project(new_project, tmp_path, "a", ids=True)
    b, batch_b = _project(new_project, tmp_path, "b", ids=False)
    with a.store.read() as tx:
        judged = quality.labelled_judgements(tx, a.id, ("human", "import"))
        names = dict(quality.external_ids(tx, a.id))
        ids_a = quality.item_ids(tx, a.id)
        assert quality.batch_item_ids(tx, a.id, batch_a) == sorted(ids_a)
        assert quality.batch_item_ids(tx, a.id, batch_b) == []  # another project's batch
        assert quality.external_ids(tx, b.id) == []  # imported without an id column
        assert sorted(names.values()) == ["q1", "q2", "q3"] and sorted(names) == sorted(ids_a)
        payloads = dict(quality.item_payloads(tx, a.id))
        assert {json.loads(p)["text"] for p in payloads.values()} == {"text of q1", "text of q2", "text of q3"}
        other = quality.item_ids(tx, b.id)
        assert not set(other) & set(ids_a)
        items = training.items_by_id(tx, a.id, [*other, *ids_a])  # b's ids are not a's items
        pages = list(training.item_pages(tx, a.id, page=2))
    # every current judgement (ann's second label of q1 superseded her first), in the file's
    # (time) order, as plain tuples
    assert [(names[i], who, lab) for i, who, lab, _ in judged] == [r for r in ROWS if r != ("q1", "ann", "a")]
    assert [(i, e) for i, e, _ in items] == sorted((i, names[i]) for i in ids_a)
    assert [len(p) for p in pages] == [2, 1] and [r for p in pages for r in p] == list(items)


def test_consensus_runs_by_id_latest_and_project(
    shared: str,
    new_project: NewProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, _ = _project(new_project, tmp_path, "a", ids=True)
    b, _ = _project(new_project, tmp_path, "b", ids=False)
    monkeypatch.setattr(quality, "INSERT_CHUNK", 2)  # three items: two INSERTs, nothing lost
    with a.store.read() as tx:
        ids = quality.item_ids(tx, a.id)
    labels = [(i, json.dumps("a"), 0.5 + k / 10) for k, i in enumerate(ids)]
    with a.store.write() as tx:
        first = quality.add_consensus_run(
            tx, a.id, method="mv", config={"method": "mv"}, dataset_hash="x", seed=0, metrics={}, labels=labels
        )
        second = quality.add_consensus_run(
            tx,
            a.id,
            method="ds",
            config={"method": "ds"},
            dataset_hash="y",
            seed=1,
            metrics={"items": 3},
            labels=labels[:1],
        )
    with a.store.read() as tx:
        assert quality.consensus_run(tx, a.id) == (second, json.dumps({"method": "ds"}))
        assert quality.consensus_run(tx, a.id, first) == (first, json.dumps({"method": "mv"}))
        assert quality.consensus_run(tx, b.id, first) is None  # a's run is not b's
        assert quality.consensus_run(tx, b.id) is None
        assert quality.consensus_run_ids(tx, a.id) == [first, second]
        assert sorted(quality.consensus_labels(tx, first, ids)) == sorted(labels)
        assert list(quality.consensus_labels(tx, second, ids[1:])) == []  # items the run did not see
        assert training.reviews_of_items(tx, ids) == []
        assert training.annotation_values(tx, []) == {}
