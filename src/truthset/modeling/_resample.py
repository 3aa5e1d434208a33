"""Vectorised bootstrap over test items (private).

A batch of bootstrap replicates is an ``(n_rows, n)`` int array of resampled item indices.
Metrics built on counts (confusion matrices) take those indices straight into one
``np.bincount`` over ``replicate * K*K + true * K + pred``; ranking metrics and calibration
bins do the same over (replicate, score group) and (replicate, bin) cells; matrix-product
metrics (multi-label, spans) turn the indices into an ``(n_rows, n)`` draw-count matrix,
again with one ``np.bincount``. Batches are sized so that one batch
holds at most :data:`MAX_BATCH_CELLS` cells, so memory stays bounded for large test sets.
The same ``seed`` always gives the same replicates, so results are reproducible, and two
systems evaluated with the same seed on the same items see the same resamples (paired).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Upper bound on the cells of one ``(rows, n)`` batch (8M cells: 64 MiB as int64).
MAX_BATCH_CELLS = 1 << 23


class UndefinedMetricWarning(UserWarning):
    """Some bootstrap replicates left a metric undefined (e.g. a class never drawn)."""


class Interval(NamedTuple):
    """A percentile bootstrap interval."""

    ci_low: float
    ci_high: float


def check_bootstrap_args(n_boot: int, confidence: float) -> None:
    """Raise a clear error for an unusable ``n_boot`` or ``confidence``."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise InvalidInput(
            f"n_boot must be a non-negative integer (0 turns intervals off); got {n_boot!r}. Use e.g. n_boot=1000."
        )
    if not isinstance(confidence, (int, float)) or not 0.0 < float(confidence) < 1.0:
        raise InvalidInput(
            f"confidence must lie strictly between 0 and 1; got {confidence!r}. Use e.g. confidence=0.95."
        )


def index_batches(n: int, n_boot: int, seed: int | None) -> Iterator[IntArray]:
    """Yield ``(rows, n)`` arrays of resampled indices, ``n_boot`` rows in total.

    Same ``seed`` and ``n`` give the same rows, whatever the batch size, because the
    generator is consumed row-major in one stream.
    """
    rng = np.random.default_rng(seed)
    batch = int(max(1, min(n_boot, MAX_BATCH_CELLS // max(n, 1))))
    for start in range(0, n_boot, batch):
        rows = min(batch, n_boot - start)
        yield rng.integers(0, n, size=(rows, n), dtype=np.int64)


def draw_counts(idx: IntArray, n: int) -> FloatArray:
    """``(rows, n)`` matrix: how often each item was drawn in each replicate."""
    rows = idx.shape[0]
    flat = idx + np.arange(rows, dtype=np.int64)[:, None] * n
    return np.bincount(flat.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def confusion_batch(true: IntArray, pred: IntArray, k: int, idx: IntArray) -> FloatArray:
    """``(rows, k, k)`` confusion counts (true x pred) of each resample in ``idx``."""
    rows = idx.shape[0]
    cell = true.astype(np.int64) * k + pred
    flat = cell[idx] + np.arange(rows, dtype=np.int64)[:, None] * (k * k)
    counts = np.bincount(flat.ravel(), minlength=rows * k * k)
    return counts.reshape(rows, k, k).astype(np.float64)


def percentile_interval(reps: FloatArray, confidence: float, *, what: str = "metric") -> FloatArray:
    """``(2, ...)`` percentile interval over axis 0 of ``reps``, ignoring undefined replicates.

    Undefined replicates (NaN) are left out with a warning; if none is defined the interval
    is NaN.
    """
    finite = np.isfinite(reps)
    bad = int((~finite).any(axis=tuple(range(1, reps.ndim))).sum()) if reps.ndim > 1 else int((~finite).sum())
    if bad and finite.any():
        warnings.warn(
            f"{bad} of {reps.shape[0]} bootstrap replicates left {what} undefined (e.g. a "
            "class never drawn) and were left out of its interval; with few test items the "
            "interval is unreliable.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    tail = (1.0 - float(confidence)) / 2.0 * 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        return np.nanpercentile(reps, [tail, 100.0 - tail], axis=0)


def bootstrap(
    n: int,
    stat: Callable[[IntArray], FloatArray],
    *,
    n_boot: int,
    seed: int | None,
) -> FloatArray:
    """Stack ``stat(idx_batch)`` over all batches: ``(n_boot, ...)`` replicate values."""
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = [stat(idx) for idx in index_batches(n, n_boot, seed)]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0,))
