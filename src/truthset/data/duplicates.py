"""Exact and near-duplicate texts, as clusters with a representative and label conflicts.

A duplicate under another id is a finding (the same datum counted twice; across splits it is
leakage, see :mod:`truthset.data.leakage`); the same text with different labels is a conflict
finding (at least one label is wrong, or the task is ambiguous). Texts are compared after
:func:`normalize_texts`, so copies that differ only in case, spacing or Unicode form are found.

Near-duplicates use MinHash sketches and LSH banding over shingles
(:mod:`truthset.data.minhash`), verified on the estimated (or exact) Jaccard similarity, then
joined into clusters by connected components (a copy of a copy is in the same cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from truthset.core.errors import InvalidInput
from truthset.data.clusters import Clusters, distinct_per_cluster
from truthset.data.minhash import (
    Scheme,
    Shingle,
    estimate_jaccard,
    exact_jaccard,
    lsh_candidates,
    minhash_signatures,
    optimal_bands,
)

Verify = Literal["signature", "exact", "none"]

URL = r"(?:https?://|www\.)\S+"
HANDLE = r"(?<!\w)@\w+"
# zero-width and format characters that NFKC keeps but no reader sees
INVISIBLE = r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
# punctuation and symbols: not a word character, not a space, not a combining mark
PUNCTUATION = r"[^\w\s\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]|_"


def _one_pass(s: pd.Series, mask_urls: bool, mask_handles: bool, strip_punctuation: bool) -> pd.Series:
    s = s.str.normalize("NFKC").str.casefold().str.normalize("NFKC")
    s = s.str.replace(INVISIBLE, "", regex=True)
    if mask_urls:
        s = s.str.replace(URL, " <url> ", regex=True)
    if mask_handles:
        s = s.str.replace(HANDLE, "@user", regex=True)
    if strip_punctuation:
        s = s.str.replace(PUNCTUATION, "", regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def normalize_texts(
    texts: Sequence[Any] | pd.Series,
    *,
    mask_urls: bool = False,
    mask_handles: bool = False,
    strip_punctuation: bool = False,
) -> list[str]:
    """Texts in a canonical form, so that copies differing only in form compare equal.

    Steps: Unicode NFKC (full-width, ligatures, compatibility forms), case folding (``ß`` ->
    ``ss``, not just lower case), NFKC again, zero-width characters removed, optionally URLs
    replaced by ``<url>`` and @handles by ``@user``, optionally punctuation removed, then runs of
    whitespace collapsed to one space and the ends stripped. Missing values become ``""``.

    The result is idempotent: ``normalize_texts(normalize_texts(x)) == normalize_texts(x)``.
    Removing a character can bring a letter and a combining mark together (``a!\u0301`` ->
    ``a\u0301``), which NFKC then composes, so texts that a second pass would still change are
    passed again until they are stable.
    """
    s = (
        pd.Series(list(texts) if not isinstance(texts, pd.Series) else texts.to_list(), dtype=object)
        .fillna("")
        .astype(str)
    )
    out = _one_pass(s, mask_urls, mask_handles, strip_punctuation)
    for _ in range(4):
        again = _one_pass(out, mask_urls, mask_handles, strip_punctuation)
        moved = again != out
        if not moved.any():
            break
        out = out.where(~moved, again)
    return [str(t) for t in out.to_list()]


@dataclass(frozen=True)
class DuplicateReport:
    """Duplicate clusters over ``n`` items, with label conflicts and ids.

    ``clusters``: the partition (every item in exactly one cluster).
    ``n_labels``: (k,) distinct non-missing labels per cluster (0 when no labels were given).
    ``n_ids``: (k,) distinct ids per cluster (its size when no ids were given).
    ``pairs``: near-duplicate method only: the verified pairs between distinct normalised texts,
    columns ``a``, ``b`` (positions of the first item of each text) and ``similarity``.
    """

    clusters: Clusters
    n_labels: npt.NDArray[np.int64]
    n_ids: npt.NDArray[np.int64]
    ids: npt.NDArray[Any] | None
    labels: npt.NDArray[Any] | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    pairs: pd.DataFrame | None = None

    @property
    def conflict(self) -> npt.NDArray[np.bool_]:
        """(k,) True for a cluster whose items carry two or more different labels."""
        return self.n_labels > 1

    def frame(self) -> pd.DataFrame:
        """One row per item in a cluster of two or more.

        Columns: ``item``, ``cluster``, ``representative``, ``size`` (see
        :meth:`Clusters.frame`), ``label`` (when labels were given), ``distinct_ids`` (ids in
        the cluster; 2 or more means the same text under different ids) and ``conflict``.
        """
        out = self.clusters.frame(self.ids)
        pos = np.flatnonzero(self.clusters.duplicated())
        pos = pos[np.argsort(self.clusters.cluster[pos], kind="stable")]
        if self.labels is not None:
            out["label"] = self.labels[pos]
        out["distinct_ids"] = self.n_ids[out["cluster"].to_numpy()]
        out["conflict"] = self.conflict[out["cluster"].to_numpy()]
        return out

    def conflicts(self) -> pd.DataFrame:
        """The rows of :meth:`frame` in clusters with conflicting labels."""
        out = self.frame()
        return out[out["conflict"]].reset_index(drop=True)

    def summary(self) -> dict[str, int]:
        """Counts with plain names: ``items``, ``clusters`` (of two or more),
        ``duplicated_items``, ``extra_copies``, ``conflict_clusters``, ``conflict_items``,
        ``clusters_with_distinct_ids``."""
        multi = self.clusters.size > 1
        return {
            "items": self.clusters.n_items,
            "clusters": int(multi.sum()),
            "duplicated_items": int(self.clusters.size[multi].sum()),
            "extra_copies": self.clusters.extra_copies,
            "conflict_clusters": int(self.conflict.sum()),
            "conflict_items": int(self.clusters.size[self.conflict].sum()),
            "clusters_with_distinct_ids": int((multi & (self.n_ids > 1)).sum()),
        }


def _report(
    clusters: Clusters, labels: Any, ids: Any, method: str, params: dict[str, Any], pairs: pd.DataFrame | None = None
) -> DuplicateReport:
    n = clusters.n_items
    for name, values in (("labels", labels), ("ids", ids)):
        if values is not None and len(values) != n:
            raise InvalidInput(
                f"{name} has {len(values)} entries but there are {n} texts; "
                f"pass one {name[:-1]} per text, in the same order"
            )
    lab = np.asarray(pd.Series(labels, dtype=object), dtype=object) if labels is not None else None
    idv = np.asarray(pd.Series(ids, dtype=object), dtype=object) if ids is not None else None
    n_labels = distinct_per_cluster(clusters, lab) if lab is not None else np.zeros(clusters.n_clusters, dtype=np.int64)
    n_ids = distinct_per_cluster(clusters, idv) if idv is not None else clusters.size.copy()
    return DuplicateReport(clusters, n_labels, n_ids, idv, lab, method, params, pairs)


def exact_duplicates(
    texts: Sequence[Any] | pd.Series,
    *,
    labels: Sequence[Any] | None = None,
    ids: Sequence[Any] | None = None,
    normalize: bool = True,
    mask_urls: bool = False,
    mask_handles: bool = False,
) -> DuplicateReport:
    """Clusters of items whose (normalised) texts are equal, whatever their ids.

    ``texts``: n texts; ``labels``: n labels (missing allowed, ignored for conflicts);
    ``ids``: n external ids. With ``normalize=False`` texts must match character for character
    (what an import's content hash sees). Cost: one normalisation pass and one hash
    factorisation, O(total characters).

    >>> r = exact_duplicates(["Hi  there", "hi there", "other"], labels=["a", "b", "a"])
    >>> r.summary()["extra_copies"], r.summary()["conflict_clusters"]
    (1, 1)
    """
    keys = (
        normalize_texts(texts, mask_urls=mask_urls, mask_handles=mask_handles)
        if normalize
        else pd.Series(list(texts), dtype=object)
    )
    clusters = Clusters.from_keys(keys)
    params = {"normalize": normalize, "mask_urls": mask_urls, "mask_handles": mask_handles}
    return _report(clusters, labels, ids, "exact", params)


def near_duplicates(
    texts: Sequence[Any] | pd.Series,
    *,
    threshold: float = 0.7,
    labels: Sequence[Any] | None = None,
    ids: Sequence[Any] | None = None,
    num_perm: int = 128,
    k: int = 5,
    shingle: Shingle = "char",
    scheme: Scheme = "oph",
    verify: Verify = "signature",
    bands: int | None = None,
    rows: int | None = None,
    mask_urls: bool = False,
    mask_handles: bool = False,
    strip_punctuation: bool = True,
    window: int = 64,
    seed: int = 1,
) -> DuplicateReport:
    """Clusters of items whose shingle sets have Jaccard similarity of about ``threshold`` or more.

    Texts are normalised (punctuation removed by default: a changed comma is not a different
    message), exact copies are joined first, and each distinct text gets a MinHash signature of
    ``num_perm`` entries over character (or word) ``k``-grams. LSH with ``bands`` x ``rows``
    (by default datasketch's optimum for ``threshold``, see
    :func:`~truthset.data.minhash.optimal_bands`) proposes candidate pairs; ``verify`` keeps a
    pair when its similarity, estimated from the signatures (``"signature"``) or computed
    exactly (``"exact"``), is at least ``threshold`` (``"none"`` keeps every candidate, as
    datasketch's query does). Clusters are the connected components of the kept pairs.

    Memory: ``4 * num_perm`` bytes per distinct text plus the candidate pairs. An empty text
    is only ever a duplicate of another empty text.
    """
    if not 0.0 < threshold < 1.0:
        raise InvalidInput(f"threshold={threshold} must be strictly between 0 and 1")
    if verify not in ("signature", "exact", "none"):
        raise InvalidInput(f"verify={verify!r}: use 'signature', 'exact' or 'none'")
    norm = normalize_texts(texts, mask_urls=mask_urls, mask_handles=mask_handles, strip_punctuation=strip_punctuation)
    exact = Clusters.from_keys(norm)
    unique = [norm[i] for i in exact.representative.tolist()]
    if bands is None or rows is None:
        bands, rows = optimal_bands(threshold, num_perm)
    sig = minhash_signatures(unique, num_perm=num_perm, k=k, shingle=shingle, scheme=scheme, seed=seed)
    active = np.fromiter((len(t) > 0 for t in unique), dtype=bool, count=len(unique))
    cand = lsh_candidates(sig, bands=bands, rows=rows, window=window, active=active)
    if verify == "exact":
        sim = exact_jaccard(unique, cand.a, cand.b, k=k, shingle=shingle)
    else:
        sim = estimate_jaccard(sig, cand.a, cand.b)
    keep = sim >= threshold if verify != "none" else np.ones(len(sim), dtype=bool)
    a, b = cand.a[keep], cand.b[keep]
    on_unique = Clusters.from_pairs(len(unique), a, b)
    clusters = Clusters.from_codes(on_unique.cluster[exact.cluster])
    pairs = pd.DataFrame({"a": exact.representative[a], "b": exact.representative[b], "similarity": sim[keep]})
    params = {
        "threshold": threshold,
        "num_perm": num_perm,
        "k": k,
        "shingle": shingle,
        "scheme": scheme,
        "verify": verify,
        "bands": bands,
        "rows": rows,
        "strip_punctuation": strip_punctuation,
        "mask_urls": mask_urls,
        "mask_handles": mask_handles,
        "candidates": int(len(cand.a)),
        "seed": seed,
    }
    return _report(clusters, labels, ids, "minhash", params, pairs)
