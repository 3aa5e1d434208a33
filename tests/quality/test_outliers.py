"""kNN outliers (truthset.quality.outlier_scores): planted far points, real texts, invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SMS
from truthset.core.errors import InvalidInput
from truthset.quality import outlier_scores


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    k=st.integers(1, 12),
    metric=st.sampled_from(["euclidean", "cosine"]),
)
def test_scores_in_unit_interval_and_order_free(seed: int, n: int, k: int, metric: str) -> None:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    r = outlier_scores(X, k=k, metric=metric)
    assert ((r["outlier_score"] >= 0) & (r["outlier_score"] <= 1)).all()
    assert (r["knn_distance"] >= 0).all()
    perm = np.random.default_rng(seed + 1).permutation(n)
    s = outlier_scores(X[perm], k=k, metric=metric)
    assert s["knn_distance"].to_numpy() == pytest.approx(r["knn_distance"].to_numpy()[perm])
    assert (s["is_outlier"].to_numpy() == r["is_outlier"].to_numpy()[perm]).all()


@pytest.mark.parametrize("k", [1, 5, 20])
def test_planted_far_points_rank_first(k: int) -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 5)), rng.normal(loc=12.0, size=(3, 5)) * [1, -1, 1, 1, 1]])
    r = outlier_scores(X, k=k, metric="euclidean")
    far = np.arange(300, 303)
    if k >= 3:  # with k < 3 the three planted points are each other's neighbours
        assert set(np.argsort(-r["knn_distance"].to_numpy())[:3]) == set(far)
        assert r.loc[far, "is_outlier"].all()
    assert r["is_outlier"].sum() <= 0.05 * len(X)


def test_duplicates_are_not_their_own_neighbours() -> None:
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    r = outlier_scores(X, k=1, metric="euclidean")
    assert r["knn_distance"].tolist() == pytest.approx([0.0, 0.0, np.sqrt(50)])


def test_off_topic_texts_among_sms() -> None:
    """Real texts: five planted non-SMS texts (other languages, code, a digit string) are
    among the most isolated of 1,500 SMS messages."""
    sms = pd.read_csv(SMS, sep="\t", header=0, names=["label", "text"], quoting=3)
    texts = sms["text"].iloc[:1500].tolist()
    planted = [
        "Der Bundesrat hat die Verordnung über die Krankenversicherung geändert.",
        "Περιγραφή του προϊόντος: ανθεκτικό αλουμίνιο, βάρος δύο κιλά.",
        "def main(argv): return sorted(set(argv), key=len)[::-1]",
        "0000000000 1111111111 2222222222 3333333333",
        "La réunion trimestrielle du conseil d'administration est reportée à jeudi.",
    ]
    series = pd.Series(texts + planted, index=[f"s{i}" for i in range(len(texts) + 5)])
    r = outlier_scores(series, k=10)
    assert r.index.equals(series.index)
    top = r["outlier_score"].iloc[-5:]
    assert (top >= 0.95).all(), top


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.zeros((1, 2)), {}, "at least two"),
        (np.zeros((3, 2)), {"k": 0}, "positive integer"),
        (["a", None, "c"], {}, "strings"),
    ],
)
def test_bad_input_is_explained(X: np.ndarray | list[str | None], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        outlier_scores(X, **kwargs)
