"""Training data out: ``truthset export --labels ...`` on SQLite and PostgreSQL (issue 11, item 12).

The CLI tests import only the CLI at module level; against the code before the fix
(``PYTHONPATH=/work/main/src``) they fail: ``export`` had no ``--labels`` and nothing read a
consensus run back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tests.conftest import DATASETS, LEOKA
from tests.support import NewProject
from truthset.cli import main
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project

SNOW = DATASETS / "crowd" / "snow2008"
RTE_GOLD = ["--gold", str(SNOW / "rte.standardized.tsv"), "--gold-item-col", "orig_id", "--gold-label-col", "gold"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "quality-aggregation.md"


def _invoke(*args: str, code: int = 0) -> Result:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res


def _rte_answers(tmp_path: Path) -> Path:
    """The RTE crowd answers with each pair's text and hypothesis beside them (from rte1.tsv)."""
    answers = pd.read_csv(SNOW / "rte.standardized.tsv", sep="\t", dtype=str)
    pairs = pd.read_csv(SNOW / "rte1.tsv", sep="\t", dtype=str)
    joined = answers.merge(pairs[["id", "text", "hypothesis"]], left_on="orig_id", right_on="id")
    path = tmp_path / "rte_answers.csv"
    joined.rename(columns={"!amt_worker_ids": "worker"})[
        ["orig_id", "worker", "response", "text", "hypothesis"]
    ].to_csv(path, index=False)
    return path


def _rte_project(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["0", "1"])
    import_file(
        p,
        _rte_answers(tmp_path),
        ImportOptions(id_col="orig_id", text_col="text", annotator_col="worker", label_col="response"),
    )
    return p


def _gold() -> pd.Series:
    g = pd.read_csv(SNOW / "rte.standardized.tsv", sep="\t", dtype=str)
    return g.drop_duplicates("orig_id").set_index("orig_id")["gold"]


def test_consensus_export_gives_the_dawid_skene_labels(new_project: NewProject, tmp_path: Path) -> None:
    """The issue's 'done': export --labels consensus on RTE has the accuracy qc aggregate reports,
    and docs/quality-aggregation.md states it."""
    p = _rte_project(new_project, tmp_path)
    agg = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "ds", *RTE_GOLD, "--json").stdout)
    assert agg["gold_items"] == 800
    out = tmp_path / "train.csv"
    rep = json.loads(
        _invoke(
            "-p", str(p.root), "export", "--labels", "consensus", "--format", "csv", "-o", str(out), "--json"
        ).stdout
    )
    assert rep["run"] == agg["run"] and rep["labelled"] == 800 and rep["unlabelled"] == 0
    train = pd.read_csv(out, dtype=str)
    assert len(train) == 800 and train["external_id"].is_unique
    accuracy = (train["label"].to_numpy() == _gold().reindex(train["external_id"]).to_numpy()).mean()
    assert accuracy == pytest.approx(agg["accuracy"], abs=1e-6)
    assert round(accuracy, 4) == 0.9275
    assert set(train["label_source"]) == {"consensus:ds"}
    assert train["confidence"].astype(float).between(0.5, 1).all()
    texts = pd.read_csv(SNOW / "rte1.tsv", sep="\t", dtype=str).set_index("id")
    assert (train["text"].to_numpy() == texts.loc[train["external_id"], "text"].to_numpy()).all()
    assert (train["hypothesis"].to_numpy() == texts.loc[train["external_id"], "hypothesis"].to_numpy()).all()
    doc = DOC.read_text(encoding="utf-8")
    assert re.search(r"export --labels consensus[^\n]*\n?[^\n]*0\.9275", doc), "state the RTE figure in the doc"


