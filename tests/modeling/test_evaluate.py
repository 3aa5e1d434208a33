"""evaluate(): every point estimate equals scikit-learn's; intervals are seeded and sane."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from tests.modeling.conftest import make_predictions
from truthset.core.errors import InvalidInput
from truthset.modeling import UndefinedMetricWarning, evaluate, evaluate_by_slice


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_point_estimates_equal_sklearn(k: int, seed: int) -> None:
    y, p = make_predictions(n=300, k=k, seed=seed)
    pred = p.argmax(axis=1)
    ev = evaluate(y, proba=p, classes=list(range(k)), n_boot=50)
    m = ev.metrics
    assert m["n_test"] == 300 and m["n_classes"] == k
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    for avg in ("macro", "micro", "weighted"):
        assert m[f"{avg}_f1"] == pytest.approx(skm.f1_score(y, pred, average=avg), abs=1e-12)
    assert m["macro_precision"] == pytest.approx(
        skm.precision_score(y, pred, average="macro", zero_division=0), abs=1e-12
    )
    assert m["macro_recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=1e-12)
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-9)
    if k == 2:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]), abs=1e-12)
        assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p[:, 1]), abs=1e-12)
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
        assert m["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    else:
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)
        yb = label_binarize(y, classes=list(range(k)))
        assert m["pr_auc"] == pytest.approx(skm.average_precision_score(yb, p, average="macro"), abs=1e-12)
        per_auc = skm.roc_auc_score(yb, p, average=None)
        np.testing.assert_allclose(ev.per_class["roc_auc"], per_auc, atol=1e-12)
    prec, rec, f1, support = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    np.testing.assert_allclose(ev.per_class["precision"], prec, atol=1e-12)
    np.testing.assert_allclose(ev.per_class["recall"], rec, atol=1e-12)
    np.testing.assert_allclose(ev.per_class["f1"], f1, atol=1e-12)
    assert ev.per_class["support"].tolist() == support.tolist()
    np.testing.assert_array_equal(ev.confusion.to_numpy(), skm.confusion_matrix(y, pred))


def test_labels_any_hashable_and_positive_class() -> None:
    y = np.array(["ham", "spam", "spam", "ham", "ham", "spam"])
    pred = np.array(["ham", "spam", "ham", "ham", "spam", "spam"])
    m = evaluate(y, pred, positive="ham", n_boot=0).metrics
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label="ham"))
    assert "accuracy_ci_low" not in m  # n_boot=0: no intervals
    proba = pd.DataFrame({"ham": [0.9, 0.2, 0.6, 0.7, 0.4, 0.1], "spam": [0.1, 0.8, 0.4, 0.3, 0.6, 0.9]})
    m2 = evaluate(y, proba=proba, n_boot=0).metrics  # classes from the DataFrame's columns
    assert m2["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "spam", proba["spam"]))


def test_same_seed_same_metrics_other_seed_other_intervals() -> None:
    y, p = make_predictions(n=250, k=3, seed=4)
    a = evaluate(y, proba=p, classes=[0, 1, 2], seed=7).to_dict()
    b = evaluate(y, proba=p, classes=[0, 1, 2], seed=7).to_dict()
    c = evaluate(y, proba=p, classes=[0, 1, 2], seed=8).to_dict()
    assert a == b
    assert a["macro_f1"] == c["macro_f1"]
    assert a["macro_f1_ci_low"] != c["macro_f1_ci_low"]


def test_batches_do_not_change_the_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bootstrap gives the same intervals whether it runs in one batch or many."""
    from truthset.modeling import _resample

    y, p = make_predictions(n=200, k=2, seed=2)
    whole = evaluate(y, proba=p, classes=[0, 1], n_boot=300).metrics
    monkeypatch.setattr(_resample, "MAX_BATCH_CELLS", 200 * 7)  # 7 rows per batch
    pieces = evaluate(y, proba=p, classes=[0, 1], n_boot=300).metrics
    assert whole == pieces


