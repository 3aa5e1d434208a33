"""Span F1 per annotator pair and per annotator against gold, with bootstrap intervals (NER).

One overall span F1 (the mean over pairs) hides an annotator whose boundaries differ from
everyone else's; these functions report every pair, and every annotator against gold, each
with a percentile bootstrap interval over the items the two sides share.

How it is computed: spans and coverage are integer-coded once; for every item and every
pair of annotators who both covered it, four counts are taken with vectorised joins --
``n_a``, ``n_b`` (spans of each side) and ``m_a``, ``m_b`` (spans of each side matched by
the other). Over a set of items, ``P = sum m_a / sum n_a``, ``R = sum m_b / sum n_b`` and
``F1 = 2PR / (P + R)``, the same values as :func:`~truthset.quality.span_f1` (for
``exact`` matching ``m_a = m_b`` = true positives, so ``F1 = 2TP / (|A| + |B|)``). A
bootstrap replicate redraws each pair's shared items with replacement; the item weights of
all pairs in a batch of replicates are drawn together and the sums are segment reductions
(``np.add.reduceat``), so no Python loop runs over pairs or items.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality._bootstrap import MAX_BATCH_CELLS, UndefinedAgreementWarning
from truthset.quality.spans import Match, _check_match, _coverage, _spans_frame

__all__ = ["gold_span_f1", "pairwise_span_f1_ci"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class _PairRows(NamedTuple):
    """One row per (pair, shared item), sorted by pair: the four counts of the module doc."""

    pair_a: IntArray  # annotator code of side a, per pair
    pair_b: IntArray  # annotator code of side b, per pair
    pair: IntArray  # pair index of each row
    counts: FloatArray  # (4, rows): n_a, n_b, m_a, m_b


def _within_groups(group: IntArray) -> tuple[IntArray, IntArray]:
    """All position pairs ``i < j`` with ``group[i] == group[j]`` (``group`` sorted)."""
    n = group.shape[0]
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], n]
    pos = np.arange(n, dtype=np.int64)
    after = np.repeat(ends, ends - starts) - pos - 1  # later members of the same group
    left = np.repeat(pos, after)
    offset = np.arange(left.shape[0], dtype=np.int64) - np.repeat(np.cumsum(after) - after, after)
    return left, left + 1 + offset


def _lookup(keys: IntArray, sorted_keys: IntArray) -> IntArray:
    """Positions of ``keys`` in ``sorted_keys`` (every key must be present)."""
    return np.searchsorted(sorted_keys, keys).astype(np.int64)


def _pair_rows(
    cov_item: IntArray,
    cov_ann: IntArray,
    s_item: IntArray,
    s_ann: IntArray,
    s_label: IntArray,
    s_start: IntArray,
    s_end: IntArray,
    *,
    n_ann: int,
    match: str,
    with_annotator: int | None = None,
) -> _PairRows:
    """Counts per (item, annotator pair) over the items both annotators covered.

    ``cov_*`` are the unique covered (item, annotator) codes; spans must lie on covered
    pairs. With ``with_annotator`` only pairs ``(a, with_annotator)`` are kept (gold).
    """
    n_ann64 = np.int64(max(n_ann, 1))
    cov_key = np.unique(cov_item * n_ann64 + cov_ann)
    c_item, c_ann = cov_key // n_ann64, cov_key % n_ann64
    left, right = _within_groups(c_item)
    a, b, item = c_ann[left], c_ann[right], c_item[left]
    if with_annotator is not None:
        keep = b == with_annotator
        a, b, item = a[keep], b[keep], item[keep]
    # rows ordered by pair, then item: each pair's rows form one contiguous block
    n_items = int(c_item.max(initial=0)) + 1
    pair_key = a * n_ann64 + b
    row_key = pair_key * n_items + item
    order = np.argsort(row_key, kind="stable")
    a, b, item, pair_key, row_key = a[order], b[order], item[order], pair_key[order], row_key[order]
    pair_keys, pair = np.unique(pair_key, return_inverse=True)
    counts = np.zeros((4, item.shape[0]), dtype=np.float64)

    def add(col: int, it: IntArray, x: IntArray, y: IntArray, values: npt.ArrayLike) -> None:
        """Add ``values`` to count ``col`` of the rows (it, pair(x, y)), x < y, kept rows only."""
        keys = (x * n_ann64 + y) * n_items + it
        pos = np.searchsorted(row_key, keys)
        ok = pos < row_key.shape[0]
        ok[ok] = row_key[pos[ok]] == keys[ok]
        np.add.at(counts[col], pos[ok], np.asarray(values)[ok] if np.ndim(values) else values)

    # spans per (item, annotator)
    cell, n_cell = np.unique(s_item * n_ann64 + s_ann, return_counts=True)
    for col, who in ((0, a), (1, b)):
        where = np.searchsorted(cell, item * n_ann64 + who)
        hit = where < cell.shape[0]
        hit[hit] = cell[where[hit]] == item[hit] * n_ann64 + who[hit]
        counts[col, hit] = n_cell[where[hit]]

    if match == "exact":
        spot = np.stack([s_item, s_label, s_start, s_end], axis=1)
        _, k = np.unique(spot, axis=0, return_inverse=True) if spot.size else (spot, np.empty(0, np.int64))
        k = np.asarray(k, dtype=np.int64).ravel()
        kc, c = np.unique(k * n_ann64 + s_ann, return_counts=True)  # copies per (spot, annotator)
        kk, ka = kc // n_ann64, kc % n_ann64
        item_of_k = np.zeros(int(kk.max(initial=-1)) + 1, dtype=np.int64)
        item_of_k[k] = s_item
        li, ri = _within_groups(kk)
        tp = np.minimum(c[li], c[ri])
        it = item_of_k[kk[li]]
        add(2, it, ka[li], ka[ri], tp)
        add(3, it, ka[li], ka[ri], tp)
    else:
        grp = s_item * (int(s_label.max(initial=0)) + 1) + s_label
        order_s = np.lexsort((s_ann, grp))
        g, ann, st, en, it_s = grp[order_s], s_ann[order_s], s_start[order_s], s_end[order_s], s_item[order_s]
        li, ri = _within_groups(g)
        hit = (ann[li] != ann[ri]) & (st[li] < en[ri]) & (st[ri] < en[li])
        li, ri = li[hit], ri[hit]
        # span x is matched by annotator y's spans: count each (span, other annotator) once
        x = np.r_[li, ri]
        other = np.r_[ann[ri], ann[li]]
        xo = np.unique(x * n_ann64 + other)
        sx, so = xo // n_ann64, xo % n_ann64
        own = ann[sx]
        first = own < so  # x belongs to side a of pair (own, other)
        add(2, it_s[sx[first]], own[first], so[first], 1.0)
        add(3, it_s[sx[~first]], so[~first], own[~first], 1.0)
    return _PairRows(pair_keys // n_ann64, pair_keys % n_ann64, pair.astype(np.int64), counts)


def _f1(
    n_a: FloatArray, n_b: FloatArray, m_a: FloatArray, m_b: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision, recall and F1 from summed counts (NaN where no side has a span)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_a > 0, m_a / np.maximum(n_a, 1), 0.0)
        r = np.where(n_b > 0, m_b / np.maximum(n_b, 1), 0.0)
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    none = (n_a == 0) & (n_b == 0)
    return (np.where(n_a > 0, p, np.nan), np.where(n_b > 0, r, np.nan), np.where(none, np.nan, f))


def _bootstrap(rows: _PairRows, *, n_boot: int, confidence: float, seed: int | None) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of each pair's F1, resampling the pair's shared items."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InvalidInput(f"n_boot must be an integer >= 2; got {n_boot!r}. Use e.g. n_boot=1000.")
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInput(f"confidence must lie strictly between 0 and 1; got {confidence!r}.")
    n_pairs, n_rows = rows.pair_a.shape[0], rows.pair.shape[0]
    if n_pairs == 0:
        return np.empty(0), np.empty(0)
    starts = np.flatnonzero(np.r_[True, rows.pair[1:] != rows.pair[:-1]])
    size = np.diff(np.r_[starts, n_rows])
    row_start, row_size = starts[rows.pair], size[rows.pair]
    rng = np.random.default_rng(seed)
    batch = int(max(1, min(n_boot, MAX_BATCH_CELLS // max(n_rows, n_pairs, 1))))
    reps = np.empty((int(n_boot), n_pairs), dtype=np.float64)
    for first in range(0, int(n_boot), batch):
        b = min(batch, int(n_boot) - first)
        pick = row_start + (rng.random((b, n_rows)) * row_size).astype(np.int64)
        pick += np.arange(b, dtype=np.int64)[:, None] * n_rows
        w = np.bincount(pick.ravel(), minlength=b * n_rows).reshape(b, n_rows).astype(np.float64)
        sums = [np.add.reduceat(w * rows.counts[j], starts, axis=1) for j in range(4)]
        reps[first : first + b] = _f1(*sums)[2]
    finite = np.isfinite(reps)
    tail = (1.0 - float(confidence)) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as wanted
        low, high = np.nanpercentile(reps, [tail, 100.0 - tail], axis=0)
    undefined = int((~finite).sum())
    if undefined:
        warnings.warn(
            f"{undefined} of {reps.size} bootstrap replicates (pair x draw) had no span on either "
            "side and were left out of their interval; with few shared items it is unreliable.",
            UndefinedAgreementWarning,
            stacklevel=3,
        )
    return low, high


def _codes(spans: pd.DataFrame, cov: pd.DataFrame, items: pd.Index, annotators: pd.Index) -> tuple[IntArray, ...]:
    """Coverage (item, annotator) and span (item, annotator, label, start, end) integer codes."""
    return (
        items.get_indexer(cov["item"]).astype(np.int64),
        annotators.get_indexer(cov["annotator"]).astype(np.int64),
        items.get_indexer(spans["item"]).astype(np.int64),
        annotators.get_indexer(spans["annotator"]).astype(np.int64),
        pd.factorize(spans["label"])[0].astype(np.int64),
        spans["start"].to_numpy(dtype=np.int64),
        spans["end"].to_numpy(dtype=np.int64),
    )


def _sorted_index(values: pd.Series) -> pd.Index:
    idx = pd.Index(pd.unique(values))
    try:
        return idx.sort_values()
    except TypeError:  # mixed types: keep first-seen order
        return idx


def pairwise_span_f1_ci(
    spans: pd.DataFrame,
    *,
    match: Match = "exact",
    coverage: pd.DataFrame | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Span F1 of every annotator pair over the items both covered, with bootstrap intervals.

    Parameters
    ----------
    spans : DataFrame
        One row per span: ``item``, ``annotator``, ``start``, ``end`` (exclusive), ``label``.
    match : {'exact', 'overlap'}
        As in :func:`~truthset.quality.span_f1`.
    coverage : DataFrame, optional
        ``item``, ``annotator`` rows for every item each annotator annotated, including
        items where they marked no span. Default: the items where they marked a span.
    n_boot, confidence, seed
        Bootstrap replicates, two-sided coverage of the interval, random seed. Each
        replicate redraws the pair's shared items with replacement.

    Returns
    -------
    DataFrame
        One row per pair sharing an item: ``annotator_a``, ``annotator_b`` (a < b),
        ``items`` (shared items), ``spans_a``, ``spans_b`` (their spans there), ``f1``,
        ``ci_low``, ``ci_high`` -- sorted by ``f1``, lowest first. ``f1`` equals
        :func:`~truthset.quality.pairwise_span_f1`; NaN when neither marked a span.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"item": [1, 1, 1, 2, 2], "annotator": ["x", "y", "z", "x", "y"],
    ...                   "start": [0, 0, 2, 4, 4], "end": [5, 5, 5, 9, 9], "label": "PER"})
    >>> t = pairwise_span_f1_ci(s, n_boot=200)
    >>> t[["annotator_a", "annotator_b", "items", "f1"]].to_dict("records")[0]
    {'annotator_a': 'x', 'annotator_b': 'z', 'items': 1, 'f1': 0.0}
    """
    m = _check_match(match)
    df = _spans_frame(spans, annotator=True)
    cov = _coverage(df, coverage)
    items = _sorted_index(cov["item"])
    annotators = _sorted_index(cov["annotator"])
    rows = _pair_rows(*_codes(df, cov, items, annotators), n_ann=len(annotators), match=m)
    return _table(rows, annotators, n_boot=n_boot, confidence=confidence, seed=seed, gold=False)


