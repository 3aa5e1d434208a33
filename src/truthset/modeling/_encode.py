"""Turn label arrays and probability tables into integer codes, with clear errors (private).

Conventions (scikit-learn's): ``classes`` is the ordered list of class labels and the
columns of ``proba`` follow it (a fitted estimator's ``classes_``). A binary problem may
pass ``proba`` as one column: the probability of ``classes[1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Encoded:
    """Test labels as codes into ``classes``; ``proba`` is ``(n, K)`` or ``None``."""

    classes: npt.NDArray[Any]
    true: IntArray
    pred: IntArray
    proba: FloatArray | None

    @property
    def k(self) -> int:
        return int(len(self.classes))

    @property
    def n(self) -> int:
        return int(self.true.size)

    def probs(self, what: str = "this metric") -> FloatArray:
        """The ``(n, K)`` probabilities; a clear error if none were given."""
        if self.proba is None:
            raise InvalidInput(f"{what} needs class probabilities; pass proba=.")
        return self.proba


def as_1d(values: Any, name: str) -> npt.NDArray[Any]:
    """A 1-D numpy array from a list, array or Series; error if it is not 1-D."""
    arr = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInput(f"{name} must be 1-D (one value per test item); got shape {arr.shape}.")
    return arr


def codes_of(values: npt.NDArray[Any], classes: npt.NDArray[Any], name: str) -> IntArray:
    """Positions of ``values`` in ``classes``; error naming unknown labels."""
    pos = pd.Index(classes).get_indexer(values)
    if (pos < 0).any():
        bad = pd.unique(values[pos < 0])[:5].tolist()
        raise InvalidInput(
            f"{name} holds label(s) {bad} that are not among the classes "
            f"{pd.Index(classes)[:10].tolist()}; pass classes= with every label, in the order of the "
            "probability columns."
        )
    return np.asarray(pos, dtype=np.int64)


def check_proba(proba: Any, n: int, name: str = "proba") -> FloatArray:
    """A finite ``(n, K)`` float array of probabilities; a 1-D input becomes two columns."""
    p = proba.to_numpy(dtype=np.float64) if isinstance(proba, pd.DataFrame) else np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[0] != n:
        raise InvalidInput(
            f"{name} must have one row per test item ({n}) and one column per class; got shape {p.shape}."
        )
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise InvalidInput(f"{name} must hold probabilities in [0, 1] with no NaN.")
    return p


def encode(
    y_true: Any,
    y_pred: Any = None,
    *,
    proba: Any = None,
    classes: Any = None,
) -> Encoded:
    """Encode test truth, predictions and probabilities against one class list.

    ``classes`` defaults to the columns of a ``proba`` DataFrame, else the sorted labels
    seen in ``y_true`` and ``y_pred``. ``y_pred`` defaults to the most probable class.
    """
    true_raw = as_1d(y_true, "y_true")
    if true_raw.size == 0:
        raise InvalidInput("y_true is empty; evaluation needs at least one test item.")
    if pd.isna(true_raw).any():
        raise InvalidInput("y_true holds missing labels; drop unlabelled test items first.")
    pred_raw = None if y_pred is None else as_1d(y_pred, "y_pred")
    if pred_raw is not None and pred_raw.size != true_raw.size:
        raise InvalidInput(
            f"y_pred has {pred_raw.size} values but y_true has {true_raw.size}; they must "
            "describe the same test items in the same order."
        )
    if pred_raw is None and proba is None:
        raise InvalidInput("pass y_pred (predicted labels) or proba (class probabilities).")
    if classes is None and isinstance(proba, pd.DataFrame):
        classes = proba.columns.to_numpy()
    if classes is None:
        seen = true_raw if pred_raw is None else np.concatenate([true_raw, pred_raw])
        classes = np.asarray(sorted(pd.unique(seen).tolist()))
    cls = as_1d(classes, "classes")
    if pd.Index(cls).has_duplicates:
        raise InvalidInput(f"classes must be distinct; got {list(cls)[:10]}.")
    p = None if proba is None else check_proba(proba, true_raw.size)
    if p is not None and p.shape[1] != cls.size:
        raise InvalidInput(
            f"proba has {p.shape[1]} columns but there are {cls.size} classes "
            f"{list(cls)[:10]}; pass classes= in the order of the probability columns "
            "(a fitted model's classes_)."
        )
    true = codes_of(true_raw, cls, "y_true")
    if pred_raw is not None:
        pred = codes_of(pred_raw, cls, "y_pred")
    else:  # proba was given (checked above)
        pred = np.asarray(p).argmax(axis=1).astype(np.int64)
    return Encoded(cls, true, pred, p)
