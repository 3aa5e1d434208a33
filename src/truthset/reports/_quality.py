"""The page model of the stakeholder quality report (``truthset report quality``).

Input (a dict; dataclasses such as :class:`~truthset.quality.AgreementCI` and
:class:`~truthset.quality.AcceptanceDecision` are accepted where a dict is shown)::

    {"batches": [Batch, ...],                              # required (may be empty)
     "project": "sms", "title": "...", "generated": "...", "period": "week 10",
     "previous_period": "week 9",
     "summary": ["Agreement held at 0.81 ...", ...],        # sentences, shown first
     "labelled": {"items": 5574, "items_done": 5000, "annotations": 15400,
                  "annotators": 12, "by_label": {"ham": 4300, "spam": 700}},
     "agreement_metric": "krippendorff_alpha", "gold_threshold": 0.8,
     "throughput": [{"day": "2025-03-01", "annotations": 120}, ...],
     "annotators": [{"annotator": "ann", "annotations": 300, "agreement": 0.8,
                     "agreement_ci_low": 0.7, "agreement_ci_high": 0.9, ...}, ...],
     "risks": ["..." | {"title": "...", "detail": "...", "severity": "high"}],
     "bottlenecks": [same as risks],
     "issues": [{"id": 7, "kind": "guideline gap", "severity": "high", "status": "open",
                 "owner": "lee", "title": "...", "opened": "2025-02-27"}, ...],
     "changes": ["..." | {"what": "agreement", "before": 0.84, "after": 0.79, "note": "..."}],
     "checks": [{"check": "label_issues", "severity": "warning", "open_findings": 40,
                 "judged_findings": 10, "items": 50, "sent_to_review": 12, "checked": "..."}, ...],
     "model": {"run": 4, "created": "...", "n_test": 1100,
               "metrics": [{"metric": "accuracy", "value": 0.97, "value_ci_low": 0.96,
                            "value_ci_high": 0.98}, ...]}}

    Batch = {"batch": "b1", "items": 500, "done": 480, "annotations": 1500,
             "agreement": {"value": 0.81, "ci_low": 0.77, "ci_high": 0.85},
             "gold": {"accuracy": 0.93, "ci_low": 0.88, "ci_high": 0.96, "n_gold": 120},
             "acceptance": {"accepted": True, "error_rate": 0.02, "ci_low": .., "ci_high": ..,
                            "upper_bound": 0.049, "max_error_rate": 0.05,
                            "n_reviewed": 59, "n_errors": 1}}

Why this order: a stakeholder reads the verdicts (summary, headline numbers, which batches
passed) before the evidence (per-batch intervals and charts), and what needs a decision
(risks, bottlenecks, open issues) before the history (changes since the last report).
"""

from __future__ import annotations

from typing import Any

from truthset.reports import plots
from truthset.reports._common import Figures, columns_of, counts, items_of
from truthset.reports._format import as_records, fmt_num, plain, require


