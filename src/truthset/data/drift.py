"""Drift between a reference and a current data set, by distances rather than p-values.

A p-value test asks "are these two samples from exactly the same distribution?", and at
large n the answer is almost always no: a tiny, harmless difference becomes "significant"
(Evidently issues #50, #509, #710). The tests here measure *how far apart* the samples are
and flag drift when the distance passes a fixed threshold, so a large sample does not turn
a harmless difference into an alarm. Defaults follow Evidently's:

* numeric columns: normalised Wasserstein distance (earth mover's distance divided by the
  reference's standard deviation), drift when >= 0.1;
* categorical columns: Jensen–Shannon distance (base 2, over the union of categories, so in
  [0, 1]), drift when >= 0.1;
* text columns (:mod:`truthset.data._text_drift`): character length (normalised
  Wasserstein >= 0.1), out-of-vocabulary rate (current minus the reference's held-out
  rate >= 0.02), and a domain classifier (TF-IDF + logistic regression), drift when its
  cross-validated ROC-AUC > 0.55.

The opposite failure happens at small n: two random halves of 500 rows each are often 0.1
apart in normalised Wasserstein distance, or 0.55 in cross-validated AUC, by chance alone.
So each test also has a **noise guard**: the difference must be beyond what sampling noise
gives at these sizes, at level ``alpha`` (0.001) — two-sample Kolmogorov–Smirnov for
numeric values and lengths, chi-square for categories, a z-test for the OOV rate, and for the
AUC a normal bound (below). The guard only ever withholds a flag; at large n it is always
met and the distance alone decides. ``alpha=1`` turns it off (Evidently's behaviour).

The data set drifts when the share of drifted columns is at least ``drift_share`` (0.5),
as Evidently's ``DatasetDriftMetric``; a text column counts once, drifted if any of its
three tests is. Labelling drift (:func:`labelling_drift`) and prediction drift
(:func:`prediction_drift`) live in :mod:`truthset.data.label_drift`.

Pure: frames in, a :class:`DriftReport` out; no I/O. scipy.stats and scikit-learn are
imported when a test runs, so ``import truthset.data`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.divergence import chi2_p_values, js_distance
from truthset.core.errors import InvalidInput
from truthset.data._drift_base import (
    ColumnDrift,
    DriftReport,
    DriftThresholds,
    category_counts,
    ks_p_value,
    normalised_wasserstein,
    plain_value,
    summarise,
)
from truthset.data._text_drift import text_drift

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "DriftThresholds",
    "categorical_drift",
    "drift_report",
    "normalised_wasserstein",
    "numeric_drift",
]


def numeric_drift(
    column: str, reference: pd.Series, current: pd.Series, th: DriftThresholds, method: str = "wasserstein"
) -> ColumnDrift:
    """Normalised Wasserstein distance of one numeric column (missing values left out)."""
    ref, cur = _present(column, reference, current, numeric=True)
    score, scale = normalised_wasserstein(ref, cur)
    p = ks_p_value(ref, cur)
    return ColumnDrift(
        column,
        method,
        score,
        th.wasserstein,
        bool(score >= th.wasserstein and p < th.alpha),
        {
            "n_reference": int(ref.size),
            "n_current": int(cur.size),
            "mean_reference": float(ref.mean()),
            "mean_current": float(cur.mean()),
            "scale": scale,
            "p_value": p,
            **_missing(reference, current),
        },
    )


def categorical_drift(column: str, reference: pd.Series, current: pd.Series, th: DriftThresholds) -> ColumnDrift:
    """Jensen–Shannon distance of one categorical column over the union of its categories."""
    ref, cur = _present(column, reference, current, numeric=False)
    cats, rc, cc = category_counts(pd.Series(ref), pd.Series(cur))
    score = float(js_distance(rc, cc))
    p = float(chi2_p_values(rc, cc)[0])
    rp, cp = rc / rc.sum(), cc / cc.sum()
    moved = np.argsort(-np.abs(cp - rp))[:5]
    return ColumnDrift(
        column,
        "jensenshannon",
        score,
        th.jensenshannon,
        bool(score >= th.jensenshannon and p < th.alpha),
        {
            "n_reference": int(rc.sum()),
            "n_current": int(cc.sum()),
            "p_value": p,
            "largest_changes": [
                {"category": plain_value(cats[i]), "share_reference": float(rp[i]), "share_current": float(cp[i])}
                for i in moved
            ],
            "new_categories": [plain_value(c) for c in cats[(rc == 0) & (cc > 0)][:20]],
            **_missing(reference, current),
        },
    )


# --------------------------------------------------------------------------- report
def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] | None = None,
    categorical_columns: Sequence[str] | None = None,
    thresholds: DriftThresholds | None = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> DriftReport:
    """Test every column for drift between ``reference`` and ``current``.

    Parameters
    ----------
    reference, current : DataFrame
        The two data sets (rows: records). Columns tested: ``columns``, or every column the
        two share.
    columns : sequence of str, optional
        Which columns to test (default: all shared ones, in the reference's order).
    text_columns, categorical_columns : sequence of str, optional
        Column kinds. Not given: numeric dtypes (not bool) are numeric; a string column is
        text when its median value has three or more words or most of its values are
        distinct; everything else is categorical.
    thresholds : DriftThresholds, optional
        Thresholds of every test (Evidently's defaults).
    max_rows : int
        The domain classifier trains on at most this many rows of each side (a seeded
        sample), so 100,000 rows take seconds; the other tests use every row.
    seed : int
        Seed of the samples, splits and folds: the same seed gives the same report.

    Returns
    -------
    DriftReport
        ``drift`` (the data set), ``columns`` (one :class:`ColumnDrift` per test; a text
        column has three: ``text_length``, ``oov_rate``, ``domain_classifier``).

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [1.0, 2, 3, 4, 5] * 20, "c": list("aabbc") * 20})
    >>> cur = pd.DataFrame({"x": [3.0, 4, 5, 6, 7] * 20, "c": list("aabbc") * 20})
    >>> r = drift_report(ref, cur)
    >>> r.drift, [(c.column, c.method, round(c.score, 3), c.drift) for c in r.columns]
    (True, [('x', 'wasserstein', 1.414, True), ('c', 'jensenshannon', 0.0, False)])
    """
    th = thresholds or DriftThresholds()
    for name, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"drift_report: {name} must be a pandas DataFrame; got {type(frame).__name__}.")
        if len(frame) == 0:
            raise InvalidInput(f"drift_report: the {name} data set has no rows; drift needs rows on both sides.")
    names = _columns(reference, current, columns)
    texts = set(text_columns or ())
    cats = set(categorical_columns or ())
    tests: list[ColumnDrift] = []
    for name in names:
        ref, cur = reference[name], current[name]
        kind = (
            "text"
            if name in texts
            else "categorical"
            if name in cats
            else _infer_kind(ref)
            if text_columns is None
            else _infer_kind(ref, text=False)
        )
        if kind == "numeric":
            tests.append(numeric_drift(name, ref, cur, th))
        elif kind == "categorical":
            tests.append(categorical_drift(name, ref, cur, th))
        else:
            r, c = _present(name, ref, cur, numeric=False)
            tests.extend(
                text_drift(
                    name, r.astype(str), c.astype(str), th, max_rows=max_rows, seed=seed, missing=_missing(ref, cur)
                )
            )
    return summarise(tests, th.drift_share)


# --------------------------------------------------------------------------- helpers
def _columns(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        names = [c for c in reference.columns if c in set(current.columns)]
        if not names:
            raise InvalidInput(
                f"drift_report: reference and current share no column (reference has "
                f"{list(reference.columns)}, current {list(current.columns)}); rename them "
                "or pass columns=[...]."
            )
        return [str(c) for c in names]
    missing = [
        (c, side) for c in columns for side, f in (("reference", reference), ("current", current)) if c not in f.columns
    ]
    if missing:
        raise InvalidInput(
            f"drift_report: column {missing[0][0]!r} is not in the {missing[0][1]} data set "
            f"(its columns: {list((reference if missing[0][1] == 'reference' else current).columns)})."
        )
    return list(columns)


def _infer_kind(series: pd.Series, *, text: bool = True) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    if not text or isinstance(series.dtype, pd.CategoricalDtype):
        return "categorical"
    values = series.dropna()
    if values.empty:
        return "categorical"
    as_text = values.astype(str)
    # the median word count of a seeded sample of 1,000 decides as well as all would, faster
    sample = as_text.sample(min(len(as_text), 1000), random_state=0)
    words = sample.str.count(r"\S+")
    return "text" if float(words.median()) >= 3 or as_text.nunique() > 0.5 * len(as_text) else "categorical"


def _present(column: str, reference: pd.Series, current: pd.Series, *, numeric: bool) -> tuple[Any, Any]:
    """The values of both sides without missing ones (and without infinities if numeric)."""
    out = []
    for side, s in (("reference", reference), ("current", current)):
        if numeric:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            v = v[np.isfinite(v)]
            size = v.size
        else:
            v = s.dropna()
            size = len(v)
        if size == 0:
            raise InvalidInput(
                f"drift: column {column!r} has no {'finite numeric ' if numeric else ''}values "
                f"in the {side} data set; leave it out with columns=[...] or fill it."
            )
        out.append(v)
    return out[0], out[1]


def _missing(reference: pd.Series, current: pd.Series) -> dict[str, float]:
    return {"missing_reference": float(reference.isna().mean()), "missing_current": float(current.isna().mean())}
