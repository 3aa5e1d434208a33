"""Write training data: one row per item with its final label, in every export format.

``truthset export --labels consensus|adjudicated|run:N|latest`` lands here. The rows come
from :mod:`truthset.services.training_data`; each names the item (``item_id``,
``external_id``), carries its data (the text or image path and every other field), the
final ``label``, its ``label_source`` (``adjudicated``, ``consensus:<method>``, ``single``,
``latest``), ``confidence``, how many ``annotators`` judged it and the consensus ``run``.

Items without a final label are not in the training file: they are listed, with the
reason, in ``<output>.unlabelled.csv`` beside it. Files appear only when complete, and an
export in which no item has a final label is an error, not an empty file.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from truthset.core.errors import InvalidInput
from truthset.data.labelstudio import to_task
from truthset.services.exports import EXPORT_FORMATS, bio_tags
from truthset.services.projects import Project
from truthset.services.training_data import (
    FinalLabel,
    TrainingReport,
    _cell,
    iter_final_labels,
    label_text,
    resolve,
)
from truthset.store.repo import training as repo_training

LABEL_COLUMNS = ["label", "label_source", "confidence", "annotators", "run"]
Pages = Iterator[list[FinalLabel]]


def _payload_keys(project: Project, page: int) -> list[str]:
    """Every payload field of the project, text field first (a CSV header needs them all)."""
    keys = {project.config.text_field: None}
    with project.store.read() as tx:
        for items in repo_training.item_pages(tx, project.id, page=page):
            for _, _, payload in items:
                keys.update(dict.fromkeys(json.loads(payload)))
    return list(keys)


def _flat(row: FinalLabel, keys: list[str], task: str) -> dict[str, Any]:
    out: dict[str, Any] = {"item_id": row.item_id, "external_id": row.external_id}
    out.update({k: _cell(row.data.get(k)) for k in keys})
    out.update(
        label=label_text(row.value, task),
        label_source=row.source,
        confidence=row.confidence,
        annotators=row.annotators,
        run=row.run,
    )
    return out


def _write_csv(project: Project, fh: TextIO, pages: Pages, report: TrainingReport, page: int) -> None:
    keys = _payload_keys(project, page)
    writer = csv.DictWriter(fh, fieldnames=["item_id", "external_id", *keys, *LABEL_COLUMNS])
    writer.writeheader()
    for rows in pages:
        writer.writerows(_flat(r, keys, project.task) for r in report.count(rows))


def _write_parquet(project: Project, path: Path, pages: Pages, report: TrainingReport, page: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = _payload_keys(project, page)
    schema = pa.schema(
        [
            ("item_id", pa.int64()),
            ("external_id", pa.string()),
            *((k, pa.string()) for k in keys),
            ("label", pa.string()),
            ("label_source", pa.string()),
            ("confidence", pa.float64()),
            ("annotators", pa.int64()),
            ("run", pa.int64()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for rows in pages:
            flat = [_flat(r, keys, project.task) for r in report.count(rows)]
            for r in flat:
                for k in keys:
                    r[k] = None if r[k] is None else str(r[k])
            writer.write_table(pa.Table.from_pylist(flat, schema=schema))


def _write_jsonl(project: Project, fh: TextIO, pages: Pages, report: TrainingReport, page: int) -> None:
    for rows in pages:
        for r in report.count(rows):
            fh.write(
                json.dumps(
                    {
                        "item_id": r.item_id,
                        "external_id": r.external_id,
                        "data": r.data,
                        "label": r.value,
                        "label_source": r.source,
                        "confidence": r.confidence,
                        "annotators": r.annotators,
                        "run": r.run,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def _write_ls(project: Project, fh: TextIO, pages: Pages, report: TrainingReport, page: int) -> None:
    """Label Studio tasks, the final label as the one annotation, its origin in the task's meta."""
    ls = project.config.labelstudio
    fh.write("[")
    first = True
    for rows in pages:
        for r in report.count(rows):
            ann = {
                "annotator": f"truthset:{r.source}",
                "value": r.value,
                "source": "import",
                "lead_time": None,
                "ground_truth": False,
                "meta": {},
            }
            task = to_task(
                data=r.data,
                external_id=r.external_id,
                annotations=[ann],
                task_type=project.task,
                from_name=ls.from_name,
                to_name=ls.to_name,
            )
            task["meta"] = {
                "item_id": r.item_id,
                "label_source": r.source,
                "confidence": r.confidence,
                "annotators": r.annotators,
                "run": r.run,
            }
            fh.write(("\n" if first else ",\n") + json.dumps(task, ensure_ascii=False))
            first = False
    fh.write("\n]\n")


def _write_conll(project: Project, fh: TextIO, pages: Pages, report: TrainingReport, page: int) -> None:
    text_field = project.config.text_field
    for rows in pages:
        for r in report.count(rows):
            fh.write(
                f"# item_id = {r.item_id}\n# external_id = {r.external_id or ''}\n"
                f"# label_source = {r.source}\n# confidence = {r.confidence}\n"
            )
            fh.writelines(f"{tok}\t{tag}\n" for tok, tag in bio_tags(str(r.data.get(text_field, "")), r.value))
            fh.write("\n")


def _listing(pages: Pages, side: Any, progress: Callable[[int], None] | None) -> Pages:
    """Pass pages through, writing the rows without a final label to the side file."""
    for rows in pages:
        side.writerows((r.item_id, r.external_id, r.reason) for r in rows if r.value is None)
        if progress is not None:
            progress(len(rows))
        yield rows


def export_training_data(
    project: Project,
    path: Path | str,
    *,
    fmt: str = "jsonl",
    labels: str = "consensus",
    page: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> TrainingReport:
    """Write each item's final label (see the module docstring) to ``path`` in ``fmt``."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "conll" and project.task != "ner":
        raise InvalidInput(f"CoNLL export needs an NER project; this one is {project.task}. Use jsonl or csv.")
    choice = resolve(project, labels)
    path = Path(path)
    report = TrainingReport(path=str(path), format=fmt, labels=str(choice), run=choice.run)
    side = path.with_name(path.name + ".unlabelled.csv")
    tmp, side_tmp = path.with_name(path.name + ".partial"), side.with_name(side.name + ".partial")
    try:
        with side_tmp.open("w", encoding="utf-8", newline="") as side_fh:
            side_csv = csv.writer(side_fh)
            side_csv.writerow(["item_id", "external_id", "reason"])
            pages = _listing(iter_final_labels(project, choice, page=page), side_csv, progress)
            if fmt == "parquet":
                _write_parquet(project, tmp, pages, report, page)
            else:
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    writer = {
                        "jsonl": _write_jsonl,
                        "csv": _write_csv,
                        "labelstudio": _write_ls,
                        "conll": _write_conll,
                    }[fmt]
                    writer(project, fh, pages, report, page)
        if report.labelled == 0:
            reasons = ", ".join(f"{k}: {v:,}" for k, v in report.unlabelled_reasons.items()) or "no items"
            raise InvalidInput(
                f"--labels {choice}: none of the {report.items:,} items has a final label "
                f"({reasons}); nothing written. Try --labels latest, or annotate first."
            )
        if report.unlabelled:
            os.replace(side_tmp, side)
            report.unlabelled_file = str(side)
        else:
            side.unlink(missing_ok=True)  # a stale list from an earlier export would mislead
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        side_tmp.unlink(missing_ok=True)
    return report
