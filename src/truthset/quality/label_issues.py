"""Label errors by confident learning, from out-of-sample predicted probabilities.

Implements confident learning as described in Northcutt, Jiang & Chuang, "Confident
Learning: Estimating Uncertainty in Dataset Labels" (JAIR 70, 2021), written from the
paper (cleanlab, the authors' library, is AGPL and is used only in our benchmarks):

1. **Per-class thresholds** ``t_j``: the mean predicted probability of class ``j`` over the
   items *given* label ``j`` (the model's expected self-confidence for that class).
2. **Confident joint** ``C[i, j]``: items given label ``i`` whose probability of class ``j``
   reaches ``t_j``; an item above several thresholds counts once, for its most probable
   such class. Items above no threshold are not counted.
3. **Calibration**: each row is rescaled to the number of items given that label,
   ``Q~[i, j] = C[i, j] / sum_j C[i, j] * n_i``, so ``Q = Q~ / n`` estimates the joint
   distribution of given and true labels and ``Q~[i, j]`` is the estimated *number* of items
   given ``i`` whose true label is ``j``.
4. **Pruning** (``filter_by``):
   ``"noise_rate"`` (PBNR) -- for each off-diagonal cell, the ``Q[i, j]`` items given ``i``
   with the largest margin ``p_j - p_i``; ``"class"`` (PBC) -- for each class, the
   ``n_i - Q[i, i]`` items given ``i`` with the lowest ``p_i``, where ``Q`` is ``Q~`` rounded
   to integers row by row, each row keeping its total ``n_i`` (largest remainders); ``"both"`` --
   items flagged by both (C+NR); ``"confident_joint"`` -- items in an off-diagonal cell of
   ``C``; ``"argmax"`` -- the baseline ``argmax p != given`` (C_confusion).

Everywhere, an item whose given label is among its most probable classes is not flagged: the
model then gives no evidence against the label. Ties at a pruning cut are all flagged, so the
result does not depend on the order of the items.

Every step is a reduction over integer-coded arrays (``np.bincount``, row-wise argmax,
one sort per class); there is no Python loop over items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality.label_scores import (
    SCORES,
    Score,
    _best_other,
    _coded,
    _scores,
    _self_confidence,
    label_quality_scores,
)

__all__ = [
    "FILTERS",
    "SCORES",
    "estimate_joint",
    "find_label_issues",
    "label_quality_scores",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

Filter = Literal["noise_rate", "class", "both", "confident_joint", "argmax"]
FILTERS: tuple[str, ...] = ("noise_rate", "class", "both", "confident_joint", "argmax")


# --------------------------------------------------------------------------- the joint
def _thresholds(p: FloatArray, y: IntArray) -> FloatArray:
    """Per-class threshold ``t_j``: mean ``p_j`` over items given label ``j`` (inf if none)."""
    k = p.shape[1]
    counts = np.bincount(y, minlength=k)
    total = np.bincount(y, weights=_self_confidence(p, y), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / np.maximum(counts, 1), np.inf)


def _confident_labels(p: FloatArray, t: FloatArray) -> IntArray:
    """Each item's most probable class among those reaching their threshold; -1 if none."""
    above = p >= t[None, :]
    best = np.where(above, p, -1.0).argmax(axis=1)
    out: IntArray = np.where(above.any(axis=1), best, -1)
    return out


def _joint(y: IntArray, ystar: IntArray, k: int) -> tuple[FloatArray, FloatArray]:
    """Confident joint counts ``C`` (K x K) and calibrated counts ``Q~`` (rows sum to n_i)."""
    counted = ystar >= 0
    flat = y[counted] * k + ystar[counted]
    c = np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.float64)
    n_i = np.bincount(y, minlength=k).astype(np.float64)
    row = c.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(row > 0, c / np.where(row > 0, row, 1.0), 0.0) * n_i[:, None]
    return c, q


