"""From one source row to an import record: column mapping, label parsing, file shapes.

Pure code (no database). A row becomes a :class:`Record`: the item's payload, its external
id, its gold value and its annotations; or the reason (and field) it cannot be imported.
Besides plain tables (one row per item or per judgement), the mapper knows truthset's own
export shapes, so that every export re-imports into an equal project: the JSONL export (one
item per line, every annotation in order), the long CSV/Parquet export (with its ``gold``
column), CoNLL blocks, and Label Studio tasks.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from truthset.core.errors import ImportFailed
from truthset.data.labelstudio import LabelStudioParser
from truthset.data.readers import Row
from truthset.data.rows import parse_lead_time

TEXT_COLUMNS = ("text", "sms", "message", "sentence", "content", "body", "review", "comment", "document")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target", "answer", "y")
ID_COLUMNS = ("id", "item_id", "uid", "doc_id")
ANNOTATOR_COLUMNS = ("annotator", "worker", "rater", "annotator_id", "worker_id", "user")
#: the columns of truthset's long export (services.exports); recognised on re-import
EXPORT_COLUMNS = frozenset(
    {"item_id", "external_id", "annotator", "label", "source", "lead_time", "schema_version", "gold"}
)
#: the keys of a line of truthset's JSONL export
JSONL_EXPORT_KEYS = frozenset({"item_id", "external_id", "data", "annotations", "gold"})
#: annotation sources an export may carry back in (anything else becomes "import")
SOURCES = frozenset({"human", "model", "import", "review", "migration"})
#: sources whose annotations are an annotator's judgement: given in the app, imported, or
#: carried into a new schema version by a migration (``truthset schema rename|merge``: the
#: same judgement under the label's new name). Not a model's pre-label, not a review verdict.
JUDGEMENT_SOURCES: tuple[str, ...] = ("human", "import", "migration")
#: the judgements that are acts of annotating, made when and under the schema version they
#: record: not the copies a schema migration makes all at once under the new version (they would
#: look like a very fast annotator, and like labels made under a version they were not)
ANNOTATING_SOURCES: tuple[str, ...] = ("human", "import")


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
    fix_text: bool = False


class Ann(NamedTuple):
    """One annotation of a record. ``key``: its id in the source (Label Studio), if any."""

    annotator: str
    value: Any
    lead_time: float | None = None
    source: str = "import"
    meta: dict[str, Any] = {}  # noqa: RUF012 - never mutated
    ground_truth: bool = False
    key: str | None = None


_new_ann = tuple.__new__
_NO_META: dict[str, Any] = {}


@dataclass(slots=True)
class Record:
    line: int
    payload: dict[str, Any]
    external_id: str | None = None
    annotations: list[Ann] = field(default_factory=list)
    gold: Any = None


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


Mapped = tuple[Record | None, str, str]


class RowMapper:
    """Maps the rows of one file to records, for one project's task."""

    def __init__(
        self, *, task: str, text_field: str, fmt: str, path: Path, options: ColumnOptions, header: Sequence[str] | None
    ) -> None:
        self.task = task
        self.text_field = text_field
        self.fmt = fmt
        self.path = path
        self.options = options
        self.ls = LabelStudioParser(task, from_name=options.from_name) if fmt == "labelstudio" else None
        self.cols: dict[str, str | None] = {}
        self.used: set[str] = set()
        self.export_shape = False
        self.cancelled = 0
        self.empty = 0
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
            "gold": None,
            "source": None,
        }
        if self.task != "tabular-classification" and self.cols["text"] is None:
            raise ImportFailed(f"{p}: no text column found among {list(header)}; name it with --text-col")
        ignored: set[str] = set()
        if set(header) >= EXPORT_COLUMNS:
            # truthset's own long CSV/Parquet export: its bookkeeping columns are not content
            self.export_shape = True
            ignored = set(EXPORT_COLUMNS)
            self.cols["gold"], self.cols["source"] = "gold", "source"
            if o.id_col is None:
                self.cols["id"] = "external_id"
        self.used = {v for v in self.cols.values() if v} | ignored

    # -- labels ----------------------------------------------------------------------------
    def label_value(self, raw: Any, text: str | None) -> tuple[Any, str]:
        """Parse a label cell: (value or None, error message or '')."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, ""
        if self.task == "multi-label":
            if isinstance(raw, str) and raw.startswith("[") and self.export_shape:
                with contextlib.suppress(json.JSONDecodeError):
                    raw = json.loads(raw)
            vals = (
                [str(v).strip() for v in raw]
                if isinstance(raw, list)
                else [v.strip() for v in str(raw).split(self.options.label_sep)]
            )
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
            except (json.JSONDecodeError, RecursionError):
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
            span = {"start": start, "end": end, "label": lab}
            if isinstance(s, Mapping) and "text" in s:
                span["text"] = s["text"]
            out.append(span)
        out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
        return out, ""

    # -- rows -> records --------------------------------------------------------------------
    def record(self, row: Row) -> Mapped:
        """Map one row; returns (record, error, field)."""
        if self.ls is not None:
            return self._ls_record(row)
        f = row.fields
        if self.fmt == "images":
            rec = Record(row.line, {"image": f["image"], "_sha256": f["sha256"]})
            if "label" in f:
                rec.annotations.append(Ann(self.options.annotator, f["label"]))
            return rec, "", ""
        if self.fmt == "conll":
            return self._conll_record(row)
        if not self.cols:
            if self.fmt == "jsonl" and set(f) >= JSONL_EXPORT_KEYS:
                return self._jsonl_export_record(row)
            self.bind(list(f.keys()))
        c = self.cols
        text = None
        if c["text"] is not None:
            raw_text = f.get(c["text"])
            if raw_text is None or (isinstance(raw_text, str) and not raw_text.strip()):
                return None, f"empty {c['text']!r}: every item needs text", c["text"]
            text = str(raw_text)
        used = self.used
        if self.export_shape:
            # truthset's long export: an empty cell is a field the item does not have
            payload = {k: v for k, v in f.items() if k not in used and v not in ("", None)}
        else:
            payload = {k: v for k, v in f.items() if k not in used}
        if text is not None:
            payload[self.text_field] = text
        ext = f.get(c["id"]) if c["id"] else None
        if ext is not None and str(ext).strip() == "":
            ext = None
        if ext is None and self.options.id_col is not None:
            return None, f"empty id in column {c['id']!r}", c["id"] or ""
        rec = Record(row.line, payload, None if ext is None else str(ext))
        if c["gold"] is not None:
            rec.gold, err = self.label_value(f.get(c["gold"]), text)
            if err:
                return None, f"gold: {err}", c["gold"]
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
        if c["lead_time"] is not None:
            lead, err = parse_lead_time(f.get(c["lead_time"]))
            if err:
                return None, err, c["lead_time"]
        source = "import"
        if c["source"] is not None and f.get(c["source"]) in SOURCES:
            source = str(f[c["source"]])
        # tuple.__new__: the NamedTuple's own constructor is Python code, run once per row
        rec.annotations.append(_new_ann(Ann, (annotator, value, lead, source, _NO_META, False, None)))
        return rec, "", ""

    def _jsonl_export_record(self, row: Row) -> Mapped:
        """A line of truthset's JSONL export: ``data``, ``annotations`` (oldest first), ``gold``."""
        f = row.fields
        data = f.get("data")
        if not isinstance(data, dict):
            return None, "'data' must be an object of the item's fields", "data"
        text = data.get(self.text_field)
        if self.task != "tabular-classification" and (not isinstance(text, str) or not text.strip()):
            return None, f"'data' has no {self.text_field!r} text", "data"
        ext = f.get("external_id")
        rec = Record(row.line, dict(data), None if ext in (None, "") else str(ext))
        for i, a in enumerate(f.get("annotations") or []):
            where = f"annotations[{i}]"
            if not isinstance(a, dict) or not str(a.get("annotator") or "").strip():
                return None, "each annotation needs an 'annotator'", where
            value, err = self.label_value(a.get("value"), text if isinstance(text, str) else None)
            if err or value is None:
                return None, err or "the annotation has no value", where
            lead, err = parse_lead_time(a.get("lead_time"))
            if err:
                return None, err, where + ".lead_time"
            raw_meta = a.get("meta")
            meta: dict[str, Any] = dict(raw_meta) if isinstance(raw_meta, dict) else {}
            gt = bool(a.get("ground_truth"))
            if gt:
                meta = {**meta, "ground_truth": True}
            source = a.get("source") if a.get("source") in SOURCES else "import"
            key = None if meta.get("ls_id") is None else f"{source}:{meta['ls_id']}"
            rec.annotations.append(Ann(str(a["annotator"]).strip(), value, lead, str(source), meta, gt, key))
        if f.get("gold") is not None:
            rec.gold, err = self.label_value(f["gold"], text if isinstance(text, str) else None)
            if err:
                return None, f"gold: {err}", "gold"
        return rec, "", ""

    def _conll_record(self, row: Row) -> Mapped:
        """One CoNLL block (see :mod:`truthset.data.conll`): an annotation, gold, or a bare item."""
        f = row.fields
        payload = dict(f.get("payload") or {})
        payload[self.text_field] = f["text"]
        rec = Record(row.line, payload, f.get("external_id"))
        spans = f.get("spans")
        if spans is not None:
            value, err = self._spans(spans, f["text"])
            if err:
                return None, err, "tags"
            if f.get("gold"):
                rec.gold = value
            else:
                rec.annotations.append(Ann(f.get("annotator") or self.options.annotator, value))
        return rec, "", ""

    def _ls_record(self, row: Row) -> Mapped:
        ls = self.ls
        assert ls is not None  # only called for Label Studio files
        task = ls.parse(row.fields, line=row.line)
        self.cancelled += task.cancelled
        self.empty += task.empty
        if task.error is not None:
            return None, task.error[1], task.error[0]
        if not task.data:
            return None, "task has no data", "data"
        text = self._ls_text(task.data)
        if isinstance(text, tuple):
            return None, text[0], "data"
        rec = Record(row.line, dict(task.data), task.external_id)
        for a in task.annotations:
            if self.task == "ner" and isinstance(text, str):
                bad = [s for s in a.value if not (0 <= s["start"] < s["end"] <= len(text))]
                if bad:
                    return (
                        None,
                        f"annotation by {a.annotator}: span {bad[0]['start']}-{bad[0]['end']} lies outside the text",
                        "result",
                    )
            meta = {**a.meta, "ground_truth": True} if a.ground_truth else a.meta
            key = None if meta.get("ls_id") is None else f"{a.source}:{meta['ls_id']}"
            rec.annotations.append(Ann(a.annotator, a.value, a.lead_time, a.source, meta, a.ground_truth, key))
            if a.ground_truth and rec.gold is None:
                rec.gold = a.value
        if task.gold is not None and rec.gold is None:
            rec.gold, err = self.label_value(task.gold, text if isinstance(text, str) else None)
            if err:
                return None, f"gold: {err}", "meta"
        return rec, "", ""

    def _ls_text(self, data: dict[str, Any]) -> str | None | tuple[str]:
        """The task's text (None for tasks without one), or (why it is missing,)."""
        ls = self.ls
        assert ls is not None
        if ls.data_key is None:
            wanted = (self.options.text_col,) if self.options.text_col else (self.text_field, "text", "image")
            ls.data_key = next((k for k in wanted if k in data), None)
            if ls.data_key is None and self.task in ("text-classification", "multi-label", "ner"):
                strings = [k for k, v in data.items() if isinstance(v, str)]
                if len(strings) == 1 and not self.options.text_col:
                    ls.data_key = strings[0]
        if ls.data_key is None or ls.data_key not in data:
            if self.task in ("tabular-classification", "image-classification") and ls.data_key is None:
                return None
            key = ls.data_key or (self.options.text_col or self.text_field)
            return (
                f"the task's data has no {key!r} (its keys: {sorted(data)}); every item of a "
                f"{self.task} project needs its text there, or name the key with --text-col",
            )
        value = data[ls.data_key]
        if self.task in ("text-classification", "multi-label", "ner") and (
            not isinstance(value, str) or not value.strip()
        ):
            return (f"the task's {ls.data_key!r} is empty or not text; every item needs text",)
        return value if isinstance(value, str) else None
