"""Cost-minimising threshold (checked by brute force) and the Bayes decision rule."""

from __future__ import annotations

import numpy as np
import pytest

from truthset.core.errors import InvalidInput
from truthset.modeling import bayes_decisions, cost_threshold, expected_cost


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = np.round(np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1), 2)
    return y, s


@pytest.mark.parametrize(("cost_fp", "cost_fn"), [(1, 1), (1, 5), (10, 1), (0, 1)])
def test_threshold_minimises_validation_cost(cost_fp: float, cost_fn: float) -> None:
    y_val, s_val = _scores(600, 0)
    y_test, s_test = _scores(600, 1)
    r = cost_threshold(y_val, s_val, y_test, s_test, cost_fp=cost_fp, cost_fn=cost_fn, n_boot=200)

    def cost(y: np.ndarray, s: np.ndarray, t: float) -> float:
        pred = s >= t
        return float((cost_fp * (pred & (y == 0)) + cost_fn * (~pred & (y == 1))).mean())

    grid = np.r_[np.unique(s_val), 1.01]
    brute = min(cost(y_val, s_val, t) for t in grid)
    assert r["val_cost"] == pytest.approx(brute)
    assert cost(y_val, s_val, r["threshold"]) == pytest.approx(brute)
    assert r["test_cost"] == pytest.approx(cost(y_test, s_test, r["threshold"]))
    assert r["test_cost_default"] == pytest.approx(cost(y_test, s_test, 0.5))
    assert r["test_cost_ci_low"] <= r["test_cost"] <= r["test_cost_ci_high"]
    assert r["bayes_threshold"] == pytest.approx(cost_fp / (cost_fp + cost_fn))


def test_bayes_decisions_pick_the_least_expected_cost() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), 200)
    c = np.array([[0, 1, 4], [2, 0, 1], [8, 3, 0]], dtype=float)
    d = bayes_decisions(p, c)
    brute = np.array([[sum(p[i, t] * c[t, j] for t in range(3)) for j in range(3)] for i in range(200)]).argmin(axis=1)
    np.testing.assert_array_equal(d, brute)
    zero_one = 1 - np.eye(3)
    np.testing.assert_array_equal(bayes_decisions(p, zero_one), p.argmax(axis=1))


def test_expected_cost_with_a_cost_matrix() -> None:
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3) * 0.5, 500)
    y = (rng.random(500)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)  # y drawn from p
    c = np.array([[0, 1, 1], [5, 0, 1], [5, 1, 0]], dtype=float)
    r = expected_cost(y, p, cost_matrix=c, y_val=y, proba_val=p, n_boot=200)
    assert r["test_cost"] == pytest.approx(c[y, bayes_decisions(p, c)].mean())
    assert r["test_cost_argmax"] == pytest.approx(c[y, p.argmax(1)].mean())
    assert r["test_cost"] < r["test_cost_argmax"]  # calibrated scores: the Bayes rule helps
    assert r["val_cost"] == r["test_cost"] and r["n_test"] == 500


def test_cost_errors() -> None:
    with pytest.raises(InvalidInput, match="cost_fp"):
        cost_threshold([0, 1], [0.1, 0.9], [0, 1], [0.2, 0.8], cost_fp=-1, cost_fn=1)
    with pytest.raises(InvalidInput, match="both 0"):
        cost_threshold([0, 1], [0.1, 0.9], [0, 1], [0.2, 0.8], cost_fp=0, cost_fn=0)
    with pytest.raises(InvalidInput, match="two classes"):
        cost_threshold([0, 1, 2], np.eye(3), [0, 1, 2], np.eye(3), cost_fp=1, cost_fn=1)
    with pytest.raises(InvalidInput, match="3 x 3"):
        expected_cost([0, 1, 2], np.eye(3), cost_matrix=np.ones((2, 2)))
