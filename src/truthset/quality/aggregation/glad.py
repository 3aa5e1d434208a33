"""GLAD: annotator ability and item difficulty (Whitehill et al., NeurIPS 2009).

Model: annotator ``a`` labels item ``j`` correctly with probability
``sigma(alpha_a * exp(beta_j))`` and otherwise picks one of the other ``K - 1`` labels
uniformly. ``alpha_a`` in (-inf, inf) is the ability (negative = adversarial),
``exp(beta_j)`` in (0, inf) the inverse difficulty (``beta`` is optimised in log space, as in
crowd-kit). Gaussian priors ``alpha ~ N(alpha_prior_mean, 1)``, ``beta ~ N(beta_prior_mean, 1)``
keep the MAP estimate finite. The class prior is uniform and fixed (as in the paper).

EM, vectorised over the n annotations (index arrays ``item``, ``annotator``, ``label``):

* E-step: with ``x_n = alpha[a_n] exp(beta[j_n])``, ``log q[j, c] = const_j +
  sum_{n in j, y_n = c} (log sigma(x_n) - log(1 - sigma(x_n)) + log(K - 1))`` -- two
  ``np.bincount`` calls;
* M-step: maximise ``Q = sum_n [q_n log sigma(x_n) + (1 - q_n) log((1 - sigma(x_n))/(K-1))]
  + log priors`` where ``q_n = q[j_n, y_n]``; its gradient is
  ``dQ/dalpha_a = sum_{n by a} (q_n - sigma_n) exp(beta_jn) - (alpha_a - mean)`` and
  ``dQ/dbeta_j = sum_{n on j} (q_n - sigma_n) alpha_an exp(beta_j) - (beta_j - mean)``, again
  ``np.bincount``. scipy's conjugate gradient takes ``m_step_max_iter`` steps from the
  previous point (crowd-kit's settings: CG, 25 iterations, gtol 1e-2).

``loss_history_`` is the negative log posterior per annotation at the parameters entering
each E-step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from truthset.core.codes import AnnotationCodes
from truthset.core.errors import InvalidInput
from truthset.quality.aggregation._base import (
    BaseAggregator,
    Constraint,
    Fitted,
    FloatArray,
    Interval,
    confusion_rates,
    one_hot_matrix,
    posterior_from_log,
    soft_confusion,
    trivial_fit,
)

__all__ = ["GLAD"]


def _log_sigmoid(x: FloatArray) -> FloatArray:
    return -np.logaddexp(0.0, -x)


class GLAD(BaseAggregator):
    """GLAD aggregation: annotator ability ``alphas_`` and item difficulty ``betas_``.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum number of EM iterations.
    tol : float, default 1e-5
        Stop when the loss improves by less than this (``0``: run ``max_iter``).
    alpha_prior_mean, beta_prior_mean : float, default 1.0
        Means of the unit-variance Gaussian priors on ability and log inverse difficulty;
        also the starting values.
    m_step_max_iter : int, default 25
        Conjugate-gradient iterations per M-step.
    m_step_tol : float, default 1e-2
        Gradient-norm tolerance of the M-step.

    Attributes
    ----------
    alphas_ : Series (annotator -> ability); also ``skills_``.
    betas_ : Series (item -> log inverse difficulty; larger = easier).
    errors_ : expected confusion implied by the posteriors (GLAD has no per-annotator
        matrix: its error rate varies by item), rows sum to 1.
    labels_, probas_, loss_history_, majority_labels_, majority_agreement_ : see the base.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "annotator": list("xyzxyz"),
    ...                    "label": ["a", "a", "b", "b", "b", "b"]})
    >>> GLAD().fit_predict(df).tolist()
    ['a', 'b']
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "max_iter": [Interval(1, None, integer=True)],
        "tol": [Interval(0, None)],
        "alpha_prior_mean": [Interval(None, None)],
        "beta_prior_mean": [Interval(None, None)],
        "m_step_max_iter": [Interval(1, None, integer=True)],
        "m_step_tol": [Interval(0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-5,
        alpha_prior_mean: float = 1.0,
        beta_prior_mean: float = 1.0,
        m_step_max_iter: int = 25,
        m_step_tol: float = 1e-2,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_prior_mean = alpha_prior_mean
        self.beta_prior_mean = beta_prior_mean
        self.m_step_max_iter = m_step_max_iter
        self.m_step_tol = m_step_tol

    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        if fit_params:
            raise InvalidInput(
                f"GLAD.fit takes only the annotation frame; got {sorted(fit_params)}. "
                "To use known labels, fit DawidSkene(...).fit(df, gold=...)."
            )
        if codes.n_labels == 1:
            return trivial_fit(codes)
        item = codes.item.astype(np.intp)
        ann = codes.annotator.astype(np.intp)
        label = codes.label.astype(np.intp)
        n_items, n_ann, k = codes.n_items, codes.n_annotators, codes.n_labels
        flat = item * k + label
        log_km1 = np.log(k - 1)
        log_prior = -np.log(k)
        mu_a, mu_b = float(self.alpha_prior_mean), float(self.beta_prior_mean)
        alpha = np.full(n_ann, mu_a)
        beta = np.full(n_items, mu_b)

        def e_step(alpha: FloatArray, beta: FloatArray) -> tuple[FloatArray, FloatArray]:
            x = alpha[ann] * np.exp(beta[item])
            ls = _log_sigmoid(x)
            l1 = _log_sigmoid(-x) - log_km1
            base = np.bincount(item, weights=l1, minlength=n_items)
            bump = np.bincount(flat, weights=ls - l1, minlength=n_items * k).reshape(n_items, k)
            return posterior_from_log(bump + base[:, None] + log_prior)

        def log_param_prior(alpha: FloatArray, beta: FloatArray) -> float:
            return -0.5 * float(((alpha - mu_a) ** 2).sum() + ((beta - mu_b) ** 2).sum())

        def neg_q(theta: FloatArray, q_n: FloatArray) -> tuple[float, FloatArray]:
            a, b = theta[:n_ann], theta[n_ann:]
            eb = np.exp(b[item])
            x = a[ann] * eb
            value = float(
                (q_n * _log_sigmoid(x) + (1 - q_n) * (_log_sigmoid(-x) - log_km1)).sum()
            ) + log_param_prior(a, b)
            g = q_n - expit(x)
            grad_a = np.bincount(ann, weights=g * eb, minlength=n_ann) - (a - mu_a)
            grad_b = np.bincount(item, weights=g * x, minlength=n_items) - (b - mu_b)
            return -value, -np.concatenate([grad_a, grad_b])

        history: list[float] = []
        n = codes.n_annotations
        for _ in range(self.max_iter):
            q, log_z = e_step(alpha, beta)
            history.append(-(float(log_z.sum()) + log_param_prior(alpha, beta)) / n)
            q_n = q[item, label]
            res = minimize(
                neg_q,
                np.concatenate([alpha, beta]),
                args=(q_n,),
                jac=True,
                method="CG",
                tol=self.m_step_tol,
                options={"maxiter": self.m_step_max_iter},
            )
            alpha, beta = res.x[:n_ann].copy(), res.x[n_ann:].copy()
            if len(history) > 1 and abs(history[-2] - history[-1]) < self.tol:
                break
        q, log_z = e_step(alpha, beta)
        errors = confusion_rates(soft_confusion(one_hot_matrix(codes), q, n_ann))
        extra = {
            "alphas_": pd.Series(alpha, index=codes.annotators.rename("annotator"), name="alpha"),
            "betas_": pd.Series(beta, index=codes.items.rename("item"), name="beta"),
        }
        return Fitted(q, alpha.copy(), errors, history, None, None, extra)
