"""JSON Lines and JSON arrays (Label Studio exports), streamed with bounded memory.

A value nested too deeply for the parser, a value longer than the field limit, a NUL
character or an over-long line or array element each make one rejected row with its line;
the rest of the file still imports. An element too long is skipped by scanning its brackets
(strings and escapes respected) block by block, never held whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from truthset.core.errors import ImportFailed
from truthset.data.rows import LINE_FACTOR, MAX_FIELD_CHARS, Row, bad_value, too_long
from truthset.data.textfile import OVERSIZE, TextLines, decoded_blocks

TOO_DEEP = "nested too deeply to read (a JSON value thousands of levels deep); the row was not read"


def _checked(obj: object, text_len: int, line: int, raw: str, max_field: int, *, what: str) -> Row:
    if not isinstance(obj, dict):
        return Row(line=line, error=f"expected {what}, found {type(obj).__name__}", raw=raw[:500])
    if text_len > max_field or "\\u0000" in raw or "\x00" in raw:
        bad = bad_value(obj, max_field)
        if bad is not None:
            return Row(line=line, error=bad[1], error_field=bad[0], raw=raw[:200])
    return Row(line=line, fields=obj)


def iter_jsonl(path: Path, *, encoding: str = "utf-8", max_field: int = MAX_FIELD_CHARS) -> Iterator[Row]:
    """One row per line holding a JSON object; blank lines are skipped."""
    max_line = max_field * LINE_FACTOR
    for number, text in enumerate(TextLines(path, encoding, max_line=max_line), start=1):
        if OVERSIZE in text:
            yield Row(line=number, error=f"the line is longer than {max_line:,} characters; " + too_long(max_field))
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Row(line=number, error=f"not valid JSON at column {exc.colno}: {exc.msg}", raw=text[:500])
            continue
        except RecursionError:
            yield Row(line=number, error=TOO_DEEP, raw=text[:200])
            continue
        yield _checked(obj, len(text), number, text, max_field, what="a JSON object")


_SPECIAL = re.compile(r'[\[\]{}"\\]')


class _Skipper:
    """Finds the end of one JSON value by its brackets, fed text piece by piece."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def feed(self, text: str, start: int = 0) -> int | None:
        """The index just past the value's end in ``text``, or None if it goes on."""
        i = start
        if self.escaped:
            if i >= len(text):
                return None
            self.escaped = False
            i += 1
        while True:
            m = _SPECIAL.search(text, i)
            if m is None:
                return None
            ch, j = m.group(), m.start()
            i = j + 1
            if self.in_string:
                if ch == "\\":
                    if i >= len(text):
                        self.escaped = True
                        return None
                    i += 1  # the escaped character
                elif ch == '"':
                    self.in_string = False
                    if self.depth == 0:
                        return i
            elif ch == '"':
                self.in_string = True
            elif ch in "[{":
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1
                if self.depth <= 0:
                    return i


def iter_json_array(path: Path, *, encoding: str = "utf-8", max_field: int = MAX_FIELD_CHARS) -> Iterator[Row]:
    """Stream the elements of a top-level JSON array without loading the whole file.

    ``Row.line`` is the line where the element starts; ``fields`` holds the element (a
    non-object element is an error row). An element longer than ``LINE_FACTOR`` times the
    field limit, or nested too deeply to parse, is skipped and reported.
    """
    max_element = max_field * LINE_FACTOR
    decoder = json.JSONDecoder()
    blocks = decoded_blocks(path, encoding)
    buf = ""
    pos = 0
    line = 1
    exhausted = False

    def fill() -> bool:
        nonlocal buf, pos, exhausted
        for text in blocks:
            buf = buf[pos:] + text
            pos = 0
            return True
        exhausted = True
        return False

    def skip_ws(chars: str) -> None:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in chars:
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buf) or exhausted or not fill():
                return

    def skip_value() -> bool:
        """Move past the value at ``pos``; False when the file ends inside it."""
        nonlocal buf, pos, line
        skipper = _Skipper()
        while True:
            end = skipper.feed(buf, pos)
            if end is not None:
                line += buf.count("\n", pos, end)
                pos = end
                return True
            line += buf.count("\n", pos)
            buf, pos = "", 0
            if not fill():
                return False

    fill()
    skip_ws(" \t\r\n")
    if pos >= len(buf) or buf[pos] != "[":
        raise ImportFailed(f"{path}: line {line}: expected a JSON array of tasks ('[' ...)")
    pos += 1
    while True:
        skip_ws(" \t\r\n,")
        if pos >= len(buf):
            raise ImportFailed(f"{path}: line {line}: the JSON array is not closed (file truncated?)")
        if buf[pos] == "]":
            return
        start_line = line
        problem = ""
        while True:
            try:
                obj, end = decoder.raw_decode(buf, pos)
                if end < len(buf) or exhausted or not fill():
                    break
                continue  # a value at the very end of the buffer may go on in the next block
            except RecursionError:
                problem = TOO_DEEP
            except json.JSONDecodeError as exc:
                if len(buf) - pos > max_element:
                    problem = f"the element is longer than {max_element:,} characters; " + too_long(max_field)
                elif not exhausted and fill():
                    continue
                else:
                    err_line = line + buf[pos : exc.pos].count("\n")
                    raise ImportFailed(
                        f"{path}: line {err_line}: not valid JSON ({exc.msg}); is the export complete?"
                    ) from exc
            if not skip_value():
                raise ImportFailed(f"{path}: line {start_line}: the JSON array is not closed (file truncated?)")
            break
        if problem:
            yield Row(line=start_line, error=problem)
            continue
        raw = buf[pos:end]
        line += raw.count("\n")
        pos = end
        yield _checked(obj, len(raw), start_line, raw, max_field, what="a JSON object (a task)")
