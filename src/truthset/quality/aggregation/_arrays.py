"""Vectorised pieces shared by the aggregators, over the integer codes of an annotation frame.

* vote counts per item and label (one ``np.bincount``), and row reductions fast for few labels;
* the item x (annotator * label) one-hot sparse matrix ``M`` that makes a Dawid-Skene E-step one
  sparse-dense product (``M @ log_errors``) and the M-step another (``M.T @ posteriors``);
* posteriors from log joints, soft confusion counts and rates, gold as codes;
* tie-breaking among top-scoring labels (majority vote's documented policy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from truthset.core.codes import AnnotationCodes
from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

#: Floor for probabilities before taking logs (same value crowd-kit uses).
EPS: float = 1e-10


def vote_counts(codes: AnnotationCodes, weights: FloatArray | None = None) -> FloatArray:
    """(n_items, K) sum of (weighted) votes per item and label, via one ``np.bincount``."""
    k = codes.n_labels
    flat = codes.item.astype(np.int64) * k + codes.label
    w = None if weights is None else weights[codes.annotator]
    counts = np.bincount(flat, weights=w, minlength=codes.n_items * k)
    return counts.reshape(codes.n_items, k).astype(np.float64, copy=False)


# numpy reduces a short last axis slowly (one tiny reduction per row); with few labels a
# loop over the columns, each step vectorised over all rows, is 5-20x faster.
_COLUMN_LOOP_MAX = 32


def row_max(a: FloatArray) -> FloatArray:
    """``a.max(axis=1)`` of a 2-D array, fast for few columns."""
    if a.shape[1] > _COLUMN_LOOP_MAX or a.shape[1] == 0:
        out: FloatArray = a.max(axis=1)
        return out
    top = a[:, 0].copy()
    for c in range(1, a.shape[1]):
        np.maximum(top, a[:, c], out=top)
    return top


def row_sum(a: npt.NDArray[Any]) -> FloatArray:
    """``a.sum(axis=1)`` of a 2-D array as float64, fast for few columns (summed left to right)."""
    if a.shape[1] > _COLUMN_LOOP_MAX or a.shape[1] == 0:
        out: FloatArray = a.sum(axis=1, dtype=np.float64)
        return out
    total = a[:, 0].astype(np.float64, copy=True)
    for c in range(1, a.shape[1]):
        total += a[:, c]
    return total


def row_argmax(a: npt.NDArray[Any]) -> IntArray:
    """``a.argmax(axis=1)`` (first maximum of each row) as int32, fast for few columns."""
    if a.shape[1] > _COLUMN_LOOP_MAX or a.shape[1] == 0:
        out: IntArray = a.argmax(axis=1).astype(np.int32)
        return out
    best = np.zeros(a.shape[0], dtype=np.int32)
    top = a[:, 0].copy()
    for c in range(1, a.shape[1]):
        better = a[:, c] > top  # strict: ties keep the earlier column, as argmax does
        best[better] = c
        np.maximum(top, a[:, c], out=top)
    return best


def normalize_rows(a: FloatArray) -> FloatArray:
    """Divide each row by its sum; all-zero rows become uniform."""
    s = row_sum(a)[:, None] if a.ndim == 2 else a.sum(axis=-1, keepdims=True)
    if (s > 0).all():
        out: FloatArray = a / s
        return out
    k = a.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > 0, a / np.where(s > 0, s, 1.0), 1.0 / k)
    return out


def one_hot_matrix(codes: AnnotationCodes) -> sp.csr_matrix:
    """Sparse (n_items, n_annotators * K) count matrix; column ``a*K + k`` = "annotator a said k".

    With it the Dawid-Skene E-step is ``M @ W`` where ``W[a*K + k, c] = log P(k | true c, a)``
    and the M-step counts are ``M.T @ posteriors``.
    """
    k = codes.n_labels
    cols = codes.annotator.astype(np.int64) * k + codes.label
    data = np.ones(codes.n_annotations, dtype=np.float64)
    m = sp.csr_matrix((data, (codes.item, cols)), shape=(codes.n_items, codes.n_annotators * k))
    m.sum_duplicates()
    return m


def posterior_from_log(log_joint: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row-wise softmax of log joint probabilities; returns (posteriors, log normaliser)."""
    top = row_max(log_joint)
    q = log_joint - top[:, None]
    np.exp(q, out=q)
    total = row_sum(q)
    q /= total[:, None]
    log_z = np.log(total, out=total)
    log_z += top
    return q, log_z


