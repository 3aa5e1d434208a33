"""Exact and near duplicates: properties, hand-made cases and the SMS Spam Collection."""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support import sms
from truthset.core.errors import InvalidInput
from truthset.data import Clusters, exact_duplicates, near_duplicates, normalize_texts

# -- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want", "options"),
    [
        ("Hello   World", "hello world", {}),
        ("  tabs\tand\nnewlines ", "tabs and newlines", {}),
        ("ＦＵＬＬ　ｗｉｄｔｈ", "full width", {}),  # NFKC: full-width letters and space
        ("Straße", "strasse", {}),  # case folding, not lower()
        ("ﬁne", "fine", {}),  # ligature
        ("zero\u200bwidth", "zerowidth", {}),
        ("see https://x.co/a?b=1 now", "see <url> now", {"mask_urls": True}),
        ("see https://x.co/a?b=1 now", "see https://x.co/a?b=1 now", {}),
        ("hi @Bob_1 and @eve", "hi @user and @user", {"mask_handles": True}),
        ("mail a@b.com", "mail a@b.com", {"mask_handles": True}),  # an address is not a handle
        ("Ok... fine!!", "ok fine", {"strip_punctuation": True}),
    ],
)
def test_normalize_examples(raw: str, want: str, options: dict[str, bool]) -> None:
    assert normalize_texts([raw], **options) == [want]


def test_normalize_recomposes_after_removing_characters() -> None:
    assert normalize_texts(["a!\u0301", "e\u200b\u0301"], strip_punctuation=True) == ["\u00e1", "\u00e9"]


def test_normalize_missing_values_become_empty() -> None:
    assert normalize_texts(pd.Series(["A", None, np.nan])) == ["a", "", ""]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.booleans(), st.booleans(), st.booleans())
@example("\u0345\u0300", False, False, False)  # casefold turns ypogegrammeni into iota
@example("ǅ\u0301 ﬀ", False, False, True)
@example("a!\u0301", False, False, True)  # removing "!" lets NFKC compose a + acute: a 2nd pass
@example("e\u200b\u0301", False, False, False)  # removing a zero-width space does the same
def test_normalize_is_idempotent(text: str, urls: bool, handles: bool, punct: bool) -> None:
    opts = {"mask_urls": urls, "mask_handles": handles, "strip_punctuation": punct}
    once = normalize_texts([text], **opts)
    assert normalize_texts(once, **opts) == once


# -- clusters -------------------------------------------------------------------------------

small_texts = st.lists(st.sampled_from(["a", "A", "a ", "b", "B  ", "c", "", "ß", "ss"]), min_size=0, max_size=30)


@settings(max_examples=200, deadline=None)
@given(small_texts)
def test_exact_clusters_partition_items_by_normalised_text(texts: list[str]) -> None:
    r = exact_duplicates(texts)
    c = r.clusters
    n = len(texts)
    assert c.cluster.shape == (n,)
    # every item is in its own cluster, and clusters are disjoint and cover every item
    for i in range(n):
        assert i in c.members(int(c.cluster[i]))
    assert sorted(np.concatenate([c.members(k) for k in range(c.n_clusters)] or [[]]).tolist()) == list(range(n))
    assert c.size.sum() == n
    # the representative is the first member, and equal normalised texts <=> same cluster
    norm = normalize_texts(texts)
    for k in range(c.n_clusters):
        assert c.representative[k] == c.members(k)[0]
    for i in range(n):
        for j in range(n):
            assert (c.cluster[i] == c.cluster[j]) == (norm[i] == norm[j])
    assert r.summary()["extra_copies"] == n - len(set(norm))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=40))
def test_clusters_from_pairs_are_connected_components(n: int, edges: list[tuple[int, int]]) -> None:
    edges = [(a % n, b % n) for a, b in edges]
    c = Clusters.from_pairs(n, [a for a, _ in edges], [b for _, b in edges])
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    for i in range(n):
        for j in range(n):
            assert (c.cluster[i] == c.cluster[j]) == (find(i) == find(j))


def test_conflicts_and_distinct_ids() -> None:
    texts = ["Win a prize", "win  a PRIZE", "hello", "hello", "alone", "Hello"]
    labels = ["spam", "ham", "ham", "ham", "ham", None]
    ids = ["x1", "x2", "x3", "x3", "x4", "x5"]
    r = exact_duplicates(texts, labels=labels, ids=ids)
    s = r.summary()
    assert s == {
        "items": 6,
        "clusters": 2,
        "duplicated_items": 5,
        "extra_copies": 3,
        "conflict_clusters": 1,
        "conflict_items": 2,
        "clusters_with_distinct_ids": 2,
    }
    conf = r.conflicts()
    assert conf["item"].tolist() == ["x1", "x2"] and set(conf["label"]) == {"spam", "ham"}
    frame = r.frame()
    hello = frame[frame["representative"] == "x3"]
    assert hello["item"].tolist() == ["x3", "x3", "x5"]
    assert hello["distinct_ids"].tolist() == [2, 2, 2]  # x3 twice is one id; x5 another
    assert not hello["conflict"].any()  # a missing label is no conflict


def test_exact_without_normalisation_is_character_exact() -> None:
    r = exact_duplicates(["a", "A", "a "], normalize=False)
    assert r.clusters.n_clusters == 3


