"""Error buckets: sort test failures into what should happen next.

A model's mistakes are often data problems. Each failed test item (prediction != label)
goes into exactly one bucket, the first that applies in this order:

1. ``broken_input`` - the input is empty or garbled (flags from the data checks): fix or
   drop the item.
2. ``likely_label_error`` - the label-quality score from the data checks is below
   ``label_quality_below`` (default 0.2; the score is in [0, 1], e.g. the out-of-sample
   probability of the given label, low meaning likely mislabelled): send to review.
3. ``ambiguous`` - annotator agreement (share of annotators who gave the final label) is
   below ``agreement_below`` (default 0.7: with three annotators any dissent counts): clarify
   the guideline or adjudicate.
4. ``rare_or_ood`` - the outlier score is at or above ``outlier_above`` (default: the 95th
   percentile of the scores over all test items), or the true class has fewer than
   ``rare_class_below`` (default 20) training items: collect more such examples.
5. ``class_confusion`` - none of the above: the model confuses two classes; the ``pairs``
   table counts (true, predicted) pairs so the most confused pair shows first.

Signals that are not given (or NaN for an item) never place an item in their bucket.
Examples in each bucket are listed most confident mistake first when probabilities are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling._encode import as_1d, encode

__all__ = ["BUCKETS", "ErrorBuckets", "error_buckets"]

BUCKETS = ("broken_input", "likely_label_error", "ambiguous", "rare_or_ood", "class_confusion")


@dataclass
class ErrorBuckets:
    """Result of :func:`error_buckets`.

    ``summary``: one row per bucket (``bucket``, ``count``, ``share`` of failures,
    ``examples`` = test positions); ``pairs``: (``true``, ``pred``, ``count``, ``examples``)
    for every confused pair; ``items``: one row per failure with its position, labels,
    bucket and every flag that applied (a failure can carry several flags, but sits in one
    bucket); ``thresholds``: the values used.
    """

    summary: pd.DataFrame
    pairs: pd.DataFrame
    items: pd.DataFrame
    thresholds: dict[str, Any]
    n_test: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``n_test``, ``n_errors``, ``buckets``, ``pairs``, ``thresholds``."""
        return {
            "n_test": self.n_test,
            "n_errors": int(len(self.items)),
            "buckets": self.summary.to_dict(orient="records"),
            "pairs": self.pairs.to_dict(orient="records"),
            "thresholds": self.thresholds,
        }


def _signal(values: Any, n: int, name: str, kind: str = "f") -> npt.NDArray[Any] | None:
    if values is None:
        return None
    arr = as_1d(values, name)
    if arr.size != n:
        raise InvalidInput(f"{name} has {arr.size} values but there are {n} test items.")
    if kind == "b":
        return np.asarray(pd.Series(arr).fillna(False).astype(bool))
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numeric (NaN for unknown).") from exc


def error_buckets(
    y_true: Any,
    y_pred: Any = None,
    *,
    proba: Any = None,
    classes: Any = None,
    label_quality: Any = None,
    agreement: Any = None,
    outlier_score: Any = None,
    empty: Any = None,
    garbled: Any = None,
    train_class_counts: dict[Any, int] | pd.Series | None = None,
    label_quality_below: float = 0.2,
    agreement_below: float = 0.7,
    outlier_above: float | None = None,
    rare_class_below: int = 20,
    max_examples: int = 20,
) -> ErrorBuckets:
    """Sort the failed test items into buckets (see the module docstring for the rules).

    Every per-item signal has one value per test item, aligned with ``y_true``.
    ``train_class_counts`` maps class -> number of training items (for the rare-class rule).
    """
    enc = encode(y_true, y_pred, proba=proba, classes=classes)
    n = enc.n
    fail = np.flatnonzero(enc.true != enc.pred)
    lq = _signal(label_quality, n, "label_quality")
    ag = _signal(agreement, n, "agreement")
    out_s = _signal(outlier_score, n, "outlier_score")
    emp = _signal(empty, n, "empty", "b")
    gar = _signal(garbled, n, "garbled", "b")
    cut = outlier_above
    if out_s is not None and cut is None and np.isfinite(out_s).any():
        cut = float(np.nanpercentile(out_s, 95))
    flags = pd.DataFrame(index=fail)
    false = np.zeros(fail.size, dtype=bool)
    flags["broken_input"] = (false if emp is None else emp[fail]) | (false if gar is None else gar[fail])
    with np.errstate(invalid="ignore"):
        flags["likely_label_error"] = false if lq is None else lq[fail] < label_quality_below
        flags["ambiguous"] = false if ag is None else ag[fail] < agreement_below
        ood = false if out_s is None or cut is None else out_s[fail] >= cut
    rare = false
    if train_class_counts is not None:
        counts = pd.Series(train_class_counts)
        per_class = counts.reindex(enc.classes).fillna(0).to_numpy()
        rare = per_class[enc.true[fail]] < rare_class_below
    flags["rare_or_ood"] = ood | rare
    flags["class_confusion"] = True
    bucket = (
        np.asarray(BUCKETS)[flags[list(BUCKETS)].to_numpy().argmax(axis=1)] if fail.size else np.zeros(0, dtype=object)
    )
    conf = None if enc.proba is None else enc.proba[fail].max(axis=1)
    items = pd.DataFrame(
        {
            "position": fail,
            "true": enc.classes[enc.true[fail]],
            "pred": enc.classes[enc.pred[fail]],
            "bucket": bucket,
            "confidence": np.nan if conf is None else conf,
        }
    )
    items = pd.concat([items, flags[list(BUCKETS[:-1])].reset_index(drop=True)], axis=1)
    order = np.argsort(-conf, kind="mergesort") if conf is not None else np.arange(fail.size)
    ranked = items.iloc[order]
    rows = []
    for b in BUCKETS:
        sel = ranked.loc[ranked["bucket"] == b, "position"]
        rows.append(
            {
                "bucket": b,
                "count": int(sel.size),
                "share": float(sel.size / fail.size) if fail.size else 0.0,
                "examples": sel.head(max_examples).astype(int).tolist(),
            }
        )
    conf_items = ranked[ranked["bucket"] == "class_confusion"]
    pair_counts = conf_items.groupby(["true", "pred"], sort=False).size()
    pairs = pd.DataFrame(
        [
            {
                "true": _plain(t),
                "pred": _plain(p),
                "count": int(c),
                "examples": conf_items.loc[(conf_items["true"] == t) & (conf_items["pred"] == p), "position"]
                .head(max_examples)
                .astype(int)
                .tolist(),
            }
            for (t, p), c in pair_counts.sort_values(ascending=False, kind="mergesort").items()
        ],
        columns=["true", "pred", "count", "examples"],
    )
    thresholds = {
        "label_quality_below": label_quality_below,
        "agreement_below": agreement_below,
        "outlier_above": cut,
        "rare_class_below": rare_class_below,
    }
    return ErrorBuckets(pd.DataFrame(rows), pairs, items, thresholds, n)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
