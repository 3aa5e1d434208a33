"""Serious findings of ``truthset check`` raised as data issues (services/data_issues.py).

After the checks have written their findings, each serious problem raises (or updates) one
tracker issue through :func:`truthset.services.data_issues.raise_issue`, so it gets an owner
and a history instead of scrolling past in a report:

* a blocking rule with violations → ``broken_data`` (high), one issue per rule;
* label conflicts among exact duplicates, and duplicates across train / validation / test
  splits → ``duplicate`` (high);
* identifier columns that give the label away → ``broken_data`` (high);
* probable label errors (confident learning) → ``broken_data`` (medium): one summary issue.

The issue's fingerprint is ``check:<check name>``: re-running the check updates the same issue
(or leaves it unchanged), and reopens it when it was resolved but the problem is back; a
won't-fix stays closed. When a re-run finds the problem gone, the issue is *not* closed: a
person confirms the fix and resolves it; the issue gets one note saying the check no longer
finds it. Each issue links the check's findings (link kind ``finding``) and their items; a
re-run replaces the findings (new ids), so links to findings that no longer exist are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from truthset.services import data_issues
from truthset.services.projects import Project
from truthset.store.models import utcnow
from truthset.store.repo import data_issues as repo_issues
from truthset.store.repo import findings as repo_findings

#: check name -> (issue kind, issue severity); rules are matched by their severity instead
ISSUE_OF: dict[str, tuple[str, str]] = {
    "label_conflicts": ("duplicate", "high"),
    "leakage": ("duplicate", "high"),
    "identifier_leakage": ("broken_data", "high"),
    "label_issues": ("broken_data", "medium"),
}
#: findings and items linked to one issue at most (the check report lists them all)
MAX_LINKED_FINDINGS = 100
MAX_LINKED_ITEMS = 200
#: the note an open issue gets once when a re-run of its check finds nothing
CLEARED = "truthset check no longer finds this problem; confirm the fix and resolve the issue"


def fingerprint(check: str) -> str:
    """What names a check's issue across runs."""
    return f"check:{check}"[:200]


def _issue_of(entry: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, severity) of the issue a check's entry raises, or None when it raises none."""
    if entry.get("kind") == "rule":
        return ("broken_data", "high") if entry.get("severity") == "blocking" else None
    return ISSUE_OF.get(str(entry["check"]))


def _findings(project: Project, check: str) -> tuple[list[int], list[int]]:
    """The check's finding ids and their items (first occurrence order)."""
    with project.store.read() as tx:
        ids = [int(r.id) for r in repo_findings.findings(tx, project.id, check=check)]
        pairs = repo_findings.finding_item_ids(tx, ids[:MAX_LINKED_FINDINGS]) if ids else []
    return ids, list(dict.fromkeys(int(item) for _, item in pairs))


def _body(entry: dict[str, Any], n_findings: int) -> str:
    lines = [f"{entry['message'][:1].upper()}{entry['message'][1:]}.", ""]
    if entry.get("what_to_do"):
        lines += [f"What to do: {entry['what_to_do']}", ""]
    examples = [str(e.get("id")) for e in entry.get("examples", []) if e.get("id") is not None]
    if examples:
        lines += [f"Examples: {', '.join(examples)}", ""]
    shown = min(n_findings, MAX_LINKED_FINDINGS)
    lines.append(
        f"{n_findings:,} finding(s) of check {entry['check']} (version {entry['check_version']})"
        + (f"; the first {shown} are linked" if shown < n_findings else "")
        + f". All of them: truthset check --list {entry['check']}"
    )
    return "\n".join(lines)


def _title(entry: dict[str, Any]) -> str:
    return f"{entry['title']}: {entry['count']:,} item(s) ({entry['check']})"


def _cleared(project: Project, check: str) -> tuple[int, str] | None:
    """Note once on the open issue of ``check`` that the check no longer finds the problem."""
    now = utcnow()
    with project.store.write() as tx:
        issue = repo_issues.by_fingerprint(tx, project.id, fingerprint(check))
        if issue is None or issue.status in data_issues.CLOSED:
            return None
        history = repo_issues.events(tx, int(issue.id))
        if history and history[-1].note == CLEARED:
            return int(issue.id), "unchanged"
        repo_issues.add_event(tx, int(issue.id), event="comment", author_id=None, at=now, note=CLEARED)
        repo_issues.change(tx, int(issue.id), updated_at=now)
    return int(issue.id), "cleared"


def _tidy(project: Project, issue: int, action: str) -> str:
    """Drop the issue's links to replaced findings; note when a problem once cleared is back."""
    with project.store.write() as tx:
        repo_issues.drop_dead_finding_links(tx, issue)
        history = repo_issues.events(tx, issue)
        if action == "unchanged" and history and history[-1].note == CLEARED:
            now = utcnow()
            repo_issues.add_event(
                tx, issue, event="comment", author_id=None, at=now, note="truthset check finds the problem again"
            )
            repo_issues.change(tx, issue, updated_at=now)
            return "updated"
    return action


def raise_check_issues(project: Project, entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raise or update the issues of the serious problems among the checks' ``entries`` (the
    report's ``findings``); note on an issue whose problem a re-run no longer finds.

    Returns one ``{"check", "issue", "action"}`` per issue touched; ``action`` is what
    :func:`~truthset.services.data_issues.raise_issue` did (``opened``, ``updated``,
    ``unchanged``, ``reopened``, ``wont_fix``) or ``cleared``.
    """
    out = []
    for entry in entries:
        how = _issue_of(entry)
        if how is None or entry.get("skipped"):
            continue
        check = str(entry["check"])
        if not entry["count"]:
            done = _cleared(project, check)
            if done is not None:
                out.append({"check": check, "issue": done[0], "action": done[1]})
            continue
        kind, severity = how
        ids, items = _findings(project, check)
        issue, action = data_issues.raise_issue(
            project,
            fingerprint=fingerprint(check),
            kind=kind,
            severity=severity,
            source="check",
            title=_title(entry),
            body=_body(entry, len(ids)),
            items=items[:MAX_LINKED_ITEMS],
            links=[("finding", i) for i in ids[:MAX_LINKED_FINDINGS]],
        )
        if action != "wont_fix":
            action = _tidy(project, issue, action)
        out.append({"check": check, "issue": issue, "action": action})
    return out
