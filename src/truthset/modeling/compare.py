"""Is B really better than A? Paired tests on the same test items, and a plain verdict.

Which test fits which metric follows Dror, Baumer, Shlomov & Reichart (2018), "The
Hitchhiker's Guide to Testing Statistical Significance in Natural Language Processing"
(ACL 2018):

* **accuracy** is a mean of per-item 0/1 outcomes, so McNemar's test on the discordant
  pairs is the fitting paired test: ``b`` items only A got right, ``c`` items only B got
  right. With ``b + c < 25`` the exact two-sided binomial test (``2 * P(X <= min(b, c))``,
  ``X ~ Bin(b + c, 1/2)``) is used, else the chi-square statistic with continuity
  correction ``(|b - c| - 1)^2 / (b + c)`` (the same values as statsmodels' ``mcnemar``).
* **F1, MCC and other non-decomposable metrics** have no per-item outcome, so the paired
  bootstrap is used: resample test items with replacement, score both systems on the *same*
  resample, and take the percentile interval of the difference ``B - A``. Its two-sided
  p-value is ``2 * min(P(diff <= 0), P(diff >= 0))`` over the replicates.

The verdict reads the interval of the chosen metric (default macro-F1): "B is better"
when the whole interval is above 0, "A is better" when below, else "no evidence of a
difference". Differences are in points (x 100).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binom, chi2

from truthset.core.errors import InvalidInput
from truthset.modeling import _counts
from truthset.modeling._encode import as_1d, codes_of, encode
from truthset.modeling._resample import (
    bootstrap,
    check_bootstrap_args,
    confusion_batch,
    percentile_interval,
)

__all__ = ["compare_multilabel", "compare_predictions", "mcnemar"]

FloatArray = npt.NDArray[np.float64]

#: Below this many discordant pairs McNemar's test is exact (binomial).
EXACT_BELOW = 25

_METRIC_NAMES = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "micro_f1": "micro-F1",
    "weighted_f1": "weighted-F1",
    "mcc": "MCC",
    "macro_precision": "macro-precision",
    "macro_recall": "macro-recall",
}


def mcnemar(b: int, c: int, *, exact: bool | None = None) -> dict[str, Any]:
    """McNemar's test for ``b`` (only A right) and ``c`` (only B right) discordant items.

    ``exact=None`` picks the exact binomial test when ``b + c < 25``. Returns
    ``statistic``, ``p_value`` and ``method``.

    Examples
    --------
    >>> round(mcnemar(2, 9)["p_value"], 4)
    0.0654
    """
    if b < 0 or c < 0:
        raise InvalidInput(f"discordant counts must be >= 0; got b={b}, c={c}.")
    n = b + c
    use_exact = n < EXACT_BELOW if exact is None else exact
    if n == 0:
        return {"statistic": 0.0, "p_value": 1.0, "method": "exact" if use_exact else "chi2"}
    if use_exact:
        k = min(b, c)
        return {"statistic": float(k), "p_value": float(min(1.0, 2 * binom.cdf(k, n, 0.5))), "method": "exact"}
    stat = (abs(b - c) - 1.0) ** 2 / n
    return {"statistic": float(stat), "p_value": float(chi2.sf(stat, 1)), "method": "chi2"}


def _signed(x: float) -> str:
    return f"{x:+.1f}"


def verdict(diff: float, lo: float, hi: float, metric: str, confidence: float) -> str:
    """Plain sentence from the difference ``B - A`` (points) and its interval."""
    name = _METRIC_NAMES.get(metric, metric)
    level = f"{round(confidence * 100):d}%"
    if np.isfinite(lo) and lo > 0:
        return f"B is better: {name} {_signed(diff)} points, {level} CI {_signed(lo)} to {_signed(hi)}"
    if np.isfinite(hi) and hi < 0:
        return f"A is better: {name} {_signed(-diff)} points, {level} CI {_signed(-hi)} to {_signed(-lo)}"
    return (
        f"no evidence of a difference: {name} B - A {_signed(diff)} points, {level} CI {_signed(lo)} to {_signed(hi)}"
    )


def compare_predictions(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    classes: Any = None,
    metric: str = "macro_f1",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Compare two systems' predictions on the same test items.

    Returns plain fields: ``n_test``; ``accuracy_a``, ``accuracy_b``, ``accuracy_diff``
    (points) with McNemar's ``only_a_right``, ``only_b_right``, ``mcnemar_statistic``,
    ``mcnemar_p_value``, ``mcnemar_method``; for ``metric``: ``<metric>_a``, ``<metric>_b``,
    ``<metric>_diff`` (points, B - A) with ``_ci_low`` / ``_ci_high`` and ``<metric>_p_value``
    from the paired bootstrap; and ``verdict``.

    Examples
    --------
    >>> r = compare_predictions([0, 1, 1, 0], [0, 0, 1, 0], [0, 1, 1, 0], n_boot=0)
    >>> r["accuracy_diff"], r["only_b_right"]
    (25.0, 1)
    """
    check_bootstrap_args(n_boot, confidence)
    if metric not in _METRIC_NAMES:
        raise InvalidInput(f"metric must be one of {sorted(_METRIC_NAMES)}; got {metric!r}.")
    enc_a = encode(y_true, pred_a, classes=classes)
    pb = as_1d(pred_b, "pred_b")
    if pb.size != enc_a.n:
        raise InvalidInput(
            f"pred_b has {pb.size} values but there are {enc_a.n} test items; both systems "
            "must be scored on the same items in the same order."
        )
    if classes is None:
        enc_a = encode(y_true, pred_a, classes=np.asarray(sorted(set(enc_a.classes.tolist()) | set(pb.tolist()))))
    true, a = enc_a.true, enc_a.pred
    b = codes_of(pb, enc_a.classes, "pred_b")
    k = enc_a.k

    def scores(idx: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
        sa = _counts.summary(confusion_batch(true, a, k, idx))[metric]
        sb = _counts.summary(confusion_batch(true, b, k, idx))[metric]
        return sa, sb

    out = _paired(a == true, b == true, scores, metric, n_boot, confidence, seed)
    out["settings"] = {"metric": metric, "n_boot": n_boot, "confidence": confidence, "seed": seed}
    return out


def _paired(
    right_a: npt.NDArray[np.bool_],
    right_b: npt.NDArray[np.bool_],
    scores: Callable[[npt.NDArray[np.int64]], tuple[FloatArray, FloatArray]],
    metric: str,
    n_boot: int,
    confidence: float,
    seed: int | None,
) -> dict[str, Any]:
    """The comparison's fields from each item's outcome (right or not, for McNemar) and
    ``scores(idx)``: ``metric`` of A and of B on each row of item indices (the same rows for
    both: the paired bootstrap)."""
    n = len(right_a)
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    test = mcnemar(only_a, only_b)
    out: dict[str, Any] = {
        "n_test": n,
        "accuracy_a": float(right_a.mean()),
        "accuracy_b": float(right_b.mean()),
        "accuracy_diff": float(right_b.mean() - right_a.mean()) * 100.0,
        "only_a_right": only_a,
        "only_b_right": only_b,
        "mcnemar_statistic": test["statistic"],
        "mcnemar_p_value": test["p_value"],
        "mcnemar_method": test["method"],
    }

    def diff(idx: npt.NDArray[np.int64]) -> FloatArray:
        sa, sb = scores(idx)
        return np.asarray((sb - sa) * 100.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        sa, sb = scores(np.arange(n)[None])
    va, vb = float(sa[0]), float(sb[0])
    d = (vb - va) * 100.0
    out.update({f"{metric}_a": va, f"{metric}_b": vb, f"{metric}_diff": d})
    lo = hi = float("nan")
    if n_boot:
        reps = bootstrap(n, diff, n_boot=n_boot, seed=seed)
        lo, hi = (float(v) for v in percentile_interval(reps, confidence, what=metric))
        finite = reps[np.isfinite(reps)]
        p = 2 * min(float((finite <= 0).mean()), float((finite >= 0).mean())) if finite.size else 1.0
        out[f"{metric}_diff_ci_low"], out[f"{metric}_diff_ci_high"] = lo, hi
        out[f"{metric}_p_value"] = min(1.0, p)
    out["verdict"] = verdict(d, lo, hi, metric, confidence)
    return out


#: metrics a multi-label comparison can be read on (higher is better for each)
MULTILABEL_METRICS = (
    "macro_f1",
    "micro_f1",
    "subset_accuracy",
    "macro_precision",
    "macro_recall",
    "micro_precision",
    "micro_recall",
)


def compare_multilabel(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    metric: str = "macro_f1",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Compare two multi-label systems on the same test items: ``(n, L)`` 0/1 matrices.

    The per-item outcome is the exact match of the label set, so ``accuracy_*`` is subset
    accuracy and McNemar's test reads its discordant items (``only_a_right``,
    ``only_b_right``); ``metric`` (one of MULTILABEL_METRICS) gets the paired bootstrap: both
    systems scored on the same resamples of items (one weight matrix, as
    :func:`truthset.modeling.evaluate_multilabel` draws them). Same fields as
    :func:`compare_predictions`.

    Examples
    --------
    >>> t = [[1, 0], [0, 1], [1, 1], [0, 0]]
    >>> r = compare_multilabel(t, [[1, 0], [0, 0], [1, 0], [0, 0]], t, n_boot=0)
    >>> r["only_b_right"], r["macro_f1_b"]
    (2, 1.0)
    """
    from truthset.modeling.multilabel import _indicator, _MultiScorer

    check_bootstrap_args(n_boot, confidence)
    if metric not in MULTILABEL_METRICS:
        raise InvalidInput(f"metric must be one of {list(MULTILABEL_METRICS)} for multi-label runs; got {metric!r}.")
    yt = _indicator(y_true, "y_true")
    ya, yb = _indicator(pred_a, "pred_a", yt.shape), _indicator(pred_b, "pred_b", yt.shape)
    sa, sb = _MultiScorer(yt, ya, None), _MultiScorer(yt, yb, None)

    def scores(idx: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
        return sa.scores(idx)[metric], sb.scores(idx)[metric]

    out = _paired(sa.exact > 0, sb.exact > 0, scores, metric, n_boot, confidence, seed)
    out["settings"] = {
        "metric": metric,
        "n_boot": n_boot,
        "confidence": confidence,
        "seed": seed,
        "task": "multi-label",
    }
    return out
