"""Import a file into a project: stream, validate, identify, store — atomically.

The whole import is one database transaction: an interrupted or failed import leaves
nothing behind, and a file that holds no rows is an error. An external id identifies an
item, so importing the same ids again (with the same options or others) adds no items:
their new annotations are added, a changed payload is reported and handled per
``--on-duplicate``. Every row that is not imported as-is is accounted for in the batch's
findings: rejected rows with line, field and reason; duplicated rows with the line of the
first copy; changed payloads; conflicting labels; mojibake and control characters;
overlapping spans. A row on an item already met that adds a judgement (another annotator's
label) is counted as such, not as a duplicate. Labels in the file become annotations with
source ``import``.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy import text as sql

from truthset.core.errors import ImportFailed, InvalidInput, NotFound
from truthset.core.schema import Label, duplicate_names
from truthset.data import readers
from truthset.data.conll import iter_conll
from truthset.data.media import MediaPolicy
from truthset.data.records import Chunk, ChunkBuilder, ColumnOptions
from truthset.services.import_report import ImportReport
from truthset.services.media import IMAGE_TASK, import_policy
from truthset.services.projects import Project, record_schema
from truthset.store import repo
from truthset.store.bulk import Stager
from truthset.store.media import record_media
from truthset.store.models import Batch, ImportFinding, utcnow

DUPLICATE_POLICIES = ("merge", "reject", "error")
FINDING_KINDS = ("rejected", "duplicate", "changed", "same_content", "conflict", "mojibake", "control", "overlap")
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
    sheet: str | None = None

    def key(self) -> str:
        """The options that change what an import produces (for idempotence)."""
        return json.dumps(asdict(self), sort_keys=True)


def _rows(path: Path, fmt: str, options: ImportOptions, report: ImportReport,
          max_field: int) -> tuple[list[str] | None, Iterator[readers.Row]]:
    enc = options.encoding
    if fmt == "csv":
        header, rows, dialect = readers.iter_csv(
            path, encoding=enc, delimiter=options.delimiter, quoting=options.quoting, max_field=max_field
        )
        report.dialect = dialect
        return header, rows
    if fmt == "xlsx":
        return readers.iter_xlsx(path, sheet=options.sheet, max_field=max_field)
    if fmt == "jsonl":
        return None, readers.iter_jsonl(path, encoding=enc, max_field=max_field)
    if fmt == "parquet":
        return None, readers.iter_parquet(path, max_field=max_field)
    if fmt == "images":
        if not path.is_dir():
            raise ImportFailed(f"{path}: --format images needs a folder of image files")
        return None, readers.iter_images(path, labels_from_folders=options.labels_from_folders)
    if fmt == "labelstudio":
        return None, readers.iter_json_array(path, encoding=enc, max_field=max_field)
    if fmt == "conll":
        return None, iter_conll(path, encoding=enc, max_field=max_field)
    raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(readers.FORMATS)}")


@dataclass
class _Source:
    """What reading the file decided, reported back by the producer when it is done."""

    dialect: dict[str, Any]
    columns: dict[str, str | None]
    ls_names: tuple[str | None, str | None, str | None] | None


def _produce(path: Path, fmt: str, options: ImportOptions, task: str, text_field: str,
             chunk_rows: int, max_field: int = readers.MAX_FIELD_CHARS,
             span_overlap: str = "forbid", media: MediaPolicy | None = None) -> Iterator[tuple[str, Any]]:
    """Read ``path``: yield ``("chunk", Chunk)`` messages, then ``("done", _Source)``."""
    stub = ImportReport(batch=None, source=str(path), format=fmt)
    header, rows = _rows(path, fmt, options, stub, max_field)
    builder = ChunkBuilder(task=task, text_field=text_field, fmt=fmt, path=path,
                           options=options, header=header, span_overlap=span_overlap, media=media)
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
    max_field = project.settings.import_max_field_chars
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    parallel = size >= project.settings.import_parallel_bytes and (os.cpu_count() or 1) > 1
    messages = _messages((path, fmt, options, project.task, project.config.text_field, chunk_rows, max_field,
                          project.config.schema.span_overlap, media), parallel=parallel)
    source: _Source | None = None
    schema_names = set(project.config.schema.names)
    seen_labels: dict[str, None] = {}
    shown: list[dict[str, Any]] = []
    first_problem: dict[str, Any] | None = None
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
                        expected_rows=0 if fmt == "images" else size // BYTES_PER_ROW,
                        policy=options.on_duplicate)
        for kind, payload in messages:
            if kind == "done":
                source = payload
                continue
            chunk: Chunk = payload
            report.add(chunk)
            for lab in sorted(chunk.labels):
                seen_labels.setdefault(lab, None)
            findings = chunk.findings
            moved = stager.move(chunk.items, chunk.anns, now)
            report.stored(batch_id, moved, findings)
            if chunk.media:
                record_media(conn, project.id, [(moved.item_of[i], row) for i, row in chunk.media], now)
            findings.sort(key=lambda f: f["line"])
            if first_problem is None:
                first_problem = next((f for f in findings if f["kind"] in ("duplicate", "changed", "conflict")), None)
            shown.extend(findings[: MAX_FINDINGS_SHOWN - len(shown)])
            _write_findings(conn, batch_id, findings)
            if progress is not None:
                progress(chunk.rows_read)
        if report.rows_read == 0:
            what = "no image files" if fmt == "images" else "no rows (a header only, or nothing at all)"
            raise ImportFailed(f"{path}: {what}; nothing was imported")
        if options.on_duplicate == "error" and first_problem is not None:
            raise ImportFailed(
                f"{path}: line {first_problem['line']}: {first_problem['kind']}: {first_problem['reason']}; "
                f"{report.duplicates + report.already_present} duplicate row(s), {report.changed_payloads} "
                f"changed payload(s), {report.conflicts} conflicting label(s) in all. Nothing was imported. "
                "Use --on-duplicate merge or reject."
            )
        stager.close()
        assert source is not None  # the producer always ends with "done"
        report.columns = source.columns
        report.dialect = source.dialect
        if source.ls_names is not None and source.ls_names[0]:
            report.labelstudio = dict(zip(("from_name", "to_name", "data_key"), source.ls_names))
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
    """Every finding recorded for a batch of this project, in line order.

    Raises :class:`NotFound` for a batch that is not one of the project's imports.
    """
    if kind is not None and kind not in FINDING_KINDS:
        raise InvalidInput(f"--kind {kind!r}: use one of {', '.join(FINDING_KINDS)}")
    q = select(ImportFinding).where(ImportFinding.batch_id == batch).order_by(ImportFinding.line, ImportFinding.id)
    if kind is not None:
        q = q.where(ImportFinding.kind == kind)
    with project.store.read() as conn:
        found = conn.execute(select(Batch.id).where(Batch.id == batch, Batch.project_id == project.id)).first()
        if found is None:
            ids = list(conn.execute(select(Batch.id).where(Batch.project_id == project.id).order_by(Batch.id)).scalars())
            listed = ", ".join(map(str, ids[-10:])) if ids else "none yet"
            raise NotFound(f"batch {batch} is not an import of this project (its batches: {listed}); "
                           "'truthset status' lists them")
        return [
            {"kind": f.kind, "line": f.line, "field": f.field, "reason": f.reason, "raw": f.raw}
            for f in conn.execute(q)
        ]
