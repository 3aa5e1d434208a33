"""The key pre-filter of the bulk import: it may say 'maybe' wrongly, never 'no' wrongly."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.keys import external_key, key_of_hash
from truthset.store.bulk import KeyFilter


def _k(x: int) -> int:
    return key_of_hash(hashlib.sha256(str(x).encode()).hexdigest())


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 10_000), max_size=50), max_size=12),
    probes=st.lists(st.integers(0, 10_000), max_size=80),
)
def test_filter_never_misses_a_stored_key(batches: list[list[int]], probes: list[int]) -> None:
    f = KeyFilter()
    stored: set[int] = set()
    for batch in batches:
        f.add([_k(x) for x in batch])
        stored.update(batch)
    maybe = f.may_contain(np.array([_k(x) for x in probes], dtype=np.int64))
    for x, m in zip(probes, maybe):
        # distinct sha256 prefixes of small integers never collide: exact answers here
        assert bool(m) == (x in stored)


def test_filter_merges_arrays_and_stays_small() -> None:
    f = KeyFilter()
    for k in range(64):
        f.add(np.array([_k(k * 1000 + i) for i in range(1000)], dtype=np.int64))
    assert len(f.arrays) <= 8
    assert sum(a.nbytes for a in f.arrays) == 64 * 1000 * 8
    assert f.may_contain(np.array([_k(5), _k(10**9)], dtype=np.int64)).tolist() == [True, False]


def test_keys_are_signed_64_bit_and_match_postgresql() -> None:
    """content_key is the hash's first 8 bytes as PostgreSQL's ('x' || ...)::bit(64)::bigint reads them."""
    assert key_of_hash("ffffffffffffffff" + "0" * 48) == -1
    assert key_of_hash("8000000000000000" + "0" * 48) == -(2**63)
    assert key_of_hash("7fffffffffffffff" + "0" * 48) == 2**63 - 1
    assert -(2**63) <= external_key("abc") < 2**63 and external_key("abc") != external_key("abd")
