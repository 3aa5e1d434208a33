"""Drift of labels: a model's predictions, and the annotators' labels between two sets.

* :func:`prediction_drift`: a trained model's outputs on the reference and on the current
  data. Predicted labels by Jensen–Shannon distance, scores (class probabilities) by
  normalised Wasserstein distance; the thresholds of :class:`~truthset.data.drift.DriftThresholds`.
* :func:`labelling_drift`: two sets of annotations in the long frame (``item``,
  ``annotator``, ``label``), e.g. the annotations made under schema version 1 and those made
  under version 2, or last month's and this month's. The label distribution overall, and
  each annotator's own label distribution (annotators with enough annotations in both sets),
  by Jensen–Shannon distance. A change in one annotator alone points at that annotator; a
  change in everyone at the guide, the schema or the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.codes import normalize_annotations
from truthset.core.divergence import chi2_p_values, js_distances
from truthset.core.errors import InvalidInput
from truthset.data._drift_base import (
    ColumnDrift,
    DriftReport,
    DriftThresholds,
    plain_value,
    summarise,
)
from truthset.data.drift import categorical_drift, numeric_drift


def prediction_drift(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    labels: Sequence[object] | None = None,
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Drift of a model's outputs between the reference and the current data.

    Parameters
    ----------
    reference, current : array-like
        Predicted probabilities, shape ``(n, k)`` (one column per class, rows summing to 1),
        or scores of the positive class, shape ``(n,)`` (binary; label 1 when >= 0.5).
    labels : sequence, optional
        Names of the ``k`` classes (default ``0 .. k-1``).
    thresholds : DriftThresholds, optional
        ``jensenshannon`` for the predicted labels, ``wasserstein`` for the scores.

    Returns
    -------
    DriftReport
        Tests ``predicted_label`` (Jensen–Shannon on the arg-max labels) and ``score``
        (binary) or ``proba[<label>]`` for each class (normalised Wasserstein).

    Examples
    --------
    >>> r = prediction_drift([0.1, 0.2, 0.8, 0.3] * 25, [0.7, 0.8, 0.9, 0.6] * 25)
    >>> r.drift, [(c.column, c.drift) for c in r.columns]
    (True, [('predicted_label', True), ('score', True)])
    """
    th = thresholds or DriftThresholds()
    ref, cur = _probabilities(reference, "reference"), _probabilities(current, "current")
    if ref.shape[1] != cur.shape[1]:
        raise InvalidInput(
            f"prediction_drift: the reference has {ref.shape[1]} class column(s) and the "
            f"current {cur.shape[1]}; both must come from the same model."
        )
    k = ref.shape[1]
    names = list(labels) if labels is not None else list(range(max(k, 2)))
    if len(names) != max(k, 2):
        raise InvalidInput(f"prediction_drift: {len(names)} labels given for {max(k, 2)} classes.")
    if k == 1:
        ref_label, cur_label = (ref[:, 0] >= 0.5).astype(int), (cur[:, 0] >= 0.5).astype(int)
        scores = [("score", ref[:, 0], cur[:, 0])]
    else:
        ref_label, cur_label = ref.argmax(axis=1), cur.argmax(axis=1)
        scores = (
            [("score", ref[:, 1], cur[:, 1])]
            if k == 2
            else [(f"proba[{names[j]}]", ref[:, j], cur[:, j]) for j in range(k)]
        )
    as_names = np.asarray(names, dtype=object)
    tests = [categorical_drift("predicted_label", pd.Series(as_names[ref_label]), pd.Series(as_names[cur_label]), th)]
    tests += [numeric_drift(name, pd.Series(r), pd.Series(c), th) for name, r, c in scores]
    return summarise(tests, th.drift_share)


