"""Training runs on a project (issue 14): train, evaluate, compare, errors, pre-labels, model card.

A 1,200-message slice of the bundled SMS Spam Collection (imported as one annotator's labels)
keeps each training to a second or two; the projects run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score

from tests.support import NewProject
from truthset.core.config import CostsConfig
from truthset.core.errors import InvalidInput, NotFound
from truthset.services import checks, data_issues, model_loop, review, runs
from truthset.services.demo import demo_file
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.qc import project_annotations
from truthset.services.training import load_dataset, load_model, train
from truthset.services.training_data import FinalLabel

N_ROWS = 1200


def _sms_slice(tmp_path: Path, rows: int = N_ROWS, *, skip: int = 0) -> Path:
    lines = demo_file().read_text(encoding="utf-8").splitlines()
    path = tmp_path / f"sms_{skip}_{rows}.tsv"
    path.write_text("\n".join([lines[0], *lines[1 + skip : 1 + skip + rows]]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sms(new_project: NewProject, tmp_path: Path) -> Project:
    p = new_project(labels=["ham", "spam"])
    import_file(p, _sms_slice(tmp_path), ImportOptions(annotator="uci-original"))
    return p


def _numbers(d: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in d.items() if isinstance(v, (int, float)) and k != "run"}


def test_same_seed_gives_identical_metrics_and_the_test_set_stays_frozen(sms: Project) -> None:
    a = train(sms, seed=0, n_boot=200)
    b = train(sms, seed=0, n_boot=200)
    assert a["run"] != b["run"]
    assert _numbers(a) == _numbers(b) and a["accuracy_ci_low"] < a["accuracy"] <= a["accuracy_ci_high"]
    assert a["dataset_hash"] == b["dataset_hash"]
    ra, rb = runs.get_run(sms, a["run"]), runs.get_run(sms, b["run"])
    assert ra["split"]["test"] == rb["split"]["test"] and len(ra["split"]["test"]) == a["n_test"]
    assert rb["split"]["description"]["method"] == "frozen_test"
    # another seed changes the training side, never the frozen test items
    c = train(sms, seed=1, n_boot=200)
    assert runs.get_run(sms, c["run"])["split"]["test"] == ra["split"]["test"]
    # the run records what a rerun needs
    assert ra["schema_version"] == sms.schema_version and ra["code_version"]
    assert ra["library_versions"]["scikit-learn"] and ra["config"]["classes"] == ["ham", "spam"]
    assert set(ra["split"]["train"]).isdisjoint(ra["split"]["test"])


def test_stored_predictions_score_as_scikit_learn_does(sms: Project) -> None:
    out = train(sms, seed=0, n_boot=0)
    preds = runs.test_predictions(sms, out["run"])
    assert len(preds) == out["n_test"]
    y, pred = preds["label"].to_numpy(), preds["pred"].to_numpy()
    p_spam = np.asarray(preds["proba"].tolist())[:, 1]
    ev = runs.evaluate_run(sms, out["run"], n_boot=0)
    assert ev["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert ev["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert ev["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert ev["roc_auc"] == pytest.approx(roc_auc_score(y == "spam", p_spam))
    assert ev["accuracy"] == pytest.approx(out["accuracy"]) and ev["against"] == "final labels"
    # the saved model reloads (with the version check) and predicts what the run stored
    model = load_model(sms, runs.get_run(sms, out["run"]))
    ds = load_dataset(sms, "latest", ["text"])
    where = {int(i): k for k, i in enumerate(ds.item_ids)}
    again = model.predict([ds.x[where[i]] for i in preds["item_id"]])
    assert (again == pred).all()


def test_slices_and_errors(sms: Project) -> None:
    out = train(sms, seed=0, n_boot=100)
    ev = runs.evaluate_run(sms, out["run"], slice_by="length", n_boot=100)
    assert sum(r["n_test"] for r in ev["by_slice"]) == out["n_test"]
    with pytest.raises(InvalidInput, match="no test item has that field"):
        runs.evaluate_run(sms, out["run"], slice_by="nope", n_boot=0)
    eb = model_loop.errors(sms, out["run"])
    wrong = int((runs.test_predictions(sms, out["run"]).eval("label != pred")).sum())
    assert eb["n_errors"] == wrong == sum(b["count"] for b in eb["buckets"])
    bucket = next(b["bucket"] for b in eb["buckets"] if b["count"])
    sent = model_loop.errors(sms, out["run"], send_to_review=bucket)["sent_to_review"]
    assert sent["issue"] is not None and len(sent["items"]) == next(
        b["count"] for b in eb["buckets"] if b["bucket"] == bucket
    )
    # the bucket's items wait in the review queue as findings of their own check, sent...
    found = checks.list_findings(sms, check=f"model_errors:{bucket}")
    assert sorted(i for f in found for i in f["items"]) == sent["items"] and all(f["sent_to_review"] for f in found)
    waiting = {w["item_id"]: w["reasons"] for w in review.review_candidates(sms, limit=10_000)}
    assert all(f"check: model_errors:{bucket}" in waiting[i] for i in sent["items"])
    # ...and the tracker holds one issue listing them
    assert data_issues.get_issue(sms, sent["issue"])["items"] == sent["items"]
    with pytest.raises(InvalidInput, match="use one of"):
        model_loop.errors(sms, out["run"], send_to_review="nonsense")


def test_compare_needs_the_same_test_items(sms: Project) -> None:
    a = train(sms, seed=0, n_boot=100)
    b = train(sms, seed=0, n_boot=100, weight_by_posterior=True)
    r = runs.compare_runs(sms, a["run"], b["run"], n_boot=100)
    assert r["n_test"] == a["n_test"] and r["verdict"]
    # every weight is 1 (one annotator): the same model, so no difference at all
    assert r["only_a_right"] == r["only_b_right"] == 0 and r["verdict"].startswith("no evidence")
    c = train(sms, seed=3, n_boot=100, new_test_set=True, split="stratified")
    with pytest.raises(InvalidInput, match="different items"):
        runs.compare_runs(sms, a["run"], c["run"], n_boot=100)
    with pytest.raises(NotFound, match="not a training run"):
        runs.compare_runs(sms, a["run"], 999, n_boot=100)


def test_costs_from_the_project_file_pick_a_threshold(sms: Project) -> None:
    sms.save_config(
        sms.config.model_copy(update={"costs": CostsConfig(false_positive=10, false_negative=1, positive="spam")})
    )
    out = train(sms, seed=0, n_boot=100)
    costs = runs.get_run(sms, out["run"])["metrics"]["costs"]
    assert costs["cost_fp"] == 10 and 0 <= costs["threshold"] <= 1
    assert costs["test_cost_ci_low"] <= costs["test_cost"] <= costs["test_cost_ci_high"]
    assert costs["n_test"] == out["n_test"]


def test_prelabels_are_never_counted_as_annotations(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["ham", "spam"])
    import_file(p, _sms_slice(tmp_path, 600), ImportOptions(annotator="uci-original"))
    out = train(p, seed=0, n_boot=0)
    judgements_before = len(project_annotations(p).frame)
    hash_before = out["dataset_hash"]
    # 40 new messages arrive without labels
    unlabelled = tmp_path / "new.csv"
    lines = demo_file().read_text(encoding="utf-8").splitlines()[2000:2040]
    import csv

    with unlabelled.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        w.writerows([[line.split("\t", 1)[1]] for line in lines])
    import_file(p, unlabelled, ImportOptions(text_col="text"))
    done = model_loop.prelabel(p, out["run"])
    assert done["prelabelled"] == 40 and sum(done["by_label"].values()) == 40
    assert model_loop.prelabel(p, out["run"])["prelabelled"] == 40  # still unjudged: suggested again
    # QC and training read judgements only: the pre-labels change neither
    assert len(project_annotations(p).frame) == judgements_before
    ds = load_dataset(p, "latest", ["text"])
    assert len(ds) == out["n_items"] and ds.unlabelled == 40
    assert train(p, seed=0, n_boot=0)["dataset_hash"] == hash_before
    assert model_loop.prelabel_agreement(p)["answers_after_prelabel"] == 0


def test_training_refuses_what_it_cannot_do(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["ham", "spam"])
    with pytest.raises(InvalidInput, match="at least 10 items"):
        train(p)
    with pytest.raises(NotFound, match="no training run yet"):
        runs.evaluate_run(p)
    ner = new_project(task="ner", labels=["PER"])  # every task trains now; an empty project has nothing to
    with pytest.raises(InvalidInput, match="0 labelled item"):
        train(ner)
    tab = new_project(task="tabular-classification", labels=["a", "b"])
    with pytest.raises(InvalidInput, match="supports text-classification, multi-label, ner, image-classification"):
        train(tab)


def test_model_card_has_the_runs_facts(sms: Project, tmp_path: Path) -> None:
    out = train(sms, seed=0, n_boot=100)
    res = runs.write_model_card(sms, out["run"], tmp_path / "card.html")
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    assert res["run"] == out["run"] and out["dataset_hash"] in html
    assert f"{out['accuracy']:.3f}"[:4] in html
    facts = runs.card(sms, out["run"])
    assert facts["sections"]["model_details"]["seed"] == 0
    assert json.dumps(facts["sections"]["metrics"]["values"])


def test_uncertainty_order_serves_the_most_uncertain_prelabelled_item_first(
    new_project: NewProject, tmp_path: Path
) -> None:
    import csv

    from truthset.modeling import entropy
    from truthset.services.queue import next_task, submit
    from truthset.services.users import add_user

    p = new_project(labels=["ham", "spam"])
    p.save_config(p.config.model_copy(update={"queue": p.config.queue.model_copy(update={"order": "uncertainty"})}))
    import_file(p, _sms_slice(tmp_path, 600), ImportOptions(annotator="uci-original"))
    out = train(p, seed=0, n_boot=0)
    fresh = tmp_path / "fresh.csv"
    with fresh.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        lines = demo_file().read_text(encoding="utf-8").splitlines()[3000:3030]
        w.writerows([[line.split("\t", 1)[1]] for line in lines])
    import_file(p, fresh, ImportOptions(text_col="text"))
    done = model_loop.prelabel(p, out["run"], uncertainty="entropy")
    assert done["prelabelled"] >= 25 and done["queue_order"] == "uncertainty (entropy)"  # less any duplicate
    # the model's probabilities for the 30 new items, recomputed: the queue must start at the most uncertain
    from truthset.services.training import full_proba, load_model
    from truthset.services.training_data import final_labels, resolve

    with p.store.read() as tx:
        from truthset.store.repo import runs as repo_runs

        ids = repo_runs.item_ids_without_judgement(tx, p.id, ("human", "import"))
    assert len(ids) == done["prelabelled"]
    rows = final_labels(p, resolve(p, "latest"), ids)
    proba = full_proba(load_model(p, runs.get_run(p, out["run"])), [r.data["text"] for r in rows], ["ham", "spam"])
    most_uncertain = rows[int(np.argmax(entropy(proba)))].item_id
    ann = add_user(p, "ann", role="annotator", password="pw-ann-123456")
    task = next_task(p, ann.id)
    assert task is not None and task.item_id == most_uncertain
    assert task.prelabel in ("ham", "spam")  # shown as a suggestion
    submit(p, ann.id, task.assignment_id, task.prelabel)
    agreement = model_loop.prelabel_agreement(p)
    assert agreement["answers_after_prelabel"] == 1 and agreement["agreement"] == 1.0
    assert agreement["by_annotator"] == [{"annotator": "ann", "answers": 1, "agreement": 1.0}]


def test_learning_curve_answers_whether_more_labels_help(sms: Project) -> None:
    out = train(sms, seed=0, n_boot=0)
    c = runs.curve(sms, out["run"], seeds=(0, 1), n_boot=200)
    assert [pt["fraction"] for pt in c["points"]] == [0.25, 0.5, 0.75, 1.0]
    assert c["points"][-1]["n_train"] == out["n_train"]
    assert c["more_labels_help"] in ("yes", "no", "unclear") and c["answer"]
    assert all(pt["ci_low"] <= pt["macro_f1"] <= pt["ci_high"] for pt in c["points"])
    # the full-data point with seed 0 is the run's own model: the same macro-F1
    assert c["points"][-1]["per_seed"][0] == pytest.approx(out["macro_f1"] * 100)


def test_time_split_tests_on_the_latest_items(new_project: NewProject, tmp_path: Path) -> None:
    import pandas as pd

    lines = demo_file().read_text(encoding="utf-8").splitlines()[1:401]
    frame = pd.DataFrame([ln.split("\t", 1) for ln in lines], columns=["label", "text"])
    frame["day"] = [f"2026-01-{1 + i // 20:02d}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "dated.csv", index=False)
    p = new_project(labels=["ham", "spam"])
    import_file(p, tmp_path / "dated.csv", ImportOptions(text_col="text", label_col="label", annotator="uci"))
    with pytest.raises(InvalidInput, match="--time-field"):
        train(p, split="time", n_boot=0)
    out = train(p, split="time", time_field="day", n_boot=0, val_size=0.0)
    run = runs.get_run(p, out["run"])
    day = {r.item_id: r.data["day"] for r in load_dataset_rows(p)}
    assert max(day[i] for i in run["split"]["train"]) <= min(day[i] for i in run["split"]["test"])
    by_batch = runs.evaluate_run(p, out["run"], slice_by="batch", n_boot=0)
    assert len(by_batch["by_slice"]) == 1 and by_batch["by_slice"][0]["n_test"] == out["n_test"]


def load_dataset_rows(p: Project) -> list[FinalLabel]:
    from truthset.services.training_data import LabelChoice, iter_final_labels

    return [r for page in iter_final_labels(p, LabelChoice("latest")) for r in page]


def test_a_model_file_is_loaded_only_with_matching_versions_and_known_types(sms: Project) -> None:
    from fractions import Fraction

    import skops.io as sio

    from truthset.services.training import model_path

    out = train(sms, seed=0, n_boot=0)
    run = runs.get_run(sms, out["run"])
    older = {**run, "library_versions": {**run["library_versions"], "scikit-learn": "0.24.2"}}
    with pytest.raises(InvalidInput, match="scikit-learn 0.24.2"):
        load_model(sms, older)
    sio.dump({"payload": Fraction(1, 3)}, model_path(sms, out["run"]))
    with pytest.raises(InvalidInput, match="not written by truthset train"):
        load_model(sms, run)
    model_path(sms, out["run"]).unlink()
    with pytest.raises(NotFound, match="no model file"):
        load_model(sms, run)


def test_gold_scoring_says_how_much_of_the_gold_file_matched(new_project: NewProject, tmp_path: Path) -> None:
    """evaluate/compare --gold: the result names the gold source and how many of its rows matched
    no item (main dropped match_gold's count, so a gold file keyed on the wrong ids scored a
    handful of items without a word)."""
    from click.testing import CliRunner

    from truthset.cli import main

    lines = demo_file().read_text(encoding="utf-8").splitlines()[1:401]
    f = tmp_path / "ids.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "text"])
        w.writerows([f"m{i}", *ln.split("\t", 1)] for i, ln in enumerate(lines))
    p = new_project(labels=["ham", "spam"])
    assert import_file(p, f, ImportOptions(id_col="id", annotator="uci-original")).items_added == 400
    a, b = train(p, seed=0, n_boot=0), train(p, seed=1, n_boot=0)
    gold = tmp_path / "gold.csv"
    truth = {f"m{i}": ln.split("\t")[0] for i, ln in enumerate(lines)}
    gold.write_text(
        "item,label\n" + "".join(f"{k},{v}\n" for k, v in truth.items()) + "".join(f"x{i},ham\n" for i in range(7)),
        encoding="utf-8",
    )
    ev = runs.evaluate_run(p, a["run"], gold=runs.gold_labels(p, gold), n_boot=0)
    assert ev["against"] == "gold" and ev["gold_source"] == str(gold)
    assert (ev["gold_rows"], ev["gold_matched"], ev["gold_unmatched"]) == (407, 400, 7)
    preds = runs.test_predictions(p, a["run"])
    assert ev["n_test"] == len(preds)
    cmp = runs.compare_runs(p, a["run"], b["run"], gold=runs.gold_labels(p, gold), n_boot=0)
    assert cmp["gold_unmatched"] == 7
    out = CliRunner().invoke(main, ["-p", str(p.root), "evaluate", str(a["run"]), "--gold", str(gold), "--n-boot", "0"])
    assert out.exit_code == 0, out.output
    assert "400 of 407 rows" in out.output and "7 match none" in out.output
