"""Evaluate single-label predictions with bootstrap 95% intervals, overall and by slice.

Every metric comes with a percentile bootstrap interval over test items (resampled with
replacement, ``n_boot`` times, seeded). The bootstrap is vectorised: a batch of resamples is
an ``(n_boot, n)`` index array, confusion counts for all of them come from one
``np.bincount`` and every count-based metric (accuracy, P/R/F1, MCC) is array arithmetic on
those counts; ROC-AUC and PR-AUC count positives and negatives per tied-score group, and ECE
per confidence bin, with one ``np.bincount`` per batch as well (scores grouped once).
Point estimates equal scikit-learn's ``accuracy_score``, ``precision_recall_fscore_support``,
``f1_score`` (macro, micro, weighted), ``matthews_corrcoef``, ``roc_auc_score``
(one-vs-rest macro for more than two classes), ``average_precision_score`` and
``log_loss`` (the tests check each).

Field names are plain: ``accuracy``, ``accuracy_ci_low``, ``accuracy_ci_high``,
``macro_f1``, ``micro_f1``, ``mcc``, ``roc_auc``, ``pr_auc``, ``ece``, ``log_loss``,
``n_test``; binary problems add ``precision``, ``recall``, ``f1`` of the positive class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling import _counts
from truthset.modeling._encode import Encoded, as_1d, encode
from truthset.modeling._ranking import SortedScores, macro, one_vs_rest
from truthset.modeling._resample import (
    bootstrap,
    check_bootstrap_args,
    confusion_batch,
    percentile_interval,
)
from truthset.modeling.calibration import CalibrationBins, _check_bins

__all__ = ["Evaluation", "evaluate", "evaluate_by_slice"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_EPS = 1e-15  # scikit-learn's log_loss clips at the float64 machine epsilon; close enough


@dataclass
class Evaluation:
    """The result of :func:`evaluate`.

    ``metrics`` is flat (name -> number) with ``<name>_ci_low`` / ``<name>_ci_high``;
    ``per_class`` has one row per class (support, precision, recall, f1 with intervals, and
    roc_auc / pr_auc when probabilities were given); ``confusion`` is true x predicted counts;
    ``reliability`` the reliability diagram (or ``None`` without probabilities).
    """

    metrics: dict[str, Any]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    reliability: pd.DataFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: metrics, per_class records, confusion, reliability, settings."""
        return {
            **self.metrics,
            "per_class": _records(self.per_class),
            "confusion": {
                "labels": [_plain(c) for c in self.confusion.index],
                "matrix": self.confusion.to_numpy().tolist(),
            },
            "reliability": None if self.reliability is None else _records(self.reliability),
            "settings": self.settings,
        }


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else _plain(v)) for k, v in r.items()}
        for r in df.to_dict(orient="records")
    ]


