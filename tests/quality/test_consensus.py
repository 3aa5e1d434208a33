"""Consensus quality (CROWDLAB, truthset.quality.consensus_quality): the ensemble by hand,
invariants by hypothesis, planted bad annotators, and the crowd sets with gold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.quality.conftest import load_crowd, make_annotations
from truthset.core.errors import InvalidInput
from truthset.quality import DawidSkene, MajorityVote, consensus_quality


def test_ensemble_by_hand() -> None:
    df = pd.DataFrame(
        {"item": [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3, "annotator": list("abc") * 4, "label": list("xxxyyyxxyyyy")}
    )
    r = consensus_quality(df)
    # pairwise agreement: 9 unanimous annotations (1) + item 3: a, b 1/2, c 0 -> P = 10/12
    assert r.weights["P"] == pytest.approx(10 / 12)
    assert r.weights["A_MLC"] == pytest.approx(0.5)
    # c agrees with majority vote on 3 of 4 -> w = 1 - 0.25 / 0.5 = 0.5; a, b -> 1
    assert r.annotators["weight"].tolist() == pytest.approx([1.0, 1.0, 0.5])
    # item 3: (1 * P + 1 * P + 0.5 * (1 - P)) / 2.5 for x
    assert r.items.loc[3, "consensus_quality"] == pytest.approx((2 * 10 / 12 + 0.5 * 2 / 12) / 2.5)
    assert r.items.loc[1, "consensus_quality"] == pytest.approx(10 / 12)
    assert r.probas.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert r.items["annotator_agreement"].tolist() == pytest.approx([1, 1, 2 / 3, 1])


def test_model_tips_a_tie_and_gets_its_weight() -> None:
    # items 1-6 unanimous (x, y, x, y, x, y); the annotators split on item 7
    df = pd.DataFrame(
        {"item": np.repeat(np.arange(1, 8), 2), "annotator": list("ab") * 7, "label": list("xxyyxxyyxxyyxy")}
    )
    px = np.array([0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.2])
    p = pd.DataFrame({"x": px, "y": 1 - px}, index=np.arange(1, 8))
    r = consensus_quality(df, p)
    assert r.items.loc[7, "consensus_label"] == "y"
    assert r.items.loc[7, "model_label"] == "y"
    assert r.weights["model"] > 0
    assert "model" not in consensus_quality(df).weights


def test_arrays_and_frame_agree() -> None:
    df, _ = make_annotations(n_items=40, seed=3)
    codes = [pd.factorize(df[c], sort=True)[0] for c in ("item", "annotator", "label")]
    a = consensus_quality(df)
    b = consensus_quality(tuple(codes))
    assert a.items["consensus_quality"].to_numpy() == pytest.approx(b.items["consensus_quality"].to_numpy())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_items=st.integers(2, 50),
    n_labels=st.integers(2, 4),
    per_item=st.integers(1, 4),
    with_model=st.booleans(),
    with_ds=st.booleans(),
)
def test_scores_in_unit_interval(
    seed: int, n_items: int, n_labels: int, per_item: int, with_model: bool, with_ds: bool
) -> None:
    df, _ = make_annotations(n_items=n_items, n_annotators=5, n_labels=n_labels, per_item=per_item, seed=seed)
    labels = sorted(df["label"].unique())
    p = None
    if with_model:
        raw = np.random.default_rng(seed).dirichlet(np.ones(len(labels)), size=n_items)
        p = pd.DataFrame(raw, index=sorted(df["item"].unique()), columns=labels)
    r = consensus_quality(df, p, aggregator=DawidSkene() if with_ds else None)
    for values in (
        r.items["consensus_quality"],
        r.annotators["quality"],
        r.annotators["mean_label_quality"],
        r.items["annotator_agreement"],
    ):
        assert ((values >= 0) & (values <= 1 + 1e-12)).all()
    assert r.probas.sum(axis=1).to_numpy() == pytest.approx(1.0)
    # the consensus quality is the ensemble's top probability, never below 1/K
    assert (r.items["consensus_quality"] >= 1 / len(labels) - 1e-12).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_row_order_does_not_matter(seed: int) -> None:
    df, _ = make_annotations(n_items=30, seed=seed)
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    a, b = consensus_quality(df), consensus_quality(shuffled)
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.annotators, b.annotators)


def test_unanimous_items_beat_split_items() -> None:
    df, _ = make_annotations(n_items=200, per_item=3, seed=5)
    r = consensus_quality(df).items
    split = r["annotator_agreement"] < 1
    assert r.loc[~split, "consensus_quality"].min() > r.loc[split, "consensus_quality"].max()


def test_random_annotator_is_rated_lowest() -> None:
    df, _ = make_annotations(n_items=400, n_annotators=6, n_labels=3, per_item=3, seed=11)
    rng = np.random.default_rng(0)
    spam = df["annotator"] == "w00"
    df.loc[spam, "label"] = rng.choice(["L0", "L1", "L2"], spam.sum())
    a = consensus_quality(df).annotators
    assert a["quality"].idxmin() == "w00"
    assert a.loc["w00", "weight"] < a["weight"].drop("w00").min()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"item": [1, 1], "annotator": ["a", "a"], "label": [0, 1]}), "more than once"),
        (pd.DataFrame({"item": [], "annotator": [], "label": []}), "empty"),
        (pd.DataFrame({"item": [1], "label": [0]}), "lacks column"),
    ],
)
def test_bad_annotations_are_explained(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        consensus_quality(frame)


def test_misaligned_model_is_explained() -> None:
    df = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": list("abab"), "label": list("xxyy")})
    with pytest.raises(InvalidInput, match="no row for 1"):
        consensus_quality(df, pd.DataFrame({"x": [0.5], "y": [0.5]}, index=[1]))
    with pytest.raises(InvalidInput, match="shape"):
        consensus_quality(df, np.full((3, 2), 0.5))
    with pytest.raises(InvalidInput, match="sum to 1"):
        consensus_quality(df, np.full((2, 2), 0.6))


# --------------------------------------------------------------------------- real data
def _auc(labels: pd.Series, score: pd.Series, truth: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    common = labels.index.intersection(truth.index)
    wrong = (labels.loc[common] != truth.loc[common]).to_numpy()
    return float(roc_auc_score(wrong, -score.loc[common].to_numpy()))


@pytest.mark.parametrize("name", ["rte", "temp", "d_Duck_Identification"])
def test_consensus_quality_finds_wrong_consensus_on_real_crowds(name: str) -> None:
    """On real crowd sets with gold, the consensus-quality score ranks wrong consensus labels
    first at least as well as majority-vote agreement ranks wrong majority labels."""
    df, truth = load_crowd(name)
    r = consensus_quality(df).items
    ours = _auc(r["consensus_label"], r["consensus_quality"], truth)
    mv = MajorityVote().fit(df)
    agree = df["label"].to_numpy() == mv.labels_.loc[df["item"]].to_numpy()
    mv_agreement = pd.Series(agree).groupby(df["item"].to_numpy()).mean()
    assert ours > 0.75
    assert ours >= _auc(mv.labels_, mv_agreement, truth)
