"""Streaming readers for CSV/TSV, JSONL, Parquet, image folders and JSON arrays.

Each reader yields ``Row`` objects one at a time (the import groups them into chunks), so
memory stays bounded whatever the file size. Every row carries the line number where it
starts in the file (1-based, counting the header), so a rejected row can be found by a
person. Problems that affect one row become a ``Row`` with ``error`` set; problems that
affect the whole file (bad encoding, unreadable file) raise :class:`ImportFailed`.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, cast

from truthset.core.errors import ImportFailed
from truthset.data.jsonfiles import iter_json_array, iter_jsonl
from truthset.data.rows import (
    LINE_FACTOR,
    MAX_FIELD_CHARS,
    NUL_REASON,
    Row,
    bad_value,
    chunked,
    too_long,
)
from truthset.data.textfile import OVERSIZE, TextLines, decoded_lines

Format = Literal["csv", "jsonl", "parquet", "images", "labelstudio", "xlsx", "conll"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "images", "labelstudio", "xlsx", "conll")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
_BLOCK = 1 << 20

__all__ = [
    "FORMATS",
    "LINE_FACTOR",
    "MAX_FIELD_CHARS",
    "Row",
    "bad_value",
    "chunked",
    "decoded_lines",
    "detect_format",
    "file_sha256",
    "iter_csv",
    "iter_images",
    "iter_json_array",
    "iter_jsonl",
    "iter_parquet",
    "iter_xlsx",
    "looks_like_image",
    "too_long",
]


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (a folder: of its sorted file names and contents)."""
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(_iter_image_paths(path)):
            h.update(str(p.relative_to(path)).encode())
            h.update(p.read_bytes())
        return h.hexdigest()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def detect_format(path: Path) -> str:
    """Guess the format from the path and its first bytes; ``--format`` overrides it."""
    if path.is_dir():
        return "images"
    if not path.exists():
        raise ImportFailed(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") and suffix not in {".csv", ".tsv", ".tab"}:
        return "xlsx"  # a zip file: an Excel workbook is the one truthset reads
    if suffix in {".conll", ".bio", ".iob"}:
        return "conll"
    if suffix in {".csv", ".tsv", ".tab"}:
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "labelstudio"
    if stripped.startswith(b"{") or suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "labelstudio"
    if stripped.startswith((b"# item_id = ", b"-DOCSTART-")):
        return "conll"
    return "csv"


def _iter_image_paths(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root) / name
            if p.suffix.lower() in IMAGE_EXTENSIONS:
                yield p


# --- CSV -------------------------------------------------------------------------------


def _split_none(line: str, delimiter: str) -> list[str]:
    return line.rstrip("\r\n").split(delimiter)


def sniff_dialect(lines: list[str], *, delimiter: str | None, quoting: str) -> tuple[str, int]:
    """Choose the delimiter and quoting of a delimited file from its first lines.

    The delimiter is the candidate (``,``, tab, ``;``, ``|``) that gives the same field count
    on the most lines. Quoting: standard CSV quoting, unless every sampled line splits cleanly
    on the delimiter and the quotes are not CSV quoting — text follows a closing quote
    (``"quoted" and more``, as in free-text SMS), or the file is tab-separated and no quoted
    field spans lines (in TSV, quoting is only needed around tabs and line breaks) — in which
    case quotes are text. A quoted field that spans lines means real CSV quoting.
    """
    if not lines:
        raise ImportFailed("the file is empty: there is no header line")
    header = lines[0]
    if delimiter is None:
        best, best_score = ",", -1.0
        for cand in (",", "\t", ";", "|"):
            n = header.count(cand)
            if n == 0:
                continue
            counts = [len(next(csv.reader([ln], delimiter=cand))) for ln in lines[:200]]
            score = sum(c == n + 1 for c in counts) / len(counts) + n * 1e-6
            if score > best_score:
                best, best_score = cand, score
        delimiter = best
    if quoting == "none":
        return delimiter, csv.QUOTE_NONE
    if quoting == "minimal":
        return delimiter, csv.QUOTE_MINIMAL
    return delimiter, _sniff_quoting(lines, delimiter)


def _sniff_quoting(lines: list[str], delimiter: str) -> int:
    width = len(_split_none(lines[0], delimiter))
    body = [ln for ln in lines[1:] if ln.strip()]
    none_ok = all(len(_split_none(ln, delimiter)) == width for ln in body)
    if not any(v.startswith('"') for ln in body for v in _split_none(ln, delimiter)):
        return csv.QUOTE_MINIMAL  # no field opens a quote: both readings agree
    try:
        rows = list(csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, strict=True))
        strict_ok = True
    except csv.Error as exc:
        # a sample cut inside a quoted field is not evidence against quoting
        strict_ok = "unexpected end of data" in str(exc)
        rows = list(csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, strict=False))
    min_ok = all(len(r) == width for r in rows[1:] if r and any(v.strip() for v in r))
    if none_ok and not min_ok:
        return csv.QUOTE_NONE
    if min_ok and not none_ok:
        return csv.QUOTE_MINIMAL
    if not none_ok:
        return csv.QUOTE_MINIMAL  # neither reads cleanly: standard CSV, bad rows get reported
    if not strict_ok:
        # text after a closing quote ('"quoted" and more'): quotes are text, not CSV quoting
        return csv.QUOTE_NONE
    if any("\n" in v for r in rows for v in r):
        return csv.QUOTE_MINIMAL  # a quoted field spans lines: real CSV quoting
    # In a tab-separated file quoting is only needed around tabs and line breaks; when every
    # line splits cleanly on tabs, quotes are text (quoted speech in messages).
    return csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL


