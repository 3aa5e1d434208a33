"""Import a file into a project: stream, validate, deduplicate, store — atomically.

The whole import is one database transaction: an interrupted or failed import leaves
nothing behind. Importing the same file (with the same options) twice adds nothing the
second time. Every row that is not imported as-is is accounted for in the batch report:
rejected rows with line and reason, duplicate copies with the line of the first copy.
Labels already in the file become annotations with source ``import``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql

from truthset.core.errors import ImportFailed, InvalidInput
from truthset.core.schema import Label
from truthset.data import readers
from truthset.data.labelstudio import LabelStudioParser
from truthset.data.profile import has_control_chars, has_mojibake
from truthset.services.projects import Project, record_schema
from truthset.store import repo
from truthset.store.bulk import Stager
from truthset.store.models import Batch, ImportFinding, utcnow

DUPLICATE_POLICIES = ("merge", "reject", "error")
TEXT_COLUMNS = ("text", "sms", "message", "sentence", "content", "body", "review", "comment", "document")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target", "answer", "y")
ID_COLUMNS = ("id", "item_id", "uid", "doc_id")
ANNOTATOR_COLUMNS = ("annotator", "worker", "rater", "annotator_id", "worker_id", "user")
MAX_FINDINGS_SHOWN = 20
#: the columns of truthset's long export (see services.exports); recognised on re-import
EXPORT_COLUMNS = frozenset({"item_id", "external_id", "annotator", "label", "source", "lead_time", "schema_version", "gold"})


@dataclass
class ImportOptions:
    """How to read a file; every field maps to a ``truthset import`` option."""

    format: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    quoting: str = "auto"
    id_col: str | None = None
    text_col: str | None = None
    label_col: str | None = None
    annotator_col: str | None = None
    lead_time_col: str | None = None
    label_sep: str = "|"
    annotator: str = "import"
    on_duplicate: str = "merge"
    labels_from_folders: bool = False
    from_name: str | None = None

    def key(self) -> str:
        """The options that change what an import produces (for idempotence)."""
        return json.dumps(asdict(self), sort_keys=True)


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
    duplicates: int = 0
    already_present: int = 0
    rejected: int = 0
    conflicts: int = 0
    cancelled_annotations: int = 0
    empty_annotations: int = 0
    mojibake_rows: int = 0
    control_char_rows: int = 0
    labels_added_to_schema: list[str] = field(default_factory=list)
    labels_not_in_schema: list[str] = field(default_factory=list)
    columns: dict[str, str | None] = field(default_factory=dict)
    dialect: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    already_imported: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pick(header: list[str], given: str | None, candidates: tuple[str, ...], what: str, path: Path) -> str | None:
    if given is not None:
        if given not in header:
            raise ImportFailed(
                f"{path}: --{what}-col {given!r} is not a column; the columns are {header}"
            )
        return given
    lower = {h.lower(): h for h in header}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _Record:
    line: int
    payload: dict[str, Any]
    external_id: str | None = None
    annotations: list[tuple[str, Any, float | None, str, dict[str, Any], bool]] = field(default_factory=list)


class _Mapper:
    """Turns reader rows into records (payload + annotations) for one project and file."""

    def __init__(self, project: Project, options: ImportOptions, path: Path, fmt: str,
                 header: list[str] | None, report: ImportReport) -> None:
        self.task = project.task
        self.text_field = project.config.text_field
        self.options = options
        self.report = report
        self.path = path
        self.fmt = fmt
        self.ls = LabelStudioParser(project.task, from_name=options.from_name) if fmt == "labelstudio" else None
        self.cols: dict[str, str | None] = {}
        self.ignored: set[str] = set()
        if header is not None:
            self.bind(header)

    def bind(self, header: list[str]) -> None:
        o, p = self.options, self.path
        text_default = TEXT_COLUMNS if self.task != "tabular-classification" else ()
        if self.task == "image-classification":
            text_default = ("image", "image_path", "path", "file", "url", *TEXT_COLUMNS)
        self.cols = {
            "id": _pick(header, o.id_col, ID_COLUMNS, "id", p),
            "text": _pick(header, o.text_col, (self.text_field, *text_default), "text", p),
            "label": _pick(header, o.label_col, LABEL_COLUMNS, "label", p),
            "annotator": _pick(header, o.annotator_col, ANNOTATOR_COLUMNS, "annotator", p),
            "lead_time": _pick(header, o.lead_time_col, ("lead_time",), "lead-time", p),
        }
        if self.task not in ("tabular-classification",) and self.cols["text"] is None:
            raise ImportFailed(
                f"{p}: no text column found among {header}; name it with --text-col"
            )
        self.ignored: set[str] = set()
        if EXPORT_COLUMNS <= set(header):
            # truthset's own long CSV/Parquet export: its bookkeeping columns are not content
            self.ignored = EXPORT_COLUMNS - {"external_id", "annotator", "label", "lead_time"}
            if o.id_col is None:
                self.cols["id"] = "external_id"
        self.report.columns = dict(self.cols)

    def _label_value(self, raw: Any, text: str | None) -> tuple[Any, str]:
        """Parse a label cell; returns (value, error message or '')."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, ""
        if self.task == "multi-label":
            if isinstance(raw, list):
                vals = [str(v).strip() for v in raw]
            else:
                vals = [v.strip() for v in str(raw).split(self.options.label_sep)]
            return sorted({v for v in vals if v}), ""
        if self.task == "ner":
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
        if isinstance(raw, (list, dict)):
            return None, f"expected one label, found {type(raw).__name__}"
        return str(raw).strip(), ""

    def record(self, row: readers.Row) -> tuple[_Record | None, str, str]:
        """Map one row; returns (record, error, field)."""
        if self.ls is not None:
            return self._ls_record(row)
        f = row.fields
        if self.fmt == "images":
            payload = {"image": f["image"]}
            rec = _Record(row.line, payload)
            rec.payload["_sha256"] = f["sha256"]
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
        used = {v for v in c.values() if v} | self.ignored
        payload: dict[str, Any] = {k: v for k, v in f.items() if k not in used}
        if text is not None:
            payload[self.text_field] = text
        ext = f.get(c["id"]) if c["id"] else None
        if ext is not None and str(ext).strip() == "":
            ext = None
        if c["id"] and ext is None and self.options.id_col is not None:
            return None, f"empty id in column {c['id']!r}", c["id"]
        rec = _Record(row.line, payload, None if ext is None else str(ext))
        if c["label"] is not None:
            value, err = self._label_value(f.get(c["label"]), text)
            if err:
                return None, err, c["label"]
            # an explicit empty span list is an NER annotation ("no entities"), as in Label Studio
            if value is not None and (value != [] or self.task == "ner"):
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

    def _ls_record(self, row: readers.Row) -> tuple[_Record | None, str, str]:
        assert self.ls is not None
        task = self.ls.parse(row.fields)
        self.report.cancelled_annotations += task.cancelled
        self.report.empty_annotations += task.empty
        if not task.data:
            return None, "task has no data", "data"
        text = task.data.get(self.ls.data_key or self.text_field)
        if self.ls.data_key is None:
            self.ls.data_key = next((k for k in (self.text_field, "text", "image") if k in task.data), None)
            text = task.data.get(self.ls.data_key) if self.ls.data_key else None
        rec = _Record(row.line, dict(task.data), task.external_id)
        for a in task.annotations:
            if self.task == "ner" and isinstance(text, str):
                bad = [s for s in a.value if not (0 <= s["start"] < s["end"] <= len(text))]
                if bad:
                    return None, f"annotation by {a.annotator}: span {bad[0]['start']}-{bad[0]['end']} lies outside the text", "result"
            meta = {**a.meta, "ground_truth": True} if a.ground_truth else a.meta
            rec.annotations.append((a.annotator, a.value, a.lead_time, a.source, meta, a.ground_truth))
        return rec, "", ""


