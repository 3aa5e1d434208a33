"""Percent agreement and the kappa family: Cohen (two annotators, weighted),
pairwise Cohen, Fleiss and Randolph (private; public names re-exported by ``agreement``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from truthset.core.errors import InvalidInput
from truthset.quality._alpha import unit_pairs
from truthset.quality._bootstrap import UndefinedAgreementWarning
from truthset.quality._frames import frame_codes, label_counts

FloatArray = npt.NDArray[np.float64]
Weights = Literal["linear", "quadratic"] | None


def _warn_undefined(value: float, what: str, why: str) -> float:
    if np.isnan(value):
        warnings.warn(f"{what} is undefined ({why}); returning NaN.", UndefinedAgreementWarning, stacklevel=3)
    return value


# --------------------------------------------------------------------------- percent agreement
@dataclass
class _MeanStats:
    """A mean of per-item values (percent agreement)."""

    per_item: FloatArray

    @property
    def n_units(self) -> int:
        return int(self.per_item.shape[0])

    def point(self) -> float:
        return float(self.per_item.mean())

    def replicates(self, w: FloatArray) -> FloatArray:
        return np.asarray((w @ self.per_item) / w.sum(axis=1))


def _item_agreement(counts: sp.csr_matrix) -> tuple[FloatArray, FloatArray, sp.csr_matrix]:
    """Per item with >= 2 judgements: ``P_i = sum_c n_ic (n_ic - 1) / (m_i (m_i - 1))``."""
    m = np.asarray(counts.sum(axis=1)).ravel()
    keep = m >= 2
    if not keep.any():
        raise InvalidInput(
            f"no item has judgements from two or more annotators ({counts.shape[0]} item(s), "
            f"at most {int(m.max(initial=0))} judgement(s) each); agreement needs items "
            "labelled by at least two annotators."
        )
    counts = counts[keep]
    m = m[keep]
    agree = np.asarray(counts.multiply(counts).sum(axis=1)).ravel() - m
    return agree / (m * (m - 1.0)), m, counts


def _percent_stats(df: pd.DataFrame) -> _MeanStats:
    return _MeanStats(_item_agreement(label_counts(frame_codes(df)))[0])


def percent_agreement(df: pd.DataFrame) -> float:
    """Observed pairwise agreement, averaged over items with two or more judgements.

    .. math:: P_o = \\frac{1}{N} \\sum_i \\frac{\\sum_c n_{ic}(n_{ic} - 1)}{m_i (m_i - 1)}

    where ``n_ic`` is the number of annotators giving item ``i`` label ``c`` and ``m_i`` the
    item's number of judgements. Items with one judgement are ignored.

    Parameters
    ----------
    df : DataFrame
        Long annotation frame: ``item``, ``annotator``, ``label`` (or ``task``, ``worker``).

    Returns
    -------
    float
        The share of annotator pairs that agree on an item, in [0, 1]. It is not corrected
        for chance: with two frequent labels, 0.5 is what random labelling gives.

    Raises
    ------
    InvalidInput
        If no item has two judgements, or an annotator judged an item twice.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2], "annotator": list("abcab"),
    ...                    "label": ["x", "x", "y", "y", "y"]})
    >>> round(percent_agreement(df), 4)  # item 1: 1 of 3 pairs agree; item 2: 1 of 1
    0.6667
    """
    return _percent_stats(df).point()


# --------------------------------------------------------------------------- Cohen's kappa
def _weight_matrix(n_labels: int, weights: object) -> FloatArray:
    grid = np.arange(n_labels, dtype=np.float64)
    diff = grid[:, None] - grid[None, :]
    if weights is None:
        return np.asarray((diff != 0).astype(np.float64))
    if weights == "linear":
        return np.abs(diff)
    if weights == "quadratic":
        return diff * diff
    raise InvalidInput(
        f"weights must be None, 'linear' or 'quadratic'; got {weights!r}. Use a weighted "
        "kappa only for ordered labels, with labels= giving their order."
    )


def _kappa_from_marginals(
    observed: FloatArray,
    rows: FloatArray,
    cols: FloatArray,
    total: FloatArray,
    w_mat: FloatArray,
) -> FloatArray:
    """``1 - sum(w * confusion) / sum(w * expected)`` for stacked confusion summaries."""
    expected = np.einsum("pa,ab,pb->p", cols, w_mat, rows) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1.0 - observed / expected
    return np.where(expected > 0, kappa, np.nan)


@dataclass
class _CohenStats:
    cells: sp.csr_matrix  # (n_items, K*K) one-hot confusion cell of each item
    w_mat: FloatArray

    @property
    def n_units(self) -> int:
        return int(self.cells.shape[0])

    def _kappa(self, conf: FloatArray) -> FloatArray:
        k = self.w_mat.shape[0]
        conf = conf.reshape(-1, k, k)
        return _kappa_from_marginals(
            np.einsum("pab,ab->p", conf, self.w_mat),
            conf.sum(axis=2),
            conf.sum(axis=1),
            conf.sum(axis=(1, 2)),
            self.w_mat,
        )

    def point(self) -> float:
        conf = np.asarray(self.cells.sum(axis=0), dtype=np.float64)
        return float(self._kappa(conf)[0])

    def replicates(self, w: FloatArray) -> FloatArray:
        return self._kappa(np.asarray(self.cells.T @ w.T).T)


def _cohen_stats(a: npt.ArrayLike, b: npt.ArrayLike, weights: object, labels: Sequence[object] | None) -> _CohenStats:
    sa, sb = pd.Series(np.asarray(a, dtype=object)), pd.Series(np.asarray(b, dtype=object))
    if sa.shape != sb.shape or sa.ndim != 1 or sa.size == 0:
        raise InvalidInput(
            f"cohen_kappa needs two non-empty 1-D label sequences of equal length (one label "
            f"per item from each annotator); got lengths {sa.size} and {sb.size}."
        )
    both = pd.concat([sa, sb], ignore_index=True)
    if both.isna().any():
        raise InvalidInput(
            f"{int(both.isna().sum())} label(s) are missing; cohen_kappa compares items both "
            "annotators labelled; drop the items with a missing label first."
        )
    if labels is None:
        cat = pd.Categorical(both)
        codes, k = np.asarray(cat.codes, dtype=np.int64), len(cat.categories)
    else:
        codes = pd.Index(list(labels)).get_indexer(both).astype(np.int64)
        k = len(labels)
    if (codes < 0).any():
        bad = pd.unique(both[codes < 0])[:5].tolist()
        raise InvalidInput(
            f"label(s) {bad} are not in labels={list(labels or [])}; add them to labels= or fix the data."
        )
    n = sa.size
    cell = codes[:n] * k + codes[n:]
    cells = sp.csr_matrix((np.ones(n), (np.arange(n), cell)), shape=(n, k * k))
    return _CohenStats(cells, _weight_matrix(k, weights))


def cohen_kappa(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    weights: Weights = None,
    labels: Sequence[object] | None = None,
) -> float:
    """Cohen's kappa between two annotators who labelled the same items.

    .. math:: \\kappa = 1 - \\frac{\\sum_{jk} w_{jk} o_{jk}}{\\sum_{jk} w_{jk} e_{jk}}

    with ``o`` the confusion matrix, ``e`` the one expected from the two annotators'
    marginals, and ``w_jk`` = ``[j != k]`` (unweighted), ``|j - k|`` (linear) or
    ``(j - k)^2`` (quadratic) over label positions. Equal to
    ``sklearn.metrics.cohen_kappa_score``.

    Parameters
    ----------
    a, b : array-like
        Labels given to the same items by the two annotators, aligned by position.
    weights : {None, 'linear', 'quadratic'}
        Disagreement weights; weighted kappa only makes sense for ordered labels.
    labels : sequence, optional
        All labels in order (sets the weight positions). By default the sorted labels seen.

    Returns
    -------
    float
        1 is perfect agreement, 0 is what chance gives, negative is worse than chance.
        NaN with an ``UndefinedAgreementWarning`` when undefined (both annotators always use
        one and the same label).

    Examples
    --------
    >>> cohen_kappa(["y"] * 25 + ["n"] * 25, ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15)
    0.4
    """
    value = _cohen_stats(a, b, weights, labels).point()
    return _warn_undefined(value, "Cohen's kappa", "chance agreement is 1: a single label")


def _cohen_frame_stats(df: pd.DataFrame, weights: object = None, labels: Sequence[object] | None = None) -> _CohenStats:
    codes = frame_codes(df, labels=labels)
    if codes.n_annotators != 2:
        raise InvalidInput(
            f"Cohen's kappa on a frame needs exactly two annotators; got {codes.n_annotators}. "
            "Filter the frame to two annotators, or use pairwise_cohen_kappa / fleiss_kappa / "
            "krippendorff_alpha for more."
        )
    wide = np.full((codes.n_items, 2), -1, dtype=np.int64)
    wide[codes.item, codes.annotator] = codes.label
    both = (wide >= 0).all(axis=1)
    if not both.any():
        raise InvalidInput("the two annotators share no item; Cohen's kappa needs common items.")
    lab = np.asarray(codes.labels, dtype=object)
    return _cohen_stats(
        lab[wide[both, 0]], lab[wide[both, 1]], weights, list(codes.labels) if labels is None else labels
    )


def pairwise_cohen_kappa(
    df: pd.DataFrame,
    *,
    weights: Weights = None,
    labels: Sequence[object] | None = None,
) -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators, over the items both labelled.

    Each cell is :func:`cohen_kappa` on the items the two annotators share. All pairs are
    computed in one pass over the within-item pairs of judgements.

    Parameters
    ----------
    df : DataFrame
        Long annotation frame (``item``, ``annotator``, ``label``).
    weights : {None, 'linear', 'quadratic'}
        As in :func:`cohen_kappa`.
    labels : sequence, optional
        All labels in order; by default the sorted labels seen.

    Returns
    -------
    DataFrame
        Symmetric annotator x annotator matrix; the diagonal is 1. A cell is NaN (with an
        ``UndefinedAgreementWarning``) when the pair shares fewer than 2 items or kappa is
        undefined there (a single label).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 3], "annotator": list("abababc"),
    ...                    "label": ["x", "x", "y", "y", "x", "y", "y"]})
    >>> pairwise_cohen_kappa(df).loc["a", "b"].round(3)  # doctest: +SKIP
    np.float64(0.4)
    """
    codes = frame_codes(df, labels=labels)
    n_ann, k = codes.n_annotators, codes.n_labels
    w_mat = _weight_matrix(k, weights)
    order = np.argsort(codes.item, kind="stable")
    ann = codes.annotator[order].astype(np.int64)
    lab = codes.label[order].astype(np.int64)
    sizes = np.bincount(codes.item, minlength=codes.n_items).astype(np.int64)
    keys = []
    for _, left, right in unit_pairs(sizes):
        a1, a2, l1, l2 = ann[left], ann[right], lab[left], lab[right]
        swap = a1 > a2
        a1, a2 = np.where(swap, a2, a1), np.where(swap, a1, a2)
        l1, l2 = np.where(swap, l2, l1), np.where(swap, l1, l2)
        keys.append(((a1 * n_ann + a2) * k + l1) * k + l2)
    out = np.full((n_ann, n_ann), np.nan)
    np.fill_diagonal(out, 1.0)
    uniq, cnt = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)
    pair_key, cell = np.divmod(uniq, k * k)
    pairs, pair_idx = np.unique(pair_key, return_inverse=True)
    n_pairs = pairs.shape[0]
    l1, l2 = np.divmod(cell, k)
    cnt_f: FloatArray = cnt.astype(np.float64)

    def sums(index: npt.NDArray[np.int64], weights: FloatArray, size: int) -> FloatArray:
        return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)

    total = sums(pair_idx, cnt_f, n_pairs)
    observed = sums(pair_idx, cnt_f * w_mat[l1, l2], n_pairs)
    rows = sums(pair_idx * k + l1, cnt_f, n_pairs * k).reshape(n_pairs, k)
    cols = sums(pair_idx * k + l2, cnt_f, n_pairs * k).reshape(n_pairs, k)
    kappa = _kappa_from_marginals(observed, rows, cols, total, w_mat)
    kappa[total < 2] = np.nan
    a1, a2 = np.divmod(pairs, n_ann)
    out[a1, a2] = kappa
    out[a2, a1] = kappa
    n_undefined = n_ann * (n_ann - 1) // 2 - int(np.isfinite(kappa).sum())
    if n_undefined:
        warnings.warn(
            f"{n_undefined} annotator pair(s) share fewer than 2 items or use a single label; their kappa is NaN.",
            UndefinedAgreementWarning,
            stacklevel=2,
        )
    return pd.DataFrame(out, index=codes.annotators, columns=codes.annotators)


