"""Import a file into a project: stream, validate, deduplicate, store — atomically.

The whole import is one database transaction: an interrupted or failed import leaves
nothing behind. Importing the same file (with the same options) twice adds nothing the
second time. Every row that is not imported as-is is accounted for in the batch's findings:
rejected rows with line and reason, duplicate copies with the line of the first copy.
Labels already in the file become annotations with source ``import``.

Reading and hashing (Python) run in a helper thread one chunk ahead of the database work,
which releases the GIL; at most two chunks are in flight, so memory stays bounded.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy import text as sql

from truthset.core.errors import ImportFailed, InvalidInput
from truthset.core.schema import Label, duplicate_names
from truthset.data import readers
from truthset.data.media import MediaPolicy
from truthset.data.records import Chunk, ChunkBuilder, ColumnOptions
from truthset.services.media import IMAGE_TASK, import_policy
from truthset.services.projects import Project, record_schema
from truthset.store import repo
from truthset.store.bulk import Stager
from truthset.store.media import record_media
from truthset.store.models import Batch, ImportFinding, utcnow

DUPLICATE_POLICIES = ("merge", "reject", "error")
MAX_FINDINGS_SHOWN = 20
#: a rough size of one row of a text file, to guess how many rows an import brings (the 1M-row
#: benchmark CSV: 112 bytes); the store decides from it whether to rebuild indexes afterwards
BYTES_PER_ROW = 100


@dataclass(frozen=True)
class ImportOptions(ColumnOptions):
    """How to read a file; every field maps to a ``truthset import`` option.

    The column choices (id, text, label, annotator, lead time, duplicate policy...) are those
    of :class:`truthset.data.records.ColumnOptions`; this adds how to read the file itself.
    """

    format: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    quoting: str = "auto"
    labels_from_folders: bool = False

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

    def add(self, chunk: Chunk) -> None:
        self.rows_read += chunk.rows_read
        self.rejected += chunk.rejected
        self.duplicates += chunk.duplicates
        self.mojibake_rows += chunk.mojibake_rows
        self.control_char_rows += chunk.control_char_rows
        self.cancelled_annotations += chunk.cancelled
        self.empty_annotations += chunk.empty


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


@dataclass
class _Source:
    """What reading the file decided, reported back by the producer when it is done."""

    dialect: dict[str, Any]
    columns: dict[str, str | None]
    ls_names: tuple[str | None, str | None, str | None] | None


def _produce(path: Path, fmt: str, options: ImportOptions, task: str, text_field: str,
             chunk_rows: int, media: MediaPolicy | None = None) -> Iterator[tuple[str, Any]]:
    """Read ``path``: yield ``("chunk", Chunk)`` messages, then ``("done", _Source)``."""
    stub = ImportReport(batch=None, source=str(path), format=fmt)
    header, rows = _rows(path, fmt, options, stub)
    builder = ChunkBuilder(task=task, text_field=text_field, fmt=fmt, path=path,
                           options=options, header=header, media=media)
    for raw in readers.chunked(rows, chunk_rows):
        yield "chunk", builder.build(raw)
    ls = builder.ls
    yield "done", _Source(stub.dialect, dict(builder.cols),
                          None if ls is None else (ls.from_name, ls.to_name, ls.data_key))


def _messages(args: tuple[Any, ...], *, parallel: bool) -> Iterator[tuple[str, Any]]:
    """Messages of :func:`_produce`, computed here or in a reader process.

    In a separate process (``python -m truthset.services._reader``) the reading, parsing and
    hashing overlap the database writes on the machine's other core. A thread would not
    help: it shares the GIL with the writer, and every SQLite step that releases the GIL then
    waits out the thread's switch interval (measured: slower than no thread at all). The
    pipe holds at most a few chunks (the reader blocks when it is full), so memory stays
    bounded; if this process dies, the reader's next write fails and it exits too.
    """
    if not parallel:
        yield from _produce(*args)
        return
    proc = subprocess.Popen([sys.executable, "-m", "truthset.services._reader"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None  # both were asked for
    try:
        pickle.dump(args, proc.stdin)
        proc.stdin.close()
        while True:
            head = proc.stdout.read(8)
            if len(head) < 8:
                proc.wait(timeout=10)
                raise ImportFailed(f"the file reader stopped unexpectedly (exit code {proc.returncode}); "
                                   "nothing was imported")
            kind, payload = pickle.loads(proc.stdout.read(int.from_bytes(head, "big")))
            if kind == "error":
                raise payload
            yield kind, payload
            if kind == "done":
                return
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def _write_findings(conn: Connection, batch_id: int, findings: list[dict[str, Any]]) -> None:
    for start in range(0, len(findings), 5000):
        conn.execute(insert(ImportFinding),
                     [{**f, "batch_id": batch_id} for f in findings[start : start + 5000]])


def import_file(
    project: Project,
    path: Path | str,
    options: ImportOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    media: MediaPolicy | None = None,
    source_name: str | None = None,
) -> ImportReport:
    """Import ``path`` into ``project`` in one transaction and return the report.

    Image projects: each row's image is checked and recorded (``services.media``); ``media``
    replaces the default policy (paths inside the imported folder or the file's folder).
    ``source_name``: what the batch records as its source (default: ``path``).
    """
    options = options or ImportOptions()
    path = Path(path)
    if options.on_duplicate not in DUPLICATE_POLICIES:
        raise InvalidInput(f"--on-duplicate {options.on_duplicate!r}: use one of {', '.join(DUPLICATE_POLICIES)}")
    if not path.exists():
        raise ImportFailed(f"{path}: no such file or folder")
    fmt = options.format or readers.detect_format(path)
    if fmt not in readers.FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(readers.FORMATS)}")
    if fmt == "images" and project.task != IMAGE_TASK:
        raise ImportFailed(f"{path}: a folder of images imports only into an {IMAGE_TASK} project; "
                           f"this one is {project.task}")
    if media is None:
        media = import_policy(project, path)
    source_name = source_name or str(path)
    started = time.perf_counter()
    report = ImportReport(batch=None, source=source_name, format=fmt)
    sha = readers.file_sha256(path)
    key = options.key()
    with project.store.read() as conn:
        earlier = repo.find_batch(conn, project.id, sha, key)
    if earlier is not None:
        report.batch = earlier.id
        report.already_imported = True
        report.rows_read = earlier.rows_read
        report.seconds = time.perf_counter() - started
        return report
    chunk_rows = project.settings.import_chunk_rows
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    parallel = size >= project.settings.import_parallel_bytes and (os.cpu_count() or 1) > 1
    messages = _messages((path, fmt, options, project.task, project.config.text_field, chunk_rows, media),
                         parallel=parallel)
    source: _Source | None = None
    schema_names = set(project.config.schema.names)
    seen_labels: dict[str, None] = {}
    shown: list[dict[str, Any]] = []
    first_duplicate: dict[str, Any] | None = None
    now = utcnow()
    with project.store.write() as conn:
        batch_id = int(conn.execute(
            insert(Batch).values(
                project_id=project.id, source=source_name, file_sha256=sha, format=fmt,
                options=key, status="importing", created_at=now,
            )
        ).inserted_primary_key[0])  # type: ignore[index]
        report.batch = batch_id
        stager = Stager(conn, project_id=project.id, batch_id=batch_id, schema_version=project.schema_version,
                        expected_rows=0 if fmt == "images" else size // BYTES_PER_ROW)
        for kind, payload in messages:
            if kind == "done":
                source = payload
                continue
            chunk: Chunk = payload
            report.add(chunk)
            for lab in sorted(chunk.labels):
                seen_labels.setdefault(lab, None)
            moved = stager.move(chunk.staged, now, reject_existing=options.on_duplicate == "reject")
            if chunk.media:
                record_media(conn, project.id, [(moved.item_ids[h], row) for h, row in chunk.media
                                                if h in moved.item_ids], now)
            findings = chunk.findings
            for _src_row, line, item_line, item_batch in moved.existing:
                if item_batch == batch_id:
                    report.duplicates += 1
                    reason = f"same content as line {item_line}"
                else:
                    report.already_present += 1
                    reason = f"already in the project (batch {item_batch}, line {item_line})"
                findings.append({"kind": "duplicate", "line": line, "field": "", "reason": reason, "raw": ""})
            findings.sort(key=lambda f: f["line"])
            if first_duplicate is None:
                first_duplicate = next((f for f in findings if f["kind"] == "duplicate"), None)
            shown.extend(findings[: MAX_FINDINGS_SHOWN - len(shown)])
            _write_findings(conn, batch_id, findings)
            report.items_added += moved.items_added
            report.annotations_added += moved.annotations_added
            report.gold_added += moved.gold_added
            if progress is not None:
                progress(chunk.rows_read)
        if options.on_duplicate == "error" and first_duplicate is not None:
            raise ImportFailed(
                f"{path}: line {first_duplicate['line']}: {first_duplicate['reason']}; "
                f"{report.duplicates + report.already_present} duplicate row(s) in all. Nothing was imported. "
                "Use --on-duplicate merge or reject."
            )
        conflicts = _conflict_findings(stager.conflicts())
        report.conflicts = len(conflicts)
        _write_findings(conn, batch_id, conflicts)
        shown.extend(conflicts[: MAX_FINDINGS_SHOWN - len(shown)])
        stager.close()
        assert source is not None  # the producer always ends with "done"
        report.columns = source.columns
        report.dialect = source.dialect
        new_labels = [lab for lab in seen_labels if lab not in schema_names]
        if new_labels and not schema_names:
            schema = project.config.schema.model_copy(deep=True)
            starter = type(schema).from_names(new_labels)
            for group in duplicate_names(starter):
                a, b = (starter.labels[i].name for i in group[:2])
                raise ImportFailed(
                    f"{path}: the labels {a!r} and {b!r} are one name written two ways (names are "
                    "compared ignoring case, Unicode form and spacing), so they cannot both become "
                    f"labels of the schema. Nothing was imported. Fix the file, or declare the one to "
                    f"keep in truthset.yaml (schema.labels), import again and then run: "
                    f"truthset schema merge {b!r} --into {a!r}"
                )
            schema.labels.extend(Label(**lab.model_dump()) for lab in starter.labels)
            version = record_schema(project, schema, {"op": "import-labels", "labels": new_labels, "batch": batch_id}, conn)
            conn.execute(sql("UPDATE annotations SET schema_version = :v WHERE batch_id = :b"), {"v": version, "b": batch_id})
            report.labels_added_to_schema = new_labels
            project.config = project.config.model_copy(update={"schema_": schema})
        else:
            report.labels_not_in_schema = new_labels
        report.findings = shown
        report.seconds = time.perf_counter() - started
        conn.execute(
            update(Batch).where(Batch.id == batch_id).values(
                status="committed", rows_read=report.rows_read, items_added=report.items_added,
                annotations_added=report.annotations_added, duplicates=report.duplicates + report.already_present,
                rejected=report.rejected, report=json.dumps(report.to_dict()),
            )
        )
    _remember_labelstudio_mapping(project, source, changed=bool(report.labels_added_to_schema))
    project.store.analyze()
    return report


def _conflict_findings(details: list[tuple[int, str | None, int | None, int | None, str, list[str]]]
                       ) -> list[dict[str, Any]]:
    """One ``conflict`` finding per item and annotator holding different labels after the import."""
    out = []
    for item_id, ext, line, batch, annotator, values in details:
        shown = ", ".join(str(json.loads(v)) for v in values)
        name = f"item {item_id}" + (f" (id {ext})" if ext is not None else "")
        out.append({"kind": "conflict", "line": line or 0, "field": "label",
                    "reason": f"{name}, first seen at line {line} of batch {batch}: {annotator!r} gave "
                              f"different labels: {shown}", "raw": ""})
    return out


def _remember_labelstudio_mapping(project: Project, source: _Source, *, changed: bool) -> None:
    """Save the Label Studio control names met in the file, so an export gives them back."""
    if source.ls_names is not None and source.ls_names[0]:
        from_name, to_name, data_key = source.ls_names
        mapping = project.config.labelstudio.model_copy(update={
            "from_name": from_name,
            "to_name": to_name or project.config.labelstudio.to_name,
            "data_key": data_key or project.config.labelstudio.data_key,
        })
        if mapping != project.config.labelstudio:
            project.config = project.config.model_copy(update={"labelstudio": mapping})
            changed = True
    if changed:
        project.save_config(project.config)


def import_findings(project: Project, batch: int, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every finding (rejected row, duplicate) recorded for a batch, in line order."""
    q = select(ImportFinding).where(ImportFinding.batch_id == batch).order_by(ImportFinding.line, ImportFinding.id)
    if kind is not None:
        q = q.where(ImportFinding.kind == kind)
    with project.store.read() as conn:
        return [
            {"kind": f.kind, "line": f.line, "field": f.field, "reason": f.reason, "raw": f.raw}
            for f in conn.execute(q)
        ]
