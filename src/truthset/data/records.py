"""From a chunk of source rows to what the store writes: items, annotations and findings.

Pure code (no database): :class:`ChunkBuilder` maps each row to a record
(:mod:`truthset.data.mapping`), checks its text (mojibake, control characters; repaired with
``--fix-text``), its spans (overlaps the schema forbids) and hashes its content, and hands the
store two lists of tuples (layouts :data:`ITEM` and :data:`ANN`) with the findings and counts.
Which stored item a record is (by external id, else by content) is decided by the store
(:mod:`truthset.store.bulk`), which sees the items already there.

The content hash is the sha256 of the item's canonical JSON payload (sorted keys, no spaces),
so equal content gives equal hashes whatever the column order of the source file; its first
64 bits (signed) are the ``content_key`` the store indexes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

from truthset.core.keys import external_key, key_of_hash
from truthset.data import profile
from truthset.data.mapping import (
    ANNOTATOR_COLUMNS,
    EXPORT_COLUMNS,
    ID_COLUMNS,
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    Ann,
    ColumnOptions,
    Record,
    RowMapper,
)
from truthset.data.media import MediaPolicy, MediaProblem
from truthset.data.readers import Row

__all__ = [
    "ANN",
    "ANNOTATOR_COLUMNS",
    "EXPORT_COLUMNS",
    "ID_COLUMNS",
    "ITEM",
    "LABEL_COLUMNS",
    "TEXT_COLUMNS",
    "Ann",
    "Chunk",
    "ChunkBuilder",
    "ColumnOptions",
    "Record",
    "canonical_json",
    "content_hash",
    "describe_change",
    "external_key",
    "key_of_hash",
    "overlapping_spans",
]

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
#: the escaper _ENCODER uses for every string (ensure_ascii=False): the C one where available
_escape = json.encoder.encode_basestring
#: one item tuple of a chunk
ITEM = (
    "src_row",
    "line",
    "external_id",
    "content_hash",
    "content_key",
    "queue_key",
    "payload",
    "gold",
    "gold_label",
    "external_key",
)
#: one annotation tuple of a chunk; ``item`` indexes the chunk's items
ANN = ("item", "annotator", "value", "label", "lead_time", "source", "meta", "key")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text (and hashes).

    A flat object of strings (a row of a CSV file: every payload of a text import) is written
    here directly with the encoder's own C string escaper: the same text at twice the speed
    of the general encoder, which sets up its machinery for every call.
    """
    if type(obj) is dict and all(type(k) is str and type(v) is str for k, v in obj.items()):
        return "{" + ",".join([_escape(k) + ":" + _escape(obj[k]) for k in sorted(obj)]) + "}"
    return _ENCODER.encode(obj)


def content_hash(payload_json: str) -> str:
    return hashlib.sha256(payload_json.encode("utf-8")).hexdigest()


