"""Calibration: expected calibration error, reliability diagram, temperature scaling.

scikit-learn has no expected calibration error (scikit-learn#18268), so it is written here.
Definitions (Guo et al. 2017, "On Calibration of Modern Neural Networks"):

* **confidence** of an item is its top class probability, **correct** whether that class is
  the true one;
* items fall in ``n_bins`` (default 15) equal-width bins over ``[0, 1]``, right-closed:
  bin ``b`` holds confidences in ``(b/n_bins, (b+1)/n_bins]`` and bin 0 also holds 0;
* ``ECE = sum_b (n_b / n) * |accuracy_b - mean_confidence_b|``, in ``[0, 1]``; 0 means that
  in every bin the share of correct answers equals the mean stated confidence.

Temperature scaling divides the log-probabilities by one scalar ``T`` (``T > 1`` softens
over-confident models) chosen to minimise the negative log-likelihood on validation data;
it never changes the predicted class, only the confidences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling._encode import Encoded, as_1d, encode
from truthset.modeling._resample import bootstrap, check_bootstrap_args
from truthset.modeling._resample import percentile_interval as _interval

__all__ = [
    "apply_temperature",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_diagram",
    "temperature_scaling",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Probabilities are floored here before taking logs.
_EPS = 1e-12


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InvalidInput(f"n_bins must be a positive integer (e.g. 15); got {n_bins!r}.")


def bin_of(confidence: FloatArray, n_bins: int) -> IntArray:
    """Right-closed equal-width bin index of each confidence (0 goes to bin 0)."""
    b = np.ceil(np.asarray(confidence) * n_bins).astype(np.int64) - 1
    return np.clip(b, 0, n_bins - 1)


class CalibrationBins:
    """Per-item confidence, correctness and bin, for ECE on the data or on resamples."""

    def __init__(self, enc: Encoded, n_bins: int) -> None:
        proba = enc.probs("calibration")
        self.n_bins = n_bins
        self.conf = proba.max(axis=1)
        self.correct = (proba.argmax(axis=1) == enc.true).astype(np.float64)
        self.bin = bin_of(self.conf, n_bins)

    def sums(self, idx: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per bin: (count, summed confidence, summed correct), each ``(B, n_bins)``, for the
        resamples in ``idx`` (B, n) - three ``np.bincount`` calls."""
        rows, nb = idx.shape[0], self.n_bins
        flat = (self.bin[idx] + np.arange(rows, dtype=np.int64)[:, None] * nb).ravel()
        size = rows * nb
        return (
            np.bincount(flat, minlength=size).reshape(rows, nb).astype(np.float64),
            np.bincount(flat, weights=self.conf[idx].ravel(), minlength=size)
            .reshape(rows, nb)
            .astype(np.float64, copy=False),
            np.bincount(flat, weights=self.correct[idx].ravel(), minlength=size)
            .reshape(rows, nb)
            .astype(np.float64, copy=False),
        )

    def ece(self, idx: IntArray) -> FloatArray:
        """``(B,)`` ECE of each resample in ``idx`` (B, n)."""
        cnt, conf, corr = self.sums(idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.abs(corr - conf).sum(axis=1) / cnt.sum(axis=1))

    def point(self) -> float:
        return float(self.ece(np.arange(self.conf.size)[None])[0])

    def diagram(self) -> pd.DataFrame:
        cnt, conf, corr = (a[0] for a in self.sums(np.arange(self.conf.size)[None]))
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_conf = np.where(cnt > 0, conf / cnt, np.nan)
            acc = np.where(cnt > 0, corr / cnt, np.nan)
        return pd.DataFrame(
            {
                "bin": np.arange(self.n_bins),
                "bin_low": np.arange(self.n_bins) / self.n_bins,
                "bin_high": np.arange(1, self.n_bins + 1) / self.n_bins,
                "count": cnt.astype(np.int64),
                "mean_confidence": mean_conf,
                "accuracy": acc,
                "gap": acc - mean_conf,
            }
        )


