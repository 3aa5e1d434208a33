"""MACE: multi-annotator competence estimation (Hovy et al., NAACL 2013).

Model: item ``j`` has a true label ``T_j`` (uniform prior). On each judgement annotator
``a`` either *knows* (probability ``competence_a``) and reports ``T_j``, or *spams*
(probability ``1 - competence_a``) and draws a label from their own strategy
``xi_a`` (a distribution over labels). So ``P(y = k | T = c) = competence_a [k = c] +
(1 - competence_a) xi_a[k]``.

EM, vectorised over the n annotations with ``p_n = (1 - competence_a) xi_a[y_n]``:

* E-step: ``log P(T_j = c, votes) = -log K + sum_n log p_n + sum_{n: y_n = c}
  (log(p_n + competence_a) - log p_n)``, softmax per item; the posterior that judgement
  ``n`` was spam is ``1 - q[j, y_n] competence_a / (p_n + competence_a)``, which gives the
  expected (spam, know) counts per annotator and the expected strategy counts per
  (annotator, label). Every per-judgement term depends only on the judgement's (annotator,
  label) cell, so each is computed on the (A, K) table, and the only passes over the n
  judgements are two sparse mat-vecs with the 0/1 (annotator, label) x (label, item)
  matrix: spreading the table to the items, and summing ``q[j, y_n]`` per cell. The first
  sum above does not depend on ``c``; it enters only the likelihood, as ``sum_{a,k}
  n_ak log p[a, k]``.
* M-step, ``method="em"``: normalise the expected counts plus ``smoothing``;
  ``method="vb"`` (default, the paper's variational Bayes): ``exp(digamma(counts + prior))
  / exp(digamma(sum))`` with a Beta(``alpha``, ``beta``) prior on (spam, know) and a
  symmetric Dirichlet(``strategy_prior``) on ``xi`` -- crowd-kit's defaults.

Start: restart 0 is deterministic and symmetric (competence 0.5, uniform strategies), so
results do not depend on the order or names of annotators; restarts 1.. draw
crowd-kit-style random starts (uniform(1, 2.5), normalised) from ``random_state``. The run
with the highest final log marginal likelihood is kept. (crowd-kit re-seeds every restart
with the same ``random_state``, so its 10 restarts are identical.)

``loss_history_`` is the negative log marginal likelihood per annotation of the kept run.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import digamma

from truthset.core.codes import AnnotationCodes
from truthset.core.errors import InvalidInput
from truthset.quality.aggregation._arrays import FloatArray, posterior_from_log_by_label, row_sum
from truthset.quality.aggregation._base import BaseAggregator, Fitted, trivial_fit
from truthset.quality.aggregation._params import SEED, Constraint, InstanceOf, Interval, Options

__all__ = ["MACE"]


class MACE(BaseAggregator):
    """MACE aggregation: per-annotator competence (not spamming) and spam strategy.

    Parameters
    ----------
    max_iter : int, default 50
        EM iterations per restart (crowd-kit's ``n_iter``).
    tol : float, default 1e-6
        Stop a restart when the loss improves by less (``0``: run ``max_iter``).
    n_restarts : int, default 1
        Number of starts; the first is deterministic, the others random.
    method : {"vb", "em"}, default "vb"
        Variational Bayes with priors, or plain EM with ``smoothing``.
    smoothing : float or None, default None
        Pseudo-count for ``method="em"``; ``None`` means ``0.01 / K`` (the paper's default).
    alpha, beta : float, default 0.5
        Beta prior on (spam, know) for ``method="vb"``.
    strategy_prior : float, default 10.0
        Symmetric Dirichlet prior on each spam strategy for ``method="vb"``.
    random_state : int or None, default 0
        Seed of the random restarts.

    Attributes
    ----------
    skills_, competence_ : Series (annotator -> probability of knowing, not spamming).
    strategies_ : DataFrame (annotator x label) spam strategy ``xi``.
    errors_ : model confusion ``competence [k = c] + (1 - competence) xi[k]``, rows sum to 1.
    labels_, probas_, loss_history_, majority_labels_, majority_agreement_ : see the base.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "annotator": list("xyzxyz"),
    ...                    "label": ["a", "a", "b", "b", "b", "b"]})
    >>> MACE().fit_predict(df).tolist()
    ['a', 'b']
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "max_iter": [Interval(1, None, integer=True)],
        "tol": [Interval(0, None)],
        "n_restarts": [Interval(1, None, integer=True)],
        "method": [Options(("vb", "em"))],
        "smoothing": [Interval(0, None), InstanceOf((type(None),), "None")],
        "alpha": [Interval(0, None, closed="neither")],
        "beta": [Interval(0, None, closed="neither")],
        "strategy_prior": [Interval(0, None, closed="neither")],
        "random_state": [SEED],
    }

    def __init__(
        self,
        *,
        max_iter: int = 50,
        tol: float = 1e-6,
        n_restarts: int = 1,
        method: str = "vb",
        smoothing: float | None = None,
        alpha: float = 0.5,
        beta: float = 0.5,
        strategy_prior: float = 10.0,
        random_state: int | None = 0,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.method = method
        self.smoothing = smoothing
        self.alpha = alpha
        self.beta = beta
        self.strategy_prior = strategy_prior
        self.random_state = random_state

    def _normalise(self, counts: FloatArray, prior: FloatArray | float) -> FloatArray:
        if self.method == "vb":
            x = counts + prior
            out: FloatArray = np.exp(digamma(x) - digamma(x.sum(axis=1, keepdims=True)))
            return out
        s = (0.01 / counts.shape[1]) if self.smoothing is None else float(self.smoothing)
        x = counts + s
        total = x.sum(axis=1, keepdims=True)
        return np.where(total > 0, x / np.where(total > 0, total, 1.0), 1.0 / counts.shape[1])

    def _start(self, restart: int, rng: np.random.Generator, n_ann: int, k: int) -> tuple[FloatArray, FloatArray]:
        """Starting (spam, know) probabilities (A, 2) and strategies (A, K) of a restart."""
        if restart == 0:
            return np.full((n_ann, 2), 0.5), np.full((n_ann, k), 1.0 / k)
        spam = rng.uniform(1.0, 2.5, size=(n_ann, 2))
        theta = rng.uniform(1.0, 2.5, size=(n_ann, k))
        return spam / spam.sum(axis=1, keepdims=True), theta / theta.sum(axis=1, keepdims=True)

    def _fit(self, codes: AnnotationCodes, **fit_params: Any) -> Fitted:
        if fit_params:
            raise InvalidInput(
                f"MACE.fit takes only the annotation frame; got {sorted(fit_params)}. "
                "To use known labels, fit DawidSkene(...).fit(df, gold=...)."
            )
        if codes.n_labels == 1:
            return trivial_fit(codes)
        n_items, n_ann, k = codes.n_items, codes.n_annotators, codes.n_labels
        label = codes.label.astype(np.intp)
        flat_lab = label * n_items + codes.item  # (label, item) cell, label-major
        flat_ann = codes.annotator.astype(np.intp) * k + label  # (annotator, label) cell
        # Every per-judgement quantity depends only on its (annotator, label) cell, so it is
        # computed on the (A, K) table; n_ak counts judgements per cell.
        n_ak = np.bincount(flat_ann, minlength=n_ann * k).reshape(n_ann, k).astype(np.float64)
        # (A*K, K*n_items) 0/1 matrix, judgement n at (flat_ann, flat_lab). Spreading an
        # (A, K) table over the (label, item) cells is ``by_cell.T @ table`` and summing
        # posteriors per (annotator, label) is ``by_cell @ q``: each one sparse mat-vec,
        # about twice as fast as a gather plus ``np.bincount``.
        by_cell = sp.csr_array((np.ones(flat_ann.size), (flat_ann, flat_lab)), shape=(n_ann * k, k * n_items))
        by_cell_t = by_cell.T
        spam_prior = np.array([self.alpha, self.beta])  # (spam, know), as crowd-kit
        const = -n_items * np.log(k)  # uniform class prior

        def e_step(spam: FloatArray, theta: FloatArray) -> tuple[FloatArray, float, FloatArray, FloatArray]:
            """Posteriors (K, n_items), log marginal likelihood, expected counts."""
            know = spam[:, 1:2]  # (A, 1)
            p = spam[:, :1] * theta  # (A, K): P(spam and report k)
            log_p = np.log(np.maximum(p, 1e-300))
            # log P(T = c, votes_j) = sum_n log p_n + sum_{n: y_n = c} log((p_n + know) / p_n);
            # the first sum does not depend on c, so it enters only the likelihood, where
            # summed over all items it is sum_{a,k} n_ak log p[a, k].
            log_joint: FloatArray = by_cell_t @ (np.log(p + know) - log_p).ravel()
            q_t, log_z = posterior_from_log_by_label(log_joint.reshape(k, n_items))
            loglik = float(log_z.sum()) + float((n_ak * log_p).sum()) + const
            # P(knew | votes) = q[j, y] * know / (p + know); summed per (annotator, label)
            q_vote = by_cell @ q_t.ravel()
            know_ak = (know / (p + know)) * q_vote.reshape(n_ann, k)
            strat = n_ak - know_ak  # expected spam counts per (annotator, label)
            counts = np.column_stack([row_sum(strat), row_sum(know_ak)])
            return q_t, loglik, counts, strat

        rng = np.random.default_rng(self.random_state)
        best: tuple[float, FloatArray, FloatArray, list[float]] | None = None
        n = codes.n_annotations
        for restart in range(self.n_restarts):
            spam, theta = self._start(restart, rng, n_ann, k)
            history: list[float] = []
            _, loglik, counts, strat = e_step(spam, theta)
            for _ in range(self.max_iter):
                spam = self._normalise(counts, spam_prior[None, :])
                theta = self._normalise(strat, self.strategy_prior)
                _, loglik, counts, strat = e_step(spam, theta)
                history.append(-loglik / n)
                if len(history) > 1 and abs(history[-2] - history[-1]) < self.tol:
                    break
            if best is None or loglik > best[0]:
                best = (loglik, spam, theta, history)
        assert best is not None  # n_restarts >= 1 is validated
        _, spam, theta, history = best
        q_t, _, _, _ = e_step(spam, theta)
        q = np.ascontiguousarray(q_t.T)
        # spam / theta are sub-normalised under VB; renormalise for the reported model
        competence = spam[:, 1] / spam.sum(axis=1)
        xi = theta / theta.sum(axis=1, keepdims=True)
        errors = (1 - competence)[:, None, None] * xi[:, None, :] + competence[:, None, None] * np.eye(k)[None, :, :]
        annotators = codes.annotators.rename("annotator")
        extra = {
            "competence_": pd.Series(competence, index=annotators, name="competence"),
            "strategies_": pd.DataFrame(xi, index=annotators, columns=pd.Index(codes.labels, name="label")),
        }
        return Fitted(q, competence, errors, history, None, None, extra)
