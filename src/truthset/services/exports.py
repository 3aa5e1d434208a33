"""Export a project's items and annotations, streaming page by page.

Formats: ``jsonl`` (one item per line with every annotation, oldest first, and its gold),
``csv`` and ``parquet`` (long format: one row per current annotation, with the item's gold),
``labelstudio`` (a JSON array of tasks that Label Studio and truthset import; every
annotation, each under the control names of the file it came from) and ``conll`` (NER: one
token per line with BIO tags, one block per current annotation, headed by the item's ids
and text). Each re-imports into an equal project: the same items, annotations, annotators
and gold. Files are valid: no ``NaN`` or ``Infinity`` is ever written.
Memory is bounded by the page size, whatever the project size.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from truthset.core.errors import InvalidInput
from truthset.data import conll
from truthset.data.labelstudio import to_task
from truthset.services.projects import Project
from truthset.store import repo

bio_tags = conll.bio_tags

EXPORT_FORMATS = ("jsonl", "csv", "parquet", "labelstudio", "conll")


@dataclass
class ExportReport:
    path: str
    format: str
    items: int = 0
    annotations: int = 0


def _finite(v: Any) -> Any:
    """A stored number that JSON cannot hold (NaN, infinity: older imports) becomes None."""
    return v if not isinstance(v, float) or v - v == 0 else None


def _pages(
    project: Project,
    page: int,
    *,
    history: bool = False,
) -> Iterator[list[tuple[Any, dict[str, Any], list[dict[str, Any]], Any]]]:
    """Pages of (item row, payload, annotations oldest first, gold value or None).

    ``history``: superseded annotations too (each with ``current``), else current ones only.
    Each annotation carries the Label Studio control names of the batch it came from, if any.
    """
    with project.store.read() as conn:
        names = repo.labelstudio_names_by_batch(conn, project.id)
        for items in repo.iter_items(conn, project.id, page=page):
            ids = [it.id for it in items]
            batch_of = {it.id: it.batch_id for it in items}
            anns: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for a in repo.annotations_for_items(conn, project.id, ids, history=history):
                meta = json.loads(a.meta or "{}")
                ls = names.get(a.batch_id) or names.get(batch_of[a.item_id]) or {}
                ann = {
                    "annotator": a.annotator,
                    "value": json.loads(a.value),
                    "source": a.source,
                    "lead_time": _finite(a.lead_time),
                    "schema_version": a.schema_version,
                    "created_at": a.created_at.isoformat(),
                    "ground_truth": bool(meta.pop("ground_truth", False)),
                    "meta": meta,
                    "from_name": ls.get("from_name"),
                    "to_name": ls.get("to_name"),
                }
                if history:
                    ann["current"] = bool(a.current)
                anns[a.item_id].append(ann)
            gold = repo.gold_for_items(conn, project.id, ids)
            yield [
                (it, json.loads(it.payload), anns.get(it.id, []), json.loads(gold[it.id]) if it.id in gold else None)
                for it in items
            ]


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return _finite(v)
    return v if isinstance(v, (str, int, bool)) or v is None else json.dumps(v, ensure_ascii=False)


def _label_cell(project: Project, v: Any) -> Any:
    """A label (or gold) value as the long format writes it: text, ``a|b``, or JSON spans."""
    if v is None or isinstance(v, str):
        return v
    if project.task == "multi-label":
        return "|".join(v)
    return json.dumps(v, ensure_ascii=False)


def _long_rows(project: Project, page: int, report: ExportReport) -> Iterator[list[dict[str, Any]]]:
    text_field = project.config.text_field
    for batch in _pages(project, page):
        out = []
        for it, payload, anns, gold in batch:
            report.items += 1
            base = {"item_id": it.id, "external_id": it.external_id}
            base[text_field] = payload.get(text_field)
            extra = {k: _cell(v) for k, v in payload.items() if k != text_field}
            for a in anns or [{}]:
                row = {**base, **extra}
                if not a:
                    row.update(annotator=None, label=None, source=None, lead_time=None, schema_version=None)
                else:
                    report.annotations += 1
                    row.update(
                        annotator=a["annotator"],
                        label=_label_cell(project, a["value"]),
                        source=a["source"],
                        lead_time=a["lead_time"],
                        schema_version=a["schema_version"],
                    )
                row["gold"] = _label_cell(project, gold)
                out.append(row)
        yield out


def export_project(
    project: Project,
    path: Path | str,
    *,
    fmt: str = "jsonl",
    page: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write the project to ``path`` in ``fmt``; the file appears only when complete."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "conll" and project.task != "ner":
        raise InvalidInput(f"CoNLL export needs an NER project; this one is {project.task}. Use jsonl or csv.")
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    report = ExportReport(path=str(path), format=fmt)
    try:
        if fmt == "parquet":
            _write_parquet(project, tmp, page, report, progress)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = {"jsonl": _write_jsonl, "csv": _write_csv, "labelstudio": _write_ls, "conll": _write_conll}[
                    fmt
                ]
                writer(project, fh, page, report, progress)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _json_line(obj: Any) -> str:
    """Compact JSON that any parser reads: a NaN or infinity in old data is written as null."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_all_finite(obj), ensure_ascii=False, allow_nan=False)