def overlapping_spans(spans: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of spans that share at least one character (spans sorted by start)."""
    out = []
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"]))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b["start"] >= a["end"]:
                break
            out.append((a, b))
    return out


@dataclass
class Chunk:
    """A chunk ready to store: items and annotations (layouts ITEM, ANN), findings, counts."""

    items: list[tuple[Any, ...]] = field(default_factory=list)
    anns: list[tuple[Any, ...]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    rejected: int = 0
    mojibake_rows: int = 0
    control_char_rows: int = 0
    repaired_rows: int = 0
    overlapping_spans: int = 0
    cancelled: int = 0
    empty: int = 0
    labels: set[str] = field(default_factory=set)
    #: image projects: (index in ``items``, media row) of each record, for the store's media table
    media: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class ChunkBuilder:
    """Maps rows of one file to items, annotations and findings, for one project's task."""

    def __init__(
        self,
        *,
        task: str,
        text_field: str,
        fmt: str,
        path: Path,
        options: ColumnOptions,
        header: Sequence[str] | None,
        span_overlap: str = "forbid",
        media: MediaPolicy | None = None,
    ) -> None:
        """``media``: for an image project, what its records' images may be (each is checked)."""
        self.task = task
        self.media = media
        self.fmt = fmt
        self.text_field = text_field
        self.options = options
        self.mapper = RowMapper(task=task, text_field=text_field, fmt=fmt, path=path, options=options, header=header)
        self.check_overlaps = task == "ner" and span_overlap == "forbid"
        self.src_row = 0
        self._value_json: dict[str, str] = {}

    @property
    def cols(self) -> dict[str, str | None]:
        return self.mapper.cols

    @property
    def ls(self) -> Any:
        return self.mapper.ls

    def _image_field(self) -> str:
        """The payload key naming a record's image (image folders: ``image``)."""
        if self.fmt == "images":
            return "image"
        if self.ls is not None and self.ls.data_key:
            return str(self.ls.data_key)
        return self.text_field

    def _image(self, rec: Record, chunk: Chunk) -> Any:
        """The checked image of a record of an image project (``data.media``), or None after
        recording the record as rejected (not an allowed, readable image)."""
        assert self.media is not None
        where = self._image_field()
        try:
            return self.media.check(rec.payload.get(where))
        except MediaProblem as exc:
            chunk.rejected += 1
            column = where if self.fmt in ("images", "labelstudio") else self.cols.get("text") or where
            chunk.findings.append(
                {
                    "kind": "rejected",
                    "line": rec.line,
                    "field": column,
                    "reason": str(exc),
                    "raw": str(rec.payload.get(where))[:500],
                }
            )
            return None

    def _text_health(self, recs: list[Record], chunk: Chunk) -> None:
        """Count (and with ``fix_text`` repair) mojibake and control characters in payloads."""
        if not profile.any_problem([v for rec in recs for v in rec.payload.values() if isinstance(v, str)]):
            return
        texts: list[str] = []
        owners: list[tuple[int, str]] = []
        for i, rec in enumerate(recs):
            for k, v in rec.payload.items():
                if isinstance(v, str):
                    texts.append(v)
                    owners.append((i, k))
        moji_rows: set[int] = set()
        ctrl_rows: set[int] = set()
        fixed_rows: set[int] = set()
        for text, (i, key) in zip(texts, owners):
            moji, ctrl = profile.problems(text)
            if not (moji or ctrl):
                continue
            rec = recs[i]
            kinds = [k for k, flag in (("mojibake", moji), ("control", ctrl)) if flag]
            excerpt = profile.describe(text)
            fixed = profile.repair(text) if self.options.fix_text else text
            for kind in kinds:
                what = "mojibake" if kind == "mojibake" else "control character(s)"
                if fixed != text:
                    reason = f"{what} repaired: {excerpt!r} -> {profile.describe(fixed)!r}; the original is in 'raw'"
                else:
                    reason = f"{what}: {excerpt!r}" + (
                        "" if self.options.fix_text else "; --fix-text repairs mojibake and C1 controls"
                    )
                chunk.findings.append(
                    {
                        "kind": kind,
                        "line": rec.line,
                        "field": key,
                        "reason": reason,
                        "raw": text if fixed != text else text[:500],
                    }
                )
            if moji:
                moji_rows.add(i)
            if ctrl:
                ctrl_rows.add(i)
            if fixed != text:
                rec.payload[key] = fixed
                fixed_rows.add(i)
        chunk.mojibake_rows += len(moji_rows)
        chunk.control_char_rows += len(ctrl_rows)
        chunk.repaired_rows += len(fixed_rows)

    def _overlaps(self, rec: Record, chunk: Chunk) -> None:
        for a in rec.annotations:
            if not isinstance(a.value, list):
                continue
            pairs = overlapping_spans(a.value)
            if not pairs:
                continue
            chunk.overlapping_spans += len(pairs)
            listed = "; ".join(
                f"{x['start']}-{x['end']} {x['label']} and {y['start']}-{y['end']} {y['label']}" for x, y in pairs[:5]
            )
            chunk.findings.append(
                {
                    "kind": "overlap",
                    "line": rec.line,
                    "field": a.annotator,
                    "reason": f"{len(pairs)} overlapping span pair(s) by {a.annotator}: {listed}; the schema "
                    "forbids overlapping spans (span_overlap: forbid); imported as given",
                    "raw": "",
                }
            )

    def build(self, rows: Sequence[Row]) -> Chunk:
        """Map a chunk of rows to item and annotation tuples, findings and counts."""
        chunk = Chunk()
        recs: list[Record] = []
        for row in rows:
            chunk.rows_read += 1
            if row.error is not None:
                chunk.rejected += 1
                chunk.findings.append(
                    {
                        "kind": "rejected",
                        "line": row.line,
                        "field": row.error_field,
                        "reason": row.error,
                        "raw": row.raw,
                    }
                )
                continue
            rec, err, fld = self.mapper.record(row)
            if rec is None:
                chunk.rejected += 1
                chunk.findings.append(
                    {"kind": "rejected", "line": row.line, "field": fld, "reason": err, "raw": _raw(row.fields)}
                )
                continue
            recs.append(rec)
        chunk.cancelled, chunk.empty = self.mapper.cancelled, self.mapper.empty
        self.mapper.cancelled = self.mapper.empty = 0
        self._text_health(recs, chunk)
        items, anns, labels = chunk.items, chunk.anns, chunk.labels
        value_json = self._value_json
        check_overlaps = self.check_overlaps
        src_row = self.src_row
        for rec in recs:
            try:
                try:
                    payload_json = canonical_json(rec.payload)
                except ValueError:
                    # NaN / infinity are not JSON: a missing number (Parquet, pandas) is null
                    rec.payload = _finite(rec.payload)
                    payload_json = canonical_json(rec.payload)
                gold_json = None if rec.gold is None else canonical_json(rec.gold)
                metas = None
                for a in rec.annotations:
                    if a.meta:
                        metas = [canonical_json(x.meta) if x.meta else "{}" for x in rec.annotations]
                        break
            except (RecursionError, ValueError) as exc:
                chunk.rejected += 1
                reason = "nested too deeply to store" if isinstance(exc, RecursionError) else str(exc)
                chunk.findings.append({"kind": "rejected", "line": rec.line, "field": "", "reason": reason, "raw": ""})
                continue
            image = None
            if self.media is not None:
                image = self._image(rec, chunk)
                if image is None:
                    continue
            if check_overlaps:
                self._overlaps(rec, chunk)
            # an image item is its image: the same bytes under two names are one item
            raw = (
                bytes.fromhex(image.sha256)
                if image is not None and image.sha256
                else sha256(payload_json.encode("utf-8")).digest()
            )
            src_row += 1
            index = len(items)
            ext = rec.external_id
            gold = rec.gold
            items.append(
                (
                    src_row,
                    rec.line,
                    ext,
                    raw.hex(),
                    from_bytes(raw[:8], "big", signed=True),
                    from_bytes(raw[:4], "big") >> 1,
                    payload_json,
                    gold_json,
                    gold if isinstance(gold, str) else None,
                    None if ext is None else external_key(ext),
                )
            )
            if image is not None:
                chunk.media.append((index, image.to_row()))
            for k, a in enumerate(rec.annotations):
                value = a.value
                if isinstance(value, str):
                    labels.add(value)
                    label: str | None = value
                    vj = value_json.get(value)
                    if vj is None:
                        vj = value_json[value] = canonical_json(value)
                else:
                    labels.update(v["label"] if isinstance(v, dict) else str(v) for v in value)
                    label = None
                    vj = canonical_json(value)
                anns.append(
                    (index, a.annotator, vj, label, a.lead_time, a.source, "{}" if metas is None else metas[k], a.key)
                )
        self.src_row = src_row
        return chunk


from_bytes = int.from_bytes


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinite floats replaced by None (nested lists and objects)."""
    if isinstance(value, float):
        return value if value - value == 0 else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _raw(fields: dict[str, Any]) -> str:
    try:
        return canonical_json(fields)[:500]
    except (RecursionError, ValueError):
        return ""


def describe_change(old_json: str, new_json: str, *, most: int = 5) -> str:
    """What differs between a stored payload and a new one, by field name (for a finding)."""
    try:
        old, new = json.loads(old_json), json.loads(new_json)
    except (json.JSONDecodeError, RecursionError):
        return "the content differs"
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "the content differs"
    parts = []
    for what, keys in (
        ("fields only in the stored item", sorted(set(old) - set(new))),
        ("fields only in this row", sorted(set(new) - set(old))),
        ("fields that differ", sorted(k for k in set(old) & set(new) if old[k] != new[k])),
    ):
        if keys:
            parts.append(f"{what}: {', '.join(map(str, keys[:most]))}" + (" ..." if len(keys) > most else ""))
    return "; ".join(parts) or "the content differs"
