"""ROC-AUC and average precision over bootstrap resamples, vectorised (private).

Tied scores form groups, numbered from the highest score down (one ``np.unique`` at
construction). A batch of resamples is an ``(B, n)`` array of item indices; the positive
and total count of every (replicate, group) cell then comes from one ``np.bincount`` over
``replicate * n_groups + group[idx]``, and every replicate's curve is a cumulative sum over
``(B, n_groups)``:

* ROC-AUC is the Mann-Whitney statistic with ties counted half, ``sum_g P_g (N_below_g +
  N_g / 2) / (P N)`` — the area under the trapezoidal ROC curve scikit-learn's
  ``roc_auc_score`` integrates.
* Average precision is ``sum_g (P_g / P) * precision_g`` with precision at each distinct
  threshold — scikit-learn's ``average_precision_score`` (step interpolation, no
  trapezoids).

Both are NaN when a replicate has no positive or no negative item.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class SortedScores:
    """One binary scoring problem (score, is-positive), grouped by score once."""

    def __init__(self, score: FloatArray, positive: BoolArray) -> None:
        neg_score = -np.asarray(score, dtype=np.float64)
        uniq, group = np.unique(neg_score, return_inverse=True)
        self.n_groups = int(uniq.size)
        # cell of an item in the (group, is-positive) grid: one gather and one bincount
        # give both the positive and the negative count of every group in every resample
        self.cell = group.astype(np.int64).ravel() * 2 + np.asarray(positive, dtype=np.int64)

    def _groups(self, idx: IntArray) -> tuple[FloatArray, FloatArray]:
        rows, size = idx.shape[0], 2 * self.n_groups
        flat = self.cell[idx]
        flat += np.arange(rows, dtype=np.int64)[:, None] * size
        counts = np.bincount(flat.ravel(), minlength=rows * size).reshape(rows, self.n_groups, 2)
        return counts[:, :, 1].astype(np.float64), counts[:, :, 0].astype(np.float64)

    def both(self, idx: IntArray) -> tuple[FloatArray, FloatArray]:
        """``(roc_auc, average_precision)``, each ``(B,)``, for the resamples ``idx`` (B, n)."""
        pg, ng = self._groups(idx)
        p_tot = pg.sum(axis=1)
        n_tot = ng.sum(axis=1)
        # ROC-AUC: each positive beats the negatives below its group and ties half of its own
        below = np.cumsum(ng, axis=1)
        np.subtract(n_tot[:, None], below, out=below)
        below += 0.5 * ng
        wins = np.einsum("ij,ij->i", pg, below)
        # AP: precision at each group's threshold, weighted by the positives it adds
        tp = np.cumsum(pg, axis=1)
        seen = np.cumsum(ng, axis=1)
        seen += tp
        np.maximum(seen, 1.0, out=seen)  # groups before any item carry pg == 0
        np.divide(tp, seen, out=tp)
        hits = np.einsum("ij,ij->i", pg, tp)
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = np.where(p_tot * n_tot > 0, wins / (p_tot * n_tot), np.nan)
            ap = np.where(p_tot > 0, hits / p_tot, np.nan)
        return auc, ap

    def roc_auc(self, idx: IntArray) -> FloatArray:
        """``(B,)`` ROC-AUC of each resample (row of item indices) in ``idx`` (B, n)."""
        return self.both(idx)[0]

    def average_precision(self, idx: IntArray) -> FloatArray:
        """``(B,)`` average precision of each resample in ``idx`` (B, n)."""
        return self.both(idx)[1]


def one_vs_rest(proba: FloatArray, true: npt.NDArray[np.int64], k: int) -> list[SortedScores]:
    """One :class:`SortedScores` per class ``c``: score ``proba[:, c]``, positive ``true == c``."""
    return [SortedScores(proba[:, c], true == c) for c in range(k)]


def macro(values: FloatArray) -> FloatArray:
    """Mean over the last axis ignoring undefined (NaN) classes; NaN if none is defined."""
    defined = np.isfinite(values)
    n = defined.sum(axis=-1)
    total = np.where(defined, values, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)
