"""CoNLL (BIO tags, one token per line) out and back in.

truthset writes one block per annotation, headed by comment lines that make the file
re-importable: ``# item_id``, ``# external_id``, ``# annotator`` (or ``# gold = true``),
``# text`` (``# text_json`` when the text holds a line break) and ``# payload_json`` when
the item has fields beside its text. An item without annotations is a block of headers only.
Tokens are the text's whitespace-separated pieces, so a span that starts or ends inside a
token comes back widened to whole tokens: CoNLL cannot say more.

Reading accepts these files and plain CoNLL (``token ... tag`` lines, blank lines between
sentences, ``-DOCSTART-`` lines skipped), whose text is the tokens joined by spaces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from truthset.data.rows import LINE_FACTOR, MAX_FIELD_CHARS, NUL_REASON, Row, too_long
from truthset.data.textfile import OVERSIZE, TextLines


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Whitespace tokens of ``text`` with their character offsets: (token, start, end)."""
    out, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        j = i
        while j < n and not text[j].isspace():
            j += 1
        if j > i:
            out.append((text[i:j], i, j))
        i = j
    return out


def bio_tags(text: str, spans: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Whitespace tokens of ``text`` with BIO tags from character spans.

    A token takes the first span it overlaps; the first token a span gets is ``B-``, the
    following ones ``I-`` (so overlapping spans still give valid BIO, which reads back the same).
    """
    tagged = []
    previous = None
    for tok, s, e in tokens(text):
        tag, current = "O", None
        for i, sp in enumerate(spans):
            if s < sp["end"] and e > sp["start"]:
                current = i
                tag = ("I-" if previous == i else "B-") + sp["label"]
                break
        previous = current
        tagged.append((tok, tag))
    return tagged


def _header(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        return f"# {key}_json = {json.dumps(value, ensure_ascii=False)}\n"
    return f"# {key} = {value}\n"


def block(
    *,
    item_id: int,
    external_id: str | None,
    text: str,
    payload: dict[str, Any],
    text_field: str,
    annotator: str | None = None,
    gold: bool = False,
    spans: Sequence[dict[str, Any]] | None = None,
) -> str:
    """One CoNLL block: headers, then a token and tag per line (none when ``spans`` is None)."""
    out = [f"# item_id = {item_id}\n"]
    if external_id is not None:
        out.append(_header("external_id", external_id))
    if gold:
        out.append("# gold = true\n")
    elif annotator is not None:
        out.append(_header("annotator", annotator))
    out.append(_header("text", text))
    extra = {k: v for k, v in payload.items() if k != text_field}
    if extra:
        out.append(f"# payload_json = {json.dumps(extra, ensure_ascii=False, sort_keys=True)}\n")
    if spans is not None:
        out.extend(f"{tok}\t{tag}\n" for tok, tag in bio_tags(text, spans))
    out.append("\n")
    return "".join(out)


def spans_from_tags(offsets: Sequence[tuple[str, int, int]], tags: Sequence[str]) -> list[dict[str, Any]]:
    """Character spans from BIO (or BIOES) tags of tokens at the given offsets."""
    spans: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for (_tok, s, e), tag in zip(offsets, tags):
        if tag in ("O", "", "_"):
            cur = None
            continue
        prefix, sep, label = tag.partition("-")
        if not sep:
            prefix, label = "I", tag
        if prefix in ("B", "S") or cur is None or cur["label"] != label:
            cur = {"start": s, "end": e, "label": label}
            spans.append(cur)
        else:
            cur["end"] = e
        if prefix in ("S", "E"):
            cur = None
    return spans


def _parse_block(lines: list[tuple[int, str]]) -> Row | None:
    headers: dict[str, str] = {}
    toks: list[str] = []
    tags: list[str] = []
    for _n, ln in lines:
        if ln.startswith("#"):
            key, sep, value = ln[1:].partition("=")
            if sep:
                # "# key = value": only the one space after "=" is layout (a text may end in spaces)
                key, value = key.strip(), value.removeprefix(" ")
                if key.endswith("_json") and key != "payload_json":
                    try:
                        decoded = json.loads(value)
                    except json.JSONDecodeError:
                        decoded = None
                    if not isinstance(decoded, str):
                        return Row(line=lines[0][0], error=f"header {key} is not a JSON string", error_field=key)
                    headers[key[:-5]] = decoded
                else:
                    headers[key] = value
            continue
        if ln.startswith("-DOCSTART-"):
            continue
        parts = ln.split("\t") if "\t" in ln else ln.split()
        toks.append(parts[0])
        tags.append(parts[-1] if len(parts) > 1 else "O")
    if not headers and not toks:
        return None
    line = lines[0][0]
    text = headers.get("text")
    if text is None:
        text = " ".join(toks)
    offsets = tokens(text)
    fields: dict[str, Any] = {
        "text": text,
        "external_id": headers.get("external_id"),
        "annotator": headers.get("annotator"),
        "gold": headers.get("gold") == "true",
        "spans": None,
        "payload": {},
    }
    if "payload_json" in headers:
        try:
            payload = json.loads(headers["payload_json"])
        except (json.JSONDecodeError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            return Row(line=line, error="header payload_json is not a JSON object", error_field="payload_json")
        fields["payload"] = payload
    if toks:
        if [t for t, _s, _e in offsets] != toks:
            return Row(
                line=line,
                error="the tokens do not match the block's '# text' (tokens are the text's "
                "whitespace-separated pieces)",
                error_field="text",
            )
        fields["spans"] = spans_from_tags(offsets, tags)
    elif fields["annotator"] is not None or fields["gold"]:
        fields["spans"] = []
    if not text.strip():
        return Row(line=line, error="a block with no text and no tokens", error_field="text")
    return Row(line=line, fields=fields)


def iter_conll(path: Path, *, encoding: str = "utf-8", max_field: int = MAX_FIELD_CHARS) -> Iterator[Row]:
    """One row per block (annotation, gold, or bare item); ``line`` is the block's first line."""
    block_lines: list[tuple[int, str]] = []
    size = 0
    over = False
    nul = False
    for number, raw in enumerate(TextLines(path, encoding, max_line=max_field * LINE_FACTOR), start=1):
        ln = raw.rstrip("\r\n")
        if ln.strip():
            if OVERSIZE in ln or size + len(ln) > max_field * LINE_FACTOR:
                over = True
            elif not over:
                nul = nul or "\x00" in ln
                block_lines.append((number, ln))
                size += len(ln)
            continue
        if over:
            yield Row(line=(block_lines[0][0] if block_lines else number), error=too_long(max_field))
        elif nul:
            yield Row(line=block_lines[0][0], error=NUL_REASON)
        elif block_lines:
            row = _parse_block(block_lines)
            if row is not None:
                yield row
        block_lines, size, over, nul = [], 0, False, False
    if over:
        yield Row(line=block_lines[0][0] if block_lines else 1, error=too_long(max_field))
    elif nul:
        yield Row(line=block_lines[0][0], error=NUL_REASON)
    elif block_lines:
        row = _parse_block(block_lines)
        if row is not None:
            yield row
