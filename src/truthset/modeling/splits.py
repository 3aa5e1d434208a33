"""Train / validation / test splits: stratified, group-aware, by time, or around a frozen test set.

Every split is seeded and returns sorted position arrays into the input plus a
``description`` (method, seed, fractions, sizes, class counts per side, and a SHA-256 of
the test positions) to store with a run, so a later run can check it uses the same test
items. Group-aware splits keep every group (e.g. a cluster of exact or near duplicates) on
one side, so a model is never tested on a copy of a training item.

All work is vectorised over integer codes (``pd.factorize``, ``np.bincount``, ``np.cumsum``);
stratification of groups is approximate (each group counts toward its majority label).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.modeling._encode import as_1d

__all__ = ["Split", "frozen_test_split", "group_split", "stratified_split", "time_split"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """Positions (into the input arrays) of the train, validation and test items."""

    train: IntArray
    val: IntArray
    test: IntArray
    description: dict[str, Any] = field(default_factory=dict)


def _check_sizes(test_size: float, val_size: float) -> None:
    for name, v in (("test_size", test_size), ("val_size", val_size)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 1:
            raise InvalidInput(f"{name} must be a fraction in [0, 1); got {v!r}.")
    if test_size + val_size >= 1:
        raise InvalidInput(
            f"test_size + val_size must be below 1 so some items are left to train on; got {test_size} + {val_size}."
        )


def fingerprint(positions: IntArray) -> str:
    """SHA-256 of sorted positions: the same test set gives the same hex digest."""
    return hashlib.sha256(np.sort(positions).astype("<i8").tobytes()).hexdigest()


def _describe(method: str, seed: int | None, sides: dict[str, IntArray], y: Any, **extra: Any) -> Split:
    out = {k: np.sort(v).astype(np.int64) for k, v in sides.items()}
    desc: dict[str, Any] = {"method": method, "seed": seed, **extra}
    for k, v in out.items():
        desc[f"n_{k}"] = int(v.size)
    desc["test_sha256"] = fingerprint(out["test"])
    if y is not None:
        labels = as_1d(y, "y")
        for k, v in out.items():
            counts = pd.Series(labels[v]).value_counts(sort=False).sort_index()
            desc[f"{k}_classes"] = {str(c): int(n) for c, n in counts.items()}
    return Split(out["train"], out["val"], out["test"], desc)


def _assign(
    keys: IntArray,
    sizes: npt.NDArray[np.float64],
    strata: IntArray,
    test_size: float,
    val_size: float,
    rng: np.random.Generator,
) -> IntArray:
    """Side (0 train, 1 val, 2 test) of each unit, filling test then val within each stratum.

    Units are shuffled within their stratum and laid end to end; a unit goes to test when
    its midpoint lies in the first ``test_size`` of the stratum's total size, to val when in
    the next ``val_size``, else to train (so a one-item class stays in train).
    """
    order = np.lexsort((rng.random(keys.size), strata))
    s_sorted, w_sorted = strata[order], sizes[order]
    total = np.bincount(s_sorted, weights=w_sorted)
    before = np.cumsum(w_sorted) - w_sorted
    first = np.r_[0, np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1]
    start_of = np.repeat(before[first], np.diff(np.r_[first, s_sorted.size]))
    frac = (before - start_of + w_sorted / 2) / total[s_sorted]
    side = np.where(frac < test_size, 2, np.where(frac < test_size + val_size, 1, 0))
    out = np.empty(keys.size, dtype=np.int64)
    out[order] = side
    return out


def stratified_split(y: Any, *, test_size: float = 0.2, val_size: float = 0.0, seed: int | None = 0) -> Split:
    """Random split keeping each class's share on every side (per-class shuffling).

    Examples
    --------
    >>> s = stratified_split(["a"] * 8 + ["b"] * 2, test_size=0.5, seed=1)
    >>> len(s.test), s.description["test_classes"]
    (5, {'a': 4, 'b': 1})
    """
    _check_sizes(test_size, val_size)
    labels = as_1d(y, "y")
    strata = pd.factorize(labels, sort=True)[0].astype(np.int64)
    if (strata < 0).any():
        raise InvalidInput("y holds missing labels; drop unlabelled items before splitting.")
    rng = np.random.default_rng(seed)
    side = _assign(np.arange(labels.size), np.ones(labels.size), strata, test_size, val_size, rng)
    pos = np.arange(labels.size)
    return _describe(
        "stratified",
        seed,
        {"train": pos[side == 0], "val": pos[side == 1], "test": pos[side == 2]},
        labels,
        test_size=test_size,
        val_size=val_size,
    )


def group_split(
    groups: Any,
    y: Any = None,
    *,
    test_size: float = 0.2,
    val_size: float = 0.0,
    seed: int | None = 0,
) -> Split:
    """Split whole groups: every item of a group lands on the same side.

    ``groups`` has one id per item (e.g. a duplicate-cluster id; unique ids for singletons).
    With ``y`` the groups are stratified by their majority label. Sizes are met in items,
    approximately (a group is not cut).
    """
    _check_sizes(test_size, val_size)
    g = as_1d(groups, "groups")
    gcode, _ = pd.factorize(g)
    if (gcode < 0).any():
        raise InvalidInput("groups holds missing ids; give every item a group (its own id).")
    n_groups = int(gcode.max()) + 1
    sizes = np.bincount(gcode, minlength=n_groups).astype(np.float64)
    strata = np.zeros(n_groups, dtype=np.int64)
    labels = None
    if y is not None:
        labels = as_1d(y, "y")
        if labels.size != g.size:
            raise InvalidInput(f"y has {labels.size} values but groups has {g.size}.")
        lcode, uniq = pd.factorize(labels, sort=True)
        k = len(uniq)
        votes = np.bincount(gcode * k + lcode, minlength=n_groups * k).reshape(n_groups, k)
        strata = votes.argmax(axis=1).astype(np.int64)
    rng = np.random.default_rng(seed)
    side = _assign(np.arange(n_groups), sizes, strata, test_size, val_size, rng)[gcode]
    pos = np.arange(g.size)
    return _describe(
        "group",
        seed,
        {"train": pos[side == 0], "val": pos[side == 1], "test": pos[side == 2]},
        labels,
        test_size=test_size,
        val_size=val_size,
        n_groups=n_groups,
    )


def time_split(times: Any, y: Any = None, *, test_size: float = 0.2, val_size: float = 0.0) -> Split:
    """Train on the past, validate on the next slice, test on the latest ``test_size``.

    Items with the same timestamp always land on the same side, so every test item is at
    least as late as every training item; sizes are met approximately. No seed is needed.
    """
    _check_sizes(test_size, val_size)
    t = as_1d(times, "times")
    if pd.isna(t).any():
        raise InvalidInput("times holds missing values; every item needs a timestamp.")
    tcode, uniq = pd.factorize(t, sort=True)
    counts = np.bincount(tcode, minlength=len(uniq)).astype(np.float64)
    after = (counts.sum() - np.cumsum(counts)) / counts.sum()  # share strictly later
    later_incl = after + counts / counts.sum()
    side_of_time = np.where(
        later_incl <= test_size + 1e-12, 2, np.where(later_incl <= test_size + val_size + 1e-12, 1, 0)
    )
    if not (side_of_time == 2).any():
        side_of_time[-1] = 2
    side = side_of_time[tcode]
    pos = np.arange(t.size)
    # uniq is sorted: the first time on a side is its earliest (``.min()`` fails on strings)
    cut = {
        k: str(uniq[side_of_time == s][0]) if (side_of_time == s).any() else None
        for k, s in (("val_from", 1), ("test_from", 2))
    }
    return _describe(
        "time",
        None,
        {"train": pos[side == 0], "val": pos[side == 1], "test": pos[side == 2]},
        y,
        test_size=test_size,
        val_size=val_size,
        **cut,
    )


def frozen_test_split(
    n_items: int,
    test: Any,
    y: Any = None,
    *,
    groups: Any = None,
    val_size: float = 0.0,
    seed: int | None = 0,
) -> Split:
    """Keep an existing test set and split the remaining items into train and validation.

    ``test`` holds the positions (0..n_items-1) of the frozen test items, so runs made later
    on more data stay comparable. With ``groups``, items sharing a group with any test item
    are left out of train and validation (listed in ``description['dropped_leaking']``)
    because the test set cannot grow. Validation is stratified on ``y`` when given.
    """
    _check_sizes(0.0, val_size)
    test_pos = np.unique(np.asarray(test, dtype=np.int64))
    if test_pos.size == 0 or test_pos.min() < 0 or test_pos.max() >= n_items:
        raise InvalidInput(
            f"test must hold at least one position in 0..{n_items - 1}; got "
            f"{test_pos.size} positions ranging {test_pos.min() if test_pos.size else '-'}"
            f"..{test_pos.max() if test_pos.size else '-'}."
        )
    rest_mask = np.ones(n_items, dtype=bool)
    rest_mask[test_pos] = False
    dropped = np.zeros(0, dtype=np.int64)
    if groups is not None:
        g = as_1d(groups, "groups")
        if g.size != n_items:
            raise InvalidInput(f"groups has {g.size} values for {n_items} items.")
        gcode = pd.factorize(g)[0]
        leaking = np.isin(gcode, gcode[test_pos]) & rest_mask
        dropped = np.flatnonzero(leaking)
        rest_mask &= ~leaking
    rest = np.flatnonzero(rest_mask)
    labels = None if y is None else as_1d(y, "y")
    if rest.size == 0:
        raise InvalidInput("no items are left to train on outside the frozen test set.")
    strata = (
        pd.factorize(labels[rest], sort=True)[0].astype(np.int64)
        if labels is not None
        else np.zeros(rest.size, dtype=np.int64)
    )
    rng = np.random.default_rng(seed)
    side = _assign(np.arange(rest.size), np.ones(rest.size), strata, 0.0, val_size, rng)
    return _describe(
        "frozen_test",
        seed,
        {"train": rest[side == 0], "val": rest[side == 1], "test": test_pos},
        labels,
        val_size=val_size,
        dropped_leaking=dropped.tolist(),
    )
