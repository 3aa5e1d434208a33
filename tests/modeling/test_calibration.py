"""ECE against a hand-computed case and a property; temperature scaling recovers a known T."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from truthset.core.errors import InvalidInput
from truthset.modeling import (
    apply_temperature,
    evaluate,
    expected_calibration_error,
    fit_temperature,
    reliability_diagram,
    temperature_scaling,
)


def test_ece_hand_computed() -> None:
    """Two occupied bins, worked by hand.

    Items (p of class 1, label): 0.95/1, 0.95/1, 0.95/0, 0.95/1 -> bin 14 ((14/15, 1]),
    confidence 0.95, accuracy 3/4, gap 0.2; 0.3/0, 0.3/1 -> confidence 0.7 (class 0
    predicted), bin 10 ((10/15, 11/15]), accuracy 1/2, gap 0.2; 0.6/1, 0.6/1 -> bin 8
    ((8/15, 9/15]), confidence 0.6, accuracy 1, gap 0.4.
    ECE = 4/8 * 0.2 + 2/8 * 0.2 + 2/8 * 0.4 = 0.25.
    """
    p1 = [0.95, 0.95, 0.95, 0.95, 0.3, 0.3, 0.6, 0.6]
    y = [1, 1, 0, 1, 0, 1, 1, 1]
    assert expected_calibration_error(y, p1, classes=[0, 1]) == pytest.approx(0.25)
    diagram = reliability_diagram(y, p1, classes=[0, 1])
    assert diagram["count"].sum() == 8
    assert diagram.loc[diagram["count"] > 0, "bin"].tolist() == [8, 10, 14]
    np.testing.assert_allclose(diagram.loc[[8, 10, 14], "accuracy"], [1.0, 0.5, 0.75])
    np.testing.assert_allclose(diagram.loc[[8, 10, 14], "mean_confidence"], [0.6, 0.7, 0.95])
    assert diagram["gap"].isna().sum() == 12  # empty bins


def test_bin_edges_are_right_closed() -> None:
    # confidence exactly 2/3 = 10/15 belongs to bin 9 ((9/15, 10/15]); 1.0 to the last bin
    d = reliability_diagram([0, 1], [[2 / 3, 1 / 3], [0.0, 1.0]], classes=[0, 1])
    assert d.loc[d["count"] > 0, "bin"].tolist() == [9, 14]


@settings(max_examples=100, deadline=None)
@given(groups=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 12)), min_size=1, max_size=8))
def test_ece_is_zero_when_every_bin_is_calibrated(groups: list[tuple[int, int]]) -> None:
    """Groups of m items with confidence r/m of which r are right: accuracy = confidence."""
    p1, y = [], []
    for m, r in groups:
        r = max(r % (m + 1), (m + 1) // 2)  # r/m >= 1/2 so class 1 is the predicted one
        conf = r / m
        p1 += [conf] * m
        y += [1] * r + [0] * (m - r)
    assert expected_calibration_error(y, p1, classes=[0, 1]) == pytest.approx(0.0, abs=1e-12)


def _overconfident(n: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 3))
    y = np.array([rng.choice(3, p=q) for q in softmax(logits, axis=1)])
    return y, softmax(logits * temperature, axis=1)  # true probabilities sharpened by T


def test_temperature_recovers_a_known_sharpening() -> None:
    y, p = _overconfident(4000, 2.5, seed=0)
    t = fit_temperature(y, p, classes=[0, 1, 2])
    assert t == pytest.approx(2.5, rel=0.1)
    after = apply_temperature(p, t)
    np.testing.assert_array_equal(after.argmax(1), p.argmax(1))  # never changes the class
    np.testing.assert_allclose(after.sum(1), 1.0)


def test_temperature_scaling_report() -> None:
    y_val, p_val = _overconfident(2000, 2.0, seed=1)
    y_test, p_test = _overconfident(2000, 2.0, seed=2)
    r = temperature_scaling(y_val, p_val, y_test, p_test, classes=[0, 1, 2], n_boot=200)
    assert r["ece_after"] < r["ece_before"]
    assert r["nll_after"] < r["nll_before"]
    assert r["ece_before_ci_low"] <= r["ece_before"] <= r["ece_before_ci_high"]
    assert r["ece_after_ci_high"] < r["ece_before_ci_low"]  # clearly better, not noise
    assert r["ece_before"] == pytest.approx(evaluate(y_test, proba=p_test, classes=[0, 1, 2], n_boot=0).metrics["ece"])
    assert len(r["reliability_after"]) == 15 and r["n_val"] == r["n_test"] == 2000


def test_calibration_errors() -> None:
    with pytest.raises(InvalidInput, match="n_bins"):
        expected_calibration_error([0, 1], [0.2, 0.9], classes=[0, 1], n_bins=0)
    with pytest.raises(InvalidInput, match="temperature must be > 0"):
        apply_temperature([[0.5, 0.5]], 0.0)
