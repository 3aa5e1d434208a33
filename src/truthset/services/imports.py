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

Reading, parsing and hashing (:mod:`.import_reading`) run in a reader process for a large
file, one chunk or so ahead of the database work on the machine's other core; the pipe holds
a few chunks at most, so memory stays bounded.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from truthset.core.errors import ImportFailed, InvalidInput, NotFound
from truthset.core.schema import Label, duplicate_names
from truthset.data import readers
from truthset.data.media import MediaPolicy
from truthset.data.records import Chunk
from truthset.services.import_reading import ImportOptions, SourceInfo
from truthset.services.import_reading import messages as _messages
from truthset.services.import_report import ImportReport
from truthset.services.media import IMAGE_TASK, import_policy
from truthset.services.projects import Project, record_schema
from truthset.store import repo
from truthset.store.bulk import Stager
from truthset.store.media import record_media
from truthset.store.models import utcnow
from truthset.store.repo import imports as repo_imports
from truthset.store.store import Transaction

__all__ = ["DUPLICATE_POLICIES", "FINDING_KINDS", "ImportOptions", "ImportReport", "import_file", "import_findings"]

DUPLICATE_POLICIES = ("merge", "reject", "error")
FINDING_KINDS = ("rejected", "duplicate", "changed", "same_content", "conflict", "mojibake", "control", "overlap")
MAX_FINDINGS_SHOWN = 20
#: a rough size of one row of a text file, to guess how many rows an import brings (the 1M-row
#: benchmark CSV: 112 bytes); the store decides from it whether to rebuild indexes afterwards
BYTES_PER_ROW = 100


