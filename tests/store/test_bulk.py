"""The hash pre-filter of the bulk import: it may say 'maybe' wrongly, never 'no' wrongly."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.store.bulk import HashFilter


def _h(x: int) -> str:
    return hashlib.sha256(str(x).encode()).hexdigest()


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(st.integers(0, 10_000), max_size=50), max_size=12),
       probes=st.lists(st.integers(0, 10_000), max_size=80))
def test_filter_never_misses_a_stored_hash(batches: list[list[int]], probes: list[int]) -> None:
    f = HashFilter()
    stored: set[int] = set()
    for batch in batches:
        f.add([_h(x) for x in batch])
        stored.update(batch)
    maybe = set(f.filter([_h(x) for x in probes]))
    for x in probes:
        if x in stored:
            assert _h(x) in maybe
        else:
            # distinct sha256 prefixes of small integers never collide: exact answers here
            assert _h(x) not in maybe


def test_filter_merges_arrays_and_stays_small() -> None:
    f = HashFilter()
    for k in range(64):
        f.add([_h(k * 1000 + i) for i in range(1000)])
    assert len(f.arrays) <= 8
    assert sum(a.nbytes for a in f.arrays) == 64 * 1000 * 8
    assert f.filter([_h(5), _h(10**9)]) == [_h(5)]