def _labels_of(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v["label"] if isinstance(v, dict) else str(v) for v in value]
    return [str(value)]


def _rows(path: Path, fmt: str, options: ImportOptions, report: ImportReport) -> tuple[list[str] | None, Iterator[readers.Row]]:
    if fmt == "csv":
        header, rows, dialect = readers.iter_csv(
            path, encoding=options.encoding, delimiter=options.delimiter, quoting=options.quoting
        )
        report.dialect = dialect
        return header, rows
    if fmt == "jsonl":
        return None, readers.iter_jsonl(path, encoding=options.encoding)
    if fmt == "parquet":
        return None, readers.iter_parquet(path)
    if fmt == "images":
        if not path.is_dir():
            raise ImportFailed(f"{path}: --format images needs a folder of image files")
        return None, readers.iter_images(path, labels_from_folders=options.labels_from_folders)
    if fmt == "labelstudio":
        return None, readers.iter_json_array(path, encoding=options.encoding)
    raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(readers.FORMATS)}")


def import_file(
    project: Project,
    path: Path | str,
    options: ImportOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path`` into ``project`` in one transaction and return the report."""
    options = options or ImportOptions()
    path = Path(path)
    if options.on_duplicate not in DUPLICATE_POLICIES:
        raise InvalidInput(f"--on-duplicate {options.on_duplicate!r}: use one of {', '.join(DUPLICATE_POLICIES)}")
    if not path.exists():
        raise ImportFailed(f"{path}: no such file or folder")
    fmt = options.format or readers.detect_format(path)
    if fmt not in readers.FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(readers.FORMATS)}")
    started = time.perf_counter()
    report = ImportReport(batch=None, source=str(path), format=fmt)
    sha = readers.file_sha256(path)
    key = options.key()
    with project.engine.connect() as conn:
        earlier = repo.find_batch(conn, project.id, sha, key)
    if earlier is not None:
        report.batch = earlier.id
        report.already_imported = True
        report.rows_read = earlier.rows_read
        report.seconds = time.perf_counter() - started
        return report
    chunk_rows = int(project.settings.get("import_chunk_rows") or 20000)
    header, rows = _rows(path, fmt, options, report)
    mapper = _Mapper(project, options, path, fmt, header, report)
    schema_names = set(project.config.schema.names)
    seen_labels: dict[str, None] = {}
    now = utcnow()
    with project.engine.begin() as conn:
        batch_id = int(conn.execute(
            Batch.__table__.insert().values(
                project_id=project.id, source=str(path), file_sha256=sha, format=fmt,
                options=key, status="importing", created_at=now,
            )
        ).inserted_primary_key[0])  # type: ignore[index]
        report.batch = batch_id
        stager = Stager(conn, project_id=project.id, batch_id=batch_id, schema_version=project.schema_version)
        findings: list[dict[str, Any]] = []
        src_row = 0

        def finding(kind: str, line: int, reason: str, field_: str = "", raw: str = "") -> None:
            findings.append({"batch_id": batch_id, "kind": kind, "line": line, "field": field_, "reason": reason, "raw": raw})

        for chunk in readers.chunked(rows, chunk_rows):
            staged: list[tuple[Any, ...]] = []
            first_line: dict[str, int] = {}
            seen_ann: set[tuple[str, str, str, str]] = set()
            for row in chunk:
                report.rows_read += 1
                if row.error is not None:
                    report.rejected += 1
                    finding("rejected", row.line, row.error, row.error_field, row.raw)
                    continue
                rec, err, fld = mapper.record(row)
                if rec is None:
                    report.rejected += 1
                    finding("rejected", row.line, err, fld, _canonical(row.fields)[:500])
                    continue
                text = rec.payload.get(project.config.text_field)
                if isinstance(text, str):
                    if has_mojibake(text):
                        report.mojibake_rows += 1
                    if has_control_chars(text):
                        report.control_char_rows += 1
                payload_json = _canonical(rec.payload)
                digest = hashlib.sha256(payload_json.encode("utf-8")).hexdigest()
                src_row += 1
                is_first = digest not in first_line
                dup = 0
                if is_first:
                    first_line[digest] = rec.line
                else:
                    report.duplicates += 1
                    finding("duplicate", rec.line, f"same content as line {first_line[digest]}")
                    if options.on_duplicate == "reject":
                        dup = 1
                base = (src_row, rec.line, int(is_first), dup, rec.external_id, digest, payload_json)
                if not rec.annotations:
                    staged.append((*base, None, None, None, None, "import", "{}", 0))
                for annotator, value, lead, source, meta, gt in rec.annotations:
                    value_json = _canonical(value)
                    k = (digest, annotator, value_json, source)
                    if k in seen_ann:
                        continue
                    seen_ann.add(k)
                    for lab in _labels_of(value):
                        seen_labels.setdefault(lab, None)
                    label = value if isinstance(value, str) else None
                    staged.append((*base, value_json, label, annotator, lead, source, _canonical(meta), int(gt)))
                    base = (src_row, rec.line, 0, dup, rec.external_id, digest, payload_json)
            stager.load(staged)
            if options.on_duplicate == "reject":
                stager.mark_existing_dup()
            moved = stager.move(now)
            for s_row, line, item_line, item_batch in moved.existing:
                if item_batch == batch_id:
                    report.duplicates += 1
                    finding("duplicate", line, f"same content as line {item_line}")
                else:
                    report.already_present += 1
                    finding("duplicate", line, f"already in the project (batch {item_batch}, line {item_line})")
            report.items_added += moved.items_added
            report.annotations_added += moved.annotations_added
            report.gold_added += moved.gold_added
            if progress is not None:
                progress(len(chunk))
        if options.on_duplicate == "error" and (report.duplicates or report.already_present):
            first = next(f for f in findings if f["kind"] == "duplicate")
            raise ImportFailed(
                f"{path}: line {first['line']}: {first['reason']}; {report.duplicates + report.already_present} "
                "duplicate row(s) in all. Nothing was imported. Use --on-duplicate merge or reject."
            )
        report.conflicts = stager.conflicts()
        stager.close()
        new_labels = [lab for lab in seen_labels if lab not in schema_names]
        if new_labels and not schema_names:
            schema = project.config.schema.model_copy(deep=True)
            start = len(schema.labels)
            base_schema = type(schema).from_names([*schema.names, *new_labels])
            schema.labels.extend(Label(**lab.model_dump()) for lab in base_schema.labels[start:])
            version = record_schema(project, schema, {"op": "import-labels", "labels": new_labels, "batch": batch_id}, conn)
            conn.execute(sql("UPDATE annotations SET schema_version = :v WHERE batch_id = :b"), {"v": version, "b": batch_id})
            report.labels_added_to_schema = new_labels
            project.config = project.config.model_copy(update={"schema_": schema})
        else:
            report.labels_not_in_schema = new_labels
        for start in range(0, len(findings), 5000):
            conn.execute(ImportFinding.__table__.insert(), findings[start : start + 5000])
        report.findings = [{k: v for k, v in f.items() if k != "batch_id"} for f in findings[:MAX_FINDINGS_SHOWN]]
        report.seconds = time.perf_counter() - started
        conn.execute(
            Batch.__table__.update().where(Batch.id == batch_id).values(
                status="committed", rows_read=report.rows_read, items_added=report.items_added,
                annotations_added=report.annotations_added, duplicates=report.duplicates + report.already_present,
                rejected=report.rejected, report=json.dumps(report.to_dict()),
            )
        )
    config_changed = bool(report.labels_added_to_schema)
    if mapper.ls is not None and mapper.ls.from_name:
        ls = project.config.labelstudio.model_copy(update={
            "from_name": mapper.ls.from_name,
            "to_name": mapper.ls.to_name or project.config.labelstudio.to_name,
            "data_key": mapper.ls.data_key or project.config.labelstudio.data_key,
        })
        if ls != project.config.labelstudio:
            project.config = project.config.model_copy(update={"labelstudio": ls})
            config_changed = True
    if config_changed:
        project.save_config(project.config)
    return report


def import_findings(project: Project, batch: int, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every finding (rejected row, duplicate) recorded for a batch, in line order."""
    q = select(ImportFinding).where(ImportFinding.batch_id == batch).order_by(ImportFinding.line)
    if kind is not None:
        q = q.where(ImportFinding.kind == kind)
    with project.engine.connect() as conn:
        return [
            {"kind": f.kind, "line": f.line, "field": f.field, "reason": f.reason, "raw": f.raw}
            for f in conn.execute(q)
        ]
