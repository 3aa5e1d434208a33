"""Reading a file for an import: rows to chunks, here or in a reader process.

What the reader does needs neither the database nor the services that use it, so the reader
process (``python -m truthset.services._reader``) imports this module alone and starts in a
fraction of the time the whole import service takes to import.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from truthset.core.errors import ImportFailed, InvalidInput
from truthset.data import readers
from truthset.data.conll import iter_conll
from truthset.data.media import MediaPolicy
from truthset.data.records import ChunkBuilder, ColumnOptions

__all__ = ["ImportOptions", "SourceInfo", "messages", "produce"]


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


def _rows(
    path: Path, fmt: str, options: ImportOptions, dialect: dict[str, Any], max_field: int
) -> tuple[list[str] | None, Iterator[readers.Row]]:
    enc = options.encoding
    if fmt == "csv":
        header, rows, found = readers.iter_csv(
            path, encoding=enc, delimiter=options.delimiter, quoting=options.quoting, max_field=max_field
        )
        dialect.update(found)
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
class SourceInfo:
    """What reading the file decided, reported back by the producer when it is done."""

    dialect: dict[str, Any]
    columns: dict[str, str | None]
    ls_names: tuple[str | None, str | None, str | None] | None


def produce(
    path: Path,
    fmt: str,
    options: ImportOptions,
    task: str,
    text_field: str,
    chunk_rows: int,
    max_field: int = readers.MAX_FIELD_CHARS,
    span_overlap: str = "forbid",
    media: MediaPolicy | None = None,
) -> Iterator[tuple[str, Any]]:
    """Read ``path``: yield ``("chunk", Chunk)`` messages, then ``("done", SourceInfo)``."""
    dialect: dict[str, Any] = {}
    header, rows = _rows(path, fmt, options, dialect, max_field)
    builder = ChunkBuilder(
        task=task,
        text_field=text_field,
        fmt=fmt,
        path=path,
        options=options,
        header=header,
        span_overlap=span_overlap,
        media=media,
    )
    for raw in readers.chunked(rows, chunk_rows):
        yield "chunk", builder.build(raw)
    ls = builder.ls
    yield (
        "done",
        SourceInfo(dialect, dict(builder.cols), None if ls is None else (ls.from_name, ls.to_name, ls.data_key)),
    )


def messages(args: tuple[Any, ...], *, parallel: bool) -> Iterator[tuple[str, Any]]:
    """Messages of :func:`produce`, computed here or in a reader process.

    In a separate process (``python -m truthset.services._reader``) the reading, parsing and
    hashing overlap the database writes on the machine's other core. A thread would not
    help: it shares the GIL with the writer, and every SQLite step that releases the GIL then
    waits out the thread's switch interval (measured: slower than no thread at all). The
    pipe holds at most a few chunks (the reader blocks when it is full), so memory stays
    bounded; if this process dies, the reader's next write fails and it exits too.
    """
    if not parallel:
        yield from produce(*args)
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "truthset.services._reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None  # both were asked for
    try:
        pickle.dump(args, proc.stdin)
        proc.stdin.close()
        while True:
            head = proc.stdout.read(8)
            if len(head) < 8:
                proc.wait(timeout=10)
                raise ImportFailed(
                    f"the file reader stopped unexpectedly (exit code {proc.returncode}); nothing was imported"
                )
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