def test_every_format_carries_the_same_final_labels(new_project: NewProject, tmp_path: Path) -> None:
    p = _rte_project(new_project, tmp_path)
    run = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "mv", "--json").stdout)["run"]
    files = {f: tmp_path / f"train.{f}" for f in ("csv", "jsonl", "parquet", "labelstudio")}
    for fmt, path in files.items():
        _invoke("-p", str(p.root), "export", "--labels", f"run:{run}", "--format", fmt, "-o", str(path))
    csv_rows = pd.read_csv(files["csv"], dtype=str).set_index("external_id")
    jsonl = [json.loads(line) for line in files["jsonl"].read_text(encoding="utf-8").splitlines()]
    parquet = pd.read_parquet(files["parquet"]).set_index("external_id")
    tasks = json.loads(files["labelstudio"].read_text(encoding="utf-8"))
    assert len(csv_rows) == len(jsonl) == len(parquet) == len(tasks) == 800
    assert {r["external_id"]: r["label"] for r in jsonl} == csv_rows["label"].to_dict()
    assert parquet["label"].to_dict() == csv_rows["label"].to_dict()
    assert {str(t["id"]): t["annotations"][0]["result"][0]["value"]["choices"][0] for t in tasks} == csv_rows[
        "label"
    ].to_dict()
    assert {r["label_source"] for r in jsonl} == {"consensus:mv"} and all(r["run"] == run for r in jsonl)
    assert all(t["meta"]["label_source"] == "consensus:mv" and t["data"]["hypothesis"] for t in tasks)
    assert (parquet["confidence"].round(9) == csv_rows["confidence"].astype(float).round(9)).all()


def test_items_without_a_final_label_are_listed(new_project: NewProject, tmp_path: Path) -> None:
    p = _rte_project(new_project, tmp_path)
    run = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "ds", "--json").stdout)["run"]
    later = tmp_path / "later.csv"  # after the run: 4 unlabelled, 3 with one judgement, 2 with two
    rows = [(f"new{i}", "", "", f"new text {i}") for i in range(4)]
    rows += [(f"one{i}", "w1", "1", f"one text {i}") for i in range(3)]
    rows += [(f"two{i}", w, lab, f"two text {i}") for i in range(2) for w, lab in (("w1", "1"), ("w2", "0"))]
    pd.DataFrame(rows, columns=["orig_id", "worker", "response", "text"]).to_csv(later, index=False)
    import_file(
        p, later, ImportOptions(id_col="orig_id", text_col="text", annotator_col="worker", label_col="response")
    )
    out = tmp_path / "train.jsonl"
    res = _invoke("-p", str(p.root), "export", "--labels", "consensus", "-o", str(out))
    assert "6 item(s) have no final label" in res.stderr
    listed = pd.read_csv(tmp_path / "train.jsonl.unlabelled.csv", dtype=str)
    assert sorted(listed["external_id"]) == sorted([f"new{i}" for i in range(4)] + ["two0", "two1"])
    assert set(listed["reason"]) == {
        "no annotation",
        f"not in run {run} (2 judgements); run 'truthset qc aggregate' again to include it",
    }
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(written) == 803
    assert {r["external_id"]: r["label_source"] for r in written if r["label_source"] == "single"} == {
        f"one{i}": "single" for i in range(3)
    }
    latest = json.loads(_invoke("-p", str(p.root), "export", "--labels", "latest", "-o", str(out), "--json").stdout)
    assert latest["labelled"] == 805 and latest["by_source"] == {"latest": 802, "single": 3}
    assert latest["unlabelled_reasons"] == {"no annotation": 4}
    two = [
        json.loads(line)
        for line in out.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["external_id"] == "two0"
    ][0]
    assert (two["label"], two["confidence"], two["annotators"]) == ("0", 0.5, 2)  # w2's, the latest


