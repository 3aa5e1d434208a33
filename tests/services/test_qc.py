"""QC on projects (SQLite and PostgreSQL) and on plain answer files, through services and CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import DATASETS, LEOKA, SMS
from tests.support import NewProject
from truthset.cli import main
from truthset.core.errors import InvalidInput
from truthset.quality import (
    DawidSkene,
    MajorityVote,
    krippendorff_alpha,
    pairwise_span_f1,
    sample_size,
)
from truthset.services import qc, qc_spans
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.store.models import Consensus, Run

DUCK = DATASETS / "crowd" / "d_Duck_Identification"
PRODUCT = DATASETS / "crowd" / "d_jn-product"


def _duck_project(new_project: NewProject) -> Project:
    p = new_project()
    import_file(p, DUCK / "answer.csv", ImportOptions(text_col="question", annotator_col="worker", label_col="answer"))
    return p


def test_project_aggregate_stores_consensus_run(new_project: NewProject) -> None:
    p = _duck_project(new_project)
    j = qc.project_annotations(p)
    df = j.frame
    raw = pd.read_csv(DUCK / "answer.csv")
    assert len(df) == len(raw.drop_duplicates(["question", "worker", "answer"])) and j.set_aside == 0
    model, report = qc.aggregate(j, "ds")
    assert report["items"] == raw["question"].nunique()
    run = qc.store_consensus(p, model, "ds", df, report, seed=0)
    with p.store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Consensus).where(Consensus.run_id == run)).scalar_one()
        stored = conn.execute(select(Run).where(Run.id == run)).one()
    assert n == report["items"]
    assert json.loads(stored.config)["method"] == "ds"
    assert stored.dataset_hash == qc.dataset_hash(df)
    # the same numbers as the pure library on the same frame
    assert (model.labels_ == DawidSkene().fit(df).labels_).all()


def test_agreement_of_a_project_matches_the_library(new_project: NewProject) -> None:
    p = _duck_project(new_project)
    j = qc.project_annotations(p)
    rep = qc.agreement_report(j, level="nominal", n_boot=50)
    alpha = next(m for m in rep["metrics"] if m["metric"] == "krippendorff_alpha")
    assert alpha["value"] == pytest.approx(krippendorff_alpha(j.frame, level="nominal"), abs=1e-6)
    assert alpha["ci_low"] <= alpha["value"] <= alpha["ci_high"]
    assert {r["label"] for r in rep["per_label"]} == set(j.frame["label"].astype(str))
    assert rep["left_out"] == []


def test_single_annotator_project_gets_a_clear_error(new_project: NewProject) -> None:
    p = new_project()
    import_file(p, SMS)
    with pytest.raises(InvalidInput, match="annotator"):
        qc.agreement_report(qc.project_annotations(p), level="nominal", n_boot=10)


def _cli(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.stdout if code == 0 else res.output


FILE_ARGS = ["--item-col", "question", "--annotator-col", "worker", "--label-col", "answer"]


@pytest.mark.parametrize("method, expected", [("mv", 0.897), ("ds", 0.940)])
def test_cli_reproduces_published_d_product_accuracy(method: str, expected: float) -> None:
    out = json.loads(
        _cli(
            "qc",
            "aggregate",
            "--answers",
            str(PRODUCT / "answer.csv"),
            *FILE_ARGS,
            "--gold",
            str(PRODUCT / "truth.csv"),
            "--gold-item-col",
            "question",
            "--gold-label-col",
            "truth",
            "--method",
            method,
            "--json",
        )
    )
    assert out["accuracy"] == pytest.approx(expected, abs=0.005)
    assert out["majority_accuracy"] == pytest.approx(0.897, abs=0.005)
    assert out["gold_used_in_fit"] is False
    assert (out["gold_rows"], out["gold_matched"], out["gold_unmatched"]) == (8315, 8315, 0)


def test_cli_agreement_needs_an_explicit_level_for_files() -> None:
    res = CliRunner().invoke(main, ["qc", "agreement", "--answers", str(DUCK / "answer.csv"), *FILE_ARGS])
    assert res.exit_code == 2 and "--level" in res.output
    out = json.loads(
        _cli(
            "qc",
            "agreement",
            "--answers",
            str(DUCK / "answer.csv"),
            *FILE_ARGS,
            "--level",
            "nominal",
            "--n-boot",
            "50",
            "--json",
        )
    )
    assert out["items"] == 108 and out["annotators"] == 39
    assert {m["metric"] for m in out["metrics"]} >= {"percent_agreement", "krippendorff_alpha", "fleiss_kappa"}


# -- repeated judgements (issue 11, item 5) ---------------------------------------------------


def _with_repeats(tmp_path: Path, n: int = 277) -> Path:
    """The Duck answers plus ``n`` second answers, each flipping an earlier one of the same worker."""
    raw = pd.read_csv(DUCK / "answer.csv", dtype=str)
    again = raw.sample(n, random_state=0).assign(answer=lambda d: np.where(d["answer"] == "1", "0", "1"))
    path = tmp_path / "duck_repeats.csv"
    pd.concat([raw, again]).to_csv(path, index=False)
    return path


def test_repeated_judgements_keep_the_latest_and_name_items_by_external_id(
    new_project: NewProject, tmp_path: Path
) -> None:
    """On main: 'judgement(s) repeat ... item np.int64(75)' and exit 1, with no way out.

    A worker's second, different answer to an item now supersedes the first when it is imported
    (the earlier stays in history), so the project holds one current judgement per worker and
    item, and agreement uses exactly those: each worker's latest answer."""
    path = _with_repeats(tmp_path)
    p = new_project()
    report = import_file(
        p, path, ImportOptions(id_col="question", text_col="question", annotator_col="worker", label_col="answer")
    )
    assert report.superseded == 277 and report.conflicts == 277
    res = CliRunner().invoke(main, ["-p", str(p.root), "qc", "agreement", "--n-boot", "50", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["set_aside"] == 0 and "np." not in res.output
    raw = pd.read_csv(path, dtype=str)
    latest = raw.drop_duplicates(["question", "worker"], keep="last")
    assert out["annotations"] == len(latest)
    # the numbers are those of each worker's latest answer
    alpha = next(m for m in out["metrics"] if m["metric"] == "krippendorff_alpha")
    expect = krippendorff_alpha(latest.set_axis(["item", "annotator", "label"], axis=1), level="nominal")
    assert alpha["value"] == pytest.approx(expect, abs=1e-6)


def test_repeated_judgements_in_an_answers_file(tmp_path: Path) -> None:
    path = _with_repeats(tmp_path, 40)
    out = json.loads(_cli("qc", "aggregate", "--answers", str(path), *FILE_ARGS, "--method", "mv", "--json"))
    assert out["set_aside"] == 40 and out["annotations"] == 4212
    assert any("set aside" in w for w in out["warnings"])


# -- warnings that were silent (issue 11, item 13) ---------------------------------------------


def _first_rows(tmp_path: Path, n: int = 5000) -> Path:
    path = tmp_path / f"product_first_{n}.csv"
    pd.read_csv(PRODUCT / "answer.csv", dtype=str).head(n).to_csv(path, index=False)
    return path


def test_agreement_says_why_fleiss_is_left_out(tmp_path: Path) -> None:
    """On main, Fleiss' kappa silently vanished when items had unequal numbers of judgements."""
    path = _first_rows(tmp_path)  # the first 5,000 D_Product answers: items with 1, 2 or 3
    out = json.loads(
        _cli("qc", "agreement", "--answers", str(path), *FILE_ARGS, "--level", "nominal", "--n-boot", "20", "--json")
    )
    assert "fleiss_kappa" not in {m["metric"] for m in out["metrics"]}
    assert out["left_out"][0]["metric"] == "fleiss_kappa"
    assert "unequal numbers of judgements (1 to 3)" in out["left_out"][0]["reason"]
    text = CliRunner().invoke(
        main, ["qc", "agreement", "--answers", str(path), *FILE_ARGS, "--level", "nominal", "--n-boot", "20"]
    )
    assert "fleiss_kappa left out" in text.stderr


def test_aggregate_warns_when_items_have_one_judgement(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["ham", "spam"])
    import_file(p, SMS)  # one label per message: one annotator per item
    res = CliRunner().invoke(main, ["-p", str(p.root), "qc", "aggregate", "--method", "ds"])
    assert res.exit_code == 0, res.output
    assert "every item has a single judgement" in res.stderr
    some = json.loads(
        _cli("qc", "aggregate", "--answers", str(_first_rows(tmp_path)), *FILE_ARGS, "--method", "mv", "--json")
    )
    assert some["items_single_judgement"] == 2795
    assert any("2,795 of 3,815 items have a single judgement" in w for w in some["warnings"])


# -- acceptance sampling ------------------------------------------------------------------------


def test_cli_sample_plan_draw_and_verdict(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = json.loads(_cli("qc", "sample", "--batch-size", "5000", "--max-error-rate", "0.02", "--json"))
    assert out["sample_size"] == sample_size(5000, max_error_rate=0.02, confidence=0.95)
    p = new_project()
    r = import_file(p, SMS)
    monkeypatch.chdir(p.root)
    a = json.loads(_cli("qc", "sample", "--batch", str(r.batch), "--max-error-rate", "0.05", "--seed", "3", "--json"))
    b = json.loads(_cli("qc", "sample", "--batch", str(r.batch), "--max-error-rate", "0.05", "--seed", "3", "--json"))
    assert a["items"] == b["items"] and len(a["items"]) == a["sample_size"] == len(set(a["items"]))
    assert a["batch_size"] == 5171
    verdict = json.loads(
        _cli(
            "qc",
            "sample",
            "--batch-size",
            "5000",
            "--max-error-rate",
            "0.02",
            "--reviewed",
            "149",
            "--errors",
            "0",
            "--json",
        )
    )
    assert verdict["accepted"] is True and verdict["ci_low"] == 0


def test_sample_file_can_be_reviewed_as_it_is(new_project: NewProject, tmp_path: Path) -> None:
    """On main, -o wrote internal item ids only; now each row has the external id, text and label."""
    p = new_project(labels=["ham", "spam"])
    r = import_file(p, SMS)
    out = tmp_path / "review.csv"
    data = json.loads(
        _cli(
            "-p",
            str(p.root),
            "qc",
            "sample",
            "--batch",
            str(r.batch),
            "--max-error-rate",
            "0.05",
            "-o",
            str(out),
            "--json",
        )
    )
    drawn = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(drawn.columns[:3]) == ["item_id", "external_id", "text"]
    assert {"label", "label_source", "confidence"} <= set(drawn.columns)
    assert drawn["item_id"].astype(int).tolist() == data["items"] and data["labels"] == "latest"
    sms = pd.read_csv(SMS, sep="\t", header=None, names=["label", "text"], dtype=str, quoting=3)
    truth = dict(zip(sms["text"], sms["label"]))
    assert all(truth[t] == lab for t, lab in zip(drawn["text"], drawn["label"]))
    assert set(drawn["label_source"]) == {"single"}
    no_batch = CliRunner().invoke(
        main, ["qc", "sample", "--batch-size", "100", "--max-error-rate", "0.05", "-o", str(out)]
    )
    assert no_batch.exit_code == 2 and "--batch" in no_batch.output


def test_cli_project_aggregate_majority_beside(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = _duck_project(new_project)
    monkeypatch.chdir(p.root)
    out = json.loads(_cli("qc", "aggregate", "--method", "mv", "--json", "-o", str(tmp_path / "c.csv")))
    df = qc.project_annotations(p).frame
    assert out["agreement_with_majority"] == 1.0
    assert out["run"] >= 1
    assert out["items"] == MajorityVote().fit(df).labels_.size
    written = pd.read_csv(tmp_path / "c.csv", dtype=str)  # readable: the question text, not only ids
    assert list(written.columns) == ["item_id", "external_id", "text", "label", "posterior"]
    assert set(written["text"]) == set(pd.read_csv(DUCK / "answer.csv", dtype=str)["question"])


# -- NER (issue 11, item 10) ---------------------------------------------------------------------


def test_ner_span_agreement_per_pair(new_project: NewProject) -> None:
    p = new_project(task="ner")
    import_file(p, LEOKA)
    sj = qc_spans.project_spans(p)
    rep = qc_spans.span_agreement_report(sj, n_boot=200)
    assert rep["annotators"] == 3 and rep["items"] == 130
    # two annotations on one task mark no span: they still count as judgements
    assert len(sj.coverage) == 388 > sj.spans.groupby(["item", "annotator"]).ngroups
    assert 0 < rep["span_f1_exact"] <= rep["span_f1_overlap"] <= 1
    assert -1 <= rep["token_alpha"] <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {m: pairwise_span_f1(sj.spans, match=m, coverage=sj.coverage) for m in ("exact", "overlap")}
    assert len(rep["pairs"]) == 6
    for pair in rep["pairs"]:
        assert pair["f1"] == pytest.approx(ref[pair["match"]].loc[pair["annotator_a"], pair["annotator_b"]], abs=1e-6)
        assert pair["ci_low"] < pair["f1"] < pair["ci_high"] and pair["items"] >= 128
    exact = [x["f1"] for x in rep["pairs"] if x["match"] == "exact"]
    assert exact == sorted(exact) and rep["span_f1_exact"] == pytest.approx(np.mean(exact), abs=1e-6)
    with pytest.raises(InvalidInput, match="ner"):
        qc.project_annotations(p)
