"""Integer encoding of the annotation frame.

Every quality metric works on three aligned integer arrays (item index, annotator index,
label index) built once here (codes of the sorted distinct values, as pandas categorical
codes would give), so the algorithms are vectorised reductions (``np.bincount``, sparse
matrices) instead of loops over rows.

The front door is the long annotation frame, one row per judgement, with columns
``item``, ``annotator``, ``label``. crowd-kit's ``task``, ``worker``, ``label`` are
accepted as aliases so a crowd-kit user can switch with one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput

#: Column aliases accepted on input, mapped to our canonical names.
ALIASES: dict[str, str] = {"task": "item", "worker": "annotator"}
REQUIRED: tuple[str, ...] = ("item", "annotator", "label")

IntArray = npt.NDArray[np.int32]


def _canonical_columns(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The ``item``, ``annotator``, ``label`` columns of ``df`` (aliases resolved), uncopied."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"expected a pandas DataFrame with columns item, annotator, label; got {type(df).__name__}")
    columns = set(df.columns)
    source = {name: name for name in REQUIRED}
    for alias, name in ALIASES.items():
        if name not in columns and alias in columns:
            source[name] = alias
    missing = [name for name, col in source.items() if col not in columns]
    if missing:
        raise InvalidInput(
            f"annotation frame lacks column(s) {missing}; it has {list(df.columns)}. "
            "Pass one row per judgement with columns item, annotator, label "
            "(crowd-kit's task, worker, label also work)."
        )
    out = {name: df[col] for name, col in source.items()}
    repeated = [name for name, col in out.items() if isinstance(col, pd.DataFrame)]
    if repeated:
        raise InvalidInput(
            f"annotation frame has more than one column named {repeated}; keep one of each (item, annotator, label)."
        )
    return out


def _raise_null_rows(null: npt.NDArray[np.bool_]) -> None:
    rows = np.flatnonzero(null)[:5].tolist()
    raise InvalidInput(
        f"{int(null.sum())} annotation row(s) have an empty item, annotator or label "
        f"(first positions: {rows}); drop or fill them before computing quality metrics."
    )


def normalize_annotations(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with canonical column names ``item``, ``annotator``, ``label``.

    crowd-kit's ``task`` and ``worker`` are renamed (``df`` itself is returned when no
    alias is used). Rows with a missing item, annotator or label are an error (say which
    rows), not silently dropped.
    """
    columns = _canonical_columns(df)
    nulls = [s.isna().to_numpy() for s in columns.values() if s.hasnans]
    if nulls:
        _raise_null_rows(np.logical_or.reduce(nulls))
    renames = {columns[name].name: name for name in REQUIRED if columns[name].name != name}
    return df.rename(columns=renames) if renames else df


@dataclass(frozen=True)
class AnnotationCodes:
    """The annotation frame as aligned integer arrays plus the decoding indexes.

    ``item[k]``, ``annotator[k]``, ``label[k]`` describe judgement ``k``; each is an index
    into ``items``, ``annotators``, ``labels`` respectively. Shapes: all ``(n_annotations,)``.
    """

    item: IntArray
    annotator: IntArray
    label: IntArray
    items: pd.Index
    annotators: pd.Index
    labels: pd.Index

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_annotations(self) -> int:
        return int(self.item.shape[0])


#: Integer ids spanning at most this many values per annotation are encoded densely.
_DENSE_SPAN_PER_ROW = 4


def _factorize(values: pd.Series) -> tuple[npt.NDArray[np.integer], pd.Index]:
    """Codes (-1 for missing) and the sorted distinct values, as ``pd.Categorical`` does.

    A categorical column keeps its declared categories (and their order). Integer ids
    with a compact range skip hashing: mark which occur, number them by a cumulative sum.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), pd.Index(values.cat.categories)
    arr = values.to_numpy() if isinstance(values.dtype, np.dtype) else None
    if arr is not None and arr.dtype.kind in "iu" and arr.size:
        lo, hi = arr.min(), arr.max()
        span = int(hi) - int(lo) + 1
        if span <= _DENSE_SPAN_PER_ROW * arr.size + 1024:
            offset = arr - lo  # no overflow: span is small
            present = np.zeros(span, dtype=np.bool_)
            present[offset] = True
            lookup = np.cumsum(present, dtype=np.int32)
            lookup -= 1
            uniques = (np.flatnonzero(present) + lo).astype(arr.dtype, copy=False)
            return lookup[offset], pd.Index(uniques)
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values that do not sort (pd.Categorical falls back the same way)
        codes, uniques = pd.factorize(values, sort=False)
    return codes, pd.Index(uniques)


def _declared_codes(
    values: pd.Series, categories: Sequence[object]
) -> tuple[npt.NDArray[np.intp], pd.Index, list[object]]:
    """Positions of ``values`` in the declared ``categories`` (-1 for missing values).

    Also returns the values outside ``categories``, in order of first appearance.
    """
    declared = pd.Index(list(categories))
    if not declared.is_unique:
        dup = declared[declared.duplicated()].unique()[:5].tolist()
        raise InvalidInput(f"the declared labels repeat {dup}; list each label once, in order.")
    codes, uniques = pd.factorize(values)  # appearance order; missing values are -1
    position = declared.get_indexer(np.asarray(uniques, dtype=object))
    unknown = [uniques[i] for i in np.flatnonzero(position < 0)[:5]]
    remap = np.append(position, -1)  # code -1 (missing) stays -1
    return remap[codes], declared, unknown


def encode_annotations(df: pd.DataFrame, *, labels: Sequence[object] | None = None) -> AnnotationCodes:
    """Encode a long annotation frame to integer arrays.

    Parameters
    ----------
    df : DataFrame
        One row per judgement: ``item``, ``annotator``, ``label`` (or ``task``, ``worker``).
    labels : sequence, optional
        The label set in a fixed order (e.g. from the schema). Labels in ``df`` outside it
        are an error. By default the sorted distinct labels found.

    Examples
    --------
    >>> import pandas as pd
    >>> c = encode_annotations(pd.DataFrame({"item": ["a", "a", "b"],
    ...     "annotator": ["x", "y", "x"], "label": ["pos", "neg", "pos"]}))
    >>> c.item.tolist(), c.label.tolist(), list(c.labels)
    ([0, 0, 1], [1, 0, 1], ['neg', 'pos'])
    """
    columns = _canonical_columns(df)
    item, items = _factorize(columns["item"])
    annotator, annotators = _factorize(columns["annotator"])
    unknown: list[object] = []
    if labels is None:
        label, label_index = _factorize(columns["label"])
    else:
        label, label_index, unknown = _declared_codes(columns["label"], labels)
    if min(int(c.min(initial=0)) for c in (item, annotator, label)) < 0:
        _raise_null_rows((item < 0) | (annotator < 0) | (label < 0))  # missing values are -1
    if unknown:
        raise InvalidInput(
            f"label(s) {unknown} are not among the declared labels {list(labels or [])}; "
            "add them to the label schema or fix the annotations."
        )
    return AnnotationCodes(
        item.astype(np.int32, copy=False),
        annotator.astype(np.int32, copy=False),
        label.astype(np.int32, copy=False),
        items,
        annotators,
        label_index,
    )
