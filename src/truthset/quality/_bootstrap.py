"""Item bootstrap shared by every agreement coefficient (private).

Each coefficient is written as a function of weighted sums of per-item sufficient
statistics. A bootstrap replicate is then a vector of item weights (how often each item
was drawn), and a batch of replicates is a ``(B, n_items)`` weight matrix: the
coefficient for all ``B`` replicates comes out of a few matrix products instead of
``B`` calls over the full annotation frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]

#: Upper bound on the cells of one ``(B, n_items)`` weight batch (64 MiB of float64).
MAX_BATCH_CELLS = 1 << 23


class UndefinedAgreementWarning(UserWarning):
    """A coefficient is undefined for the data given (0/0) and was reported as NaN."""


class AgreementCI(NamedTuple):
    """A coefficient with its percentile bootstrap confidence interval over items."""

    value: float
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int


class SufficientStats(Protocol):
    """Per-item statistics from which a coefficient is computed for any item weights."""

    @property
    def n_units(self) -> int:
        """Number of items the bootstrap resamples."""
        ...

    def point(self) -> float:
        """The coefficient on the data as given (every item weight 1)."""
        ...

    def replicates(self, w: FloatArray) -> FloatArray:
        """The coefficient for each row of the ``(B, n_units)`` weight matrix ``w``."""
        ...


def bootstrap_weights(rng: np.random.Generator, n_rows: int, n_units: int) -> FloatArray:
    """Multinomial draw counts: row ``b`` says how often each item appears in replicate ``b``."""
    idx = rng.integers(0, n_units, size=(n_rows, n_units))
    idx += np.arange(n_rows, dtype=idx.dtype)[:, None] * n_units
    counts = np.bincount(idx.ravel(), minlength=n_rows * n_units)
    return counts.reshape(n_rows, n_units).astype(np.float64)


def bootstrap_ci(stats: SufficientStats, *, n_boot: int, confidence: float, seed: int | None) -> AgreementCI:
    """Percentile bootstrap interval of ``stats`` over items, computed in weight batches."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InvalidInput(f"n_boot must be an integer >= 2; got {n_boot!r}. Use e.g. n_boot=1000.")
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInput(
            f"confidence must lie strictly between 0 and 1; got {confidence!r}. Use e.g. confidence=0.95."
        )
    value = stats.point()
    n_units = stats.n_units
    rng = np.random.default_rng(seed)
    batch = int(max(1, min(n_boot, MAX_BATCH_CELLS // max(n_units, 1))))
    reps = np.empty(int(n_boot), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, int(n_boot), batch):
            rows = min(batch, int(n_boot) - start)
            reps[start : start + rows] = stats.replicates(bootstrap_weights(rng, rows, n_units))
    finite = np.isfinite(reps)
    if not finite.all():
        bad = int((~finite).sum())
        warnings.warn(
            f"{bad} of {n_boot} bootstrap replicates were undefined (e.g. a resample with a "
            "single label) and were left out of the interval; with few items the interval "
            "is unreliable.",
            UndefinedAgreementWarning,
            stacklevel=3,
        )
    if not finite.any():
        return AgreementCI(value, float("nan"), float("nan"), float(confidence), int(n_boot))
    tail = (1.0 - float(confidence)) / 2.0 * 100.0
    low, high = np.percentile(reps[finite], [tail, 100.0 - tail])
    return AgreementCI(value, float(low), float(high), float(confidence), int(n_boot))


class ResampledFrames:
    """Sufficient statistics of any metric: the long frame itself, resampled by item.

    For a metric given as a function (not one of the built-in coefficients), a replicate
    is the frame with every item's rows repeated as often as the item was drawn, each copy
    under an item id of its own (so a twice-drawn item counts as two items, as in the
    coefficients' own bootstrap). The rows of all copies are gathered with one vectorised
    index per replicate, but ``metric`` runs once per replicate: ``n_boot`` calls.
    """

    def __init__(
        self, metric: Callable[..., float], frame: pd.DataFrame, item_column: str, options: dict[str, Any]
    ) -> None:
        self.metric, self.frame, self.item_column, self.options = metric, frame, item_column, options
        codes, uniques = pd.factorize(frame[item_column], sort=False)
        if (codes < 0).any():
            raise InvalidInput(f"column {item_column!r} has missing item ids; drop or fill those rows first.")
        self.order = np.argsort(codes, kind="stable")
        self.lengths = np.bincount(codes, minlength=len(uniques))
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self._n_units = len(uniques)

    @property
    def n_units(self) -> int:
        return self._n_units

    def point(self) -> float:
        return float(self.metric(self.frame, **self.options))

    def _replicate(self, counts: npt.NDArray[np.int64]) -> float:
        copies = np.repeat(np.arange(self._n_units), counts)  # item of each drawn copy
        lengths = self.lengths[copies]
        total = int(lengths.sum())
        # position of each output row inside its item's block, then in the sorted frame
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = np.repeat(self.starts[copies], lengths) + (np.arange(total) - first)
        sample = self.frame.iloc[self.order[rows]].copy()
        sample[self.item_column] = np.repeat(np.arange(len(copies)), lengths)
        return float(self.metric(sample, **self.options))

    def replicates(self, w: FloatArray) -> FloatArray:
        counts = w.astype(np.int64)
        return np.array([self._replicate(row) for row in counts], dtype=np.float64)
