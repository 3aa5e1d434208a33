"""Outliers: items far from all others, by the mean distance to their k nearest neighbours.

An item whose nearest neighbours are all far away (in TF-IDF or embedding space) looks like
nothing else in the data set: off-topic text, another language, a parsing accident. The
score is the mean distance to the ``k`` nearest *other* items (scikit-learn's
``NearestNeighbors``; exact, brute force for cosine on sparse TF-IDF), reported with its
percentile rank and a Tukey fence (``Q3 + 1.5 IQR`` of the distances) as the flag, so the
flag needs no threshold tuned to the data set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput

__all__ = ["outlier_scores"]


def _features(x: Any) -> Any:
    """Texts become TF-IDF word and char n-grams (rows L2-normalised); arrays pass through."""
    if isinstance(x, pd.Series):
        x = x.to_numpy()
    texts = isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.dtype.kind in "OUS")
    if not texts:
        return x
    if not all(isinstance(v, str) for v in x):
        raise InvalidInput(
            "texts for outlier_scores must all be strings; replace missing texts with '' or drop those items."
        )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True)),
        ]
    )
    return union.fit_transform(list(x))


def outlier_scores(
    X: Sequence[str] | Any,
    *,
    k: int = 10,
    metric: str = "cosine",
) -> pd.DataFrame:
    """Score how far each item is from all others.

    Parameters
    ----------
    X : sequence of str, or array / sparse matrix (n, d)
        Texts (embedded as TF-IDF word + char n-grams) or feature vectors / embeddings.
    k : int, default 10
        Neighbours averaged (at most ``n - 1``).
    metric : str, default "cosine"
        Any scikit-learn ``NearestNeighbors`` metric; cosine suits TF-IDF and sentence
        embeddings.

    Returns
    -------
    DataFrame, one row per item (input order; the Series index if ``X`` is one):
    ``knn_distance`` (mean distance to the ``k`` nearest other items; exact duplicates of
    another item give 0 for ``k=1``), ``outlier_score`` (in [0, 1]: share of items with a
    smaller ``knn_distance``; higher = more isolated) and ``is_outlier`` (``knn_distance``
    above ``Q3 + 1.5 * IQR`` and above 0).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.vstack([np.random.default_rng(0).normal(size=(50, 2)), [[40.0, 40.0]]])
    >>> r = outlier_scores(X, k=5, metric="euclidean")
    >>> int(r["knn_distance"].to_numpy().argmax()), bool(r["is_outlier"].iloc[-1])
    (50, True)
    """
    from sklearn.neighbors import NearestNeighbors

    index = X.index if isinstance(X, pd.Series) else None
    feats = _features(X)
    n = feats.shape[0]
    if n < 2:
        raise InvalidInput(f"outlier_scores needs at least two items; got {n}.")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InvalidInput(f"k must be a positive integer (neighbours to average); got {k!r}.")
    k = min(int(k), n - 1)
    algorithm = "brute" if metric == "cosine" else "auto"
    nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm=algorithm).fit(feats)
    dist, _ = nn.kneighbors()  # X=None: each item's neighbours exclude itself
    knn = dist.mean(axis=1)
    order = np.sort(knn)
    score = np.searchsorted(order, knn, side="left") / max(n - 1, 1)
    q1, q3 = np.percentile(knn, [25, 75])
    fence = q3 + 1.5 * (q3 - q1)
    return pd.DataFrame(
        {
            "knn_distance": knn,
            "outlier_score": np.clip(score, 0.0, 1.0),
            "is_outlier": (knn > fence) & (knn > 0),
        },
        index=index if index is not None else pd.RangeIndex(n),
    )
