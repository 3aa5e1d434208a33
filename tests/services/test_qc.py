"""QC on projects (SQLite and PostgreSQL) and on plain answer files, through services and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import DATASETS, LEOKA, SMS
from truthset.cli import main
from truthset.core.errors import InvalidInput
from truthset.quality import DawidSkene, MajorityVote, krippendorff_alpha, sample_size
from truthset.services import qc
from truthset.services.imports import ImportOptions, import_file
from truthset.store.models import Consensus, Run

DUCK = DATASETS / "crowd" / "d_Duck_Identification"
PRODUCT = DATASETS / "crowd" / "d_jn-product"


def _duck_project(new_project):  # type: ignore[no-untyped-def]
    p = new_project()
    import_file(p, DUCK / "answer.csv", ImportOptions(text_col="question", annotator_col="worker", label_col="answer"))
    return p


def test_project_aggregate_stores_consensus_run(new_project) -> None:  # type: ignore[no-untyped-def]
    p = _duck_project(new_project)
    df = qc.project_annotations(p)
    raw = pd.read_csv(DUCK / "answer.csv")
    assert len(df) == len(raw.drop_duplicates(["question", "worker", "answer"]))
    model, report = qc.aggregate(df, "ds")
    assert report["items"] == raw["question"].nunique()
    run = qc.store_consensus(p, model, "ds", df, report, seed=0)
    with p.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Consensus).where(Consensus.run_id == run)).scalar_one()
        stored = conn.execute(select(Run).where(Run.id == run)).one()
    assert n == report["items"]
    assert json.loads(stored.config)["method"] == "ds"
    assert stored.dataset_hash == qc.dataset_hash(df)
    # the same numbers as the pure library on the same frame
    assert (model.labels_ == DawidSkene().fit(df).labels_).all()


def test_agreement_of_a_project_matches_the_library(new_project) -> None:  # type: ignore[no-untyped-def]
    p = _duck_project(new_project)
    df = qc.project_annotations(p)
    rep = qc.agreement_report(df, level="nominal", n_boot=50)
    alpha = next(m for m in rep["metrics"] if m["metric"] == "krippendorff_alpha")
    assert alpha["value"] == pytest.approx(krippendorff_alpha(df, level="nominal"), abs=1e-6)
    assert alpha["ci_low"] <= alpha["value"] <= alpha["ci_high"]
    assert {r["label"] for r in rep["per_label"]} == set(df["label"].astype(str))


def test_single_annotator_project_gets_a_clear_error(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project()
    import_file(p, SMS)
    with pytest.raises(InvalidInput, match="annotator"):
        qc.agreement_report(qc.project_annotations(p), level="nominal", n_boot=10)


def test_ner_span_agreement(new_project) -> None:  # type: ignore[no-untyped-def]
    p = new_project(task="ner")
    import_file(p, LEOKA)
    spans, texts, coverage = qc.project_spans(p)
    rep = qc.span_agreement_report(spans, texts, coverage)
    assert rep["annotators"] == 3 and rep["items"] == 130
    # two annotations on one task mark no span: they still count as judgements
    assert len(coverage) == 388 > spans.groupby(["item", "annotator"]).ngroups
    assert 0 < rep["span_f1_exact"] <= rep["span_f1_overlap"] <= 1
    assert -1 <= rep["token_alpha"] <= 1
    with pytest.raises(InvalidInput, match="ner"):
        qc.project_annotations(p)


def _cli(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


FILE_ARGS = ["--item-col", "question", "--annotator-col", "worker", "--label-col", "answer"]


@pytest.mark.parametrize("method, expected", [("mv", 0.897), ("ds", 0.940)])
def test_cli_reproduces_published_d_product_accuracy(method: str, expected: float) -> None:
    out = json.loads(_cli("qc", "aggregate", "--answers", str(PRODUCT / "answer.csv"), *FILE_ARGS,
                          "--gold", str(PRODUCT / "truth.csv"), "--gold-item-col", "question",
                          "--gold-label-col", "truth", "--method", method, "--json"))
    assert out["accuracy"] == pytest.approx(expected, abs=0.005)
    assert out["majority_accuracy"] == pytest.approx(0.897, abs=0.005)
    assert out["gold_used_in_fit"] is False


def test_cli_agreement_needs_an_explicit_level_for_files() -> None:
    res = CliRunner().invoke(main, ["qc", "agreement", "--answers", str(DUCK / "answer.csv"), *FILE_ARGS])
    assert res.exit_code == 2 and "--level" in res.output
    out = json.loads(_cli("qc", "agreement", "--answers", str(DUCK / "answer.csv"), *FILE_ARGS,
                          "--level", "nominal", "--n-boot", "50", "--json"))
    assert out["items"] == 108 and out["annotators"] == 39
    assert {m["metric"] for m in out["metrics"]} >= {"percent_agreement", "krippendorff_alpha", "fleiss_kappa"}


def test_cli_gold_and_bad_columns(tmp_path: Path) -> None:
    out = json.loads(_cli("qc", "gold", "--answers", str(DUCK / "answer.csv"), *FILE_ARGS, "--gold",
                          str(DUCK / "truth.csv"), "--gold-item-col", "question", "--gold-label-col", "truth",
                          "--threshold", "0.75", "--json"))
    assert len(out["annotators"]) == 39
    assert all(r["passed"] == (r["accuracy"] >= 0.75) for r in out["annotators"])
    res = CliRunner().invoke(main, ["qc", "gold", "--answers", str(DUCK / "answer.csv"), "--item-col", "nope"])
    assert res.exit_code == 1 and "--item-col 'nope'" in res.output and "Traceback" not in res.output


def test_cli_sample_plan_draw_and_verdict(new_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(_cli("qc", "sample", "--batch-size", "5000", "--max-error-rate", "0.02", "--json"))
    assert out["sample_size"] == sample_size(5000, max_error_rate=0.02, confidence=0.95)
    p = new_project()
    r = import_file(p, SMS)
    monkeypatch.chdir(p.root)
    a = json.loads(_cli("qc", "sample", "--batch", str(r.batch), "--max-error-rate", "0.05", "--seed", "3", "--json"))
    b = json.loads(_cli("qc", "sample", "--batch", str(r.batch), "--max-error-rate", "0.05", "--seed", "3", "--json"))
    assert a["items"] == b["items"] and len(a["items"]) == a["sample_size"] == len(set(a["items"]))
    assert a["batch_size"] == 5171
    verdict = json.loads(_cli("qc", "sample", "--batch-size", "5000", "--max-error-rate", "0.02",
                              "--reviewed", "149", "--errors", "0", "--json"))
    assert verdict["accepted"] is True and verdict["ci_low"] == 0


def test_cli_project_aggregate_majority_beside(new_project, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    p = _duck_project(new_project)
    monkeypatch.chdir(p.root)
    out = json.loads(_cli("qc", "aggregate", "--method", "mv", "--json"))
    df = qc.project_annotations(p)
    assert out["agreement_with_majority"] == 1.0
    assert out["run"] >= 1
    assert out["items"] == MajorityVote().fit(df).labels_.size
