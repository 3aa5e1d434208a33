"""Set-based bulk import through a staging table.

An import writes each chunk of parsed rows into a temporary staging table with the
driver's fastest path (``executemany`` on SQLite, ``COPY`` on PostgreSQL), then moves them
into ``items``, ``users``, ``annotations`` and ``gold`` with a few ``INSERT ... SELECT``
statements. Deduplication (by content hash, and of identical annotations) happens in those
statements against the unique index, so memory stays bounded by the chunk size whatever
the file size, and the whole import stays one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, text

STAGE = "truthset_stage"
#: staging columns, in the order of the tuples handed to :meth:`Stager.load`
COLUMNS: tuple[str, ...] = (
    "src_row", "line", "is_first", "dup", "external_id", "content_hash", "payload",
    "value", "label", "annotator", "lead_time", "source", "meta", "ground_truth",
)


@dataclass
class ChunkResult:
    items_added: int
    annotations_added: int
    gold_added: int
    existing: list[tuple[int, int, int | None, int | None]]  # (row, line, first line, batch)


def _ts(sql: str) -> Any:
    return text(sql).bindparams(bindparam("now", type_=DateTime(timezone=True)))


class Stager:
    """Moves chunks of staged rows into the store, inside the caller's transaction."""

    def __init__(self, conn: Connection, *, project_id: int, batch_id: int, schema_version: int) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.params = {"p": project_id, "b": batch_id, "v": schema_version}
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {STAGE} (src_row INTEGER, line INTEGER, is_first INTEGER, dup INTEGER, "
            "external_id TEXT, content_hash TEXT, payload TEXT, value TEXT, label TEXT, "
            "annotator TEXT, lead_time FLOAT, source TEXT, meta TEXT, ground_truth INTEGER)"
        )
        conn.exec_driver_sql(f"CREATE INDEX {STAGE}_hash ON {STAGE} (content_hash)")

    def close(self) -> None:
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")

    def load(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.exec_driver_sql(f"DELETE FROM {STAGE}")
        raw = self.conn.connection.dbapi_connection
        assert raw is not None  # a live connection always has its DBAPI connection
        if self.dialect == "postgresql":
            with raw.cursor() as cur:
                with cur.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
        else:
            marks = ", ".join("?" for _ in COLUMNS)
            cur = raw.cursor()
            cur.executemany(f"INSERT INTO {STAGE} ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
            cur.close()

    def existing(self) -> list[tuple[int, int, int | None, int | None]]:
        """Staged rows whose content is already an item: (row, line, item line, item batch)."""
        res = self.conn.execute(
            text(
                f"SELECT DISTINCT s.src_row, s.line, i.line, i.batch_id FROM {STAGE} s "
                "JOIN items i ON i.project_id = :p AND i.content_hash = s.content_hash ORDER BY s.src_row"
            ),
            self.params,
        )
        return [tuple(r) for r in res]  # type: ignore[misc]

    def mark_existing_dup(self) -> None:
        self.conn.execute(
            text(
                f"UPDATE {STAGE} SET dup = 1 WHERE content_hash IN "
                "(SELECT content_hash FROM items WHERE project_id = :p)"
            ),
            self.params,
        )

    def move(self, now: datetime) -> ChunkResult:
        """Insert new items, annotators, annotations and gold from the staged chunk."""
        p = {**self.params, "now": now}
        existing = self.existing()
        items = self.conn.execute(
            _ts(
                "INSERT INTO items (project_id, external_id, content_hash, payload, batch_id, line, created_at) "
                f"SELECT :p, s.external_id, s.content_hash, s.payload, :b, s.line, :now FROM {STAGE} s "
                "WHERE s.is_first = 1 AND s.dup = 0 AND NOT EXISTS (SELECT 1 FROM items i "
                "WHERE i.project_id = :p AND i.content_hash = s.content_hash) ORDER BY s.src_row"
            ),
            p,
        ).rowcount
        self.conn.execute(
            _ts(
                "INSERT INTO users (name, role, created_at) "
                f"SELECT DISTINCT s.annotator, 'annotator', :now FROM {STAGE} s "
                "WHERE s.annotator IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = s.annotator)"
            ),
            p,
        )
        annotations = self.conn.execute(
            _ts(
                "INSERT INTO annotations (project_id, item_id, user_id, value, label, schema_version, "
                "lead_time, source, batch_id, meta, created_at) "
                f"SELECT :p, i.id, u.id, s.value, s.label, :v, s.lead_time, s.source, :b, s.meta, :now "
                f"FROM {STAGE} s JOIN items i ON i.project_id = :p AND i.content_hash = s.content_hash "
                "JOIN users u ON u.name = s.annotator "
                "WHERE s.value IS NOT NULL AND s.dup = 0 AND NOT EXISTS (SELECT 1 FROM annotations a "
                "WHERE a.item_id = i.id AND a.user_id = u.id AND a.value = s.value AND a.source = s.source) "
                "ORDER BY s.src_row"
            ),
            p,
        ).rowcount
        gold = self.conn.execute(
            _ts(
                "INSERT INTO gold (item_id, project_id, value, label, source, created_at) "
                f"SELECT i.id, :p, MIN(s.value), MIN(s.label), 'import', :now FROM {STAGE} s "
                "JOIN items i ON i.project_id = :p AND i.content_hash = s.content_hash "
                "WHERE s.ground_truth = 1 AND s.dup = 0 AND s.value IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM gold g WHERE g.item_id = i.id) GROUP BY i.id"
            ),
            p,
        ).rowcount
        return ChunkResult(items, annotations, gold, existing)

    def conflicts(self) -> int:
        """Items where one annotator holds different current values after this batch."""
        return int(
            self.conn.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT a.item_id, a.user_id FROM annotations a "
                    "WHERE a.project_id = :p AND a.source = 'import' AND a.item_id IN "
                    "(SELECT item_id FROM annotations WHERE batch_id = :b) "
                    "AND NOT EXISTS (SELECT 1 FROM annotations n WHERE n.supersedes_id = a.id) "
                    "GROUP BY a.item_id, a.user_id HAVING COUNT(DISTINCT a.value) > 1) c"
                ),
                self.params,
            ).scalar_one()
        )
