"""Multi-label metrics equal scikit-learn's; the bootstrap is seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from truthset.core.errors import InvalidInput
from truthset.modeling import evaluate_multilabel


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multilabel_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (250, 5))
    p = np.round(np.clip(y * 0.45 + rng.random((250, 5)) * 0.6, 0, 1), 2)
    pred = (p >= 0.5).astype(int)
    ev = evaluate_multilabel(pd.DataFrame(y, columns=list("abcde")), proba=p, n_boot=100)
    m = ev.metrics
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(y, pred))
    for avg in ("micro", "macro"):
        assert m[f"{avg}_f1"] == pytest.approx(skm.f1_score(y, pred, average=avg, zero_division=0))
        assert m[f"{avg}_precision"] == pytest.approx(skm.precision_score(y, pred, average=avg, zero_division=0))
        assert m[f"{avg}_recall"] == pytest.approx(skm.recall_score(y, pred, average=avg, zero_division=0))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, average="macro"))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p, average="macro"))
    np.testing.assert_allclose(ev.per_class["f1"], skm.f1_score(y, pred, average=None))
    assert ev.per_class["label"].tolist() == list("abcde")
    assert m["micro_f1_ci_low"] <= m["micro_f1"] <= m["micro_f1_ci_high"]
    assert ev.metrics == evaluate_multilabel(y, proba=p, n_boot=100).metrics
    assert ev.confusion.loc["a", ["tp", "fp", "fn", "tn"]].sum() == 250


def test_multilabel_errors() -> None:
    with pytest.raises(InvalidInput, match="indicator matrix"):
        evaluate_multilabel([0, 1, 1], [0, 1, 1])
    with pytest.raises(InvalidInput, match="only 0 and 1"):
        evaluate_multilabel([[0, 2]], [[0, 1]])
    with pytest.raises(InvalidInput, match="expected"):
        evaluate_multilabel([[0, 1]], [[0, 1, 1]])
