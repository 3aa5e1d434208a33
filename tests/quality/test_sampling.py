"""Acceptance sampling: minimal sample sizes and Clopper-Pearson decisions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, hypergeom
from statsmodels.stats.proportion import proportion_confint

from truthset.core.errors import InvalidInput
from truthset.quality.sampling import AcceptanceDecision, acceptance_decision, sample_size


def _passes(n: int, c: int, p: float, conf: float, batch: int | None) -> bool:
    """The plan's criterion, written independently of the module."""
    if batch is None:
        return bool(binom.cdf(c, n, p) <= 1 - conf)
    return bool(hypergeom.cdf(c, batch, int(p * batch) + 1, n) <= 1 - conf)


@settings(max_examples=80, deadline=None)
@given(
    batch=st.one_of(st.none(), st.integers(20, 20_000)),
    p=st.floats(0.005, 0.3),
    conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    c=st.integers(0, 3),
)
def test_sample_size_is_the_smallest_n(batch: int | None, p: float, conf: float, c: int) -> None:
    try:
        n = sample_size(batch, max_error_rate=p, confidence=conf, acceptance_number=c)
    except InvalidInput:
        assert batch is not None and c >= int(p * batch) + 1
        return
    assert _passes(n, c, p, conf, batch)
    assert n - 1 <= c or not _passes(n - 1, c, p, conf, batch)
    if batch is not None:
        assert n <= batch
        assert n <= sample_size(None, max_error_rate=p, confidence=conf, acceptance_number=c)
    # reviewing exactly n items and finding <= c errors accepts the batch
    assert acceptance_decision(n, c, max_error_rate=p, confidence=conf, batch_size=batch).accepted


@pytest.mark.parametrize(
    ("batch", "p", "conf", "c", "expected"),
    [(None, 0.05, 0.95, 0, 59), (None, 0.01, 0.95, 0, 299), (1000, 0.05, 0.95, 0, 56), (None, 0.05, 0.95, 1, 93)],
)
def test_known_plans(batch: int | None, p: float, conf: float, c: int, expected: int) -> None:
    assert sample_size(batch, max_error_rate=p, confidence=conf, acceptance_number=c) == expected


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_matches_statsmodels(n: int, frac: float, conf: float) -> None:
    x = round(frac * n)
    d = acceptance_decision(n, x, max_error_rate=0.1, confidence=conf)
    lo, hi = proportion_confint(x, n, alpha=1 - conf, method="beta")
    assert abs(d.ci_low - lo) < 1e-9 and abs(d.ci_high - hi) < 1e-9
    _, one_sided = proportion_confint(x, n, alpha=2 * (1 - conf), method="beta")
    assert abs(d.upper_bound - one_sided) < 1e-9
    assert d.accepted == (binom.cdf(x, n, 0.1) <= 1 - conf)


def test_decision_fields_and_finite_batch() -> None:
    d = acceptance_decision(100, 2, max_error_rate=0.08, batch_size=400)
    assert isinstance(d, AcceptanceDecision)
    assert d.error_rate == 0.02 and d.n_reviewed == 100 and d.n_errors == 2
    assert d.ci_low < d.error_rate < d.ci_high
    infinite = acceptance_decision(100, 2, max_error_rate=0.08)
    assert d.upper_bound <= infinite.upper_bound  # sampling a quarter of the batch helps
    assert d.accepted and "ACCEPT" in str(d)
    full = acceptance_decision(50, 3, max_error_rate=0.06, batch_size=50)
    assert full.upper_bound == pytest.approx(0.06) and full.accepted  # full inspection is exact


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_reviewed": 0, "n_errors": 0},
        {"n_reviewed": 5, "n_errors": 6},
        {"n_reviewed": 5, "n_errors": -1},
        {"n_reviewed": 10, "n_errors": 1, "batch_size": 5},
        {"n_reviewed": 10, "n_errors": 1, "confidence": 1.0},
    ],
)
def test_decision_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        acceptance_decision(**{"max_error_rate": 0.05, **kwargs})


def test_sample_size_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match="max_error_rate"):
        sample_size(100, max_error_rate=0.0)
    with pytest.raises(InvalidInput, match="lower acceptance_number"):
        sample_size(10, max_error_rate=0.1, acceptance_number=2)
    with pytest.raises(InvalidInput, match="batch_size"):
        sample_size(0, max_error_rate=0.1)
