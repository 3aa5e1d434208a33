"""Gold files matched to a project's items, not-tested annotators, pass rules, NER gold (issue 11).

The CLI tests import only the CLI at module level, so they run unchanged against the code
before the fix (``PYTHONPATH=/work/main/src``), where every one of them fails.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tests.conftest import DATASETS, LEOKA
from tests.support import NewProject
from truthset.cli import main
from truthset.core.errors import InvalidInput
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project

PRODUCT = DATASETS / "crowd" / "d_jn-product"
GOLD_ARGS = ["--gold", str(PRODUCT / "truth.csv"), "--gold-item-col", "question", "--gold-label-col", "truth"]
ANSWERS = pd.read_csv(PRODUCT / "answer.csv", dtype=str)
TRUTH = pd.read_csv(PRODUCT / "truth.csv", dtype=str)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _product_project(new_project: NewProject, tmp_path: Path, rows: int | None = None) -> Project:
    """D_Product imported as the README does: the question id is the item's external id."""
    path = PRODUCT / "answer.csv"
    if rows is not None:
        path = tmp_path / f"answers_{rows}.csv"
        ANSWERS.head(rows).to_csv(path, index=False)
    p = new_project(labels=["0", "1"])
    import_file(
        p, path, ImportOptions(id_col="question", text_col="question", annotator_col="worker", label_col="answer")
    )
    return p


def test_gold_file_matches_items_by_external_id(new_project: NewProject, tmp_path: Path) -> None:
    """On main: no accuracy from 'qc aggregate --gold', and 'qc gold' failed all 176 annotators with n_gold 0."""
    p = _product_project(new_project, tmp_path)
    agg = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "ds", *GOLD_ARGS, "--json").stdout)
    assert agg["gold_matched"] == agg["gold_items"] == 8315 and agg["gold_unmatched"] == 0
    assert agg["accuracy"] == pytest.approx(0.9391, abs=1e-4)  # as on the answers file (docs table)
    res = _invoke("-p", str(p.root), "qc", "gold", *GOLD_ARGS, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["gold_items"] == 8315 and out["n_not_tested"] == 0 and out["tested"] == 176
    judged = ANSWERS.merge(TRUTH, on="question")
    per = judged.assign(ok=judged["answer"] == judged["truth"]).groupby("worker")["ok"].agg(["size", "sum"])
    got = {r["annotator"]: (r["n_gold"], r["correct"]) for r in out["annotators"]}
    assert got == {w: (int(n), int(c)) for w, n, c in per.itertuples()}
    assert out["n_failed"] == int((per["sum"] / per["size"] < 0.8).sum())


def test_gold_matching_no_item_fails(new_project: NewProject, tmp_path: Path) -> None:
    """A command that computed nothing exits non-zero (on main: exit 0, n_gold 0 everywhere)."""
    p = _product_project(new_project, tmp_path, rows=300)
    for command in ("gold", "aggregate"):
        res = _invoke("-p", str(p.root), "qc", command, *GOLD_ARGS, "--gold-by", "item_id")
        assert res.exit_code == 1, res.output
        assert "none of its 8,315 gold rows matches an item" in res.output and "Traceback" not in res.output
    wrong_col = tmp_path / "wrong.csv"
    TRUTH.assign(question="x" + TRUTH["question"]).to_csv(wrong_col, index=False)
    res = _invoke(
        "-p",
        str(p.root),
        "qc",
        "gold",
        "--gold",
        str(wrong_col),
        "--gold-item-col",
        "question",
        "--gold-label-col",
        "truth",
    )
    assert res.exit_code == 1 and "by external id" in res.output and "--gold-by item_id" in res.output


def test_partial_gold_is_reported_and_untested_annotators_are_not_failed(
    new_project: NewProject, tmp_path: Path
) -> None:
    """The first 5,000 answers cover 3,815 of the 8,315 gold items; the first 300 gold rows
    leave most annotators without a gold item: they are 'not tested', not 'failed'."""
    p = _product_project(new_project, tmp_path, rows=5000)
    subset = ANSWERS.head(5000)
    agg = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "mv", *GOLD_ARGS, "--json").stdout)
    matched = int(TRUTH["question"].isin(subset["question"]).sum())
    assert (agg["gold_rows"], agg["gold_matched"], agg["gold_unmatched"]) == (8315, matched, 8315 - matched)
    assert any(f"{8315 - matched:,} of 8,315 gold rows match no item" in w for w in agg["warnings"])

    few = tmp_path / "truth_300.csv"
    TRUTH.head(300).to_csv(few, index=False)
    res = _invoke(
        "-p",
        str(p.root),
        "qc",
        "gold",
        "--gold",
        str(few),
        "--gold-item-col",
        "question",
        "--gold-label-col",
        "truth",
        "--json",
    )
    out = json.loads(res.stdout)
    tested = set(subset.loc[subset["question"].isin(TRUTH.head(300)["question"]), "worker"])
    assert out["tested"] == len(tested) and out["n_not_tested"] == subset["worker"].nunique() - len(tested)
    assert set(out["not_tested"]) == set(subset["worker"]) - tested
    assert not set(out["failed"]) & set(out["not_tested"])
    assert all(r["passed"] is None and r["n_gold"] == 0 for r in out["annotators"] if r["status"] == "not tested")
    text = _invoke(
        "-p", str(p.root), "qc", "gold", "--gold", str(few), "--gold-item-col", "question", "--gold-label-col", "truth"
    )
    assert f"{out['n_not_tested']} not tested" in text.stdout
    assert "match no item" in text.stderr


