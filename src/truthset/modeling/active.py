"""Uncertainty scores for active learning: which unlabelled items to annotate next.

All three take ``(n, K)`` class probabilities and return ``(n,)`` scores where **higher
means more uncertain** (annotate first), so a queue can sort by any of them the same way
(Settles 2009, "Active Learning Literature Survey", section 3.1):

* ``least_confidence``: ``1 - max_k p_k``;
* ``margin``: ``1 - (p_(1) - p_(2))``, one minus the gap between the two most probable
  classes;
* ``entropy``: ``-sum_k p_k log p_k / log K``, normalised to [0, 1].
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from truthset.core.errors import InvalidInput
from truthset.modeling._encode import check_proba

__all__ = ["entropy", "least_confidence", "margin", "rank_by_uncertainty", "uncertainty"]

FloatArray = npt.NDArray[np.float64]
Method = Literal["least_confidence", "margin", "entropy"]


def _p(proba: Any) -> FloatArray:
    arr = np.asarray(proba, dtype=np.float64)
    return check_proba(arr, arr.shape[0] if arr.ndim else -1)


def least_confidence(proba: Any) -> FloatArray:
    """``1 - max_k p_k`` per item.

    >>> least_confidence([[0.9, 0.1], [0.5, 0.5]]).round(2).tolist()
    [0.1, 0.5]
    """
    return np.asarray(1.0 - _p(proba).max(axis=1))


def margin(proba: Any) -> FloatArray:
    """``1 - (p_(1) - p_(2))`` per item (1: the top two classes tie).

    >>> margin([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]]).round(2).tolist()
    [0.5, 1.0]
    """
    p = _p(proba)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return np.asarray(1.0 - (top2[:, 0] - top2[:, 1]))


def entropy(proba: Any) -> FloatArray:
    """Shannon entropy of each row divided by ``log K`` (0: certain, 1: uniform).

    >>> entropy([[1.0, 0.0], [0.5, 0.5]]).round(2).tolist()
    [0.0, 1.0]
    """
    p = _p(proba)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(p > 0, -p * np.log(p), 0.0).sum(axis=1)
    return np.asarray(h / np.log(p.shape[1]))


_METHODS = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


def uncertainty(proba: Any, method: Method = "entropy") -> FloatArray:
    """The score named ``method`` (``least_confidence``, ``margin`` or ``entropy``)."""
    if method not in _METHODS:
        raise InvalidInput(f"method must be one of {sorted(_METHODS)}; got {method!r}.")
    return _METHODS[method](proba)


def rank_by_uncertainty(proba: Any, method: Method = "entropy") -> npt.NDArray[np.int64]:
    """Item positions, most uncertain first (ties keep input order)."""
    return np.argsort(-uncertainty(proba, method), kind="mergesort").astype(np.int64)