# --------------------------------------------------------------------------- Fleiss / Randolph
@dataclass
class _FleissStats:
    per_item: FloatArray
    counts: sp.csr_matrix
    m: FloatArray
    randolph: bool

    @property
    def n_units(self) -> int:
        return int(self.per_item.shape[0])

    def replicates(self, w: FloatArray) -> FloatArray:
        w_sum = w.sum(axis=1)
        observed = (w @ self.per_item) / w_sum
        if self.randolph:
            chance = np.full_like(observed, 1.0 / self.counts.shape[1])
        else:
            p_cat = np.asarray(self.counts.T @ w.T).T / (w @ self.m)[:, None]
            chance = np.einsum("bk,bk->b", p_cat, p_cat)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = (observed - chance) / (1.0 - chance)
        return np.where(chance < 1.0, kappa, np.nan)

    def point(self) -> float:
        return float(self.replicates(np.ones((1, self.n_units)))[0])


def _fleiss_stats(df: pd.DataFrame, labels: Sequence[object] | None = None, *, randolph: bool = False) -> _FleissStats:
    codes = frame_codes(df, labels=labels)
    counts = label_counts(codes)
    m_all = np.asarray(counts.sum(axis=1)).ravel()
    if not randolph and m_all.min() != m_all.max():
        sizes, n = np.unique(m_all, return_counts=True)
        first = codes.items[int(np.flatnonzero(m_all != m_all.max())[0])]
        raise InvalidInput(
            "Fleiss' kappa needs the same number of judgements on every item; got "
            f"{dict(zip(sizes.astype(int).tolist(), n.tolist()))} (judgements: items), e.g. "
            f"item {first!r} has {int(m_all[codes.items.get_loc(first)])}. Keep items with "
            "a full set of judgements, or use krippendorff_alpha(df, level='nominal') or "
            "randolph_kappa, which allow varying numbers."
        )
    per_item, m, counts = _item_agreement(counts)
    return _FleissStats(per_item, counts, m, randolph)


