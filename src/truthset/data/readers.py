"""Streaming readers for CSV/TSV, JSONL, Parquet, image folders and JSON arrays.

Each reader yields ``Row`` objects one at a time (the import groups them into chunks), so
memory stays bounded whatever the file size. Every row carries the line number where it
starts in the file (1-based, counting the header), so a rejected row can be found by a
person. Problems that affect one row become a ``Row`` with ``error`` set; problems that
affect the whole file (bad encoding, unreadable file) raise :class:`ImportFailed`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from truthset.core.errors import EncodingProblem, ImportFailed, InvalidInput

Format = Literal["csv", "jsonl", "parquet", "images", "labelstudio"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "images", "labelstudio")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
_BLOCK = 1 << 20

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Row:
    """One record of a source file: its fields, or why it could not be read."""

    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_field: str = ""
    raw: str = ""


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
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if suffix in {".csv", ".tsv", ".tab"}:
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "labelstudio"
    if stripped.startswith(b"{") or suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".json":
        return "labelstudio"
    return "csv"


def decoded_lines(path: Path, encoding: str = "utf-8") -> Iterator[str]:
    """Yield the lines of a text file (ends kept), decoding strictly.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as a file opened with ``newline=''`` gives them
    (what the ``csv`` module expects); other characters that ``str.splitlines`` treats as
    breaks (form feed, U+2028, ...) are data. A byte sequence that is not valid in ``encoding``
    raises :class:`EncodingProblem` naming the byte offset and line.
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError as exc:
        raise InvalidInput(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1") from exc
    offset = 0
    newlines = 0
    tail = ""
    first = True
    with path.open("rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                buffered = len(exc.object) - len(block)
                pos = offset - buffered + exc.start
                line = newlines + exc.object[: exc.start].count(b"\n") + 1
                bad = exc.object[exc.start : exc.start + 1].hex().upper()
                raise EncodingProblem(
                    f"{path}: not valid {encoding}: byte 0x{bad} at byte offset {pos} "
                    f"(line {line}). If the file was saved by Excel or an older system, "
                    "re-run with --encoding cp1252 (or latin-1)."
                ) from exc
            newlines += block.count(b"\n")
            offset += len(block)
            if first and text:
                text = text.lstrip("\ufeff")
                first = False
            pending = ""
            lines: list[str] = []
            for part in (tail + text).splitlines(keepends=True):
                pending += part
                if pending.endswith(("\n", "\r")):
                    lines.append(pending)
                    pending = ""
            if not final and lines and lines[-1].endswith("\r"):
                pending = lines.pop() + pending  # may be the first half of a \r\n
            tail = pending
            yield from lines
            if final:
                break
    if tail:
        yield tail


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


def sniff_dialect(
    lines: list[str], *, delimiter: str | None, quoting: str
) -> tuple[str, int]:
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
) -> tuple[list[str], Iterator[Row], dict[str, Any]]:
    """Open a delimited file: return its header, a row iterator and the dialect used."""
    if delimiter is None and path.suffix.lower() == ".tsv":
        delimiter = "\t"
    sample: list[str] = []
    for ln in decoded_lines(path, encoding):
        sample.append(ln)
        if len(sample) >= sample_lines:
            break
    sample = [s for s in sample]
    delim, quote_mode = sniff_dialect(sample, delimiter=delimiter, quoting=quoting)
    dialect = {"delimiter": delim, "quoting": "none" if quote_mode == csv.QUOTE_NONE else "minimal"}
    lines = decoded_lines(path, encoding)
    reader = csv.reader(lines, delimiter=delim, quoting=cast("Literal[0, 1, 2, 3]", quote_mode), strict=False)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raise ImportFailed(f"{path}: the file is empty; expected a header line") from exc
    except csv.Error as exc:
        raise ImportFailed(f"{path}: line 1: cannot read the header: {exc}") from exc
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ImportFailed(f"{path}: line 1: duplicate column name(s) {dupes}; rename them")
    return header, _csv_rows(reader, header, delim, dialect["quoting"]), dialect


def _csv_rows(reader: Any, header: list[str], delim: str, quoting: str) -> Iterator[Row]:
    width = len(header)
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(line=line, error=f"unreadable row: {exc}")
            line = reader.line_num + 1
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
        line = reader.line_num + 1


# --- JSONL, JSON arrays, Parquet, images ------------------------------------------------

def iter_jsonl(path: Path, *, encoding: str = "utf-8") -> Iterator[Row]:
    for number, text in enumerate(decoded_lines(path, encoding), start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Row(line=number, error=f"not valid JSON at column {exc.colno}: {exc.msg}", raw=text[:500])
            continue
        if not isinstance(obj, dict):
            yield Row(line=number, error=f"expected a JSON object, found {type(obj).__name__}", raw=text[:500])
            continue
        yield Row(line=number, fields=obj)


def iter_json_array(path: Path, *, encoding: str = "utf-8") -> Iterator[Row]:
    """Stream the elements of a top-level JSON array without loading the whole file.

    ``Row.line`` is the line where the element starts; ``fields`` holds the element
    (``{"_value": x}`` for a non-object element, flagged as an error).
    """
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    line = 1
    started = False
    lines = decoded_lines(path, encoding)
    exhausted = False

    def fill() -> bool:
        nonlocal buf, pos, exhausted
        chunk = []
        for _ in range(4096):
            try:
                chunk.append(next(lines))
            except StopIteration:
                exhausted = True
                break
        if not chunk:
            return False
        buf = buf[pos:] + "".join(chunk)
        pos = 0
        return True

    def skip_ws(chars: str) -> None:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in chars:
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buf) or exhausted or not fill():
                return

    fill()
    skip_ws(" \t\r\n")
    if pos >= len(buf) or buf[pos] != "[":
        raise ImportFailed(f"{path}: line {line}: expected a JSON array of tasks ('[' ...)")
    pos += 1
    started = True
    while started:
        skip_ws(" \t\r\n,")
        if pos >= len(buf):
            raise ImportFailed(f"{path}: line {line}: the JSON array is not closed (file truncated?)")
        if buf[pos] == "]":
            return
        while True:
            try:
                obj, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                if exhausted or not fill():
                    err_line = line + buf[pos : exc.pos].count("\n")
                    raise ImportFailed(
                        f"{path}: line {err_line}: not valid JSON ({exc.msg}); "
                        "is the export complete?"
                    ) from exc
        start_line = line
        line += buf.count("\n", pos, end)
        pos = end
        if isinstance(obj, dict):
            yield Row(line=start_line, fields=obj)
        else:
            yield Row(line=start_line, error=f"expected a JSON object (a task), found {type(obj).__name__}",
                      raw=json.dumps(obj)[:500])


def iter_parquet(path: Path, *, batch_rows: int = 20000) -> Iterator[Row]:
    """Rows of a Parquet file; ``line`` is the 1-based row number (+1 for a notional header)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError
        raise ImportFailed(f"{path}: not a readable Parquet file: {exc}") from exc
    number = 1
    for batch in pf.iter_batches(batch_size=batch_rows):
        for rec in batch.to_pylist():
            number += 1
            yield Row(line=number, fields=rec)


_MAGIC: tuple[tuple[bytes, ...], ...] = (
    (b"\x89PNG\r\n\x1a\n",), (b"\xff\xd8\xff",), (b"GIF87a", b"GIF89a"), (b"BM",),
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
            yield Row(line=number, error="not a recognised image (PNG, JPEG, GIF, BMP, WebP); "
                      "the file is empty or damaged", error_field="image", raw=rel)
            continue
        fields: dict[str, Any] = {"image": rel, "sha256": hashlib.sha256(data).hexdigest()}
        if labels_from_folders and p.parent != folder:
            fields["label"] = p.parent.name
        yield Row(line=number, fields=fields)


def chunked(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Group an iterator of rows into lists of at most ``size``."""
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
