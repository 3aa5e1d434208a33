"""Dawid-Skene (full confusion matrices) and its one-coin variant, fitted by EM.

Model (Dawid & Skene 1979): item ``j`` has a latent true label ``z_j ~ Categorical(pi)``;
annotator ``a`` reports label ``k`` with probability ``E[a, z_j, k]`` (a row-stochastic
K x K confusion matrix per annotator).

EM on the integer codes, with ``M`` the sparse item x (annotator*K) count matrix:

* E-step: ``log q = M @ W + log pi`` with ``W[a*K + k, c] = log E[a, c, k]``, then a
  row-wise softmax -- one sparse-dense product for all items;
* M-step: ``counts = M.T @ q`` gives the expected (annotator, observed, true) counts;
  ``E[a, c, :] = normalise(counts + smoothing)`` and ``pi = normalise(sum_j q_j + prior_smoothing)``.

``smoothing`` is a symmetric Dirichlet(1 + smoothing) prior on each confusion row, so the
fit is MAP-EM; ``0`` is plain maximum likelihood (probabilities floored at 1e-10 as in
crowd-kit). Initialisation is the majority-vote share, as in crowd-kit, so with
``smoothing=0`` the iterates equal crowd-kit's ``DawidSkene`` (see the docs for what differs:
only the stopping rule and the loss reported).

``loss_history_[t]`` is the negative log posterior per annotation,
``-(sum_j log p(votes_j) + smoothing * sum log E) / n_annotations``, evaluated at the
parameters entering E-step ``t``; EM never increases it. Iteration stops after ``max_iter``
E-steps or when it drops by less than ``tol``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from truthset.core.codes import AnnotationCodes
from truthset.quality.aggregation._arrays import (
    EPS,
    FloatArray,
    encode_gold,
    normalize_rows,
    one_hot_matrix,
    posterior_from_log,
    soft_confusion,
    vote_counts,
)
from truthset.quality.aggregation._base import BaseAggregator, Fitted, trivial_fit
from truthset.quality.aggregation._params import Constraint, Interval

__all__ = ["DawidSkene", "OneCoinDawidSkene"]


class DawidSkene(BaseAggregator):
    """Dawid-Skene aggregation with a full confusion matrix per annotator, fitted by EM.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum number of EM iterations (E-step + M-step).
    tol : float, default 1e-5
        Stop when the loss (negative log posterior per annotation) improves by less.
        ``0`` runs exactly ``max_iter`` iterations.
    smoothing : float, default 0.0
        Pseudo-count added to every confusion-matrix cell in the M-step (symmetric
        Dirichlet prior). Use e.g. 0.1-1 for annotators with few judgements.
    prior_smoothing : float, default 0.0
        Pseudo-count added to every class in the class-prior update.

    Attributes
    ----------
    labels_ : Series (item -> label)
    probas_ : DataFrame (item x label), rows sum to 1
    errors_ : DataFrame, index (annotator, true_label), columns observed_label; rows sum to 1.
        (crowd-kit stores the transpose: index (worker, observed label), columns true label.)
    skills_ : Series (annotator -> expected accuracy ``sum_c pi_c E[a, c, c]``)
    priors_ : Series (label -> class prior)
    loss_history_ : list of float
    majority_labels_, majority_agreement_ : majority vote and the share of items agreeing.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...                    "annotator": list("xyzxyzxyz"),
    ...                    "label": ["a", "a", "b", "b", "b", "b", "a", "a", "a"]})
    >>> ds = DawidSkene().fit(df)
    >>> ds.labels_.tolist()
    ['a', 'b', 'a']
    >>> bool(abs(ds.probas_.sum(axis=1) - 1).max() < 1e-12)
    True

    Known gold labels are clamped in every E-step:

    >>> DawidSkene().fit(df, gold=pd.Series({1: "b"})).labels_.loc[1]
    'b'
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "max_iter": [Interval(1, None, integer=True)],
        "tol": [Interval(0, None)],
        "smoothing": [Interval(0, None)],
        "prior_smoothing": [Interval(0, None)],
    }

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        smoothing: float = 0.0,
        prior_smoothing: float = 0.0,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.prior_smoothing = prior_smoothing

    def fit(self, df: pd.DataFrame, gold: pd.Series | None = None) -> DawidSkene:  # type: ignore[override]
        """Fit by EM. ``gold`` (Series item -> label) clamps those items' posteriors."""
        return super().fit(df, gold=gold)

    def fit_predict(self, df: pd.DataFrame, gold: pd.Series | None = None) -> pd.Series:  # type: ignore[override]
        """Fit and return ``labels_``."""
        return self.fit(df, gold=gold).labels_

    def fit_predict_proba(  # type: ignore[override]
        self, df: pd.DataFrame, gold: pd.Series | None = None
    ) -> pd.DataFrame:
        """Fit and return ``probas_``."""
        return self.fit(df, gold=gold).probas_

    # ------------------------------------------------------------------ M-step
    def _m_step(self, m: sp.csr_matrix, q: FloatArray, n_annotators: int) -> tuple[FloatArray, FloatArray]:
        """Class prior (K,) and confusion (A, K_true, K_obs) from posteriors ``q``."""
        priors = normalize_rows(q.sum(axis=0) + self.prior_smoothing)
        counts = soft_confusion(m, q, n_annotators) + self.smoothing
        np.clip(counts, EPS, None, out=counts)
        return priors, counts / counts.sum(axis=2, keepdims=True)

    def _log_prior_params(self, errors: FloatArray) -> float:
        return float(self.smoothing * np.log(errors).sum()) if self.smoothing else 0.0

    # ------------------------------------------------------------------ EM
    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        gold = fit_params.pop("gold", None)
        if codes.n_labels == 1:
            return trivial_fit(codes)
        k, a = codes.n_labels, codes.n_annotators
        gold_items, gold_labels = encode_gold(gold, codes)
        m = one_hot_matrix(codes)

        def clamp(q: FloatArray) -> FloatArray:
            if gold_items.size:
                q[gold_items] = 0.0
                q[gold_items, gold_labels] = 1.0
            return q

        q = clamp(normalize_rows(vote_counts(codes)))
        priors, errors = self._m_step(m, q, a)
        history: list[float] = []
        n = codes.n_annotations
        for _ in range(self.max_iter):
            w = np.log(errors).transpose(0, 2, 1).reshape(a * k, k)
            log_joint = np.asarray(m @ w) + np.log(np.clip(priors, EPS, None))[None, :]
            q, log_z = posterior_from_log(log_joint)
            if gold_items.size:
                log_z[gold_items] = log_joint[gold_items, gold_labels]
                q = clamp(q)
            history.append(-(float(log_z.sum()) + self._log_prior_params(errors)) / n)
            priors, errors = self._m_step(m, q, a)
            if len(history) > 1 and abs(history[-2] - history[-1]) < self.tol:
                break
        skills = np.einsum("c,acc->a", priors, errors)
        labels_index = pd.Index(codes.labels, name="label")
        extra = {"priors_": pd.Series(priors, index=labels_index, name="prior")}
        return Fitted(q, skills, errors, history, None, None, extra)


