"""What the data checks and the training runs add to the stakeholder reports.

:mod:`truthset.services.reporting` builds the quality report and the data card; this module
gives them the facts of the other two workflows: the findings of ``truthset check`` (open
findings per check for the quality report; exact and near duplicate clusters, label conflicts
and copies across splits for the data card) and the latest training run of ``truthset train``
(its frozen train / validation / test split for the data card, its headline metrics with
their bootstrap intervals for the quality report).
"""

from __future__ import annotations

import json
from typing import Any

from truthset.core.errors import NotFound
from truthset.services.projects import Project
from truthset.services.run_records import get_run
from truthset.store.models import as_utc
from truthset.store.repo import findings as repo_findings
from truthset.store.repo import reporting as repo

#: checks that find duplicated data (the data card's duplicates section), in report order
DUPLICATE_CHECKS = {
    "exact_duplicates": "exact duplicates (same normalised text)",
    "near_duplicates": "near duplicates (small edits)",
    "label_conflicts": "copies with conflicting labels",
    "leakage": "copies across splits",
}
#: clusters listed per duplicate check
MAX_CLUSTERS = 10
#: metrics of a run the quality report shows, in this order, where the run has them
HEADLINE_METRICS = ("accuracy", "macro_f1", "micro_f1", "mcc", "roc_auc", "pr_auc", "ece")


def check_rows(project: Project) -> list[dict[str, Any]]:
    """One row per data check with findings: open (no verdict yet) and judged findings, the
    items they concern, how many were sent to review, and when the check last wrote them."""
    with project.store.read() as tx:
        rows = repo.check_summary(tx, project.id)
    return [
        {
            "check": str(r.check),
            "severity": str(r.severity),
            "open_findings": int(r.open or 0),
            "judged_findings": int(r.findings) - int(r.open or 0),
            "items": int(r.items or 0),
            "sent_to_review": int(r.sent or 0),
            "checked": as_utc(r.checked_at).strftime("%Y-%m-%d %H:%M"),
        }
        for r in rows
    ]


def duplicate_facts(project: Project) -> dict[str, Any]:
    """The duplicates the latest ``truthset check`` found: per duplicate check the clusters and
    items, and the first clusters of exact and near duplicates by external id."""
    by_check = {r["check"]: r for r in check_rows(project)}
    counts: dict[str, Any] = {}
    clusters: list[dict[str, Any]] = []
    with project.store.read() as tx:
        for check, what in DUPLICATE_CHECKS.items():
            if check not in by_check:
                continue
            row = by_check[check]
            found = repo_findings.findings(tx, project.id, check=check)
            counts[what] = f"{len(found):,} cluster(s), {row['items']:,} item(s) (checked {row['checked']})"
            if check in ("exact_duplicates", "near_duplicates"):
                for f in found[:MAX_CLUSTERS]:
                    detail = json.loads(f.detail or "{}")
                    ids = [str(i) for i in detail.get("ids", [])]
                    clusters.append(
                        {
                            "kind": check.replace("_", " "),
                            "items": int(f.n_items),
                            "ids": ", ".join(ids[:8]) + (" …" if int(f.n_items) > 8 else ""),
                        }
                    )
    return {"counts": counts, "clusters": clusters, "checked": bool(by_check)}


def latest_run(project: Project) -> dict[str, Any] | None:
    """The latest training run's split (sizes per side, how it was made) and headline metrics
    with their intervals; None when the project has no training run."""
    try:
        run = get_run(project)
    except NotFound:
        return None
    split = run.get("split") or {}
    description = split.get("description") or {}
    sizes = [
        {"side": name, "items": len(split.get(side) or [])}
        for side, name in (("train", "train"), ("val", "validation"), ("test", "test"))
    ]
    metrics = run.get("metrics") or {}
    headline = []
    for name in HEADLINE_METRICS:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            headline.append(
                {
                    "metric": name,
                    "value": value,
                    "value_ci_low": metrics.get(f"{name}_ci_low"),
                    "value_ci_high": metrics.get(f"{name}_ci_high"),
                }
            )
    method = str(description.get("method", "unknown"))
    created = run.get("created_at")
    return {
        "run": int(run["id"]),
        "created": as_utc(created).strftime("%Y-%m-%d %H:%M") if created else None,
        "method": method,
        "seed": description.get("seed", run.get("seed")),
        "frozen_test": method == "frozen_test",
        "sizes": sizes,
        "n_test": metrics.get("n_test", sizes[2]["items"]),
        "metrics": headline,
        "dataset_hash": str(run.get("dataset_hash", ""))[:12],
    }
