"""Majority vote, weighted majority vote, and the documented tie policy.

Majority vote is the baseline every learned aggregator is reported beside. Votes are
counted with one ``np.bincount`` over ``item * K + label``.

Tie policy (``tie=``), applied when two or more labels share the top (weighted) count:

``"random"`` (default)
    pick one of the tied labels uniformly at random. The draw is a pseudo-random key
    computed from ``(random_state, item id, label)`` by hashing, so an item's choice does
    not depend on row order, on the other items in the frame, or on the annotator names:
    re-running on the same data, or on more data with the same votes for that item, gives
    the same label. ``random_state=None`` draws a fresh seed per ``fit``.
``"first"``
    the first tied label in sorted label order (what crowd-kit's ``MajorityVote`` does).
``"nan"``
    no label: ``labels_`` is NaN for that item (dtype becomes object).

``probas_`` is always the (weighted) vote share, so tied labels keep equal probabilities
whatever the policy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from truthset.core.codes import AnnotationCodes
from truthset.core.errors import InvalidInput
from truthset.quality.aggregation._arrays import (
    FloatArray,
    IntArray,
    break_ties,
    confusion_rates,
    normalize_rows,
    soft_confusion_bincount,
    vote_counts,
)
from truthset.quality.aggregation._base import BaseAggregator, Fitted
from truthset.quality.aggregation._params import SEED, Constraint, InstanceOf, Interval, Options

__all__ = ["MajorityVote", "WeightedMajorityVote", "compare_with_majority"]

_TIE = Options(("random", "first", "nan"))


class MajorityVote(BaseAggregator):
    """Majority vote: each item gets its most frequent label.

    ``probas_`` are vote shares (rows sum to 1), ``skills_`` each annotator's agreement
    with ``labels_`` (NaN where ``labels_`` is NaN is ignored), ``errors_`` each annotator's
    confusion against the vote shares (index (annotator, true_label), columns
    observed_label, rows sum to 1). ``loss_history_`` is empty: there is nothing to iterate.

    Parameters
    ----------
    tie : {"random", "first", "nan"}, default "random"
        What to do when labels tie for the top count (see the module docstring).
    random_state : int or None, default 0
        Seed for ``tie="random"``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": ["a", "a", "a", "b", "b"],
    ...                    "annotator": ["x", "y", "z", "x", "y"],
    ...                    "label": ["cat", "cat", "dog", "dog", "dog"]})
    >>> MajorityVote().fit_predict(df).to_dict()
    {'a': 'cat', 'b': 'dog'}
    >>> MajorityVote().fit(df).probas_.round(2).loc["a"].tolist()
    [0.67, 0.33]
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "tie": [_TIE],
        "random_state": [SEED],
    }

    def __init__(self, *, tie: str = "random", random_state: int | None = 0) -> None:
        self.tie = tie
        self.random_state = random_state

    def _weights(self, codes: AnnotationCodes) -> FloatArray | None:
        return None

    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        if fit_params:
            raise InvalidInput(
                f"{type(self).__name__}.fit takes only the annotation frame; got extra "
                f"argument(s) {sorted(fit_params)}. Pass weights to the constructor instead."
            )
        weights = self._weights(codes)
        scores = vote_counts(codes, weights)
        probas = normalize_rows(scores)
        labels = break_ties(scores, codes, tie=self.tie, random_state=self.random_state, exact=weights is None)
        skills = _agreement(codes, labels)
        errors = confusion_rates(soft_confusion_bincount(codes, probas))
        extra: dict[str, Any] = {}
        if weights is not None:
            extra["weights_"] = pd.Series(weights, index=codes.annotators.rename("annotator"), name="weight")
        majority = labels if weights is None else None
        return Fitted(probas, skills, errors, [], labels, majority, extra)

    def _majority_codes(self, codes: AnnotationCodes) -> IntArray:
        return break_ties(vote_counts(codes), codes, tie=self.tie, random_state=self.random_state, exact=True)


def _agreement(codes: AnnotationCodes, labels: IntArray) -> FloatArray:
    """Per-annotator share of judgements equal to ``labels`` (items without a label ignored)."""
    lab = labels.take(codes.item)
    a = codes.n_annotators
    ann, hit = codes.annotator, codes.label == lab
    if (labels < 0).any():
        valid = lab >= 0
        ann, hit = ann[valid], hit[valid]
    hits = np.bincount(ann, weights=hit, minlength=a)
    n = np.bincount(ann, minlength=a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / np.maximum(n, 1), np.nan)


