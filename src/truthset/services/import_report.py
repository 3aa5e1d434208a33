"""What an import did: the report's counts, and the findings a chunk's outcome gives rise to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from truthset.data.records import Chunk, describe_change
from truthset.store.identity import ChunkResult

__all__ = ["ImportReport"]


@dataclass
class ImportReport:
    """What an import did. Field names are the ``--json`` keys."""

    batch: int | None
    source: str
    format: str
    rows_read: int = 0
    items_added: int = 0
    annotations_added: int = 0
    gold_added: int = 0
    #: rows on an item met before (in this file or the project) that added a judgement
    new_judgements: int = 0
    #: rows that repeat an earlier row of this file and add nothing
    duplicates: int = 0
    #: rows whose item was in the project before and which add nothing
    already_present: int = 0
    #: rows whose external id names an item with other content
    changed_payloads: int = 0
    #: new items whose content equals that of an item with another external id
    same_content: int = 0
    #: items known by content only that took an external id from this file
    ids_assigned: int = 0
    rejected: int = 0
    #: rows where an annotator's label differs from the one they gave before (the later is current)
    conflicts: int = 0
    #: earlier annotations that a later one of the same annotator replaced as current
    superseded: int = 0
    cancelled_annotations: int = 0
    empty_annotations: int = 0
    mojibake_rows: int = 0
    control_char_rows: int = 0
    repaired_rows: int = 0
    overlapping_spans: int = 0
    labels_added_to_schema: list[str] = field(default_factory=list)
    labels_not_in_schema: list[str] = field(default_factory=list)
    columns: dict[str, str | None] = field(default_factory=dict)
    dialect: dict[str, Any] = field(default_factory=dict)
    #: Label Studio control names of this file (an export gives each item's back)
    labelstudio: dict[str, str | None] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    already_imported: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, chunk: Chunk) -> None:
        self.rows_read += chunk.rows_read
        self.rejected += chunk.rejected
        self.mojibake_rows += chunk.mojibake_rows
        self.control_char_rows += chunk.control_char_rows
        self.repaired_rows += chunk.repaired_rows
        self.overlapping_spans += chunk.overlapping_spans
        self.cancelled_annotations += chunk.cancelled
        self.empty_annotations += chunk.empty

    def stored(self, batch_id: int, res: ChunkResult, findings: list[dict[str, Any]]) -> None:
        """Count what the store did with a chunk, and add the findings it gives rise to."""
        self.items_added += res.items_added
        self.annotations_added += res.annotations_added
        self.gold_added += res.gold_added
        self.superseded += res.superseded
        for line, item_line, item_batch, how, changed, added in res.matched:
            if changed:
                continue
            if added:
                self.new_judgements += 1
                continue
            if item_batch == batch_id:
                self.duplicates += 1
                reason = f"nothing new: same {how} as line {item_line}"
            else:
                self.already_present += 1
                reason = (
                    f"nothing new: same {how} as an item already in the project (batch {item_batch}, line {item_line})"
                )
            findings.append({"kind": "duplicate", "line": line, "field": "", "reason": reason, "raw": ""})
        for line, old, new in res.changed:
            self.changed_payloads += 1
            findings.append(
                {
                    "kind": "changed",
                    "line": line,
                    "field": "",
                    "reason": "its id names an item with other content: " + describe_change(old, new),
                    "raw": new[:500],
                }
            )
        for line, annotator, old, new in res.conflicts:
            self.conflicts += 1
            findings.append(
                {
                    "kind": "conflict",
                    "line": line,
                    "field": annotator,
                    "reason": f"{annotator} gave {old} before, this row gives {new}"
                    + (
                        "; the stored gold is kept"
                        if annotator == "gold"
                        else "; the later is current, the earlier kept in history"
                    ),
                    "raw": "",
                }
            )
        self.ids_assigned += len(res.adopted)
        for line, other, item_line, item_batch in res.same_content:
            self.same_content += 1
            where = f"line {item_line}" if item_batch == batch_id else f"batch {item_batch}, line {item_line}"
            findings.append(
                {
                    "kind": "same_content",
                    "line": line,
                    "field": "",
                    "reason": f"same content as the item with id {other} ({where}); another id, so another item",
                    "raw": "",
                }
            )
        for line, reason in res.rejected:
            self.rejected += 1
            findings.append(
                {
                    "kind": "rejected",
                    "line": line,
                    "field": "",
                    "raw": "",
                    "reason": reason + " (--on-duplicate reject)",
                }
            )
