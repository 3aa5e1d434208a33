"""Agreement coefficients: published values, equality with peer libraries, properties."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from truthset.core.errors import InvalidInput
from truthset.quality import agreement as agreement_module
from truthset.quality._bootstrap import SufficientStats, bootstrap_weights
from truthset.quality._kappa import Weights
from truthset.quality._krippendorff import Level, _alpha_stats
from truthset.quality.agreement import (
    AgreementCI,
    UndefinedAgreementWarning,
    agreement_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen_kappa,
    per_label_agreement,
    percent_agreement,
    randolph_kappa,
)

LEVELS: list[Level] = ["nominal", "ordinal", "interval", "ratio"]
T = TypeVar("T")
nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units.
K2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)
K2011_EXPECTED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}

# Fleiss (1971) as on Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def matrix_to_frame(matrix: np.ndarray) -> pd.DataFrame:
    """Annotators x items matrix (NaN = missing) to the long frame."""
    ann, item = np.nonzero(~np.isnan(matrix))
    return pd.DataFrame({"item": item, "annotator": [f"c{a}" for a in ann], "label": matrix[ann, item]})


def table_to_frame(table: np.ndarray) -> pd.DataFrame:
    """Item x category count table to a long frame (rater names are arbitrary)."""
    item, cat = np.nonzero(table)
    counts = table[item, cat]
    item, cat = np.repeat(item, counts), np.repeat(cat, counts)
    rater = np.concatenate([np.arange(n) for n in table.sum(axis=1)])
    return pd.DataFrame({"item": item, "annotator": rater, "label": cat})


def random_matrix(seed: int, n_ann: int = 5, n_items: int = 40, n_values: int = 4, missing: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_values, n_items)
    noise = rng.integers(0, n_values, (n_ann, n_items))
    m = np.where(rng.random((n_ann, n_items)) < 0.6, truth, noise).astype(float)
    m[rng.random(m.shape) < missing] = nan
    return m


def random_frame(seed: int, n_ann: int = 5, n_items: int = 40, n_labels: int = 3, full: bool = True) -> pd.DataFrame:
    m = random_matrix(seed, n_ann, n_items, n_labels, missing=0.0 if full else 0.3)
    df = matrix_to_frame(m)
    df["label"] = df["label"].astype(int)
    return df


# --------------------------------------------------------------------------- published values
@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_worked_example(level: Level) -> None:
    assert round(krippendorff_alpha(K2011, level=level), 3) == K2011_EXPECTED[level]
    assert round(krippendorff_alpha(matrix_to_frame(K2011), level=level), 3) == (K2011_EXPECTED[level])


def test_fleiss_1971_wikipedia_example() -> None:
    df = table_to_frame(FLEISS_TABLE)
    assert round(fleiss_kappa(df), 4) == 0.2099
    assert fleiss_kappa(df) == pytest.approx(sm_fleiss_kappa(FLEISS_TABLE), abs=1e-12)


def test_cohen_wikipedia_example() -> None:
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


# --------------------------------------------------------------------------- peer libraries
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_sklearn(seed: int, weights: Weights) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, 150)
    b = np.where(rng.random(150) < 0.5, a, rng.integers(0, 5, 150))
    assert abs(cohen_kappa(a, b, weights=weights) - cohen_kappa_score(a, b, weights=weights)) < 1e-9
    labels = [4, 3, 2, 1, 0, 7]  # custom order and an unused label
    ours = cohen_kappa(a, b, weights=weights, labels=labels)
    assert abs(ours - cohen_kappa_score(a, b, weights=weights, labels=labels)) < 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_and_randolph_match_statsmodels(seed: int) -> None:
    m = random_matrix(seed, n_ann=6, n_items=50, n_values=4, missing=0.0).astype(int)
    table, _ = aggregate_raters(m.T)
    df = matrix_to_frame(m.astype(float))
    assert abs(fleiss_kappa(df) - sm_fleiss_kappa(table)) < 1e-9
    assert abs(randolph_kappa(df) - sm_fleiss_kappa(table, method="randolph")) < 1e-9
    assert (
        abs(
            randolph_kappa(df, labels=[0, 1, 2, 3, 4])
            - sm_fleiss_kappa(np.c_[table, np.zeros(len(table))], method="randolph")
        )
        < 1e-9
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package(seed: int, level: Level) -> None:
    m = random_matrix(seed, n_ann=3 + seed, n_items=30 + 10 * seed, n_values=5)
    expected = krippendorff.alpha(reliability_data=m, level_of_measurement=level)
    assert abs(krippendorff_alpha(m, level=level) - expected) < 1e-9
    assert abs(krippendorff_alpha(matrix_to_frame(m), level=level) - expected) < 1e-9


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("level", ["interval", "ratio", "ordinal"])
def test_alpha_matches_package_on_continuous_values(seed: int, level: Level) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.gamma(2.0, 3.0, 60)
    m = truth + rng.normal(0, 1.0, (4, 60)) ** 2
    m[rng.random(m.shape) < 0.25] = nan
    expected = krippendorff.alpha(reliability_data=m, level_of_measurement=level)
    assert abs(krippendorff_alpha(m, level=level) - expected) < 1e-9


def test_alpha_string_matrix_and_ordered_labels() -> None:
    names = np.array(["very low", "low", "mid", "high", "very high"], dtype=object)
    m = np.where(np.isnan(K2011), None, names[np.nan_to_num(K2011, nan=1).astype(int) - 1])
    assert round(krippendorff_alpha(m, level="nominal"), 3) == 0.743
    assert round(krippendorff_alpha(m, level="ordinal", labels=list(names)), 3) == 0.815
    df = matrix_to_frame(K2011)
    df["label"] = pd.Categorical(names[df["label"].astype(int) - 1], categories=names, ordered=True)
    assert round(krippendorff_alpha(df, level="ordinal"), 3) == 0.815
    df["label"] = df["label"].astype(str)
    assert round(krippendorff_alpha(df, level="ordinal", labels=list(names)), 3) == 0.815


def test_crowdkit_column_names_accepted() -> None:
    df = matrix_to_frame(K2011).rename(columns={"item": "task", "annotator": "worker"})
    assert round(krippendorff_alpha(df, level="interval"), 3) == 0.849
    assert percent_agreement(df) == percent_agreement(matrix_to_frame(K2011))


# --------------------------------------------------------------------------- pairwise / per label
def test_pairwise_cohen_matches_sklearn_per_pair() -> None:
    m = random_matrix(7, n_ann=4, n_items=60, n_values=3, missing=0.2)
    df = matrix_to_frame(m)
    for weights in (None, "quadratic"):
        table = pairwise_cohen_kappa(df, weights=weights)
        assert table.shape == (4, 4)
        assert np.allclose(np.diag(table), 1.0)
        assert np.allclose(table.to_numpy(), table.to_numpy().T, equal_nan=True)
        for i in range(4):
            for j in range(i + 1, 4):
                both = ~np.isnan(m[i]) & ~np.isnan(m[j])
                exp = cohen_kappa_score(m[i, both], m[j, both], weights=weights, labels=[0.0, 1.0, 2.0])
                assert abs(table.iloc[i, j] - exp) < 1e-9


def test_pairwise_cohen_nan_for_pairs_without_shared_items() -> None:
    df = pd.DataFrame(
        {"item": [1, 1, 2, 2, 3, 3, 4], "annotator": list("abababc"), "label": ["x", "y", "y", "y", "x", "x", "x"]}
    )
    with pytest.warns(UndefinedAgreementWarning, match="2 annotator pair"):
        table = pairwise_cohen_kappa(df)
    assert np.isnan(table.loc["a", "c"]) and np.isnan(table.loc["c", "b"])
    assert table.loc["a", "b"] == pytest.approx(cohen_kappa(["x", "y", "x"], ["y", "y", "x"]))


def test_per_label_alpha_is_one_vs_rest_alpha() -> None:
    m = random_matrix(3, n_ann=4, n_items=80, n_values=3)
    df = matrix_to_frame(m)
    table = per_label_agreement(df)
    assert list(table.index) == [0.0, 1.0, 2.0]
    for label in table.index:
        binary = np.where(np.isnan(m), nan, (m == label).astype(float))
        exp = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert abs(table.loc[label, "alpha"] - exp) < 1e-9
    assert table["prevalence"].sum() == pytest.approx(1.0)
    assert table["n_judgements"].sum() == len(df)


def test_per_label_specific_agreement_two_annotators() -> None:
    # a: both positive, b/c: one positive -> 2a / (2a + b + c)
    a = ["p"] * 6 + ["p"] * 2 + ["n"] * 3 + ["n"] * 9
    b = ["p"] * 6 + ["n"] * 2 + ["p"] * 3 + ["n"] * 9
    df = pd.DataFrame({"item": list(range(20)) * 2, "annotator": ["a"] * 20 + ["b"] * 20, "label": a + b})
    table = per_label_agreement(df)
    assert table.loc["p", "specific_agreement"] == pytest.approx(12 / (12 + 5))
    assert table.loc["n", "specific_agreement"] == pytest.approx(18 / (18 + 5))


def test_per_label_unused_label_is_nan_with_warning() -> None:
    df = random_frame(1, n_labels=2)
    with pytest.warns(UndefinedAgreementWarning, match="label"):
        table = per_label_agreement(df, labels=[0, 1, 9])
    assert np.isnan(table.loc[9, "alpha"]) and table.loc[9, "n_judgements"] == 0


# --------------------------------------------------------------------------- bootstrap
def _resampled(
    stats_builder: Callable[..., SufficientStats],
    df: pd.DataFrame,
    counts: np.ndarray,
    items: np.ndarray,
    **options: Any,
) -> float:
    """The metric recomputed on a frame where item ``items[k]`` appears ``counts[k]`` times."""
    parts = []
    for copy in range(int(counts.max())):
        chosen = items[counts > copy]
        part = df[df["item"].isin(chosen)].copy()
        part["item"] = part["item"].astype(str) + f"#{copy}"
        parts.append(part)
    return stats_builder(pd.concat(parts, ignore_index=True), **options).point()


@pytest.mark.parametrize(
    ("name", "options"),
    [("percent_agreement", {}), ("fleiss_kappa", {}), ("randolph_kappa", {}), ("cohen_kappa", {"weights": "linear"})]
    + [("krippendorff_alpha", {"level": lv}) for lv in LEVELS],
)
def test_bootstrap_replicate_equals_metric_on_resampled_items(name: str, options: dict[str, str]) -> None:
    full = name in ("fleiss_kappa", "cohen_kappa")
    df = random_frame(11, n_ann=2 if name == "cohen_kappa" else 4, n_items=25, full=full)
    builder = agreement_module._BUILDERS[name]
    stats = builder(df, **options)
    # pairable items in the order the statistics hold them (codes are sorted items)
    counts_per_item = df.groupby("item").size()
    items = np.asarray(counts_per_item.index[counts_per_item.to_numpy() >= 2])
    if name == "cohen_kappa":
        items = np.asarray(counts_per_item.index[counts_per_item.to_numpy() == 2])
    assert stats.n_units == len(items)
    w = bootstrap_weights(np.random.default_rng(0), 3, stats.n_units)
    reps = stats.replicates(w)
    for b in range(3):
        assert abs(reps[b] - _resampled(builder, df, w[b], items, **options)) < 1e-9


def test_agreement_ci_contract() -> None:
    df = random_frame(2, n_items=60)
    r = agreement_ci(krippendorff_alpha, df, level="nominal", n_boot=300, seed=1)
    assert isinstance(r, AgreementCI)
    assert r.value == krippendorff_alpha(df, level="nominal")
    assert r.ci_low <= r.value <= r.ci_high
    assert (r.confidence, r.n_boot) == (0.95, 300)
    assert agreement_ci("krippendorff_alpha", df, level="nominal", n_boot=300, seed=1) == r
    wider = agreement_ci(fleiss_kappa, df, n_boot=300, confidence=0.99)
    narrower = agreement_ci(fleiss_kappa, df, n_boot=300, confidence=0.5)
    assert wider.ci_low < narrower.ci_low < narrower.ci_high < wider.ci_high
    assert agreement_ci(percent_agreement, df, n_boot=50).value == percent_agreement(df)
    two = df[df["annotator"].isin(["c0", "c1"])]
    assert agreement_ci(cohen_kappa, two, n_boot=50).value == pytest.approx(
        cohen_kappa(two[two.annotator == "c0"].label, two[two.annotator == "c1"].label)
    )


def test_agreement_ci_on_large_data_uses_batches() -> None:
    m = random_matrix(5, n_ann=3, n_items=20_000, n_values=4)
    r = agreement_ci("krippendorff_alpha", m, level="ordinal", n_boot=20)
    assert r.ci_low < r.value < r.ci_high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_boot": 1}, "n_boot"), ({"confidence": 1.5}, "confidence"), ({"n_boot": 10}, None)],
)
def test_agreement_ci_errors(kwargs: dict[str, Any], message: str | None) -> None:
    df = random_frame(0)
    if message is None:
        with pytest.raises(InvalidInput, match="does not know metric"):
            agreement_ci("spearman", df, **kwargs)
        with pytest.raises(InvalidInput, match="needs level="):
            agreement_ci(krippendorff_alpha, df, **kwargs)
        with pytest.raises(InvalidInput, match="exactly two annotators"):
            agreement_ci(cohen_kappa, df, **kwargs)
    else:
        with pytest.raises(InvalidInput, match=message):
            agreement_ci(percent_agreement, df, **kwargs)


def test_bootstrap_warns_about_undefined_replicates() -> None:
    df = pd.DataFrame(
        {"item": [1, 1, 2, 2, 3, 3], "annotator": list("ababab"), "label": ["x", "x", "x", "x", "x", "y"]}
    )
    with pytest.warns(UndefinedAgreementWarning, match="replicates were undefined"):
        agreement_ci("krippendorff_alpha", df, level="nominal", n_boot=200)


# --------------------------------------------------------------------------- degenerate input
def test_one_annotator_is_invalid() -> None:
    df = pd.DataFrame({"item": [1, 2, 3], "annotator": "a", "label": ["x", "y", "x"]})
    for call in (
        percent_agreement,
        fleiss_kappa,
        randolph_kappa,
        per_label_agreement,
        lambda d: krippendorff_alpha(d, level="nominal"),
    ):
        with pytest.raises(InvalidInput, match="two or more annotators"):
            call(df)


def test_empty_frame_is_invalid() -> None:
    empty = pd.DataFrame({"item": [], "annotator": [], "label": []})
    for call in (
        percent_agreement,
        fleiss_kappa,
        pairwise_cohen_kappa,
        lambda d: krippendorff_alpha(d, level="interval"),
    ):
        with pytest.raises(InvalidInput):
            call(empty)


def test_no_overlapping_items_is_invalid() -> None:
    m = np.array([[1, 2, nan, nan], [nan, nan, 1, 2]])
    with pytest.raises(InvalidInput, match="two or more annotators"):
        krippendorff_alpha(m, level="interval")
    df = pd.DataFrame({"item": [1, 2], "annotator": ["a", "b"], "label": [0, 1]})
    with pytest.raises(InvalidInput, match="share no item"):
        agreement_ci(cohen_kappa, df)


@pytest.mark.parametrize("level", LEVELS)
def test_single_value_everywhere_is_nan_with_warning(level: Level) -> None:
    m = np.ones((3, 5))
    with pytest.warns(UndefinedAgreementWarning, match="undefined"):
        assert np.isnan(krippendorff_alpha(m, level=level))


def test_single_label_kappas_are_nan_with_warning() -> None:
    df = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": list("abab"), "label": "x"})
    with pytest.warns(UndefinedAgreementWarning):
        assert np.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    with pytest.warns(UndefinedAgreementWarning):
        assert np.isnan(fleiss_kappa(df))
    with pytest.warns(UndefinedAgreementWarning):
        assert np.isnan(randolph_kappa(df))
    assert percent_agreement(df) == 1.0


def test_fleiss_needs_equal_counts() -> None:
    df = matrix_to_frame(K2011)
    with pytest.raises(InvalidInput, match="same number of judgements") as err:
        fleiss_kappa(df)
    assert "krippendorff_alpha" in str(err.value)
    assert isinstance(err.value, ValueError)
    assert np.isfinite(randolph_kappa(df))  # free-marginal kappa allows varying counts


def test_level_is_required_and_checked() -> None:
    with pytest.raises(TypeError, match="level"):
        krippendorff_alpha(K2011)  # type: ignore[call-arg]  # level left out on purpose
    with pytest.raises(InvalidInput, match="level must be one of"):
        krippendorff_alpha(K2011, level="cardinal")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="needs level="):
        _alpha_stats(K2011, None)


@pytest.mark.parametrize(
    ("data", "level", "message"),
    [
        (pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "label": ["lo", "hi"]}), "interval", "numeric labels"),
        (
            pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "label": ["lo", "hi"]}),
            "ordinal",
            "order of the labels",
        ),
        (np.array([["lo", "hi"], ["hi", "hi"]]), "ratio", "numeric matrix"),
        (np.array([["lo", "hi"], ["hi", "hi"]]), "ordinal", "needs their order"),
        (np.array([[-1.0, 2.0], [1.0, 2.0]]), "ratio", "non-negative"),
        (np.array([1.0, 2.0]), "nominal", "2-D"),
        (
            pd.DataFrame({"item": [1, 1, 1], "annotator": ["a", "b", "a"], "label": [1, 2, 3]}),
            "nominal",
            "drop_duplicates",
        ),
        (pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "label": [1.0, 2.0]}), "interval", None),
    ],
)
def test_alpha_input_errors(data: pd.DataFrame | np.ndarray, level: Level, message: str | None) -> None:
    if message is None:
        with pytest.raises(InvalidInput, match="labels= "):
            krippendorff_alpha(data, level=level, labels=[1.0, 2.0])
        return
    with pytest.raises(InvalidInput, match=message):
        krippendorff_alpha(data, level=level)


def test_cohen_input_errors() -> None:
    with pytest.raises(InvalidInput, match="equal length"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(InvalidInput, match="not in labels"):
        cohen_kappa([1, 2], [1, 3], labels=[1, 2])
    with pytest.raises(InvalidInput, match="missing"):
        cohen_kappa([1, None], [1, 2])  # type: ignore[arg-type]  # a missing value on purpose
    with pytest.raises(InvalidInput, match="weights must be"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")  # type: ignore[arg-type]  # an invalid value on purpose


def test_missing_columns_are_reported() -> None:
    with pytest.raises(InvalidInput, match="lacks column"):
        percent_agreement(pd.DataFrame({"item": [1], "label": [1]}))


# --------------------------------------------------------------------------- properties
frames = st.integers(2, 5).flatmap(
    lambda n_ann: st.integers(2, 12).flatmap(
        lambda n_items: st.lists(
            st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n_items, max_size=n_items),
            min_size=n_ann,
            max_size=n_ann,
        )
    )
)


def _hyp_matrix(rows: list[list[int | None]]) -> np.ndarray:
    return np.array([[nan if v is None else float(v) for v in r] for r in rows])


def _quiet(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedAgreementWarning)
        try:
            return fn(*args, **kwargs)
        except InvalidInput:
            return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=frames, level=st.sampled_from(LEVELS), seed=st.integers(0, 2**16))
def test_alpha_at_most_one_and_invariant_to_renaming(rows: list[list[int | None]], level: Level, seed: int) -> None:
    m = _hyp_matrix(rows)
    value = _quiet(krippendorff_alpha, m, level=level)
    if value is None or np.isnan(value):
        return
    assert value <= 1.0 + 1e-12
    rng = np.random.default_rng(seed)
    df = matrix_to_frame(m)
    item_names = {i: f"item-{j}" for i, j in enumerate(rng.permutation(m.shape[1]))}
    present = sorted(df.annotator.unique())
    ann_names = {a: f"z{j}" for a, j in zip(present, rng.permutation(len(present)), strict=True)}
    renamed = df.assign(item=df["item"].map(item_names), annotator=df["annotator"].map(ann_names))
    renamed = renamed.sample(frac=1.0, random_state=seed)
    again = _quiet(krippendorff_alpha, renamed, level=level)
    assert again is not None and abs(again - value) < 1e-9
    assert abs(krippendorff.alpha(reliability_data=m, level_of_measurement=level) - value) < 1e-9


@settings(max_examples=60, deadline=None)
@given(rows=frames, weights=st.sampled_from([None, "linear", "quadratic"]))
def test_kappas_at_most_one(rows: list[list[int | None]], weights: Weights) -> None:
    m = _hyp_matrix(rows)
    both = ~np.isnan(m[0]) & ~np.isnan(m[1])
    if both.any():
        value = _quiet(cohen_kappa, m[0, both], m[1, both], weights=weights)
        assert value is None or np.isnan(value) or value <= 1.0 + 1e-12
    df = matrix_to_frame(m)
    for fn in (randolph_kappa, fleiss_kappa, percent_agreement):
        value = _quiet(fn, df)
        assert value is None or np.isnan(value) or value <= 1.0 + 1e-12
    table = _quiet(pairwise_cohen_kappa, df, weights=weights)
    if table is not None:
        assert (table.fillna(0).to_numpy() <= 1.0 + 1e-12).all()


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=2, max_size=30).filter(lambda xs: len(set(xs)) > 1),
    n_ann=st.integers(2, 5),
    level=st.sampled_from(LEVELS),
)
def test_perfect_agreement_gives_one(labels: list[int], n_ann: int, level: Level) -> None:
    m = np.tile(np.asarray(labels, dtype=float), (n_ann, 1))
    assert krippendorff_alpha(m, level=level) == pytest.approx(1.0)
    df = matrix_to_frame(m)
    assert fleiss_kappa(df) == pytest.approx(1.0)
    assert randolph_kappa(df) == pytest.approx(1.0)
    assert percent_agreement(df) == 1.0
    assert cohen_kappa(m[0], m[1], weights="quadratic") == pytest.approx(1.0)
    assert np.allclose(pairwise_cohen_kappa(df).to_numpy(), 1.0)
