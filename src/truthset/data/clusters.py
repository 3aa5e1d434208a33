"""Clusters of items (duplicates, near-duplicates, neighbours) as integer arrays.

Every item belongs to exactly one cluster (a singleton when it has no duplicate), so the clusters
are a partition: disjoint, and covering every item. Clusters are numbered 0..k-1 in the order of
their first item; the representative of a cluster is its first item (lowest position), which
for data in import order is the copy that was seen first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Clusters:
    """A partition of ``n`` items.

    ``cluster``: (n,) int64, the cluster of each item, numbered by first appearance.
    ``representative``: (k,) int64, the position of each cluster's first item.
    ``size``: (k,) int64, the number of items in each cluster.
    """

    cluster: npt.NDArray[np.int64]
    representative: npt.NDArray[np.int64]
    size: npt.NDArray[np.int64]

    @classmethod
    def from_keys(cls, keys: npt.ArrayLike | pd.Series) -> Clusters:
        """Items with equal keys (any hashable values) form one cluster. Missing keys are
        singletons, never grouped together."""
        codes, _ = pd.factorize(pd.Series(keys), use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        missing = codes < 0
        if missing.any():
            codes = codes.copy()
            codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
        return cls.from_codes(codes)

    @classmethod
    def from_codes(cls, codes: npt.ArrayLike) -> Clusters:
        """Items with equal integer codes form one cluster (codes need not be contiguous)."""
        raw = np.asarray(codes, dtype=np.int64)
        _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # renumber clusters by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        cluster = rank[inverse.reshape(-1)]
        return cls(cluster, first[order], np.bincount(cluster, minlength=len(order)))

    @classmethod
    def from_pairs(cls, n: int, a: npt.ArrayLike, b: npt.ArrayLike, base: Clusters | None = None) -> Clusters:
        """Connected components of the graph whose edges are the pairs (a[i], b[i]).

        ``base`` (optional) adds its clusters as already joined (e.g. exact duplicates). This is
        union-find's result, computed by ``scipy.sparse.csgraph.connected_components``.
        """
        ia, ib = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if base is not None:
            ia = np.concatenate([ia, np.arange(n, dtype=np.int64)])
            ib = np.concatenate([ib, base.representative[base.cluster]])
        graph = coo_matrix((np.ones(len(ia), dtype=np.int8), (ia, ib)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        return cls.from_codes(labels)

    @property
    def n_items(self) -> int:
        return len(self.cluster)

    @property
    def n_clusters(self) -> int:
        return len(self.size)

    @property
    def extra_copies(self) -> int:
        """Items beyond the first of their cluster: what dropping duplicates would remove."""
        return self.n_items - self.n_clusters

    def duplicated(self) -> npt.NDArray[np.bool_]:
        """(n,) True for every item in a cluster of two or more."""
        return self.size[self.cluster] > 1

    def members(self, cluster: int) -> npt.NDArray[np.int64]:
        """Positions of the items of one cluster, ascending."""
        return np.flatnonzero(self.cluster == cluster)

    def frame(self, ids: Sequence[Any] | npt.ArrayLike | None = None) -> pd.DataFrame:
        """One row per item in a cluster of two or more, ordered by cluster then position.

        Columns: ``item`` (the id, or the position when ``ids`` is None), ``cluster``,
        ``representative`` (id or position of the cluster's first item) and ``size``.
        """
        pos = np.flatnonzero(self.duplicated())
        pos = pos[np.argsort(self.cluster[pos], kind="stable")]
        rep = self.representative[self.cluster[pos]]
        label = np.asarray(ids, dtype=object) if ids is not None else None
        return pd.DataFrame(
            {
                "item": label[pos] if label is not None else pos,
                "cluster": self.cluster[pos],
                "representative": label[rep] if label is not None else rep,
                "size": self.size[self.cluster[pos]],
            }
        )


def distinct_per_cluster(clusters: Clusters, values: npt.ArrayLike | pd.Series) -> npt.NDArray[np.int64]:
    """(k,) number of distinct non-missing ``values`` among each cluster's items."""
    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    ok = codes >= 0
    pair = np.unique(clusters.cluster[ok] * max(len(uniques), 1) + codes[ok])
    return np.bincount(pair // max(len(uniques), 1), minlength=clusters.n_clusters).astype(np.int64)
