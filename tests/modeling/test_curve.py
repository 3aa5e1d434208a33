"""Learning curve: nested stratified subsets, bands, and the documented "more labels?" rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from truthset.core.errors import InvalidInput
from truthset.modeling import learning_curve, nested_subsets


def test_subsets_are_nested_and_stratified() -> None:
    y = np.array([0] * 800 + [1] * 200)
    subs = nested_subsets(y, [0.25, 0.5, 0.75, 1.0], seed=3)
    assert [s.size for s in subs] == [250, 500, 750, 1000]
    for small, big in zip(subs, subs[1:]):
        assert set(small) <= set(big)
    for s in subs:
        assert abs((y[s] == 1).mean() - 0.2) <= 0.01
    assert not np.array_equal(subs[0], nested_subsets(y, [0.25, 1.0], seed=4)[0])


def _model(seed: int) -> Pipeline:
    return Pipeline([("clf", LogisticRegression(C=1.0, max_iter=500, random_state=seed))])


def _data(n_train: int, noise: float, d: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    x = rng.normal(size=(n_train + 4000, d))
    y = (x @ w + rng.normal(scale=noise, size=len(x)) > 0).astype(int)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def test_more_labels_help_when_the_model_is_data_starved() -> None:
    xtr, ytr, xte, yte = _data(n_train=120, noise=0.3, d=60, seed=0)
    r = learning_curve(_model, xtr, ytr, xte, yte, seeds=(0, 1, 2), n_boot=300)
    assert r["more_labels_help"] == "yes", r["answer"]
    assert r["last_gain_ci_low"] > 0 and r["answer"].startswith("More labels would likely help")
    scores = [p["macro_f1"] for p in r["points"]]
    assert scores[-1] > scores[0]
    for p in r["points"]:
        assert p["ci_low"] <= p["macro_f1"] <= p["ci_high"] and len(p["per_seed"]) == 3


def test_no_when_the_curve_is_flat() -> None:
    xtr, ytr, xte, yte = _data(n_train=8000, noise=0.5, d=3, seed=1)
    r = learning_curve(_model, xtr, ytr, xte, yte, seeds=(0, 1), n_boot=300, min_gain=1.0)
    assert r["more_labels_help"] == "no", r["answer"]
    assert r["last_gain_ci_high"] < 1.0


def test_curve_is_reproducible_and_passes_weights() -> None:
    xtr, ytr, xte, yte = _data(n_train=300, noise=0.5, d=5, seed=2)
    a = learning_curve(_model, xtr, ytr, xte, yte, seeds=(0, 1), n_boot=100)
    b = learning_curve(_model, xtr, ytr, xte, yte, seeds=(0, 1), n_boot=100)
    assert a == b
    w = np.where(np.arange(300) % 2 == 0, 1.0, 0.0)  # half the items carry no weight
    c = learning_curve(_model, xtr, ytr, xte, yte, seeds=(0, 1), n_boot=100, sample_weight=w)
    assert c["points"][-1]["per_seed"] != a["points"][-1]["per_seed"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fractions": (0.5,)}, "at least two"),
        ({"fractions": (0.5, 0.25)}, "increasing"),
        ({"seeds": ()}, "at least one seed"),
        ({"metric": "auc"}, "metric must be one of"),
    ],
)
def test_curve_errors(kwargs: dict[str, Any], match: str) -> None:
    xtr, ytr, xte, yte = _data(n_train=50, noise=0.5, d=2, seed=0)
    with pytest.raises(InvalidInput, match=match):
        learning_curve(_model, xtr, ytr, xte, yte, **kwargs)
