"""Span F1 per annotator pair and against gold, with bootstrap intervals (NER, issue 11 item 10)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.errors import InvalidInput
from truthset.quality import gold_span_f1, pairwise_span_f1, pairwise_span_f1_ci, span_f1
from truthset.quality.spans import Match

COLUMNS = ["item", "annotator", "start", "end", "label"]

rows = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from("abcd"), st.integers(0, 25), st.integers(1, 6), st.sampled_from("XY")),
    min_size=1,
    max_size=40,
)
extra_cover = st.lists(st.tuples(st.integers(0, 4), st.sampled_from("abcd")), max_size=10)


def _frames(span_rows: list[tuple[Any, ...]], cover: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    spans = pd.DataFrame([(i, a, s, s + n, lab) for i, a, s, n, lab in span_rows], columns=COLUMNS)
    cov = pd.concat([spans[["item", "annotator"]], pd.DataFrame(cover, columns=["item", "annotator"])])
    return spans, cov.drop_duplicates(ignore_index=True)


@settings(max_examples=120, deadline=None)
@given(span_rows=rows, cover=extra_cover, match=st.sampled_from(["exact", "overlap"]))
def test_pairs_equal_pairwise_span_f1(
    span_rows: list[tuple[int, str, int, int, str]], cover: list[tuple[int, str]], match: Match
) -> None:
    spans, cov = _frames(span_rows, cover)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pairwise_span_f1(spans, match=match, coverage=cov)
        table = pairwise_span_f1_ci(spans, match=match, coverage=cov, n_boot=30)
    pairs = cov.merge(cov, on="item").query("annotator_x < annotator_y")
    assert len(table) == pairs[["annotator_x", "annotator_y"]].drop_duplicates().shape[0]
    for r in table.itertuples():
        assert r.annotator_a < r.annotator_b
        expect = ref.loc[r.annotator_a, r.annotator_b]
        assert (np.isnan(expect) and np.isnan(r.f1)) or r.f1 == pytest.approx(expect, abs=1e-12)
        shared = set(cov.loc[cov["annotator"] == r.annotator_a, "item"]) & set(
            cov.loc[cov["annotator"] == r.annotator_b, "item"]
        )
        assert r.items == len(shared)
        assert r.spans_a == ((spans["annotator"] == r.annotator_a) & spans["item"].isin(shared)).sum()
        if not np.isnan(r.ci_low):
            assert 0 <= r.ci_low <= r.ci_high <= 1


@settings(max_examples=120, deadline=None)
@given(span_rows=rows, cover=extra_cover, match=st.sampled_from(["exact", "overlap"]))
def test_gold_f1_equals_span_f1_on_each_annotators_gold_items(
    span_rows: list[tuple[int, str, int, int, str]], cover: list[tuple[int, str]], match: Match
) -> None:
    spans, cov = _frames(span_rows, cover)
    gold = spans[spans["annotator"] == "a"].drop(columns="annotator")
    gold_items = cov.loc[cov["annotator"] == "a", "item"].unique()
    others, other_cov = spans[spans["annotator"] != "a"], cov[cov["annotator"] != "a"]
    if other_cov.empty or len(gold_items) == 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = gold_span_f1(others, gold, match=match, coverage=other_cov, gold_items=gold_items, n_boot=30)
    assert sorted(table.index) == sorted(other_cov["annotator"].unique())
    for who, r in table.iterrows():
        items = set(other_cov.loc[other_cov["annotator"] == who, "item"]) & set(gold_items)
        assert r["n_gold"] == len(items)
        mine = others[(others["annotator"] == who) & others["item"].isin(items)]
        truth = gold[gold["item"].isin(items)]
        if not items or (mine.empty and truth.empty):
            assert np.isnan(r["f1"])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert r["f1"] == pytest.approx(span_f1(mine, truth, match=match), abs=1e-12)
        if len(mine) and len(truth) and match == "exact":
            tp = r["precision"] * len(mine)
            assert r["recall"] == pytest.approx(tp / len(truth))


def test_outlier_annotator_shows_in_the_pairs_not_the_mean() -> None:
    """Two annotators agree; a third marks every span one character short: its pairs are low,
    with intervals clear of the good pair's."""
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 200, size=(60, 4)) * 5
    rows = []
    for item, ss in enumerate(starts):
        for s in ss:
            rows += [(item, "x", s, s + 4, "PER"), (item, "y", s, s + 4, "PER"), (item, "z", s, s + 3, "PER")]
        if item % 3 == 0:  # some disagreement between x and y as well
            rows.append((item, "y", 1001, 1004, "LOC"))
    table = pairwise_span_f1_ci(pd.DataFrame(rows, columns=COLUMNS), n_boot=300)
    assert table[["annotator_a", "annotator_b"]].values.tolist() == [["x", "z"], ["y", "z"], ["x", "y"]]
    good = table.iloc[2]
    assert table["f1"].iloc[0] == 0 and good["f1"] > 0.9
    assert table["ci_high"].iloc[:2].max() < good["ci_low"] <= good["f1"] <= good["ci_high"] <= 1
    overlap = pairwise_span_f1_ci(pd.DataFrame(rows, columns=COLUMNS), match="overlap", n_boot=50)
    assert overlap["f1"].min() > 0.9  # same entities, other boundaries


def test_same_seed_same_interval_and_agreement_gives_one() -> None:
    s = pd.DataFrame([(i, a, 0, 5, "PER") for i in range(10) for a in "xy"], columns=COLUMNS)
    a = pairwise_span_f1_ci(s, n_boot=100, seed=7)
    b = pairwise_span_f1_ci(s, n_boot=100, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert a[["f1", "ci_low", "ci_high"]].values.tolist() == [[1.0, 1.0, 1.0]]


def test_bad_input_is_refused() -> None:
    s = pd.DataFrame([(1, "x", 0, 5, "PER")], columns=COLUMNS)
    with pytest.raises(InvalidInput, match="match must be"):
        pairwise_span_f1_ci(s, match="fuzzy")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="n_boot"):
        pairwise_span_f1_ci(s, n_boot=1)
    with pytest.raises(InvalidInput, match="gold_items"):
        gold_span_f1(s, s.drop(columns="annotator"), gold_items=[2])
