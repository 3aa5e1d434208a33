"""MinHash sketches, LSH banding and Jaccard: checked against plain-Python set arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from truthset.core.errors import InvalidInput
from truthset.data.clusters import Clusters
from truthset.data.minhash import (
    EMPTY,
    Scheme,
    estimate_jaccard,
    exact_jaccard,
    lsh_candidates,
    minhash_signatures,
    optimal_bands,
    shingle_hashes,
)


def char_shingles(text: str, k: int) -> set[str]:
    if not text:
        return set()
    return {text[i : i + k] for i in range(max(1, len(text) - k + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def edited(text: str, rng: np.random.Generator, n: int) -> str:
    chars = list(text)
    for _ in range(n):
        i = int(rng.integers(0, len(chars) + 1))
        if rng.random() < 0.5 or not chars:
            chars.insert(i, "qzx"[int(rng.integers(0, 3))])
        else:
            del chars[min(i, len(chars) - 1)]
    return "".join(chars)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_char_shingles_match_python_sets(k: int) -> None:
    texts = ["hello world", "hello world", "hi", "", "abcabcabc"]
    hashes, doc = shingle_hashes(texts, k=k)
    for i, t in enumerate(texts):
        mine = hashes[doc == i]
        assert len(set(mine.tolist())) == len(char_shingles(t, k))
        assert len(mine) == (max(1, len(t) - k + 1) if t else 0)
    assert set(hashes[doc == 0].tolist()) == set(hashes[doc == 1].tolist())


def test_word_shingles() -> None:
    hashes, doc = shingle_hashes(["a b c d", "x", "", "a b c"], k=2, shingle="word")
    assert np.bincount(doc, minlength=4).tolist() == [3, 1, 0, 2]
    # "a b" and "b c" are shared between text 0 and text 3
    assert set(hashes[doc == 3].tolist()) <= set(hashes[doc == 0].tolist())


def test_bad_options_are_named() -> None:
    with pytest.raises(InvalidInput, match="shingle"):
        shingle_hashes(["a"], shingle="sentence")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="scheme"):
        minhash_signatures(["a"], scheme="bbit")  # type: ignore[arg-type]  # an invalid value on purpose
    with pytest.raises(InvalidInput, match="threshold"):
        optimal_bands(1.0, 128)


texts_st = st.text(alphabet="abcde fgh", min_size=0, max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts_st, texts_st), min_size=1, max_size=15))
def test_exact_jaccard_matches_sets(pairs: list[tuple[str, str]]) -> None:
    texts = [t for p in pairs for t in p]
    a = np.arange(0, len(texts), 2)
    got = exact_jaccard(texts, a, a + 1, k=3)
    want = [jaccard(char_shingles(x, 3), char_shingles(y, 3)) for x, y in pairs]
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("scheme", ["oph", "classic"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_estimate_is_unbiased_and_within_tolerance(scheme: Scheme, seed: int) -> None:
    """Over 300 random pairs (edits of random texts), the estimate's mean error is ~0 and its
    spread is what 128 independent bins predict (sd sqrt(J(1-J)/128)), within 40%."""
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("abcdefghij klmnop"))
    base = ["".join(rng.choice(alphabet, size=int(rng.integers(20, 140)))) for _ in range(300)]
    other = [edited(t, rng, int(rng.integers(0, 12))) for t in base]
    texts = base + other
    sig = minhash_signatures(texts, num_perm=128, k=5, scheme=scheme, seed=seed)
    est = estimate_jaccard(sig, np.arange(300), np.arange(300, 600))
    exact = np.array([jaccard(char_shingles(x, 5), char_shingles(y, 5)) for x, y in zip(base, other)])
    err = est - exact
    sd = np.sqrt(np.mean(exact * (1 - exact) / 128))
    assert abs(err.mean()) < 4 * sd / np.sqrt(300) + 0.005
    assert np.sqrt(np.mean(err**2)) < 1.4 * sd + 0.005


def test_equal_texts_equal_signatures_and_empty_text_empty() -> None:
    sig = minhash_signatures(["same text here", "other", "same text here", "", "ab"], num_perm=64)
    assert (sig[0] == sig[2]).all()
    assert (sig[3] == EMPTY).all()
    assert (sig[4] != EMPTY).all()  # a text shorter than k is one shingle, densified to all bins
    assert estimate_jaccard(sig, [0], [1])[0] < 0.3


def test_signatures_are_independent_of_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    import truthset.data.minhash as mh

    rng = np.random.default_rng(3)
    texts = ["".join(rng.choice(list("abc def"), size=int(rng.integers(0, 50)))) for _ in range(500)]
    whole = minhash_signatures(texts)
    monkeypatch.setattr(mh, "_CHUNK_CODEPOINTS", 97)
    assert (minhash_signatures(texts) == whole).all()


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.85, 0.95])
@pytest.mark.parametrize("num_perm", [32, 128])
def test_optimal_bands_matches_direct_integration(threshold: float, num_perm: int) -> None:
    """datasketch's criterion, integrated with scipy.integrate.quad pair by pair."""
    best, best_err = None, np.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = quad(lambda s, b=b, r=r: 1 - (1 - s**r) ** b, 0.0, threshold)[0]
            fn = quad(lambda s, b=b, r=r: (1 - s**r) ** b, threshold, 1.0)[0]
            if 0.5 * fp + 0.5 * fn < best_err - 1e-12:
                best, best_err = (b, r), 0.5 * fp + 0.5 * fn
    assert optimal_bands(threshold, num_perm) == best


def test_lsh_finds_pairs_sharing_a_band_and_only_those() -> None:
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**31, size=(6, 8), dtype=np.uint32)
    sig[1, :4] = sig[0, :4]  # rows 0 and 1 share band 0 (rows 0..3)
    sig[3, 4:] = sig[2, 4:]  # rows 2 and 3 share band 1
    sig[5] = sig[4]
    cand = lsh_candidates(sig, bands=2, rows=4)
    assert sorted(zip(cand.a.tolist(), cand.b.tolist())) == [(0, 1), (2, 3), (4, 5)]
    active = np.array([True, True, True, True, False, True])
    cand = lsh_candidates(sig, bands=2, rows=4, active=active)
    assert (4, 5) not in set(zip(cand.a.tolist(), cand.b.tolist()))


@pytest.mark.parametrize("m", [2, 5, 40, 300])
def test_big_bucket_is_capped_but_stays_connected(m: int) -> None:
    sig = np.zeros((m, 4), dtype=np.uint32)
    cand = lsh_candidates(sig, bands=1, rows=4, window=8)
    assert len(cand.a) == sum(min(8, m - 1 - i) for i in range(m))
    assert Clusters.from_pairs(m, cand.a, cand.b).n_clusters == 1
