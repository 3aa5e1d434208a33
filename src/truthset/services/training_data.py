"""Final labels: what each item's training label is, where it came from, and how sure it is.

One rule decides an item's final label, with ``--labels`` choosing what may supply it:

1. **adjudicated** -- a reviewer's latest decision on the item (a correction, or an accepted
   annotation) always wins; confidence 1.
2. **consensus** of a ``truthset qc aggregate`` run (``consensus``: the latest run;
   ``run:N``: run N); confidence is the model's posterior for the label. An item the run
   did not see gets its **single** annotation if it has exactly one.
3. **latest** -- the item's most recent judgement (``single`` when it is the only one);
   confidence is the share of the item's annotators whose current judgement agrees.

``--labels adjudicated`` takes step 1 only. Judgements are human and imported annotations,
each annotator's latest per item; model pre-labels are never a final label, and an
annotation a reviewer rejected does not count. Items with no final label are listed with
the reason, never dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from truthset.core.errors import InvalidInput, NotFound
from truthset.data.mapping import JUDGEMENT_SOURCES
from truthset.services.projects import Project
from truthset.store import repo
from truthset.store.repo import quality as repo_quality
from truthset.store.repo import training as repo_training
from truthset.store.repo.training import ItemRow
from truthset.store.store import Transaction

LABEL_KINDS = ("consensus", "adjudicated", "latest")


@dataclass(frozen=True)
class LabelChoice:
    """What may supply final labels: ``consensus``, ``adjudicated``, ``run:N`` or ``latest``."""

    kind: str
    run: int | None = None
    method: str | None = None

    def __str__(self) -> str:
        return f"run:{self.run}" if self.kind == "run" else self.kind


def parse_labels(text: str) -> tuple[str, int | None]:
    """``consensus | adjudicated | latest | run:N`` -> (kind, run number or None)."""
    t = text.strip().lower()
    if t in LABEL_KINDS:
        return t, None
    # isdecimal, not isdigit ("run:²" made int() raise); a run id the store can hold (2^31 - 1)
    if t.startswith("run:") and t[4:].isdecimal() and 1 <= int(t[4:]) < 2**31:
        return "run", int(t[4:])
    raise InvalidInput(
        f"--labels {text!r}: use consensus, adjudicated, latest or run:N (N from "
        "'truthset qc aggregate', which prints the run it stored)"
    )


def resolve(project: Project, text: str) -> LabelChoice:
    """Check a ``--labels`` value against the project: the run exists and fits the task."""
    kind, run = parse_labels(text)
    if kind not in ("consensus", "run"):
        return LabelChoice(kind)
    if project.task in ("multi-label", "ner"):
        raise InvalidInput(
            f"--labels {text}: consensus runs exist for single-label tasks; this project is "
            f"{project.task}. Use --labels adjudicated or latest."
        )
    with project.store.read() as tx:
        row = repo_quality.consensus_run(tx, project.id, run)
        if row is None and kind == "run":
            runs = repo_quality.consensus_run_ids(tx, project.id)
            raise NotFound(
                f"--labels run:{run}: this project has no such consensus run; "
                + (f"its runs are {runs}" if runs else "run 'truthset qc aggregate' first")
            )
    if row is None:
        raise InvalidInput(
            "--labels consensus: no consensus run yet. Run 'truthset qc aggregate --method ds' "
            "first, or use --labels latest"
        )
    run_id, config = row
    return LabelChoice(kind, run_id, json.loads(config or "{}").get("method"))


@dataclass
class FinalLabel:
    """One item and its final label (``value`` None, with ``reason``, when it has none)."""

    item_id: int
    external_id: str | None
    data: dict[str, Any]
    value: Any = None
    source: str | None = None
    confidence: float | None = None
    annotators: int = 0
    run: int | None = None
    reason: str | None = None


@dataclass
class _Evidence:
    judgements: list[Any] = field(default_factory=list)  # latest per annotator, in time order
    adjudicated: Any = None
    consensus: tuple[Any, float | None] | None = None


def _decisions(tx: Transaction, ids: list[int]) -> tuple[dict[int, Any], set[int]]:
    """Per item the value of the reviewer's latest correction or acceptance; rejected annotations."""
    reviews = repo_training.reviews_of_items(tx, ids)
    last_on_annotation = {ann: verdict for _, ann, verdict, _ in reviews if ann is not None}
    rejected = {a for a, v in last_on_annotation.items() if v == "reject"}
    decided: dict[int, Any] = {}
    accepted = [ann for _, ann, verdict, _ in reviews if verdict == "accept" and ann is not None]
    values = repo_training.annotation_values(tx, accepted)
    for item, ann, verdict, correction in reviews:
        if verdict == "correct" and correction is not None:
            decided[item] = json.loads(correction)
        elif verdict == "accept" and ann in values:
            decided[item] = json.loads(values[ann])
    return decided, rejected


