"""Drift: the distances, the noise guard, the report, and real data (SMS halves, planted shifts)."""

from __future__ import annotations

import doctest
import json
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

import truthset.data.drift as drift_module
import truthset.data.label_drift as label_drift_module
from truthset.core.divergence import chi2_p_values, js_distance
from truthset.core.errors import InvalidInput
from truthset.data import (
    DriftThresholds,
    drift_report,
    labelling_drift,
    prediction_drift,
)
from truthset.data._text_drift import auc_noise_floor
from truthset.data.drift import normalised_wasserstein

from .sms_shifts import SMS, halves, load_rte_sentences, load_sms, plant


@pytest.mark.parametrize("module", [drift_module, label_drift_module])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- distances
def test_normalised_wasserstein_is_evidentlys_definition() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 2, 500), rng.normal(1, 2, 400)
    score, scale = normalised_wasserstein(ref, cur)
    assert scale == pytest.approx(ref.std())
    assert score == pytest.approx(wasserstein_distance(ref, cur) / ref.std())


@pytest.mark.parametrize(
    ("ref", "cur", "expected"),
    [
        ([5.0] * 50, [5.0] * 50, 0.0),  # both the same constant
        # constant reference: divided by the pooled standard deviation, not Evidently's 0.001
        ([5.0] * 50, [6.0] * 50, 1.0 / 0.5),
        ([5.0] * 90, [5.0] * 80 + [6.0] * 10, (10 / 90) / np.std([5.0] * 170 + [6.0] * 10)),
    ],
)
def test_constant_reference(ref: list[float], cur: list[float], expected: float) -> None:
    assert normalised_wasserstein(ref, cur)[0] == pytest.approx(expected)


def test_constant_reference_drifts_in_the_report() -> None:
    ref = pd.DataFrame({"x": [1.0] * 200})
    report = drift_report(ref, pd.DataFrame({"x": [1.0] * 150 + [2.0] * 50}))
    pooled = np.std([1.0] * 350 + [2.0] * 50)
    assert report.drift and report.columns[0].score == pytest.approx(0.25 / pooled)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60), st.lists(finite, min_size=1, max_size=60))
def test_wasserstein_bounds_and_symmetry(a: list[float], b: list[float]) -> None:
    ab, scale_a = normalised_wasserstein(a, b)
    ba, scale_b = normalised_wasserstein(b, a)
    assert ab >= 0 and ba >= 0
    # the distance itself is symmetric; only the divisor (each side's spread) differs
    if scale_a > 0 and scale_b > 0:
        assert ab * scale_a == pytest.approx(ba * scale_b, rel=1e-9, abs=1e-9)
    assert normalised_wasserstein(a, a)[0] == 0.0


counts = st.lists(st.integers(0, 50), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(counts, counts)
def test_jensenshannon_bounds_symmetry_and_scipy(p: list[int], q: list[int]) -> None:
    k = max(len(p), len(q))
    p, q = p + [0] * (k - len(p)), q + [0] * (k - len(q))
    if sum(p) == 0 or sum(q) == 0:
        return
    d = js_distance(p, q)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(js_distance(q, p), abs=1e-12)
    assert d == pytest.approx(min(1.0, jensenshannon(p, q, base=2)), abs=1e-12)
    assert js_distance(p, p) == pytest.approx(0.0, abs=1e-7)


def test_chi2_guard_matches_scipy() -> None:
    from scipy.stats import chi2_contingency

    r = np.array([[10, 20, 0, 5], [3, 4, 5, 6], [7, 0, 0, 0]])
    c = np.array([[12, 10, 0, 9], [1, 1, 1, 30], [9, 0, 0, 0]])
    expected = [
        chi2_contingency(np.vstack([a, b])[:, (a + b) > 0], correction=False).pvalue for a, b in zip(r[:2], c[:2])
    ]
    got = chi2_p_values(r, c)
    assert got[:2] == pytest.approx(expected)
    assert got[2] == 1.0  # one category on both sides: nothing can differ


def test_auc_noise_floor_shrinks_with_n_and_can_be_turned_off() -> None:
    small, large = auc_noise_floor(500, 500, 0.001), auc_noise_floor(5000, 5000, 0.001)
    assert small > 0.55 > large > 0.5
    assert auc_noise_floor(500, 500, 1.0) == 0.0


# --------------------------------------------------------------------------- report
frames = st.integers(20, 80).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n),
        st.lists(
            st.sampled_from(
                ["the cat sat", "a dog ran off", "hello there friend", "free prize now", "see you at noon"]
            ),
            min_size=n,
            max_size=n,
        ),
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_identical_reference_and_current_never_drift(data: tuple[list[Any], list[Any], list[Any]]) -> None:
    x, c, t = data
    df = pd.DataFrame({"x": x, "c": c, "t": t})
    report = drift_report(df, df.copy(), text_columns=["t"])
    assert not report.drift and not any(col.drift for col in report.columns)
    for col in report.columns:
        if col.method == "domain_classifier":
            assert np.isnan(col.score) or 0.0 <= col.score <= 1.0
        elif col.method == "oov_rate":
            assert -1.0 <= col.score <= 1.0
        else:
            assert col.score == pytest.approx(0.0, abs=1e-12)
    json.dumps(report.to_dict(), allow_nan=False)