def _interval(value: Any, key: str) -> dict[str, Any] | None:
    """``{"value", "ci_low", "ci_high", ...}`` from a dict (``value`` or ``key``) or a number."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return {"value": value, "ci_low": None, "ci_high": None}
    v = dict(value)
    v["value"] = v.get("value", v.get(key))
    v.setdefault("ci_low", None)
    v.setdefault("ci_high", None)
    return v


def _batch(b: dict[str, Any]) -> dict[str, Any]:
    require(b, ("batch",), "each batch of the quality report")
    acc = b.get("acceptance")
    return {
        "batch": str(b["batch"]),
        "items": b.get("items"),
        "done": b.get("done"),
        "annotations": b.get("annotations"),
        "agreement": _interval(b.get("agreement"), "value"),
        "gold": _interval(b.get("gold"), "accuracy"),
        "acceptance": dict(acc) if isinstance(acc, dict) else None,
    }


def _notes(value: Any) -> list[dict[str, Any]]:
    out = []
    for x in items_of(value):
        if isinstance(x, dict):
            out.append(
                {
                    "title": x.get("title") or x.get("risk") or x.get("what"),
                    "detail": x.get("detail"),
                    "severity": x.get("severity"),
                }
            )
        else:
            out.append({"title": str(x), "detail": None, "severity": None})
    return out


def _changes(value: Any) -> list[dict[str, Any]]:
    out = []
    for x in items_of(value):
        if not isinstance(x, dict):
            out.append({"what": str(x), "before": None, "after": None, "delta": None, "note": None})
            continue
        before, after = x.get("before"), x.get("after")
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after))
        delta = after - before if numeric else None  # type: ignore[operator]
        out.append(
            {
                "what": x.get("what"),
                "before": before,
                "after": after,
                "delta": None if delta is None else ("+" if delta >= 0 else "") + fmt_num(delta),
                "note": x.get("note"),
            }
        )
    return out


def _band_chart(
    figs: Figures,
    batches: list[dict[str, Any]],
    key: str,
    title: str,
    ylabel: str,
    reference: float | None = None,
    ref_label: str = "",
) -> Any:
    rows = [b for b in batches if b[key] and b[key].get("value") is not None]
    if len(rows) < 2:
        return None
    series = {
        "name": ylabel,
        "y": [b[key]["value"] for b in rows],
        "ci_low": [b[key]["ci_low"] for b in rows],
        "ci_high": [b[key]["ci_high"] for b in rows],
    }
    return figs(
        plots.line_chart,
        [b["batch"] for b in rows],
        series,
        title=title,
        xlabel="batch",
        ylabel=ylabel,
        reference=reference,
        reference_label=ref_label,
    )


def quality_view(report: Any) -> dict[str, Any]:
    """The template context of ``quality.html`` (see the module docstring for the input)."""
    r = plain(report)
    require(r, ("batches",), "the quality report")
    figs = Figures("quality")
    batches = [_batch(b) for b in as_records(r["batches"])]
    labelled = dict(r.get("labelled") or {})
    by_label = counts(labelled.pop("by_label", None))
    metric = r.get("agreement_metric") or "agreement"
    threshold = r.get("gold_threshold")
    reviewed = [b for b in batches if b["acceptance"]]
    for b in reviewed:
        b["acceptance"]["error"] = {
            "value": b["acceptance"].get("error_rate"),
            "ci_low": b["acceptance"].get("ci_low"),
            "ci_high": b["acceptance"].get("ci_high"),
        }
    limit = next((b["acceptance"].get("max_error_rate") for b in reviewed), None)
    throughput = as_records(r.get("throughput"))
    issues = as_records(r.get("issues"))
    charts = {
        "agreement": _band_chart(figs, batches, "agreement", f"Agreement per batch ({metric})", metric),
        "gold": _band_chart(
            figs,
            batches,
            "gold",
            "Gold accuracy per batch",
            "gold accuracy",
            threshold,
            "" if threshold is None else f"pass mark {threshold:g}",
        ),
        "errors": _band_chart(
            figs,
            [{"batch": b["batch"], "error": b["acceptance"]["error"]} for b in reviewed],
            "error",
            "Error rate found in review, per batch",
            "error rate",
            limit,
            "" if limit is None else f"limit {limit:g}",
        ),
        "throughput": figs(
            plots.line_chart,
            [str(t.get("day")) for t in throughput],
            {"name": "annotations", "y": [t.get("annotations") for t in throughput]},
            title="Annotations per day",
            ylabel="annotations",
        )
        if len(throughput) > 1
        else None,
        "labels": figs(
            plots.bar_chart, [k for k, _ in by_label], [v for _, v in by_label], title="Labels so far", xlabel="items"
        )
        if by_label
        else None,
    }
    annotators = as_records(r.get("annotators"))
    accepted = sum(1 for b in reviewed if b["acceptance"].get("accepted"))
    open_issues = [
        i for i in issues if str(i.get("status", "open")).lower() not in ("resolved", "wont-fix", "won't fix", "closed")
    ]
    headline = [
        (
            "items labelled",
            f"{fmt_num(labelled.get('items_done'))} of {fmt_num(labelled.get('items'))}"
            if "items_done" in labelled
            else fmt_num(labelled.get("items")),
        ),
        ("annotations", fmt_num(labelled.get("annotations"))),
        ("annotators", fmt_num(labelled.get("annotators"))),
        ("batches accepted", f"{accepted} of {len(reviewed)} reviewed"),
        ("open data issues", fmt_num(len(open_issues))),
    ]
    project, period = r.get("project"), r.get("period")
    sections = [
        ("summary", "Summary"),
        ("labelled", "What was labelled"),
        ("batches", "Batches"),
        ("risks", "Risks and bottlenecks"),
        ("issues", "Open data issues"),
        ("changes", "Changes since the last report"),
    ]
    if annotators:
        sections.insert(3, ("annotators", "Annotators"))
    checks = as_records(r.get("checks"))
    model = r.get("model") or None
    if checks:
        sections.insert(sections.index(("issues", "Open data issues")) + 1, ("checks", "Data checks"))
    if model:
        sections.insert(sections.index(("changes", "Changes since the last report")), ("model", "Latest model"))
    return {
        "kind": "quality",
        "kind_name": "quality report",
        "title": r.get("title") or (f"Quality report: {project}" if project else "Quality report"),
        "subtitle": " · ".join(
            x
            for x in (
                period and f"Period: {period}",
                r.get("previous_period") and f"compared with {r['previous_period']}",
            )
            if x
        ),
        "generated": r.get("generated"),
        "toc": sections,
        "summary": items_of(r.get("summary")),
        "headline": headline,
        "labelled": labelled,
        "by_label": [{"label": k, "count": v} for k, v in by_label],
        "batches": batches,
        "metric": metric,
        "threshold": threshold,
        "charts": charts,
        "annotators": annotators,
        "annotator_columns": columns_of(annotators),
        "risks": _notes(r.get("risks")),
        "bottlenecks": _notes(r.get("bottlenecks")),
        "issues": open_issues,
        "n_closed": len(issues) - len(open_issues),
        "issue_columns": columns_of(open_issues, skip=("status",)),
        "changes": _changes(r.get("changes")),
        "checks": checks,
        "model": model,
    }
