"""One record of a source file, and the checks every reader applies to its values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: the longest value (in characters) a reader accepts unless told otherwise; the import passes
#: the ``import_max_field_chars`` setting
MAX_FIELD_CHARS = 1 << 20
#: a physical line (or one JSON element) may be this many times the field limit
LINE_FACTOR = 4
NUL_REASON = "a NUL character (\\x00) in the value; remove it from the file"


@dataclass
class Row:
    """One record of a source file: its fields, or why it could not be read."""

    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_field: str = ""
    raw: str = ""


def too_long(max_field: int) -> str:
    """Why a row with a value over the limit was rejected, and how to raise the limit."""
    return (
        f"a value is longer than {max_field:,} characters (setting import_max_field_chars, "
        "environment variable TRUTHSET_IMPORT_MAX_FIELD_CHARS); the row was not read"
    )


def bad_value(obj: Any, max_field: int) -> tuple[str, str] | None:
    """(field, reason) for the first value of ``obj`` that is too long or holds a NUL, or None.

    Walks nested lists and objects without recursion (a value nested thousands deep is fine).
    """
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        name, v = stack.pop()
        if isinstance(v, str):
            if len(v) > max_field:
                return name, too_long(max_field)
            if "\x00" in v:
                return name, NUL_REASON
        elif isinstance(v, dict):
            for k in v:
                if "\x00" in str(k):
                    return name, "a NUL character (\\x00) in a key; remove it from the file"
            stack.extend((str(k) if not name else f"{name}.{k}", x) for k, x in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((name, x) for x in reversed(v))
    return None


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


def parse_lead_time(raw: Any) -> tuple[float | None, str]:
    """A lead time in seconds from a cell or JSON value: (value, '') or (None, why not).

    Empty is no lead time; negative, infinite (``1e999``) and NaN are errors, so a stored
    lead time is always a finite number of seconds >= 0 and an export stays valid JSON.
    """
    if raw is None or raw == "" or isinstance(raw, bool):
        return None, ""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, f"lead time {raw!r} is not a number of seconds"
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        return None, f"lead time {raw!r} is not a number of seconds >= 0 (finite)"
    return value, ""
