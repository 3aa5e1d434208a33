"""Error buckets: each failure in one bucket by the documented order and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from truthset.core.errors import InvalidInput
from truthset.modeling import BUCKETS, error_buckets


def test_each_rule_and_the_order_between_them() -> None:
    y_true = np.array(["a", "a", "b", "b", "c", "c", "a", "b", "a", "c"])
    y_pred = np.array(["b", "b", "a", "a", "a", "b", "a", "b", "c", "a"])
    # positions 6 and 7 are right; 8 failures
    label_quality = np.array([0.9, 0.05, 0.1, 0.9, 0.9, 0.9, 0.01, 0.9, 0.9, np.nan])
    agreement = np.array([1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 0.3, 1.0, 1.0, 0.6])
    outlier = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.99, 0.1])
    empty = np.array([False] * 5 + [True] + [False] * 4)
    r = error_buckets(
        y_true,
        y_pred,
        label_quality=label_quality,
        agreement=agreement,
        outlier_score=outlier,
        empty=empty,
        outlier_above=0.9,
        train_class_counts={"a": 100, "b": 100, "c": 100},
    )
    got = dict(zip(r.items["position"], r.items["bucket"]))
    assert got == {
        0: "class_confusion",  # nothing flags it
        1: "likely_label_error",  # label quality 0.05 < 0.2
        2: "likely_label_error",  # 0.1 < 0.2
        3: "ambiguous",  # agreement 0.5 < 0.7
        4: "class_confusion",
        5: "broken_input",  # empty wins over everything
        8: "rare_or_ood",  # outlier 0.99 >= 0.9
        9: "ambiguous",  # label quality unknown (NaN) is ignored; agreement 0.6
    }
    summary = r.summary.set_index("bucket")
    assert list(summary.index) == list(BUCKETS)
    assert summary["count"].sum() == len(r.items) == 8
    assert summary.loc["likely_label_error", "examples"] == [1, 2]
    pairs = r.pairs.set_index(["true", "pred"])["count"].to_dict()
    assert pairs == {("a", "b"): 1, ("c", "a"): 1}
    assert r.to_dict()["n_errors"] == 8 and r.to_dict()["n_test"] == 10


def test_rare_class_and_default_outlier_cut() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    pred = np.where(rng.random(500) < 0.8, y, (y + 1) % 3)
    outlier = rng.random(500)
    r = error_buckets(y, pred, outlier_score=outlier, train_class_counts={0: 500, 1: 500, 2: 5})
    assert r.thresholds["outlier_above"] == pytest.approx(np.percentile(outlier, 95))
    fails = r.items.set_index("position")
    assert (fails.loc[fails["true"] == 2, "bucket"] == "rare_or_ood").all()
    high = fails.index[outlier[fails.index] >= r.thresholds["outlier_above"]]
    assert (fails.loc[high, "bucket"] == "rare_or_ood").all()


def test_examples_most_confident_first_and_capped() -> None:
    y = np.zeros(50, dtype=int)
    p = np.column_stack([np.linspace(0.4, 0.01, 50), 1 - np.linspace(0.4, 0.01, 50)])
    r = error_buckets(y, proba=p, classes=[0, 1], max_examples=5)
    assert r.summary.set_index("bucket").loc["class_confusion", "examples"] == [49, 48, 47, 46, 45]


def test_no_failures_and_bad_signals() -> None:
    r = error_buckets([0, 1], [0, 1])
    assert r.summary["count"].sum() == 0 and r.pairs.empty
    with pytest.raises(InvalidInput, match="3 values but there are 2"):
        error_buckets([0, 1], [1, 0], agreement=[1, 1, 1])
