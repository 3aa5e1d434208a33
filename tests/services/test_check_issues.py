"""Serious findings of ``truthset check`` raise data issues (services/check_issues.py), on real
SMS messages and on SQLite and PostgreSQL: one issue per problem however often the check runs,
linked to the findings and items; a fixed problem leaves its issue open for a person to resolve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import SMS
from tests.support import NewProject
from truthset.core.config import Rule
from truthset.services import check_issues, checks, data_issues, review, users
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project
from truthset.services.qc import project_annotations


def _sms(n: int) -> list[tuple[str, str]]:
    lines = SMS.read_text(encoding="utf-8").split("\n")[1 : n + 1]
    return [(label, text) for label, text in (ln.split("\t", 1) for ln in lines if ln)]


def _project(new_project: NewProject, tmp_path: Path) -> Project:
    """300 SMS messages in train; five of them copied into test with the other label (label
    conflicts and leakage); one blank message, which a blocking rule refuses."""
    p = new_project(labels=["ham", "spam"])
    rows = _sms(300)
    out = [{"id": f"sms{n}", "label": lab, "text": t, "split": "train"} for n, (lab, t) in enumerate(rows, 1)]
    out += [
        {"id": f"flip{k}", "label": "spam" if lab == "ham" else "ham", "text": t, "split": "test"}
        for k, (lab, t) in enumerate(rows[:5])
    ]
    out.append({"id": "blank", "label": "ham", "text": " . ", "split": "train"})
    f = tmp_path / f"{p.config.name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    rule = Rule.model_validate({"kind": "min_text_length", "field": "text", "length": 3, "severity": "blocking"})
    warn = Rule.model_validate({"kind": "max_length", "field": "text", "length": 100, "severity": "warning"})
    p.config = p.config.model_copy(update={"rules": [rule, warn]})
    return p


KINDS = ["rules", "label_conflicts", "leakage"]


def _by_check(result: checks.CheckResult) -> dict[str, dict[str, Any]]:
    return {i["check"]: i for i in result.issues}


def test_each_serious_problem_raises_one_issue_however_often_the_check_runs(
    new_project: NewProject, tmp_path: Path
) -> None:
    p = _project(new_project, tmp_path)
    first = _by_check(checks.run_checks(p, KINDS))
    # the blocking rule, the conflicts and the leakage raise issues; the warning rule does not
    assert set(first) == {"rule:min_text_length:text", "label_conflicts", "leakage"}
    assert {i["action"] for i in first.values()} == {"opened"}
    second = _by_check(checks.run_checks(p, KINDS))
    assert {c: i["issue"] for c, i in second.items()} == {c: i["issue"] for c, i in first.items()}
    assert {i["action"] for i in second.values()} == {"unchanged"}
    issues = data_issues.list_issues(p)
    assert len(issues) == 3 and {i["source"] for i in issues} == {"check"}
    kinds = {i["title"].rsplit("(", 1)[1].rstrip(")"): (i["kind"], i["severity"]) for i in issues}
    assert kinds == {
        "rule:min_text_length:text": ("broken_data", "high"),
        "label_conflicts": ("duplicate", "high"),
        "leakage": ("duplicate", "high"),
    }
    # linked to the findings of the latest run (the re-run replaced the first run's) and their items
    conflict = data_issues.get_issue(p, second["label_conflicts"]["issue"])
    found = checks.list_findings(p, check="label_conflicts")
    assert len(found) == 5
    assert sorted(conflict["links"]["finding"], key=int) == [str(f["id"]) for f in found]
    assert set(conflict["items"]) == {i for f in found for i in f["items"]} and len(conflict["items"]) == 10
    rule = data_issues.get_issue(p, second["rule:min_text_length:text"]["issue"])
    (blank,) = checks.list_findings(p, check="rule:min_text_length:text")
    assert rule["items"] == blank["items"] and rule["links"]["finding"] == [str(blank["id"])]
    assert "10 item(s)" in conflict["title"] and "truthset check --list label_conflicts" in conflict["body"]


def test_a_fixed_problem_leaves_its_issue_for_a_person_to_resolve(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    issue = _by_check(checks.run_checks(p, ["label_conflicts"]))["label_conflicts"]["issue"]
    # a reviewer adjudicates each flipped copy (imported after its original, so a higher id) to
    # the original's label: no conflict is left
    reviewer = users.add_user(p, f"r-{p.config.name}", role="reviewer", password="correct horse").id
    frame = project_annotations(p).frame
    labels = dict(zip(frame["item"].astype(int), frame["label"].astype(str)))
    for f in checks.list_findings(p, check="label_conflicts"):
        original, copy = sorted(f["items"])
        assert labels[original] != labels[copy]
        review.record_verdict(p, reviewer, copy, "correct", value=labels[original])
    again = checks.run_checks(p, ["label_conflicts"])
    assert again.checks[0]["count"] == 0
    assert again.issues == [{"check": "label_conflicts", "issue": issue, "action": "cleared"}]
    got = data_issues.get_issue(p, issue)
    assert got["status"] == "open" and got["history"][-1]["note"] == check_issues.CLEARED
    # noted once, not on every run
    assert checks.run_checks(p, ["label_conflicts"]).issues[0]["action"] == "unchanged"
    assert sum(h["note"] == check_issues.CLEARED for h in data_issues.get_issue(p, issue)["history"]) == 1
    # a person resolves it; a clean re-run leaves it resolved
    data_issues.move(p, issue, "resolved", note="adjudicated the copies")
    assert checks.run_checks(p, ["label_conflicts"]).issues == []
    assert data_issues.get_issue(p, issue)["status"] == "resolved"


def test_a_resolved_issue_whose_problem_is_still_there_is_reopened(new_project: NewProject, tmp_path: Path) -> None:
    p = _project(new_project, tmp_path)
    issue = _by_check(checks.run_checks(p, ["rules"]))["rule:min_text_length:text"]["issue"]
    data_issues.move(p, issue, "resolved")
    assert _by_check(checks.run_checks(p, ["rules"]))["rule:min_text_length:text"]["action"] == "reopened"
    assert data_issues.get_issue(p, issue)["status"] == "open"
    data_issues.move(p, issue, "wont_fix", note="blank rows are fine here")
    assert _by_check(checks.run_checks(p, ["rules"]))["rule:min_text_length:text"]["action"] == "wont_fix"
    assert data_issues.get_issue(p, issue)["status"] == "wont_fix"


def test_probable_label_errors_raise_one_summary_issue(new_project: NewProject, tmp_path: Path) -> None:
    p = new_project(labels=["ham", "spam"])
    rows = _sms(400)
    # flip the labels of 12 clear spam messages (real mistakes of the kind confident learning finds)
    spam = [n for n, (lab, _) in enumerate(rows) if lab == "spam"][:12]
    out = [{"id": f"sms{n}", "label": ("ham" if n in spam else lab), "text": t} for n, (lab, t) in enumerate(rows)]
    f = tmp_path / "sms.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    import_file(p, f, ImportOptions(id_col="id", label_col="label"))
    res = checks.run_checks(p, ["label_issues"])
    (entry,) = res.checks
    assert entry["count"] > 0
    (raised,) = res.issues
    got = data_issues.get_issue(p, raised["issue"])
    assert (got["kind"], got["severity"], got["source"]) == ("broken_data", "medium", "check")
    assert len(got["links"]["finding"]) == min(entry["count"], check_issues.MAX_LINKED_FINDINGS)
    assert checks.run_checks(p, ["label_issues"]).issues[0]["issue"] == raised["issue"]
    assert len(data_issues.list_issues(p)) == 1


def test_cli_prints_the_issues_and_json_lists_them(
    new_project: NewProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthset.cli import main

    p = _project(new_project, tmp_path)
    p.close()
    res = CliRunner().invoke(main, ["-p", str(p.root), "check", "--kind", "label_conflicts", "--json"])
    assert res.exit_code == 0, res.output
    (issue,) = json.loads(res.output)["issues"]
    assert issue["check"] == "label_conflicts" and issue["action"] == "opened"
    res = CliRunner().invoke(main, ["-p", str(p.root), "check", "--kind", "label_conflicts"])
    assert f"data issue #{issue['issue']} unchanged: label_conflicts" in res.output
    res = CliRunner().invoke(main, ["-p", str(p.root), "check", "--kind", "label_conflicts", "--no-issues", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["issues"] == []