def expected_calibration_error(y_true: Any, proba: Any, *, classes: Any = None, n_bins: int = 15) -> float:
    """Expected calibration error of top-class confidences, ``n_bins`` equal-width bins.

    ``proba`` is ``(n, K)`` with columns in ``classes`` order (a 1-D array is the
    probability of ``classes[1]``). Returns a number in ``[0, 1]``; lower is better.

    Examples
    --------
    >>> expected_calibration_error([1, 1, 0, 0], [0.9, 0.9, 0.9, 0.1], classes=[0, 1])
    0.15
    """
    _check_bins(n_bins)
    return round(CalibrationBins(encode(y_true, proba=proba, classes=classes), n_bins).point(), 15)


def reliability_diagram(y_true: Any, proba: Any, *, classes: Any = None, n_bins: int = 15) -> pd.DataFrame:
    """Reliability diagram data: one row per bin with ``count``, ``mean_confidence``,
    ``accuracy`` and ``gap`` (accuracy minus confidence; NaN for empty bins)."""
    _check_bins(n_bins)
    return CalibrationBins(encode(y_true, proba=proba, classes=classes), n_bins).diagram()


def _log_proba(proba: FloatArray) -> FloatArray:
    return np.log(np.clip(proba, _EPS, 1.0))


def apply_temperature(proba: Any, temperature: float) -> FloatArray:
    """Rescale probabilities ``(n, K)`` by temperature: ``softmax(log p / T)``."""
    if not float(temperature) > 0:
        raise InvalidInput(f"temperature must be > 0; got {temperature!r}.")
    from scipy.special import softmax  # imported here: scipy loads slowly

    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    return np.asarray(softmax(_log_proba(p) / float(temperature), axis=1))


def _nll(logp: FloatArray, true: IntArray, temperature: float) -> float:
    from scipy.special import log_softmax

    scaled = log_softmax(logp / temperature, axis=1)
    return float(-scaled[np.arange(true.size), true].mean())


def fit_temperature(y_val: Any, proba_val: Any, *, classes: Any = None) -> float:
    """The temperature ``T`` in ``[0.05, 20]`` minimising validation negative log-likelihood.

    Fit on validation data, never on the test set, then apply to test probabilities with
    :func:`apply_temperature`.
    """
    from scipy.optimize import minimize_scalar

    enc = encode(y_val, proba=proba_val, classes=classes)
    logp = _log_proba(enc.probs("temperature scaling"))
    res = minimize_scalar(
        lambda log_t: _nll(logp, enc.true, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(res.x))


def temperature_scaling(
    y_val: Any,
    proba_val: Any,
    y_test: Any,
    proba_test: Any,
    *,
    classes: Any = None,
    n_bins: int = 15,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Fit a temperature on validation data and report test ECE before and after.

    Returns plain fields ``temperature``, ``ece_before``, ``ece_before_ci_low``,
    ``ece_before_ci_high``, ``ece_after`` (+ interval), ``nll_before``, ``nll_after``,
    ``n_val``, ``n_test``, and the reliability diagrams ``reliability_before`` /
    ``reliability_after`` as lists of row dicts. Both ECEs use the same bootstrap
    resamples of the test items.
    """
    _check_bins(n_bins)
    check_bootstrap_args(n_boot, confidence)
    t = fit_temperature(y_val, proba_val, classes=classes)
    before = encode(y_test, proba=proba_test, classes=classes)
    after = Encoded(before.classes, before.true, before.pred, apply_temperature(before.probs(), t))
    bins_b, bins_a = CalibrationBins(before, n_bins), CalibrationBins(after, n_bins)
    out: dict[str, Any] = {"temperature": t, "n_val": int(as_1d(y_val, "y_val").size), "n_test": before.n}
    for name, bins, enc in (("before", bins_b, before), ("after", bins_a, after)):
        out[f"ece_{name}"] = bins.point()
        if n_boot:
            reps = bootstrap(before.n, bins.ece, n_boot=n_boot, seed=seed)
            lo, hi = _interval(reps, confidence, what="ECE")
            out[f"ece_{name}_ci_low"], out[f"ece_{name}_ci_high"] = float(lo), float(hi)
        out[f"nll_{name}"] = _nll(_log_proba(enc.probs()), enc.true, 1.0)
        out[f"reliability_{name}"] = bins.diagram().to_dict(orient="records")
    return out
