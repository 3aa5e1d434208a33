"""``truthset train`` on multi-label, NER and image-classification projects (issue 14, second pass).

Multi-label: 1,000 real SMS messages with three labels read off them (spam from the
collection, ``money`` and ``question`` from what the message says). NER: the real Label
Studio export of LEOKA (130 texts). Images: small PNGs of two colour families.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, roc_auc_score

from tests.conftest import LEOKA
from tests.support import NewProject, png
from truthset.cli import main
from truthset.core.errors import InvalidInput
from truthset.services import model_loop, runs
from truthset.services.demo import demo_file
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.training import load_model, train
from truthset.services.training_data import FinalLabel

MONEY = re.compile(r"£|\$|\bcash\b|\bprize\b|\bfree\b", re.IGNORECASE)


def _cli(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


def _multilabel_file(tmp_path: Path, rows: int = 1000) -> Path:
    lines = demo_file().read_text(encoding="utf-8").splitlines()[1 : 1 + rows]
    path = tmp_path / "sms_multilabel.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "labels"])
        for line in lines:
            label, text = line.split("\t", 1)
            tags = (
                (["spam"] if label == "spam" else [])
                + (["money"] if MONEY.search(text) else [])
                + (["question"] if "?" in text else [])
            )
            w.writerow([text, "|".join(tags)])
    return path


def test_multilabel_project_trains_evaluates_and_saves_a_run(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(task="multi-label", labels=["spam", "money", "question"])
    import_file(p, _multilabel_file(tmp_path))
    out = train(p, seed=0, n_boot=200)
    assert out["task"] == "multi-label" and out["model"] == "tfidf-word-char-one-vs-rest"
    for name in ("subset_accuracy", "micro_f1", "macro_f1", "hamming_loss", "roc_auc"):
        assert out[f"{name}_ci_low"] <= out[name] <= out[f"{name}_ci_high"], name
    # a message with no label has no annotation (an empty cell imports as none): it is counted, not used
    assert out["micro_f1"] > 0.8 and out["n_test"] > 50 and out["unlabelled"] > 500
    run = runs.get_run(p, out["run"])
    assert run["config"]["classes"] == ["money", "question", "spam"]
    # the stored predictions score as scikit-learn scores them
    preds = runs.test_predictions(p, out["run"])
    classes = run["config"]["classes"]
    y = np.array([[c in labels for c in classes] for labels in preds["label"]], dtype=int)
    yp = np.array([[c in labels for c in classes] for labels in preds["pred"]], dtype=int)
    assert out["micro_f1"] == pytest.approx(f1_score(y, yp, average="micro"))
    assert out["macro_f1"] == pytest.approx(f1_score(y, yp, average="macro", zero_division=0))
    assert out["subset_accuracy"] == pytest.approx(accuracy_score(y, yp))
    assert out["hamming_loss"] == pytest.approx(hamming_loss(y, yp))
    # the truth is each message's imported labels
    texts = {r["text"]: r["labels"] for r in csv.DictReader(_multilabel_file(tmp_path).open(encoding="utf-8"))}
    assert sum(bool(ls) for ls in preds["label"]) > 0 and all(isinstance(ls, list) for ls in preds["label"])
    assert len(texts) >= 900
    # evaluate recomputes the same numbers; the saved model reloads and agrees with the stored probabilities
    ev = runs.evaluate_run(p, out["run"], n_boot=200)
    assert ev["micro_f1"] == pytest.approx(out["micro_f1"]) and ev["task"] == "multi-label"
    model = load_model(p, run)
    assert model is not None and (p.root / run["artifacts"]["model"]).is_file()
    # two multi-label runs compare on their label sets, with the numbers evaluate reports
    cmp = runs.compare_runs(p, out["run"], out["run"], metric="micro_f1", n_boot=100)
    assert cmp["task"] == "multi-label" and cmp["n_test"] == out["n_test"]
    assert cmp["micro_f1_a"] == pytest.approx(out["micro_f1"]) and cmp["accuracy_a"] == pytest.approx(
        out["subset_accuracy"]
    )
    assert cmp["micro_f1_diff"] == 0 and cmp["only_a_right"] == cmp["only_b_right"] == 0
    assert cmp["verdict"].startswith("no evidence of a difference")
    with pytest.raises(InvalidInput, match="single-label runs"):
        runs.compare_runs(p, out["run"], out["run"], gold=pd.Series(dtype=object))
    # single-label tools say so rather than fail
    with pytest.raises(InvalidInput, match="single-label runs"):
        model_loop.prelabel(p, out["run"])
    # the CLI: --json with plain names, a clear message for --slice
    again = json.loads(_cli("-p", str(p.root), "train", "--n-boot", "50", "--json"))
    assert again["micro_f1"] == pytest.approx(out["micro_f1"])  # same seed, same frozen test set
    assert "--slice and gold scoring" in _cli("-p", str(p.root), "evaluate", "--slice", "length", code=1)
    text = _cli("-p", str(p.root), "compare", str(out["run"]), str(again["run"]), "--n-boot", "50")
    assert f"run {out['run']} (A) vs run {again['run']} (B)" in text and "no evidence of a difference" in text
    # listed with its task and headline, and a model card naming the model and its metrics
    listed = runs.list_runs(p)[0]
    assert listed["task"] == "multi-label" and listed["micro_f1"] == pytest.approx(out["micro_f1"])
    card = runs.write_model_card(p, out["run"], tmp_path / "card.html")
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    assert card["run"] == out["run"] and "one logistic regression per label" in html and "subset_accuracy" in html


def _spans_set(frame_col: list[list[dict[str, Any]]], ids: list[int]) -> set[tuple[Any, ...]]:
    return {(i, s["start"], s["end"], s["label"]) for i, spans in zip(ids, frame_col, strict=True) for s in spans}


def test_ner_project_trains_with_span_scores(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(task="ner")
    import_file(p, LEOKA)
    out = train(p, seed=0, labels="latest", n_boot=200)
    assert out["task"] == "ner" and out["model"] in ("ner-crf", "ner-logreg")
    for name in ("exact_precision", "exact_recall", "exact_f1", "overlap_f1"):
        assert out[f"{name}_ci_low"] <= out[name] <= out[f"{name}_ci_high"], name
    assert out["overlap_f1"] >= out["exact_f1"] > 0.1 and out["n_test"] >= 20
    # exact scores recounted by hand from the stored character spans
    preds = runs.test_predictions(p, out["run"])
    ids = preds["item_id"].tolist()
    truth, pred = _spans_set(preds["label"].tolist(), ids), _spans_set(preds["pred"].tolist(), ids)
    assert out["n_true_spans"] == len(truth) and out["n_pred_spans"] == len(pred)
    assert out["exact_precision"] == pytest.approx(len(truth & pred) / len(pred))
    assert out["exact_recall"] == pytest.approx(len(truth & pred) / len(truth))
    # predicted spans are character offsets into the item's text, like an annotation
    texts = {r.item_id: r.data["text"] for r in _final(p, ids)}
    assert all(0 <= s[1] < s[2] <= len(texts[s[0]]) for s in pred)
    ev = runs.evaluate_run(p, out["run"], n_boot=200)
    assert ev["exact_f1"] == pytest.approx(out["exact_f1"]) and ev["overlap_f1"] == pytest.approx(out["overlap_f1"])
    assert load_model(p, runs.get_run(p, out["run"])) is not None
    runs.write_model_card(p, out["run"], tmp_path / "card.html")
    assert "exact_f1" in (tmp_path / "card.html").read_text(encoding="utf-8")
    with pytest.raises(InvalidInput, match="one field"):
        train(p, labels="latest", fields=["text", "other"])
    # the CRF takes no weights: --weight-by-posterior trains the per-token logistic regression
    # (slow on LEOKA's 48,000 tokens: on its first 15 texts here)
    small = tmp_path / "leoka15.json"
    small.write_text(json.dumps(json.loads(LEOKA.read_text(encoding="utf-8"))[:15]), encoding="utf-8")
    q = new_project(task="ner")
    import_file(q, small)
    w = train(q, seed=0, labels="latest", n_boot=0, weight_by_posterior=True, test_size=0.3)
    assert w["model"] == "ner-logreg" and w["n_test"] >= 3 and 0 <= w["exact_f1"] <= w["overlap_f1"]


def _final(p: Project, ids: list[int]) -> list[FinalLabel]:
    from truthset.services.training_data import final_labels, resolve

    return final_labels(p, resolve(p, "latest"), ids)


def _image_folder(tmp_path: Path, n: int = 24) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "pics"
    for label in ("red", "blue"):
        (folder / label).mkdir(parents=True)
        for i in range(n):
            low, high = rng.integers(0, 90, size=2), rng.integers(150, 256)
            rgb = (int(high), int(low[0]), int(low[1])) if label == "red" else (int(low[0]), int(low[1]), int(high))
            size = int(rng.integers(3, 12))
            (folder / label / f"{i}.png").write_bytes(png(size, size + 1, rgb))
    return folder


def test_image_project_trains_on_the_recorded_images(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(task="image-classification", labels=["red", "blue"])
    folder = _image_folder(tmp_path)
    r = import_file(p, folder, ImportOptions(labels_from_folders=True))
    assert r.items_added == 48
    out = train(p, seed=0, n_boot=200)
    assert out["model"] == "image-histogram-pixels" and out["skipped"] == {}
    assert out["accuracy_ci_low"] <= out["accuracy"] <= out["accuracy_ci_high"] and out["accuracy"] >= 0.9
    preds = runs.test_predictions(p, out["run"])
    proba = np.asarray(preds["proba"].tolist())
    classes = runs.get_run(p, out["run"])["config"]["classes"]
    assert out["roc_auc"] == pytest.approx(roc_auc_score(preds["label"] == classes[1], proba[:, 1]))
    # the same seed gives the same numbers; evaluate and compare work as for text
    again = train(p, seed=0, n_boot=200)
    assert again["accuracy"] == out["accuracy"] and again["roc_auc"] == out["roc_auc"]
    assert runs.compare_runs(p, out["run"], again["run"], n_boot=100)["verdict"].startswith("no evidence")
    # pre-labels read the images too
    # error buckets (an image is never "broken input" for lack of text) and the learning curve
    errs = model_loop.errors(p, out["run"])
    assert {b["bucket"]: b["count"] for b in errs["buckets"]}.get("broken_input", 0) == 0
    c = runs.curve(p, out["run"], seeds=(0, 1), n_boot=100)
    assert c["points"][-1]["n_train"] == out["n_train"] and c["more_labels_help"] in ("yes", "no", "unclear")
    runs.write_model_card(p, out["run"], tmp_path / "card.html")
    assert "colour histogram" in (tmp_path / "card.html").read_text(encoding="utf-8")
    pre = model_loop.prelabel(p, out["run"], only_unjudged=False)
    assert pre["prelabelled"] == 48 and sum(pre["by_label"].values()) == 48
    # an image changed on disk since import is left out and counted, not a crash
    victim = next((folder / "red").glob("*.png"))
    victim.write_bytes(png(5, 5, (0, 255, 0)))
    third = train(p, seed=0, n_boot=0)
    assert third["skipped"] == {"image missing, changed or a URL": 1} and third["n_items"] == 47