def estimate_joint(
    labels: Any,
    pred_probs: Any,
    *,
    classes: Sequence[object] | None = None,
) -> dict[str, Any]:
    """The confident-learning estimates behind :func:`find_label_issues`.

    Returns a dict with ``thresholds`` (Series, class -> ``t_j``), ``confident_joint``
    (DataFrame, given x true counts ``C``), ``joint`` (calibrated ``Q``, sums to 1),
    ``noise_rate`` (``P(given = i | true = j)``, columns sum to 1) and ``n_issues_estimated``
    (``n * (1 - trace Q)``, rounded).

    Examples
    --------
    >>> est = estimate_joint([0, 0, 1, 1], [[.9, .1], [.1, .9], [.1, .9], [.2, .8]])
    >>> est["thresholds"].round(2).tolist()  # mean p_0 over items given 0, p_1 over given 1
    [0.5, 0.85]
    >>> est["confident_joint"].to_numpy().tolist()  # the last item reaches no threshold
    [[1.0, 1.0], [0.0, 1.0]]
    """
    c = _coded(labels, pred_probs, classes)
    k = c.p.shape[1]
    t = _thresholds(c.p, c.y)
    cj, q = _joint(c.y, _confident_labels(c.p, t), k)
    names = c.classes if c.classes is not None else pd.RangeIndex(k)
    total = q.sum()
    joint = q / total if total > 0 else q
    col = joint.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        noise = np.where(col > 0, joint / np.where(col > 0, col, 1.0), np.nan)
    frame = {
        "index": pd.Index(names, name="given_label"),
        "columns": pd.Index(names, name="true_label"),
    }
    return {
        "thresholds": pd.Series(t, index=pd.Index(names, name="label"), name="threshold"),
        "confident_joint": pd.DataFrame(cj, **frame),
        "joint": pd.DataFrame(joint, **frame),
        "noise_rate": pd.DataFrame(noise, **frame),
        "n_issues_estimated": int(np.rint(total - np.trace(q))),
    }


# --------------------------------------------------------------------------- pruning
def _integer_joint(q: FloatArray) -> IntArray:
    """``Q~`` as integer counts, each row apportioned by largest remainders (Hamilton's
    method) so that it still sums to its class size ``n_i`` (0 for a class with no item in
    the confident joint).

    Row ``i`` of ``Q~`` splits the ``n_i`` items given label ``i`` among the true classes; the
    integer table keeps that total, so PBC prunes ``n_i - Q[i, i]`` items and PBNR prunes the
    same number spread over the off-diagonal cells. (Rounding each cell alone drifts from the
    total whenever several cells sit near one half.)
    """
    total = np.rint(q.sum(axis=1)).astype(np.intp)
    base = np.floor(q).astype(np.intp)
    short = total - base.sum(axis=1)  # units left to hand out per row, in [0, K)
    frac = q - base
    rank = np.argsort(np.argsort(-frac, axis=1, kind="stable"), axis=1, kind="stable")
    out: IntArray = base + (rank < short[:, None])
    return out


def _prune_by_class(p: FloatArray, y: IntArray, counts: IntArray) -> BoolArray:
    """PBC: in each class ``i``, the ``n_i - Q[i, i]`` items with the lowest ``p_i``
    (``Q`` from :func:`_integer_joint`; ties at the cut included)."""
    k = p.shape[1]
    n_i = np.bincount(y, minlength=k)
    count = np.clip(counts.sum(axis=1) - np.diag(counts), 0, n_i)
    sc = _self_confidence(p, y)
    # one sort by (class, self-confidence): each class's lowest values come first
    order = np.lexsort((sc, y))
    start = np.concatenate(([0], np.cumsum(n_i)[:-1]))
    last = start + count - 1  # position of each class's cut value in ``order``
    cut = np.where(count > 0, sc[order[np.clip(last, 0, None)]], -np.inf)
    out: BoolArray = sc <= cut[y]
    return out


def _prune_by_noise_rate(p: FloatArray, y: IntArray, counts: IntArray) -> BoolArray:
    """PBNR: for each off-diagonal cell ``(i, j)``, the ``Q[i, j]`` items given ``i`` with the
    largest margin ``p_j - p_i`` (``Q`` from :func:`_integer_joint`; ties at the cut
    included)."""
    count = counts.copy()
    np.fill_diagonal(count, 0)
    flagged = np.zeros(p.shape[0], dtype=np.bool_)
    for i in np.flatnonzero(count.sum(axis=1) > 0):  # a loop over classes, not items
        members = np.flatnonzero(y == i)
        margin = p[members] - p[members, i][:, None]  # (n_i, K)
        cells = np.flatnonzero(count[i])
        top = np.sort(margin[:, cells], axis=0)  # ascending per column
        take = np.minimum(count[i, cells], members.size)
        cut = top[members.size - take, np.arange(cells.size)]
        flagged[members[(margin[:, cells] >= cut[None, :]).any(axis=1)]] = True
    return flagged


