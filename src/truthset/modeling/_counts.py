"""Classification metrics from confusion counts, vectorised over bootstrap replicates (private).

Every function takes confusion counts ``cm`` of shape ``(..., K, K)`` (rows: true class,
columns: predicted class) and returns arrays with the leading ``...`` shape, so the point
estimate (shape ``(K, K)``) and a batch of bootstrap replicates (``(B, K, K)``) go through
the same code. Conventions follow scikit-learn so the point estimates equal its functions:

* precision, recall, F1 of a class whose denominator is 0 are 0 (``zero_division=0``);
* macro averages run over the classes present in the truth or the predictions of that
  sample (scikit-learn's default ``labels=unique_labels(y_true, y_pred)``);
* MCC is the multiclass ``R_K`` statistic (Gorodkin 2004), 0 when undefined.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def per_class(cm: FloatArray) -> dict[str, npt.NDArray[Any]]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` (true count), shape (..., K)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    true_n = cm.sum(axis=-1)
    pred_n = cm.sum(axis=-2)
    return {
        "precision": _div(tp, pred_n),
        "recall": _div(tp, true_n),
        "f1": _div(2.0 * tp, true_n + pred_n),
        "support": true_n,
        "present": (true_n + pred_n) > 0,
    }


def _macro(values: FloatArray, present: npt.NDArray[np.bool_]) -> FloatArray:
    n_present = present.sum(axis=-1)
    total = np.where(present, values, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_present > 0, total / np.maximum(n_present, 1), np.nan)


def summary(cm: FloatArray, positive: int | None = None) -> dict[str, FloatArray]:
    """Headline metrics from confusion counts; ``positive`` adds binary P/R/F1 of that class.

    Fields: ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
    ``weighted_f1``, ``micro_f1`` (equal to accuracy for single-label data), ``mcc``, and with
    ``positive`` also ``precision``, ``recall``, ``f1``.
    """
    pc = per_class(cm)
    n = cm.sum(axis=(-2, -1))
    correct = np.trace(cm, axis1=-2, axis2=-1)
    t = cm.sum(axis=-1)
    p = cm.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(n > 0, correct / np.where(n > 0, n, 1.0), np.nan)
        cov_tp = correct * n - (t * p).sum(axis=-1)
        cov_pp = n * n - (p * p).sum(axis=-1)
        cov_tt = n * n - (t * t).sum(axis=-1)
        den = np.sqrt(cov_tt * cov_pp)
        mcc = np.where(den > 0, cov_tp / np.where(den > 0, den, 1.0), 0.0)
    out = {
        "accuracy": accuracy,
        "macro_precision": _macro(pc["precision"], pc["present"]),
        "macro_recall": _macro(pc["recall"], pc["present"]),
        "macro_f1": _macro(pc["f1"], pc["present"]),
        "weighted_f1": _div((pc["f1"] * t).sum(axis=-1), t.sum(axis=-1)),
        "micro_f1": accuracy,
        "mcc": mcc,
    }
    if positive is not None:
        out["precision"] = pc["precision"][..., positive]
        out["recall"] = pc["recall"][..., positive]
        out["f1"] = pc["f1"][..., positive]
    return out