def posterior_from_log_by_label(log_joint_t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`posterior_from_log` for the transposed layout ``(K, n_items)``, in place.

    Each label's row is contiguous, so every step is a contiguous vector operation;
    ``log_joint_t`` is overwritten with the posteriors, which are returned.
    """
    k = log_joint_t.shape[0]
    top = log_joint_t[0].copy()
    for c in range(1, k):
        np.maximum(top, log_joint_t[c], out=top)
    q = log_joint_t
    q -= top
    np.exp(q, out=q)
    total = q[0].copy()
    for c in range(1, k):
        total += q[c]
    q /= total
    log_z = np.log(total, out=total)
    log_z += top
    return q, log_z


def soft_confusion_bincount(codes: AnnotationCodes, probas: FloatArray) -> FloatArray:
    """Same as :func:`soft_confusion` without building the sparse matrix (K bincounts)."""
    k, a = probas.shape[1], codes.n_annotators
    flat = codes.annotator.astype(np.intp) * k + codes.label
    item = codes.item.astype(np.intp)
    by_label = np.ascontiguousarray(probas.T)  # (K, n_items): each gather reads one row
    out = np.empty((a, k, k))
    for c in range(k):  # a loop over labels, each step vectorised over annotations
        out[:, c, :] = np.bincount(flat, weights=by_label[c].take(item), minlength=a * k).reshape(a, k)
    return out


def soft_confusion(m: sp.csr_matrix, probas: FloatArray, n_annotators: int) -> FloatArray:
    """Expected confusion counts ``(A, K_true, K_obs)`` given item posteriors ``probas``."""
    k = probas.shape[1]
    counts = np.asarray(m.T @ probas)  # (A*K_obs, K_true)
    return counts.reshape(n_annotators, k, k).transpose(0, 2, 1)


def confusion_rates(counts: FloatArray) -> FloatArray:
    """Normalise confusion counts over the observed label; rows without evidence are NaN."""
    s = counts.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, counts / np.where(s > 0, s, 1.0), np.nan)


def encode_gold(gold: pd.Series | None, codes: AnnotationCodes) -> tuple[IntArray, IntArray]:
    """Map a gold Series (item -> label) to (item codes, label codes) for items in ``codes``."""
    if gold is None:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    if not isinstance(gold, pd.Series):
        raise InvalidInput(
            f"gold must be a pandas Series indexed by item with the true label as value; "
            f"got {type(gold).__name__}. Build it with df.set_index('item')['label']."
        )
    gold = gold.dropna()
    item_pos = codes.items.get_indexer(gold.index)
    keep = item_pos >= 0
    label_pos = codes.labels.get_indexer(gold.to_numpy()[keep])
    if (label_pos < 0).any():
        bad = pd.unique(gold.to_numpy()[keep][label_pos < 0])[:5].tolist()
        raise InvalidInput(
            f"gold label(s) {bad} never occur in the annotations (labels seen: "
            f"{list(codes.labels)[:10]}); gold labels must be among the annotated labels."
        )
    return item_pos[keep].astype(np.int32), label_pos.astype(np.int32)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed uint64 from a uint64 (vectorised, wraps on overflow)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _tie_keys(codes: AnnotationCodes, seed: int, rows: npt.NDArray[np.intp]) -> np.ndarray:
    """(len(rows), K) uint64 keys from hashes of (seed, item id, label name) for items ``rows``.

    Each key depends only on its own item and label, so hashing a subset of the items gives
    the same keys as hashing all of them.
    """
    hash_key = f"{seed % 10**16:016d}"
    h_item = pd.util.hash_pandas_object(pd.Series(codes.items.take(rows)), index=False, hash_key=hash_key).to_numpy(
        np.uint64
    )
    h_label = pd.util.hash_pandas_object(pd.Series(codes.labels), index=False, hash_key=hash_key).to_numpy(np.uint64)
    with np.errstate(over="ignore"):
        return _mix64(h_item[:, None] ^ _mix64(h_label * _GOLDEN)[None, :])


def break_ties(
    scores: FloatArray,
    codes: AnnotationCodes,
    *,
    tie: str,
    random_state: int | None,
    exact: bool = False,
) -> IntArray:
    """Label code with the top score per row, ties resolved by ``tie`` (see module doc).

    ``exact=True`` says the scores are whole vote counts, so ties are exact equalities;
    otherwise scores equal up to a relative 1e-12 (weighted sums) count as tied.
    """
    if exact and tie == "first":
        return row_argmax(scores)  # the first maximum
    top = row_max(scores)[:, None]
    # weighted sums equal up to rounding (relative 1e-12) count as ties
    tol = 0.0 if exact else 1e-12 * np.maximum(np.abs(top), 1.0)
    tied = scores >= top - tol
    first: IntArray = row_argmax(tied)
    if tie == "first":
        return first
    multi = row_sum(tied) > 1
    if tie == "nan":
        out: IntArray = np.where(multi, -1, first).astype(np.int32)
        return out
    entropy = np.random.SeedSequence().entropy
    seed = int(entropy) if random_state is None else int(random_state)  # type: ignore[arg-type]
    rows = np.flatnonzero(multi)
    if rows.size:  # only tied items need their keys
        keys = np.where(tied[rows], _tie_keys(codes, seed, rows), np.uint64(0))
        first[rows] = keys.argmax(axis=1)
    return first
