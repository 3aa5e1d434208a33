"""Drift tests of one text column: length, out-of-vocabulary rate, domain classifier (private).

All three share one tokenisation: a case-sensitive word count matrix (scikit-learn's
``CountVectorizer`` with the token pattern ``\\b\\w+\\b``, lowercasing off). Case is kept
on purpose: a model trained on the reference sees "FREE" and "free" as different inputs
(most tokenisers are case-sensitive), so text that arrives upper-cased has drifted.

* **Length**: normalised Wasserstein distance of the character lengths (noise guard:
  two-sample Kolmogorov–Smirnov).
* **Out-of-vocabulary rate**: the reference is split in two seeded halves A and B. The share
  of B's tokens that A never had is the reference's own held-out OOV rate; the share of the
  current tokens that A never had is the current OOV rate; both again with the halves
  swapped, and averaged. Comparing current with held-out reference under the *same*
  vocabulary is what keeps the test from firing on sample size: a small reference has a
  small vocabulary, so both rates are high together. Score: current minus reference rate.
  Noise guard: a one-sided z-test with the standard error of both rates (ratio estimators,
  clustered by text: the tokens of one text are not independent).
* **Domain classifier**: TF-IDF (sublinear term frequency, words seen in at least two
  sampled rows) and logistic regression (liblinear, C=1) learn to tell reference rows from
  current rows; the score is the mean ROC-AUC over stratified 5-fold cross-validation.
  Each side is subsampled (seeded) to ``max_rows`` first. The IDF weights are fitted on the
  sampled rows of both sides without their side, which leaks no label into the folds.
  Noise guard: the AUC must also exceed ``0.5 + z(1 - alpha) * 2 * sd0``, where ``sd0`` is
  the Hanley–McNeil standard deviation of an AUC under no difference,
  ``sqrt((n1 + n2 + 1) / (12 n1 n2))``. The factor 2 allows for cross-validation: on random
  halves of the SMS collection (500 rows a side, 40 repeats) the cross-validated AUC varied
  1.55 times as much as that formula says (0.028 against 0.018), and a rank test on the
  out-of-fold scores fired in 15 % of them at the 5 % level. Below about 2,000 rows a side
  this floor is above 0.55; above it the threshold alone decides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from truthset.data._drift_base import (
    ColumnDrift,
    DriftThresholds,
    FloatArray,
    ks_p_value,
    normalised_wasserstein,
)

Words = npt.NDArray[np.object_]
TOKEN_PATTERN = r"(?u)\b\w+\b"
#: Cross-validation folds of the domain classifier, and the fewest rows per side it needs.
FOLDS = 5
MIN_ROWS = 2 * FOLDS
#: How much more a cross-validated AUC varies than the Hanley–McNeil formula allows for.
CV_ALLOWANCE = 2.0


def text_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    th: DriftThresholds,
    *,
    max_rows: int,
    seed: int,
    missing: dict[str, float],
) -> list[ColumnDrift]:
    """The three tests of one text column (``reference`` and ``current``: strings, no NaN)."""
    ref_len = reference.str.len().to_numpy(dtype=np.float64)
    cur_len = current.str.len().to_numpy(dtype=np.float64)
    score, scale = normalised_wasserstein(ref_len, cur_len)
    p = ks_p_value(ref_len, cur_len)
    length = ColumnDrift(
        column,
        "text_length",
        score,
        th.text_length,
        bool(score >= th.text_length and p < th.alpha),
        {
            "n_reference": int(ref_len.size),
            "n_current": int(cur_len.size),
            "mean_length_reference": float(ref_len.mean()),
            "mean_length_current": float(cur_len.mean()),
            "scale": scale,
            "p_value": p,
            **missing,
        },
    )
    counts, vocabulary = _count_matrix(reference, current)
    rng = np.random.default_rng(seed)
    n_ref = len(reference)
    return [
        length,
        _oov(column, counts, vocabulary, n_ref, th, rng),
        _domain_classifier(column, counts, vocabulary, n_ref, th, max_rows, rng, seed),
    ]


def _count_matrix(reference: pd.Series, current: pd.Series) -> tuple[sp.csr_matrix, Words]:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(lowercase=False, token_pattern=TOKEN_PATTERN, dtype=np.int32)
    texts = np.concatenate([reference.to_numpy(dtype=object), current.to_numpy(dtype=object)])
    try:
        counts = vec.fit_transform(texts).tocsr()
        vocabulary = vec.get_feature_names_out()
    except ValueError:  # no token at all on either side ("empty vocabulary")
        counts = sp.csr_matrix((texts.size, 0), dtype=np.int32)
        vocabulary = np.array([], dtype=object)
    return counts, vocabulary


def _ratio(unseen: FloatArray, tokens: FloatArray) -> tuple[float, float]:
    """Share of unseen tokens over texts, and its (linearised, text-clustered) variance."""
    total = float(tokens.sum())
    if total == 0:
        return 0.0, 0.0
    rate = float(unseen.sum()) / total
    return rate, float(np.square(unseen - rate * tokens).sum()) / total**2


def _oov(
    column: str, counts: sp.csr_matrix, vocabulary: Words, n_ref: int, th: DriftThresholds, rng: np.random.Generator
) -> ColumnDrift:
    from scipy.stats import norm

    ref, cur = counts[:n_ref], counts[n_ref:]
    order = rng.permutation(n_ref)
    halves = (order[: n_ref // 2], order[n_ref // 2 :])
    cur_tokens = np.asarray(cur.sum(axis=1)).ravel().astype(np.float64)
    ref_rates, cur_rates, ses = [], [], []
    for a, b in (halves, halves[::-1]):
        unseen = (np.asarray(ref[a].sum(axis=0)).ravel() == 0).astype(np.float64)
        held = ref[b]
        r, r_var = _ratio(held @ unseen, np.asarray(held.sum(axis=1)).ravel().astype(np.float64))
        c, c_var = _ratio(cur @ unseen, cur_tokens)
        ref_rates.append(r)
        cur_rates.append(c)
        ses.append(np.sqrt(r_var + c_var))
    in_ref = np.asarray(ref.sum(axis=0)).ravel() > 0
    new_words = np.asarray(cur.sum(axis=0)).ravel() * ~in_ref
    ref_rate, cur_rate, se = float(np.mean(ref_rates)), float(np.mean(cur_rates)), float(np.mean(ses))
    score = cur_rate - ref_rate
    # the two halves' estimates are correlated, so the mean of their standard errors is kept
    # (not divided by sqrt 2): a conservative guard
    p = float(norm.sf(score / se)) if se > 0 else (0.0 if score > 0 else 1.0)
    drift = bool(score >= th.oov_rate and p < th.alpha and n_ref >= 2)
    top = np.argsort(-new_words)[:10]
    return ColumnDrift(
        column,
        "oov_rate",
        score,
        th.oov_rate,
        drift,
        {
            "oov_rate_reference": ref_rate,
            "oov_rate_current": cur_rate,
            "standard_error": se,
            "p_value": p,
            "current_tokens": int(cur_tokens.sum()),
            "top_new_tokens": [str(vocabulary[i]) for i in top if new_words[i] > 0],
        },
    )


def auc_noise_floor(n_reference: int, n_current: int, alpha: float) -> float:
    """The AUC that chance alone exceeds with probability below ``alpha`` (see module doc)."""
    from scipy.stats import norm

    if alpha >= 1:
        return 0.0
    sd0 = np.sqrt((n_reference + n_current + 1) / (12.0 * n_reference * n_current))
    return float(0.5 + norm.isf(alpha) * CV_ALLOWANCE * sd0)


def _sample(n: int, cap: int, rng: np.random.Generator) -> Any:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, size=cap, replace=False))


def _domain_classifier(
    column: str,
    counts: sp.csr_matrix,
    vocabulary: Words,
    n_ref: int,
    th: DriftThresholds,
    max_rows: int,
    rng: np.random.Generator,
    seed: int,
) -> ColumnDrift:
    n_cur = counts.shape[0] - n_ref
    if min(n_ref, n_cur) < MIN_ROWS:
        return ColumnDrift(
            column,
            "domain_classifier",
            float("nan"),
            th.domain_auc,
            False,
            {
                "skipped": f"the domain classifier needs at least {MIN_ROWS} rows on each side "
                f"(has {n_ref} reference, {n_cur} current)"
            },
        )
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rows = np.concatenate([_sample(n_ref, max_rows, rng), n_ref + _sample(n_cur, max_rows, rng)])
    y = (rows >= n_ref).astype(np.int8)
    x = counts[rows]
    words = np.flatnonzero(np.diff(x.tocsc().indptr) >= 2)  # seen in at least two rows
    if words.size == 0:
        return ColumnDrift(
            column,
            "domain_classifier",
            float("nan"),
            th.domain_auc,
            False,
            {"skipped": "no word appears in two rows, so there is nothing to learn from"},
        )
    x = TfidfTransformer(sublinear_tf=True).fit_transform(x[:, words])
    aucs = []
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(solver="liblinear", C=1.0, random_state=seed)
        model.fit(x[train], y[train])
        aucs.append(float(roc_auc_score(y[test], model.decision_function(x[test]))))
    score = float(np.mean(aucs))
    floor = auc_noise_floor(int((y == 0).sum()), int((y == 1).sum()), th.alpha)
    coef = LogisticRegression(solver="liblinear", C=1.0, random_state=seed).fit(x, y).coef_[0]
    order = np.argsort(coef)
    names = vocabulary[words]
    return ColumnDrift(
        column,
        "domain_classifier",
        score,
        th.domain_auc,
        bool(score > th.domain_auc and score > floor),
        {
            "fold_auc": aucs,
            "noise_floor": floor,
            "n_reference": int((y == 0).sum()),
            "n_current": int((y == 1).sum()),
            "top_current_tokens": [str(names[i]) for i in order[::-1][:10] if coef[i] > 0],
            "top_reference_tokens": [str(names[i]) for i in order[:10] if coef[i] < 0],
        },
    )
