"""Bulk import of parsed chunks: which item each record is, then plain bulk inserts.

An external id identifies an item; a record without one is identified by its content
(sha256 of the canonical payload). For each record, in file order: the item whose external
id it carries; else, for a record without an id, the item with the same content; for a
record with an id, the item with the same content if that item has no id yet (it takes the
record's id); else a new item. So two ids are two items even with equal content (reported
as ``same_content``), and a re-import of the same ids with other options adds no items. Two
in-memory indexes of 64-bit keys (content keys and external-id hashes of the project's items,
each with the item's id: :class:`~truthset.store.identity.KeyIndex`) let a chunk skip the
database entirely unless some record may match a stored item; the few candidates are read by
primary key and compared in full.

Annotations are append-only. An annotation an annotator already gave the item (same value
and source, or the same source id, e.g. a Label Studio annotation id) adds nothing; another
one is added and, if the annotator had a current annotation of the item, supersedes it (the
latest is current); a different value is a conflict, reported.

New items get ids reserved up front (on SQLite from ``MAX(id)``: the import holds the write
lock; on PostgreSQL from the table's sequence), so items, annotations and gold are written
with the driver's fastest path (``executemany`` on SQLite, ``COPY`` on PostgreSQL). On SQLite
an import that brings a good share of the store sets the secondary indexes of ``items`` and
``annotations`` aside and builds them at its end (see ``Stager._defer_indexes``). Memory is
bounded by the chunk size and 16 bytes per item of the project, and the whole import stays
one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table, text

from truthset.core.keys import external_key
from truthset.store.identity import ChunkResult, History, KeyIndex, Stored
from truthset.store.models import Annotation, Item
from truthset.store.repo import ensure_users

__all__ = [
    "ANNOTATION_COLUMNS",
    "DEFERRED_INDEXES",
    "GOLD_COLUMNS",
    "ITEM_COLUMNS",
    "KEPT_INDEXES",
    "ChunkResult",
    "KeyIndex",
    "Stager",
    "Stored",
]

STAGE = "truthset_stage"
ITEM_COLUMNS = (
    "id",
    "project_id",
    "external_id",
    "content_hash",
    "content_key",
    "payload",
    "batch_id",
    "line",
    "queue_key",
    "created_at",
)
ANNOTATION_COLUMNS = (
    "project_id",
    "item_id",
    "user_id",
    "value",
    "label",
    "schema_version",
    "lead_time",
    "source",
    "batch_id",
    "meta",
    "created_at",
    "supersedes_id",
    "ground_truth",
)
#: how a gold answer given as an annotation (Label Studio ``ground_truth``) marks its canonical meta
GROUND_TRUTH = '"ground_truth":true'
GOLD_COLUMNS = ("item_id", "project_id", "value", "label", "source", "created_at")
#: the one secondary index the import itself reads (an annotator's earlier labels of an item)
KEPT_INDEXES = ("ix_annotations_item_user",)
#: SQLite indexes that a large import drops and builds again at its end (Stager._defer_indexes):
#: every other declared index of the two tables it fills, so one added later is set aside too
DEFERRED_INDEXES = tuple(
    str(ix.name)
    for model in (Item, Annotation)
    for ix in cast(Table, model.__table__).indexes
    if ix.name not in KEPT_INDEXES
)
DEFER_MIN_ROWS = 100_000
#: the first key of PostgreSQL advisory locks that serialise imports into one project
IMPORT_LOCK = 7_401_011


class Stager:
    """Writes chunks of records into the store, inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        *,
        project_id: int,
        batch_id: int,
        schema_version: int,
        expected_rows: int = 0,
        policy: str = "merge",
    ) -> None:
        """``expected_rows``: about how many rows the import brings (0: unknown, or few).

        ``policy``: ``merge`` (a record whose id names an item with other content joins it,
        a conflicting label supersedes) or ``reject`` (such records are not used).
        """
        self.conn = conn
        self.dialect = conn.dialect.name
        self.project_id = project_id
        self.batch_id = batch_id
        self.schema_version = schema_version
        self.reject = policy == "reject"
        self.users: dict[str, int] = {}
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k, :p)"), {"k": IMPORT_LOCK, "p": project_id})
        self.known = KeyIndex()
        self.known_ext = KeyIndex()
        keys = text("SELECT content_key, id FROM items WHERE project_id = :p").execution_options(yield_per=50000)
        for part in conn.execute(keys, {"p": project_id}).partitions():
            self.known.add([r[0] for r in part], [r[1] for r in part])
        exts = text(
            "SELECT external_id, id FROM items WHERE project_id = :p AND external_id IS NOT NULL"
        ).execution_options(yield_per=50000)
        for part in conn.execute(exts, {"p": project_id}).partitions():
            self.known_ext.add([external_key(r[0]) for r in part], [r[1] for r in part])
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {STAGE} (item_id BIGINT)")
        self.deferred = self._defer_indexes(expected_rows)

    def close(self) -> None:
        """Drop the staging table and build the indexes set aside (still in the transaction)."""
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        for index in self.deferred:
            index.create(self.conn)
        self.deferred = []

    def _defer_indexes(self, expected_rows: int) -> list[Any]:
        """SQLite: set aside the DEFERRED_INDEXES for a large import; ``close`` builds them again.

        Updating an index row by row costs more than building it once from sorted data: on the
        1M-row benchmark each of the three id-ordered indexes of ``items`` took about 1 s to
        update and 0.3 s to build, the random-order ones (content key, queue order) 3 s against
        1 s. The import reads none of them (identity is looked up in memory and by primary
        key), only ``ix_annotations_item_user``, which stays. Building covers every row of the
        table, so it pays only when the import adds a good share of it: at least DEFER_MIN_ROWS
        rows, and a third of the rows already stored (judged per table). On SQLite this is part
        of the import's one transaction: readers keep their snapshot with the indexes, an
        interrupted import rolls the drop back. Not on PostgreSQL, where DROP INDEX would lock
        every reader out of the table until the import commits.
        """
        if self.dialect != "sqlite" or expected_rows < DEFER_MIN_ROWS:
            return []
        deferred = [
            ix
            for model in (Item, Annotation)
            if expected_rows * 3 >= self._top_id(model.__tablename__)
            for ix in cast(Table, model.__table__).indexes
            if ix.name in DEFERRED_INDEXES
        ]
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

    def _stage(self, item_ids: Iterable[int]) -> None:
        """Put these item ids (alone) into the staging table, for an ``IN (SELECT ...)``."""
        self.conn.exec_driver_sql(f"DELETE FROM {STAGE}")
        self._copy(STAGE, ("item_id",), [(v,) for v in item_ids])

    def _timestamp(self, now: datetime) -> Any:
        # SQLAlchemy stores SQLite datetimes as this text; PostgreSQL takes the object.
        return now if self.dialect == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _reserve_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        if self.dialect == "postgresql":
            res = self.conn.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": n}
            )
            return [int(r[0]) for r in res]
        top = self._top_id(table)
        return list(range(top + 1, top + 1 + n))

    def _top_id(self, table: str) -> int:
        """The largest id in ``table`` (0 if none)."""
        return int(self.conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one())

    # -- look-ups ------------------------------------------------------------------------------
    def _stored(self, rows: Any) -> list[Stored]:
        return [Stored(int(i), e, h, line, batch) for i, e, h, line, batch in rows]

    def _items(self, ids: npt.NDArray[np.int64]) -> list[Stored]:
        """The project's items with these ids, by id."""
        if not len(ids):
            return []
        self._stage(ids.tolist())
        # "IN (subquery)": the planner then looks each id up by primary key; a join with the
        # (unindexed, unanalysed) stage table was planned as a scan (10 s per chunk)
        rows = self.conn.execute(
            text(
                "SELECT i.id, i.external_id, i.content_hash, i.line, i.batch_id FROM items i "
                f"WHERE i.project_id = :p AND i.id IN (SELECT item_id FROM {STAGE})"
            ),
            {"p": self.project_id},
        )
        return sorted(self._stored(rows), key=lambda s: s.id)  # no ORDER BY: it made SQLite walk by id

    def _by_content(self, wanted: dict[str, int]) -> dict[str, Stored]:
        """Stored items with these content hashes (hash -> content key); of several, one
        without an external id if there is one, else the first."""
        if not wanted:
            return {}
        out: dict[str, Stored] = {}
        for s in self._items(self.known.ids_for(np.array(sorted(set(wanted.values())), dtype=np.int64))):
            if s.content_hash in wanted:
                first = out.get(s.content_hash)
                if first is None or (first.external_id is not None and s.external_id is None):
                    out[s.content_hash] = s
        return out

    def _by_external_id(self, wanted: dict[str, int]) -> dict[str, Stored]:
        """Stored items with these external ids (id -> its key); of several with one id, the first."""
        if not wanted:
            return {}
        out: dict[str, Stored] = {}
        for s in self._items(self.known_ext.ids_for(np.array(sorted(set(wanted.values())), dtype=np.int64))):
            if s.external_id in wanted:
                out.setdefault(s.external_id, s)
        return out

    def _history(self, item_ids: Sequence[int]) -> dict[tuple[int, int], History]:
        """What each annotator gave each of these items, and their current annotation."""
        if not item_ids:
            return {}
        self._stage(item_ids)
        rows = list(
            self.conn.execute(
                text(
                    f"SELECT a.id, a.item_id, a.user_id, a.value, a.source, a.meta, a.supersedes_id FROM annotations a "
                    f"WHERE a.item_id IN (SELECT item_id FROM {STAGE}) ORDER BY a.id"
                )
            )
        )
        superseded = {int(r[6]) for r in rows if r[6] is not None}
        out: dict[tuple[int, int], History] = {}
        for ann_id, item, user, value, source, meta, _sup in rows:
            pair = (int(item), int(user))
            h = out.get(pair)
            if h is None:
                h = out[pair] = History(int(ann_id), value)
            elif int(ann_id) not in superseded:
                h.current, h.value = int(ann_id), value
            h.given.add((value, source))
            if meta and '"ls_id"' in meta:
                ls_id = json.loads(meta).get("ls_id")
                if ls_id is not None:
                    h.keys.add(f"{source}:{ls_id}")
        return out

    def _gold_of(self, item_ids: Sequence[int]) -> dict[int, str]:
        if not item_ids:
            return {}
        self._stage(item_ids)
        res = self.conn.execute(text(f"SELECT item_id, value FROM gold WHERE item_id IN (SELECT item_id FROM {STAGE})"))
        return {int(i): v for i, v in res}

    def _payloads(self, item_ids: Sequence[int]) -> dict[int, str]:
        if not item_ids:
            return {}
        self._stage(item_ids)
        res = self.conn.execute(text(f"SELECT id, payload FROM items WHERE id IN (SELECT item_id FROM {STAGE})"))
        return {int(i): p for i, p in res}

    # -- one chunk -----------------------------------------------------------------------------
    def move(self, items: Sequence[tuple[Any, ...]], anns: Sequence[tuple[Any, ...]], now: datetime) -> ChunkResult:
        """Write one chunk (items and annotations in the layouts of ``data.records.ITEM`` / ``ANN``)."""
        result = ChunkResult()
        n = len(items)
        ckeys = np.fromiter((t[4] for t in items), dtype=np.int64, count=n)
        with_ext = [i for i in range(n) if items[i][2] is not None]
        ekeys = np.fromiter((items[i][9] for i in with_ext), dtype=np.int64, count=len(with_ext))
        by_hash = self._by_content(
            {items[i][3]: items[i][4] for i in np.flatnonzero(self.known.may_contain(ckeys)).tolist()}
        )
        by_ext = self._by_external_id(
            {items[with_ext[j]][2]: ekeys[j] for j in np.flatnonzero(self.known_ext.may_contain(ekeys)).tolist()}
        )

        # which item each record is: a stored one (Stored), or the k-th new one (int k)
        seen_ext: dict[str, Stored | int] = {}
        seen_hash: dict[str, Stored | int] = {}
        ext_of: dict[Stored | int, str | None] = {}  # an item's external id, once it has one here
        target: list[Stored | int] = []
        new: list[int] = []
        matched: list[tuple[int, str]] = []
        for i, t in enumerate(items):
            ext, h = t[2], t[3]
            hit: Stored | int | None = None
            how = "id"
            if ext is not None:
                hit = seen_ext.get(ext)
                if hit is None and by_ext:
                    hit = by_ext.get(ext)
            if hit is None:
                how = "content"
                same = seen_hash.get(h)
                if same is None and by_hash:
                    same = by_hash.get(h)
                if same is not None:
                    if ext is None:
                        hit = same
                    else:
                        has = (
                            ext_of[same]
                            if same in ext_of
                            else (same.external_id if isinstance(same, Stored) else items[new[same]][2])
                        )
                        if has is None:  # an item known by content only takes this row's id
                            hit = same
                            ext_of[same] = ext
                            seen_ext[ext] = same
                            if isinstance(same, Stored):
                                result.adopted.append((same.id, ext))
                        else:  # another id: another item, with the same content
                            line, batch = (
                                (same.line, same.batch)
                                if isinstance(same, Stored)
                                else (items[new[same]][1], self.batch_id)
                            )
                            result.same_content.append((t[1], has, line, batch))
            if hit is None:
                hit = len(new)
                new.append(i)
                seen_hash.setdefault(h, hit)
                if ext is not None:
                    seen_ext[ext] = hit
            else:
                matched.append((i, how))
            target.append(hit)
        if result.adopted:
            self.conn.execute(
                text("UPDATE items SET external_id = :e WHERE id = :i"), [{"e": e, "i": i} for i, e in result.adopted]
            )

        ids = self._reserve_ids("items", len(new))
        ts = self._timestamp(now)
        p, b = self.project_id, self.batch_id
        # a new item's external id: its first row's, or that of a later row that matched it by content
        item_ext = [ext_of.get(k, items[i][2]) for k, i in enumerate(new)]
        item_rows = [
            (ids[k], p, item_ext[k], items[i][3], items[i][4], items[i][6], b, items[i][1], items[i][5], ts)
            for k, i in enumerate(new)
        ]
        self._copy("items", ITEM_COLUMNS, item_rows)
        result.items_added = len(item_rows)
        self.known.add(ckeys[new], ids)
        named = [k for k in range(len(new)) if item_ext[k] is not None]
        self.known_ext.add(
            [external_key(cast(str, ext_of[k])) if k in ext_of else items[new[k]][9] for k in named]
            + [external_key(e) for _, e in result.adopted],
            [ids[k] for k in named] + [i for i, _ in result.adopted],
        )
        item_of = [x.id if isinstance(x, Stored) else ids[x] for x in target]
        result.item_of = item_of

        # a record whose id names an item with other content: its payload changed
        skip: set[int] = set()
        changed_at: dict[int, tuple[int, str]] = {}
        for i, how in matched:
            x = target[i]
            stored_hash = x.content_hash if isinstance(x, Stored) else items[new[x]][3]
            if how == "id" and stored_hash != items[i][3]:
                changed_at[i] = (item_of[i], items[new[x]][6] if isinstance(x, int) else "")
        if changed_at:
            old = self._payloads(sorted({item for item, text_ in changed_at.values() if not text_}))
            for i, (item, text_) in changed_at.items():
                result.changed.append((items[i][1], text_ or old.get(item, "{}"), items[i][6]))
                if self.reject:
                    skip.add(i)
                    result.rejected.append((items[i][1], "its id names an item with other content"))

        added = [0] * n
        self._write_annotations(items, anns, item_of, target, skip, added, result, ts)
        self._write_gold(items, item_of, target, skip, added, result, ts)
        for i, how in matched:
            x = target[i]
            line, batch = (x.line, x.batch) if isinstance(x, Stored) else (items[new[x]][1], b)
            result.matched.append((items[i][1], line, batch, how, i in changed_at, added[i]))
        return result

    def _write_annotations(
        self,
        items: Sequence[tuple[Any, ...]],
        anns: Sequence[tuple[Any, ...]],
        item_of: list[int],
        target: list[Stored | int],
        skip: set[int],
        added: list[int],
        result: ChunkResult,
        ts: Any,
    ) -> None:
        if not anns:
            return
        missing = {a[1] for a in anns} - set(self.users)
        if missing:
            self.users.update(ensure_users(self.conn, missing))
        stored = sorted({x.id for x in target if isinstance(x, Stored)})
        history = self._history(stored)
        rows: list[list[Any]] = []
        chained = False
        p, b, sv, users = self.project_id, self.batch_id, self.schema_version, self.users
        # an (item, annotator) met once in this chunk is a tuple (row, value, source, key): most
        # are never met again, and a history object each would cost more than the insert
        once: dict[tuple[int, int], tuple[int, str, str, str | None]] = {}
        for idx, annotator, value, label, lead, source, meta, key in anns:
            if idx in skip:
                continue
            pair = (item_of[idx], users[annotator])
            row_ref = -(len(rows) + 1)
            h = history.get(pair)
            if h is None:
                first = once.get(pair)
                if first is None:
                    once[pair] = (row_ref, value, source, key)
                    added[idx] += 1
                    rows.append(
                        [p, pair[0], pair[1], value, label, sv, lead, source, b, meta, ts, None, GROUND_TRUTH in meta]
                    )
                    continue
                h = history[pair] = History.of(first)
                del once[pair]
            if (key in h.keys) if key is not None else ((value, source) in h.given):
                continue  # given before: nothing new
            if h.value != value:
                if self.reject:
                    result.rejected.append(
                        (items[idx][1], f"{annotator} labelled this item {h.value} before; this row says {value}")
                    )
                    continue
                result.conflicts.append((items[idx][1], annotator, h.value, value))
            supersedes = h.current
            chained = chained or supersedes < 0
            h.current, h.value = row_ref, value
            h.given.add((value, source))
            if key is not None:
                h.keys.add(key)
            added[idx] += 1
            rows.append(
                [p, pair[0], pair[1], value, label, sv, lead, source, b, meta, ts, supersedes, GROUND_TRUTH in meta]
            )
        result.superseded += sum(1 for r in rows if r[11] is not None)
        if chained:  # a row supersedes one of this chunk: ids are needed before the insert
            ann_ids = self._reserve_ids("annotations", len(rows))
            for r, ann_id in zip(rows, ann_ids):
                if r[11] is not None and r[11] < 0:
                    r[11] = ann_ids[-r[11] - 1]
                r.append(ann_id)
            self._copy("annotations", (*ANNOTATION_COLUMNS, "id"), [tuple(r) for r in rows])
        else:
            self._copy("annotations", ANNOTATION_COLUMNS, [tuple(r) for r in rows])
        result.annotations_added = len(rows)

    def _write_gold(
        self,
        items: Sequence[tuple[Any, ...]],
        item_of: list[int],
        target: list[Stored | int],
        skip: set[int],
        added: list[int],
        result: ChunkResult,
        ts: Any,
    ) -> None:
        golden = [i for i in range(len(items)) if items[i][7] is not None and i not in skip]
        if not golden:
            return
        has = self._gold_of(sorted({item_of[i] for i in golden if isinstance(target[i], Stored)}))
        rows = []
        for i in golden:
            item, value = item_of[i], items[i][7]
            old = has.get(item)
            if old is None:
                has[item] = value
                added[i] += 1
                rows.append((item, self.project_id, value, items[i][8], "import", ts))
            elif old != value:
                result.conflicts.append((items[i][1], "gold", old, value))
        self._copy("gold", GOLD_COLUMNS, rows)
        result.gold_added = len(rows)
