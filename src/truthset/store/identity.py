"""What the bulk import knows about identity: key filters, stored items, a chunk's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


class KeyFilter:
    """Which 64-bit keys may be stored already, in 8 bytes per key.

    Keeps every key seen (items present before the import, and each chunk as it is written)
    in sorted numpy arrays, merged as they grow. A key that is absent is certainly new and
    needs no database look-up; only keys that are present (true matches, and 64-bit
    collisions, about n/2**64 each) are checked in the database.
    """

    def __init__(self) -> None:
        self.arrays: list[npt.NDArray[np.int64]] = []

    def add(self, keys: Iterable[int] | npt.NDArray[np.int64]) -> None:
        arr = np.asarray(keys if isinstance(keys, np.ndarray) else list(keys), dtype=np.int64)
        if not len(arr):
            return
        self.arrays.append(np.sort(arr))
        # merge equal-sized neighbours (a binary counter) so few arrays are searched
        while len(self.arrays) > 1 and len(self.arrays[-2]) <= len(self.arrays[-1]) * 2:
            last = self.arrays.pop()
            self.arrays[-1] = np.sort(np.concatenate([self.arrays[-1], last]))

    def may_contain(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For each key: may it be stored?"""
        hit = np.zeros(len(keys), dtype=bool)
        for arr in self.arrays:
            pos = np.searchsorted(arr, keys)
            pos[pos == len(arr)] = 0
            hit |= arr[pos] == keys
        return hit


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