class _Scorer:
    """All metrics of one encoded test set, for the full set and for resamples of it."""

    def __init__(self, enc: Encoded, positive: int | None, n_bins: int) -> None:
        self.enc = enc
        self.positive = positive
        self.rank: list[SortedScores] | None = None
        self.cal: CalibrationBins | None = None
        self.item_loss: FloatArray | None = None
        if enc.proba is not None:
            p = enc.proba
            if positive is not None:
                self.rank = [SortedScores(p[:, positive], enc.true == positive)]
            else:
                self.rank = one_vs_rest(p, enc.true, enc.k)
            self.cal = CalibrationBins(enc, n_bins)
            # rows renormalised as scikit-learn's log_loss does
            pr = p[np.arange(enc.n), enc.true] / p.sum(axis=1)
            self.item_loss = -np.log(np.clip(pr, _EPS, 1.0))

    def scores(self, cm: FloatArray, idx: IntArray) -> dict[str, FloatArray]:
        """Headline metrics for confusion counts ``cm`` (B, K, K) of the resamples ``idx``."""
        out = _counts.summary(cm, self.positive)
        pc = _counts.per_class(cm)
        for c in range(self.enc.k):
            out[f"class{c}_precision"] = pc["precision"][:, c]
            out[f"class{c}_recall"] = pc["recall"][:, c]
            out[f"class{c}_f1"] = pc["f1"][:, c]
        if self.rank is not None:
            both = [r.both(idx) for r in self.rank]
            aucs = np.stack([b[0] for b in both], axis=1)
            aps = np.stack([b[1] for b in both], axis=1)
            out["roc_auc"], out["pr_auc"] = macro(aucs), macro(aps)
            if self.positive is None:
                for c in range(self.enc.k):
                    out[f"class{c}_roc_auc"], out[f"class{c}_pr_auc"] = aucs[:, c], aps[:, c]
        if self.cal is not None and self.item_loss is not None:
            out["ece"] = self.cal.ece(idx)
            out["log_loss"] = self.item_loss[idx].mean(axis=1)
        return out

    def point(self) -> dict[str, FloatArray]:
        idx = np.arange(self.enc.n)[None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.scores(confusion_batch(self.enc.true, self.enc.pred, self.enc.k, idx), idx)

    def replicate(self, idx: IntArray) -> FloatArray:
        cm = confusion_batch(self.enc.true, self.enc.pred, self.enc.k, idx)
        s = self.scores(cm, idx)
        return np.stack([s[k] for k in sorted(s)], axis=1)


def _positive_code(enc: Encoded, positive: Any) -> int | None:
    if enc.k != 2:
        if positive is not None:
            raise InvalidInput(f"positive= only applies to two-class problems; there are {enc.k} classes.")
        return None
    if positive is None:
        return 1
    hits = np.flatnonzero(pd.Index(enc.classes) == positive)
    if hits.size == 0:
        raise InvalidInput(f"positive={positive!r} is not one of the classes {list(enc.classes)}.")
    return int(hits[0])


def _score(
    enc: Encoded,
    positive: Any,
    *,
    n_boot: int,
    confidence: float,
    seed: int | None,
    n_bins: int,
) -> tuple[dict[str, Any], pd.DataFrame, CalibrationBins | None]:
    pos = _positive_code(enc, positive)
    scorer = _Scorer(enc, pos, n_bins)
    point = {k: float(v[0]) for k, v in scorer.point().items()}
    names = sorted(point)
    ci: dict[str, tuple[float, float]] = {}
    if n_boot:
        reps = bootstrap(enc.n, scorer.replicate, n_boot=n_boot, seed=seed)
        lows, highs = percentile_interval(reps, confidence, what="a metric")
        ci = {k: (float(lo), float(hi)) for k, lo, hi in zip(names, lows, highs, strict=True)}
    metrics: dict[str, Any] = {"n_test": enc.n, "n_classes": enc.k}
    rows: dict[str, list[Any]] = {"class": list(enc.classes)}
    support = np.bincount(enc.true, minlength=enc.k)
    rows["support"] = support.tolist()
    for name in names:
        lo, hi = ci.get(name, (np.nan, np.nan))
        if name.startswith("class"):
            c, metric = name[5:].split("_", 1)
            for key, v in ((metric, point[name]), (f"{metric}_ci_low", lo), (f"{metric}_ci_high", hi)):
                rows.setdefault(key, [np.nan] * enc.k)[int(c)] = v
            continue
        metrics[name] = point[name]
        if n_boot:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = lo, hi
    per_class = pd.DataFrame(rows)
    first = ["class", "support"]
    order = [
        f"{m}{sfx}" for m in ("precision", "recall", "f1", "roc_auc", "pr_auc") for sfx in ("", "_ci_low", "_ci_high")
    ]
    cols = first + [c for c in order if c in per_class.columns]
    return metrics, per_class[cols], scorer.cal


def evaluate(
    y_true: Any,
    y_pred: Any = None,
    *,
    proba: Any = None,
    classes: Any = None,
    positive: Any = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    n_bins: int = 15,
) -> Evaluation:
    """Every single-label metric with a bootstrap interval.

    Parameters
    ----------
    y_true, y_pred
        Labels of the ``n`` test items (any hashable values). ``y_pred`` defaults to the
        most probable class of ``proba``.
    proba
        ``(n, K)`` class probabilities, columns in ``classes`` order (a DataFrame's columns
        are used as classes); enables ``roc_auc``, ``pr_auc``, ``ece``, ``log_loss``.
    classes
        The class labels in order; defaults to the sorted labels seen.
    positive
        For two classes, the positive class for ``precision``/``recall``/``f1``/``roc_auc``
        /``pr_auc`` (default ``classes[1]``).
    n_boot, confidence, seed
        Bootstrap replicates (0: no intervals), interval level, and the seed: the same seed
        gives the same intervals.

    Examples
    --------
    >>> ev = evaluate(["a", "b", "b", "a"], ["a", "b", "a", "a"], n_boot=0)
    >>> ev.metrics["accuracy"], round(ev.metrics["macro_f1"], 3)
    (0.75, 0.733)
    """
    check_bootstrap_args(n_boot, confidence)
    _check_bins(n_bins)
    enc = encode(y_true, y_pred, proba=proba, classes=classes)
    metrics, per_class, cal = _score(enc, positive, n_boot=n_boot, confidence=confidence, seed=seed, n_bins=n_bins)
    cm = np.bincount(enc.true * enc.k + enc.pred, minlength=enc.k * enc.k).reshape(enc.k, enc.k)
    labels = pd.Index(enc.classes)
    confusion = pd.DataFrame(cm, index=labels.rename("true"), columns=labels.rename("pred"))
    settings = {"n_boot": n_boot, "confidence": confidence, "seed": seed, "n_bins": n_bins}
    return Evaluation(metrics, per_class, confusion, None if cal is None else cal.diagram(), settings)


def evaluate_by_slice(
    y_true: Any,
    y_pred: Any = None,
    *,
    slices: Any,
    proba: Any = None,
    classes: Any = None,
    positive: Any = None,
    min_size: int = 1,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    n_bins: int = 15,
) -> pd.DataFrame:
    """The headline metrics of :func:`evaluate` for each value of a per-item grouping.

    ``slices`` has one value per test item (a metadata column, batch, agreement level,
    text-length bucket...). Returns one row per slice (sorted by slice value, ``min_size``
    items at least) with ``slice``, ``n_test`` and each metric with its interval; classes
    are those of the whole test set so slices are comparable. Loops over slices, each
    vectorised.
    """
    check_bootstrap_args(n_boot, confidence)
    enc = encode(y_true, y_pred, proba=proba, classes=classes)
    s = as_1d(slices, "slices")
    if s.size != enc.n:
        raise InvalidInput(
            f"slices has {s.size} values but there are {enc.n} test items; pass one slice value per test item."
        )
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=False)
    rows = []
    for g, value in enumerate(uniques):
        sel = np.flatnonzero(codes == g)
        if sel.size < min_size:
            continue
        sub = Encoded(enc.classes, enc.true[sel], enc.pred[sel], None if enc.proba is None else enc.proba[sel])
        metrics, _, _ = _score(sub, positive, n_boot=n_boot, confidence=confidence, seed=seed, n_bins=n_bins)
        rows.append({"slice": _plain(value), **metrics})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["n_test"] = out["n_test"].astype(np.int64)
        out["n_classes"] = out["n_classes"].astype(np.int64)
    return out
