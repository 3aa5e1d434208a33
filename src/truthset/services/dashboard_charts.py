"""The dashboard's charts: inline SVG drawn on the server (``truthset.reports.plots``), no script.

Takes the plain dict :func:`truthset.services.dashboard.dashboard` returns and gives
``{name: svg}``; a chart with nothing to show is left out (the page says so instead).
"""

from __future__ import annotations

from typing import Any

from truthset.reports import plots

#: lines drawn at most in one chart (the busiest annotators / most frequent labels)
MAX_LINES = 6


def _interval_chart(
    rows: list[dict[str, Any]], key: str, value: str, *, title: str, ylabel: str, ident: str, prefix: str = ""
) -> str | None:
    rows = [r for r in rows if r.get(value) is not None]
    if len(rows) < 2:  # one point is no trend: the page's table shows it
        return None
    x = [f"{prefix}{r[key]}" for r in rows]
    series = {
        "name": ylabel,
        "y": [r[value] for r in rows],
        "ci_low": [r["ci_low"] for r in rows],
        "ci_high": [r["ci_high"] for r in rows],
    }
    return plots.line_chart(x, series, title=title, ylabel=ylabel, ylim=(min(0.0, *series["ci_low"]), 1.0), ident=ident)


def _shares(counts: dict[str, dict[str, int]], *, title: str, ident: str, prefix: str = "") -> str | None:
    if len(counts) < 2:  # one week or version: the page's table shows it
        return None
    keys = sorted(counts)
    totals = {k: sum(counts[k].values()) or 1 for k in keys}
    overall: dict[str, int] = {}
    for per in counts.values():
        for label, n in per.items():
            overall[label] = overall.get(label, 0) + n
    labels = sorted(overall, key=lambda lb: -overall[lb])[:MAX_LINES]
    series = [{"name": lb, "y": [counts[k].get(lb, 0) / totals[k] for k in keys]} for lb in labels]
    return plots.line_chart(
        [f"{prefix}{k}" for k in keys], series, title=title, ylabel="share of judgements", ylim=(0.0, 1.0), ident=ident
    )


def dashboard_charts(d: dict[str, Any]) -> dict[str, str]:
    """The SVG charts of a dashboard: progress, throughput, agreement, gold, label shares."""
    charts: dict[str, str | None] = {}
    batches = [b for b in d["batches"] if b["needed"]]
    if batches:
        charts["progress"] = plots.bar_chart(
            [
                f"batch {b['batch']} {b['source'] or ''}".strip() + (" (at risk)" if b["at_risk"] else "")
                for b in batches
            ],
            [round(100 * b["done"] / b["needed"], 1) for b in batches],
            title="Judgements done per batch",
            xlabel="% of items x overlap",
            ident="dash-progress",
        )
    if d["throughput"]:
        days = sorted({t["day"] for t in d["throughput"]})
        per: dict[str, dict[str, int]] = {}
        for t in d["throughput"]:
            per.setdefault(t["annotator"], {})[t["day"]] = t["annotations"]
        busiest = sorted(per, key=lambda a: -sum(per[a].values()))[:MAX_LINES]
        charts["throughput"] = plots.line_chart(
            days,
            [{"name": a, "y": [per[a].get(day, 0) for day in days]} for a in busiest],
            title="Judgements per annotator and day",
            ylabel="judgements",
            ident="dash-throughput",
        )
    charts["agreement_by_batch"] = _interval_chart(
        d["agreement_by_batch"],
        "batch",
        "alpha",
        title="Agreement per batch (Krippendorff's alpha, 95% CI)",
        ylabel="alpha",
        ident="dash-agree-batch",
        prefix="batch ",
    )
    charts["agreement_by_week"] = _interval_chart(
        d["agreement_by_week"],
        "week",
        "alpha",
        title="Agreement per week (Krippendorff's alpha, 95% CI)",
        ylabel="alpha",
        ident="dash-agree-week",
    )
    charts["gold_by_batch"] = _interval_chart(
        d["gold_by_batch"],
        "batch",
        "accuracy",
        title="Gold accuracy per batch (95% Wilson CI)",
        ylabel="accuracy",
        ident="dash-gold-batch",
        prefix="batch ",
    )
    charts["gold_by_week"] = _interval_chart(
        d["gold_by_week"],
        "week",
        "accuracy",
        title="Gold accuracy per week (95% Wilson CI)",
        ylabel="accuracy",
        ident="dash-gold-week",
    )
    charts["labels_by_week"] = _shares(d["labels_by_week"], title="Label shares per week", ident="dash-labels-week")
    charts["labels_by_schema_version"] = _shares(
        d["labels_by_schema_version"],
        prefix="schema v",
        title="Label shares per guideline (schema) version",
        ident="dash-labels-version",
    )
    return {k: v for k, v in charts.items() if v is not None}