def iter_csv(
    path: Path,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    quoting: str = "auto",
    sample_lines: int = 2000,
    max_field: int = MAX_FIELD_CHARS,
) -> tuple[list[str], Iterator[Row], dict[str, Any]]:
    """Open a delimited file: return its header, a row iterator and the dialect used.

    A value longer than ``max_field`` characters, or a line longer than ``LINE_FACTOR`` times
    that, makes a rejected row without being held in memory; so does a NUL character.
    """
    if delimiter is None and path.suffix.lower() == ".tsv":
        delimiter = "\t"
    max_line = max_field * LINE_FACTOR
    sample: list[str] = []
    size = 0
    for ln in TextLines(path, encoding, max_line=max_line):
        sample.append(ln)
        size += len(ln)
        if len(sample) >= sample_lines or size > 2 * max_line:
            break
    if sample and OVERSIZE in sample[0]:
        raise ImportFailed(
            f"{path}: line 1: the header is longer than {max_line:,} characters; is this a delimited text file?"
        )
    with _field_limit(size + 1):  # the sample is in memory already: no field of it is too long to sniff
        delim, quote_mode = sniff_dialect(sample, delimiter=delimiter, quoting=quoting)
    dialect = {"delimiter": delim, "quoting": "none" if quote_mode == csv.QUOTE_NONE else "minimal"}
    lines = TextLines(path, encoding, max_line=max_line)
    reader = csv.reader(iter(lines), delimiter=delim, quoting=cast("Literal[0, 1, 2, 3]", quote_mode), strict=False)
    try:
        with _field_limit(max_field):
            header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raise ImportFailed(f"{path}: the file is empty; expected a header line") from exc
    except csv.Error as exc:
        raise ImportFailed(f"{path}: line 1: cannot read the header: {exc}") from exc
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ImportFailed(f"{path}: line 1: duplicate column name(s) {dupes}; rename them")
    return header, _csv_rows(reader, lines, header, delim, dialect["quoting"], max_field), dialect


class _field_limit:  # noqa: N801 - used as a context manager, like a function
    """Set ``csv.field_size_limit`` for the duration of one read, then put it back.

    The limit is process-wide state of the ``csv`` module; truthset changes it only while its
    own reader runs (per row), never at import time, so other code in the process keeps its own.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.old = 0

    def __enter__(self) -> None:
        self.old = csv.field_size_limit(self.limit)

    def __exit__(self, *exc: object) -> None:
        csv.field_size_limit(self.old)


def _csv_rows(
    reader: Any, lines: TextLines, header: list[str], delim: str, quoting: str, max_field: int
) -> Iterator[Row]:
    width = len(header)
    for line, values in _csv_batches(reader, max_field):
        if isinstance(values, str):
            yield Row(line=line, error=values)
            continue
        if lines.flagged:
            if any(OVERSIZE in v for v in values):
                yield Row(line=line, error=too_long(max_field))
                continue
            nul = next((i for i, v in enumerate(values) if "\x00" in v), None)
            if nul is not None:
                name = header[nul] if nul < width else f"field {nul + 1}"
                yield Row(line=line, error=NUL_REASON, error_field=name)
                continue
        if len(values) == width:
            yield Row(line=line, fields=dict(zip(header, values)))
        elif not values or (len(values) == 1 and not values[0].strip()):
            pass  # blank line: nothing to import, nothing lost
        else:
            hint = (
                " A field probably contains the delimiter or an unclosed quote; quote it, or "
                "re-run with --quoting none / --delimiter."
                if quoting == "minimal"
                else " A field probably contains the delimiter; quote it or pick another --delimiter."
            )
            yield Row(
                line=line,
                error=f"expected {width} fields ({', '.join(header)}), found {len(values)}.{hint}",
                raw=delim.join(values)[:500],
            )


#: rows parsed under one setting of the csv module's field limit (setting it costs two calls)
_LIMIT_BATCH = 512


def _csv_batches(reader: Any, max_field: int) -> Iterator[tuple[int, list[str] | str]]:
    """(line, fields) of each row, or (line, why it cannot be read).

    The field limit is set while a batch of rows is parsed and put back before any is
    handed on, so no other code ever runs under truthset's limit.
    """
    limit = _field_limit(max_field)
    line = reader.line_num + 1
    done = False
    while not done:
        batch: list[tuple[int, list[str] | str]] = []
        with limit:
            while len(batch) < _LIMIT_BATCH:
                try:
                    batch.append((line, next(reader)))
                except StopIteration:
                    done = True
                    break
                except csv.Error as exc:
                    batch.append((line, too_long(max_field) if "field limit" in str(exc) else f"unreadable row: {exc}"))
                line = reader.line_num + 1
        yield from batch


# --- Parquet, Excel ------------------------------------------------------------------------


def iter_parquet(path: Path, *, batch_rows: int = 20000, max_field: int = MAX_FIELD_CHARS) -> Iterator[Row]:
    """Rows of a Parquet file; ``line`` is the 1-based row number (+1 for a notional header)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid / OSError
        raise ImportFailed(f"{path}: not a readable Parquet file: {exc}") from exc
    number = 1
    for batch in pf.iter_batches(batch_size=batch_rows):
        for rec in batch.to_pylist():
            number += 1
            bad = bad_value(rec, max_field)
            if bad is not None:
                yield Row(line=number, error=bad[1], error_field=bad[0])
                continue
            yield Row(line=number, fields=rec)