def _evidence(tx: Transaction, project: Project, ids: list[int], choice: LabelChoice) -> dict[int, _Evidence]:
    out = {i: _Evidence() for i in ids}
    decided, rejected = _decisions(tx, ids)
    for i, v in decided.items():
        out[i].adjudicated = v
    latest: dict[tuple[int, str], Any] = {}
    for a in repo.annotations_for_items(tx, project.id, ids):  # by item, then id: time order
        if a.source in JUDGEMENT_SOURCES and a.id not in rejected:
            latest.pop((a.item_id, a.annotator), None)
            latest[(a.item_id, a.annotator)] = a
    for (item, _), a in latest.items():
        out[item].judgements.append(a)
    if choice.run is not None:
        for item, value, posterior in repo_quality.consensus_labels(tx, choice.run, ids):
            out[item].consensus = (json.loads(value), posterior)
    return out


def _decide(row: FinalLabel, ev: _Evidence, choice: LabelChoice) -> None:
    """Apply the module's rule to one item."""
    judged = ev.judgements
    row.annotators = len(judged)
    if ev.adjudicated is not None:
        row.value, row.source, row.confidence = ev.adjudicated, "adjudicated", 1.0
    elif choice.kind == "adjudicated":
        row.reason = "not adjudicated"
    elif choice.run is not None and ev.consensus is not None:
        row.value, row.confidence = ev.consensus
        row.source, row.run = f"consensus:{choice.method or 'run'}", choice.run
    elif not judged:
        row.reason = "no annotation"
    elif choice.run is None or len(judged) == 1:
        value = json.loads(judged[-1].value)
        agree = sum(json.loads(a.value) == value for a in judged)
        row.value, row.confidence = value, agree / len(judged)
        row.source = "single" if len(judged) == 1 else "latest"
    else:
        row.reason = (
            f"not in run {choice.run} ({len(judged)} judgements); run 'truthset qc aggregate' again to include it"
        )


def iter_final_labels(
    project: Project, choice: LabelChoice, *, page: int = 5000, item_ids: list[int] | None = None
) -> Iterator[list[FinalLabel]]:
    """Pages of items (all, or ``item_ids``) with their final labels; memory bounded by ``page``."""
    with project.store.read() as tx:
        if item_ids is None:
            pages: Iterator[Sequence[ItemRow]] = repo_training.item_pages(tx, project.id, page=page)
        else:
            wanted = sorted(set(item_ids))
            pages = (
                repo_training.items_by_id(tx, project.id, wanted[s : s + page]) for s in range(0, len(wanted), page)
            )
        for items in pages:
            ids = [item_id for item_id, _, _ in items]
            evidence = _evidence(tx, project, ids, choice)
            rows = []
            for item_id, external_id, payload in items:
                row = FinalLabel(item_id, external_id, json.loads(payload))
                _decide(row, evidence[item_id], choice)
                rows.append(row)
            yield rows