def _flags(p: FloatArray, y: IntArray, filter_by: str) -> tuple[BoolArray, IntArray, FloatArray]:
    """Raw flags of ``filter_by``, the confident labels and the thresholds."""
    k = p.shape[1]
    t = _thresholds(p, y)
    ystar = _confident_labels(p, t)
    if filter_by == "argmax":
        return p.argmax(axis=1) != y, ystar, t
    if filter_by == "confident_joint":
        return (ystar >= 0) & (ystar != y), ystar, t
    counts = _integer_joint(_joint(y, ystar, k)[1])
    if filter_by == "class":
        return _prune_by_class(p, y, counts), ystar, t
    by_nr = _prune_by_noise_rate(p, y, counts)
    if filter_by == "noise_rate":
        return by_nr, ystar, t
    return by_nr & _prune_by_class(p, y, counts), ystar, t


def _decode(codes: IntArray, classes: pd.Index | None) -> Any:
    """Label codes back to the caller's vocabulary; -1 becomes a missing value."""
    missing = codes < 0
    if classes is None:
        out = pd.array(codes, dtype="Int64")
        if missing.any():
            out[missing] = pd.NA
        return out
    values = np.asarray(classes.take(np.where(missing, 0, codes)), dtype=object)
    if missing.any():
        values[missing] = None
    return values


def find_label_issues(
    labels: Any,
    pred_probs: Any,
    *,
    filter_by: Filter = "noise_rate",
    score: Score = "self_confidence",
    classes: Sequence[object] | None = None,
) -> pd.DataFrame:
    """Find items whose given label is probably wrong, by confident learning.

    Parameters
    ----------
    labels : array-like or Series, shape (n,)
        Given labels: class indexes ``0..K-1``, or any values with ``classes=``. A Series keeps
        its index in the result.
    pred_probs : array-like or DataFrame, shape (n, K)
        **Out-of-sample** predicted class probabilities (e.g. from
        :func:`truthset.modeling.out_of_fold_probabilities`); rows sum to 1. A DataFrame's
        columns name the classes. In-sample probabilities hide errors the model memorised.
    filter_by : {"noise_rate", "class", "both", "confident_joint", "argmax"}
        Which items to flag (see the module docstring); ``"noise_rate"`` is the default.
    score : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        How ``label_quality`` is computed (see :func:`label_quality_scores`).
    classes : sequence, optional
        Names of the columns of ``pred_probs`` in order.

    Returns
    -------
    DataFrame, one row per item (index: the Series index or 0..n-1), columns:
    ``given_label``; ``is_issue``; ``label_quality`` (in [0, 1], lower = more likely wrong;
    sort by it to review the worst first); ``suggested_label`` (the model's most probable
    other label for issues, the given label otherwise); ``predicted_label`` (argmax);
    ``p_given`` and ``p_suggested`` (the model's probabilities of those labels);
    ``given_threshold`` (``t`` of the given class: how confident the model usually is on items
    given that label); ``confident_label`` (the class the item counted towards in the
    confident joint, missing if it reached no threshold).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 5 + [1] * 5)
    >>> p = np.where(y[:, None] == np.arange(2), 0.9, 0.1)
    >>> p[0] = [0.05, 0.95]  # item 0 is labelled 0 but looks like a 1
    >>> find_label_issues(y, p)["is_issue"].to_numpy().nonzero()[0].tolist()
    [0]
    """
    if filter_by not in FILTERS:
        raise InvalidInput(f"filter_by={filter_by!r} is unknown; use one of {FILTERS}.")
    if score not in SCORES:
        raise InvalidInput(f"score={score!r} is not a label quality score; use one of {SCORES}.")
    c = _coded(labels, pred_probs, classes)
    p, y = c.p, c.y
    raw, ystar, t = _flags(p, y, filter_by)
    p_given = _self_confidence(p, y)
    p_other, other = _best_other(p, y)
    # no evidence against a label the model ranks first (ties included)
    is_issue = raw & (p_other > p_given)
    suggested = np.where(is_issue, other, y)
    return pd.DataFrame(
        {
            "given_label": _decode(y, c.classes),
            "is_issue": is_issue,
            "label_quality": _scores(p, y, score),
            "suggested_label": _decode(suggested, c.classes),
            "predicted_label": _decode(p.argmax(axis=1), c.classes),
            "p_given": p_given,
            "p_suggested": np.where(is_issue, p_other, p_given),
            "given_threshold": t[y],
            "confident_label": _decode(ystar, c.classes),
        },
        index=c.index,
    )
