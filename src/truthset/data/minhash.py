"""MinHash signatures and LSH banding, vectorised over a whole corpus (pure numpy).

Why our own and not datasketch: datasketch builds one Python ``MinHash`` object per text and
one dict entry per band, which costs tens of microseconds and about a kilobyte per text
(datasketch #206: 10 GB and more at low thresholds). Here every step is a numpy pass over all
texts at once: shingles are hashed with a polynomial rolling hash computed from prefix sums,
signatures are built with ``np.minimum.at`` and banding is a sort per band.
``benchmarks/near_duplicates.py`` measures both side by side (recall, precision, time, memory).

Two sketch schemes estimate the Jaccard similarity ``|A ∩ B| / |A ∪ B|`` of two shingle sets:

``"oph"`` (default)
    One-permutation hashing with optimal densification (Li, Owen, Zhang, NeurIPS 2012;
    Shrivastava, ICML 2017). Each shingle is hashed once; its top bits choose one of
    ``num_perm`` bins, its low bits are the value, and a bin keeps its minimum. A bin left
    empty (short texts have fewer shingles than bins) copies the value of the first non-empty
    bin along a probe sequence that depends only on the bin, so two texts make the same
    choices. Every bin then collides with probability ``J``, as in classic MinHash, at a cost
    of one hash per shingle instead of ``num_perm``.
``"classic"``
    ``num_perm`` universal hashes ``h_p(x) = (a_p x + b_p) mod 2^64 >> 32`` computed as one
    matrix product per chunk of shingles, minimum per text with ``np.minimum.reduceat``.
    ``num_perm`` times more arithmetic; kept as the textbook reference.

Shingles are character ``k``-grams (default) or word ``k``-grams of the (already normalised)
text; a text shorter than ``k`` is one shingle. Hashes are 64-bit, finished with the
splitmix64 mixer so that every bit is usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from truthset.core.errors import InvalidInput

Shingle = Literal["char", "word"]
Scheme = Literal["oph", "classic"]

U64 = np.uint64
EMPTY = np.uint32(0xFFFFFFFF)  # a bin (or a whole text) with no shingle
_BASE = 0x100000001B3  # odd: invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 2**64)
_CHUNK_CODEPOINTS = 1 << 20  # texts are processed in chunks of about 1M code points (~100 MB work)


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: a bijection on uint64 whose output bits all depend on the input."""
    x = x ^ (x >> U64(30))
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


def _powers(base: int, n: int) -> npt.NDArray[np.uint64]:
    """``base**i mod 2**64`` for i in 0..n-1 (numpy integer products wrap around).

    Built by doubling (``out[m:2m] = out[:m] * base**m``): log2(n) vectorised products instead
    of a sequential ``cumprod``.
    """
    out = np.ones(max(n, 1), dtype=U64)
    m, step = 1, base % 2**64
    while m < n:
        take = min(m, n - m)
        np.multiply(out[:take], U64(step), out=out[m : m + take])
        m, step = m + take, step * step % 2**64
    return out[:n]


class _Powers:
    """``B**i`` and ``B**-i`` modulo 2**64, grown on demand and reused across chunks of one call."""

    def __init__(self) -> None:
        self.up = _powers(_BASE, 0)
        self.down = _powers(_BASE_INV, 0)

    def get(self, n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            self.up, self.down = _powers(_BASE, size), _powers(_BASE_INV, size)
        return self.up, self.down


def _span_hashes(
    codes: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], powers: _Powers
) -> npt.NDArray[np.uint64]:
    """Hash of each span ``codes[s:e]`` as ``sum(codes[i] * B**(i-s))``, then mixed with its length.

    One prefix sum serves all spans: ``(P[e] - P[s]) * B**-s`` (all modulo 2**64), so the cost is
    O(len(codes) + len(spans)) whatever the span lengths.
    """
    n = len(codes)
    up, down = powers.get(n + 1)
    weighted = (codes + U64(1)) * up[:n]
    prefix = np.zeros(n + 1, dtype=U64)
    np.cumsum(weighted, dtype=U64, out=prefix[1:])
    h = (prefix[ends] - prefix[starts]) * down[starts]
    return _mix64(h ^ (ends - starts).astype(U64) * U64(0x9E3779B97F4A7C15))


