"""Krippendorff's alpha from per-unit sufficient statistics (private).

Notation: a *unit* is an item; only units with ``m_u >= 2`` values are pairable and
count. ``n = sum_u m_u`` is the number of pairable values. With ``delta`` the distance of
the level of measurement,

    Do = sum_u  1/(m_u - 1) * sum_{i != j in u} delta(v_i, v_j)
    De = sum_{i != j over all pairable values}   delta(v_i, v_j)
    alpha = 1 - (n - 1) * Do / De

which is ``1 - sum(o * d) / sum(e * d)`` in the coincidence-matrix form, without ever
building the V x V coincidence matrix:

* nominal: ``sum_{i!=j in u} [v_i != v_j] = m_u^2 - sum_c n_uc^2`` (sparse unit x value counts);
* interval: ``sum_{i!=j} (v_i - v_j)^2 = 2 m sum (v - mean)^2`` within a unit and globally;
* ordinal: with ``n_c`` the pairable count of value ``c`` (sorted) and mid-ranks
  ``M_c = sum_{g<=c} n_g - n_c / 2``, the ordinal distance is ``(M_c - M_k)^2``, so ordinal
  alpha is interval alpha on mid-ranks (O(V) memory);
* ratio: ``((v_i - v_j) / (v_i + v_j))^2`` is not separable: within units it is summed over
  the pairs of each unit, and ``De`` over distinct values in blocks (O(V) memory, O(V^2)
  time in the number of distinct values).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")

#: Cells of one temporary block (pairs, distance rows); bounds peak memory.
_BLOCK = 1 << 22


def check_level(level: object) -> str:
    """Return ``level`` if it is a known level of measurement, else raise."""
    if not isinstance(level, str) or level not in LEVELS:
        raise InvalidInput(
            f"level must be one of {list(LEVELS)}; got {level!r}. Choose the level of "
            "measurement of your labels: 'nominal' for unordered categories, 'ordinal' "
            "for ordered ones, 'interval' or 'ratio' for numbers."
        )
    return level


def unit_pairs(sizes: IntArray, *, max_pairs: int = _BLOCK) -> Iterator[tuple[IntArray, IntArray, IntArray]]:
    """Yield ``(unit, left, right)`` for every pair ``left < right`` of positions in a unit.

    Positions index an array sorted by unit whose unit ``u`` occupies ``sizes[u]``
    consecutive slots. Units are processed in chunks of about ``max_pairs`` cells.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    squares = sizes * sizes
    cum = np.cumsum(squares)
    lo = 0
    n_units = sizes.shape[0]
    while lo < n_units:
        base = cum[lo - 1] if lo > 0 else 0
        hi = int(np.searchsorted(cum, base + max_pairs, side="right"))
        hi = max(hi, lo + 1)
        units = np.arange(lo, hi, dtype=np.int64)
        sq = squares[lo:hi]
        total = int(sq.sum())
        unit = np.repeat(units, sq)
        offs = np.concatenate(([0], np.cumsum(sq)[:-1]))
        k = np.arange(total, dtype=np.int64) - np.repeat(offs, sq)
        m = sizes[unit]
        left, right = k // m, k % m
        keep = left < right
        unit, left, right = unit[keep], left[keep], right[keep]
        s = starts[unit]
        yield unit, s + left, s + right
        lo = hi


def _ratio_delta(a: FloatArray, b: FloatArray) -> FloatArray:
    total = a + b
    diff = a - b
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    np.divide(diff, total, out=out, where=total != 0)
    return np.asarray(out * out)


Counts: TypeAlias = npt.NDArray[np.float64] | sp.csr_matrix