def fleiss_kappa(df: pd.DataFrame, *, labels: Sequence[object] | None = None) -> float:
    """Fleiss' kappa: chance-corrected agreement of several annotators per item.

    .. math:: \\kappa = \\frac{\\bar P - P_e}{1 - P_e}, \\quad
              \\bar P = \\frac{1}{N} \\sum_i \\frac{\\sum_c n_{ic}^2 - n}{n (n - 1)}, \\quad
              P_e = \\sum_c p_c^2

    with ``n`` judgements per item and ``p_c`` the share of all judgements with label ``c``.
    Equal to ``statsmodels.stats.inter_rater.fleiss_kappa``.

    Parameters
    ----------
    df : DataFrame
        Long annotation frame; every item must have the same number (>= 2) of judgements.
    labels : sequence, optional
        The full label set (unused labels do not change Fleiss' kappa).

    Returns
    -------
    float
        1 is perfect agreement, 0 chance level, negative below chance. NaN with an
        ``UndefinedAgreementWarning`` if every judgement has the same label.

    Raises
    ------
    InvalidInput
        If items have different numbers of judgements (use :func:`krippendorff_alpha`).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": list("ababab"),
    ...                    "label": ["x", "x", "y", "y", "x", "y"]})
    >>> round(fleiss_kappa(df), 4)
    0.3333
    """
    value = _fleiss_stats(df, labels).point()
    return _warn_undefined(value, "Fleiss' kappa", "every judgement has the same label")


def randolph_kappa(df: pd.DataFrame, *, labels: Sequence[object] | None = None) -> float:
    """Randolph's free-marginal multirater kappa.

    .. math:: \\kappa_{free} = \\frac{\\bar P - 1/K}{1 - 1/K}

    with ``\\bar P`` the mean per-item pairwise agreement (as in :func:`percent_agreement`,
    so items may have different numbers of judgements; items with one are ignored) and
    ``K`` the number of labels. Equals ``statsmodels``' ``fleiss_kappa(..., method='randolph')``
    when every item has the same number of judgements.

    Parameters
    ----------
    df : DataFrame
        Long annotation frame.
    labels : sequence, optional
        The full label set; ``K`` counts it, so pass it when some labels were never used.

    Returns
    -------
    float
        1 is perfect agreement, 0 is what uniform random labelling gives. NaN with an
        ``UndefinedAgreementWarning`` when ``K = 1``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": list("abab"),
    ...                    "label": ["x", "x", "y", "x"]})
    >>> randolph_kappa(df)
    0.0
    """
    value = _fleiss_stats(df, labels, randolph=True).point()
    return _warn_undefined(value, "Randolph's kappa", "only one label")
