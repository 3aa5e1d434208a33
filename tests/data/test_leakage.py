"""Leakage: duplicates across splits (SMS, checked against pandas) and identifier columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import sms
from truthset.core.errors import InvalidInput
from truthset.data import exact_duplicates, identifier_leakage, split_leakage


def test_split_leakage_on_sms_matches_pandas() -> None:
    labels, texts = sms()
    splits = np.random.default_rng(7).choice(["train", "validation", "test"], size=len(texts), p=[0.7, 0.1, 0.2])
    r = split_leakage(texts, splits, labels=labels)
    # oracle: group the normalised text with pandas, count splits per text
    df = pd.DataFrame({"key": [" ".join(t.casefold().split()) for t in texts], "split": splits})
    spans = df.groupby("key")["split"].nunique()
    leaking = df["key"].map(spans) > 1
    assert len(r.frame) == int(leaking.sum()) > 0
    assert r.summary()["leaking_clusters"] == int((spans > 1).sum())
    for s in ["train", "validation", "test"]:
        assert r.summary()["items_with_copy_elsewhere"][s] == int((leaking & (df["split"] == s)).sum())
        for t in ["train", "validation", "test"]:
            if s == t:
                continue
            other = df[df["split"] == t]["key"].unique()
            want = int(((df["split"] == s) & df["key"].isin(other)).sum())
            assert r.matrix.loc[s, t] == want
    assert (np.diag(r.matrix.to_numpy()) == 0).all()


def test_split_leakage_reuses_a_report_and_names_spans() -> None:
    texts = ["a", "b", "A", "c", "b ", "c"]
    report = exact_duplicates(texts, ids=["i0", "i1", "i2", "i3", "i4", "i5"])
    r = split_leakage(None, ["train", "test", "test", "train", None, "train"], report=report)
    assert r.frame["item"].tolist() == ["i0", "i2"]  # b's copy has no split; c stays in train
    assert r.frame["splits"].tolist() == ["test,train", "test,train"]
    with pytest.raises(InvalidInput, match="splits has 2 entries"):
        split_leakage(None, ["a", "b"], report=report)


def test_near_split_leakage_finds_edited_copies() -> None:
    texts = [
        "the quick brown fox jumps over the lazy dog today",
        "the quick brown fox jumped over the lazy dog today",
        "unrelated words here",
    ]
    assert split_leakage(texts, ["train", "test", "test"]).summary()["leaking_items"] == 0
    assert split_leakage(texts, ["train", "test", "test"], near=True).summary()["leaking_items"] == 2


def leaky_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    label = np.where(y == 1, "spam", "ham")
    groups = rng.integers(0, n // 4, n)
    group_label = rng.integers(0, 2, n // 4)
    return pd.DataFrame(
        {
            "label": label,
            "random_id": rng.permutation(n),
            "uuid": [f"{v:x}" for v in rng.integers(1 << 40, 1 << 60, n)],
            "ordered_id": np.argsort(np.argsort(y + rng.random(n) * 0.9)),  # ids handed out by label
            "file": [f"{lab}_{i:05d}.txt" for i, lab in enumerate(label)],
            "text": [f"message number {i} with words" for i in range(n)],
            "amount": rng.normal(size=n),
            "group": groups,
            "group_label": np.where(group_label[groups] == 1, "a", "b"),
        }
    )


def test_identifier_leakage_flags_ordered_ids_and_label_in_file_name() -> None:
    df = leaky_frame(2000, 1).drop(columns=["group_label"])
    out = identifier_leakage(df, "label").set_index("column")
    assert bool(out.loc["ordered_id", "leaks"]) and out.loc["ordered_id", "view"] == "order"
    assert bool(out.loc["file", "leaks"]) and out.loc["file", "view"] == "pattern"
    assert out.loc["file", "gain_fraction"] > 0.95
    for col in ["random_id", "uuid"]:
        assert not out.loc[col, "leaks"] and out.loc[col, "gain_fraction"] <= 0.01
    # free text and real-valued measurements are not identifiers
    assert not out.loc["text", "identifier_like"] and not out.loc["amount", "identifier_like"]
    assert out.index[:2].tolist() == ["file", "ordered_id"]  # leaking columns first


def test_identifier_leakage_flags_group_ids_that_carry_the_label() -> None:
    df = leaky_frame(4000, 2).drop(columns=["label"])
    out = identifier_leakage(df, "group_label", min_distinct_ratio=0.1).set_index("column")
    assert bool(out.loc["group", "leaks"]) and out.loc["group", "view"] == "value"
    assert not out.loc["random_id", "leaks"]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**20), n=st.integers(100, 1500), classes=st.integers(2, 5))
def test_identifier_leakage_never_flags_ids_unrelated_to_the_label(seed: int, n: int, classes: int) -> None:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "y": rng.integers(0, classes, n),
            "id": rng.permutation(n) * 3 + 1000,
            "key": [f"item-{v}" for v in rng.permutation(n)],
        }
    )
    out = identifier_leakage(df, "y", permutations=99, alpha=0.01)
    assert not out["leaks"].any()


def test_identifier_leakage_inputs_are_checked() -> None:
    df = pd.DataFrame({"y": [0, 1] * 10, "id": range(20)})
    with pytest.raises(InvalidInput, match="label column 'z'"):
        identifier_leakage(df, "z")
    with pytest.raises(InvalidInput, match="columns \\['nope'\\]"):
        identifier_leakage(df, "y", columns=["nope"])
    with pytest.raises(InvalidInput, match="permutations >= 99"):
        identifier_leakage(df, "y", permutations=10, alpha=0.01)
