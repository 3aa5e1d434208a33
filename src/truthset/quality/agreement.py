"""Inter-annotator agreement: percent agreement, Cohen's, Fleiss', Randolph's kappa,
Krippendorff's alpha, per-label agreement, and item-bootstrap confidence intervals.

Every coefficient is a vectorised reduction over the integer-coded annotation frame
(``truthset.core.codes``) and is written as a function of per-item sufficient statistics,
so :func:`agreement_ci` bootstraps items by re-weighting those statistics in batches.

Undefined values (0/0, e.g. every judgement has the same label) are returned as NaN with an
:class:`UndefinedAgreementWarning`; input that cannot be compared at all (one annotator, no
item judged twice) raises :class:`~truthset.core.errors.InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.quality._bootstrap import (
    AgreementCI,
    ResampledFrames,
    SufficientStats,
    UndefinedAgreementWarning,
    bootstrap_ci,
)
from truthset.quality._kappa import (
    _cohen_frame_stats,
    _fleiss_stats,
    _percent_stats,
    cohen_kappa,
    fleiss_kappa,
    pairwise_cohen_kappa,
    percent_agreement,
    randolph_kappa,
)
from truthset.quality._krippendorff import _alpha_stats, krippendorff_alpha, per_label_agreement

__all__ = [
    "AgreementCI",
    "UndefinedAgreementWarning",
    "agreement_ci",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "pairwise_cohen_kappa",
    "per_label_agreement",
    "percent_agreement",
    "randolph_kappa",
]


# --------------------------------------------------------------------------- bootstrap
_BUILDERS: dict[str, Callable[..., SufficientStats]] = {
    "percent_agreement": _percent_stats,
    "cohen_kappa": _cohen_frame_stats,
    "fleiss_kappa": _fleiss_stats,
    "randolph_kappa": lambda df, labels=None: _fleiss_stats(df, labels, randolph=True),
    "krippendorff_alpha": _alpha_stats,
}
_BUILTIN_FUNCTIONS: dict[str, Callable[..., float]] = {
    "percent_agreement": percent_agreement,
    "cohen_kappa": cohen_kappa,
    "fleiss_kappa": fleiss_kappa,
    "randolph_kappa": randolph_kappa,
    "krippendorff_alpha": krippendorff_alpha,
}


def agreement_ci(
    metric: str | Callable[..., float],
    data: pd.DataFrame | npt.ArrayLike,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    **options: Any,
) -> AgreementCI:
    """A coefficient with a percentile bootstrap confidence interval over items.

    Items are resampled with replacement ``n_boot`` times; each resample is a vector of
    item weights (multinomial counts) applied to per-item sufficient statistics, so all
    replicates are computed in a few matrix products per batch rather than by re-running
    the metric on resampled frames. For Krippendorff's alpha the resampled units are the
    items with two or more values.

    Parameters
    ----------
    metric : str or function
        ``percent_agreement``, ``cohen_kappa`` (frame with exactly two annotators),
        ``fleiss_kappa``, ``randolph_kappa`` or ``krippendorff_alpha`` (the function or its
        name): bootstrapped fast, from per-item statistics. Any other function that takes the
        long frame (and ``**options``) and returns a number is bootstrapped by resampling
        the frame's items and calling it once per replicate (``n_boot`` calls).
    data : DataFrame or array-like
        What the metric takes (the long frame; for alpha also a reliability matrix).
    n_boot : int
        Number of bootstrap replicates.
    confidence : float
        Coverage of the interval, e.g. 0.95.
    seed : int or None
        Seed of the random generator; the same seed gives the same interval.
    **options
        Passed to the metric, e.g. ``level='interval'`` for alpha, ``weights=`` for Cohen.

    Returns
    -------
    AgreementCI
        ``value`` (the metric on the data), ``ci_low``, ``ci_high``, ``confidence``,
        ``n_boot``. Undefined replicates (e.g. single-label resamples) are left out with an
        ``UndefinedAgreementWarning``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4, 4], "annotator": list("abababab"),
    ...                    "label": ["x", "x", "y", "y", "x", "y", "y", "y"]})
    >>> r = agreement_ci("krippendorff_alpha", df, level="nominal", n_boot=200)
    >>> round(r.value, 3), r.ci_low <= r.value <= r.ci_high
    (0.533, True)
    """
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", None)
    builtin = name in _BUILDERS and (isinstance(metric, str) or metric is _BUILTIN_FUNCTIONS.get(name))
    if builtin:
        stats: SufficientStats = _BUILDERS[str(name)](data, **options)
    elif callable(metric):
        stats = _resampled(metric, data, options)
    else:
        raise InvalidInput(
            f"agreement_ci does not know metric {metric!r}; choose one of {sorted(_BUILDERS)} "
            "or pass a function that takes the long frame and returns a number."
        )
    return bootstrap_ci(stats, n_boot=n_boot, confidence=confidence, seed=seed)


def _resampled(
    metric: Callable[..., float], data: pd.DataFrame | npt.ArrayLike, options: dict[str, Any]
) -> ResampledFrames:
    """The bootstrap of a metric given as a function: the long frame resampled by item."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput(
            f"agreement_ci with a metric function needs the long frame (item, annotator, label); "
            f"got {type(data).__name__}. Build one with pandas.DataFrame(...)."
        )
    item = next((c for c in ("item", "task") if c in data.columns), None)
    if item is None:
        raise InvalidInput(
            f"agreement_ci: the frame has no 'item' (or 'task') column; its columns are "
            f"{list(data.columns)}. Name the column of item ids 'item'."
        )
    return ResampledFrames(metric, data, item, options)
