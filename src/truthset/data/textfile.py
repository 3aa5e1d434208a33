"""Text files in: strict decoding in blocks, lines with a length limit, encoding detection.

A file is decoded in blocks of 1 MiB with an incremental decoder, so memory does not grow
with the file. A byte sequence that is not valid in the chosen encoding raises
:class:`EncodingProblem` naming the byte offset and line, and suggesting an encoding that
decodes the *whole* file: charset-normalizer's guesses and the common legacy code pages,
each checked against every byte, the likeliest first (see :func:`suggest_encoding`).

A line longer than ``max_line`` characters is never held in memory: it is replaced by one
marker line (:data:`OVERSIZE`), which the readers turn into a rejected row.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from truthset.core.errors import EncodingProblem, InvalidInput

BLOCK = 1 << 20
#: what an over-long line becomes; NUL characters cannot come from a decoded line of a file
#: that passed the NUL check, so the marker is never mistaken for data
OVERSIZE = "\x00truthset:line-too-long\x00"
#: legacy code pages tried after charset-normalizer's guesses, most common first; latin-1
#: decodes any bytes at all, so it is the last resort
COMMON_ENCODINGS = ("cp1252", "mac_roman", "latin_1")
#: how much more "mess" (charset-normalizer's measure, 0..1) a common code page may show than
#: the best guess and still be preferred: charset-normalizer ranks e.g. cp1257 above cp1252 for
#: English text with a few accents, and rejects Mac Roman text holding cp1252 mojibake
PREFER_COMMON_MARGIN = 0.05


def _decoder(encoding: str) -> codecs.IncrementalDecoder:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError as exc:
        raise InvalidInput(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1") from exc


def decoded_blocks(path: Path, encoding: str = "utf-8") -> Iterator[str]:
    """Yield the text of ``path`` in blocks (the leading BOM removed), decoding strictly."""
    decoder = _decoder(encoding)
    offset = 0
    newlines = 0
    first = True
    with path.open("rb") as fh:
        while True:
            block = fh.read(BLOCK)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                buffered = len(exc.object) - len(block)
                pos = offset - buffered + exc.start
                line = newlines + exc.object[: exc.start].count(b"\n") + 1
                bad = exc.object[exc.start : exc.start + 1].hex().upper()
                raise EncodingProblem(
                    f"{path}: not valid {encoding}: byte 0x{bad} at byte offset {pos} (line {line}). "
                    + _advice(path, encoding)
                ) from exc
            newlines += block.count(b"\n")
            offset += len(block)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            if text:
                yield text
            if final:
                return


def _advice(path: Path, failed: str) -> str:
    suggestion = suggest_encoding(path, exclude={codecs.lookup(failed).name})
    if suggestion is None:
        return "No common encoding decodes the whole file: is it text?"
    return (
        f"The whole file decodes as {suggestion} (detected from its bytes): re-run with "
        f"--encoding {suggestion}. The import report then counts rows with mojibake or control "
        "characters ('truthset findings --kind mojibake'); --fix-text repairs them."
    )


def decodes_whole(path: Path, encoding: str) -> bool:
    """True when every byte of ``path`` decodes in ``encoding`` (read in blocks)."""
    decoder = _decoder(encoding)
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(BLOCK), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def suggest_encoding(
    path: Path, *, exclude: set[str] | frozenset[str] = frozenset(), sample_bytes: int = 1 << 20
) -> str | None:
    """The likeliest encoding of ``path`` among those that decode all of it, or None.

    Candidates are charset-normalizer's matches (its own order: least "mess", most language
    coherence) and then :data:`COMMON_ENCODINGS`; only those that decode every byte of the
    file count. A common code page whose mess on the first ``sample_bytes`` is within
    :data:`PREFER_COMMON_MARGIN` of the best candidate's is preferred to a rarer one.
    """
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    with path.open("rb") as fh:
        head = fh.read(sample_bytes)
    names: list[str] = []
    for match in from_bytes(head, threshold=0.5):
        names.append(codecs.lookup(match.encoding).name)
    names.extend(codecs.lookup(e).name for e in COMMON_ENCODINGS)
    seen: set[str] = set(exclude)
    whole: list[tuple[str, float]] = []
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("utf_16") or name.startswith("utf_32"):
            continue  # charset-normalizer only proposes them for files with NUL bytes
        if not decodes_whole(path, name):
            continue
        text = head.decode(name, errors="ignore")
        whole.append((name, mess_ratio(text, 1.0)))
    if not whole:
        return None
    best_mess = min(m for _, m in whole)
    common = {codecs.lookup(e).name for e in COMMON_ENCODINGS}
    preferred = [(m, n) for n, m in whole if n in common and m <= best_mess + PREFER_COMMON_MARGIN]
    if preferred:
        return min(preferred)[1]
    return whole[0][0]


class TextLines:
    """The lines of a text file (ends kept), decoded strictly, each at most ``max_line`` long.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as a file opened with ``newline=''`` gives
    them (what the ``csv`` module expects); other characters that ``str.splitlines`` treats as
    breaks (form feed, U+2028, ...) are data. A longer line is replaced by :data:`OVERSIZE`
    (preceded by a quote when the line held an odd number of ``"``, so a CSV reader's quoting
    state after it is the same), without ever being held whole. ``flagged`` turns true once a
    NUL character was decoded or a line was replaced: until then no row needs checking.
    """

    def __init__(self, path: Path, encoding: str = "utf-8", *, max_line: int | None = None) -> None:
        self.path = path
        self.encoding = encoding
        self.max_line = max_line
        self.flagged = False

    def _oversize(self, quotes: int) -> str:
        self.flagged = True
        return ('"' if quotes % 2 else "") + OVERSIZE + "\n"

    def __iter__(self) -> Iterator[str]:
        limit = self.max_line
        tail = ""
        skipping = False
        quotes = 0
        for text in decoded_blocks(self.path, self.encoding):
            if not self.flagged and "\x00" in text:
                self.flagged = True
            if skipping:
                ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
                if not ends:
                    quotes += text.count('"')
                    continue
                end = min(ends)
                quotes += text.count('"', 0, end)
                if text[end] == "\r" and text[end + 1 : end + 2] == "\n":
                    end += 1
                yield self._oversize(quotes)
                text = text[end + 1 :]
                skipping, quotes = False, 0
            pending = ""
            lines: list[str] = []
            for part in (tail + text).splitlines(keepends=True):
                pending += part
                if pending.endswith(("\n", "\r")):
                    lines.append(pending)
                    pending = ""
            if lines and lines[-1].endswith("\r"):
                pending = lines.pop() + pending  # may be the first half of a \r\n
            tail = pending
            for line in lines:
                yield line if limit is None or len(line) <= limit else self._oversize(line.count('"'))
            if limit is not None and len(tail) > limit:
                skipping, quotes, tail = True, tail.count('"'), ""
        if skipping:
            yield self._oversize(quotes)
        elif tail:
            yield tail if limit is None or len(tail) <= limit else self._oversize(tail.count('"'))


def decoded_lines(path: Path, encoding: str = "utf-8", *, max_line: int | None = None) -> Iterator[str]:
    """Yield the lines of a text file (see :class:`TextLines`)."""
    return iter(TextLines(path, encoding, max_line=max_line))
