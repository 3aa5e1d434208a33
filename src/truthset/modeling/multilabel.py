"""Evaluate multi-label predictions (an item may carry several labels) with intervals.

Inputs are ``(n, L)`` 0/1 indicator matrices (``MultiLabelBinarizer`` output) and optionally
``(n, L)`` per-label probabilities. Per label, the true-positive / false-positive /
false-negative counts of every bootstrap resample come from one matrix product of the
``(n_boot, n)`` draw counts with the per-item indicators, so the whole bootstrap is a few
matrix products. Point estimates equal scikit-learn's ``f1_score`` (micro, macro),
``precision_score`` / ``recall_score`` (micro), ``accuracy_score`` (subset accuracy),
``hamming_loss``, and ``roc_auc_score`` / ``average_precision_score`` (macro over labels).
Macro averages run over all labels (scikit-learn's behaviour for indicator input), a label
with no true and no predicted item scoring F1 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling._ranking import SortedScores, macro
from truthset.modeling._resample import (
    bootstrap,
    check_bootstrap_args,
    draw_counts,
    percentile_interval,
)
from truthset.modeling.evaluate import Evaluation

__all__ = ["evaluate_multilabel"]

FloatArray = npt.NDArray[np.float64]


def _indicator(y: Any, name: str, shape: tuple[int, ...] | None = None) -> FloatArray:
    arr = y.to_numpy() if isinstance(y, pd.DataFrame) else np.asarray(y)
    if arr.ndim != 2:
        raise InvalidInput(
            f"{name} must be an (items, labels) 0/1 indicator matrix; got shape {arr.shape}. "
            "Build it with sklearn.preprocessing.MultiLabelBinarizer."
        )
    if shape is not None and arr.shape != shape:
        raise InvalidInput(f"{name} has shape {arr.shape}; expected {shape} like y_true.")
    if not np.isin(arr, (0, 1)).all():
        raise InvalidInput(f"{name} must hold only 0 and 1.")
    return arr.astype(np.float64)


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


class _MultiScorer:
    def __init__(self, yt: FloatArray, yp: FloatArray, proba: FloatArray | None) -> None:
        self.n, self.l = yt.shape
        self.tp = yt * yp
        self.fp = (1 - yt) * yp
        self.fn = yt * (1 - yp)
        self.exact = (yt == yp).all(axis=1).astype(np.float64)
        self.wrong = (yt != yp).sum(axis=1).astype(np.float64)
        self.rank = None if proba is None else [SortedScores(proba[:, j], yt[:, j] > 0) for j in range(self.l)]

    def scores(self, idx: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
        w = draw_counts(idx, self.n)
        tp, fp, fn = w @ self.tp, w @ self.fp, w @ self.fn  # (B, L)
        total = w.sum(axis=1)
        stp, sfp, sfn = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
        out = {
            "subset_accuracy": (w @ self.exact) / total,
            "hamming_loss": (w @ self.wrong) / (total * self.l),
            "micro_precision": _div(stp, stp + sfp),
            "micro_recall": _div(stp, stp + sfn),
            "micro_f1": _div(2 * stp, 2 * stp + sfp + sfn),
            "macro_precision": _div(tp, tp + fp).mean(axis=1),
            "macro_recall": _div(tp, tp + fn).mean(axis=1),
            "macro_f1": _div(2 * tp, 2 * tp + fp + fn).mean(axis=1),
        }
        f1 = _div(2 * tp, 2 * tp + fp + fn)
        prec, rec = _div(tp, tp + fp), _div(tp, tp + fn)
        for j in range(self.l):
            out[f"label{j}_precision"], out[f"label{j}_recall"] = prec[:, j], rec[:, j]
            out[f"label{j}_f1"] = f1[:, j]
        if self.rank is not None:
            both = [r.both(idx) for r in self.rank]
            aucs = np.stack([b[0] for b in both], axis=1)
            aps = np.stack([b[1] for b in both], axis=1)
            out["roc_auc"], out["pr_auc"] = macro(aucs), macro(aps)
            for j in range(self.l):
                out[f"label{j}_roc_auc"], out[f"label{j}_pr_auc"] = aucs[:, j], aps[:, j]
        return out


def evaluate_multilabel(
    y_true: Any,
    y_pred: Any = None,
    *,
    proba: Any = None,
    labels: Any = None,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> Evaluation:
    """Multi-label metrics with bootstrap intervals over items.

    ``y_true`` / ``y_pred`` are ``(n, L)`` 0/1 matrices (a DataFrame's columns name the
    labels); ``y_pred`` defaults to ``proba >= threshold``. Fields: ``subset_accuracy``,
    ``hamming_loss``, ``micro_precision``, ``micro_recall``, ``micro_f1``,
    ``macro_precision``, ``macro_recall``, ``macro_f1``, with probabilities ``roc_auc`` and
    ``pr_auc`` (macro over labels), each with ``_ci_low`` / ``_ci_high``; ``n_test``,
    ``n_labels``. ``per_class`` has one row per label; ``confusion`` per label TP/FP/FN/TN.
    """
    check_bootstrap_args(n_boot, confidence)
    yt = _indicator(y_true, "y_true")
    p = None
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.shape != yt.shape or not np.isfinite(p).all():
            raise InvalidInput(f"proba must be finite with shape {yt.shape}; got {p.shape}.")
    if y_pred is None:
        if p is None:
            raise InvalidInput("pass y_pred (0/1 matrix) or proba (per-label probabilities).")
        yp = (p >= threshold).astype(np.float64)
    else:
        yp = _indicator(y_pred, "y_pred", yt.shape)
    if labels is None:
        labels = list(y_true.columns) if isinstance(y_true, pd.DataFrame) else list(range(yt.shape[1]))
    if len(labels) != yt.shape[1]:
        raise InvalidInput(f"labels has {len(labels)} names for {yt.shape[1]} columns.")
    scorer = _MultiScorer(yt, yp, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        point = {k: float(v[0]) for k, v in scorer.scores(np.arange(scorer.n)[None]).items()}
    names = sorted(point)
    ci: dict[str, tuple[float, float]] = {}
    if n_boot:
        reps = bootstrap(
            scorer.n,
            lambda idx: np.stack([v for _, v in sorted(scorer.scores(idx).items())], axis=1),
            n_boot=n_boot,
            seed=seed,
        )
        lows, highs = percentile_interval(reps, confidence, what="a metric")
        ci = {k: (float(a), float(b)) for k, a, b in zip(names, lows, highs, strict=True)}
    metrics: dict[str, Any] = {"n_test": scorer.n, "n_labels": scorer.l}
    rows: dict[str, list[Any]] = {"label": list(labels), "support": yt.sum(axis=0).astype(int)}
    for name in names:
        lo, hi = ci.get(name, (np.nan, np.nan))
        if name.startswith("label"):
            j, metric = name[5:].split("_", 1)
            for key, v in ((metric, point[name]), (f"{metric}_ci_low", lo), (f"{metric}_ci_high", hi)):
                rows.setdefault(key, [np.nan] * scorer.l)[int(j)] = v
            continue
        metrics[name] = point[name]
        if n_boot:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = lo, hi
    counts = pd.DataFrame(
        {
            "tp": scorer.tp.sum(axis=0),
            "fp": scorer.fp.sum(axis=0),
            "fn": scorer.fn.sum(axis=0),
        },
        index=pd.Index(labels, name="label"),
    ).astype(np.int64)
    counts["tn"] = scorer.n - counts.sum(axis=1)
    settings = {"n_boot": n_boot, "confidence": confidence, "seed": seed, "threshold": threshold}
    return Evaluation(metrics, pd.DataFrame(rows), counts, None, settings)
