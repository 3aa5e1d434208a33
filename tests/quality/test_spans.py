"""Span agreement: span F1 (exact / overlap) and token-level Krippendorff alpha."""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.errors import InvalidInput
from truthset.quality import UndefinedAgreementWarning, pairwise_span_f1, span_f1, token_alpha
from truthset.quality.spans import Match, _tokenize


def spans(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "annotator", "start", "end", "label"])


A = spans([(1, "a", 0, 5, "PER"), (1, "a", 10, 15, "LOC"), (2, "a", 3, 8, "ORG")])
B = spans([(1, "b", 0, 5, "PER"), (1, "b", 11, 14, "LOC"), (2, "b", 3, 8, "PER")])


# --------------------------------------------------------------------------- span F1
@pytest.mark.parametrize(("match", "expected"), [("exact", 1 / 3), ("overlap", 2 / 3)])
def test_span_f1_hand_example(match: Match, expected: float) -> None:
    assert span_f1(A, B, match=match) == pytest.approx(expected)
    assert span_f1(B, A, match=match) == pytest.approx(expected)
    assert span_f1(A, A, match=match) == 1.0


def test_exact_counts_each_span_once() -> None:
    dup = spans([(1, "a", 0, 5, "PER"), (1, "a", 0, 5, "PER")])
    one = spans([(1, "b", 0, 5, "PER")])
    assert span_f1(dup, one) == pytest.approx(2 * 1 / 3)


def test_overlap_uses_half_open_offsets_and_labels() -> None:
    a = spans([(1, "a", 0, 5, "PER")])
    assert span_f1(a, spans([(1, "b", 5, 9, "PER")]), match="overlap") == 0.0  # touching
    assert span_f1(a, spans([(1, "b", 4, 9, "PER")]), match="overlap") == 1.0
    assert span_f1(a, spans([(1, "b", 4, 9, "LOC")]), match="overlap") == 0.0
    assert span_f1(a, spans([(2, "b", 0, 5, "PER")]), match="overlap") == 0.0
    # a long span before a short one: overlap found through the running max of ends
    b = spans([(1, "b", 0, 100, "PER"), (1, "b", 1, 2, "PER")])
    assert span_f1(spans([(1, "a", 50, 60, "PER")]), b, match="overlap") == pytest.approx(2 / 3)


def test_empty_sides() -> None:
    empty = A.iloc[:0]
    assert span_f1(A, empty) == 0.0
    with pytest.warns(UndefinedAgreementWarning, match="neither annotator"):
        assert np.isnan(span_f1(empty, empty))


span_rows = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(1, 8), st.sampled_from("XY")),
    max_size=25,
)


def _frame(rows: list[tuple[int, int, int, str]], who: str) -> pd.DataFrame:
    return spans([(i, who, s, s + n, lab) for i, s, n, lab in rows])


def _brute_overlap_f1(a: pd.DataFrame, b: pd.DataFrame) -> float:
    def matched(q: pd.DataFrame, r: pd.DataFrame) -> float:
        hits = [
            any(x.item == y.item and x.label == y.label and x.start < y.end and y.start < x.end for y in r.itertuples())
            for x in q.itertuples()
        ]
        return float(np.mean(hits))

    p, r = matched(a, b), matched(b, a)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@settings(max_examples=80, deadline=None)
@given(ra=span_rows, rb=span_rows)
def test_overlap_matches_brute_force_and_bounds_exact(
    ra: list[tuple[int, int, int, str]], rb: list[tuple[int, int, int, str]]
) -> None:
    a, b = _frame(ra, "a"), _frame(rb, "b")
    if a.empty or b.empty:
        return
    overlap = span_f1(a, b, match="overlap")
    assert overlap == pytest.approx(_brute_overlap_f1(a, b))
    assert 0.0 <= span_f1(a, b, match="exact") <= overlap + 1e-12
    assert span_f1(a, b, match="exact") == pytest.approx(span_f1(b, a, match="exact"))