def final_labels(project: Project, choice: LabelChoice, item_ids: list[int]) -> list[FinalLabel]:
    """The final labels of the given items, in item id order."""
    return [row for rows in iter_final_labels(project, choice, item_ids=item_ids) for row in rows]


def default_choice(project: Project) -> LabelChoice:
    """``consensus`` when the project has a consensus run, else ``latest``."""
    try:
        return resolve(project, "consensus")
    except InvalidInput:
        return LabelChoice("latest")


@dataclass
class TrainingReport:
    """What a training-data export wrote. Field names are the ``--json`` keys."""

    path: str
    format: str
    labels: str
    run: int | None = None
    items: int = 0
    labelled: int = 0
    unlabelled: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    unlabelled_reasons: dict[str, int] = field(default_factory=dict)
    unlabelled_file: str | None = None

    def count(self, rows: list[FinalLabel]) -> list[FinalLabel]:
        """Tally a page; return its labelled rows."""
        self.items += len(rows)
        kept = [r for r in rows if r.value is not None]
        self.labelled += len(kept)
        self.unlabelled += len(rows) - len(kept)
        for key, n in Counter(r.source for r in kept).items():
            self.by_source[str(key)] = self.by_source.get(str(key), 0) + n
        for key, n in Counter(r.reason for r in rows if r.value is None).items():
            self.unlabelled_reasons[str(key)] = self.unlabelled_reasons.get(str(key), 0) + n
        return kept


def _cell(v: Any) -> Any:
    """A payload value as one CSV cell: scalars as they are, anything else as JSON."""
    return v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v, ensure_ascii=False)


def label_text(value: Any, task: str) -> str:
    """A final label as one CSV cell: the label; ``a|b`` (multi-label); JSON spans (NER)."""
    if isinstance(value, str):
        return value
    if task == "multi-label" and isinstance(value, list):
        return "|".join(map(str, value))
    return json.dumps(value, ensure_ascii=False)


def _shown(project: Project, data: dict[str, Any]) -> Any:
    """The field a person reads: the text, or the image path."""
    value = data.get(project.config.text_field)
    return data.get("image") if value is None else value


def item_table(project: Project, item_ids: list[int]) -> Any:
    """``item_id``, ``external_id`` and the text (or image path) of the given items, as a frame."""
    import pandas as pd

    wanted = sorted(set(item_ids))
    rows = []
    with project.store.read() as tx:
        for s in range(0, len(wanted), 5000):
            rows += [
                (i, e, _shown(project, json.loads(p)))
                for i, e, p in repo_training.items_by_id(tx, project.id, wanted[s : s + 5000])
            ]
    return pd.DataFrame(rows, columns=["item_id", "external_id", project.config.text_field])


def write_sample(project: Project, item_ids: list[int], path: Any, *, labels: str | None = None) -> dict[str, Any]:
    """Write drawn items to a CSV a reviewer can work from: id, external id, text, current label.

    The current label is the final label of ``labels`` (default: the latest consensus run if
    there is one, else the latest judgement); its source and confidence come with it.
    """
    import csv
    import os
    from pathlib import Path

    choice = default_choice(project) if labels is None else resolve(project, labels)
    rows = final_labels(project, choice, item_ids)
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    text = project.config.text_field
    extra = list(dict.fromkeys(k for r in rows for k in r.data if k != text))  # e.g. an RTE hypothesis
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["item_id", "external_id", text, *extra, "label", "label_source", "confidence"])
            w.writerows(
                (
                    r.item_id,
                    r.external_id,
                    _shown(project, r.data),
                    *(_cell(r.data.get(k)) for k in extra),
                    None if r.value is None else label_text(r.value, project.task),
                    r.source or r.reason,
                    r.confidence,
                )
                for r in rows
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"labels": str(choice), "output": str(path), "unlabelled": sum(r.value is None for r in rows)}
