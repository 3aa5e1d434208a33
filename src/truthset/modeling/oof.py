"""Out-of-fold predicted probabilities: the input label checks need when no model is given.

Each item's probabilities come from a model that never saw it (stratified k-fold
cross-validation), so an item whose given label is wrong is not "explained away" by a model
that memorised it -- the premise of confident learning and CROWDLAB.

Texts get TF-IDF word 1-2-grams plus character 2-5-grams (within word boundaries, robust to
typos and morphology) and a multinomial logistic regression; numeric features get a scaled
logistic regression. scikit-learn is imported when called, so ``import truthset.modeling``
stays fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from truthset.core.errors import InvalidInput

__all__ = ["out_of_fold_probabilities", "text_classifier"]


def text_classifier(*, seed: int | None = 0) -> Any:
    """The default text model: TF-IDF word and char n-grams + logistic regression (a Pipeline)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=200_000,
                ),
            ),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=2000, random_state=seed))


def _numeric_classifier(sparse: bool, seed: int | None) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(with_mean=not sparse), LogisticRegression(max_iter=2000, random_state=seed))


def _is_texts(x: Any) -> bool:
    if isinstance(x, pd.Series):
        return bool(x.dtype == object or pd.api.types.is_string_dtype(x.dtype))
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(v, str) for v in x)
    return isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype.kind in "OUS"


def out_of_fold_probabilities(
    texts_or_X: Sequence[str] | Any,
    labels: Sequence[Any] | Any,
    *,
    cv: int = 5,
    seed: int | None = 0,
    model: Any = None,
    classes: Sequence[object] | None = None,
) -> pd.DataFrame:
    """Predicted class probabilities for every item from a model that did not train on it.

    Parameters
    ----------
    texts_or_X : sequence of str, or array / sparse matrix of shape (n, d)
        Texts (fitted with :func:`text_classifier`) or numeric features.
    labels : sequence, shape (n,)
        Given labels (any hashable values).
    cv : int, default 5
        Number of stratified folds (at least 2).
    seed : int or None
        Seed for the fold shuffle and the model.
    model : scikit-learn classifier with ``predict_proba``, optional
        Replaces the default model.
    classes : sequence, optional
        The columns of the result, in order; default the sorted distinct labels. Must include
        every label.

    Returns
    -------
    DataFrame (n, K): rows are items in input order (index of ``labels`` if a Series), columns
    the classes; each row sums to 1. A class missing from a training fold gets probability 0
    from that fold's model. Pass it straight to
    :func:`truthset.quality.find_label_issues`.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y_raw = labels.to_numpy() if isinstance(labels, pd.Series) else np.asarray(labels)
    index = labels.index if isinstance(labels, pd.Series) else pd.RangeIndex(len(y_raw))
    n = len(y_raw)
    n_x = texts_or_X.shape[0] if hasattr(texts_or_X, "shape") else len(texts_or_X)
    if n_x != n:
        raise InvalidInput(f"texts_or_X has {n_x} rows but labels has {n}; pass one label per item.")
    if pd.isna(pd.Series(y_raw)).any():
        raise InvalidInput(
            "labels contain missing values; drop those items or label them before computing out-of-fold probabilities."
        )
    names = pd.Index(sorted(pd.unique(y_raw)) if classes is None else list(classes))
    y = names.get_indexer(y_raw)
    if (y < 0).any():
        raise InvalidInput(
            f"label(s) {pd.unique(y_raw[y < 0])[:5].tolist()} are not among classes "
            f"{list(names)[:10]}; add them to classes."
        )
    present = np.bincount(y, minlength=len(names))
    if (present > 0).sum() < 2:
        raise InvalidInput(
            "out-of-fold probabilities need items of at least two different labels; "
            f"got only {list(names[present > 0])}."
        )
    if not isinstance(cv, int) or cv < 2 or cv > n:
        raise InvalidInput(f"cv must be an integer between 2 and the number of items ({n}); got {cv!r}.")
    texts = _is_texts(texts_or_X)
    if model is None:
        sparse = hasattr(texts_or_X, "tocsr")
        model = text_classifier(seed=seed) if texts else _numeric_classifier(sparse, seed)
    x = list(texts_or_X) if texts else texts_or_X
    # fewer members than folds in a class is allowed (scikit-learn warns); those items are
    # then predicted by models that saw few or none of their class, which is the honest answer
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    # One BLAS thread: logistic regression on sparse TF-IDF gains nothing from BLAS threads,
    # and on a busy machine their spin-waits made each fit 10-30x slower (measured).
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        warnings.filterwarnings("ignore", message="Number of classes in training fold")
        proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")
    # cross_val_predict's columns are the distinct codes in y, sorted; declared classes with
    # no item get probability 0
    out = np.zeros((n, len(names)))
    out[:, np.unique(y)] = proba
    out /= out.sum(axis=1, keepdims=True)
    return pd.DataFrame(out, index=index, columns=names)
