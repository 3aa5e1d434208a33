"""``truthset check``: validation rules and data checks on a project, written as findings.

:func:`run_checks` runs the rules of truthset.yaml (in the store, :mod:`services.check_rules`)
and the data checks (:mod:`services.check_data`: duplicates, label conflicts, near duplicates,
leakage, label errors, consensus quality, outliers); each check replaces its earlier findings
of the same version that have no verdict. Findings flow to people: :func:`send_to_review` puts
a check's items in the review queue, :func:`record_finding_verdict` keeps a reviewer's
verdict on a finding, and :func:`check_precision` measures each check's precision from those
verdicts with a Wilson interval. Serious problems (a blocking rule broken, label conflicts,
leakage, label errors) raise data issues in the tracker (:mod:`services.check_issues`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from truthset.core.errors import InvalidInput, NotFound
from truthset.services import check_data, check_issues, check_rules
from truthset.services.projects import Project
from truthset.store.models import utcnow
from truthset.store.repo import findings as repo_findings

#: the checks ``--kind`` selects; "rules" runs every rule of truthset.yaml
KINDS = (
    "rules",
    "exact_duplicates",
    "label_conflicts",
    "near_duplicates",
    "leakage",
    "identifier_leakage",
    "label_issues",
    "consensus",
    "outliers",
    "semantic_duplicates",
)
#: the checks run when ``--kind`` is not given: all but the paraphrase check, which embeds every
#: text with a sentence model (the ``[embeddings]`` extra; about a millisecond a text on a CPU),
#: so it runs when asked for: ``truthset check --kind semantic_duplicates``
DEFAULT_KINDS = tuple(k for k in KINDS if k != "semantic_duplicates")
#: a reviewer's verdict on a finding: the label (or item) was wrong, was right, or is unclear
VERDICTS = ("wrong", "right", "ambiguous")


@dataclass
class CheckResult:
    """What :func:`run_checks` found: one entry per check (the report's ``findings``)."""

    project: str
    n_items: int
    checks: list[dict[str, Any]] = field(default_factory=list)
    generated: str = ""
    #: the data issues the serious problems raised or updated (services.check_issues)
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking_failed(self) -> int:
        """Blocking rules with at least one violation."""
        return sum(1 for c in self.checks if c["severity"] == "blocking" and c["count"])

    @property
    def passed(self) -> bool:
        return self.blocking_failed == 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` output, and the input of ``render_check_report``."""
        return {
            "project": self.project,
            "n_items": self.n_items,
            "generated": self.generated,
            "gate": {"passed": self.passed, "blocking_failed": self.blocking_failed},
            "findings": self.checks,
            "issues": self.issues,
        }


def _wanted(kinds: Sequence[str] | None) -> set[str]:
    if not kinds:
        return set(DEFAULT_KINDS)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InvalidInput(f"--kind {bad[0]!r} is not a check; use one of {', '.join(KINDS)}")
    return set(kinds)


def run_checks(project: Project, kinds: Sequence[str] | None = None, *, raise_issues: bool = True) -> CheckResult:
    """Run the rules and checks named in ``kinds`` (all by default) and record their findings.

    Reads only the text field, the split and the current labels of the items; each check's
    findings replace its earlier ones of the same version that carry no verdict. Serious
    problems raise or update data issues (:mod:`truthset.services.check_issues`) unless
    ``raise_issues`` is False.
    """
    wanted = _wanted(kinds)
    results: list[tuple[str, str, dict[str, Any], list[repo_findings.NewFinding]]] = []
    if "rules" in wanted:
        for summary, found in check_rules.run_rules(project, project.config.rules):
            results.append((summary["check"], check_rules.RULE_VERSION, summary, found))
    data = check_data.load_check_data(project)
    if project.task in ("text-classification", "multi-label", "ner") and len(data.texts):
        single = project.task == "text-classification"
        names = [k for k in wanted if k != "rules" and (single or k not in ("label_issues", "consensus"))]
        for name, (summary, found) in check_data.item_checks(data, names.__contains__):
            results.append((name, check_data.VERSIONS[name], summary, found))
    if "identifier_leakage" in wanted and project.task in ("text-classification", "tabular-classification"):
        summary, found = check_data.identifier_leakage(project, data)
        results.append(("identifier_leakage", check_data.VERSIONS["identifier_leakage"], summary, found))
    now = utcnow()
    with project.store.write() as tx:
        for name, version, summary, found in results:
            if not summary.get("skipped"):
                repo_findings.replace_findings(tx, project.id, name, version, found, at=now)
            summary["findings"] = len(found)
    entries = [r[2] for r in results]
    issues = check_issues.raise_check_issues(project, entries) if raise_issues else []
    return CheckResult(
        project=project.config.name,
        n_items=len(data.item_ids),
        checks=entries,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        issues=issues,
    )


def write_report(result: CheckResult, path: Path | str) -> Path:
    """Render the check report (HTML) to ``path``."""
    from truthset.reports import render_check_report

    out = Path(path)
    out.write_text(render_check_report(result.to_dict()), encoding="utf-8")
    return out


def _known(project: Project) -> list[str]:
    with project.store.read() as tx:
        return repo_findings.checks_with_findings(tx, project.id)


def send_to_review(project: Project, check: str) -> int:
    """Put the items of ``check``'s findings (a check name such as ``label_issues`` or
    ``rule:required:text``, or a kind such as ``rule`` or ``duplicate``) in the review queue;
    returns the number of findings sent. Findings with a verdict are not sent again."""
    if "review" not in project.config.review.stages and "adjudicate" not in project.config.review.stages:
        raise InvalidInput("this project has no review stage (review.stages in truthset.yaml)")
    known = _known(project)
    kinds = {
        "rule",
        "duplicate",
        "conflict",
        "near_duplicate",
        "semantic_duplicate",
        "leakage",
        "label_issue",
        "consensus",
        "outlier",
    }
    if check not in known and check not in kinds:
        raise NotFound(
            f"--send-to-review {check!r}: no findings of that check; run 'truthset check' first. "
            f"Checks with findings: {', '.join(known) or 'none'}"
        )
    with project.store.write() as tx:
        return repo_findings.mark_sent(tx, project.id, [check], at=utcnow())


def record_finding_verdict(project: Project, finding_id: int, user_id: int, verdict: str) -> dict[str, Any]:
    """Record a reviewer's verdict on a finding: ``wrong`` (the finding is right: the label or
    item is wrong), ``right`` (a false alarm) or ``ambiguous``. A later verdict replaces it."""
    if verdict not in VERDICTS:
        raise InvalidInput(f"field 'verdict': {verdict!r}; use one of {', '.join(VERDICTS)}")
    now = utcnow()
    with project.store.write() as tx:
        if not repo_findings.set_verdict(tx, project.id, finding_id, verdict=verdict, user_id=user_id, at=now):
            raise NotFound(f"finding {finding_id} is not in this project")
    return {"finding_id": finding_id, "verdict": verdict}


def list_findings(
    project: Project, *, check: str | None = None, item_id: int | None = None, limit: int | None = 1000
) -> list[dict[str, Any]]:
    """The project's findings (of one check, or about one item) with their item ids."""
    with project.store.read() as tx:
        rows = repo_findings.findings(tx, project.id, check=check, item_id=item_id, limit=limit)
        items: dict[int, list[int]] = {}
        for fid, item in repo_findings.finding_item_ids(tx, [int(r.id) for r in rows]):
            items.setdefault(int(fid), []).append(int(item))
    return [
        {
            "id": int(r.id),
            "check": r.check,
            "check_version": r.check_version,
            "kind": r.kind,
            "severity": r.severity,
            "score": r.score,
            "detail": json.loads(r.detail),
            "items": items.get(int(r.id), []),
            "created_at": str(r.created_at),
            "sent_to_review": r.sent_at is not None,
            "verdict": r.verdict,
        }
        for r in rows
    ]


def check_precision(project: Project, *, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Each check's precision from the reviewers' verdicts: ``wrong`` / (``wrong`` + ``right``),
    with a Wilson interval (``ci_low``, ``ci_high``); ``n`` verdicts count, ambiguous ones are
    listed but left out. None where no verdict counts yet."""
    from truthset.quality.reliability import wilson_interval

    table: dict[tuple[str, str], dict[str, int]] = {}
    with project.store.read() as tx:
        for check, version, verdict, n in repo_findings.verdict_counts(tx, project.id):
            row = table.setdefault((check, version), {"findings": 0, "wrong": 0, "right": 0, "ambiguous": 0})
            row["findings"] += int(n)
            if verdict in VERDICTS:
                row[verdict] += int(n)
    out = []
    for (check, version), row in sorted(table.items()):
        n = row["wrong"] + row["right"]
        lo, hi = wilson_interval(row["wrong"], n, confidence=confidence) if n else (None, None)
        out.append(
            {
                "check": check,
                "check_version": version,
                **row,
                "n": n,
                "precision": row["wrong"] / n if n else None,
                "ci_low": None if lo is None else float(lo),
                "ci_high": None if hi is None else float(hi),
            }
        )
    return out


def demo_step(project: Project) -> dict[str, Any]:
    """The demo's data checks: run them all and write ``check.html`` in the project folder."""
    result = run_checks(project)
    path = write_report(result, project.root / "check.html")
    return {
        "report": str(path),
        "passed": result.passed,
        "flagged": {c["check"]: c["count"] for c in result.checks if c["count"]},
        "issues": len(result.issues),
    }
