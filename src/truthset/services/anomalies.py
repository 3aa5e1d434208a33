"""Anomaly flags over a project's annotation process, each raised as a data issue.

:func:`truthset.quality.anomalies.detect_anomalies` (pure) does the checks; this module reads
the judgements (item, annotator, label, lead time, time, the item's batch, its gold label),
takes the thresholds from ``anomalies:`` in truthset.yaml, and turns every flag into a data
issue (services/data_issues.py) that explains itself. A flag raised again updates its issue
instead of opening a copy: the issue's fingerprint is the flag's kind, annotator and batch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from truthset.data.mapping import ANNOTATING_SOURCES
from truthset.services import data_issues
from truthset.services.projects import Project
from truthset.store.models import as_utc, utcnow
from truthset.store.repo import watch as repo

#: anomaly kind -> (data-issue kind, severity)
ISSUE_OF: dict[str, tuple[str, str]] = {
    "fast_annotator": ("annotator_quality", "medium"),
    "single_label": ("annotator_quality", "high"),
    "fixed_pattern": ("annotator_quality", "high"),
    "gold_failures": ("annotator_quality", "high"),
    "agreement_drop": ("ambiguous_definition", "high"),
    "label_shift": ("drift", "medium"),
    "stalled_queue": ("other", "medium"),
}
_TITLES = {
    "fast_annotator": "annotator {annotator} is much faster than the others",
    "single_label": "annotator {annotator} answers nearly always one label",
    "fixed_pattern": "annotator {annotator} answers in a fixed pattern",
    "gold_failures": "annotator {annotator} failed gold items in a row",
    "agreement_drop": "agreement dropped in {batch}",
    "label_shift": "label distribution shifted in {batch}",
    "stalled_queue": "the annotation queue has stalled",
}


@dataclass
class Process:
    """The annotation frame the checks read, and how many items are still open."""

    frame: pd.DataFrame
    open_items: int


def thresholds(project: Project) -> Any:
    """The project's ``anomalies:`` settings as :class:`~truthset.quality.AnomalyThresholds`."""
    from truthset.quality import AnomalyThresholds

    c = project.config.anomalies
    return AnomalyThresholds(
        min_annotations=c.min_annotations,
        fast_ratio=c.fast_ratio,
        single_label_share=c.single_label_share,
        single_label_excess=c.single_label_excess,
        pattern_kappa=c.pattern_kappa,
        gold_fail_run=c.gold_fail_run,
        agreement_drop=c.agreement_drop,
        agreement_min_items=c.agreement_min_items,
        label_shift_js=c.label_shift_js,
        label_shift_min_count=c.label_shift_min_count,
        stall_seconds=c.stall_hours * 3600.0,
    )


def read_process(project: Project) -> Process:
    """The project's current judgements in time order, one row each, with batch and gold."""
    with project.store.read() as tx:
        rows = repo.process_rows(tx, project.id, ANNOTATING_SOURCES)
        n_open = repo.open_items(tx, project.id)
    frame = pd.DataFrame(
        [tuple(r) for r in rows], columns=["item", "annotator", "label", "lead_time", "created_at", "batch", "gold"]
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["batch"] = frame["batch"].map(lambda b: None if pd.isna(b) else f"batch {int(b)}")
    if frame["lead_time"].isna().all():
        frame = frame.drop(columns="lead_time")
    if frame["gold"].isna().all():
        frame = frame.drop(columns="gold")
    if frame["batch"].isna().all():
        frame = frame.drop(columns="batch")
    return Process(frame=frame, open_items=n_open)


def detect(project: Project, *, now: datetime | None = None, seed: int = 0) -> list[Any]:
    """The anomaly flags of the project's annotation process (no issues raised)."""
    from truthset.quality import detect_anomalies, stalled_queue

    process = read_process(project)
    th = thresholds(project)
    now = now or utcnow()
    if process.frame.empty:  # nothing annotated yet: only a queue that never started can be flagged
        opened = _opened_at(project)
        if not process.open_items or opened is None:
            return []
        return list(stalled_queue([], open_items=process.open_items, now=now, thresholds=th, opened_at=opened))
    return list(detect_anomalies(process.frame, thresholds=th, open_items=process.open_items, now=now, seed=seed))


def _opened_at(project: Project) -> Any:
    with project.store.read() as tx:
        rows = repo.batches(tx, project.id)
    return as_utc(rows[0].created_at) if rows else None


def fingerprint(flag: Any) -> str:
    """What identifies a flag across runs: its kind, annotator and batch."""
    return f"anomaly:{flag.kind}:{flag.annotator or ''}:{flag.batch or ''}"[:200]


#: where a gold-failure run started (``(from 2026-12-01 10:00 UTC)``): with the item browser's
#: history times, it would tell a reviewer reading the tracker which item was gold
_GOLD_RUN_START = re.compile(r" \(from [^)]*\)")


def _body(flag: Any) -> str:
    """The issue's text for ``flag``. The tracker is read by reviewers, who never see gold: a
    gold-failure flag's issue leaves out the first failed item and when the run started (the
    flag itself, for ``truthset anomalies --json``, keeps them)."""
    explanation, details = flag.explanation, dict(flag.details or {})
    if flag.kind == "gold_failures":
        explanation = _GOLD_RUN_START.sub("", explanation)
        details.pop("first_item", None)
    lines = [
        explanation[:1].upper() + explanation[1:] + ".",
        "",
        f"Measured {flag.score:.4g} against the threshold {flag.threshold:.4g} (anomalies: in truthset.yaml).",
    ]
    if details:
        lines += ["", "Details: " + json.dumps(details, default=str, ensure_ascii=False)]
    return "\n".join(lines)


def run(project: Project, *, now: datetime | None = None, raise_issues: bool = True, seed: int = 0) -> dict[str, Any]:
    """Detect the flags and raise (or update) a data issue for each; the result for ``--json``."""
    flags = detect(project, now=now, seed=seed)
    out = []
    for flag in flags:
        kind, severity = ISSUE_OF.get(flag.kind, ("other", "medium"))
        entry = {**flag.to_dict(), "issue": None, "issue_action": None}
        if raise_issues:
            title = _TITLES.get(flag.kind, flag.kind).format(annotator=flag.annotator, batch=flag.batch)
            if flag.kind == "label_shift" and flag.annotator is not None:
                title = f"annotator {flag.annotator}'s labels shifted in {flag.batch}"
            links = [("batch", str(flag.batch).removeprefix("batch "))] if flag.batch else []
            issue, action = data_issues.raise_issue(
                project,
                fingerprint=fingerprint(flag),
                kind=kind,
                title=title,
                body=_body(flag),
                source="anomaly",
                severity=severity,
                links=links,
            )
            entry.update(issue=issue, issue_action=action)
        out.append(entry)
    return {"flags": out, "count": len(out)}
