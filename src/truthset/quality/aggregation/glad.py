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

Cost: the CG solve evaluates ``Q`` and its gradient ~50 times per EM iteration, so that
evaluation is written for speed: value and gradient in one pass, ``exp(beta)`` on items
before gathering, and ``log sigma(x)``, ``log sigma(-x)`` and ``sigma(x)`` from one shared
``exp(-|x|)`` and ``log1p`` (``log sigma(x) = min(x, 0) - log1p(exp(-|x|))``), in place,
with dot products through ``einsum`` (some OpenBLAS builds are ~100x slower on long
vectors). The objective and the CG settings are crowd-kit's, so the iterates match it.

``loss_history_`` is the negative log posterior per annotation at the parameters entering
each E-step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from truthset.core.codes import AnnotationCodes
from truthset.core.errors import InvalidInput
from truthset.quality.aggregation._arrays import (
    FloatArray,
    confusion_rates,
    one_hot_matrix,
    posterior_from_log,
    soft_confusion,
)
from truthset.quality.aggregation._base import BaseAggregator, Fitted, trivial_fit
from truthset.quality.aggregation._params import Constraint, Interval

__all__ = ["GLAD"]


def _dot(a: FloatArray, b: FloatArray) -> float:
    """``a @ b`` without BLAS (some OpenBLAS builds are ~100x slower on long vectors)."""
    return float(np.einsum("i,i->", a, b))


def _log_sigmoids(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``log sigma(x)`` and ``log sigma(-x)``, stably, sharing one exp and one log1p.

    With ``e = exp(-|x|)``: ``log sigma(x) = min(x, 0) - log1p(e)`` and
    ``log sigma(-x) = -max(x, 0) - log1p(e)``.
    """
    e = np.exp(-np.abs(x))
    l1p = np.log1p(e)
    ls = np.minimum(x, 0.0)
    ls -= l1p
    lsn = np.maximum(x, 0.0)
    np.negative(lsn, out=lsn)
    lsn -= l1p
    return ls, lsn


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
        buf = np.empty(codes.n_annotations)
        n = codes.n_annotations

        def e_step(alpha: FloatArray, beta: FloatArray) -> tuple[FloatArray, FloatArray]:
            x = alpha.take(ann) * np.exp(beta).take(item)
            ls, lsn = _log_sigmoids(x)
            lsn -= log_km1
            base = np.bincount(item, weights=lsn, minlength=n_items)
            ls -= lsn
            bump = (
                np.bincount(flat, weights=ls, minlength=n_items * k).astype(np.float64, copy=False).reshape(n_items, k)
            )
            bump += base[:, None]
            bump += log_prior
            return posterior_from_log(bump)

        def log_param_prior(alpha: FloatArray, beta: FloatArray) -> float:
            da, db = alpha - mu_a, beta - mu_b
            return -0.5 * float(_dot(da, da) + _dot(db, db))

        def neg_q(theta: FloatArray, q_n: FloatArray, const: float) -> tuple[float, FloatArray]:
            # Q = sum_n q_n log s(x_n) + (1 - q_n) (log s(-x_n) - log(K-1)) + log priors.
            # With log s(x) = min(x, 0) - log1p(e), log s(-x) = -max(x, 0) - log1p(e) and
            # e = exp(-|x|), the sum is sum_n [q_n x_n - max(x_n, 0) - log1p(e_n)] + const,
            # const = -log(K-1) sum_n (1 - q_n); s(x) = exp(min(x, 0) - log1p(e)).
            # One exp, one log1p and one more exp per annotation for value and gradient.
            a, b = theta[:n_ann], theta[n_ann:]
            eb = np.exp(b).take(item)
            x = a.take(ann)
            x *= eb
            pos = np.maximum(x, 0.0)
            e = np.subtract(pos, x, out=buf)  # -min(x, 0)
            value = _dot(q_n, x) - float(pos.sum()) + const
            e += pos  # |x|
            np.negative(e, out=e)
            np.exp(e, out=e)
            l1p = np.log1p(e, out=e)
            value -= float(l1p.sum())
            value += log_param_prior(a, b)
            g = np.subtract(x, pos, out=pos)  # min(x, 0)
            g -= l1p
            np.exp(g, out=g)  # sigma(x)
            np.subtract(q_n, g, out=g)  # dQ/dx_n = q_n - sigma(x_n)
            x *= g
            g *= eb
            grad = np.empty(n_ann + n_items)
            grad[:n_ann] = np.bincount(ann, weights=g, minlength=n_ann)
            grad[:n_ann] -= a - mu_a
            grad[n_ann:] = np.bincount(item, weights=x, minlength=n_items)
            grad[n_ann:] -= b - mu_b
            return -value, np.negative(grad, out=grad)

        from scipy.optimize import minimize  # here: scipy.optimize takes ~0.3 s to import

        history: list[float] = []
        for _ in range(self.max_iter):
            q, log_z = e_step(alpha, beta)
            history.append(-(float(log_z.sum()) + log_param_prior(alpha, beta)) / n)
            q_n = q.ravel().take(flat)
            res = minimize(
                neg_q,
                np.concatenate([alpha, beta]),
                args=(q_n, -log_km1 * (n - float(q_n.sum()))),
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
