"""Distances between count distributions, shared by drift (data) and anomaly flags (quality).

Both compare label or category distributions row by row: the Jensen–Shannon distance says
how far apart two distributions are (an effect size, in [0, 1] with base 2), and the
chi-square test of homogeneity says whether a difference that large is beyond what samples
of those sizes give by chance (the noise guard). scipy is imported when called.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def js_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen–Shannon distance, base 2 (in [0, 1]), of two count or probability vectors.

    The vectors are normalised first (scipy); a vector of zeros gives NaN.
    """
    return float(js_distances(np.atleast_2d(p), np.atleast_2d(q))[0])


def js_distances(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """:func:`js_distance` of each row pair of two ``(m, k)`` count matrices (vectorised)."""
    from scipy.spatial.distance import jensenshannon

    a = np.atleast_2d(np.asarray(p, dtype=np.float64))
    b = np.atleast_2d(np.asarray(q, dtype=np.float64))
    if a.shape[0] == 0:
        return np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = jensenshannon(a, b, base=2, axis=1)
    return np.clip(np.asarray(d, dtype=np.float64), 0.0, 1.0)


def chi2_p_values(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> FloatArray:
    """Chi-square test of homogeneity of each 2 x k table (row pairs of counts), vectorised.

    Pearson's statistic without continuity correction (as
    ``scipy.stats.chi2_contingency(table, correction=False)``), degrees of freedom = the
    categories present in the pair - 1; a pair with one category gives p = 1.
    """
    from scipy.stats import chi2

    r = np.atleast_2d(np.asarray(reference_counts, dtype=np.float64))
    c = np.atleast_2d(np.asarray(current_counts, dtype=np.float64))
    col = r + c
    n_r, n_c = r.sum(axis=1, keepdims=True), c.sum(axis=1, keepdims=True)
    share = col / np.maximum(n_r + n_c, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(
            col > 0, (r - n_r * share) ** 2 / (n_r * share) + (c - n_c * share) ** 2 / (n_c * share), 0.0
        ).sum(axis=1)
    dof = (col > 0).sum(axis=1) - 1
    p = np.where(dof > 0, chi2.sf(stat, np.maximum(dof, 1)), 1.0)
    return np.asarray(p, dtype=np.float64)
