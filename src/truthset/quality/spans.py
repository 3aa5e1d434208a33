"""Agreement on span annotations (NER): span F1 between annotators and token-level alpha.

Spans come as a long frame, one row per span: ``item``, ``annotator``, ``start``, ``end``,
``label`` with character offsets, ``end`` exclusive (crowd-kit's ``task`` / ``worker`` are
accepted). An annotator who saw an item but marked no span has no row there, so which items
an annotator covered cannot be read from the spans alone: pass ``coverage`` (one row per
``item``, ``annotator`` that was annotated) to count those items; by default an annotator
covers the items where they marked at least one span.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality._alpha import alpha_stats
from truthset.quality._bootstrap import UndefinedAgreementWarning

__all__ = ["pairwise_span_f1", "span_f1", "token_alpha"]

Match = Literal["exact", "overlap"]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Code points for which ``str.isspace()`` is true (what ``str.split()`` splits on).
_WHITESPACE = np.array(
    [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288],
    dtype=np.uint32,
)


def _spans_frame(spans: pd.DataFrame, *, annotator: bool) -> pd.DataFrame:
    if not isinstance(spans, pd.DataFrame):
        raise InvalidInput(
            f"expected a DataFrame of spans (item, annotator, start, end, label); got {type(spans).__name__}."
        )
    df = spans.rename(
        columns={
            k: v
            for k, v in {"task": "item", "worker": "annotator"}.items()
            if k in spans.columns and v not in spans.columns
        }
    )
    need = ["item", "start", "end", "label"] + (["annotator"] if annotator else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"span frame lacks column(s) {missing}; it has {list(spans.columns)}. Pass one "
            "row per span with columns item, annotator, start, end, label (end exclusive)."
        )
    df = df[need]
    if df.isna().any(axis=None):
        raise InvalidInput(
            f"{int(df.isna().any(axis=1).sum())} span row(s) have empty fields; drop or fill them first."
        )
    for col in ("start", "end"):
        if not pd.api.types.is_integer_dtype(df[col].dtype):
            raise InvalidInput(
                f"span column {col!r} must hold integer character offsets; got dtype "
                f"{df[col].dtype}. Convert with df[{col!r}].astype(int)."
            )
    bad = (df["start"].to_numpy() < 0) | (df["end"].to_numpy() <= df["start"].to_numpy())
    if bad.any():
        row = df[bad].iloc[0]
        raise InvalidInput(
            f"{int(bad.sum())} span(s) have start < 0 or end <= start, e.g. item "
            f"{row['item']!r} [{row['start']}, {row['end']}); offsets are 0-based with "
            "end exclusive."
        )
    return df


def _check_match(match: object) -> str:
    if match not in ("exact", "overlap"):
        raise InvalidInput(
            f"match must be 'exact' or 'overlap'; got {match!r}. 'exact' needs the same "
            "start, end and label; 'overlap' the same label and at least one shared character."
        )
    return str(match)


def _overlaps_any(
    q_group: IntArray,
    q_start: IntArray,
    q_end: IntArray,
    r_group: IntArray,
    r_start: IntArray,
    r_end: IntArray,
) -> BoolArray:
    """For each query span, whether a reference span of the same group shares a character."""
    if r_group.size == 0 or q_group.size == 0:
        return np.zeros(q_group.shape[0], dtype=bool)
    width = int(max(r_end.max(), q_end.max())) + 1
    order = np.lexsort((r_start, r_group))
    key = r_group[order] * width + r_start[order]
    # running max of end within a group: groups are disjoint ranges once offset by group
    reach = np.maximum.accumulate(r_group[order] * width + r_end[order])
    pos = np.searchsorted(key, q_group * width + q_end, side="left") - 1
    ok = pos >= 0
    pos = np.where(ok, pos, 0)
    ok &= r_group[order][pos] == q_group
    return np.asarray(ok & (reach[pos] - q_group * width > q_start))


def _f1(a: pd.DataFrame, b: pd.DataFrame, match: str) -> float:
    n_a, n_b = len(a), len(b)
    if n_a == 0 and n_b == 0:
        return float("nan")
    if n_a == 0 or n_b == 0:
        return 0.0
    both = pd.concat([a, b], ignore_index=True)
    group = pd.MultiIndex.from_arrays([both["item"], both["label"]]).factorize()[0]
    group = group.astype(np.int64)
    start = both["start"].to_numpy(dtype=np.int64)
    end = both["end"].to_numpy(dtype=np.int64)
    if match == "exact":
        key = pd.MultiIndex.from_arrays([group, start, end]).factorize()[0]
        n_keys = int(key.max()) + 1
        tp = np.minimum(np.bincount(key[:n_a], minlength=n_keys), np.bincount(key[n_a:], minlength=n_keys)).sum()
        return float(2.0 * tp / (n_a + n_b))
    sa, sb = slice(0, n_a), slice(n_a, n_a + n_b)
    precision = _overlaps_any(group[sa], start[sa], end[sa], group[sb], start[sb], end[sb]).mean()
    recall = _overlaps_any(group[sb], start[sb], end[sb], group[sa], start[sa], end[sa]).mean()
    if precision + recall == 0:
        return 0.0
    return float(2.0 * precision * recall / (precision + recall))


def span_f1(spans_a: pd.DataFrame, spans_b: pd.DataFrame, *, match: Match = "exact") -> float:
    """F1 between two annotators' spans, either one taken as the reference.

    ``exact``: a span matches a span of the other annotator with the same item, start, end
    and label (each span used once), and ``F1 = 2 TP / (|A| + |B|)``. ``overlap``: a span is
    matched if a span of the other annotator on the same item with the same label shares at
    least one character; with ``P`` the share of A's spans matched and ``R`` the share of
    B's, ``F1 = 2 P R / (P + R)``. Both are symmetric in A and B.

    Parameters
    ----------
    spans_a, spans_b : DataFrame
        One row per span: ``item``, ``start``, ``end`` (exclusive), ``label``; other columns
        are ignored.
    match : {'exact', 'overlap'}
        How spans are matched.

    Returns
    -------
    float
        In [0, 1]; 1 when the annotators marked the same spans. NaN with an
        ``UndefinedAgreementWarning`` when neither marked any span.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"item": [1, 1], "start": [0, 10], "end": [5, 15], "label": ["PER", "LOC"]})
    >>> b = pd.DataFrame({"item": [1], "start": [0], "end": [4], "label": ["PER"]})
    >>> span_f1(a, b), round(span_f1(a, b, match="overlap"), 3)
    (0.0, 0.667)
    """
    m = _check_match(match)
    value = _f1(_spans_frame(spans_a, annotator=False), _spans_frame(spans_b, annotator=False), m)
    if np.isnan(value):
        warnings.warn(
            "span F1 is undefined (neither annotator marked a span); returning NaN.",
            UndefinedAgreementWarning,
            stacklevel=2,
        )
    return value


def _coverage(spans: pd.DataFrame, coverage: pd.DataFrame | None) -> pd.DataFrame:
    own = spans[["item", "annotator"]]
    if coverage is None:
        return own.drop_duplicates(ignore_index=True)
    cov = coverage.rename(columns={"task": "item", "worker": "annotator"})
    if not {"item", "annotator"} <= set(cov.columns):
        raise InvalidInput(
            f"coverage needs columns item, annotator (one row per annotated item); it has {list(coverage.columns)}."
        )
    cov = cov[["item", "annotator"]]
    outside = ~pd.MultiIndex.from_frame(own).isin(pd.MultiIndex.from_frame(cov))
    if outside.any():
        row = own[outside].iloc[0]
        raise InvalidInput(
            f"{int(outside.sum())} span(s) are on items their annotator does not cover, e.g. "
            f"item {row['item']!r} by {row['annotator']!r}; add them to coverage."
        )
    return cov.drop_duplicates(ignore_index=True)


def pairwise_span_f1(
    spans: pd.DataFrame, *, match: Match = "exact", coverage: pd.DataFrame | None = None
) -> pd.DataFrame:
    """:func:`span_f1` for every pair of annotators, over the items both covered.

    Parameters
    ----------
    spans : DataFrame
        One row per span: ``item``, ``annotator``, ``start``, ``end`` (exclusive), ``label``.
    match : {'exact', 'overlap'}
        As in :func:`span_f1`.
    coverage : DataFrame, optional
        ``item``, ``annotator`` rows for every item each annotator annotated, including
        items where they marked nothing. Default: the items where they marked a span.

    Returns
    -------
    DataFrame
        Symmetric annotator x annotator F1 with 1 on the diagonal; NaN (with an
        ``UndefinedAgreementWarning``) for pairs with no common item or no span there.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"item": [1, 1, 1], "annotator": ["x", "y", "z"],
    ...                   "start": [0, 0, 2], "end": [5, 5, 5], "label": "PER"})
    >>> pairwise_span_f1(s, match="exact").loc["x"].tolist()
    [1.0, 1.0, 0.0]
    """
    m = _check_match(match)
    df = _spans_frame(spans, annotator=True)
    cov = _coverage(df, coverage)
    annotators = pd.Index(pd.unique(cov["annotator"]))
    with contextlib.suppress(TypeError):  # mixed types: keep first-seen order
        annotators = annotators.sort_values()
    out = np.full((len(annotators), len(annotators)), np.nan)
    np.fill_diagonal(out, 1.0)
    items_of = {a: set(g) for a, g in cov.groupby("annotator", sort=False)["item"]}
    by_ann = {a: g for a, g in df.groupby("annotator", sort=False)}
    empty = df.iloc[:0]
    n_undefined = 0
    for i, a in enumerate(annotators):  # loop over annotator pairs, not rows
        for j in range(i + 1, len(annotators)):
            b = annotators[j]
            shared = list(items_of[a] & items_of[b])
            sa, sb = by_ann.get(a, empty), by_ann.get(b, empty)
            value = _f1(sa[sa["item"].isin(shared)], sb[sb["item"].isin(shared)], m)
            out[i, j] = out[j, i] = value
            n_undefined += int(np.isnan(value))
    if n_undefined:
        warnings.warn(
            f"{n_undefined} annotator pair(s) share no item with a span; F1 is NaN.",
            UndefinedAgreementWarning,
            stacklevel=2,
        )
    return pd.DataFrame(out, index=annotators, columns=annotators)


def _tokenize(texts: pd.Series) -> tuple[IntArray, IntArray, IntArray]:
    """Whitespace tokens of every text: (text index, start, end) with character offsets."""
    lengths = texts.str.len().to_numpy(dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    chars = np.frombuffer("\n".join(texts.tolist()).encode("utf-32-le"), dtype=np.uint32)
    word = ~np.isin(chars, _WHITESPACE)
    edges = np.diff(np.concatenate(([False], word, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    text = np.searchsorted(offsets, starts, side="right") - 1
    return text.astype(np.int64), starts - offsets[text], ends - offsets[text]


def token_alpha(
    spans: pd.DataFrame,
    texts: Mapping[object, str] | pd.Series,
    *,
    level: Literal["nominal"] = "nominal",
    coverage: pd.DataFrame | None = None,
) -> float:
    """Krippendorff's alpha over tokens, each token labelled by the span covering it.

    Each item's text is split on whitespace (as ``str.split()``), keeping character
    offsets. For every annotator covering the item, a token gets the label of the span
    that overlaps it (of several, the one reaching furthest) and ``'O'`` otherwise. Tokens
    are the units of a nominal :func:`~truthset.quality.krippendorff_alpha`.

    Parameters
    ----------
    spans : DataFrame
        One row per span: ``item``, ``annotator``, ``start``, ``end`` (exclusive), ``label``.
    texts : mapping or Series
        Item -> text, for every item in ``spans`` / ``coverage``.
    level : {'nominal'}
        Only nominal tokens labels are supported.
    coverage : DataFrame, optional
        ``item``, ``annotator`` rows for every item each annotator annotated (including
        items without spans, whose tokens are then all ``'O'``). Default: items with a span.

    Returns
    -------
    float
        Alpha as in :func:`~truthset.quality.krippendorff_alpha`; the many ``'O'`` tokens
        make it stricter than span F1. NaN with an ``UndefinedAgreementWarning`` if every
        token has the same label from everyone.

    Examples
    --------
    >>> import pandas as pd
    >>> texts = {1: "Ada Lovelace met Babbage", 2: "in London"}
    >>> s = pd.DataFrame({"item": [1, 1, 1, 2, 2], "annotator": ["x", "x", "y", "x", "y"],
    ...                   "start": [0, 17, 0, 3, 3], "end": [12, 24, 12, 9, 9],
    ...                   "label": ["PER", "PER", "PER", "LOC", "LOC"]})
    >>> round(token_alpha(s, texts), 3)  # 'Babbage': PER for x, O for y
    0.756
    """
    if level != "nominal":
        raise InvalidInput(f"token_alpha supports level='nominal' only; got {level!r}.")
    df = _spans_frame(spans, annotator=True)
    cov = _coverage(df, coverage)
    series = texts if isinstance(texts, pd.Series) else pd.Series(dict(texts), dtype=object)
    text_pos = pd.Index(series.index).get_indexer(cov["item"])
    if (text_pos < 0).any():
        missing = pd.unique(cov["item"][text_pos < 0])[:5].tolist()
        raise InvalidInput(f"no text for item(s) {missing}; pass texts for every item.")
    tok_text, tok_start, tok_end = _tokenize(series.astype(str))
    n_tok = np.bincount(tok_text, minlength=len(series))
    first_tok = np.concatenate(([0], np.cumsum(n_tok)[:-1]))
    lengths = series.astype(str).str.len().to_numpy(dtype=np.int64)
    pair_of_span = pd.MultiIndex.from_frame(cov).get_indexer(pd.MultiIndex.from_frame(df[["item", "annotator"]]))
    span_end = df["end"].to_numpy(dtype=np.int64)
    too_long = span_end > lengths[text_pos[pair_of_span]]
    if too_long.any():
        row = df[too_long].iloc[0]
        raise InvalidInput(
            f"{int(too_long.sum())} span(s) end beyond their item's text, e.g. item "
            f"{row['item']!r} [{row['start']}, {row['end']}); check the offsets and texts."
        )
    # one row per (covering annotator, token of the item)
    reps = n_tok[text_pos]
    pair = np.repeat(np.arange(len(cov), dtype=np.int64), reps)
    local = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    token = np.repeat(first_tok[text_pos], reps) + local
    width = int(max(lengths.max(initial=0), span_end.max(initial=0))) + 1
    order = np.lexsort((df["start"].to_numpy(), pair_of_span))
    s_pair = pair_of_span[order].astype(np.int64)
    key = s_pair * width + df["start"].to_numpy(dtype=np.int64)[order]
    reach_key = s_pair * width + span_end[order]
    reach = np.maximum.accumulate(reach_key)
    idx = np.arange(reach.shape[0])
    holder = np.maximum.accumulate(np.where(reach_key == reach, idx, 0))
    pos = np.searchsorted(key, pair * width + tok_end[token], side="left") - 1
    found = pos >= 0
    pos = np.where(found, pos, 0)
    if s_pair.size:
        found &= (s_pair[pos] == pair) & (reach[pos] - pair * width > tok_start[token])
    else:
        found[:] = False
    span_label, label_names = pd.factorize(df["label"].to_numpy()[order])
    outside = len(label_names)  # code of 'O' (no span)
    value = np.where(found, span_label[holder[pos]] if s_pair.size else outside, outside)
    result = alpha_stats(token, value.astype(np.float64), "nominal").point()
    if np.isnan(result):
        warnings.warn(
            "token alpha is undefined (every token has one label); returning NaN.",
            UndefinedAgreementWarning,
            stacklevel=2,
        )
    return result