def test_adjudication_wins_and_rejected_annotations_do_not_count(new_project: NewProject, tmp_path: Path) -> None:
    from sqlalchemy import select

    from truthset.services import qc, review, users
    from truthset.services.training_export import export_training_data
    from truthset.store.models import Annotation, Item

    p = _rte_project(new_project, tmp_path)
    p.config = p.config.model_copy(
        update={"review": p.config.review.model_copy(update={"stages": ["annotate", "review", "adjudicate"]})}
    )
    j = qc.project_annotations(p)
    model, report = qc.aggregate(j, "ds")
    qc.store_consensus(p, model, "ds", j.frame, report, seed=0)
    reviewer = users.add_user(p, f"rev-{p.config.name}", role="reviewer", password="correct horse").id
    with p.store.engine.connect() as conn:
        first, second = (
            conn.execute(select(Item.id).where(Item.project_id == p.id).order_by(Item.id)).scalars().all()[:2]
        )
        some = conn.execute(select(Annotation.id).where(Annotation.item_id == second)).scalars().first()
    flipped = "0" if model.labels_.loc[first] == "1" else "1"
    review.record_verdict(p, reviewer, first, "correct", value=flipped)
    review.record_verdict(p, reviewer, second, "accept", annotation_id=some)
    out = tmp_path / "adj.csv"
    rep = export_training_data(p, out, fmt="csv", labels="consensus")
    train = pd.read_csv(out, dtype=str).set_index("item_id")
    assert train.loc[str(first), ["label", "label_source", "confidence"]].tolist() == [flipped, "adjudicated", "1.0"]
    assert rep.by_source == {"adjudicated": 2, "consensus:ds": 798}
    only = export_training_data(p, out, fmt="csv", labels="adjudicated")
    assert (only.labelled, only.unlabelled, only.unlabelled_reasons) == (2, 798, {"not adjudicated": 798})
    # rejecting every judgement of an item leaves it without a latest label
    with p.store.engine.connect() as conn:
        third = conn.execute(select(Item.id).where(Item.project_id == p.id).order_by(Item.id)).scalars().all()[2]
        mine = conn.execute(select(Annotation.id).where(Annotation.item_id == third)).scalars().all()
    for a in mine:
        review.record_verdict(p, reviewer, third, "reject", annotation_id=a, reason="spam worker")
    latest = export_training_data(p, out, fmt="csv", labels="latest")
    assert latest.unlabelled == 1 and latest.unlabelled_reasons == {"no annotation": 1}


def test_wrong_label_choices_are_clear_errors(new_project: NewProject, tmp_path: Path) -> None:
    p = _rte_project(new_project, tmp_path)
    out = tmp_path / "x.csv"
    res = _invoke("-p", str(p.root), "export", "--labels", "consensus", "-o", str(out), code=1)
    assert "no consensus run yet" in res.output and "qc aggregate" in res.output
    run = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "mv", "--json").stdout)["run"]
    assert (
        f"its runs are [{run}]"
        in _invoke("-p", str(p.root), "export", "--labels", f"run:{run + 1}", "-o", str(out), code=1).output
    )
    assert (
        "use consensus, adjudicated, latest or run:N"
        in _invoke("-p", str(p.root), "export", "--labels", "best", "-o", str(out), code=1).output
    )
    res = _invoke("-p", str(p.root), "export", "--labels", "adjudicated", "-o", str(out), code=1)
    assert "none of the 800 items has a final label (not adjudicated: 800)" in res.output
    assert not out.exists() and not list(tmp_path.glob("x.csv*"))


def test_ner_training_data_in_conll(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(task="ner")
    import_file(p, LEOKA)
    out = tmp_path / "train.conll"
    rep = json.loads(
        _invoke("-p", str(p.root), "export", "--labels", "latest", "--format", "conll", "-o", str(out), "--json").stdout
    )
    assert rep["labelled"] == 130
    blocks = out.read_text(encoding="utf-8").strip().split("\n\n")
    assert len(blocks) == 130
    assert all(b.startswith("# item_id = ") and "\n# external_id = " in b and "# label_source = " in b for b in blocks)
    assert any("\tB-" in b for b in blocks)
    assert (
        "single-label" in _invoke("-p", str(p.root), "export", "--labels", "consensus", "-o", str(out), code=1).output
    )
