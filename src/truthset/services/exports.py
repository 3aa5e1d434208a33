"""Export a project's items and current annotations, streaming page by page.

Formats: ``jsonl`` (one item per line with its annotations), ``csv`` and ``parquet`` (long
format: one row per annotation, so a re-import with ``--annotator-col`` restores the
annotators), ``labelstudio`` (a JSON array of tasks that Label Studio and truthset import),
and ``conll`` (NER: one token per line with BIO tags, one block per annotation).
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
from truthset.data.labelstudio import to_task
from truthset.services.projects import Project
from truthset.store import repo

EXPORT_FORMATS = ("jsonl", "csv", "parquet", "labelstudio", "conll")


@dataclass
class ExportReport:
    path: str
    format: str
    items: int = 0
    annotations: int = 0


def _pages(project: Project, page: int) -> Iterator[list[tuple[Any, dict[str, Any], list[dict[str, Any]], Any]]]:
    """Pages of (item row, payload, current annotations, gold value or None)."""
    with project.store.read() as conn:
        for items in repo.iter_items(conn, project.id, page=page):
            ids = [it.id for it in items]
            anns: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for a in repo.annotations_for_items(conn, project.id, ids):
                meta = json.loads(a.meta or "{}")
                anns[a.item_id].append(
                    {
                        "annotator": a.annotator,
                        "value": json.loads(a.value),
                        "source": a.source,
                        "lead_time": a.lead_time,
                        "schema_version": a.schema_version,
                        "created_at": a.created_at.isoformat(),
                        "ground_truth": bool(meta.pop("ground_truth", False)),
                        "meta": meta,
                    }
                )
            gold = repo.gold_for_items(conn, project.id, ids)
            yield [
                (it, json.loads(it.payload), anns.get(it.id, []), json.loads(gold[it.id]) if it.id in gold else None)
                for it in items
            ]


def _cell(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v, ensure_ascii=False)


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
                    v = a["value"]
                    label = v if isinstance(v, str) else (
                        "|".join(v) if project.task == "multi-label" else json.dumps(v, ensure_ascii=False)
                    )
                    row.update(annotator=a["annotator"], label=label, source=a["source"],
                               lead_time=a["lead_time"], schema_version=a["schema_version"])
                row["gold"] = None if gold is None else _cell(gold)
                out.append(row)
        yield out


def _tokens(text: str) -> list[tuple[str, int, int]]:
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


def bio_tags(text: str, spans: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Whitespace tokens of ``text`` with BIO tags from character spans."""
    tagged = []
    for tok, s, e in _tokens(text):
        tag = "O"
        for sp in spans:
            if s < sp["end"] and e > sp["start"]:
                tag = ("B-" if s <= sp["start"] else "I-") + sp["label"]
                break
        tagged.append((tok, tag))
    return tagged


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
                writer = {"jsonl": _write_jsonl, "csv": _write_csv, "labelstudio": _write_ls, "conll": _write_conll}[fmt]
                writer(project, fh, page, report, progress)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _write_jsonl(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    for batch in _pages(project, page):
        for it, payload, anns, gold in batch:
            report.items += 1
            report.annotations += len(anns)
            rec = {"item_id": it.id, "external_id": it.external_id, "data": payload,
                   "annotations": anns, "gold": gold}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
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
                table = pa.Table.from_pylist(rows)
                schema = pa.schema([f if not pa.types.is_null(f.type) else pa.field(f.name, pa.string()) for f in table.schema])
                writer = pq.ParquetWriter(path, schema)
            cols = {name: [r.get(name) for r in rows] for name in schema.names}
            cols = {k: [None if v is None else (str(v) if pa.types.is_string(schema.field(k).type) and not isinstance(v, str) else v) for v in vals] for k, vals in cols.items()}
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
    for batch in _pages(project, page):
        for it, payload, anns, _gold in batch:
            report.items += 1
            report.annotations += len(anns)
            task = to_task(data=payload, external_id=it.external_id, annotations=anns,
                           task_type=project.task, from_name=ls.from_name, to_name=ls.to_name)
            fh.write(("\n" if first else ",\n") + json.dumps(task, ensure_ascii=False))
            first = False
        if progress:
            progress(len(batch))
    fh.write("\n]\n")


def _write_conll(project: Project, fh: TextIO, page: int, report: ExportReport, progress: Any) -> None:
    text_field = project.config.text_field
    for batch in _pages(project, page):
        for it, payload, anns, _gold in batch:
            report.items += 1
            text = str(payload.get(text_field, ""))
            for a in anns:
                report.annotations += 1
                fh.write(f"# item_id = {it.id}\n# annotator = {a['annotator']}\n")
                fh.writelines(f"{tok}\t{tag}\n" for tok, tag in bio_tags(text, a["value"]))
                fh.write("\n")
        if progress:
            progress(len(batch))