def test_report_fields_and_column_kinds() -> None:
    rng = np.random.default_rng(1)
    n = 400
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["a", "b", "c"], n),
            "flag": rng.random(n) < 0.3,
            "note": [f"order {i} shipped to the depot today" for i in range(n)],
        }
    )
    cur = ref.assign(age=ref["age"] + 15, city=rng.choice(["a", "b", "c", "d"], n, p=[0.1, 0.1, 0.1, 0.7]))
    report = drift_report(ref, cur)
    methods = {(c.column, c.method): c for c in report.columns}
    assert set(methods) == {
        ("age", "wasserstein"),
        ("city", "jensenshannon"),
        ("flag", "jensenshannon"),
        ("note", "text_length"),
        ("note", "oov_rate"),
        ("note", "domain_classifier"),
    }
    assert methods[("age", "wasserstein")].drift and methods[("city", "jensenshannon")].drift
    assert not methods[("flag", "jensenshannon")].drift
    assert "d" in methods[("city", "jensenshannon")].details["new_categories"]
    assert report.n_columns == 4 and report.n_drifted_columns == 2 and report.drift
    out = report.to_dict()
    assert {"drift", "columns"} <= set(out)
    assert set(out["columns"][0]) >= {"column", "method", "score", "threshold", "drift"}
    assert list(report.to_frame().columns) == ["column", "method", "score", "threshold", "drift"]


def test_dataset_share_follows_drift_share() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, 300) for i in range(4)})
    cur = ref.assign(x0=ref["x0"] + 2)
    assert not drift_report(ref, cur).drift  # 1 of 4 columns < 0.5
    assert drift_report(ref, cur, thresholds=DriftThresholds(drift_share=0.25)).drift


def test_noise_guard_withholds_flags_only_at_small_n() -> None:
    # 30 rows a side: a 0.3-sd shift passes the distance threshold but not the noise guard
    rng = np.random.default_rng(3)
    ref, cur = pd.DataFrame({"x": rng.normal(0, 1, 30)}), pd.DataFrame({"x": rng.normal(0.3, 1, 30)})
    guarded = drift_report(ref, cur).columns[0]
    assert guarded.score >= 0.1 and not guarded.drift
    assert drift_report(ref, cur, thresholds=DriftThresholds(alpha=1.0)).columns[0].drift
    # the same shift at 20,000 rows a side is beyond noise: distance decides
    big = drift_report(pd.DataFrame({"x": rng.normal(0, 1, 20000)}), pd.DataFrame({"x": rng.normal(0.3, 1, 20000)}))
    assert big.columns[0].drift


@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        (pd.DataFrame({"x": []}), pd.DataFrame({"x": [1.0]}), "reference data set has no rows"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}), "share no column"),
        (pd.DataFrame({"x": [np.nan]}), pd.DataFrame({"x": [1.0]}), "no finite numeric values"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), "'missing' is not in the reference"),
    ],
)
def test_empty_or_unusable_data_is_an_error(ref: pd.DataFrame, cur: pd.DataFrame, message: str) -> None:
    columns = ["missing"] if "missing" in message else None
    with pytest.raises(InvalidInput, match=message):
        drift_report(ref, cur, columns=columns)


