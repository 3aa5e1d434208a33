"""The facts behind the stakeholder reports; :mod:`truthset.reports` renders them.

:func:`quality_facts` (``truthset report quality``): what was labelled, agreement and gold
accuracy per batch with intervals, annotators, risks and bottlenecks, open data issues, and
what changed since the last report (each report's headline numbers are kept as a run).
:func:`data_card_facts` (``truthset report data-card``): sources, collection, schema and its
versions, splits, duplicates and known limitations. :func:`demo_step` writes both for
``truthset demo``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from truthset.data.mapping import ANNOTATING_SOURCES
from truthset.services import data_issues, report_checks
from truthset.services.projects import Project, schema_history
from truthset.store.models import as_utc, utcnow
from truthset.store.repo import reporting as repo
from truthset.store.repo import watch

METRIC = "krippendorff_alpha"
N_BOOT = 300


def _judgements(project: Project) -> pd.DataFrame:
    with project.store.read() as tx:
        rows = watch.process_rows(tx, project.id, ANNOTATING_SOURCES)
    df = pd.DataFrame(
        [tuple(r) for r in rows], columns=["item", "annotator", "label", "lead_time", "created_at", "batch", "gold"]
    )
    # one judgement per annotator and item: the latest (as services.qc)
    return df.drop_duplicates(["item", "annotator"], keep="last").reset_index(drop=True)


def _round(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _agreement(df: pd.DataFrame) -> dict[str, Any] | None:
    """Krippendorff's alpha over items with 2+ judgements, with a bootstrap interval."""
    from truthset.quality import agreement_ci

    sizes = df.groupby("item")["annotator"].transform("size")
    multi = df[sizes >= 2]
    if multi["item"].nunique() < 2 or multi["label"].nunique() < 2:
        return None
    ci = agreement_ci(METRIC, multi[["item", "annotator", "label"]], n_boot=N_BOOT, seed=0, level="nominal")
    return {
        "value": _round(ci.value),
        "ci_low": _round(ci.ci_low),
        "ci_high": _round(ci.ci_high),
        "items": int(multi["item"].nunique()),
    }


def _gold(df: pd.DataFrame) -> dict[str, Any] | None:
    """Accuracy of the judgements on gold items, with a Wilson interval."""
    from truthset.quality.reliability import wilson_interval

    on_gold = df[df["gold"].notna()]
    if on_gold.empty:
        return None
    right = int((on_gold["label"] == on_gold["gold"]).sum())
    lo, hi = wilson_interval(right, len(on_gold))
    return {
        "accuracy": _round(right / len(on_gold)),
        "ci_low": _round(float(lo)),
        "ci_high": _round(float(hi)),
        "n_gold": int(len(on_gold)),
    }


def _final_labels(df: pd.DataFrame) -> pd.Series:
    """Each judged item's most common label (ties: the first given)."""
    if df.empty:
        return pd.Series(dtype=object)
    return df.groupby("item")["label"].agg(lambda s: Counter(s).most_common(1)[0][0])


