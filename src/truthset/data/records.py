"""From source rows to import records: column mapping, label parsing, content hashing.

Pure code (no database): :class:`ChunkBuilder` turns a chunk of reader rows into the
tuples the store stages (see :mod:`truthset.store.bulk`), plus findings (rejected rows,
duplicate copies within the chunk) and counters. The content hash is the sha256 of the
item's canonical JSON payload (sorted keys, no spaces), so equal content gives equal
hashes whatever the column order of the source file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from truthset.core.errors import ImportFailed
from truthset.data.labelstudio import LabelStudioParser
from truthset.data.media import MediaPolicy, MediaProblem
from truthset.data.profile import count_control_rows, count_mojibake_rows
from truthset.data.readers import Row

TEXT_COLUMNS = ("text", "sms", "message", "sentence", "content", "body", "review", "comment", "document")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target", "answer", "y")
ID_COLUMNS = ("id", "item_id", "uid", "doc_id")
ANNOTATOR_COLUMNS = ("annotator", "worker", "rater", "annotator_id", "worker_id", "user")
#: the columns of truthset's long export (services.exports); recognised on re-import
EXPORT_COLUMNS = frozenset(
    {"item_id", "external_id", "annotator", "label", "source", "lead_time", "schema_version", "gold"}
)

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text (and hashes)."""
    return _ENCODER.encode(obj)


