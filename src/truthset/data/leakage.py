"""Leakage: the same item in two splits, and identifier columns that give the label away.

Both make a model look better on held-out data than it will be in use: a test text that is a
copy of a training text is answered from memory, and a column such as a file name
``spam_0042.txt`` or an id assigned in label order lets the model read the label off the id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.data.duplicates import DuplicateReport, exact_duplicates, near_duplicates


@dataclass(frozen=True)
class SplitLeakage:
    """Duplicate clusters that span two or more splits.

    ``frame``: one row per item of such a cluster: ``item``, ``cluster``, ``representative``,
    ``size``, ``split``, ``splits`` (the splits the cluster spans, sorted, comma-separated) and
    ``label`` when labels were given.
    ``matrix``: DataFrame split x split; cell (s, t) counts items of split s that have a
    duplicate in split t (s != t; the diagonal is 0).
    """

    frame: pd.DataFrame
    matrix: pd.DataFrame
    report: DuplicateReport

    def summary(self) -> dict[str, Any]:
        """``leaking_clusters``, ``leaking_items`` and ``items_with_copy_elsewhere`` per split."""
        return {
            "leaking_clusters": int(self.frame["cluster"].nunique()),
            "leaking_items": int(len(self.frame)),
            "items_with_copy_elsewhere": {
                str(s): int(n) for s, n in self.frame.groupby("split", sort=True).size().items()
            },
        }


def split_leakage(
    texts: Sequence[Any] | pd.Series | None,
    splits: Sequence[Any] | pd.Series,
    *,
    report: DuplicateReport | None = None,
    near: bool = False,
    labels: Sequence[Any] | None = None,
    ids: Sequence[Any] | None = None,
    **near_options: Any,
) -> SplitLeakage:
    """Items whose exact (or, with ``near=True``, near) duplicates sit in another split.

    ``splits``: one split name per item (e.g. train / validation / test). Pass ``report`` to
    reuse clusters already computed (``texts`` is then ignored). Items with a missing split
    are still clustered but never counted as leaking.
    """
    if report is None:
        if texts is None:
            raise InvalidInput("pass texts, or a DuplicateReport as report=")
        report = (
            near_duplicates(texts, labels=labels, ids=ids, **near_options)
            if near
            else exact_duplicates(texts, labels=labels, ids=ids)
        )
    clusters = report.clusters
    if len(splits) != clusters.n_items:
        raise InvalidInput(
            f"splits has {len(splits)} entries but there are {clusters.n_items} "
            "items; pass one split per item, in the same order"
        )
    codes, names = pd.factorize(pd.Series(splits, dtype=object), sort=True)
    codes = np.asarray(codes, dtype=np.int64)
    n_splits = len(names)
    ok = codes >= 0
    presence = np.zeros((clusters.n_clusters, max(n_splits, 1)), dtype=bool)
    presence[clusters.cluster[ok], codes[ok]] = True
    spans = presence.sum(axis=1)
    leaking = ok & (spans[clusters.cluster] > 1)
    pos = np.flatnonzero(leaking)
    pos = pos[np.argsort(clusters.cluster[pos], kind="stable")]
    counts = np.zeros((n_splits, n_splits), dtype=np.int64)
    np.add.at(counts, codes[pos], presence[clusters.cluster[pos]].astype(np.int64))
    np.fill_diagonal(counts, 0)
    name_list = [str(x) for x in names]
    leaking_clusters = np.unique(clusters.cluster[pos])
    span_of = {
        c: ",".join(np.array(name_list, dtype=object)[presence[c]]) for c in leaking_clusters.tolist()
    }  # one string per leaking cluster
    ident = report.ids if report.ids is not None else np.arange(clusters.n_items)
    frame = pd.DataFrame(
        {
            "item": ident[pos],
            "cluster": clusters.cluster[pos],
            "representative": ident[clusters.representative[clusters.cluster[pos]]],
            "size": clusters.size[clusters.cluster[pos]],
            "split": np.asarray(names, dtype=object)[codes[pos]] if len(pos) else [],
            "splits": [span_of[c] for c in clusters.cluster[pos].tolist()],
        }
    )
    if report.labels is not None:
        frame["label"] = report.labels[pos]
    matrix = pd.DataFrame(counts, index=name_list, columns=name_list)
    return SplitLeakage(frame, matrix, report)


def _codes(values: pd.Series) -> npt.NDArray[np.int64]:
    """Integer codes; missing values share one extra code."""
    c = np.asarray(pd.factorize(values, use_na_sentinel=True)[0], dtype=np.int64)
    return np.where(c < 0, c.max(initial=-1) + 1, c)


def _order_bins(values: pd.Series, n_bins: int) -> npt.NDArray[np.int64]:
    """Quantile bin (0..n_bins-1) of each value's rank: numeric order if all values are
    numbers, otherwise string order. Missing values get bin ``n_bins``."""
    num = pd.to_numeric(values, errors="coerce")
    key = num if num.notna().sum() == values.notna().sum() else values.astype("string")
    codes = np.asarray(pd.factorize(key, sort=True, use_na_sentinel=True)[0], dtype=np.int64)
    ok = codes >= 0
    counts = np.bincount(codes[ok], minlength=int(codes.max(initial=-1)) + 1)
    rank = (np.cumsum(counts) - counts)[codes[ok]]
    out = np.full(len(codes), n_bins, dtype=np.int64)
    out[ok] = rank * n_bins // max(int(ok.sum()), 1)
    return out


def _pattern(values: pd.Series) -> npt.NDArray[np.int64]:
    """Codes of each value's shape: digit runs replaced by ``0`` (``spam_0042`` -> ``spam_0``)."""
    return _codes(values.astype("string").str.replace(r"\d+", "0", regex=True))