@dataclass(frozen=True)
class AnnotatorDrift:
    """One annotator's label distribution, reference set against current set.

    ``drift`` when the Jensen–Shannon distance ``score`` reaches ``threshold`` and the
    chi-square noise guard ``p_value`` is below the thresholds' ``alpha``.
    """

    annotator: Any
    score: float
    threshold: float
    drift: bool
    n_reference: int
    n_current: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for ``--json``."""
        return {
            "annotator": self.annotator,
            "score": self.score,
            "threshold": self.threshold,
            "drift": self.drift,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class LabellingDrift:
    """Label distribution drift overall (``label``) and per annotator (``annotators``).

    ``drift`` is the overall verdict; ``annotators_drifted`` names the annotators whose own
    distribution moved.
    """

    drift: bool
    label: ColumnDrift
    annotators: tuple[AnnotatorDrift, ...]

    @property
    def annotators_drifted(self) -> list[Any]:
        """The annotators whose label distribution drifted."""
        return [a.annotator for a in self.annotators if a.drift]

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for ``--json``."""
        return {
            "drift": self.drift,
            "label": self.label.to_dict(),
            "annotators": [a.to_dict() for a in self.annotators],
            "annotators_drifted": self.annotators_drifted,
        }


def labelling_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    thresholds: DriftThresholds | None = None,
    min_annotations: int = 30,
) -> LabellingDrift:
    """Label distribution drift between two sets of annotations, overall and per annotator.

    Parameters
    ----------
    reference, current : DataFrame
        Long annotation frames (``item``, ``annotator``, ``label``; crowd-kit's ``task``,
        ``worker`` accepted), e.g. ``df[df.schema_version == 1]`` and
        ``df[df.schema_version == 2]``.
    thresholds : DriftThresholds, optional
        ``jensenshannon`` (0.1) applies overall and to each annotator.
    min_annotations : int
        An annotator is compared only with at least this many annotations in each set; fewer
        would make the distance mostly noise.

    Returns
    -------
    LabellingDrift
        ``drift``, ``label`` (the overall test) and ``annotators`` (one per annotator
        compared, ordered by score, largest first).
    """
    th = thresholds or DriftThresholds()
    ref, cur = normalize_annotations(reference), normalize_annotations(current)
    if len(ref) == 0 or len(cur) == 0:
        raise InvalidInput("labelling_drift: both annotation sets need at least one row.")
    overall = categorical_drift("label", ref["label"], cur["label"], th)
    both = pd.concat([ref[["annotator", "label"]], cur[["annotator", "label"]]], ignore_index=True)
    who, annotators = pd.factorize(both["annotator"])
    what, _ = pd.factorize(both["label"])
    n_ann, n_lab = len(annotators), int(what.max()) + 1
    side = np.r_[np.zeros(len(ref), dtype=np.int64), np.ones(len(cur), dtype=np.int64)]
    cells = np.bincount((side * n_ann + who) * n_lab + what, minlength=2 * n_ann * n_lab)
    counts = cells.reshape(2, n_ann, n_lab).astype(np.float64)
    n_ref, n_cur = counts[0].sum(axis=1), counts[1].sum(axis=1)
    keep = np.flatnonzero((n_ref >= min_annotations) & (n_cur >= min_annotations))
    scores = js_distances(counts[0, keep], counts[1, keep])
    p_values = chi2_p_values(counts[0, keep], counts[1, keep])
    rows = sorted(
        (
            AnnotatorDrift(
                plain_value(annotators[a]),
                float(s),
                th.jensenshannon,
                bool(s >= th.jensenshannon and p < th.alpha),
                int(n_ref[a]),
                int(n_cur[a]),
                float(p),
            )
            for a, s, p in zip(keep, scores, p_values)
        ),
        key=lambda r: -r.score,
    )
    return LabellingDrift(drift=overall.drift, label=overall, annotators=tuple(rows))


def _probabilities(values: npt.ArrayLike, side: str) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"prediction_drift: the {side} predictions are not numbers: {exc}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidInput(
            f"prediction_drift: the {side} predictions must be a non-empty (n,) score vector "
            f"or an (n, k) probability matrix; got shape {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise InvalidInput(f"prediction_drift: the {side} predictions hold NaN or infinity; drop those rows first.")
    return arr
