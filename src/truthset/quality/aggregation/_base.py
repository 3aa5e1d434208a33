"""The estimator base of every aggregator: parameters, the fit front door, public attributes.

Every aggregator turns the long annotation frame into integer arrays once
(:func:`truthset.core.codes.encode_annotations`), validates its parameters against its declared
constraints (:mod:`._params`), runs its ``_fit`` on the arrays (helpers in :mod:`._arrays`), and
this base turns the fitted arrays into the public pandas attributes ending in ``_``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from truthset.core.codes import AnnotationCodes, encode_annotations
from truthset.core.errors import InvalidInput, NotFittedError
from truthset.quality.aggregation._arrays import (
    FloatArray,
    IntArray,
    break_ties,
    row_argmax,
    vote_counts,
)
from truthset.quality.aggregation._params import Constraint


@dataclass
class Fitted:
    """What a model's ``_fit`` returns, as arrays over the integer codes.

    Shapes: ``probas`` (n_items, K), ``skills`` (n_annotators,), ``errors``
    (n_annotators, K_true, K_observed) with rows summing to 1 (NaN where no evidence),
    ``labels`` (n_items,) label codes, -1 for "no label" (only MajorityVote's ``tie='nan'``).
    """

    probas: FloatArray
    skills: FloatArray
    errors: FloatArray
    loss_history: list[float] = field(default_factory=list)
    labels: IntArray | None = None
    majority: IntArray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- estimator base
class BaseAggregator:
    """Base of every aggregator: parameter handling, the fit front door, the public attributes.

    Subclasses declare ``_parameter_constraints`` (name -> list of accepted constraints) and
    implement ``_fit(codes, **fit_params) -> Fitted``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}
    _fitted_names: ClassVar[tuple[str, ...]] = (
        "labels_",
        "probas_",
        "skills_",
        "errors_",
        "loss_history_",
        "n_iter_",
        "majority_labels_",
        "majority_agreement_",
    )

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__`` (scikit-learn's ``get_params``).

        ``deep`` is accepted for scikit-learn's ``clone`` and ``GridSearchCV``; aggregators
        hold no nested estimators, so it changes nothing.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set hyper-parameters; unknown names are an error. Validation happens in ``fit``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise InvalidInput(f"{type(self).__name__} has no parameter {name!r}; valid parameters: {valid}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: fitted attributes before fit.
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(
                f"{type(self).__name__} has no attribute {name!r} because it is not fitted yet; "
                f"call .fit(df) with an annotation frame (item, annotator, label) first."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _validate_params(self) -> None:
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if not any(c.accepts(value) for c in constraints):
                expected = "; or ".join(str(c) for c in constraints)
                raise InvalidInput(
                    f"{type(self).__name__}: parameter {name}={value!r} is invalid; expected "
                    f"{expected}. Pass a valid value, e.g. {type(self).__name__}({name}=...)."
                )

    def _check_fitted(self) -> None:
        if "probas_" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call .fit(df) with an annotation "
                "frame (item, annotator, label) before asking for predictions."
            )

    # ---------------------------------------------------------------- public API
    def fit(self, df: pd.DataFrame, **fit_params: Any) -> Self:
        """Fit on a long annotation frame (``item, annotator, label``; or ``task, worker``).

        Returns ``self`` with ``labels_``, ``probas_``, ``skills_``, ``errors_``,
        ``loss_history_``, ``n_iter_``, ``majority_labels_`` and ``majority_agreement_`` set.
        """
        self._validate_params()
        codes = encode_annotations(df)
        if codes.n_annotations == 0:
            raise InvalidInput(
                f"{type(self).__name__}.fit received an empty annotation frame; "
                "pass at least one row (item, annotator, label)."
            )
        fitted = self._fit(codes, **fit_params)
        self._store(codes, fitted)
        return self

    def fit_predict(self, df: pd.DataFrame, **fit_params: Any) -> pd.Series:
        """Fit and return ``labels_`` (Series indexed by item)."""
        return self.fit(df, **fit_params).labels_

    def fit_predict_proba(self, df: pd.DataFrame, **fit_params: Any) -> pd.DataFrame:
        """Fit and return ``probas_`` (DataFrame item x label, rows sum to 1)."""
        return self.fit(df, **fit_params).probas_

    def predict(self) -> pd.Series:
        """The aggregated labels of the fitted items; raises NotFittedError before ``fit``."""
        self._check_fitted()
        return self.labels_

    def predict_proba(self) -> pd.DataFrame:
        """The posteriors of the fitted items; raises NotFittedError before ``fit``."""
        self._check_fitted()
        return self.probas_

    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        raise NotImplementedError

    def _majority_codes(self, codes: AnnotationCodes) -> IntArray:
        return break_ties(vote_counts(codes), codes, tie="random", random_state=0, exact=True)

    def _store(self, codes: AnnotationCodes, fitted: Fitted) -> None:
        items = codes.items.rename("item")
        label_index = pd.Index(codes.labels, name="label")
        annotators = codes.annotators.rename("annotator")
        lab = fitted.labels if fitted.labels is not None else row_argmax(fitted.probas)
        self.probas_ = pd.DataFrame(fitted.probas, index=items, columns=label_index)
        self.labels_ = _decode_labels(lab, codes, items)
        self.skills_ = pd.Series(fitted.skills, index=annotators, name="skill")
        k = codes.n_labels
        idx = pd.MultiIndex.from_product([codes.annotators, codes.labels], names=["annotator", "true_label"])
        self.errors_ = pd.DataFrame(
            fitted.errors.reshape(codes.n_annotators * k, k),
            index=idx,
            columns=pd.Index(codes.labels, name="observed_label"),
        )
        self.loss_history_ = [float(x) for x in fitted.loss_history]
        self.n_iter_ = len(self.loss_history_)
        mv = fitted.majority if fitted.majority is not None else self._majority_codes(codes)
        self.majority_labels_ = _decode_labels(mv, codes, items)
        self.majority_agreement_ = float(np.mean(mv == lab))
        for name, value in fitted.extra.items():
            setattr(self, name, value)


def _decode_labels(lab: IntArray, codes: AnnotationCodes, items: pd.Index) -> pd.Series:
    missing = lab < 0
    values = codes.labels.take(np.where(missing, 0, lab))
    out = pd.Series(np.asarray(values), index=items, name="label")
    if missing.any():
        out = out.astype(object).where(~missing, np.nan)
    return out


def trivial_fit(codes: AnnotationCodes) -> Fitted:
    """Result for a single-label data set: every item gets that label with probability 1."""
    a = codes.n_annotators
    return Fitted(
        probas=np.ones((codes.n_items, 1)),
        skills=np.ones(a),
        errors=np.ones((a, 1, 1)),
        loss_history=[0.0],
    )
