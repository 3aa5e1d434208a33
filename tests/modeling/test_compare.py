"""McNemar against statsmodels; the paired bootstrap and the plain verdict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from truthset.core.errors import InvalidInput
from truthset.modeling import compare_multilabel, compare_predictions, mcnemar


@settings(max_examples=200, deadline=None)
@given(b=st.integers(0, 400), c=st.integers(0, 400), exact=st.booleans())
def test_mcnemar_equals_statsmodels(b: int, c: int, exact: bool) -> None:
    if b + c == 0:
        assert mcnemar(b, c, exact=exact)["p_value"] == 1.0
        return
    ours = mcnemar(b, c, exact=exact)
    ref = sm_mcnemar([[10, b], [c, 10]], exact=exact, correction=True)
    assert ours["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert ours["statistic"] == pytest.approx(ref.statistic, rel=1e-9)


def test_mcnemar_switches_to_exact_below_25() -> None:
    assert mcnemar(3, 21)["method"] == "exact"
    assert mcnemar(3, 22)["method"] == "chi2"


def _systems(n: int, acc_a: float, acc_b: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    wrong = (y + rng.integers(1, 3, n)) % 3
    a = np.where(rng.random(n) < acc_a, y, wrong)
    b = np.where(rng.random(n) < acc_b, y, wrong)
    return y, a, b


def test_clearly_better_b_gets_a_verdict() -> None:
    y, a, b = _systems(3000, 0.70, 0.80, seed=0)
    r = compare_predictions(y, a, b)
    assert r["macro_f1_diff_ci_low"] > 0 and r["mcnemar_p_value"] < 1e-6
    assert r["verdict"].startswith("B is better: macro-F1 +")
    assert "95% CI +" in r["verdict"]
    swapped = compare_predictions(y, b, a)
    assert swapped["verdict"].startswith("A is better")
    assert swapped["macro_f1_diff"] == pytest.approx(-r["macro_f1_diff"])
    assert r["accuracy_diff"] == pytest.approx(((b == y).mean() - (a == y).mean()) * 100)


def test_no_difference_when_systems_are_alike() -> None:
    y, a, b = _systems(400, 0.75, 0.75, seed=3)
    r = compare_predictions(y, a, b, metric="accuracy")
    assert r["verdict"].startswith("no evidence of a difference: accuracy")
    same = compare_predictions(y, a, a)
    assert same["macro_f1_diff"] == 0.0 and same["macro_f1_p_value"] == 1.0
    assert same["only_a_right"] == same["only_b_right"] == 0


def test_paired_bootstrap_is_seeded_and_paired() -> None:
    y, a, b = _systems(500, 0.7, 0.72, seed=5)
    assert compare_predictions(y, a, b, seed=1) == compare_predictions(y, a, b, seed=1)
    # paired: the difference interval is narrower than the two separate intervals suggest
    from truthset.modeling import evaluate

    ea = evaluate(y, a, n_boot=1000).metrics
    r = compare_predictions(y, a, b)
    width_diff = r["macro_f1_diff_ci_high"] - r["macro_f1_diff_ci_low"]
    width_a = (ea["macro_f1_ci_high"] - ea["macro_f1_ci_low"]) * 100
    assert width_diff < 2 * width_a


def test_compare_errors() -> None:
    with pytest.raises(InvalidInput, match="same items"):
        compare_predictions([0, 1], [0, 1], [0])
    with pytest.raises(InvalidInput, match="metric must be one of"):
        compare_predictions([0, 1], [0, 1], [0, 1], metric="bleu")
    with pytest.raises(InvalidInput, match=">= 0"):
        mcnemar(-1, 2)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=4, max_size=60),
    seed=st.integers(0, 1000),
)
def test_one_label_multilabel_is_the_single_label_comparison(data: list[tuple[bool, bool, bool]], seed: int) -> None:
    """With one label, a label set is right when its one column is: subset accuracy is
    accuracy, the discordant items are McNemar's, and swapping A and B mirrors the result."""
    t = np.array([[int(x)] for x, _, _ in data])
    a = np.array([[int(y)] for _, y, _ in data])
    b = np.array([[int(z)] for _, _, z in data])
    ml = compare_multilabel(t, a, b, metric="subset_accuracy", n_boot=50, seed=seed)
    sl = compare_predictions(t[:, 0], a[:, 0], b[:, 0], classes=[0, 1], metric="accuracy", n_boot=0)
    for key in ("n_test", "accuracy_a", "accuracy_b", "only_a_right", "only_b_right", "mcnemar_p_value"):
        assert ml[key] == pytest.approx(sl[key]), key
    assert ml["subset_accuracy_diff"] == pytest.approx(ml["accuracy_diff"])
    back = compare_multilabel(t, b, a, metric="subset_accuracy", n_boot=50, seed=seed)
    assert back["subset_accuracy_diff"] == pytest.approx(-ml["subset_accuracy_diff"])
    assert back["subset_accuracy_diff_ci_low"] == pytest.approx(-ml["subset_accuracy_diff_ci_high"])


def test_multilabel_comparison_scores_as_scikit_learn_and_gives_a_verdict() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    t = (rng.random((400, 4)) < 0.3).astype(int)
    good = np.where(rng.random(t.shape) < 0.95, t, 1 - t)
    poor = np.where(rng.random(t.shape) < 0.7, t, 1 - t)
    r = compare_multilabel(t, poor, good, metric="micro_f1", n_boot=300, seed=1)
    assert r["micro_f1_a"] == pytest.approx(f1_score(t, poor, average="micro"))
    assert r["micro_f1_b"] == pytest.approx(f1_score(t, good, average="micro"))
    assert r["micro_f1_diff_ci_low"] > 0 and r["verdict"].startswith("B is better: micro-F1")
    same = compare_multilabel(t, good, good, n_boot=100)
    assert same["macro_f1_diff"] == 0 and same["verdict"].startswith("no evidence")
    with pytest.raises(InvalidInput, match="hamming_loss"):
        compare_multilabel(t, good, poor, metric="hamming_loss")
    with pytest.raises(InvalidInput, match="shape"):
        compare_multilabel(t, good[:, :3], poor)