def _table(
    rows: _PairRows, annotators: pd.Index, *, n_boot: int, confidence: float, seed: int | None, gold: bool
) -> pd.DataFrame:
    n_pairs = rows.pair_a.shape[0]
    sums = np.zeros((4, n_pairs))
    for j in range(4):
        sums[j] = np.bincount(rows.pair, weights=rows.counts[j], minlength=n_pairs)
    shared = np.bincount(rows.pair, minlength=n_pairs)
    p, r, f = _f1(*sums)
    low, high = _bootstrap(rows, n_boot=n_boot, confidence=confidence, seed=seed)
    if gold:
        return pd.DataFrame(
            {
                "n_gold": shared,
                "spans": sums[0].astype(np.int64),
                "gold_spans": sums[1].astype(np.int64),
                "precision": p,
                "recall": r,
                "f1": f,
                "ci_low": low,
                "ci_high": high,
            },
            index=pd.Index(annotators[rows.pair_a], name="annotator"),
        )
    out = pd.DataFrame(
        {
            "annotator_a": annotators[rows.pair_a],
            "annotator_b": annotators[rows.pair_b],
            "items": shared,
            "spans_a": sums[0].astype(np.int64),
            "spans_b": sums[1].astype(np.int64),
            "f1": f,
            "ci_low": low,
            "ci_high": high,
        }
    )
    return out.sort_values("f1", kind="stable", na_position="last").reset_index(drop=True)