# --------------------------------------------------------------------------- pairwise
def test_pairwise_span_f1_matrix_and_coverage() -> None:
    c = spans([(1, "c", 0, 5, "PER")])
    allspans = pd.concat([A, B, c], ignore_index=True)
    table = pairwise_span_f1(allspans, match="overlap")
    assert list(table.index) == ["a", "b", "c"]
    assert np.allclose(np.diag(table), 1.0)
    assert table.loc["a", "b"] == pytest.approx(2 / 3)
    # by default c covers item 1 only, so a and c are compared on item 1
    assert table.loc["a", "c"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    # c saw item 2 too and marked nothing there: a's ORG span now counts against the pair
    cov = pd.DataFrame({"item": [1, 2, 1, 2, 1, 2], "annotator": list("aabbcc")})
    table = pairwise_span_f1(allspans, match="exact", coverage=cov)
    assert table.loc["a", "c"] == pytest.approx(2 * 1 / (3 + 1))


def test_pairwise_span_f1_warns_for_pairs_without_common_items() -> None:
    s = spans([(1, "a", 0, 2, "X"), (2, "b", 0, 2, "X")])
    with pytest.warns(UndefinedAgreementWarning, match="share no item"):
        table = pairwise_span_f1(s)
    assert np.isnan(table.loc["a", "b"])


# --------------------------------------------------------------------------- tokens
def test_tokenizer_matches_str_split() -> None:
    texts = pd.Series(["  Ada\tLovelace\u00a0met  Babbage ", "", "one", "x\u2003y\u3000z\n"])
    text, start, end = _tokenize(texts)
    for i, t in enumerate(texts):
        got = [t[s:e] for s, e in zip(start[text == i], end[text == i], strict=True)]
        assert got == t.split()


def _brute_token_matrix(s: pd.DataFrame, texts: dict[Any, str], annotators: list[str]) -> np.ndarray:
    cols = []
    for item, text in texts.items():
        pos = 0
        for tok in text.split():
            start = text.index(tok, pos)
            end = pos = start + len(tok)
            col = []
            for ann in annotators:
                mine = s[(s.item == item) & (s.annotator == ann)]
                if mine.empty:
                    col.append(np.nan)
                    continue
                over = mine[(mine.start < end) & (mine.end > start)]
                col.append(0.0 if over.empty else float(ord(over.sort_values("end").iloc[-1].label)))
            cols.append(col)
    return np.array(cols, dtype=float).T


@pytest.mark.parametrize("seed", range(4))
def test_token_alpha_matches_krippendorff_package(seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = ["alpha", "be", "c", "delta", "echo", "f"]
    texts = {i: " ".join(rng.choice(words, rng.integers(3, 9))) for i in range(6)}
    rows = []
    for item, text in texts.items():
        for ann in "abc":
            if rng.random() < 0.2:
                continue
            cut = np.sort(rng.choice(len(text) + 1, 4, replace=False))
            rows.append((item, ann, int(cut[0]), int(cut[1]), rng.choice(["P", "L"])))
            rows.append((item, ann, int(cut[2]), int(cut[3]), rng.choice(["P", "L"])))
    s = spans(rows)
    s = s[s.end > s.start]
    expected = krippendorff.alpha(
        reliability_data=_brute_token_matrix(s, texts, list("abc")), level_of_measurement="nominal"
    )
    assert abs(token_alpha(s, texts) - expected) < 1e-9
    assert abs(token_alpha(s, pd.Series(texts)) - expected) < 1e-9


def test_token_alpha_coverage_adds_all_outside_annotations() -> None:
    texts = {1: "Ada Lovelace met Babbage", 2: "in London"}
    s = spans([(1, "x", 0, 12, "PER"), (1, "y", 0, 12, "PER"), (2, "x", 3, 9, "LOC")])
    cov = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": ["x", "y", "x", "y"]})
    m = np.array([[0, 0, 1, 1, 1, 2], [0, 0, 1, 1, 1, 1]], dtype=float)
    expected = krippendorff.alpha(reliability_data=m, level_of_measurement="nominal")
    assert token_alpha(s, texts, coverage=cov) == pytest.approx(expected)


def test_token_alpha_perfect_agreement_is_one() -> None:
    texts = {1: "Ada Lovelace met Babbage"}
    s = spans([(1, "x", 0, 12, "PER"), (1, "y", 0, 12, "PER")])
    assert token_alpha(s, texts) == pytest.approx(1.0)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (A.drop(columns="end"), "lacks column"),
        (A.assign(end=A.start), "end <= start"),
        (A.assign(start=A.start.astype(float)), "integer character offsets"),
        (A.assign(label=None), "empty fields"),
        ([1, 2], "expected a DataFrame"),
    ],
)
def test_span_input_errors(frame: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        span_f1(frame, B)


def test_option_and_text_errors() -> None:
    with pytest.raises(InvalidInput, match="match must be"):
        span_f1(A, B, match="fuzzy")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="no text for item"):
        token_alpha(A, {1: "x" * 20})
    with pytest.raises(InvalidInput, match="beyond their item's text"):
        token_alpha(A, {1: "short", 2: "a b c d e f g h"})
    with pytest.raises(InvalidInput, match="nominal"):
        token_alpha(A, {1: "x" * 20, 2: "y" * 20}, level="ordinal")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="coverage needs columns"):
        pairwise_span_f1(A, coverage=pd.DataFrame({"item": [1]}))
    with pytest.raises(InvalidInput, match="does not cover"):
        pairwise_span_f1(A, coverage=pd.DataFrame({"item": [1], "annotator": ["a"]}))
    with pytest.raises(InvalidInput, match="two or more annotators"):
        token_alpha(A, {1: "x" * 20, 2: "y" * 20})
