"""What every drift test shares: thresholds, the per-test verdict, the report (private).

The public names are re-exported by :mod:`truthset.data.drift` and :mod:`truthset.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DriftThresholds:
    """Thresholds of every drift test; the defaults are Evidently's where Evidently has one.

    Attributes
    ----------
    wasserstein : float
        Numeric columns drift when the Wasserstein distance divided by the reference's
        standard deviation is at least this (0.1: the mass moved by a tenth of a standard
        deviation on average).
    jensenshannon : float
        Categorical columns drift when the Jensen–Shannon distance (base 2, in [0, 1]) is at
        least this. 0.1 is, for a binary column at 13 % positives, about a move to 25 %.
    text_length : float
        Text columns drift by length when the normalised Wasserstein distance of their
        character lengths is at least this.
    oov_rate : float
        Text columns drift by vocabulary when the share of current tokens unseen in the
        reference exceeds the reference's own held-out share by at least this (0.02: two
        more tokens in a hundred are words the reference never had).
    domain_auc : float
        Text columns drift by content when a classifier told to separate reference from
        current rows reaches a cross-validated ROC-AUC above this (0.5 is chance). A fully
        distinct topic mixed in at a share ``s`` can reach at most ``0.5 + s / 2``.
    drift_share : float
        The data set drifts when at least this share of its columns drift.
    alpha : float
        Noise guard: a test flags drift only if its difference is also beyond sampling noise
        at this level (0.001; 1 turns the guard off). It withholds flags at small n only.
    """

    wasserstein: float = 0.1
    jensenshannon: float = 0.1
    text_length: float = 0.1
    oov_rate: float = 0.02
    domain_auc: float = 0.55
    drift_share: float = 0.5
    alpha: float = 0.001

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise InvalidInput(
                    f"drift threshold {name} must be a finite number >= 0; got {value!r}. "
                    f"Use e.g. {name}={getattr(DriftThresholds, name)}."
                )
        if not 0 < self.alpha <= 1:
            raise InvalidInput(
                f"alpha is a probability in (0, 1]; got {self.alpha!r}. Use e.g. "
                "alpha=0.001, or alpha=1 to turn the noise guard off."
            )
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(
                f"drift_share is a share of columns in (0, 1]; got {self.drift_share!r}. Use e.g. drift_share=0.5."
            )


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict of one test on one column.

    ``method`` is ``wasserstein``, ``jensenshannon``, ``text_length``, ``oov_rate`` or
    ``domain_classifier``; drift when ``score`` passes ``threshold`` (``>=``, except the
    domain classifier's AUC, which must exceed it) and the noise guard is met
    (``details["p_value"] < alpha``, or the AUC above ``details["noise_floor"]``).
    ``details`` holds what explains the score (sizes, means, shares, the words that tell the
    two apart).
    """

    column: str
    method: str
    score: float
    threshold: float
    drift: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for ``--json``."""
        score = None if np.isnan(self.score) else self.score
        return {
            "column": self.column,
            "method": self.method,
            "score": score,
            "threshold": self.threshold,
            "drift": self.drift,
            "details": self.details,
        }


@dataclass(frozen=True)
class DriftReport:
    """Per-column tests and the data-set verdict (``drift``)."""

    drift: bool
    share_drifted: float
    drift_share: float
    n_columns: int
    n_drifted_columns: int
    columns: tuple[ColumnDrift, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for ``--json``: ``drift`` and a ``columns`` list."""
        return {
            "drift": self.drift,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "n_columns": self.n_columns,
            "n_drifted_columns": self.n_drifted_columns,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per test: column, method, score, threshold, drift."""
        return pd.DataFrame(
            [{k: v for k, v in c.to_dict().items() if k != "details"} for c in self.columns],
            columns=["column", "method", "score", "threshold", "drift"],
        )


def summarise(tests: Sequence[ColumnDrift], drift_share: float) -> DriftReport:
    """The data-set verdict over ``tests``: a column drifts if any of its tests does."""
    by_column: dict[str, bool] = {}
    for t in tests:
        by_column[t.column] = by_column.get(t.column, False) or t.drift
    n = len(by_column)
    drifted = sum(by_column.values())
    share = drifted / n if n else 0.0
    return DriftReport(
        drift=bool(n and share >= drift_share),
        share_drifted=share,
        drift_share=drift_share,
        n_columns=n,
        n_drifted_columns=drifted,
        columns=tuple(tests),
    )


# --------------------------------------------------------------------------- distances
def normalised_wasserstein(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """Wasserstein-1 distance divided by the reference's standard deviation, and that divisor.

    Evidently's definition. When the reference is constant (std 0) Evidently divides by
    0.001, which makes the score depend on the unit; here the standard deviation of both
    samples pooled is used instead, so a constant reference against a current sample that
    varies still scores in standard deviations. When both are the same constant the score is 0.
    """
    from scipy.stats import wasserstein_distance

    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    scale = float(ref.std())
    if scale == 0.0:
        scale = float(np.concatenate([ref, cur]).std())
    distance = float(wasserstein_distance(ref, cur))
    if scale == 0.0:
        return 0.0, 0.0
    return distance / scale, scale


def category_counts(reference: pd.Series, current: pd.Series) -> tuple[pd.Index, FloatArray, FloatArray]:
    """Counts of each category on both sides over the union of categories (sorted as given)."""
    codes, cats = pd.factorize(pd.concat([reference, current], ignore_index=True), sort=False)
    n_ref = len(reference)
    k = len(cats)
    ref_counts = np.bincount(codes[:n_ref], minlength=k).astype(np.float64)
    cur_counts = np.bincount(codes[n_ref:], minlength=k).astype(np.float64)
    return pd.Index(cats), ref_counts, cur_counts


def ks_p_value(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov–Smirnov p-value (scipy), the noise guard of Wasserstein tests."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python value (for JSON); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value