def gold_span_f1(
    spans: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    match: Match = "exact",
    coverage: pd.DataFrame | None = None,
    gold_items: npt.ArrayLike | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Each annotator's spans against gold spans: precision, recall, F1 with a bootstrap interval.

    Parameters
    ----------
    spans : DataFrame
        The annotators' spans: ``item``, ``annotator``, ``start``, ``end``, ``label``.
    gold : DataFrame
        The true spans: ``item``, ``start``, ``end``, ``label`` (no annotator column).
    match : {'exact', 'overlap'}
        As in :func:`~truthset.quality.span_f1`. Precision is the share of the annotator's
        spans matched by gold, recall the share of gold spans matched by the annotator.
    coverage : DataFrame, optional
        ``item``, ``annotator`` for every item each annotator annotated (with or without
        spans). Default: the items where they marked a span.
    gold_items : array-like, optional
        Every item with a known answer, including those whose gold has no span ("no
        entity here"). Default: the items of ``gold``.
    n_boot, confidence, seed
        The bootstrap over each annotator's gold items.

    Returns
    -------
    DataFrame indexed by annotator (everyone in ``coverage``): ``n_gold`` (gold items they
    annotated), ``spans``, ``gold_spans`` (on those items), ``precision``, ``recall``,
    ``f1``, ``ci_low``, ``ci_high``. Annotators with no gold item have ``n_gold = 0`` and NaN
    scores: they were not tested.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"item": [1, 1, 2], "annotator": ["x", "y", "y"], "start": [0, 0, 3],
    ...                   "end": [5, 4, 8], "label": "PER"})
    >>> g = pd.DataFrame({"item": [1], "start": [0], "end": [5], "label": ["PER"]})
    >>> gold_span_f1(s, g, n_boot=100)[["n_gold", "f1"]].to_dict("index")
    {'x': {'n_gold': 1, 'f1': 1.0}, 'y': {'n_gold': 1, 'f1': 0.0}}
    """
    m = _check_match(match)
    df = _spans_frame(spans, annotator=True)
    cov = _coverage(df, coverage)
    g = _spans_frame(gold, annotator=False)
    g_items = pd.Index(pd.unique(np.asarray(g["item"] if gold_items is None else gold_items, dtype=object)))
    if gold_items is not None and not g["item"].isin(g_items).all():
        raise InvalidInput("some gold spans are on items missing from gold_items; list every gold item.")
    annotators = _sorted_index(cov["annotator"])
    gold_code = len(annotators)
    tag = pd.Index([*annotators, object()])  # the gold side gets a code no annotator has
    items = pd.Index(pd.unique(np.concatenate([cov["item"].to_numpy(dtype=object), g_items.to_numpy(dtype=object)])))
    both = pd.concat(
        [df.assign(annotator=annotators.get_indexer(df["annotator"])), g.assign(annotator=gold_code)], ignore_index=True
    )
    both_cov = pd.concat(
        [
            cov.assign(annotator=annotators.get_indexer(cov["annotator"])),
            pd.DataFrame({"item": g_items, "annotator": gold_code}),
        ],
        ignore_index=True,
    )
    codes = _codes(both, both_cov, items, pd.Index(range(gold_code + 1)))
    rows = _pair_rows(*codes, n_ann=gold_code + 1, match=m, with_annotator=gold_code)
    table = _table(rows, tag, n_boot=n_boot, confidence=confidence, seed=seed, gold=True)
    table = table.reindex(annotators)
    table.index.name = "annotator"
    table[["n_gold", "spans", "gold_spans"]] = table[["n_gold", "spans", "gold_spans"]].fillna(0).astype(np.int64)
    return table
