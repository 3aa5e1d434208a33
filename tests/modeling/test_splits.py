"""Splits: stratified shares, groups never straddle, time order, frozen test set, seeds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthset.core.errors import InvalidInput
from truthset.modeling import Split, frozen_test_split, group_split, stratified_split, time_split


def _partition(split: Split, n: int) -> None:
    allpos = np.concatenate([split.train, split.val, split.test])
    assert np.array_equal(np.sort(allpos), np.arange(n)), "every item on exactly one side"


def test_stratified_keeps_class_shares() -> None:
    y = np.array(["a"] * 700 + ["b"] * 250 + ["c"] * 50)
    s = stratified_split(y, test_size=0.2, val_size=0.1, seed=3)
    _partition(s, 1000)
    assert s.description["test_classes"] == {"a": 140, "b": 50, "c": 10}
    assert s.description["val_classes"] == {"a": 70, "b": 25, "c": 5}
    assert s.description["n_train"] == 700


def test_one_item_class_stays_in_train() -> None:
    s = stratified_split(["a"] * 10 + ["b"], test_size=0.3, seed=0)
    assert 10 in s.train


def test_same_seed_same_split_other_seed_other_split() -> None:
    y = np.arange(500) % 4
    a, b, c = (stratified_split(y, seed=s) for s in (5, 5, 6))
    assert np.array_equal(a.test, b.test) and a.description == b.description
    assert not np.array_equal(a.test, c.test)
    assert a.description["test_sha256"] != c.description["test_sha256"]


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(5, 300),
    n_groups=st.integers(1, 60),
    seed=st.integers(0, 1000),
    test_size=st.floats(0.05, 0.5),
    val_size=st.floats(0.0, 0.3),
)
def test_groups_never_straddle(n: int, n_groups: int, seed: int, test_size: float, val_size: float) -> None:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n)
    y = rng.integers(0, 3, n)
    s = group_split(groups, y, test_size=test_size, val_size=val_size, seed=seed)
    _partition(s, n)
    sides = [set(groups[s.train]), set(groups[s.val]), set(groups[s.test])]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])


def test_group_split_sizes_are_close() -> None:
    groups = np.repeat(np.arange(2000), 5)  # 10,000 items in groups of 5
    y = np.repeat(np.arange(2000) % 2, 5)
    s = group_split(groups, y, test_size=0.2, seed=1)
    assert abs(s.test.size - 2000) <= 10
    assert s.description["n_groups"] == 2000


def test_time_split_puts_the_latest_items_in_test() -> None:
    rng = np.random.default_rng(0)
    times = rng.integers(0, 50, 400)
    s = time_split(times, test_size=0.2, val_size=0.1)
    _partition(s, 400)
    assert times[s.train].max() < times[s.val].min() <= times[s.val].max() < times[s.test].min()
    assert abs(s.test.size - 80) < 25


def test_frozen_test_keeps_test_and_drops_leaking_items() -> None:
    groups = np.arange(100) // 2  # pairs of near-duplicates
    y = np.arange(100) % 2
    test = [0, 1, 2, 50]  # item 51 shares group 25 with item 50, item 3 with item 2
    s = frozen_test_split(100, test, y, groups=groups, val_size=0.2, seed=0)
    assert s.test.tolist() == [0, 1, 2, 50]
    assert s.description["dropped_leaking"] == [3, 51]
    assert not set(groups[s.train]) & set(groups[s.test])
    assert s.train.size + s.val.size == 94
    again = frozen_test_split(100, test, y, groups=groups, val_size=0.2, seed=0)
    assert np.array_equal(s.val, again.val)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stratified_split([0, 1], test_size=1.2), "test_size"),
        (lambda: stratified_split([0, 1], test_size=0.6, val_size=0.5), "below 1"),
        (lambda: stratified_split([0, None]), "missing labels"),
        (lambda: group_split([1, None]), "missing ids"),
        (lambda: frozen_test_split(5, [7]), "0..4"),
        (lambda: time_split([1, None]), "timestamp"),
    ],
)
def test_split_errors(call: Callable[[], Split], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        call()
