"""Decisions by cost: the threshold (or rule) that minimises expected cost, and its test cost.

Accuracy treats every mistake alike; a spam filter that hides a real message costs more
than one that lets a spam through. Given what each kind of mistake costs:

* **binary** (``cost_fp``, ``cost_fn``): predict positive when ``p(positive) >= t``. The
  threshold is chosen on *validation* data, scanning every distinct score (one sort and
  two cumulative sums), to minimise the mean cost per item; ties go to the threshold
  closest to the Bayes threshold ``cost_fp / (cost_fp + cost_fn)``, the optimum for
  calibrated probabilities, which is reported beside it.
* **general** (``cost_matrix[true, predicted]``, any number of classes): predict the class of
  least expected cost under the model's probabilities (the Bayes decision rule); nothing is
  tuned, so validation and test costs are both reported.

The cost on the *test* set comes with a bootstrap interval over test items, and beside it
the cost of the plain argmax decision so the gain from cost-aware decisions is visible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling._encode import encode
from truthset.modeling._resample import bootstrap, check_bootstrap_args, percentile_interval

__all__ = ["bayes_decisions", "cost_threshold", "expected_cost"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _costs_ci(item_cost: FloatArray, *, n_boot: int, confidence: float, seed: int | None) -> tuple[float, float]:
    n = item_cost.size
    reps = bootstrap(n, lambda idx: item_cost[idx].mean(axis=1), n_boot=n_boot, seed=seed)
    lo, hi = percentile_interval(reps, confidence, what="cost")
    return float(lo), float(hi)


def _check_costs(cost_fp: float, cost_fn: float) -> None:
    for name, v in (("cost_fp", cost_fp), ("cost_fn", cost_fn)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
            raise InvalidInput(f"{name} must be a finite number >= 0; got {v!r}.")
    if cost_fp + cost_fn == 0:
        raise InvalidInput("cost_fp and cost_fn are both 0; at least one mistake must cost.")


def _binary_scores(y: Any, proba: Any, classes: Any, positive: Any) -> tuple[FloatArray, npt.NDArray[np.bool_], Any]:
    """Positive-class scores, is-positive flags and the class list of a binary problem."""
    enc = encode(y, proba=proba, classes=classes)
    if enc.k != 2:
        raise InvalidInput(
            f"cost_threshold is for two classes; there are {enc.k}. Use a cost_matrix with expected_cost() for more."
        )
    pos = 1
    if positive is not None:
        hits = np.flatnonzero(pd.Index(enc.classes) == positive)
        if hits.size == 0:
            raise InvalidInput(f"positive={positive!r} is not one of the classes {list(enc.classes)}.")
        pos = int(hits[0])
    return enc.probs()[:, pos], enc.true == pos, enc.classes


def cost_threshold(
    y_val: Any,
    proba_val: Any,
    y_test: Any,
    proba_test: Any,
    *,
    cost_fp: float,
    cost_fn: float,
    classes: Any = None,
    positive: Any = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Pick the threshold on validation data, report the mean cost per item on test.

    Returns ``threshold``, ``bayes_threshold``, ``val_cost``, ``test_cost`` with
    ``test_cost_ci_low`` / ``test_cost_ci_high``, ``test_cost_default`` (threshold 0.5)
    with its interval, ``test_fp``, ``test_fn``, ``n_val``, ``n_test``. Costs are in the
    units of ``cost_fp`` / ``cost_fn`` per item.

    Examples
    --------
    >>> r = cost_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0, 1], [0.3, 0.5],
    ...                    cost_fp=1, cost_fn=5, n_boot=0)
    >>> r["threshold"], r["val_cost"]
    (0.4, 0.25)
    """
    check_bootstrap_args(n_boot, confidence)
    _check_costs(cost_fp, cost_fn)
    s_val, pos_val, classes = _binary_scores(y_val, proba_val, classes, positive)
    s_test, pos_test, _ = _binary_scores(y_test, proba_test, classes, positive)
    order = np.argsort(-s_val, kind="mergesort")
    s, p = s_val[order], pos_val[order].astype(np.float64)
    last = np.r_[s[1:] != s[:-1], True]  # threshold t = s[i]: predict positive for s >= t
    tp, fp = np.cumsum(p)[last], np.cumsum(1.0 - p)[last]
    thresholds = s[last]
    fn = p.sum() - tp
    cost = np.r_[cost_fn * p.sum(), cost_fp * fp + cost_fn * fn] / s.size
    cand = np.r_[np.nextafter(s[0], np.inf) if s.size else 1.0, thresholds]
    bayes = cost_fp / (cost_fp + cost_fn)
    best = np.flatnonzero(cost <= cost.min() + 1e-12)
    t = float(cand[best[np.argmin(np.abs(cand[best] - bayes))]])

    def item_cost(threshold: float) -> FloatArray:
        pred = s_test >= threshold
        return np.where(pred & ~pos_test, cost_fp, 0.0) + np.where(~pred & pos_test, cost_fn, 0.0)

    out: dict[str, Any] = {
        "threshold": t,
        "bayes_threshold": bayes,
        "cost_fp": cost_fp,
        "cost_fn": cost_fn,
        "val_cost": float(cost[best].min()),
        "n_val": int(s_val.size),
        "n_test": int(s_test.size),
    }
    for name, th in (("test_cost", t), ("test_cost_default", 0.5)):
        ic = item_cost(th)
        out[name] = float(ic.mean())
        if n_boot:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = _costs_ci(
                ic, n_boot=n_boot, confidence=confidence, seed=seed
            )
    pred = s_test >= t
    out["test_fp"], out["test_fn"] = int((pred & ~pos_test).sum()), int((~pred & pos_test).sum())
    return out


