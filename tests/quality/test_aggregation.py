"""Aggregators: one contract test for all, parity with crowd-kit, published accuracies."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truthset.core.errors import InvalidInput, NotFittedError
from truthset.quality import aggregation as agg
from truthset.quality.aggregation import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    WeightedMajorityVote,
    compare_with_majority,
)

ALL = [MajorityVote, WeightedMajorityVote, DawidSkene, OneCoinDawidSkene, GLAD, MACE]
ids = [c.__name__ for c in ALL]

Factory = Callable[..., tuple[pd.DataFrame, pd.Series]]


def _fresh(cls: type, **params: object) -> agg.BaseAggregator:
    model = cls()
    if "tie" in model.get_params():
        model.set_params(tie="first")
    return model.set_params(**params)


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_contract(cls: type, annotations: pd.DataFrame) -> None:
    model = cls()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.labels_
    with pytest.raises(NotFittedError):
        model.predict_proba()
    assert not hasattr(model, "probas_")  # NotFittedError is an AttributeError
    assert model.fit(annotations) is model
    items = pd.Index(sorted(annotations["item"].unique()))
    annotators = pd.Index(sorted(annotations["annotator"].unique()))
    labels = pd.Index(sorted(annotations["label"].unique()))
    assert model.labels_.index.equals(items) and model.labels_.index.name == "item"
    assert set(model.labels_.dropna()) <= set(labels)
    assert model.probas_.index.equals(items)
    assert model.probas_.columns.equals(labels)
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0, atol=1e-9)
    assert (model.probas_.to_numpy() >= 0).all()
    assert model.skills_.index.equals(annotators)
    assert model.errors_.index.names == ["annotator", "true_label"]
    assert model.errors_.columns.equals(labels)
    assert len(model.errors_) == len(annotators) * len(labels)
    rows = model.errors_.sum(axis=1).dropna()
    np.testing.assert_allclose(rows, 1.0, atol=1e-9)
    assert isinstance(model.loss_history_, list)
    assert all(isinstance(v, float) for v in model.loss_history_)
    assert model.n_iter_ == len(model.loss_history_)
    assert 0.0 <= model.majority_agreement_ <= 1.0
    assert model.majority_labels_.index.equals(items)
    pd.testing.assert_series_equal(model.predict(), model.labels_)
    assert model.fit_predict(annotations).equals(model.labels_)
    assert model.fit_predict_proba(annotations).equals(model.probas_)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_keyword_only_params_stored_unchanged(cls: type) -> None:
    params = cls().get_params()
    assert params, "every aggregator has hyper-parameters"
    assert cls(**params).get_params() == params
    with pytest.raises(TypeError):
        cls(1)
    assert repr(cls()).startswith(cls.__name__ + "(")


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_invariant_to_relabelling_items_and_annotators(
    cls: type, annotation_factory: Factory
) -> None:
    df, _ = annotation_factory(n_items=80, n_annotators=7, n_labels=3, per_item=4, seed=3)
    rng = np.random.default_rng(1)
    item_map = dict(zip(df["item"].unique(), rng.permutation(10_000)[: df["item"].nunique()]))
    ann_names = df["annotator"].unique()
    ann_map = dict(zip(ann_names, [f"z{v}" for v in rng.permutation(len(ann_names))]))
    renamed = df.assign(item=df["item"].map(item_map), annotator=df["annotator"].map(ann_map))
    renamed = renamed.sample(frac=1.0, random_state=2)  # row order must not matter either
    a = _fresh(cls).fit(df)
    b = _fresh(cls).fit(renamed)
    back = {v: k for k, v in item_map.items()}
    pb = b.probas_.rename(index=back).loc[a.probas_.index]
    np.testing.assert_allclose(pb.to_numpy(), a.probas_.to_numpy(), atol=1e-6)
    assert (b.labels_.rename(index=back).loc[a.labels_.index] == a.labels_).all()
    sb = b.skills_.rename(index={v: k for k, v in ann_map.items()}).loc[a.skills_.index]
    np.testing.assert_allclose(sb.to_numpy(), a.skills_.to_numpy(), atol=1e-5)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_crowdkit_column_aliases(cls: type, annotations: pd.DataFrame) -> None:
    ours = _fresh(cls).fit(annotations).labels_
    theirs = _fresh(cls).fit(
        annotations.rename(columns={"item": "task", "annotator": "worker"})
    ).labels_
    pd.testing.assert_series_equal(ours, theirs)


BAD_PARAMS = [
    (MajorityVote, "tie", "coin"),
    (MajorityVote, "random_state", 1.5),
    (WeightedMajorityVote, "weights", [1, 2]),
    (WeightedMajorityVote, "default_weight", -1.0),
    (DawidSkene, "max_iter", 0),
    (DawidSkene, "tol", -1e-3),
    (DawidSkene, "smoothing", "lots"),
    (OneCoinDawidSkene, "max_iter", 2.5),
    (GLAD, "m_step_tol", 0.0),
    (GLAD, "alpha_prior_mean", float("nan")),
    (MACE, "method", "gibbs"),
    (MACE, "n_restarts", 0),
    (MACE, "alpha", 0.0),
    (MACE, "max_iter", True),
]


@pytest.mark.parametrize(("cls", "name", "value"), BAD_PARAMS)
def test_rejects_bad_params_clearly(
    cls: type, name: str, value: object, annotations: pd.DataFrame
) -> None:
    model = cls(**{name: value})  # stored unchanged, validated in fit
    assert model.get_params()[name] is value
    with pytest.raises(InvalidInput, match=rf"{name}=.*expected"):
        model.fit(annotations)
    with pytest.raises(InvalidInput, match="no parameter"):
        cls().set_params(nonsense=1)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_rejects_bad_frames(cls: type) -> None:
    with pytest.raises(InvalidInput, match="lacks column"):
        cls().fit(pd.DataFrame({"item": [1], "label": [1]}))
    with pytest.raises(InvalidInput, match="empty"):
        cls().fit(pd.DataFrame({"item": [], "annotator": [], "label": []}))


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_single_label_frame(cls: type) -> None:
    df = pd.DataFrame({"item": [1, 1, 2], "annotator": ["x", "y", "x"], "label": ["a"] * 3})
    model = cls().fit(df)
    assert model.labels_.tolist() == ["a", "a"]
    assert (model.probas_["a"] == 1.0).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 4), st.sampled_from("abcd")),
        min_size=1,
        max_size=40,
    ),
    which=st.integers(0, len(ALL) - 1),
)
def test_probas_are_distributions(rows: list[tuple[int, int, str]], which: int) -> None:
    df = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    model = ALL[which]().fit(df)
    p = model.probas_.to_numpy()
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    losses = np.asarray(model.loss_history_)
    assert np.isfinite(losses).all()


# --------------------------------------------------------------------------- tie policy
TIED = pd.DataFrame(
    {"item": np.repeat(np.arange(400), 2), "annotator": ["x", "y"] * 400, "label": ["a", "b"] * 400}
)


def test_tie_first_and_nan() -> None:
    assert (MajorityVote(tie="first").fit_predict(TIED) == "a").all()
    nan = MajorityVote(tie="nan").fit(TIED)
    assert nan.labels_.isna().all()
    np.testing.assert_allclose(nan.probas_.to_numpy(), 0.5)
    assert nan.skills_.isna().all()  # no labelled item to agree with


def test_tie_random_is_seeded_balanced_and_row_order_free() -> None:
    a = MajorityVote(tie="random", random_state=7).fit_predict(TIED)
    b = MajorityVote(tie="random", random_state=7).fit_predict(TIED.sample(frac=1.0, random_state=0))
    pd.testing.assert_series_equal(a, b)
    assert 0.4 < (a == "a").mean() < 0.6
    c = MajorityVote(tie="random", random_state=8).fit_predict(TIED)
    assert (a != c).any()
    # an item's choice does not depend on the other items in the frame
    sub = MajorityVote(tie="random", random_state=7).fit_predict(TIED[TIED["item"] < 50])
    assert (sub == a.loc[sub.index]).all()


def test_weighted_majority_vote() -> None:
    df = pd.DataFrame({"item": [1, 1, 1], "annotator": ["x", "y", "z"], "label": [1, 0, 0]})
    model = WeightedMajorityVote(weights=pd.Series({"x": 3.0, "y": 1.0, "z": 1.0})).fit(df)
    assert model.labels_.tolist() == [1]
    np.testing.assert_allclose(model.probas_.loc[1].to_numpy(), [0.4, 0.6])
    with pytest.raises(InvalidInput, match="no weight for 1 annotator"):
        WeightedMajorityVote(weights={"x": 1.0, "y": 1.0}).fit(df)
    assert WeightedMajorityVote(weights={"x": 3.0}, default_weight=1.0).fit_predict(df).tolist() == [1]
    with pytest.raises(InvalidInput, match="finite and >= 0"):
        WeightedMajorityVote(weights={"x": -1.0, "y": 1.0, "z": 1.0}).fit(df)


# --------------------------------------------------------------------------- gold, MV beside
def test_dawid_skene_gold_is_clamped(annotation_factory: Factory) -> None:
    df, truth = annotation_factory(n_items=100, seed=5)
    gold = truth.iloc[:30]
    model = DawidSkene().fit(df, gold=gold)
    assert (model.labels_.loc[gold.index] == gold).all()
    assert (model.probas_.loc[gold.index].max(axis=1) == 1.0).all()
    with pytest.raises(InvalidInput, match="never occur"):
        DawidSkene().fit(df, gold=pd.Series({"i0000": "nope"}))
    with pytest.raises(InvalidInput, match="only the annotation frame"):
        GLAD().fit(df, gold=gold)


def test_compare_with_majority(annotation_factory: Factory) -> None:
    df, truth = annotation_factory(n_items=200, seed=6)
    table = compare_with_majority(DawidSkene(), df, truth)
    assert list(table.index) == ["majority_vote", "DawidSkene"]
    assert table.loc["majority_vote", "agreement_with_majority"] == 1.0
    assert {"accuracy", "n_truth"} <= set(table.columns)
    ds = DawidSkene().fit(df)
    assert ds.majority_agreement_ == pytest.approx(
        (ds.labels_ == MajorityVote().fit_predict(df)).mean()
    )


def test_em_loss_never_increases(annotation_factory: Factory) -> None:
    df, _ = annotation_factory(n_items=300, n_annotators=8, per_item=5, seed=9)
    for model in (DawidSkene(tol=0, max_iter=30), DawidSkene(smoothing=0.5, tol=0, max_iter=30),
                  OneCoinDawidSkene(tol=0, max_iter=30), MACE(method="em", tol=0)):
        losses = np.asarray(model.fit(df).loss_history_)
        assert (np.diff(losses) <= 1e-9).all(), type(model).__name__
