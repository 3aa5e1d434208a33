"""Out-of-fold probabilities (truthset.modeling.out_of_fold_probabilities) on real texts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SMS
from truthset.core.errors import InvalidInput
from truthset.modeling import out_of_fold_probabilities
from truthset.quality import find_label_issues


@pytest.fixture(scope="module")
def sms() -> pd.DataFrame:
    frame = pd.read_csv(SMS, sep="\t", header=0, names=["label", "text"], quoting=3)
    return frame.iloc[:1200].reset_index(drop=True)


def test_text_model_is_accurate_and_finds_planted_flips(sms: pd.DataFrame) -> None:
    """1,200 real SMS messages with 30 labels flipped: the out-of-fold model is accurate on
    the rest and confident learning on its probabilities finds most flips."""
    rng = np.random.default_rng(0)
    flip = np.zeros(len(sms), dtype=bool)
    flip[rng.choice(len(sms), 30, replace=False)] = True
    labels = sms["label"].where(~flip, sms["label"].map({"ham": "spam", "spam": "ham"}))
    labels.index = [f"m{i}" for i in range(len(sms))]
    p = out_of_fold_probabilities(sms["text"].tolist(), labels, cv=5, seed=0)
    assert list(p.columns) == ["ham", "spam"]
    assert p.index.equals(labels.index)
    assert p.sum(axis=1).to_numpy() == pytest.approx(1.0)
    truth = sms["label"].to_numpy()
    assert (p.idxmax(axis=1).to_numpy() == truth).mean() > 0.95
    issues = find_label_issues(labels, p)["is_issue"].to_numpy()
    assert (issues & flip).sum() >= 0.7 * flip.sum()
    assert (issues & flip).sum() >= 0.6 * issues.sum()


def test_numeric_features_and_declared_classes() -> None:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=8, n_informative=4, n_classes=3, random_state=0)
    p = out_of_fold_probabilities(X, y, cv=3, seed=1, classes=[0, 1, 2, 3])
    assert list(p.columns) == [0, 1, 2, 3]
    assert (p[3] == 0).all()  # a declared class nobody has
    assert (p.to_numpy()[:, :3].argmax(axis=1) == y).mean() > 0.7
    again = out_of_fold_probabilities(X, y, cv=3, seed=1, classes=[0, 1, 2, 3])
    pd.testing.assert_frame_equal(p, again)


def test_rare_class_gets_a_column() -> None:
    texts = ["good film"] * 10 + ["bad film"] * 10 + ["odd one"]
    labels = ["pos"] * 10 + ["neg"] * 10 + ["other"]
    p = out_of_fold_probabilities(texts, labels, cv=3)
    assert list(p.columns) == ["neg", "other", "pos"]
    # the single "other" item is predicted by a model that never saw its class
    assert p.loc[20, "other"] == 0.0


@pytest.mark.parametrize(
    ("texts", "labels", "kwargs", "message"),
    [
        (["a", "b"], ["x"], {}, "rows"),
        (["a", "b", "c"], ["x", "x", "x"], {}, "two different labels"),
        (["a", "b", "c", "d"], ["x", "y", "x", "y"], {"cv": 1}, "cv must"),
        (["a", "b"], ["x", None], {}, "missing"),
        (["a", "b"], ["x", "y"], {"classes": ["x"]}, "not among classes"),
    ],
)
def test_bad_input_is_explained(
    texts: list[str], labels: list[str | None], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        out_of_fold_probabilities(texts, labels, **kwargs)
