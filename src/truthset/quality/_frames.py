"""Turning the annotation frame (or a reliability matrix) into agreement inputs (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from truthset.core.codes import AnnotationCodes, encode_annotations, normalize_annotations
from truthset.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages show ``75``, not ``np.int64(75)``."""
    return value.item() if isinstance(value, np.generic) else value


def check_unique_judgements(
    item: npt.ArrayLike, annotator: npt.ArrayLike, n_annotators: int, items: pd.Index, annotators: pd.Index
) -> None:
    """Raise if an annotator judged the same item more than once."""
    key = np.asarray(item, dtype=np.int64) * max(n_annotators, 1) + np.asarray(annotator)
    key = np.sort(key)
    dup = np.flatnonzero(key[1:] == key[:-1])
    if dup.size:
        k = int(key[dup[0]])
        item_name = _plain(items[k // max(n_annotators, 1)])
        annotator_name = _plain(annotators[k % max(n_annotators, 1)])
        raise InvalidInput(
            f"{dup.size} judgement(s) repeat an (item, annotator) pair, e.g. item "
            f"{item_name!r} by annotator {annotator_name!r}; "
            "agreement needs one judgement per annotator and item. Keep the latest one, "
            "e.g. df.drop_duplicates(['item', 'annotator'], keep='last')."
        )


def frame_codes(df: pd.DataFrame, *, labels: Sequence[object] | None = None) -> AnnotationCodes:
    """Encode the long frame and check that each annotator judged each item at most once."""
    codes = encode_annotations(df, labels=labels)
    if codes.n_annotations == 0:
        raise InvalidInput("the annotation frame is empty; agreement needs items labelled by at least two annotators.")
    check_unique_judgements(codes.item, codes.annotator, codes.n_annotators, codes.items, codes.annotators)
    return codes


def label_counts(codes: AnnotationCodes) -> sp.csr_matrix:
    """Sparse ``(n_items, n_labels)`` matrix: how many annotators gave item ``i`` label ``c``."""
    counts = sp.csr_matrix(
        (np.ones(codes.n_annotations), (codes.item, codes.label)),
        shape=(codes.n_items, codes.n_labels),
    )
    counts.sum_duplicates()
    return counts


def _numeric_labels(series: pd.Series, level: str) -> FloatArray:
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise InvalidInput(
            f"level={level!r} needs numeric labels; the label column has dtype {series.dtype} "
            f"(e.g. {series.iloc[0]!r}). Convert it with pd.to_numeric, or use "
            "level='nominal' (or 'ordinal' with labels=[...] in order)."
        )
    return np.asarray(series.to_numpy(), dtype=np.float64)


def alpha_input_from_frame(
    df: pd.DataFrame, level: str, labels: Sequence[object] | None
) -> tuple[IntArray, FloatArray]:
    """Unit codes and values for Krippendorff's alpha from the long annotation frame."""
    norm = normalize_annotations(df)
    if level in ("interval", "ratio"):
        if labels is not None:
            raise InvalidInput(
                f"labels= orders or restricts categories and applies to nominal and ordinal "
                f"data only; got labels with level={level!r}. Drop labels=."
            )
        item, items = pd.factorize(norm["item"], sort=True)
        annotator, annotators = pd.factorize(norm["annotator"])
        check_unique_judgements(item, annotator, len(annotators), pd.Index(items), pd.Index(annotators))
        return item.astype(np.int64), _numeric_labels(norm["label"], level)
    series = norm["label"]
    if level == "ordinal" and labels is None:
        if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered:
            labels = list(series.dtype.categories)
        elif not pd.api.types.is_numeric_dtype(series.dtype):
            raise InvalidInput(
                f"level='ordinal' needs the order of the labels; got labels of dtype "
                f"{series.dtype} (e.g. {series.iloc[0]!r}) with no order. Pass "
                "labels=[lowest, ..., highest] or an ordered pd.Categorical label column."
            )
    codes = frame_codes(norm, labels=labels)
    return codes.item.astype(np.int64), codes.label.astype(np.float64)


#: Largest number of distinct integer values counted densely straight from the matrix.
_DENSE_VALUES = 64


def _small_integer_counts(arr: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """``(counts, domain)`` when ``arr`` (items x annotators) holds few integer values.

    One ``bincount`` over the matrix (missing values go to a spare column) replaces
    flattening, sorting and coding the values.
    """
    if arr.size == 0:
        return None
    lo, hi = float(np.fmin.reduce(arr, axis=None)), float(np.fmax.reduce(arr, axis=None))
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo >= _DENSE_VALUES:
        return None
    shifted = arr - lo
    np.copyto(shifted, hi - lo + 1.0, where=np.isnan(shifted))
    codes = shifted.astype(np.int64)
    if not np.array_equal(codes, shifted):
        return None
    width = int(hi - lo) + 2  # values plus the missing-value column
    codes += (np.arange(arr.shape[0], dtype=np.int64) * width)[:, None]
    counts = np.bincount(codes.ravel(), minlength=arr.shape[0] * width)
    dense = np.asarray(counts.reshape(arr.shape[0], width)[:, :-1], dtype=np.float64)
    return dense, lo + np.arange(width - 1, dtype=np.float64)


def alpha_input_from_matrix(
    data: npt.ArrayLike, level: str, labels: Sequence[object] | None
) -> tuple[IntArray, FloatArray] | tuple[FloatArray, FloatArray]:
    """Unit codes and values from an annotators x items matrix with NaN for missing.

    For a numeric matrix of few integer values, return ``(counts, domain)`` instead: the
    dense items x values count matrix (2-D) and the values (see ``alpha_stats_from_counts``).
    """
    """Unit codes and values from an annotators x items matrix with NaN for missing."""
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise InvalidInput(
            f"expected an annotators x items matrix (2-D) or a long DataFrame with columns "
            f"item, annotator, label; got an array with shape {arr.shape}."
        )
    # items x annotators, C order: the entries come out grouped by unit, with no sort
    arr = np.ascontiguousarray(arr.T)
    if arr.dtype.kind in "biuf":
        arr = arr.astype(np.float64, copy=False)
        if labels is None:
            counted = _small_integer_counts(arr)
            if counted is not None:
                return counted
        mask = ~np.isnan(arr)
    else:
        if level in ("interval", "ratio"):
            raise InvalidInput(
                f"level={level!r} needs a numeric matrix; got dtype {arr.dtype}. Convert the "
                "values to numbers, or use level='nominal' / 'ordinal'."
            )
        if level == "ordinal" and labels is None:
            raise InvalidInput(
                "level='ordinal' with non-numeric values needs their order; pass labels=[lowest, ..., highest]."
            )
        missing = pd.isna(arr)
        if arr.dtype.kind in "US":  # np.asarray turns NaN into the string 'nan'
            missing |= arr == "nan"
        mask = ~missing
    unit = np.repeat(np.arange(arr.shape[0], dtype=np.int64), mask.sum(axis=1))
    values = arr[mask]
    if labels is not None:
        if level in ("interval", "ratio"):
            raise InvalidInput(f"labels= applies to nominal and ordinal data only; got level={level!r}.")
        position = pd.Index(list(labels)).get_indexer(values)
        if (position < 0).any():
            bad = pd.unique(values[position < 0])[:5].tolist()
            raise InvalidInput(
                f"value(s) {bad} are not among labels={list(labels)}; add them to labels= or fix the data."
            )
        return unit, position.astype(np.float64)
    if values.dtype.kind == "f":
        return unit, values
    return unit, pd.factorize(values)[0].astype(np.float64)