def _annotators(df: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    out = []
    for name, part in df.groupby("annotator", sort=True):
        gold = _gold(part)
        lead = part["lead_time"].dropna()
        out.append(
            {
                "annotator": str(name),
                "annotations": int(len(part)),
                "median_seconds": _round(float(lead.median())) if len(lead) else None,
                "gold_accuracy": None if gold is None else gold["accuracy"],
                "gold_accuracy_ci_low": None if gold is None else gold["ci_low"],
                "gold_accuracy_ci_high": None if gold is None else gold["ci_high"],
                "n_gold": 0 if gold is None else gold["n_gold"],
                "below_gold_threshold": bool(
                    gold is not None and gold["ci_high"] is not None and gold["ci_high"] < threshold
                ),
            }
        )
    return out


def _acceptance(verdicts: list[Any], batch_id: int, batch_size: int, max_error_rate: float) -> dict[str, Any] | None:
    """A batch's acceptance verdict from its reviewed items: an item is an error when its latest
    review rejected or corrected it; None when nothing of the batch was reviewed."""
    from truthset.quality import acceptance_decision

    latest = {int(v.item_id): v.verdict for v in verdicts if v.batch_id == batch_id and v.verdict != "adjudicate"}
    if not latest:
        return None
    errors = sum(1 for v in latest.values() if v in ("reject", "correct"))
    d = acceptance_decision(len(latest), errors, max_error_rate=max_error_rate, batch_size=max(batch_size, len(latest)))
    return {
        "accepted": bool(d.accepted),
        "error_rate": _round(d.error_rate),
        "ci_low": _round(d.ci_low),
        "ci_high": _round(d.ci_high),
        "upper_bound": _round(d.upper_bound),
        "max_error_rate": max_error_rate,
        "n_reviewed": d.n_reviewed,
        "n_errors": d.n_errors,
    }


def quality_facts(project: Project, *, record: bool = True, max_error_rate: float = 0.05) -> dict[str, Any]:
    """Everything the quality report shows, as plain values; ``record`` keeps its headline
    numbers for the next report's "changes since the last report". A batch whose items were
    reviewed gets an acceptance verdict: accepted when its error rate is at most
    ``max_error_rate`` with 95 % confidence."""
    now = utcnow()
    df = _judgements(project)
    with project.store.read() as tx:
        batch_rows = repo.batches(tx, project.id)
        item_rows = repo.items(tx, project.id)
        previous = repo.last_report(tx, project.id)
        verdicts = repo.review_verdicts(tx, project.id)
    issues = data_issues.list_issues(project, open_only=True)
    threshold = project.config.quality.gold_threshold
    judged = set(df["item"]) if len(df) else set()
    batches: list[dict[str, Any]] = []
    for b in batch_rows:
        ids = {r.id for r in item_rows if r.batch_id == b.id}
        part = df[df["item"].isin(ids)]
        batches.append(
            {
                "batch": f"{b.id}: {Path(b.source).name}",
                "items": len(ids),
                "done": len(ids & judged),
                "annotations": int(len(part)),
                "agreement": _agreement(part),
                "gold": _gold(part),
                "acceptance": _acceptance(verdicts, b.id, len(ids), max_error_rate),
            }
        )
    labels = _final_labels(df)
    annotators = _annotators(df, threshold)
    overall = _agreement(df)
    day = pd.to_datetime(df["created_at"], utc=True).dt.strftime("%Y-%m-%d") if len(df) else pd.Series(dtype=str)
    throughput = [{"day": d, "annotations": int(n)} for d, n in day.value_counts().sort_index().items()]
    headline = {
        "items": len(item_rows),
        "items_done": len(judged),
        "annotations": int(len(df)),
        "agreement": None if overall is None else overall["value"],
        "open_issues": len(issues),
    }
    risks = [
        {
            "title": f"#{i['id']} {i['title']}",
            "detail": f"{i['kind'].replace('_', ' ')}, {i['status']}, owner {i['owner'] or 'nobody'}",
            "severity": i["severity"],
        }
        for i in issues
        if i["severity"] in ("high", "critical")
    ]
    risks += [
        {
            "title": f"batch {b['batch']} failed acceptance",
            "detail": f"{b['acceptance']['n_errors']} errors in {b['acceptance']['n_reviewed']} reviewed items; "
            f"error rate up to {b['acceptance']['upper_bound']} (limit {max_error_rate})",
            "severity": "high",
        }
        for b in batches
        if b["acceptance"] and not b["acceptance"]["accepted"]
    ]
    risks += [
        {
            "title": f"annotator {a['annotator']} is below the gold pass mark",
            "detail": f"gold accuracy {a['gold_accuracy']} (interval up to {a['gold_accuracy_ci_high']}) on "
            f"{a['n_gold']} gold answers; pass mark {threshold}",
            "severity": "high",
        }
        for a in annotators
        if a["below_gold_threshold"]
    ]
    open_items = sum(1 for r in item_rows if not r.full and r.id not in judged)
    bottlenecks = []
    if open_items:
        bottlenecks.append({"title": f"{open_items:,} items have no judgement yet", "detail": None, "severity": None})
    unowned = [i for i in issues if not i["owner"]]
    if unowned:
        bottlenecks.append(
            {
                "title": f"{len(unowned)} open data issue(s) have no owner",
                "detail": "assign them in the web app (Issues) or with 'truthset issues assign'",
                "severity": "medium",
            }
        )
    if len(df):
        idle = (now - as_utc(pd.Timestamp(df["created_at"].max()).to_pydatetime())).total_seconds() / 3600
        if idle >= project.config.anomalies.stall_hours and open_items:
            bottlenecks.append({"title": f"no annotation for {idle:.0f} hours", "detail": None, "severity": "high"})
    changes = []
    if previous is not None:
        for key, what in (
            ("items_done", "items labelled"),
            ("annotations", "annotations"),
            ("agreement", "agreement (alpha)"),
            ("open_issues", "open data issues"),
        ):
            changes.append({"what": what, "before": previous[1].get(key), "after": headline[key]})
    summary = [
        f"{len(judged):,} of {len(item_rows):,} items have at least one judgement "
        f"({len(df):,} judgements by {df['annotator'].nunique() if len(df) else 0} annotators)."
    ]
    if overall is not None:
        summary.append(
            f"Agreement (Krippendorff's alpha) over items judged twice or more: {overall['value']} "
            f"(95% interval {overall['ci_low']} to {overall['ci_high']})."
        )
    summary.append(f"{len(issues)} open data issue(s), {len(risks)} risk(s) named below.")
    checks = report_checks.check_rows(project)
    model = report_checks.latest_run(project)
    if checks:
        summary.append(
            f"{sum(c['open_findings'] for c in checks):,} open finding(s) of the data checks, "
            f"{sum(1 for c in checks if c['open_findings'])} check(s) with open findings."
        )
    if model is not None and model["metrics"]:
        m = model["metrics"][0]
        interval = (
            f" (95% interval {_round(m['value_ci_low'])} to {_round(m['value_ci_high'])})"
            if m["value_ci_low"] is not None
            else ""
        )
        summary.append(
            f"Latest baseline (run {model['run']}): {m['metric'].replace('_', ' ')} {_round(m['value'])}"
            f"{interval} on {model['n_test']:,} test items."
        )
    facts = {
        "project": project.config.name,
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "period": now.strftime("%Y-%m-%d"),
        "previous_period": None if previous is None else as_utc(previous[0]).strftime("%Y-%m-%d %H:%M UTC"),
        "summary": summary,
        "labelled": {
            "items": len(item_rows),
            "items_done": len(judged),
            "annotations": int(len(df)),
            "annotators": int(df["annotator"].nunique()) if len(df) else 0,
            "by_label": {str(k): int(v) for k, v in labels.value_counts().items()},
        },
        "agreement_metric": METRIC,
        "gold_threshold": threshold,
        "throughput": throughput,
        "annotators": annotators,
        "batches": batches,
        "risks": risks,
        "bottlenecks": bottlenecks,
        "issues": [
            {
                "id": i["id"],
                "kind": i["kind"].replace("_", " "),
                "severity": i["severity"],
                "status": i["status"],
                "owner": i["owner"] or "—",
                "title": i["title"],
                "opened": i["created_at"][:10],
            }
            for i in issues
        ],
        "changes": changes,
        "checks": checks,
        "model": model,
    }
    if record:
        with project.store.write() as tx:
            repo.add_report(tx, project.id, headline, now)
    return facts


def data_card_facts(project: Project) -> dict[str, Any]:
    """Everything the data card shows, as plain values."""
    df = _judgements(project)
    with project.store.read() as tx:
        batch_rows = repo.batches(tx, project.id)
        item_rows = repo.items(tx, project.id)
        findings = repo.finding_counts(tx, project.id)
        n_gold = repo.gold_count(tx, project.id)
    labels = _final_labels(df)
    schema = project.config.schema
    versions = schema_history(project)
    per_item = df.groupby("item")["annotator"].size() if len(df) else pd.Series(dtype=int)
    splits: dict[str, dict[str, Any]] = {}
    for r in item_rows:
        s = splits.setdefault(
            r.split or "unassigned", {"split": r.split or "unassigned", "items": 0, "labels": Counter()}
        )
        s["items"] += 1
        if r.id in labels.index:
            s["labels"][str(labels.loc[r.id])] += 1
    unlabelled = len(item_rows) - len(labels)
    single = int((per_item == 1).sum())
    limitations = []
    if unlabelled:
        limitations.append(f"{unlabelled:,} of {len(item_rows):,} items have no label yet.")
    if single:
        limitations.append(f"{single:,} labelled items have a single judgement: no agreement can be measured on them.")
    for issue in data_issues.list_issues(project, open_only=True):
        if issue["kind"] in ("broken_data", "duplicate", "drift", "ambiguous_definition", "guideline_gap"):
            limitations.append(f"Open data issue #{issue['id']} ({issue['kind'].replace('_', ' ')}): {issue['title']}")
    if not n_gold:
        limitations.append("No gold items: annotator accuracy is not measured against known answers.")
    dups = report_checks.duplicate_facts(project)
    if not dups["checked"]:
        limitations.append(
            "No data check has run: near duplicates, label conflicts and leakage are not known (run 'truthset check')."
        )
    model = report_checks.latest_run(project)
    return {
        "name": project.config.name,
        "generated": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "description": schema.instructions or f"A {project.task} data set labelled with truthset.",
        "summary": {
            "items": len(item_rows),
            "labelled items": len(labels),
            "judgements": int(len(df)),
            "annotators": int(df["annotator"].nunique()) if len(df) else 0,
            "labels": len(schema.labels),
            "batches": len(batch_rows),
            "gold items": n_gold,
        },
        "sources": [
            {
                "source": Path(b.source).name,
                "format": b.format,
                "rows": b.rows_read,
                "items added": b.items_added,
                "duplicates": b.duplicates,
                "rejected": b.rejected,
                "imported": as_utc(b.created_at).strftime("%Y-%m-%d"),
            }
            for b in batch_rows
        ],
        "collection": {
            "task": project.task,
            "judgements wanted per item": project.config.queue.overlap,
            "hidden gold rate": project.config.queue.gold_rate,
            "review stages": ", ".join(project.config.review.stages) or "none",
            "median judgements per labelled item": float(per_item.median()) if len(per_item) else None,
        },
        "schema": {
            "version": project.schema_version,
            "labels": [{"name": lab.name, "description": lab.definition or None} for lab in schema.labels],
            "versions": [
                {
                    "version": v["version"],
                    "created": v["created_at"][:10],
                    "change": ", ".join(f"{k}: {val}" for k, val in v["note"].items()) or "—",
                    "labels": ", ".join(v["labels"]),
                }
                for v in versions
            ],
        },
        "splits": [{**s, "labels": dict(s["labels"])} for s in splits.values()],
        "label_distribution": {str(k): int(v) for k, v in labels.value_counts().items()},
        "duplicates": {
            "exact (merged at import)": sum(int(b.duplicates) for b in batch_rows),
            "conflicting rows at import": findings.get("conflict", 0),
            "rejected rows": findings.get("rejected", 0),
            **dups["counts"],
            "notes": "Identical rows are merged by content hash when importing; the data checks "
            "('truthset check') find the same text under different ids, near duplicates and "
            "copies across splits.",
        },
        "duplicate_clusters": dups["clusters"],
        "model_split": model,
        "limitations": limitations,
    }


def write_quality_report(
    project: Project, html_path: Path, *, pdf_path: Path | None = None, max_error_rate: float = 0.05
) -> dict[str, Any]:
    """Render the quality report to ``html_path`` (and print it to ``pdf_path``); returns the facts."""
    from truthset.reports import render_quality_report, to_pdf

    facts = quality_facts(project, max_error_rate=max_error_rate)
    page = render_quality_report(facts)
    Path(html_path).write_text(page, encoding="utf-8")
    if pdf_path is not None:
        to_pdf(page, pdf_path)
    return facts


def write_data_card(project: Project, html_path: Path) -> dict[str, Any]:
    """Render the data card to ``html_path``; returns the facts."""
    from truthset.reports import render_data_card

    facts = data_card_facts(project)
    Path(html_path).write_text(render_data_card(facts), encoding="utf-8")
    return facts


def demo_step(project: Project) -> dict[str, Any]:
    """For ``truthset demo``: write the quality report and the data card into the project folder."""
    folder = project.root / "reports"
    folder.mkdir(exist_ok=True)
    quality, card = folder / "quality-report.html", folder / "data-card.html"
    write_quality_report(project, quality)
    write_data_card(project, card)
    return {"quality_report": str(quality), "data_card": str(card)}