def _oof_prior(
    y: npt.NDArray[np.int64], fold: npt.NDArray[np.int64], n_classes: int, folds: int
) -> npt.NDArray[np.float64]:
    """p(y_i) estimated from the folds other than item i's: shape (n,)."""
    n = len(y)
    y_total = np.bincount(y, minlength=n_classes)
    y_fold = np.bincount(fold * n_classes + y, minlength=folds * n_classes).reshape(folds, n_classes)
    n_fold = np.bincount(fold, minlength=folds)
    prior = (y_total[None, :] - y_fold) / np.maximum(n - n_fold, 1)[:, None]
    return np.maximum(prior[fold, y], 1e-12)


def _pair_counts(key: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """How many items share each item's key (keys in 0..size-1)."""
    if size <= 4 * len(key) + 1024:
        return np.bincount(key, minlength=size)[key]
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    return cnt[inv.reshape(-1)]


def _oof_gain(
    views: list[npt.NDArray[np.int64]],
    y: npt.NDArray[np.int64],
    fold: npt.NDArray[np.int64],
    n_classes: int,
    folds: int,
) -> npt.NDArray[np.float64]:
    """Out-of-fold information gain (bits per item) of each view about ``y``.

    For an item in fold j, p(y | view value) is estimated from the other folds with one
    pseudo-count spread as the other folds' class prior, so a value never seen in training
    predicts the prior (gain 0) and an overconfident table is penalised. Gain is the mean of
    ``log2 p(y | value) - log2 p(y)`` over items: > 0 means the view tells something about the
    label that generalises to unseen items; it is at most the out-of-fold label entropy
    ``mean(-log2 p(y))``.
    """
    p0 = _oof_prior(y, fold, n_classes, folds)
    out = np.empty(len(views), dtype=np.float64)
    for i, v in enumerate(views):
        m = int(v.max(initial=0)) + 1
        fy = v * n_classes + y
        train_fy = _pair_counts(fy, m * n_classes) - _pair_counts(fold * (m * n_classes) + fy, folds * m * n_classes)
        train_f = _pair_counts(v, m) - _pair_counts(fold * m + v, folds * m)
        p = (train_fy + p0) / (train_f + 1.0)
        out[i] = float(np.mean(np.log2(p) - np.log2(p0)))
    return out


def _identifier_like(values: pd.Series, min_distinct_ratio: float) -> tuple[bool, int, float]:
    nonnull = values.dropna()
    distinct = int(nonnull.nunique())
    ratio = distinct / max(len(nonnull), 1)
    if pd.api.types.is_bool_dtype(values) or ratio < min_distinct_ratio or distinct < 2:
        return False, distinct, ratio
    if pd.api.types.is_float_dtype(values):
        return bool(np.all(np.mod(nonnull.to_numpy(), 1) == 0)), distinct, ratio
    if pd.api.types.is_numeric_dtype(values):
        return True, distinct, ratio
    text = nonnull.astype(str)
    short = text.str.len().median() <= 64
    no_space = text.str.contains(r"\s", regex=True).mean() <= 0.05
    return bool(short and no_space), distinct, ratio


def identifier_leakage(
    df: pd.DataFrame,
    label: str,
    *,
    columns: Sequence[str] | None = None,
    min_distinct_ratio: float = 0.5,
    folds: int = 5,
    permutations: int = 199,
    alpha: float = 0.01,
    min_gain: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Identifier-like columns of ``df`` whose values predict ``label`` far better than chance.

    Rule. A column is *identifier-like* when at least ``min_distinct_ratio`` of its non-missing
    values are distinct, and it holds integers or short strings without spaces (ids, keys,
    file names; not free text, not measurements with decimals). Such a column should carry no
    information about the label; three views of it are tested:

    - ``value``: the value itself (a group id shared by items of one label),
    - ``order``: the quantile bin of the value's rank (ids assigned in label order),
    - ``pattern``: the value with digit runs replaced by ``0`` (``spam_0042.txt``).

    For each view the out-of-fold information gain about the label is computed with
    ``folds``-fold cross-validation (see :func:`_oof_gain`): the label is predicted for unseen
    items from a lookup table learnt on the other folds. A unique id has gain <= 0: no test
    item's value was seen in training. The column's statistic is the best view's gain. A
    permutation baseline repeats everything with the labels shuffled ``permutations`` times;
    ``p_value`` is the share of shuffles whose best gain reaches the observed one (with the
    usual +1). A column ``leaks`` when it is identifier-like, ``p_value <= alpha`` and its gain
    is at least ``min_gain`` of the label entropy ``H(label)`` (``gain_fraction``; 1 means the
    column determines the label). Items with a missing label are left out.

    Returns one row per tested column: ``column``, ``distinct``, ``distinct_ratio``,
    ``identifier_like``, ``view``, ``gain_bits``, ``gain_fraction``, ``p_value``, ``leaks``;
    leaking columns first.
    """
    if label not in df.columns:
        raise InvalidInput(f"label column {label!r} not in the frame; columns: {list(df.columns)}")
    if folds < 2:
        raise InvalidInput(f"folds={folds} must be at least 2")
    if (permutations + 1) * alpha < 1:
        raise InvalidInput(
            f"with permutations={permutations} no p-value can reach alpha={alpha}; "
            f"use permutations >= {int(np.ceil(1 / alpha)) - 1}"
        )
    data = df[df[label].notna()].reset_index(drop=True)
    n = len(data)
    cols = [c for c in (columns if columns is not None else data.columns) if c != label]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InvalidInput(f"columns {missing} not in the frame; columns: {list(df.columns)}")
    y_codes, classes = pd.factorize(data[label], sort=True)
    y = np.asarray(y_codes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % folds if n else np.empty(0, dtype=np.int64)
    h_y = float(np.mean(-np.log2(_oof_prior(y, fold, len(classes), folds)))) if n else 0.0
    n_bins = max(2, min(64, n // 50))
    rows = []
    for col in cols:
        values = data[col]
        like, distinct, ratio = _identifier_like(values, min_distinct_ratio)
        row: dict[str, Any] = {
            "column": col,
            "distinct": distinct,
            "distinct_ratio": ratio,
            "identifier_like": like,
            "view": None,
            "gain_bits": np.nan,
            "gain_fraction": np.nan,
            "p_value": np.nan,
            "leaks": False,
        }
        if like and n >= 2 * folds and h_y > 0:
            names = ["value", "order"]
            views = [_codes(values), _order_bins(values, n_bins)]
            if not pd.api.types.is_numeric_dtype(values):
                names.append("pattern")
                views.append(_pattern(values))
            gain = _oof_gain(views, y, fold, len(classes), folds)
            best = int(np.argmax(gain))
            big = gain[best] >= min_gain * h_y
            p_value = np.nan
            if big:  # the permutation test only decides columns that pass the effect-size bar
                shuffle = np.random.default_rng([seed, 1])  # the same shuffles for every column
                null = np.array(
                    [
                        _oof_gain(views, shuffle.permutation(y), fold, len(classes), folds).max()
                        for _ in range(permutations)
                    ]
                )
                p_value = (1 + int(np.sum(null >= gain[best]))) / (len(null) + 1)
            row.update(
                view=names[best],
                gain_bits=float(gain[best]),
                gain_fraction=float(gain[best]) / h_y,
                p_value=p_value,
                leaks=bool(big and p_value <= alpha),
            )
        rows.append(row)
    out = pd.DataFrame(
        rows,
        columns=[
            "column",
            "distinct",
            "distinct_ratio",
            "identifier_like",
            "view",
            "gain_bits",
            "gain_fraction",
            "p_value",
            "leaks",
        ],
    )
    return out.sort_values(
        ["leaks", "gain_fraction"], ascending=[False, False], na_position="last", kind="stable"
    ).reset_index(drop=True)