class OneCoinDawidSkene(DawidSkene):
    """Dawid-Skene with one accuracy ``s_a`` per annotator ("one coin").

    ``E[a, c, k] = s_a`` if ``k == c`` else ``(1 - s_a) / (K - 1)``. The M-step sets
    ``s_a = (sum of q[j, y] over a's judgements + smoothing) / (n_a + 2 * smoothing)``,
    i.e. the expected accuracy (crowd-kit's ``OneCoinDawidSkene`` update when smoothing = 0).
    ``skills_`` is ``s_a``. Same EM loop, loss and gold clamping as :class:`DawidSkene`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "annotator": list("xyzxyz"),
    ...                    "label": [0, 0, 1, 1, 1, 1]})
    >>> OneCoinDawidSkene().fit_predict(df).tolist()
    [0, 1]
    """

    def _m_step(self, m: sp.csr_matrix, q: FloatArray, n_annotators: int) -> tuple[FloatArray, FloatArray]:
        k = q.shape[1]
        priors = normalize_rows(q.sum(axis=0) + self.prior_smoothing)
        conf = soft_confusion(m, q, n_annotators)  # (A, K_true, K_obs) expected counts
        hits = np.trace(conf, axis1=1, axis2=2)
        total = conf.sum(axis=(1, 2))
        s = (hits + self.smoothing) / np.maximum(total + 2 * self.smoothing, EPS)
        s = np.clip(s, EPS, 1 - EPS)
        off = (1 - s) / (k - 1)
        errors = np.broadcast_to(off[:, None, None], (n_annotators, k, k)).copy()
        diag = np.arange(k)
        errors[:, diag, diag] = s[:, None]
        return priors, errors

    def _log_prior_params(self, errors: FloatArray) -> float:
        if not self.smoothing:
            return 0.0
        k = errors.shape[1]
        s = errors[:, 0, 0]
        return float(self.smoothing * (np.log(s) + np.log1p(-s)).sum()) if k > 1 else 0.0

    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        fitted = super()._fit(codes, **fit_params)
        fitted.skills = fitted.errors[:, 0, 0].copy() if codes.n_labels > 1 else fitted.skills
        return fitted