def _matrix(cost_matrix: Any, k: int) -> FloatArray:
    c = np.asarray(cost_matrix, dtype=np.float64)
    if c.shape != (k, k) or not np.isfinite(c).all() or (c < 0).any():
        raise InvalidInput(
            f"cost_matrix must be a {k} x {k} grid of finite costs >= 0 (rows: true class, "
            f"columns: predicted class, in classes order); got shape {c.shape}."
        )
    return c


def bayes_decisions(proba: Any, cost_matrix: Any) -> IntArray:
    """Class index of least expected cost per item: ``argmin_j sum_i p_i * C[i, j]``.

    ``proba`` is ``(n, K)``; ``cost_matrix[i, j]`` is the cost of predicting ``j`` when the
    truth is ``i`` (0 on the diagonal for the usual setting).
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    return np.asarray((p @ _matrix(cost_matrix, p.shape[1])).argmin(axis=1), dtype=np.int64)


def expected_cost(
    y_test: Any,
    proba_test: Any,
    *,
    cost_matrix: Any,
    classes: Any = None,
    y_val: Any = None,
    proba_val: Any = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Mean cost per test item of the Bayes decision rule, with a bootstrap interval.

    Returns ``test_cost`` (+ ``_ci_low`` / ``_ci_high``), ``test_cost_argmax`` (the plain
    most-probable-class decision, + interval), ``val_cost`` when validation data is given,
    and ``n_test``.
    """
    check_bootstrap_args(n_boot, confidence)
    enc = encode(y_test, proba=proba_test, classes=classes)
    c = _matrix(cost_matrix, enc.k)
    out: dict[str, Any] = {"n_test": enc.n}
    decisions = {"test_cost": bayes_decisions(enc.probs(), c), "test_cost_argmax": enc.pred}
    for name, pred in decisions.items():
        ic = c[enc.true, pred]
        out[name] = float(ic.mean())
        if n_boot:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = _costs_ci(
                ic, n_boot=n_boot, confidence=confidence, seed=seed
            )
    if y_val is not None and proba_val is not None:
        val = encode(y_val, proba=proba_val, classes=enc.classes)
        out["val_cost"] = float(c[val.true, bayes_decisions(val.probs(), c)].mean())
        out["n_val"] = val.n
    return out