class WeightedMajorityVote(MajorityVote):
    """Weighted majority vote: each judgement counts with its annotator's weight.

    With ``weights=None`` the weights are learned as each annotator's agreement with the
    plain majority vote, then the vote is re-run with them (crowd-kit's ``Wawa``).
    Given weights must be finite and >= 0; annotators missing from them get
    ``default_weight`` (``None``: an error naming them). ``weights_`` holds the weights used.

    Parameters
    ----------
    weights : Series or dict (annotator -> weight), optional
        Known annotator weights, e.g. gold accuracy. ``None`` learns them as above.
    default_weight : float, optional
        Weight for annotators absent from ``weights``.
    tie, random_state
        As for :class:`MajorityVote`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": ["a", "a", "a"], "annotator": ["x", "y", "z"],
    ...                    "label": [1, 0, 0]})
    >>> WeightedMajorityVote(weights={"x": 3.0, "y": 1.0, "z": 1.0}).fit_predict(df).tolist()
    [1]
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "weights": [InstanceOf((pd.Series, dict, type(None)), "a Series or dict (annotator -> weight), or None")],
        "default_weight": [Interval(0, None), InstanceOf((type(None),), "None")],
        "tie": [_TIE],
        "random_state": [SEED],
    }

    def __init__(
        self,
        *,
        weights: pd.Series | dict[Any, float] | None = None,
        default_weight: float | None = None,
        tie: str = "random",
        random_state: int | None = 0,
    ) -> None:
        self.weights = weights
        self.default_weight = default_weight
        self.tie = tie
        self.random_state = random_state

    def _weights(self, codes: AnnotationCodes) -> FloatArray:
        if self.weights is None:
            mv = break_ties(vote_counts(codes), codes, tie=self.tie, random_state=self.random_state, exact=True)
            return np.nan_to_num(_agreement(codes, mv), nan=0.0)
        given = pd.Series(self.weights, dtype=np.float64)
        w = np.array(given.reindex(codes.annotators), dtype=np.float64)
        missing = np.isnan(w)
        if missing.any():
            if self.default_weight is None:
                names = codes.annotators[missing][:5].tolist()
                raise InvalidInput(
                    f"no weight for {int(missing.sum())} annotator(s), e.g. {names}; give a "
                    "weight for every annotator or set default_weight=..."
                )
            w[missing] = float(self.default_weight)
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise InvalidInput(
                f"annotator weights must be finite and >= 0; got min {np.nanmin(w)!r}, "
                f"max {np.nanmax(w)!r}. Clip or rescale them (e.g. use accuracies in [0, 1])."
            )
        return w


def compare_with_majority(model: BaseAggregator, df: pd.DataFrame, truth: pd.Series | None = None) -> pd.DataFrame:
    """Fit ``model`` and a default :class:`MajorityVote` on ``df``; report them side by side.

    Returns a DataFrame indexed by method name ("majority_vote" and the model's class name)
    with columns ``agreement_with_majority`` (share of items with the same label) and, when
    ``truth`` (Series item -> true label) is given, ``accuracy`` and ``n_truth`` over items in
    both. Learned aggregators should always be reported beside majority vote.

    Examples
    --------
    >>> import pandas as pd
    >>> from truthset.quality.aggregation import DawidSkene
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "annotator": list("xyzxyz"),
    ...                    "label": ["a", "a", "b", "b", "b", "b"]})
    >>> compare_with_majority(DawidSkene(), df)["agreement_with_majority"].tolist()
    [1.0, 1.0]
    """
    learned = model.fit(df).labels_
    mv = MajorityVote().fit(df).labels_
    rows: dict[str, dict[str, float]] = {}
    for name, labels in (("majority_vote", mv), (type(model).__name__, learned)):
        row = {"agreement_with_majority": float((labels == mv).mean())}
        if truth is not None:
            common = labels.index.intersection(truth.index)
            row["accuracy"] = float((labels.loc[common] == truth.loc[common]).mean())
            row["n_truth"] = float(len(common))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
