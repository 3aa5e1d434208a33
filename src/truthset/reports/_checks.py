"""The page model of the data-check report (``truthset check -o check.html``).

Input (the same dict ``truthset check --json`` prints)::

    {"findings": [Finding, ...],                       # required
     "project": "sms", "title": "...", "generated": "...", "n_items": 5574,   # optional
     "gate": {"passed": False, "blocking_failed": 1}}  # derived from the findings when absent

    Finding = {"check": "exact_duplicates",            # required: the check's name
               "severity": "blocking",                 # required: blocking | error | warning
                                                       #   | info (high/medium/low accepted)
               "count": 403,                           # required: items (or groups) flagged
               "title": "Same text under two ids", "kind": "duplicate", "message": "...",
               "what_to_do": "...", "check_version": "1",
               "examples": [{"id": "ext-17", "text": "...", "label": "ham", "score": 0.02,
                             "detail": "also ext-903"}, ...],
               "precision": {"value": 0.82, "ci_low": 0.7, "ci_high": 0.9, "n_verdicts": 40}}

Why grouped by severity: a blocking finding stops the pipeline (``truthset check`` exits
non-zero), so it comes first and the page opens with the gate's verdict; warnings follow.
Checks with nothing found are listed as passed, so the reader sees what was checked.
"""

from __future__ import annotations

from typing import Any

from truthset.core.errors import InvalidInput
from truthset.reports import plots
from truthset.reports._common import Figures, examples
from truthset.reports._format import as_records, plain, require

#: Severity order, most serious first; unknown severities go last, in the order seen.
SEVERITY_ORDER = ("blocking", "error", "high", "warning", "medium", "low", "info")

#: Said under a finding whose check gave no advice of its own.
DEFAULT_ADVICE = {
    "blocking": "Fix these items (or the rule) before the next training run: the check fails "
    "the pipeline until they are gone.",
    "error": "Fix these items before the next training run.",
    "warning": "Look at the examples; send the items to review if they are real problems.",
}


def _rank(severity: str, seen: list[str]) -> int:
    if severity in SEVERITY_ORDER:
        return SEVERITY_ORDER.index(severity)
    if severity not in seen:
        seen.append(severity)
    return len(SEVERITY_ORDER) + seen.index(severity)


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    require(f, ("check", "severity", "count"), "each finding")
    if not isinstance(f["count"], (int, float)) or f["count"] < 0:
        raise InvalidInput(f"finding {f['check']!r}: count must be a number >= 0; got {f['count']!r}.")
    severity = str(f["severity"]).lower()
    prec = plain(f.get("precision"))
    return {
        "check": str(f["check"]),
        "severity": severity,
        "count": f["count"],
        "title": f.get("title") or str(f["check"]).replace("_", " "),
        "kind": f.get("kind"),
        "message": f.get("message"),
        "what_to_do": f.get("what_to_do") or DEFAULT_ADVICE.get(severity),
        "check_version": f.get("check_version"),
        "n_items": f.get("items"),
        "examples": examples(f.get("examples"), total=int(f["count"])),
        "precision": prec if isinstance(prec, dict) else None,
    }


def check_view(summary: Any) -> dict[str, Any]:
    """The template context of ``check.html`` (see the module docstring for the input)."""
    s = plain(summary)
    require(s, ("findings",), "the check summary")
    findings = [_finding(f) for f in as_records(s["findings"])]
    seen: list[str] = []
    ranked = sorted(enumerate(findings), key=lambda t: (_rank(t[1]["severity"], seen), t[0]))
    flagged = [f for _, f in ranked if f["count"]]
    passed = [f for _, f in ranked if not f["count"]]
    groups: list[dict[str, Any]] = []
    for f in flagged:
        if not groups or groups[-1]["severity"] != f["severity"]:
            groups.append({"severity": f["severity"], "findings": [], "count": 0})
        groups[-1]["findings"].append(f)
        groups[-1]["count"] += f["count"]
    gate = s.get("gate") or {}
    blocking = sum(1 for f in flagged if f["severity"] == "blocking")
    gate = {"passed": gate.get("passed", blocking == 0), "blocking_failed": gate.get("blocking_failed", blocking)}
    figs = Figures("check")
    chart = None
    if len(flagged) > 1:
        chart = figs(
            plots.bar_chart,
            [f"{f['title']} ({f['severity']})" for f in flagged],
            [f["count"] for f in flagged],
            title="Items flagged per check",
            xlabel="items flagged",
        )
    project = s.get("project")
    toc = [("summary", "Summary")] + [(f"sev-{g['severity']}", g["severity"].capitalize()) for g in groups]
    if passed:
        toc.append(("passed", "Passed"))
    n_items = s.get("n_items")
    return {
        "kind": "check",
        "kind_name": "data check report",
        "title": s.get("title") or (f"Data checks: {project}" if project else "Data checks"),
        "subtitle": (f"{n_items:,} items checked · " if isinstance(n_items, int) else "")
        + f"{len(findings)} checks, {len(flagged)} with findings",
        "generated": s.get("generated"),
        "gate": gate,
        "groups": groups,
        "passed": passed,
        "findings": [f for _, f in ranked],
        "chart": chart,
        "toc": toc,
        "n_items": n_items,
    }
