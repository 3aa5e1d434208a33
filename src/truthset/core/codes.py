"""Integer encoding of the annotation frame.

Every quality metric works on three aligned integer arrays (item index, annotator index,
label index) built once here from pandas categorical codes, so the algorithms are
vectorised reductions (``np.bincount``, sparse matrices) instead of loops over rows.

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


def normalize_annotations(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with canonical column names ``item``, ``annotator``, ``label``.

    crowd-kit's ``task`` and ``worker`` are renamed. Rows with a missing item, annotator
    or label are an error (say which rows), not silently dropped.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(
            f"expected a pandas DataFrame with columns item, annotator, label; got {type(df).__name__}"
        )
    renamed = df.rename(columns={k: v for k, v in ALIASES.items() if k in df.columns and v not in df.columns})
    missing = [c for c in REQUIRED if c not in renamed.columns]
    if missing:
        raise InvalidInput(
            f"annotation frame lacks column(s) {missing}; it has {list(df.columns)}. "
            "Pass one row per judgement with columns item, annotator, label "
            "(crowd-kit's task, worker, label also work)."
        )
    null = renamed[list(REQUIRED)].isna().any(axis=1).to_numpy()
    if null.any():
        rows = np.flatnonzero(null)[:5].tolist()
        raise InvalidInput(
            f"{int(null.sum())} annotation row(s) have an empty item, annotator or label "
            f"(first positions: {rows}); drop or fill them before computing quality metrics."
        )
    return renamed


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


def _codes(values: pd.Series, categories: Sequence[object] | None) -> tuple[IntArray, pd.Index]:
    if categories is None:
        cat = pd.Categorical(values)
    else:
        cat = pd.Categorical(values, categories=list(categories))
        unknown = cat.codes < 0
        if unknown.any():
            bad = pd.unique(values[unknown])[:5].tolist()
            raise InvalidInput(
                f"label(s) {bad} are not among the declared labels {list(categories)}; "
                "add them to the label schema or fix the annotations."
            )
    return cat.codes.astype(np.int32, copy=False), pd.Index(cat.categories)


def encode_annotations(
    df: pd.DataFrame, *, labels: Sequence[object] | None = None
) -> AnnotationCodes:
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
    norm = normalize_annotations(df)
    item, items = _codes(norm["item"], None)
    annotator, annotators = _codes(norm["annotator"], None)
    label, label_index = _codes(norm["label"], labels)
    return AnnotationCodes(item, annotator, label, items, annotators, label_index)