def _windows(
    seg_start: npt.NDArray[np.int64], seg_len: npt.NDArray[np.int64], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All windows of ``k`` consecutive units inside each segment: (start, end, segment index).

    A non-empty segment shorter than ``k`` gives one window covering it; an empty one gives none.
    """
    count = np.where(seg_len >= k, seg_len - k + 1, (seg_len > 0).astype(np.int64))
    seg = np.repeat(np.arange(len(seg_len), dtype=np.int64), count)
    first = np.cumsum(count) - count
    start = seg_start[seg] + (np.arange(len(seg), dtype=np.int64) - first[seg])
    end = start + np.minimum(k, seg_len[seg])
    return start, end, seg


def _codepoints(texts: list[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All texts as one array of code points, with each text's start and length."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    joined = "".join(texts).encode("utf-32-le", errors="surrogatepass")
    codes = np.frombuffer(joined, dtype=np.uint32).astype(U64)
    starts = np.cumsum(lengths) - lengths
    return codes, starts, lengths


def shingle_hashes(
    texts: list[str], *, k: int = 5, shingle: Shingle = "char", _powers_cache: _Powers | None = None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """64-bit hashes of every shingle of every text, and the index of the text each belongs to.

    Returns ``(hashes, text_index)``, both of shape (n_shingles,), ordered by text. Word shingles
    split on the space character only, so pass text normalised with whitespace collapsed.
    A shingle repeated inside a text appears repeatedly (harmless for a minimum).
    """
    if k < 1:
        raise InvalidInput(f"shingle size k={k} must be at least 1")
    powers = _powers_cache or _Powers()
    codes, starts, lengths = _codepoints(texts)
    if shingle == "char":
        s, e, doc = _windows(starts, lengths, k)
        return _span_hashes(codes, s, e, powers), doc
    if shingle != "word":
        raise InvalidInput(f"shingle={shingle!r}: use 'char' or 'word'")
    n = len(codes)
    text_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    word = codes != U64(32)
    first = np.zeros(n, dtype=bool)
    first[starts[lengths > 0]] = True
    prev_space = np.ones(n, dtype=bool)
    prev_space[1:] = ~word[:-1]
    wstart = np.flatnonzero(word & (prev_space | first))
    next_space = np.ones(n, dtype=bool)
    next_space[:-1] = ~word[1:]
    last = np.zeros(n, dtype=bool)
    last[(starts + lengths - 1)[lengths > 0]] = True
    wend = np.flatnonzero(word & (next_space | last)) + 1
    token = _span_hashes(codes, wstart, wend, powers)
    per_text = np.bincount(text_of[wstart], minlength=len(texts)).astype(np.int64)
    s, e, doc = _windows(np.cumsum(per_text) - per_text, per_text, k)
    return _span_hashes(token, s, e, powers), doc


def _chunks(texts: list[str], budget: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) ranges of texts holding about ``budget`` code points each."""
    cum = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    total = int(cum[-1]) if len(cum) else 0
    cut = np.searchsorted(cum, np.arange(budget, total, budget)) + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cut, len(texts)), [len(texts)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _densify(sig: npt.NDArray[np.uint32], shifts: npt.NDArray[np.int64]) -> None:
    """Fill empty bins in place: bin j takes the value of bin ``(j + s) % num_perm`` of the original
    sketch for the first shift ``s`` in ``shifts`` that lands on a non-empty bin.

    The probe sequence depends only on the bin (not on the text), which is what makes a bin of
    two texts collide with probability J (Shrivastava 2017): both texts stop at the first probed
    bin that is non-empty in their union, and agree exactly when that bin's minimum over the
    union lies in the intersection. ``shifts`` is a random order of 1..num_perm-1, so every
    non-empty text is filled completely. A shift per attempt (rather than a random bin per bin
    and attempt) turns each attempt into two contiguous slice copies instead of a gather.
    """
    width = sig.shape[1]
    empty = sig == EMPTY
    n_empty = empty.sum(axis=1)
    rows = np.flatnonzero((n_empty > 0) & (n_empty < width))  # an empty text stays empty
    if not len(rows):
        return
    work = sig[rows]
    src = work.copy()
    buf = np.empty_like(work)
    steps = shifts.tolist()
    # dense phase: whole rows, two slice copies per attempt, while many bins are still empty
    while steps:
        empty = work == EMPTY
        if empty.sum() * 4 < empty.size:
            break
        s = steps.pop(0)
        buf[:, : width - s] = src[:, s:]
        buf[:, width - s :] = src[:, :s]
        np.copyto(work, buf, where=empty)
    # sparse phase: only the bins still empty, each probing its own next bin
    flat, source = work.reshape(-1), src.reshape(-1)
    pos = np.flatnonzero(flat == EMPTY)
    col = pos % width
    base = pos - col
    for s in steps:
        if not len(pos):
            break
        val = source[base + (col + s) % width]
        hit = val != EMPTY
        flat[pos[hit]] = val[hit]
        miss = ~hit
        pos, col, base = pos[miss], col[miss], base[miss]
    sig[rows] = work


def _oph(
    hashes: npt.NDArray[np.uint64],
    doc: npt.NDArray[np.int64],
    n_docs: int,
    num_perm: int,
    shifts: npt.NDArray[np.int64],
    salt: np.uint64,
) -> npt.NDArray[np.uint32]:
    h = _mix64(hashes ^ salt)
    bins = ((h >> U64(32)) * U64(num_perm)) >> U64(32)
    values = (h & U64(0x7FFFFFFF)).astype(np.uint32)
    flat = np.full(n_docs * num_perm, EMPTY, dtype=np.uint32)
    np.minimum.at(flat, doc * num_perm + bins.astype(np.int64), values)
    sig = flat.reshape(n_docs, num_perm)
    _densify(sig, shifts)
    return sig


def _classic(
    hashes: npt.NDArray[np.uint64],
    doc: npt.NDArray[np.int64],
    n_docs: int,
    a: npt.NDArray[np.uint64],
    b: npt.NDArray[np.uint64],
) -> npt.NDArray[np.uint32]:
    sig = np.full((n_docs, len(a)), EMPTY, dtype=np.uint32)
    rows_per_block = max(1, (1 << 24) // len(a))
    for lo in range(0, len(hashes), rows_per_block):
        x, d = hashes[lo : lo + rows_per_block], doc[lo : lo + rows_per_block]
        h = ((x[:, None] * a[None, :] + b[None, :]) >> U64(33)).astype(np.uint32)
        first = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        block_min = np.minimum.reduceat(h, first, axis=0)
        np.minimum.at(sig, d[first], block_min)
    return sig


def minhash_signatures(
    texts: list[str],
    *,
    num_perm: int = 128,
    k: int = 5,
    shingle: Shingle = "char",
    scheme: Scheme = "oph",
    seed: int = 1,
) -> npt.NDArray[np.uint32]:
    """MinHash signatures of ``texts``: array (n_texts, num_perm) of uint32.

    Equal shingle sets give equal rows; the fraction of equal entries of two rows estimates the
    Jaccard similarity of their shingle sets (:func:`estimate_jaccard`). A text with no shingle
    (empty) has every entry equal to ``EMPTY``. Texts are processed in chunks, so memory is
    ``4 * num_perm`` bytes per text plus a bounded working set.
    """
    if num_perm < 2:
        raise InvalidInput(f"num_perm={num_perm} must be at least 2")
    if scheme not in ("oph", "classic"):
        raise InvalidInput(f"scheme={scheme!r}: use 'oph' or 'classic'")
    texts = list(texts)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    rng = np.random.default_rng([seed, 0xC1A])
    shifts = rng.permutation(np.arange(1, num_perm, dtype=np.int64))
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * U64(2) + U64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    budget = _CHUNK_CODEPOINTS if scheme == "oph" else max(1 << 14, _CHUNK_CODEPOINTS // num_perm * 8)
    powers = _Powers()
    for lo, hi in _chunks(texts, budget):
        hashes, doc = shingle_hashes(texts[lo:hi], k=k, shingle=shingle, _powers_cache=powers)
        if scheme == "oph":
            out[lo:hi] = _oph(hashes, doc, hi - lo, num_perm, shifts, b[0])
        else:
            out[lo:hi] = _classic(hashes, doc, hi - lo, a, b)
    return out


def estimate_jaccard(sig: npt.NDArray[np.uint32], a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of the pairs (a[i], b[i]) of rows of ``sig``: shape (n_pairs,)."""
    ia, ib = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    out = np.empty(len(ia), dtype=np.float64)
    step = max(1, (1 << 22) // sig.shape[1])
    for lo in range(0, len(ia), step):
        out[lo : lo + step] = (sig[ia[lo : lo + step]] == sig[ib[lo : lo + step]]).mean(axis=1)
    return out


def optimal_bands(
    threshold: float, num_perm: int, *, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted areas of false positives and negatives.

    The same criterion as ``datasketch.MinHashLSH``: a pair of similarity ``s`` becomes a
    candidate with probability ``1 - (1 - s**r)**b``; the false-positive area is the integral
    of that over [0, threshold] and the false-negative area the integral of its complement over
    [threshold, 1]. The integrands are polynomials of degree at most ``num_perm``, so
    Gauss-Legendre quadrature with ``num_perm // 2 + 2`` nodes is exact; all (b, r) are
    evaluated at once.
    """
    if not 0.0 < threshold < 1.0:
        raise InvalidInput(f"threshold={threshold} must be strictly between 0 and 1")
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    br = np.array(pairs, dtype=np.float64)
    bands, rows = br[:, :1], br[:, 1:]

    def area(lo: float, hi: float, false_negative: bool) -> npt.NDArray[np.float64]:
        s = (hi - lo) / 2 * x[None, :] + (hi + lo) / 2
        p = 1 - (1 - s**rows) ** bands
        return ((1 - p) if false_negative else p) @ w * (hi - lo) / 2

    error = false_positive_weight * area(0.0, threshold, False) + false_negative_weight * area(threshold, 1.0, True)
    return pairs[int(np.argmin(error))]


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs from LSH banding: row indices ``a < b`` (int64, shape (n_pairs,))."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]


def _band_keys(sig: npt.NDArray[np.uint32], lo: int, hi: int) -> npt.NDArray[np.uint64]:
    key = np.full(len(sig), U64(lo + 1), dtype=U64)
    for col in range(lo, hi):
        key = _mix64(key ^ sig[:, col].astype(U64))
    return key


def lsh_candidates(
    sig: npt.NDArray[np.uint32], *, bands: int, rows: int, window: int = 64, active: npt.NDArray[np.bool_] | None = None
) -> Candidates:
    """Pairs of rows whose signatures agree on all ``rows`` entries of at least one band.

    Per band, the band's entries are hashed to one uint64 key and rows are sorted by key; rows
    with equal keys share a bucket. A bucket of m rows yields all its pairs when
    ``m <= window + 1``; a larger bucket pairs each row with the next ``window`` rows in bucket
    order, which keeps the bucket connected (the clusters are the same) while bounding the
    number of pairs. Rows outside ``active`` (e.g. empty texts) are never paired.
    """
    if bands * rows > sig.shape[1]:
        raise InvalidInput(f"bands*rows={bands * rows} exceeds the signature length {sig.shape[1]}")
    idx = np.arange(len(sig), dtype=np.int64) if active is None else np.flatnonzero(active)
    found_a: list[npt.NDArray[np.int64]] = []
    found_b: list[npt.NDArray[np.int64]] = []
    for band in range(bands):
        key = _band_keys(sig, band * rows, (band + 1) * rows)[idx]
        order = np.argsort(key)
        ks = key[order]
        new = np.r_[True, ks[1:] != ks[:-1]]
        group_start = np.flatnonzero(new)
        size = np.diff(np.r_[group_start, len(ks)])
        gid = np.cumsum(new) - 1
        pos = np.flatnonzero(size[gid] > 1)
        room = (group_start[gid] + size[gid])[pos] - pos  # rows after pos in its bucket, incl. pos
        for d in range(1, window + 1):
            keep = room > d
            pos, room = pos[keep], room[keep]
            if not len(pos):
                break
            found_a.append(idx[order[pos]])
            found_b.append(idx[order[pos + d]])
    if not found_a:
        empty = np.empty(0, dtype=np.int64)
        return Candidates(empty, empty)
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo.astype(U64) * U64(len(sig)) + hi.astype(U64))
    n = U64(len(sig))
    return Candidates((key // n).astype(np.int64), (key % n).astype(np.int64))


def exact_jaccard(
    texts: list[str], a: npt.ArrayLike, b: npt.ArrayLike, *, k: int = 5, shingle: Shingle = "char"
) -> npt.NDArray[np.float64]:
    """Exact Jaccard similarity of the shingle sets of the pairs (texts[a[i]], texts[b[i]]).

    Shingles are hashed to 64 bits (a collision is about 1 in 10**19 per pair of shingles).
    Only the texts named in the pairs are shingled; intersections are row-wise products of a
    sparse text x shingle matrix. Two empty texts have similarity 1; an empty and a non-empty 0.
    """
    ia, ib = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    involved = np.unique(np.concatenate([ia, ib]))
    if not len(involved):
        return np.empty(0, dtype=np.float64)
    hashes, doc = shingle_hashes([texts[i] for i in involved.tolist()], k=k, shingle=shingle)
    _, vocab = np.unique(hashes, return_inverse=True)
    x = csr_matrix(
        (np.ones(len(doc), dtype=np.float32), (doc, vocab.reshape(-1))),
        shape=(len(involved), int(vocab.max(initial=-1)) + 1),
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    ra, rb = np.searchsorted(involved, ia), np.searchsorted(involved, ib)
    inter = np.asarray(x[ra].multiply(x[rb]).sum(axis=1)).reshape(-1)
    size = np.diff(x.indptr)
    union = size[ra] + size[rb] - inter
    out = np.ones(len(ia), dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out