def test_length_mismatch_is_named() -> None:
    with pytest.raises(InvalidInput, match="labels has 1 entries but there are 2 texts"):
        exact_duplicates(["a", "b"], labels=["x"])


# -- near duplicates ------------------------------------------------------------------------

BASE = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005",
    "I'm gonna be home soon and i don't want to talk about this stuff anymore tonight",
    "Even my brother is not like to speak with me. They treat me like aids patent.",
    "As per your request Melle Melle has been set as your callertune for all Callers",
    "WINNER!! As a valued network customer you have been selected to receive a prize",
]


@pytest.mark.parametrize("scheme", ["oph", "classic"])
@pytest.mark.parametrize("verify", ["signature", "exact"])
def test_near_duplicates_join_edited_copies_and_nothing_else(scheme: str, verify: str) -> None:
    copies = [
        BASE[0].upper(),  # case only: an exact duplicate after normalisation
        BASE[0].replace("final", "finals") + "!!",
        BASE[1].replace("soon", "son"),
        BASE[2].replace("brother", "brothr").replace(".", "!"),
    ]
    texts = BASE + copies
    labels = ["spam", "ham", "ham", "ham", "spam", "spam", "ham", "ham", "ham"]
    r = near_duplicates(texts, labels=labels, scheme=scheme, verify=verify)
    c = r.clusters
    assert c.cluster[5] == c.cluster[6] == c.cluster[0]
    assert c.cluster[7] == c.cluster[1]
    assert c.cluster[8] == c.cluster[2]
    assert len({int(c.cluster[i]) for i in (0, 1, 2, 3, 4)}) == 5  # distinct messages stay apart
    assert c.size[c.cluster[3]] == 1 and c.size[c.cluster[4]] == 1
    assert r.summary()["conflict_clusters"] == 1  # BASE[0] is spam, its finals copy ham
    assert set(r.conflicts()["item"]) == {0, 5, 6}
    assert (r.pairs["similarity"] >= 0.7).all()


def test_near_duplicates_verify_none_keeps_candidates() -> None:
    r = near_duplicates(BASE + [BASE[1][:-10]], verify="none", threshold=0.9)
    assert r.params["verify"] == "none" and len(r.pairs) == r.params["candidates"]


def test_empty_texts_join_only_each_other() -> None:
    r = near_duplicates(["", "  ", "hello there", "!!"], strip_punctuation=True)
    c = r.clusters
    assert c.cluster[0] == c.cluster[1] == c.cluster[3]  # all empty once normalised
    assert c.cluster[2] != c.cluster[0]


# -- the SMS Spam Collection ----------------------------------------------------------------


def test_sms_403_exact_copies_as_the_import_counts() -> None:
    """The import (tests/services/test_imports.py) counts 403 duplicate rows by content hash of
    the raw text: rows minus distinct texts. Character-exact clustering gives the same 403."""
    labels, texts = sms()
    r = exact_duplicates(texts, labels=labels, normalize=False)
    assert len(texts) == 5574
    assert r.summary()["extra_copies"] == 403 == len(texts) - len(set(texts))
    assert r.summary()["conflict_clusters"] == 0  # SOURCE.md: no conflicting-label duplicates


def test_sms_normalised_finds_more_copies_than_the_hash() -> None:
    """Normalisation adds the copies that differ only in case or spacing (12 more on this
    file); each added pair really is equal once case and whitespace are ignored."""
    labels, texts = sms()
    ids = [f"sms-{i}" for i in range(len(texts))]
    r = exact_duplicates(texts, labels=labels, ids=ids)
    loose = collections.Counter(" ".join(t.lower().split()) for t in texts)
    assert r.summary()["extra_copies"] == len(texts) - len(loose) == 415
    # every duplicate is a different id carrying the same text: the finding of the issue
    assert r.summary()["clusters_with_distinct_ids"] == r.summary()["clusters"] == 290
    frame = r.frame()
    for _, group in frame.groupby("cluster"):
        assert len({" ".join(texts[int(i[4:])].lower().split()) for i in group["item"]}) == 1


def test_sms_conflict_is_found_when_a_copy_is_relabelled() -> None:
    labels, texts = sms()
    counts = collections.Counter(texts)
    dup = next(i for i, t in enumerate(texts) if counts[t] > 1)
    flipped = list(labels)
    flipped[dup] = "spam" if labels[dup] == "ham" else "ham"
    r = exact_duplicates(texts, labels=flipped)
    s = r.summary()
    assert s["conflict_clusters"] == 1 and s["conflict_items"] == counts[texts[dup]]
    assert dup in set(r.conflicts()["item"])


def test_sms_near_duplicates_contain_every_exact_cluster() -> None:
    labels, texts = sms()
    exact = exact_duplicates(texts).clusters
    near = near_duplicates(texts, labels=labels)
    assert near.clusters.extra_copies > exact.extra_copies
    for k in np.flatnonzero(exact.size > 1):
        assert len(set(near.clusters.cluster[exact.members(int(k))].tolist())) == 1
    # every verified pair is a real near-duplicate: exact Jaccard of the normalised texts
    from truthset.data.minhash import exact_jaccard

    norm = normalize_texts(texts, strip_punctuation=True)
    jac = exact_jaccard(norm, near.pairs["a"], near.pairs["b"])
    assert (jac >= 0.55).all() and np.median(jac) >= 0.7