@pytest.mark.parametrize("field", ["wasserstein", "alpha", "drift_share"])
def test_thresholds_are_validated(field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        DriftThresholds(**{field: -1.0})


# --------------------------------------------------------------------------- predictions, labelling
def test_prediction_drift_binary_and_multiclass() -> None:
    rng = np.random.default_rng(4)
    ref = rng.dirichlet([4, 2, 1], 2000)
    same = prediction_drift(ref, rng.dirichlet([4, 2, 1], 2000), labels=["a", "b", "c"])
    moved = prediction_drift(ref, rng.dirichlet([1, 2, 4], 2000), labels=["a", "b", "c"])
    assert [c.column for c in moved.columns] == ["predicted_label", "proba[a]", "proba[b]", "proba[c]"]
    assert not same.drift and moved.drift
    binary = prediction_drift(rng.beta(2, 5, 1000), rng.beta(5, 2, 1000))
    assert [c.column for c in binary.columns] == ["predicted_label", "score"] and binary.drift
    with pytest.raises(InvalidInput, match="same model"):
        prediction_drift(ref, ref[:, :2])


def _annotations(n_items: int, spam: dict[str, float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(i, a, "spam" if rng.random() < p else "ham") for a, p in spam.items() for i in range(n_items)]
    return pd.DataFrame(rows, columns=["item", "annotator", "label"])


def test_labelling_drift_overall_and_per_annotator() -> None:
    before = _annotations(300, {"ann": 0.2, "bob": 0.2, "cy": 0.2}, seed=5)
    same = labelling_drift(before, _annotations(300, {"ann": 0.2, "bob": 0.2, "cy": 0.2}, 6))
    assert not same.drift and same.annotators_drifted == []
    one = labelling_drift(before, _annotations(300, {"ann": 0.2, "bob": 0.7, "cy": 0.2}, 6))
    assert one.annotators_drifted == ["bob"] and one.annotators[0].annotator == "bob"
    everyone = labelling_drift(before, _annotations(300, {"ann": 0.7, "bob": 0.7, "cy": 0.7}, 6))
    assert everyone.drift and set(everyone.annotators_drifted) == {"ann", "bob", "cy"}
    json.dumps(everyone.to_dict(), allow_nan=False)


def test_labelling_drift_skips_annotators_with_few_annotations() -> None:
    before = _annotations(100, {"ann": 0.2, "bob": 0.2}, seed=7)
    after = _annotations(10, {"ann": 0.9}, seed=8)
    assert labelling_drift(before, after).annotators == ()


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def sms() -> pd.DataFrame:
    if not SMS.is_file():
        pytest.fail(f"SMS Spam Collection not found at {SMS}")
    return load_sms()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sms_random_halves_do_not_drift(sms: pd.DataFrame, seed: int) -> None:
    ref, cur = halves(sms, len(sms), np.random.default_rng(seed))
    report = drift_report(ref, cur, seed=seed)
    assert not report.drift, report.to_frame()
    assert not any(c.drift for c in report.columns), report.to_frame()


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ("label_prior", {("label", "jensenshannon")}),
        ("uppercase", {("text", "oov_rate"), ("text", "domain_classifier")}),
        ("new_topic", {("text", "oov_rate")}),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_sms_planted_shifts_are_detected(
    sms: pd.DataFrame, shift: str, expected: set[tuple[str, str]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = halves(sms, len(sms), rng)
    report = drift_report(ref, plant(shift, cur, rng, load_rte_sentences()), seed=seed)
    flagged = {(c.column, c.method) for c in report.columns if c.drift}
    assert report.drift, report.to_frame()
    assert expected <= flagged, report.to_frame()


def test_new_topic_is_named_by_its_words(sms: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    ref, cur = halves(sms, len(sms), rng)
    report = drift_report(ref, plant("new_topic", cur, rng), seed=0)
    oov = next(c for c in report.columns if c.method == "oov_rate")
    assert oov.details["oov_rate_current"] > oov.details["oov_rate_reference"]
    assert len(oov.details["top_new_tokens"]) == 10


@pytest.mark.parametrize("package", ["truthset.data", "truthset.quality"])
def test_importing_drift_and_anomalies_loads_no_heavy_module(package: str) -> None:
    """scipy.stats, scipy.spatial and scikit-learn load when a test runs, not at import."""
    import subprocess
    import sys

    code = (
        f"import sys, {package}; print(sorted(m for m in ('scipy.stats', 'scipy.spatial', "
        "'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("ref", "cur", "reason"),
    [
        ([f"w{i} x{i}" for i in range(30)], [f"q{i} z{i}" for i in range(30)], "no word appears"),
        (["the cat sat"] * 5, ["the dog ran"] * 5, "at least 10 rows"),
    ],
)
def test_domain_classifier_says_why_it_was_skipped(ref: list[str], cur: list[str], reason: str) -> None:
    report = drift_report(pd.DataFrame({"t": ref}), pd.DataFrame({"t": cur}), text_columns=["t"])
    test = next(c for c in report.columns if c.method == "domain_classifier")
    assert np.isnan(test.score) and not test.drift and reason in test.details["skipped"]
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["columns"][2]["score"] is None
