"""Gold checks: Wilson intervals against statsmodels, accuracy table, confusion."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from truthset.core.errors import InvalidInput
from truthset.quality.reliability import gold_accuracy, gold_confusion, wilson_interval

DF = pd.DataFrame(
    {
        "item": [1, 2, 3, 4, 1, 2, 3, 4, 5, 9],
        "annotator": ["x"] * 4 + ["y"] * 4 + ["z", "z"],
        "label": ["a", "b", "a", "a", "a", "a", "b", "a", "b", "a"],
    }
)
GOLD = pd.Series({1: "a", 2: "b", 3: "a", 4: "b"})


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10_000), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels(n: int, frac: float, conf: float) -> None:
    x = round(frac * n)
    lo, hi = wilson_interval(x, n, confidence=conf)
    slo, shi = proportion_confint(x, n, alpha=1 - conf, method="wilson")
    assert abs(lo - slo) < 1e-9 and abs(hi - shi) < 1e-9


def test_gold_accuracy_table() -> None:
    res = gold_accuracy(DF, GOLD, threshold=0.7)
    assert list(res.columns) == ["n_gold", "correct", "accuracy", "ci_low", "ci_high", "passed", "status"]
    assert res.index.tolist() == ["x", "y", "z"]
    assert res.loc["x", ["n_gold", "correct"]].tolist() == [4, 3]
    assert res.loc["y", "accuracy"] == 0.25
    lo, hi = proportion_confint(3, 4, alpha=0.05, method="wilson")
    assert res.loc["x", "ci_low"] == pytest.approx(lo, abs=1e-12)
    assert res.loc["x", "ci_high"] == pytest.approx(hi, abs=1e-12)
    assert res["status"].tolist() == ["passed", "failed", "not tested"]
    assert res["passed"].dtype == "boolean"


def test_annotator_without_gold_is_not_tested_not_failed() -> None:
    """Issue 11 item 2: on main, z (no gold judgement) got passed=False, i.e. counted as failed."""
    res = gold_accuracy(DF, GOLD, threshold=0.7)
    assert res.loc["z", "n_gold"] == 0 and np.isnan(res.loc["z", "accuracy"])
    assert res.loc["z", "passed"] is pd.NA and res.loc["z", "status"] == "not tested"
    assert res["passed"].tolist()[:2] == [True, False]


@pytest.mark.parametrize(("rule", "expected"), [("point", True), ("lower", False), ("upper", True)])
def test_pass_rules(rule: Literal["point", "lower", "upper"], expected: bool) -> None:
    # x: 3 of 4 correct, Wilson 95% interval 0.30-0.95, threshold 0.7
    assert bool(gold_accuracy(DF, GOLD, threshold=0.7, rule=rule).loc["x", "passed"]) is expected


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'point'"):
        gold_accuracy(DF, GOLD, rule="estimate")  # type: ignore[arg-type]  # an invalid value on purpose


def test_crowdkit_aliases_and_errors() -> None:
    aliased = DF.rename(columns={"item": "task", "annotator": "worker"})
    pd.testing.assert_frame_equal(gold_accuracy(aliased, GOLD), gold_accuracy(DF, GOLD))
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        gold_accuracy(DF, GOLD, confidence=95)
    with pytest.raises(InvalidInput, match="threshold"):
        gold_accuracy(DF, GOLD, threshold=80)
    with pytest.raises(InvalidInput, match="Series"):
        gold_accuracy(DF, {1: "a"})
    with pytest.raises(InvalidInput, match="one true label per item"):
        gold_accuracy(DF, pd.Series(["a", "b"], index=[1, 1]))


def test_gold_confusion_layout() -> None:
    conf = gold_confusion(DF, GOLD)
    assert conf.index.names == ["annotator", "true_label"]
    assert conf.columns.name == "observed_label"
    assert conf.loc[("x", "b")].to_dict() == {"a": 1, "b": 1}
    assert int(conf.to_numpy().sum()) == 8  # z has no gold judgement
    norm = gold_confusion(DF, GOLD, normalize=True)
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    acc = gold_accuracy(DF, GOLD)
    diag = conf.groupby(level="annotator").apply(
        lambda t: sum(t.loc[(t.name, k), k] for k in t.index.get_level_values(1))
    )
    assert diag.to_dict() == acc.loc[["x", "y"], "correct"].to_dict()