@dataclass
class AlphaStats:
    """Sufficient statistics of Krippendorff's alpha over pairable units.

    ``domain`` holds the sorted distinct values (empty at interval level, which needs no
    value coding). ``counts`` is the units x values count matrix (dense when small, else sparse;
    ``None`` at interval level). ``within[u]`` is ``sum_{i!=j in u} delta / (m_u - 1)``
    (unused at ordinal level); ``s1``, ``s2`` are per-unit sums of the globally centred
    values and their squares (interval level only).
    """

    level: str
    domain: FloatArray
    m: FloatArray
    counts: Counts | None
    within: FloatArray
    s1: FloatArray
    s2: FloatArray

    @property
    def n_units(self) -> int:
        return int(self.m.shape[0])

    def _value_counts(self) -> FloatArray:
        assert self.counts is not None
        return np.asarray(self.counts.T @ np.ones(self.counts.shape[0]), dtype=np.float64)

    # -- point estimate ------------------------------------------------------------
    def point(self) -> float:
        n = float(self.m.sum())
        if self.level == "ordinal":
            return float(self.replicates(np.ones((1, self.n_units)))[0])
        if self.level == "interval":
            s1 = float(self.s1.sum())
            do, de = float(self.within.sum()), 2.0 * (n * float(self.s2.sum()) - s1 * s1)
        elif self.level == "nominal":
            n_c = self._value_counts()
            do, de = float(self.within.sum()), n * n - float(n_c @ n_c)
        else:
            n_c = self._value_counts()
            do, de = float(self.within.sum()), float(_ratio_de(self.domain, n_c[None, :])[0])
        if de <= 0.0:
            return float("nan")
        return float(1.0 - (n - 1.0) * do / de)

    # -- bootstrap -----------------------------------------------------------------
    def replicates(self, w: FloatArray) -> FloatArray:
        n = w @ self.m
        if self.level == "interval":
            s1, s2 = w @ self.s1, w @ self.s2
            do = w @ self.within
            de = 2.0 * (n * s2 - s1 * s1)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = 1.0 - (n - 1.0) * do / de
            return np.where(de > 0.0, out, np.nan)
        assert self.counts is not None
        n_c = np.asarray(self.counts.T @ w.T).T  # (B, V) weighted pairable value counts
        if self.level == "nominal":
            do = w @ self.within
            de = n * n - np.einsum("bv,bv->b", n_c, n_c)
        elif self.level == "ratio":
            do = w @ self.within
            de = _ratio_de(self.domain, n_c)
        else:
            mid = np.cumsum(n_c, axis=1) - n_c / 2.0 - n[:, None] / 2.0  # centred mid-ranks
            p1 = np.asarray(self.counts @ mid.T)  # (U, B) per-unit sums of mid-ranks
            p2 = np.asarray(self.counts @ (mid * mid).T)
            within = 2.0 * (self.m[:, None] * p2 - p1 * p1) / (self.m[:, None] - 1.0)
            do = np.einsum("bu,ub->b", w, within)
            s1 = np.einsum("bv,bv->b", n_c, mid)
            s2 = np.einsum("bv,bv->b", n_c, mid * mid)
            de = 2.0 * (n * s2 - s1 * s1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 - (n - 1.0) * do / de
        return np.where(de > 0.0, out, np.nan)


def _interval_within(unit: IntArray, values: FloatArray, m: FloatArray) -> FloatArray:
    n_units = m.shape[0]
    mean = np.bincount(unit, weights=values, minlength=n_units) / m
    dev = values - mean[unit]
    ss = np.bincount(unit, weights=dev * dev, minlength=n_units)
    return np.asarray(2.0 * m * ss / (m - 1.0))


def _ratio_de(domain: FloatArray, n_c: FloatArray) -> FloatArray:
    """``sum_{c,k} n_bc n_bk delta(c, k)`` for each row ``b`` of ``n_c``, in row blocks."""
    n_values = domain.shape[0]
    rows = max(1, _BLOCK // max(n_values, 1))
    out = np.zeros(n_c.shape[0])
    for lo in range(0, n_values, rows):
        hi = min(n_values, lo + rows)
        delta = _ratio_delta(domain[lo:hi, None], domain[None, :])  # (r, V)
        out += np.einsum("br,br->b", n_c[:, lo:hi], n_c @ delta.T)
    return out


def _ratio_within(unit: IntArray, values: FloatArray, m: FloatArray) -> FloatArray:
    order = np.argsort(unit, kind="stable")
    sorted_values = values[order]
    total = np.zeros(m.shape[0])
    for u, left, right in unit_pairs(m.astype(np.int64)):
        d = _ratio_delta(sorted_values[left], sorted_values[right])
        total += np.bincount(u, weights=d, minlength=m.shape[0])
    return np.asarray(2.0 * total / (m - 1.0))


def _code_values(values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Sorted distinct values and each value's index; O(n) for small integer ranges."""
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        if hi - lo <= 4 * values.size + 1024 and lo == np.floor(lo):
            shifted = values - lo
            as_int = shifted.astype(np.int64)
            if np.array_equal(as_int, shifted):  # all integers: code by offset, no sort
                present = np.bincount(as_int)
                rank = np.cumsum(present > 0) - 1
                return lo + np.flatnonzero(present).astype(np.float64), rank[as_int]
    domain, code = np.unique(values, return_inverse=True)
    return domain, code.astype(np.int64).ravel()


def _unit_value_counts(unit: IntArray, code: IntArray, n_units: int, n_values: int) -> Counts:
    if n_units * n_values <= max(4 * unit.shape[0], 1 << 20):
        flat = np.bincount(unit * n_values + code, minlength=n_units * n_values)
        return np.asarray(flat.reshape(n_units, n_values), dtype=np.float64)
    counts = sp.csr_matrix((np.ones(unit.shape[0]), (unit, code)), shape=(n_units, n_values))
    counts.sum_duplicates()
    return counts


def alpha_stats(unit_in: npt.ArrayLike, values_in: npt.ArrayLike, level: str) -> AlphaStats:
    """Build :class:`AlphaStats` from one entry per judgement.

    ``unit`` are non-negative integer unit codes; ``values`` are numbers (for nominal data
    any integer codes, for ordinal data anything whose sort order is the label order).
    Units with a single value are dropped; no pairable unit is an ``InvalidInput``.
    """
    unit: IntArray = np.asarray(unit_in, dtype=np.int64)
    values: FloatArray = np.asarray(values_in, dtype=np.float64)
    m_all: IntArray = np.bincount(unit) if unit.size else np.zeros(0, dtype=np.int64)
    keep_unit = m_all >= 2
    if not keep_unit.any():
        raise InvalidInput(
            "no item has values from two or more annotators, so there is nothing to "
            f"compare ({unit.size} value(s) over {int((m_all > 0).sum())} item(s)); "
            "agreement needs items labelled by at least two annotators."
        )
    if not keep_unit.all():  # drop units with one value; renumber the rest
        keep = keep_unit[unit]
        unit = (np.cumsum(keep_unit) - 1)[unit[keep]]
        values = values[keep]
        m_all = m_all[keep_unit]
    n_units = int(m_all.shape[0])
    m = m_all.astype(np.float64)
    empty_f = np.zeros(0)
    if level == "interval":
        centred = values - values.mean()
        s1 = np.asarray(np.bincount(unit, weights=centred, minlength=n_units), dtype=np.float64)
        s2 = np.asarray(np.bincount(unit, weights=centred * centred, minlength=n_units), dtype=np.float64)
        within = _interval_within(unit, centred, m)
        return AlphaStats(level, empty_f, m, None, within, s1, s2)
    domain, code = _code_values(values)
    counts = _unit_value_counts(unit, code, n_units, domain.shape[0])
    if level == "nominal":
        if isinstance(counts, np.ndarray):
            sq = np.einsum("uv,uv->u", counts, counts)
        else:
            sq = np.asarray(counts.multiply(counts).sum(axis=1)).ravel()
        within = (m * m - sq) / (m - 1.0)
    elif level == "ratio":
        if domain[0] < 0:
            raise InvalidInput(
                f"ratio level needs non-negative values (a true zero); got minimum {domain[0]}. "
                "Use level='interval' for data that can be negative."
            )
        within = _ratio_within(unit, domain[code], m)
    else:
        within = empty_f
    return AlphaStats(level, domain, m, counts, within, empty_f, empty_f)


def alpha_stats_from_counts(counts: FloatArray, domain: FloatArray, level: str) -> AlphaStats:
    """Build :class:`AlphaStats` from a dense units x values count matrix (few values)."""
    # row and column sums as matrix-vector products: far faster than .sum(axis) on a
    # tall matrix with a handful of columns
    m_all = counts @ np.ones(counts.shape[1])
    keep = m_all >= 2
    if not keep.any():
        raise InvalidInput(
            "no item has values from two or more annotators, so there is nothing to "
            f"compare ({int(m_all.sum())} value(s) over {int((m_all > 0).sum())} item(s)); "
            "agreement needs items labelled by at least two annotators."
        )
    if not keep.all():
        counts, m_all = counts[keep], m_all[keep]
    present = np.ones(counts.shape[0]) @ counts > 0
    if not present.all():
        counts, domain = counts[:, present], domain[present]
    m = np.asarray(m_all, dtype=np.float64)
    empty_f = np.zeros(0)
    if level == "nominal":
        within = (m * m - np.einsum("uv,uv->u", counts, counts)) / (m - 1.0)
    elif level == "interval":
        n_c = np.ones(counts.shape[0]) @ counts
        v = domain - float(n_c @ domain) / float(n_c.sum())
        s1, s2 = counts @ v, counts @ (v * v)
        within = 2.0 * (m * s2 - s1 * s1) / (m - 1.0)
        return AlphaStats(level, empty_f, m, None, within, s1, s2)
    elif level == "ratio":
        if domain[0] < 0:
            raise InvalidInput(
                f"ratio level needs non-negative values (a true zero); got minimum {domain[0]}. "
                "Use level='interval' for data that can be negative."
            )
        delta = _ratio_delta(domain[:, None], domain[None, :])
        within = np.einsum("uv,uv->u", counts @ delta, counts) / (m - 1.0)
    else:
        within = empty_f
    return AlphaStats(level, domain, m, counts, within, empty_f, empty_f)