def _check_request(project: Project, path: Path, options: ImportOptions) -> str:
    """The file's format, once the request is known to make sense (else a clear error)."""
    if options.on_duplicate not in DUPLICATE_POLICIES:
        raise InvalidInput(f"--on-duplicate {options.on_duplicate!r}: use one of {', '.join(DUPLICATE_POLICIES)}")
    if not path.exists():
        raise ImportFailed(f"{path}: no such file or folder")
    fmt = options.format or readers.detect_format(path)
    if fmt not in readers.FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(readers.FORMATS)}")
    if fmt == "images" and project.task != IMAGE_TASK:
        raise ImportFailed(
            f"{path}: a folder of images imports only into an {IMAGE_TASK} project; this one is {project.task}"
        )
    return fmt


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
    fmt = _check_request(project, path, options)
    media = media if media is not None else import_policy(project, path)
    started = time.perf_counter()
    report = ImportReport(batch=None, source=source_name or str(path), format=fmt)
    sha, key = readers.file_sha256(path), options.key()
    with project.store.read() as tx:
        earlier = repo.find_batch(tx, project.id, sha, key)
    if earlier is not None:
        report.batch, report.already_imported, report.rows_read = earlier.id, True, earlier.rows_read
        report.seconds = time.perf_counter() - started
        return report
    settings = project.settings
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    parallel = size >= settings.import_parallel_bytes and (os.cpu_count() or 1) > 1
    messages = _messages(
        (
            path,
            fmt,
            options,
            project.task,
            project.config.text_field,
            settings.import_chunk_rows,
            settings.import_max_field_chars,
            project.config.schema.span_overlap,
            media,
        ),
        parallel=parallel,
    )
    now = utcnow()
    with _cyclic_gc_paused(), project.store.write() as tx:
        report.batch = repo_imports.start_batch(
            tx, project_id=project.id, source=report.source, file_sha256=sha, fmt=fmt, options=key, now=now
        )
        # a project without labels takes those of its first import as a new schema version,
        # which its annotations then record; written with that number from the start, they
        # need no update afterwards (an UPDATE of 1M annotations: 0.6 s and 90 MB at its end)
        planned = project.schema_version if project.config.schema.names else repo.next_schema_version(tx, project.id)
        stager = Stager(
            tx,
            project_id=project.id,
            batch_id=report.batch,
            schema_version=planned,
            expected_rows=0 if fmt == "images" else size // BYTES_PER_ROW,
            policy=options.on_duplicate,
        )
        source, labels, first_problem = _store_chunks(tx, project, stager, messages, report, now, progress)
        _refuse_unwanted(path, fmt, options, report, first_problem)
        stager.close()
        report.columns, report.dialect = source.columns, source.dialect
        if source.ls_names is not None and source.ls_names[0]:
            report.labelstudio = dict(zip(("from_name", "to_name", "data_key"), source.ls_names))
        _labels_into_schema(tx, project, path, report, labels)
        if project.schema_version != planned:  # no labels were added after all (or only an empty span list)
            repo_imports.set_schema_version(tx, report.batch, project.schema_version)
        report.seconds = time.perf_counter() - started
        repo_imports.finish_batch(
            tx,
            report.batch,
            rows_read=report.rows_read,
            items_added=report.items_added,
            annotations_added=report.annotations_added,
            duplicates=report.duplicates + report.already_present,
            rejected=report.rejected,
            report=report.to_dict(),
        )
    _remember_labelstudio_mapping(project, source, changed=bool(report.labels_added_to_schema))
    project.store.analyze()
    from truthset.services.drift import after_import

    after_import(project, report.batch, report.items_added)  # a drifted batch raises a data issue
    return report


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import writes (then restore it).

    The import allocates millions of short-lived tuples and lists; they hold no reference
    cycles and reference counting frees them, but each allocation burst triggers the cyclic
    collector, which traverses every live container again: 1.9 of 20.6 s of the 1M-row
    benchmark. The setting is process-wide: two imports in two threads may switch it back
    on early, which costs only time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _store_chunks(
    tx: Transaction,
    project: Project,
    stager: Stager,
    messages: Iterator[tuple[str, Any]],
    report: ImportReport,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> tuple[SourceInfo, list[str], dict[str, Any] | None]:
    """Write every chunk the reader sends; returns what reading decided, the labels met (in order)
    and the first finding that ``--on-duplicate error`` refuses."""
    batch_id = int(report.batch or 0)
    source: SourceInfo | None = None
    seen_labels: dict[str, None] = {}
    shown: list[dict[str, Any]] = []
    first_problem: dict[str, Any] | None = None
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
            record_media(tx, project.id, [(moved.item_of[i], row) for i, row in chunk.media], now)
        findings.sort(key=lambda f: f["line"])
        if first_problem is None:
            first_problem = next((f for f in findings if f["kind"] in ("duplicate", "changed", "conflict")), None)
        shown.extend(findings[: MAX_FINDINGS_SHOWN - len(shown)])
        repo_imports.write_findings(tx, batch_id, findings)
        if progress is not None:
            progress(chunk.rows_read)
    assert source is not None  # the producer always ends with "done"
    report.findings = shown
    return source, list(seen_labels), first_problem


def _refuse_unwanted(
    path: Path, fmt: str, options: ImportOptions, report: ImportReport, first_problem: dict[str, Any] | None
) -> None:
    """Raise (so the transaction writes nothing) for a file with no rows, or a duplicate, changed
    payload or conflict under ``--on-duplicate error``."""
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


def _labels_into_schema(tx: Transaction, project: Project, path: Path, report: ImportReport, labels: list[str]) -> None:
    """Labels the file brought that the schema lacks: a project with no labels yet takes them
    (a new schema version, ``project.schema_version``, which the batch's annotations record);
    otherwise they are reported."""
    schema_names = set(project.config.schema.names)
    new_labels = [lab for lab in labels if lab not in schema_names]
    if not new_labels or schema_names:
        report.labels_not_in_schema = new_labels
        return
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
    record_schema(project, schema, {"op": "import-labels", "labels": new_labels, "batch": report.batch}, tx)
    report.labels_added_to_schema = new_labels
    project.config = project.config.model_copy(update={"schema_": schema})


def _remember_labelstudio_mapping(project: Project, source: SourceInfo, *, changed: bool) -> None:
    """Save the Label Studio control names met in the file, so an export gives them back."""
    if source.ls_names is not None and source.ls_names[0]:
        from_name, to_name, data_key = source.ls_names
        mapping = project.config.labelstudio.model_copy(
            update={
                "from_name": from_name,
                "to_name": to_name or project.config.labelstudio.to_name,
                "data_key": data_key or project.config.labelstudio.data_key,
            }
        )
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
    with project.store.read() as tx:
        ids = repo_imports.batch_ids(tx, project.id)
        if batch not in ids:
            listed = ", ".join(map(str, ids[-10:])) if ids else "none yet"
            raise NotFound(
                f"batch {batch} is not an import of this project (its batches: {listed}); 'truthset status' lists them"
            )
        return repo_imports.findings(tx, batch, kind)
