"""Bulk import of parsed chunks: one hash look-up per row, then plain bulk inserts.

For each chunk the distinct content hashes go into a small temporary table and one join
finds the items that already exist. New items get ids reserved up front (on SQLite from
``MAX(id)`` — the import holds the write lock; on PostgreSQL from the table's sequence), so
items, annotations and gold are written with the driver's fastest path (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) without joining back on the hash. Memory is bounded by the
chunk size whatever the file size, and the whole import stays one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, text

from truthset.store.models import Item
from truthset.store.repo import ensure_users

STAGE = "truthset_stage"
#: the layout of the tuples handed to :meth:`Stager.move` (built by ``data.records``)
COLUMNS: tuple[str, ...] = (
    "src_row", "line", "is_first", "dup", "external_id", "content_hash", "payload",
    "value", "label", "annotator", "lead_time", "source", "meta", "ground_truth",
)
ITEM_COLUMNS = ("id", "project_id", "external_id", "content_hash", "payload", "batch_id", "line", "queue_key",
                "created_at")
ANNOTATION_COLUMNS = ("project_id", "item_id", "user_id", "value", "label", "schema_version", "lead_time",
                      "source", "batch_id", "meta", "ground_truth", "created_at")
GOLD_COLUMNS = ("item_id", "project_id", "value", "label", "source", "created_at")
#: SQLite indexes that a large import drops and builds again at its end (Stager._defer_indexes)
DEFERRED_INDEXES = ("ix_items_queue", "ix_items_batch_queue")
DEFER_MIN_ROWS = 100_000


class HashFilter:
    """Which content hashes may already be stored, in 8 bytes per hash.

    Keeps the first 64 bits of every hash seen (items present before the import, and each
    chunk as it is written) in sorted numpy arrays, merged as they grow. A hash whose prefix
    is absent is certainly new and needs no database look-up; only the few that match (true
    duplicates, and prefix collisions, about n/2**64 each) are checked in the database.
    """

    def __init__(self) -> None:
        self.arrays: list[npt.NDArray[np.uint64]] = []

    @staticmethod
    def prefixes(hashes: Sequence[str]) -> npt.NDArray[np.uint64]:
        raw = bytes.fromhex("".join(h[:16] for h in hashes))
        return np.frombuffer(raw, dtype=">u8").astype(np.uint64)

    def add(self, hashes: Sequence[str]) -> None:
        if not hashes:
            return
        self.arrays.append(np.sort(self.prefixes(hashes)))
        # merge equal-sized neighbours (a binary counter) so few arrays are searched
        while len(self.arrays) > 1 and len(self.arrays[-2]) <= len(self.arrays[-1]) * 2:
            last = self.arrays.pop()
            self.arrays[-1] = np.sort(np.concatenate([self.arrays[-1], last]))

    def filter(self, hashes: Sequence[str]) -> list[str]:
        """The hashes that may be stored already."""
        if not hashes or not self.arrays:
            return []
        p = self.prefixes(hashes)
        hit = np.zeros(len(p), dtype=bool)
        for arr in self.arrays:
            pos = np.searchsorted(arr, p)
            pos[pos == len(arr)] = 0
            hit |= arr[pos] == p
        return [h for h, m in zip(hashes, hit) if m]


@dataclass
class ChunkResult:
    items_added: int = 0
    annotations_added: int = 0
    gold_added: int = 0
    #: staged records whose content was already an item: (src_row, line, item line, item batch)
    existing: list[tuple[int, int, int | None, int | None]] = field(default_factory=list)
    #: content hash -> item id, for every item the chunk's records went to (new or existing)
    item_ids: dict[str, int] = field(default_factory=dict)


class Stager:
    """Writes chunks of staged tuples into the store, inside the caller's transaction."""

    def __init__(self, conn: Connection, *, project_id: int, batch_id: int, schema_version: int,
                 expected_rows: int = 0) -> None:
        """``expected_rows``: about how many rows the import brings (0: unknown, or few)."""
        self.conn = conn
        self.dialect = conn.dialect.name
        self.project_id = project_id
        self.batch_id = batch_id
        self.schema_version = schema_version
        self.users: dict[str, int] = {}
        self.known = HashFilter()
        hashes = text("SELECT content_hash FROM items WHERE project_id = :p").execution_options(yield_per=50000)
        for part in conn.execute(hashes, {"p": project_id}).scalars().partitions():
            self.known.add(part)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {STAGE} (content_hash TEXT, item_id BIGINT)")
        self.deferred = self._defer_indexes(expected_rows)

    def close(self) -> None:
        """Drop the staging table and build the indexes set aside (still in the transaction)."""
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        for index in self.deferred:
            index.create(self.conn)
        self.deferred = []

    def _defer_indexes(self, expected_rows: int) -> list[Any]:
        """SQLite: set aside the indexes on ``items.queue_key`` for a large import; ``close`` builds them again.

        queue_key is random (the queue's random order), so each new item lands on a random page
        of those indexes, and once they outgrow the page cache each insert is a read and a
        write. Measured on the 1M-row benchmark: they took 7 of 25 s of the import, while
        building both afresh took 2.3 s. Building covers every item of the store, so it pays
        only when the import adds a good share of it: at least DEFER_MIN_ROWS rows, and a
        third of the items already stored. On SQLite this is part of the import's one
        transaction: readers keep their snapshot with the indexes, an interrupted import rolls
        the drop back. Not on PostgreSQL, where DROP INDEX would lock every reader out of
        ``items`` until the import commits.
        """
        if self.dialect != "sqlite" or expected_rows < DEFER_MIN_ROWS:
            return []
        if expected_rows * 3 < self._top_item_id():
            return []
        deferred = [ix for ix in Item.__table__.indexes if ix.name in DEFERRED_INDEXES]
        for index in deferred:
            index.drop(self.conn)
        return deferred

    # -- driver-level bulk paths -------------------------------------------------------------
    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        raw: Any = self.conn.connection.dbapi_connection
        if self.dialect == "postgresql":
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            cur = raw.cursor()
            marks = ", ".join("?" for _ in columns)
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            cur.close()

    def _timestamp(self, now: datetime) -> Any:
        # SQLAlchemy stores SQLite datetimes as this text; PostgreSQL takes the object.
        return now if self.dialect == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _reserve_ids(self, n: int) -> list[int]:
        if n == 0:
            return []
        if self.dialect == "postgresql":
            res = self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('items', 'id')) FROM generate_series(1, :n)"), {"n": n}
            )
            return [int(r[0]) for r in res]
        top = self._top_item_id()
        return list(range(top + 1, top + 1 + n))

    def _top_item_id(self) -> int:
        """The largest item id in the store (0 if none)."""
        return int(self.conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM items")).scalar_one())

    def _existing(self, hashes: Sequence[str]) -> dict[str, tuple[int, int | None, int | None]]:
        candidates = self.known.filter(hashes)
        if not candidates:
            return {}
        self.conn.exec_driver_sql(f"DELETE FROM {STAGE}")
        self._copy(STAGE, ("content_hash",), [(h,) for h in candidates])
        res = self.conn.execute(
            text(f"SELECT i.content_hash, i.id, i.line, i.batch_id FROM {STAGE} s "
                 "JOIN items i ON i.project_id = :p AND i.content_hash = s.content_hash"),
            {"p": self.project_id},
        )
        return {h: (int(i), line, batch) for h, i, line, batch in res}

    def _known_annotations(self, item_ids: Sequence[int]) -> set[tuple[int, int, str, str]]:
        if not item_ids:
            return set()
        self.conn.exec_driver_sql(f"DELETE FROM {STAGE}")
        self._copy(STAGE, ("item_id",), [(i,) for i in item_ids])
        res = self.conn.execute(text(
            f"SELECT a.item_id, a.user_id, a.value, a.source FROM annotations a "
            f"WHERE a.item_id IN (SELECT item_id FROM {STAGE})"
        ))
        return {(int(i), int(u), v, s) for i, u, v, s in res}

    def _known_gold(self, item_ids: Sequence[int]) -> set[int]:
        if not item_ids:
            return set()
        self.conn.exec_driver_sql(f"DELETE FROM {STAGE}")
        self._copy(STAGE, ("item_id",), [(i,) for i in item_ids])
        res = self.conn.execute(text(f"SELECT item_id FROM gold WHERE item_id IN (SELECT item_id FROM {STAGE})"))
        return {int(r[0]) for r in res}

    # -- one chunk -----------------------------------------------------------------------------
    def move(self, rows: Sequence[tuple[Any, ...]], now: datetime, *, reject_existing: bool = False) -> ChunkResult:
        """Write one chunk of staged tuples (layout :data:`COLUMNS`) and report what it did.

        ``reject_existing``: rows whose content is already an item add no annotation (the
        ``--on-duplicate reject`` policy); otherwise their annotations go to that item.
        """
        result = ChunkResult()
        first_of: dict[str, tuple[Any, ...]] = {}
        for r in rows:
            first_of.setdefault(r[5], r)
        existing = self._existing(list(first_of))
        self.known.add(list(first_of))
        seen_rows: set[int] = set()
        for r in rows:
            hit = existing.get(r[5])
            if hit is not None and r[0] not in seen_rows:
                seen_rows.add(r[0])
                result.existing.append((r[0], r[1], hit[1], hit[2]))
        new = [r for h, r in first_of.items() if h not in existing and r[2] == 1 and r[3] == 0]
        ids = self._reserve_ids(len(new))
        ts = self._timestamp(now)
        item_id = {h: v[0] for h, v in existing.items()}
        item_rows = []
        for r, i in zip(new, ids):
            item_id[r[5]] = i
            item_rows.append((i, self.project_id, r[4], r[5], r[6], self.batch_id, r[1], int(r[5][:8], 16) >> 1, ts))
        self._copy("items", ITEM_COLUMNS, item_rows)
        result.items_added = len(item_rows)
        result.item_ids = item_id

        labelled = [r for r in rows if r[7] is not None and r[3] == 0
                    and not (reject_existing and r[5] in existing) and r[5] in item_id]
        missing = {r[9] for r in labelled} - set(self.users)
        if missing:
            self.users.update(ensure_users(self.conn, missing))
        old_items = sorted({item_id[r[5]] for r in labelled if r[5] in existing})
        known = self._known_annotations(old_items)
        ann_rows = []
        for r in labelled:
            key = (item_id[r[5]], self.users[r[9]], r[7], r[11])
            if key in known:
                continue
            known.add(key)
            ann_rows.append((self.project_id, key[0], key[1], r[7], r[8], self.schema_version, r[10], r[11],
                             self.batch_id, r[12], bool(r[13]), ts))
        self._copy("annotations", ANNOTATION_COLUMNS, ann_rows)
        result.annotations_added = len(ann_rows)

        golden = [r for r in labelled if r[13]]
        if golden:
            has_gold = self._known_gold(sorted({item_id[r[5]] for r in golden if r[5] in existing}))
            gold_rows = []
            for r in golden:
                i = item_id[r[5]]
                if i not in has_gold:
                    has_gold.add(i)
                    gold_rows.append((i, self.project_id, r[7], r[8], "import", ts))
            self._copy("gold", GOLD_COLUMNS, gold_rows)
            result.gold_added = len(gold_rows)
        return result

    def conflicts(self) -> list[tuple[int, str | None, int | None, int | None, str, list[str]]]:
        """Items where one annotator holds different current values after this batch.

        One tuple per item and annotator: (item id, external id, item line, item batch,
        annotator name, the distinct values as stored JSON, sorted), in item order.
        """
        current = "NOT EXISTS (SELECT 1 FROM annotations n WHERE n.supersedes_id = a.id)"
        rows = self.conn.execute(
            text(
                "SELECT a.item_id, i.external_id, i.line, i.batch_id, u.name, a.value FROM "
                "(SELECT a.item_id, a.user_id FROM annotations a "
                "WHERE a.project_id = :p AND a.source = 'import' AND a.item_id IN "
                f"(SELECT item_id FROM annotations WHERE batch_id = :b) AND {current} "
                "GROUP BY a.item_id, a.user_id HAVING COUNT(DISTINCT a.value) > 1) c "
                "JOIN annotations a ON a.item_id = c.item_id AND a.user_id = c.user_id "
                "JOIN items i ON i.id = a.item_id JOIN users u ON u.id = a.user_id "
                f"WHERE a.source = 'import' AND {current} ORDER BY a.item_id, u.name, a.value"
            ),
            {"p": self.project_id, "b": self.batch_id},
        ).all()
        out: dict[tuple[int, str], tuple[int, str | None, int | None, int | None, str, list[str]]] = {}
        for item_id, ext, line, batch, name, value in rows:
            entry = out.setdefault((int(item_id), str(name)), (int(item_id), ext, line, batch, str(name), []))
            if value not in entry[5]:
                entry[5].append(value)
        return [e for e in out.values() if len(e[5]) > 1]