def content_hash(payload_json: str) -> str:
    return hashlib.sha256(payload_json.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ColumnOptions:
    """The user's column choices (``None``: detect from the header)."""

    id_col: str | None = None
    text_col: str | None = None
    label_col: str | None = None
    annotator_col: str | None = None
    lead_time_col: str | None = None
    label_sep: str = "|"
    annotator: str = "import"
    on_duplicate: str = "merge"
    from_name: str | None = None


def _pick(header: Sequence[str], given: str | None, candidates: Sequence[str], what: str, path: Path) -> str | None:
    if given is not None:
        if given not in header:
            raise ImportFailed(f"{path}: --{what}-col {given!r} is not a column; the columns are {list(header)}")
        return given
    lower = {h.lower(): h for h in header}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


#: one annotation of a record: (annotator, value, lead time, source, meta, ground truth)
Ann = tuple[str, Any, float | None, str, dict[str, Any], bool]


@dataclass
class Record:
    line: int
    payload: dict[str, Any]
    external_id: str | None = None
    annotations: list[Ann] = field(default_factory=list)


@dataclass
class Chunk:
    """A chunk ready to stage: rows for the store, findings, and what was counted."""

    staged: list[tuple[Any, ...]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    rejected: int = 0
    duplicates: int = 0
    mojibake_rows: int = 0
    control_char_rows: int = 0
    cancelled: int = 0
    empty: int = 0
    labels: set[str] = field(default_factory=set)
    #: image projects: (content hash, media row) of each record, for the store's media table
    media: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class ChunkBuilder:
    """Maps rows of one file to records and staged tuples, for one project's task."""

    def __init__(self, *, task: str, text_field: str, fmt: str, path: Path, options: ColumnOptions,
                 header: Sequence[str] | None, media: MediaPolicy | None = None) -> None:
        """``media``: for an image project, what its records' images may be (each is checked)."""
        self.task = task
        self.media = media
        self.text_field = text_field
        self.fmt = fmt
        self.path = path
        self.options = options
        self.ls = LabelStudioParser(task, from_name=options.from_name) if fmt == "labelstudio" else None
        self.cols: dict[str, str | None] = {}
        self.used: set[str] = set()
        self.src_row = 0
        self._value_json: dict[str, str] = {}
        if header is not None:
            self.bind(header)

    def bind(self, header: Sequence[str]) -> None:
        """Decide which column is the id, text, label, annotator and lead time."""
        o, p = self.options, self.path
        text_default: tuple[str, ...] = TEXT_COLUMNS if self.task != "tabular-classification" else ()
        if self.task == "image-classification":
            text_default = ("image", "image_path", "path", "file", "url", *TEXT_COLUMNS)
        self.cols = {
            "id": _pick(header, o.id_col, ID_COLUMNS, "id", p),
            "text": _pick(header, o.text_col, (self.text_field, *text_default), "text", p),
            "label": _pick(header, o.label_col, LABEL_COLUMNS, "label", p),
            "annotator": _pick(header, o.annotator_col, ANNOTATOR_COLUMNS, "annotator", p),
            "lead_time": _pick(header, o.lead_time_col, ("lead_time",), "lead-time", p),
        }
        if self.task != "tabular-classification" and self.cols["text"] is None:
            raise ImportFailed(f"{p}: no text column found among {list(header)}; name it with --text-col")
        ignored: set[str] = set()
        if set(header) >= EXPORT_COLUMNS:
            # truthset's own long CSV/Parquet export: its bookkeeping columns are not content
            ignored = set(EXPORT_COLUMNS - {"external_id", "annotator", "label", "lead_time"})
            if o.id_col is None:
                self.cols["id"] = "external_id"
        self.used = {v for v in self.cols.values() if v} | ignored

    # -- labels ----------------------------------------------------------------------------
    def label_value(self, raw: Any, text: str | None) -> tuple[Any, str]:
        """Parse a label cell: (value or None, error message or '')."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, ""
        if self.task == "multi-label":
            vals = [str(v).strip() for v in raw] if isinstance(raw, list) else [
                v.strip() for v in str(raw).split(self.options.label_sep)]
            return sorted({v for v in vals if v}), ""
        if self.task == "ner":
            return self._spans(raw, text)
        if isinstance(raw, (list, dict)):
            return None, f"expected one label, found {type(raw).__name__}"
        return str(raw).strip(), ""

    def _spans(self, raw: Any, text: str | None) -> tuple[Any, str]:
        spans = raw
        if isinstance(raw, str):
            try:
                spans = json.loads(raw)
            except json.JSONDecodeError:
                return None, "spans must be a JSON list of {start, end, label}"
        if not isinstance(spans, list):
            return None, "spans must be a list of {start, end, label}"
        out = []
        for s in spans:
            try:
                start, end, lab = int(s["start"]), int(s["end"]), str(s["label"])
            except (KeyError, TypeError, ValueError):
                return None, f"span {s!r:.80} needs integer start, end and a label"
            if text is not None and not (0 <= start < end <= len(text)):
                return None, f"span {start}-{end} lies outside the text (length {len(text)})"
            out.append({"start": start, "end": end, "label": lab})
        out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        return out, ""

    # -- rows -> records --------------------------------------------------------------------
    def record(self, row: Row, chunk: Chunk) -> tuple[Record | None, str, str]:
        """Map one row; returns (record, error, field)."""
        if self.ls is not None:
            return self._ls_record(row, chunk)
        f = row.fields
        if self.fmt == "images":
            rec = Record(row.line, {"image": f["image"], "_sha256": f["sha256"]})
            if "label" in f:
                rec.annotations.append((self.options.annotator, f["label"], None, "import", {}, False))
            return rec, "", ""
        if not self.cols:
            self.bind(list(f.keys()))
        c = self.cols
        text = None
        if c["text"] is not None:
            raw_text = f.get(c["text"])
            if raw_text is None or (isinstance(raw_text, str) and not raw_text.strip()):
                return None, f"empty {c['text']!r}: every item needs text", c["text"]
            text = str(raw_text)
        used = self.used
        payload = {k: v for k, v in f.items() if k not in used}
        if text is not None:
            payload[self.text_field] = text
        ext = f.get(c["id"]) if c["id"] else None
        if ext is not None and str(ext).strip() == "":
            ext = None
        if ext is None and self.options.id_col is not None:
            return None, f"empty id in column {c['id']!r}", c["id"] or ""
        rec = Record(row.line, payload, None if ext is None else str(ext))
        if c["label"] is None:
            return rec, "", ""
        value, err = self.label_value(f.get(c["label"]), text)
        if err:
            return None, err, c["label"]
        # an explicit empty span list is an NER annotation ("no entities"), as in Label Studio
        if value is None or (value == [] and self.task != "ner"):
            return rec, "", ""
        annotator = self.options.annotator
        if c["annotator"] is not None:
            a = f.get(c["annotator"])
            if a is None or str(a).strip() == "":
                return None, f"empty annotator in column {c['annotator']!r}", c["annotator"]
            annotator = str(a).strip()
        lead = None
        if c["lead_time"] is not None and f.get(c["lead_time"]) not in (None, ""):
            try:
                lead = float(f[c["lead_time"]])
            except (TypeError, ValueError):
                return None, f"lead time {f[c['lead_time']]!r} is not a number of seconds", c["lead_time"]
        rec.annotations.append((annotator, value, lead, "import", {}, False))
        return rec, "", ""

    def _ls_record(self, row: Row, chunk: Chunk) -> tuple[Record | None, str, str]:
        ls = self.ls
        assert ls is not None  # only called for Label Studio files
        task = ls.parse(row.fields)
        chunk.cancelled += task.cancelled
        chunk.empty += task.empty
        if not task.data:
            return None, "task has no data", "data"
        if ls.data_key is None:
            ls.data_key = next((k for k in (self.text_field, "text", "image") if k in task.data), None)
        text = task.data.get(ls.data_key) if ls.data_key else None
        rec = Record(row.line, dict(task.data), task.external_id)
        for a in task.annotations:
            if self.task == "ner" and isinstance(text, str):
                bad = [s for s in a.value if not (0 <= s["start"] < s["end"] <= len(text))]
                if bad:
                    return (None, f"annotation by {a.annotator}: span {bad[0]['start']}-{bad[0]['end']} "
                            "lies outside the text", "result")
            meta = {**a.meta, "ground_truth": True} if a.ground_truth else a.meta
            rec.annotations.append((a.annotator, a.value, a.lead_time, a.source, meta, a.ground_truth))
        return rec, "", ""

    def _value_text(self, value: Any) -> str:
        if isinstance(value, str):
            cached = self._value_json.get(value)
            if cached is None:
                cached = self._value_json[value] = canonical_json(value)
            return cached
        return canonical_json(value)

    def _image_field(self) -> str:
        """The payload key naming a record's image (image folders: ``image``)."""
        if self.fmt == "images":
            return "image"
        if self.ls is not None and self.ls.data_key:
            return self.ls.data_key
        return self.text_field

    # -- chunk ------------------------------------------------------------------------------
    def build(self, rows: Sequence[Row]) -> Chunk:
        """Map a chunk of rows to staged tuples (see ``store.bulk.COLUMNS``) and findings."""
        chunk = Chunk()
        reject_copies = self.options.on_duplicate == "reject"
        first_line: dict[str, int] = {}
        seen_ann: set[tuple[str, str, str, str]] = set()
        texts: list[str] = []
        staged = chunk.staged
        for row in rows:
            chunk.rows_read += 1
            if row.error is not None:
                chunk.rejected += 1
                chunk.findings.append({"kind": "rejected", "line": row.line, "field": row.error_field,
                                       "reason": row.error, "raw": row.raw})
                continue
            rec, err, fld = self.record(row, chunk)
            if rec is None:
                chunk.rejected += 1
                chunk.findings.append({"kind": "rejected", "line": row.line, "field": fld, "reason": err,
                                       "raw": canonical_json(row.fields)[:500]})
                continue
            payload_json = canonical_json(rec.payload)
            digest = content_hash(payload_json)
            if self.media is not None:
                # an image item is its image: the same bytes under two names are one item
                where = self._image_field()
                try:
                    info = self.media.check(rec.payload.get(where))
                except MediaProblem as exc:
                    chunk.rejected += 1
                    column = where if self.fmt in ("images", "labelstudio") else self.cols.get("text") or where
                    chunk.findings.append({"kind": "rejected", "line": row.line, "field": column,
                                           "reason": str(exc), "raw": str(rec.payload.get(where))[:500]})
                    continue
                digest = info.sha256 or digest
                chunk.media.append((digest, info.to_row()))
            text = rec.payload.get(self.text_field)
            if isinstance(text, str):
                texts.append(text)
            self.src_row += 1
            first = first_line.get(digest)
            dup = 0
            if first is None:
                first_line[digest] = rec.line
            else:
                chunk.duplicates += 1
                chunk.findings.append({"kind": "duplicate", "line": rec.line, "field": "",
                                       "reason": f"same content as line {first}", "raw": ""})
                dup = int(reject_copies)
            is_first = int(first is None)
            if not rec.annotations:
                staged.append((self.src_row, rec.line, is_first, dup, rec.external_id, digest, payload_json,
                               None, None, None, None, "import", "{}", 0))
            for annotator, value, lead, source, meta, gt in rec.annotations:
                value_json = self._value_text(value)
                key = (digest, annotator, value_json, source)
                if key in seen_ann:
                    continue
                seen_ann.add(key)
                if isinstance(value, str):
                    chunk.labels.add(value)
                    label: str | None = value
                else:
                    chunk.labels.update(v["label"] if isinstance(v, dict) else str(v) for v in value)
                    label = None
                staged.append((self.src_row, rec.line, is_first, dup, rec.external_id, digest, payload_json,
                               value_json, label, annotator, lead, source,
                               canonical_json(meta) if meta else "{}", int(gt)))
                is_first = 0
        chunk.mojibake_rows = count_mojibake_rows(texts)
        chunk.control_char_rows = count_control_rows(texts)
        return chunk
