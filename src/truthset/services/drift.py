"""Drift between a reference and a current data set: files or a project's batches.

:func:`truthset.data.drift.drift_report` (pure) measures it by distances with thresholds,
not p-values (Evidently's defaults: Wasserstein >= 0.1, Jensen–Shannon >= 0.1, domain
classifier ROC-AUC > 0.55). This module turns either side into a frame (a CSV/TSV/JSON-lines
file, or the items of batch ids with their current label as ``label``), takes the thresholds
from ``drift:`` in truthset.yaml, and after each import compares the new batch with the
earlier ones (:func:`after_import`), raising a drift data issue when it moved.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from truthset.core.errors import InvalidInput, TruthsetError
from truthset.data.mapping import ANNOTATING_SOURCES, JUDGEMENT_SOURCES
from truthset.services import data_issues
from truthset.services.projects import Project
from truthset.store.models import utcnow
from truthset.store.repo import watch as repo

#: the reference of an automatic check: at most this many of the latest earlier items
AUTO_REFERENCE_ROWS = 20000


def is_file(spec: str) -> bool:
    """Whether a ``--reference``/``--current`` value names a file (else: batch ids)."""
    return Path(spec).is_file()


def read_file(path: Path) -> pd.DataFrame:
    """A CSV, TSV or JSON-lines file as a frame of strings and numbers."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.read_json(path)
        return pd.read_csv(path, sep="\t" if suffix in (".tsv", ".tab") else ",", keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{path}: cannot read it as {suffix.lstrip('.') or 'CSV'}: {exc}") from exc


def batch_ids(spec: str, option: str) -> list[int]:
    """``"3"`` or ``"1,2"`` (``batch 3`` accepted) as batch ids."""
    parts = [p.strip().removeprefix("batch").strip() for p in spec.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise InvalidInput(
            f"{option} {spec!r}: neither a file nor batch ids; give a CSV/TSV/JSON-lines path or "
            "batch ids such as 3 or 1,2 (see 'truthset status')"
        )
    return [int(p) for p in parts]


def batch_frame(
    project: Project, ids: Sequence[int], option: str = "batch", *, last: int | None = None
) -> pd.DataFrame:
    """The payload fields of the batches' items (``last``: only the latest so many), with their
    most common current label as ``label``."""
    with project.store.read() as tx:
        known = {int(b.id) for b in repo.batches(tx, project.id)}
        missing = sorted(set(ids) - known)
        if missing:
            raise InvalidInput(f"{option}: no batch {missing} in this project; its batches are {sorted(known)}")
        rows = repo.batch_payloads(tx, project.id, ids, last=last)
        labels = repo.item_labels(tx, project.id, ids, JUDGEMENT_SOURCES, from_item=int(rows[0][0]) if rows else 0)
    if not rows:
        raise InvalidInput(f"{option}: batch(es) {list(ids)} added no items; pick batches that did")
    frame = pd.DataFrame.from_records([json.loads(payload) for _, payload in rows])
    if labels:
        votes: dict[int, Counter[str]] = {}
        for item, label in labels:
            votes.setdefault(int(item), Counter())[str(label)] += 1
        frame["label"] = [votes[int(i)].most_common(1)[0][0] if int(i) in votes else None for i, _ in rows]
    return frame


def side(project: Project | None, spec: str, option: str) -> tuple[pd.DataFrame, str]:
    """One side of a comparison as a frame and its name: a file, or the project's batches."""
    if is_file(spec):
        return read_file(Path(spec)), spec
    if project is None:
        raise InvalidInput(f"{option} {spec!r}: no such file (batch ids need a project: --project DIR)")
    ids = batch_ids(spec, option)
    return batch_frame(project, ids, option), "batch " + ",".join(map(str, ids))


def thresholds(project: Project | None) -> Any:
    """The project's ``drift:`` settings as :class:`~truthset.data.drift.DriftThresholds`."""
    from truthset.data.drift import DriftThresholds

    if project is None:
        return DriftThresholds()
    c = project.config.drift
    return DriftThresholds(
        wasserstein=c.wasserstein, jensenshannon=c.jensenshannon, domain_auc=c.domain_auc, drift_share=c.drift_share
    )


def compare_frames(
    project: Project | None,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Drift between two frames; columns missing on either side (all empty) are left out."""
    from truthset.data.drift import drift_report

    shared = [
        c
        for c in (columns or reference.columns)
        if c in current.columns and reference[c].notna().any() and current[c].notna().any()
    ]
    if columns:
        absent = [c for c in columns if c not in shared]
        if absent:
            raise InvalidInput(
                f"--column {absent}: not in both data sets (or empty on one); the shared columns "
                f"are {[c for c in reference.columns if c in current.columns]}"
            )
    if not shared:
        raise InvalidInput(
            f"the two data sets share no column with values: reference has {list(reference.columns)}, "
            f"current has {list(current.columns)}"
        )
    texts = list(text_columns) if text_columns else None
    if texts is None and project is not None and project.config.text_field in shared:
        texts = [project.config.text_field]
    report = drift_report(
        reference, current, columns=shared, text_columns=texts, thresholds=thresholds(project), seed=seed
    )
    return {**report.to_dict(), "n_reference": len(reference), "n_current": len(current)}


def compare(
    project: Project | None,
    reference: str,
    current: str,
    *,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``truthset drift``: each side a file or batch ids; JSON fields ``drift`` and ``columns``
    (``column``, ``method``, ``score``, ``threshold``, ``drift``, ``details``)."""
    ref, ref_name = side(project, reference, "--reference")
    cur, cur_name = side(project, current, "--current")
    out = compare_frames(project, ref, cur, columns=columns, text_columns=text_columns, seed=seed)
    return {"reference": ref_name, "current": cur_name, **out}


def write_html(result: dict[str, Any], path: Path) -> Path:
    """The drift report as a standalone HTML page."""
    from truthset.reports import render_drift_report

    path = Path(path)
    path.write_text(
        render_drift_report({**result, "generated": utcnow().strftime("%Y-%m-%d %H:%M UTC")}), encoding="utf-8"
    )
    return path


def _summary(result: dict[str, Any]) -> str:
    lines = [
        f"Batch compared with {result['reference']} ({result['n_reference']:,} rows against "
        f"{result['n_current']:,}): {result['n_drifted_columns']} of {result['n_columns']} column(s) drifted.",
        "",
    ]
    for c in result["columns"]:
        if c["drift"]:
            lines.append(f"- {c['column']}: {c['method']} {c['score']:.4g} (threshold {c['threshold']})")
    lines += ["", "Thresholds: 'drift:' in truthset.yaml. Details: truthset drift --reference ... --current ..."]
    return "\n".join(lines)


def after_import(project: Project, batch_id: int | None, items_added: int) -> dict[str, Any] | None:
    """After an import: compare the new batch with the earlier ones and raise a drift issue when
    the data set drifted. None when off (``drift.on_import``), when there is nothing to compare,
    or when the two share no column; never fails the import, which has already committed."""
    if (
        batch_id is None
        or items_added <= 0
        or not project.config.drift.on_import
        or project.task == "image-classification"
    ):  # payloads are image paths: nothing to compare
        return None
    with project.store.read() as tx:
        earlier = [int(b.id) for b in repo.batches(tx, project.id) if b.id < batch_id and b.items_added]
    if not earlier:
        return None
    try:
        ref = batch_frame(project, earlier, last=AUTO_REFERENCE_ROWS)
        cur = batch_frame(project, [batch_id])
        result = {
            "reference": "batch " + ",".join(map(str, earlier)),
            "current": f"batch {batch_id}",
            **compare_frames(project, ref, cur),
        }
    except TruthsetError:
        return None
    if result["drift"]:
        drifted = [c["column"] for c in result["columns"] if c["drift"]]
        issue, _ = data_issues.raise_issue(
            project,
            fingerprint=f"drift:batch:{batch_id}",
            kind="drift",
            source="drift",
            severity="high",
            title=f"batch {batch_id} drifted from the earlier batches ({', '.join(dict.fromkeys(drifted))})",
            body=_summary(result),
            links=[("batch", str(batch_id))],
        )
        result["issue"] = issue
    return result


def labelling(project: Project, reference_version: int, current_version: int) -> dict[str, Any]:
    """Labelling drift between the judgements made under two schema versions: the label
    distribution overall and each annotator's (:func:`truthset.data.label_drift.labelling_drift`).
    A change in one annotator alone points at that annotator; in everyone at the guide or the data."""
    from truthset.data.label_drift import labelling_drift

    with project.store.read() as tx:
        rows = repo.versioned_labels(tx, project.id, ANNOTATING_SOURCES)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["item", "annotator", "label", "version"])
    sides = []
    for option, version in (("--from-version", reference_version), ("--to-version", current_version)):
        part = frame[frame["version"] == version]
        if part.empty:
            have = sorted(int(v) for v in frame["version"].unique())
            raise InvalidInput(
                f"{option} {version}: no judgement was made under schema version {version}; "
                f"judgements exist under {have or 'no version yet'}"
            )
        sides.append(part[["item", "annotator", "label"]])
    result = labelling_drift(
        sides[0],
        sides[1],
        thresholds=thresholds(project),
        min_annotations=project.config.anomalies.label_shift_min_count,
    )
    return {
        "reference_version": reference_version,
        "current_version": current_version,
        "n_reference": len(sides[0]),
        "n_current": len(sides[1]),
        **result.to_dict(),
    }
