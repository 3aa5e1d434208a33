"""The key index of the bulk import: it may say 'maybe' wrongly, never 'no' wrongly, and names every candidate."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.keys import external_key, key_of_hash
from truthset.store.bulk import KeyIndex


def _k(x: int) -> int:
    return key_of_hash(hashlib.sha256(str(x).encode()).hexdigest())


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 10_000), max_size=50), max_size=12),
    probes=st.lists(st.integers(0, 10_000), max_size=80),
)
def test_index_never_misses_a_stored_key(batches: list[list[int]], probes: list[int]) -> None:
    f = KeyIndex()
    owners: dict[int, set[int]] = {}  # value -> the "item ids" that carry its key
    next_id = 0
    for batch in batches:
        ids = list(range(next_id, next_id + len(batch)))
        next_id += len(batch)
        f.add([_k(x) for x in batch], ids)
        for x, i in zip(batch, ids):
            owners.setdefault(x, set()).add(i)
    keys = np.array([_k(x) for x in probes], dtype=np.int64)
    maybe = f.may_contain(keys)
    for x, m in zip(probes, maybe):
        # distinct sha256 prefixes of small integers never collide: exact answers here
        assert bool(m) == (x in owners)
    expected = sorted(set().union(*(owners.get(x, set()) for x in probes)))
    assert f.ids_for(keys).tolist() == expected


def test_index_merges_arrays_and_stays_small() -> None:
    f = KeyIndex()
    for k in range(64):
        f.add(np.array([_k(k * 1000 + i) for i in range(1000)], dtype=np.int64), np.arange(k * 1000, k * 1000 + 1000))
    assert len(f.keys) <= 8
    assert f.nbytes == 64 * 1000 * 16
    assert f.may_contain(np.array([_k(5), _k(10**9)], dtype=np.int64)).tolist() == [True, False]
    assert f.ids_for(np.array([_k(5), _k(63_999), _k(10**9)], dtype=np.int64)).tolist() == [5, 63_999]


def test_one_key_names_every_item_that_carries_it() -> None:
    """Two items with one content (two external ids) share a content key: both are candidates."""
    f = KeyIndex()
    f.add([_k(1), _k(2)], [10, 11])
    f.add([_k(1)], [12])
    f.add([_k(1), _k(3)], [13, 14])
    assert f.ids_for(np.array([_k(1)], dtype=np.int64)).tolist() == [10, 12, 13]
    assert f.ids_for(np.array([], dtype=np.int64)).tolist() == []
    with pytest.raises(ValueError, match="2 keys for 1 ids"):
        f.add([_k(1), _k(2)], [1])


def test_keys_are_signed_64_bit_and_match_postgresql() -> None:
    """content_key is the hash's first 8 bytes as PostgreSQL's ('x' || ...)::bit(64)::bigint reads them."""
    assert key_of_hash("ffffffffffffffff" + "0" * 48) == -1
    assert key_of_hash("8000000000000000" + "0" * 48) == -(2**63)
    assert key_of_hash("7fffffffffffffff" + "0" * 48) == 2**63 - 1
    assert -(2**63) <= external_key("abc") < 2**63 and external_key("abc") != external_key("abd")
