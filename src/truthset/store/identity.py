"""What the bulk import knows about identity: key filters, stored items, a chunk's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


class KeyIndex:
    """Which items carry a 64-bit key: a sorted in-memory index, 16 bytes per item.

    Keeps the key and the item id of every item of the project (those present before the
    import, and each chunk's new items as they are written) in sorted numpy arrays, merged
    as they grow. A key that is absent is certainly new and needs no database look-up; a
    key that is present names the candidate items (true matches, and 64-bit collisions,
    about n/2**64 each), which the import then reads by primary key and compares in full.
    So the import never reads the ``content_key`` or ``external_id`` indexes, and a large
    import can build those at its end instead of updating them row by row.
    """

    def __init__(self) -> None:
        self.keys: list[npt.NDArray[np.int64]] = []
        self.ids: list[npt.NDArray[np.int64]] = []

    def add(self, keys: Iterable[int] | npt.NDArray[np.int64], ids: Iterable[int] | npt.NDArray[np.int64]) -> None:
        """Record that the item ``ids[i]`` carries ``keys[i]``."""
        k = np.asarray(keys if isinstance(keys, np.ndarray) else list(keys), dtype=np.int64)
        v = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        if len(k) != len(v):
            raise ValueError(f"{len(k)} keys for {len(v)} ids")
        if not len(k):
            return
        order = np.argsort(k, kind="stable")
        self.keys.append(k[order])
        self.ids.append(v[order])
        # merge equal-sized neighbours (a binary counter) so few arrays are searched
        while len(self.keys) > 1 and len(self.keys[-2]) <= len(self.keys[-1]) * 2:
            k2, v2 = self.keys.pop(), self.ids.pop()
            k1, v1 = self.keys[-1], self.ids[-1]
            both = np.concatenate([k1, k2])
            order = np.argsort(both, kind="stable")
            self.keys[-1], self.ids[-1] = both[order], np.concatenate([v1, v2])[order]

    def may_contain(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For each key: may an item carry it?"""
        # searched in sorted order: numpy's binary search then starts each key where the
        # last one ended, walking the (large) arrays forward instead of jumping about them
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        hit = np.zeros(len(keys), dtype=bool)
        for arr in self.keys:
            pos = np.searchsorted(arr, ordered)
            pos[pos == len(arr)] = 0
            hit |= arr[pos] == ordered
        out = np.empty(len(keys), dtype=bool)
        out[order] = hit
        return out

    def ids_for(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The ids of every item carrying one of ``keys`` (sorted, without repeats)."""
        found: list[npt.NDArray[np.int64]] = []
        for arr, ids in zip(self.keys, self.ids):
            lo = np.searchsorted(arr, keys, side="left")
            hi = np.searchsorted(arr, keys, side="right")
            n = hi - lo
            if n.any():
                starts = np.repeat(lo, n)
                offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
                found.append(ids[starts + offsets])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """The memory the index holds."""
        return sum(a.nbytes for a in self.keys) + sum(a.nbytes for a in self.ids)


@dataclass(frozen=True)
class Stored:
    """An item already in the store, as a look-up found it."""

    id: int
    external_id: str | None
    content_hash: str
    line: int | None
    batch: int | None


@dataclass
class ChunkResult:
    items_added: int = 0
    annotations_added: int = 0
    gold_added: int = 0
    superseded: int = 0
    #: records that are an item met before, in this import or earlier:
    #: (line, item line, item batch, matched "id" | "content", content changed, annotations or gold added)
    matched: list[tuple[int, int | None, int | None, str, bool, int]] = field(default_factory=list)
    #: stored and new payload of records whose id names an item with other content: (line, old, new)
    changed: list[tuple[int, str, str]] = field(default_factory=list)
    #: an annotator's new label differs from their current one: (line, annotator, old value, new value)
    conflicts: list[tuple[int, str, str, str]] = field(default_factory=list)
    #: records not used under ``--on-duplicate reject``: (line, reason)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: new items whose content equals an item's with another external id: (line, its id, its line, its batch)
    same_content: list[tuple[int, str, int | None, int | None]] = field(default_factory=list)
    #: stored items known by content only that took a record's external id: (item id, external id)
    adopted: list[tuple[int, str]] = field(default_factory=list)
    #: the item id of each of the chunk's records, by their index in the chunk
    item_of: list[int] = field(default_factory=list)


class History:
    """One annotator's annotations of one item: the current one, and what was given."""

    __slots__ = ("current", "value", "given", "keys")

    def __init__(self, current: int, value: str) -> None:
        self.current = current  # an annotation id (> 0), or -(n + 1) for the chunk's n-th new row
        self.value = value
        self.given: set[tuple[str, str]] = set()
        self.keys: set[str] = set()

    @classmethod
    def of(cls, first: tuple[int, str, str, str | None]) -> History:
        """From the (row, value, source, key) of an annotator's only annotation of the item so far."""
        h = cls(first[0], first[1])
        h.given.add((first[1], first[2]))
        if first[3] is not None:
            h.keys.add(first[3])
        return h
