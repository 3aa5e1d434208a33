"""Learning curve: would more labels help?

The model is trained on 25/50/75/100% of the training labels, once per seed, and scored on
the same test set. Subsets are stratified by class and nested within a seed (the 50% subset
contains the 25% one), so a rise between points is the effect of the added labels, not of a
different draw.

Interval bands come from a two-level bootstrap: each replicate resamples the seeds (with
replacement) and the test items (the same items for every fraction and seed), and averages
the metric over the drawn seeds. This covers both training-draw and test-set noise, the
instability Prodigy's train-curve shows on a single random split.

**The rule** for "would more labels help?", on the last segment (75% -> 100%), whose gain
``g`` (points of the metric, mean over seeds) has the bootstrap interval ``[lo, hi]``:

* ``"yes"`` when ``lo > 0``: the last quarter of the labels still brought a real gain, so
  the curve has not flattened and more labels are likely to help;
* ``"no"`` when ``hi < min_gain`` (default 1 point): even the optimistic end of the
  interval is a gain too small to matter, so the curve has flattened;
* ``"unclear"`` otherwise (the interval spans both 0 and ``min_gain``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling import _counts
from truthset.modeling._encode import as_1d, codes_of
from truthset.modeling._resample import check_bootstrap_args, confusion_batch, index_batches
from truthset.modeling.compare import _METRIC_NAMES
from truthset.modeling.compare import _signed as signed

__all__ = ["learning_curve", "nested_subsets"]

IntArray = npt.NDArray[np.int64]


def _take(x: Any, idx: IntArray) -> Any:
    if isinstance(x, (pd.Series, pd.DataFrame)):
        return x.iloc[idx]
    if isinstance(x, list):
        return [x[i] for i in idx]
    return x[idx]


def nested_subsets(y: Any, fractions: Sequence[float], seed: int | None) -> list[IntArray]:
    """Positions of stratified, nested subsets of the items, one per fraction.

    Items are ordered by ``(rank within class + U(0, 1)) / class size`` after a per-class
    shuffle, so every prefix of the order holds each class in proportion; subset ``i`` is
    the first ``round(fraction_i * n)`` items of that order.
    """
    labels = as_1d(y, "y")
    codes = pd.factorize(labels, sort=True)[0]
    rng = np.random.default_rng(seed)
    u = rng.random(labels.size)
    order = np.lexsort((u, codes))
    counts = np.bincount(codes)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.empty(labels.size, dtype=np.float64)
    rank[order] = np.arange(labels.size) - np.repeat(first, counts)
    key = (rank + rng.random(labels.size)) / counts[codes]
    full = np.argsort(key, kind="mergesort")
    return [np.sort(full[: max(1, round(f * labels.size))]) for f in fractions]


def learning_curve(
    make_model: Callable[[int], Any],
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    *,
    fractions: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    sample_weight: Any = None,
    metric: str = "macro_f1",
    min_gain: float = 1.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Train at each fraction for each seed, score on the test set, answer "more labels?".

    ``make_model(seed)`` returns a fresh unfitted scikit-learn estimator (e.g.
    ``lambda s: text_baseline(seed=s)``); it is fitted with ``sample_weight`` passed to
    ``clf`` if given. Returns ``points`` (one row per fraction: ``fraction``, ``n_train``,
    ``<metric>`` mean over seeds, ``ci_low``, ``ci_high``, ``seed_sd``, and ``per_seed``),
    ``last_gain`` with ``last_gain_ci_low`` / ``last_gain_ci_high`` (points), ``more_labels_help``
    (``"yes"`` / ``"no"`` / ``"unclear"``), ``answer`` (a sentence) and ``rule``.
    """
    check_bootstrap_args(n_boot, confidence)
    if metric not in _METRIC_NAMES:
        raise InvalidInput(f"metric must be one of {sorted(_METRIC_NAMES)}; got {metric!r}.")
    fr = [float(f) for f in fractions]
    if len(fr) < 2 or any(not 0 < f <= 1 for f in fr) or fr != sorted(set(fr)):
        raise InvalidInput(f"fractions must be at least two increasing numbers in (0, 1]; got {fractions}.")
    if not seeds:
        raise InvalidInput("seeds must list at least one seed.")
    ytr, yte = as_1d(y_train, "y_train"), as_1d(y_test, "y_test")
    classes = np.asarray(sorted(pd.unique(np.concatenate([ytr, yte])).tolist()))
    true = codes_of(yte, classes, "y_test")
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    k, n_test = classes.size, yte.size
    preds = np.empty((len(fr), len(seeds), n_test), dtype=np.int64)
    for j, s in enumerate(seeds):
        for i, idx in enumerate(nested_subsets(ytr, fr, s)):
            model = make_model(s)
            params = {} if w is None else {"clf__sample_weight": w[idx]}
            model.fit(_take(x_train, idx), ytr[idx], **params)
            preds[i, j] = codes_of(np.asarray(model.predict(x_test)), classes, "prediction")

    def scores(idx: IntArray) -> npt.NDArray[np.float64]:  # (rows, fractions, seeds)
        out = np.empty((idx.shape[0], len(fr), len(seeds)))
        for i in range(len(fr)):
            for j in range(len(seeds)):
                out[:, i, j] = _counts.summary(confusion_batch(true, preds[i, j], k, idx))[metric]
        return out * 100.0

    with np.errstate(divide="ignore", invalid="ignore"):
        point = scores(np.arange(n_test)[None])[0]  # (fractions, seeds)
        rng = np.random.default_rng(None if seed is None else seed + 1)
        reps = []
        for idx in index_batches(n_test, n_boot, seed):
            per = scores(idx)
            pick = rng.integers(0, len(seeds), size=(idx.shape[0], len(seeds)))
            reps.append(np.take_along_axis(per, pick[:, None, :], axis=2).mean(axis=2))
    mean = point.mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    rep = np.concatenate(reps) if reps else np.full((0, len(fr)), np.nan)
    band = np.nanpercentile(rep, [tail, 100 - tail], axis=0) if n_boot else np.full((2, len(fr)), np.nan)
    gain = float(mean[-1] - mean[-2])
    g_lo, g_hi = np.nanpercentile(rep[:, -1] - rep[:, -2], [tail, 100 - tail]) if n_boot else (np.nan, np.nan)
    n_tr = [int(max(1, round(f * ytr.size))) for f in fr]
    points = [
        {
            "fraction": f,
            "n_train": n,
            metric: float(m),
            "ci_low": float(lo),
            "ci_high": float(hi),
            "seed_sd": float(point[i].std(ddof=1)) if len(seeds) > 1 else 0.0,
            "per_seed": point[i].tolist(),
        }
        for i, (f, n, m, lo, hi) in enumerate(zip(fr, n_tr, mean, band[0], band[1], strict=True))
    ]
    name, level = _METRIC_NAMES[metric], f"{round(confidence * 100)}%"
    seg = f"going from {fr[-2]:.0%} to {fr[-1]:.0%} of the labels ({n_tr[-2]} -> {n_tr[-1]})"
    stats = f"{name} {signed(gain)} points, {level} CI {signed(g_lo)} to {signed(g_hi)}"
    if g_lo > 0:
        help_, answer = (
            "yes",
            (f"More labels would likely help: {seg} still gained {stats}; the curve has not flattened."),
        )
    elif g_hi < min_gain:
        help_, answer = (
            "no",
            (
                f"More labels are unlikely to help much: {seg} gained {stats}, "
                f"below {min_gain:g} point(s) even at the top of the interval; "
                "look at label quality and the error buckets instead."
            ),
        )
    else:
        help_, answer = (
            "unclear",
            (
                f"Unclear: {seg} gained {stats}; the interval spans both 0 "
                f"and {min_gain:g} point(s). More seeds or a larger test "
                "set would narrow it."
            ),
        )
    return {
        "metric": metric,
        "points": points,
        "last_gain": gain,
        "last_gain_ci_low": float(g_lo),
        "last_gain_ci_high": float(g_hi),
        "more_labels_help": help_,
        "answer": answer,
        "rule": (
            f"yes if the {level} CI of the last segment's gain is above 0; no if its "
            f"upper end is below min_gain={min_gain:g} points; else unclear"
        ),
        "n_test": int(n_test),
        "seeds": list(seeds),
    }