def _all_finite(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _all_finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_all_finite(x) for x in v]
    return _finite(v)


def _write_jsonl(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    for batch in _pages(project, page, history=True):
        for it, payload, anns, gold in batch:
            report.items += 1
            report.annotations += len(anns)
            for a in anns:
                a.pop("from_name")
                a.pop("to_name")
            rec = {"item_id": it.id, "external_id": it.external_id, "data": payload, "annotations": anns, "gold": gold}
            fh.write(_json_line(rec) + "\n")
        if progress:
            progress(len(batch))


def _write_csv(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    writer: csv.DictWriter[str] | None = None
    for rows in _long_rows(project, page, report):
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(row.keys()), extrasaction="ignore")
                writer.writeheader()
            writer.writerow(row)
        if progress:
            progress(len(rows))


def _parquet_schema(rows: list[dict[str, Any]]) -> Any:
    """The file's schema from its first page: a column whose values are all of one type gets
    it (numbers stay numbers); a column of mixed or unknown types is text."""
    import pyarrow as pa

    fields = []
    for name in rows[0]:
        kinds = {type(r.get(name)) for r in rows} - {type(None)}
        if kinds == {bool}:
            t = pa.bool_()
        elif kinds == {int}:
            t = pa.int64()
        elif kinds and kinds <= {int, float}:
            t = pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(name, t))
    return pa.schema(fields)


def _parquet_value(v: Any, t: Any, name: str) -> Any:
    import pyarrow as pa

    if v is None:
        return None
    if pa.types.is_string(t):
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    if pa.types.is_floating(t) and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if (pa.types.is_integer(t) and isinstance(v, int) and not isinstance(v, bool)) or (
        pa.types.is_boolean(t) and isinstance(v, bool)
    ):
        return v
    raise InvalidInput(
        f"field {name!r} holds {type(v).__name__} values after {t} ones; Parquet needs one "
        "type per column: export as jsonl (or csv) instead"
    )


def _write_parquet(project: Project, path: Path, page: int, report: ExportReport, progress: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    schema = None
    try:
        for rows in _long_rows(project, page, report):
            if not rows:
                continue
            if schema is None:
                schema = _parquet_schema(rows)
                writer = pq.ParquetWriter(path, schema)
            cols = {f.name: [_parquet_value(r.get(f.name), f.type, f.name) for r in rows] for f in schema}
            assert writer is not None
            writer.write_table(pa.Table.from_pydict(cols, schema=schema))
            if progress:
                progress(len(rows))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pq.write_table(pa.table({"item_id": pa.array([], pa.int64())}), path)


def _write_ls(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    ls = project.config.labelstudio
    fh.write("[")
    first = True
    for batch in _pages(project, page, history=True):
        for it, payload, anns, gold in batch:
            report.items += 1
            report.annotations += len(anns)
            task = to_task(
                data=payload,
                external_id=it.external_id,
                annotations=anns,
                task_type=project.task,
                from_name=ls.from_name,
                to_name=ls.to_name,
                gold=gold,
            )
            fh.write(("\n" if first else ",\n") + _json_line(task))
            first = False
        if progress:
            progress(len(batch))
    fh.write("\n]\n")


def _write_conll(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    text_field = project.config.text_field
    for batch in _pages(project, page):
        for it, payload, anns, gold in batch:
            report.items += 1
            text = str(payload.get(text_field, ""))
            common = {
                "item_id": it.id,
                "external_id": it.external_id,
                "text": text,
                "payload": payload,
                "text_field": text_field,
            }
            for a in anns:
                report.annotations += 1
                fh.write(conll.block(**common, annotator=a["annotator"], spans=a["value"]))
            if gold is not None:
                fh.write(conll.block(**common, gold=True, spans=gold))
            if not anns and gold is None:
                fh.write(conll.block(**common))  # the item, so a re-import has it too
        if progress:
            progress(len(batch))
