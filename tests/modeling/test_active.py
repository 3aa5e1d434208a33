"""Uncertainty scores: formulas, ranges and order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy

from truthset.core.errors import InvalidInput
from truthset.modeling import entropy, least_confidence, margin, rank_by_uncertainty, uncertainty


@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 6), n=st.integers(1, 30), seed=st.integers(0, 1000))
def test_scores_match_their_formulas(k: int, n: int, seed: int) -> None:
    p = np.random.default_rng(seed).dirichlet(np.ones(k), n)
    np.testing.assert_allclose(least_confidence(p), 1 - p.max(1))
    top = np.sort(p, axis=1)[:, ::-1]
    np.testing.assert_allclose(margin(p), 1 - (top[:, 0] - top[:, 1]))
    np.testing.assert_allclose(entropy(p), scipy_entropy(p, axis=1) / np.log(k), atol=1e-12)
    for f in (least_confidence, margin, entropy):
        s = f(p)
        assert ((s >= -1e-12) & (s <= 1 + 1e-12)).all()


def test_ranking_puts_the_most_uncertain_first() -> None:
    p = np.array([[0.99, 0.01], [0.5, 0.5], [0.7, 0.3], [0.5, 0.5]])
    for method in ("least_confidence", "margin", "entropy"):
        assert rank_by_uncertainty(p, method).tolist() == [1, 3, 2, 0]
    with pytest.raises(InvalidInput, match="method must be one of"):
        uncertainty(p, "random")