@pytest.mark.parametrize("rule, column", [("point", "accuracy"), ("lower", "ci_low"), ("upper", "ci_high")])
def test_gold_rule_says_what_the_threshold_compares(rule: str, column: str) -> None:
    res = _invoke(
        "qc",
        "gold",
        "--answers",
        str(PRODUCT / "answer.csv"),
        "--item-col",
        "question",
        "--annotator-col",
        "worker",
        "--label-col",
        "answer",
        *GOLD_ARGS,
        "--threshold",
        "0.9",
        "--rule",
        rule,
        "--json",
    )
    out = json.loads(res.stdout)
    assert out["rule"] == rule
    assert all(r["passed"] == (r[column] >= 0.9) for r in out["annotators"])
    text = _invoke(
        "qc",
        "gold",
        "--answers",
        str(PRODUCT / "answer.csv"),
        "--item-col",
        "question",
        "--annotator-col",
        "worker",
        "--label-col",
        "answer",
        *GOLD_ARGS,
        "--threshold",
        "0.9",
        "--rule",
        rule,
    )
    assert f"passed when {column} >= 0.90" in text.stdout


def test_gold_file_with_one_row_per_judgement(tmp_path: Path) -> None:
    """The RTE file repeats the gold label on each of an item's 10 rows: agreeing repeats are one row."""
    from truthset.services import gold as gsvc

    rte = DATASETS / "crowd" / "snow2008" / "rte.standardized.tsv"
    raw = gsvc.read_gold_file(rte, item_col="orig_id", label_col="gold")
    assert len(raw) == 800
    clash = tmp_path / "clash.csv"
    clash.write_text("item,label\na,1\nb,0\na,0\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"two different gold labels \(lines \[2, 4\]\)"):
        gsvc.read_gold_file(clash, item_col="item", label_col="label")


def test_ner_gold_span_f1_per_annotator(new_project: NewProject) -> None:
    """LEOKA: each task's ground-truth annotation is gold; every annotator is scored on the
    gold items where their own annotation is not the gold one."""
    from truthset.quality import span_f1
    from truthset.services import gold as gsvc
    from truthset.services import qc_spans

    p = new_project(task="ner")
    import_file(p, LEOKA)
    res = _invoke("-p", str(p.root), "qc", "gold", "--n-boot", "200", "--threshold", "0.6", "--rule", "lower", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["metric"] == "span_f1" and out["gold_items"] == 130 and len(out["annotators"]) == 3
    sj = qc_spans.project_spans(p)
    gold_spans, _ = gsvc.project_gold_spans(p)
    assert sj.ground_truth is not None  # project_spans marks the gold answers
    mine = sj.coverage.loc[~sj.ground_truth]
    assert sum(r["n_gold"] for r in out["annotators"]) == len(mine) == 388 - 130
    for r in out["annotators"]:
        items = set(mine.loc[mine["annotator"] == r["annotator"], "item"])
        theirs = sj.spans[(sj.spans["annotator"] == r["annotator"]) & sj.spans["item"].isin(items)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expect = span_f1(theirs, gold_spans[gold_spans["item"].isin(items)])
        assert r["f1"] == pytest.approx(expect, abs=1e-6)
        assert r["ci_low"] < r["f1"] < r["ci_high"]
        assert r["status"] == ("passed" if r["ci_low"] >= 0.6 else "failed")


def test_project_gold_from_label_studio_ground_truth(new_project: NewProject) -> None:
    """Without --gold, the project's own gold (a Label Studio ground-truth flag) is used; an
    annotation that is itself the gold answer is not evidence about its annotator."""
    p = new_project()
    import_file(p, DATASETS / "labelstudio" / "ls_core_tests" / "humor_dataset_2_annotations.json")
    agg = json.loads(_invoke("-p", str(p.root), "qc", "aggregate", "--method", "mv", "--json").stdout)
    assert (agg["gold_source"], agg["gold_items"], agg["accuracy"]) == ("the project's gold items", 1, 1.0)
    res = _invoke("-p", str(p.root), "qc", "gold")
    assert res.exit_code == 1 and "only judgements are the gold answers themselves" in res.output
