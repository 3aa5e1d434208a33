"""Label quality scores for given labels under predicted probabilities, and the input checks
shared with :mod:`truthset.quality.label_issues`.

Each score is in [0, 1], lower meaning the given label is more likely wrong (Kuan & Mueller,
"Model-agnostic label quality scoring to detect real-world label errors", 2022, define the
three): self-confidence ``p[y]``; normalized margin ``(p[y] - max_{j != y} p[j] + 1) / 2``;
confidence-weighted entropy ``p[y] / H(p)`` (``H`` normalised by ``log K``), mapped to [0, 1]
by ``r / (1 + r)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput

__all__ = ["SCORES", "label_quality_scores"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

Score = Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
SCORES: tuple[str, ...] = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")

#: Rows of ``pred_probs`` must sum to 1 within this tolerance.
_SUM_TOL = 1e-3


@dataclass(frozen=True)
class _Coded:
    """Validated inputs: label codes (n,), probabilities (n, K), class names, row index."""

    y: IntArray
    p: FloatArray
    classes: pd.Index | None
    index: pd.Index


def _coded(labels: Any, pred_probs: Any, classes: Sequence[object] | None) -> _Coded:
    """Check and encode ``labels`` and ``pred_probs`` (see :func:`find_label_issues`)."""
    if isinstance(pred_probs, pd.DataFrame):
        if classes is None:
            classes = list(pred_probs.columns)
        pred_probs = pred_probs.to_numpy()
    p = np.asarray(pred_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InvalidInput(
            f"pred_probs must be a 2-D array (items x classes) with at least two classes; got "
            f"shape {p.shape}. Pass one row of class probabilities per item."
        )
    if not np.isfinite(p).all() or p.min(initial=0.0) < 0 or p.max(initial=0.0) > 1 + _SUM_TOL:
        valid = np.isfinite(p) & (p >= 0) & (p <= 1 + _SUM_TOL)
        bad = int(np.flatnonzero(~valid.all(axis=1))[0])
        raise InvalidInput(
            f"pred_probs must hold probabilities in [0, 1]; row {bad} is {p[bad][:6].tolist()}... "
            "Pass predict_proba output (apply a softmax to raw scores first)."
        )
    sums = p.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOL)
    if off.size:
        raise InvalidInput(
            f"each row of pred_probs must sum to 1; {off.size} row(s) do not, e.g. row "
            f"{int(off[0])} sums to {sums[off[0]]:.4f}. Normalise them: p / p.sum(axis=1)[:, None]."
        )
    index = labels.index if isinstance(labels, pd.Series) else pd.RangeIndex(p.shape[0])
    raw = np.asarray(labels.to_numpy() if isinstance(labels, pd.Series) else labels)
    if raw.ndim != 1 or raw.shape[0] != p.shape[0]:
        raise InvalidInput(
            f"labels must be 1-D with one entry per row of pred_probs ({p.shape[0]}); got shape {raw.shape}."
        )
    k = p.shape[1]
    if classes is not None:
        names = pd.Index(list(classes))
        if len(names) != k or not names.is_unique:
            raise InvalidInput(
                f"classes must name the {k} columns of pred_probs once each, in order; got {list(names)[:10]}."
            )
        y = names.get_indexer(raw)
        if (y < 0).any():
            unknown = pd.unique(raw[y < 0])[:5].tolist()
            raise InvalidInput(
                f"label(s) {unknown} are not among the classes {list(names)[:10]}; "
                "add them to classes (and pred_probs) or fix the labels."
            )
        return _Coded(y.astype(np.intp), p, names, index)
    if raw.dtype.kind not in "iu":
        raise InvalidInput(
            f"labels of dtype {raw.dtype} need classes=[...] naming the columns of pred_probs "
            "(or pass pred_probs as a DataFrame whose columns are the classes)."
        )
    if raw.size and (raw.min() < 0 or raw.max() >= k):
        raise InvalidInput(
            f"integer labels must be class indexes in [0, {k - 1}] (the columns of pred_probs); "
            f"got values from {raw.min()} to {raw.max()}."
        )
    return _Coded(raw.astype(np.intp), p, None, index)


# --------------------------------------------------------------------------- scores
def _self_confidence(p: FloatArray, y: IntArray) -> FloatArray:
    out: FloatArray = np.take_along_axis(p, y[:, None], axis=1)[:, 0]
    return out


def _best_other(p: FloatArray, y: IntArray) -> tuple[FloatArray, IntArray]:
    """Largest probability among the classes other than ``y`` and which class it is."""
    others = p.copy()
    np.put_along_axis(others, y[:, None], -1.0, axis=1)
    best = others.argmax(axis=1)
    top: FloatArray = np.take_along_axis(others, best[:, None], axis=1)[:, 0]
    return top, best


def _scores(p: FloatArray, y: IntArray, method: str) -> FloatArray:
    """Label quality in [0, 1] of label ``y`` under ``p`` (lower = more likely wrong)."""
    sc = _self_confidence(p, y)
    if method == "self_confidence":
        return sc
    if method == "normalized_margin":
        other, _ = _best_other(p, y)
        out: FloatArray = (sc - other + 1.0) / 2.0
        return out
    # confidence-weighted entropy: self-confidence divided by the entropy of p normalised
    # to [0, 1] (Kuan & Mueller 2022), mapped monotonically from [0, inf] to [0, 1].
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = np.maximum(-plogp.sum(axis=1) / np.log(p.shape[1]), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(entropy > 0, sc / np.where(entropy > 0, entropy, 1.0), np.inf)
    finite = np.isfinite(ratio)
    squashed = np.where(finite, ratio, 0.0) / (1.0 + np.where(finite, ratio, 0.0))
    return np.where(finite, squashed, np.where(sc > 0, 1.0, 0.0))


def label_quality_scores(
    labels: Any,
    pred_probs: Any,
    *,
    method: Score = "self_confidence",
    classes: Sequence[object] | None = None,
) -> npt.NDArray[np.float64]:
    """Score each given label in [0, 1]; lower means more likely wrong.

    ``self_confidence`` is ``p[y]``; ``normalized_margin`` is ``(p[y] - max_{j != y} p[j] + 1)
    / 2``; ``confidence_weighted_entropy`` is ``r / (1 + r)`` with ``r = p[y] / H(p)`` and
    ``H`` the entropy normalised by ``log K``. ``labels`` and ``pred_probs`` as for
    :func:`find_label_issues`. Returns shape ``(n,)``.

    Examples
    --------
    >>> label_quality_scores([0, 1], [[0.9, 0.1], [0.8, 0.2]]).round(2).tolist()
    [0.9, 0.2]
    """
    if method not in SCORES:
        raise InvalidInput(f"method={method!r} is not a label quality score; use one of {SCORES}.")
    c = _coded(labels, pred_probs, classes)
    return _scores(c.p, c.y, method)