def test_interval_matches_a_plain_bootstrap_with_sklearn() -> None:
    """The vectorised replicates equal scikit-learn run on each resample (same indices)."""
    y, p = make_predictions(n=120, k=3, seed=5)
    pred = p.argmax(axis=1)
    ev = evaluate(y, proba=p, classes=[0, 1, 2], n_boot=200, seed=3).metrics
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 120, size=(200, 120))
    f1 = [skm.f1_score(y[i], pred[i], average="macro") for i in idx]
    mcc = [skm.matthews_corrcoef(y[i], pred[i]) for i in idx]
    auc = [skm.roc_auc_score(y[i], p[i], multi_class="ovr") for i in idx]
    for name, reps in (("macro_f1", f1), ("mcc", mcc), ("roc_auc", auc)):
        lo, hi = np.percentile(reps, [2.5, 97.5])
        assert ev[f"{name}_ci_low"] == pytest.approx(lo, abs=1e-12)
        assert ev[f"{name}_ci_high"] == pytest.approx(hi, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    k=st.integers(2, 4),
    seed=st.integers(0, 10_000),
    confidence=st.sampled_from([0.8, 0.9, 0.95]),
)
def test_bootstrap_interval_properties(n: int, k: int, seed: int, confidence: float) -> None:
    """ci_low <= ci_high for every metric; means (accuracy, log-loss) lie inside their interval.

    A percentile interval need not contain a biased statistic such as F1 on tiny samples, so
    containment is asserted for the metrics that are means of per-item values.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.ones(k), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        m = evaluate(y, proba=p, classes=list(range(k)), n_boot=200, confidence=confidence, seed=seed).metrics
    for name in m:
        if name.endswith("_ci_low"):
            base = name[: -len("_ci_low")]
            lo, hi = m[name], m[f"{base}_ci_high"]
            if np.isfinite(lo):
                assert lo <= hi + 1e-12, base
    for base in ("accuracy", "log_loss"):
        assert m[f"{base}_ci_low"] - 1e-9 <= m[base] <= m[f"{base}_ci_high"] + 1e-9


def test_undefined_auc_in_resamples_warns_and_is_left_out() -> None:
    y = np.array([0] * 29 + [1])
    p = np.linspace(0.01, 0.99, 30)
    with pytest.warns(UndefinedMetricWarning, match="left a metric undefined"):
        m = evaluate(y, proba=p, classes=[0, 1], n_boot=200).metrics
    assert m["roc_auc"] == 1.0 and np.isfinite(m["roc_auc_ci_low"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_true": [0, 1], "y_pred": [0]}, "same test items"),
        ({"y_true": [0, 1], "y_pred": [0, 2], "classes": [0, 1]}, r"label\(s\) \[2\]"),
        ({"y_true": [0, 1], "proba": [[0.5, 0.3, 0.2]] * 2, "classes": [0, 1]}, "3 columns"),
        ({"y_true": [0, 1]}, "pass y_pred"),
        ({"y_true": [], "y_pred": []}, "empty"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "n_boot": -1}, "n_boot"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "confidence": 95}, "confidence"),
        ({"y_true": [0, 1], "proba": [[0.5, np.nan], [0.2, 0.8]]}, "no NaN"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "positive": 1}, "two-class"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        evaluate(**kwargs)


def test_to_dict_is_json_ready() -> None:
    import json

    y, p = make_predictions(n=80, k=2, seed=1)
    d = evaluate(np.array(["no", "yes"])[y], proba=p, classes=["no", "yes"], n_boot=20).to_dict()
    text = json.dumps(d)
    assert '"macro_f1_ci_low"' in text and d["confusion"]["labels"] == ["no", "yes"]
    assert len(d["reliability"]) == 15 and d["n_test"] == 80


def test_by_slice_equals_evaluate_on_each_slice() -> None:
    y, p = make_predictions(n=300, k=3, seed=9)
    slices = np.where(np.arange(300) % 3 == 0, "short", "long")
    table = evaluate_by_slice(y, proba=p, classes=[0, 1, 2], slices=slices, n_boot=100)
    assert table["slice"].tolist() == ["long", "short"]
    for _, row in table.iterrows():
        sel = slices == row["slice"]
        one = evaluate(y[sel], proba=p[sel], classes=[0, 1, 2], n_boot=100).metrics
        assert row["n_test"] == sel.sum()
        for name in ("accuracy", "macro_f1", "macro_f1_ci_low", "roc_auc", "ece"):
            assert row[name] == pytest.approx(one[name])
    small = evaluate_by_slice(y, p.argmax(1), slices=slices, min_size=150, n_boot=0)
    assert small["slice"].tolist() == ["long"]
    with pytest.raises(InvalidInput, match="one slice value per test item"):
        evaluate_by_slice(y, proba=p, slices=slices[:5])