def _cell(v: Any) -> Any:
    """An Excel cell as a plain value: whole floats as ints, dates as ISO text."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def iter_xlsx(
    path: Path, *, sheet: str | None = None, max_field: int = MAX_FIELD_CHARS
) -> tuple[list[str], Iterator[Row]]:
    """Open an Excel workbook (openpyxl, read-only: rows stream, memory stays flat).

    The first row of ``sheet`` (default: the first sheet) is the header; ``line`` is the row
    number in the sheet. Rows whose cells are all empty are skipped.
    """
    try:
        import openpyxl
    except ImportError as exc:
        from truthset.core.errors import missing_extra

        raise missing_extra("openpyxl", "excel") from exc
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile/openpyxl raise many kinds
        raise ImportFailed(f"{path}: not a readable Excel workbook (.xlsx): {exc}") from exc
    if sheet is not None and sheet not in wb.sheetnames:
        wb.close()
        raise ImportFailed(f"{path}: no sheet {sheet!r}; the sheets are {wb.sheetnames}")
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    first = next(rows, None)
    if first is None:
        wb.close()
        raise ImportFailed(f"{path}: the sheet {ws.title!r} is empty; expected a header row")
    header = [str(h).strip() if h is not None else "" for h in first]
    while header and header[-1] == "":
        header.pop()
    if "" in header:
        wb.close()
        raise ImportFailed(f"{path}: row 1: column {header.index('') + 1} has no name; name it in the header row")
    if len(set(header)) != len(header):
        wb.close()
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ImportFailed(f"{path}: row 1: duplicate column name(s) {dupes}; rename them")

    def gen() -> Iterator[Row]:
        try:
            for number, values in enumerate(rows, start=2):
                cells = [_cell(v) for v in values[: len(header)]]
                if all(v is None or v == "" for v in cells):
                    continue
                cells += [None] * (len(header) - len(cells))
                fields = dict(zip(header, cells))
                bad = bad_value(fields, max_field)
                if bad is not None:
                    yield Row(line=number, error=bad[1], error_field=bad[0])
                    continue
                yield Row(line=number, fields=fields)
        finally:
            wb.close()

    return header, gen()


# --- images -----------------------------------------------------------------------------

_MAGIC: tuple[tuple[bytes, ...], ...] = (
    (b"\x89PNG\r\n\x1a\n",),
    (b"\xff\xd8\xff",),
    (b"GIF87a", b"GIF89a"),
    (b"BM",),
)


def looks_like_image(head: bytes) -> bool:
    """True when the first bytes carry a PNG, JPEG, GIF, BMP or WebP signature."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(m) for group in _MAGIC for m in group)


def iter_images(folder: Path, *, labels_from_folders: bool = False) -> Iterator[Row]:
    """One row per image file under ``folder``; ``line`` counts files in sorted order.

    ``fields``: ``image`` (path relative to the folder), ``sha256`` of the bytes, and
    ``label`` (the parent folder's name) when ``labels_from_folders``.
    """
    for number, p in enumerate(_iter_image_paths(folder), start=1):
        data = p.read_bytes()
        rel = str(p.relative_to(folder))
        if not looks_like_image(data[:16]):
            yield Row(
                line=number,
                error="not a recognised image (PNG, JPEG, GIF, BMP, WebP); the file is empty or damaged",
                error_field="image",
                raw=rel,
            )
            continue
        fields: dict[str, Any] = {"image": rel, "sha256": hashlib.sha256(data).hexdigest()}
        if labels_from_folders and p.parent != folder:
            fields["label"] = p.parent.name
        yield Row(line=number, fields=fields)
